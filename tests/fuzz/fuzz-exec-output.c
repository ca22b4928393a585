/*
 * fuzz-exec-output.c - libFuzzer target for what an exec pager prints
 * (SPEC §8), which flokvm must take apart without trusting it.
 *
 * exec.c's parsing is static, so the target drives what it is made of,
 * the way the pager and the vm use it: json_parse() with the options of
 * exec_read() (and of exec_sync(), whose answer wraps the page in
 * {"page":..., "changes_id":...}), then what the vm does to a pager's copy
 * (store/apply.c validate_copy(): print it, page_parse() it as a pager's
 * copy under the page limits, hash it), and page_validate() on the tree as
 * parsed.
 *
 * Oracles, each an abort():
 *   - page_validate() on the tree and page_parse() of its printed text
 *     agree, unless the tree is deeper than the depth limit, when the
 *     text must be refused;
 *   - an accepted copy prints and reads back as the same page and hash.
 *
 * With FLOKVM_FUZZ_EXEC_SPAWN=1 in the environment, every input is also
 * printed by a real exec pager (`/bin/sh -c 'cat FILE'`, built with
 * pager_new()) and read through exec_pager_ops.read and .sync, and the
 * verdicts must match the in-process reading: slower (a fork per input),
 * but it covers exec.c itself.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "page.h"
#include "pager.h"

#define KEY "k"
#define MAX_OUT (1u << 20)
/* exec.c's EXEC_SYNC_ENVELOPE: a sync answer may exceed the page limit
 * by this much. */
#define SYNC_MAX_OUT (MAX_OUT + 4096)

/* The exec pager's parses (exec_read, exec_sync) and the defaults of the
 * vm's limits (settings.h). */
static const struct json_opts read_opts = {PAGE_STORED_MAX_DEPTH, 1, 0};
static const struct json_opts sync_opts = {PAGE_STORED_MAX_DEPTH + 1, 1, 0};
static const struct page_limits lim = {16u << 20, 64, 1024};
static const struct page_limits reread_lim = {SIZE_MAX, 64, 1024};

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-exec-output: %s%s%s\n", what,
		detail ? ": " : "", detail ? detail : "");
	abort();
}

/* Nesting depth of v, the value itself being depth 1.  Recursive, but
 * the parser bounds the depth at PAGE_STORED_MAX_DEPTH + 1. */
static int depth_of(const cJSON *v)
{
	const cJSON *c;
	int d = 0;

	for (c = v->child; c; c = c->next) {
		int cd = depth_of(c);

		if (cd > d)
			d = cd;
	}
	return (cJSON_IsArray(v) || cJSON_IsObject(v)) ? d + 1 : 1;
}

/* The vm's handling of a pager's copy: tree is the page as the pager
 * parsed it (consumed), twin an identical tree for page_validate(). */
static void as_pager_copy(cJSON *tree, cJSON *twin)
{
	struct buf text = {0}, again_text = {0};
	struct fk_err err, verr;
	cJSON *page = NULL, *again = NULL, *want;
	int deep = depth_of(tree) > lim.max_depth;
	int valid = page_validate(twin, KEY, PAGE_FROM_PAGER, &verr) == FK_OK;
	int parsed;

	json_write(&text, tree);
	cJSON_Delete(tree);
	parsed = page_parse(text.p, text.len, KEY, PAGE_FROM_PAGER, &lim,
			    &page, &err) == FK_OK;
	if (deep && parsed)
		fail("a copy deeper than the limit was accepted", text.p);
	if (!deep && valid != parsed) {
		fprintf(stderr, "  validate: %s\n  parse: %s\n",
			valid ? "ok" : verr.msg, parsed ? "ok" : err.msg);
		fail("page_validate and page_parse disagree", text.p);
	}
	if (parsed) {
		page_set_hash(page);
		page_write(&again_text, page);
		if (page_parse(again_text.p, again_text.len, KEY, PAGE_FROM_PAGER,
			       &reread_lim, &again, &err))
			fail("a stored copy does not read back", again_text.p);
		want = cJSON_Duplicate(page, 1);
		cJSON_DeleteItemFromObjectCaseSensitive(want, "_hash");
		if (!json_equal(again, want) || page_hash(again) != page_hash(page))
			fail("a stored copy reads back as another page", again_text.p);
		cJSON_Delete(want);
	}
	cJSON_Delete(again);
	cJSON_Delete(page);
	buf_release(&text);
	buf_release(&again_text);
}

/* What exec_read() makes of text: -1 not a valid answer, else the
 * verdict; *page the copy for PAGER_PAGE (caller cJSON_Delete()s). */
static int read_verdict(const char *text, size_t len, cJSON **page)
{
	struct fk_err err;
	cJSON *v = NULL;

	*page = NULL;
	if (len > MAX_OUT || json_parse(text, len, &read_opts, &v, &err))
		return -1;
	if (!v)
		return PAGER_NOT_MODIFIED;
	if (!cJSON_IsObject(v)) {
		cJSON_Delete(v);
		return -1;
	}
	if (!v->child) {
		cJSON_Delete(v);
		return PAGER_GONE;
	}
	*page = v;
	return PAGER_PAGE;
}

/* ---- the real exec pager, FLOKVM_FUZZ_EXEC_SPAWN=1 -------------------- */

static char spawn_dir[] = "/tmp/fuzz-exec-output-XXXXXX";
static char spawn_file[sizeof(spawn_dir) + 8];
static struct svc_pager spawn_conf;
static struct pager *spawn_pager;

static void spawn_cleanup(void)
{
	pager_free(spawn_pager);
	cJSON_Delete(spawn_conf.options);
	unlink(spawn_file);
	rmdir(spawn_dir);
}

static void spawn_init(void)
{
	struct fk_err err;
	char script[sizeof(spawn_file) + 16];
	cJSON *cmd;

	if (!mkdtemp(spawn_dir))
		fail("mkdtemp", spawn_dir);
	snprintf(spawn_file, sizeof(spawn_file), "%s/out", spawn_dir);
	snprintf(script, sizeof(script), "cat %s", spawn_file);
	spawn_conf.name = "fuzz0";
	spawn_conf.ns = "fuzz";
	spawn_conf.type = "exec";
	spawn_conf.options = cJSON_CreateObject();
	cmd = cJSON_AddArrayToObject(spawn_conf.options, "command");
	cJSON_AddItemToArray(cmd, cJSON_CreateString("/bin/sh"));
	cJSON_AddItemToArray(cmd, cJSON_CreateString("-c"));
	cJSON_AddItemToArray(cmd, cJSON_CreateString(script));
	if (pager_new(&spawn_conf, spawn_dir, MAX_OUT, &spawn_pager, &err))
		fail("pager_new", err.msg);
	atexit(spawn_cleanup);
}

static void spawn_check(const uint8_t *data, size_t size)
{
	static const char push_text[] =
		"{\"page\":{\"_uuid\":\"" KEY "\",\"entries\":[]},"
		"\"changes\":[],\"changes_id\":\"c1\"}";
	struct pager_answer ans = {0};
	struct fk_err err;
	cJSON *mine, *push = cJSON_Parse(push_text), *reply = NULL, *page, *id;
	FILE *f = fopen(spawn_file, "wb");
	int want, rc, sync_ok;

	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		fail("cannot write", spawn_file);
	want = read_verdict((const char *)data, size, &mine);
	rc = spawn_pager->ops->read(spawn_pager, KEY, NULL, NULL, &ans, &err);
	if (want < 0 ? rc != FK_ERUNTIME : rc != FK_OK || (int)ans.verdict != want)
		fail("exec read's verdict differs", rc ? err.msg : "accepted");
	if (want == PAGER_PAGE && !json_equal(ans.page, mine))
		fail("exec read's page differs", NULL);
	cJSON_Delete(mine);
	pager_answer_release(&ans);

	/* A sync answer is nothing, or exactly {"page": {...}} plus an
	 * optional "changes_id" string or null (SPEC §8). */
	sync_ok = size <= SYNC_MAX_OUT &&
		  !json_parse((const char *)data, size, &sync_opts, &reply, &err);
	if (sync_ok && reply) {
		int n = cJSON_GetArraySize(reply);

		page = cJSON_GetObjectItemCaseSensitive(reply, "page");
		id = cJSON_GetObjectItemCaseSensitive(reply, "changes_id");
		sync_ok = cJSON_IsObject(reply) && cJSON_IsObject(page) &&
			  (!id || cJSON_IsNull(id) || cJSON_IsString(id)) &&
			  n == 1 + (id != NULL);
	}
	rc = spawn_pager->ops->sync(spawn_pager, KEY, push, &ans, &err);
	if (sync_ok != (rc == FK_OK))
		fail("exec sync's verdict differs", rc ? err.msg : "accepted");
	if (rc == FK_OK && reply &&
	    (ans.verdict != PAGER_PAGE ||
	     !json_equal(ans.page, cJSON_GetObjectItemCaseSensitive(reply, "page"))))
		fail("exec sync's page differs", NULL);
	cJSON_Delete(reply);
	cJSON_Delete(push);
	pager_answer_release(&ans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int spawn = -1;
	const char *text = (const char *)data;
	struct fk_err err;
	cJSON *tree, *twin, *reply = NULL, *other = NULL;

	if (spawn < 0) {
		const char *e = getenv("FLOKVM_FUZZ_EXEC_SPAWN");

		spawn = e && !strcmp(e, "1");
		if (spawn)
			spawn_init();
	}
	if (spawn)
		spawn_check(data, size);

	/* A read answer: a page to validate, nothing, or {}. */
	if (read_verdict(text, size, &tree) == PAGER_PAGE) {
		read_verdict(text, size, &twin);
		as_pager_copy(tree, twin);
		cJSON_Delete(twin);
	}

	/* A sync answer: the page inside the envelope. */
	if (!json_parse(text, size, &sync_opts, &reply, &err) &&
	    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(reply, "page")) &&
	    !json_parse(text, size, &sync_opts, &other, &err)) {
		tree = cJSON_DetachItemFromObjectCaseSensitive(reply, "page");
		twin = cJSON_DetachItemFromObjectCaseSensitive(other, "page");
		as_pager_copy(tree, twin);
		cJSON_Delete(twin);
	}
	cJSON_Delete(reply);
	cJSON_Delete(other);
	return 0;
}
