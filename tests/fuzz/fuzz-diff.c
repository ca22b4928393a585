/*
 * fuzz-diff.c - libFuzzer target for the diffs of SPEC §6 (store/diff.c).
 *
 * The input is two JSON texts separated by the first NUL byte: the old and
 * the new copy of a page (with no NUL, the old copy is a fixed page).  Each
 * is parsed as a user's write, given the same _uuid and normalised the way
 * a write is (the new one against the old one), so that any two objects
 * with an "entries" array make a pair of pages.
 *
 * Oracles, each an abort():
 *   - replay(old, diff(old, new)) equals new, apart from _hash (§6);
 *   - the same diff replayed onto another copy (the fixed page: a rebase)
 *     is accepted and leaves the entries' _uuids distinct.
 * Each text is also replayed, as a diff of its own, onto the fixed page:
 * anything may be refused, nothing may crash, and what is accepted leaves
 * the _uuids distinct.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "json.h"
#include "page.h"

#define NOW_MS 1433865600000ULL
#define UUID "p"

static const char fixed_text[] =
	"{\"_uuid\":\"" UUID "\",\"_head\":\"h\",\"_next\":\"n\","
	"\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":\"1\",\"v\":1},"
	"{\"_uuid\":\"b\",\"_timestamp\":\"2\"},"
	"{\"_uuid\":\"c\",\"_timestamp\":\"3\",\"v\":[true,null]},"
	"{\"_uuid\":\"d\",\"_timestamp\":\"4\"}],"
	"\"x\":\"payload\",\"y\":{\"z\":2}}";

static const struct json_opts opts = {.max_depth = 64, .allow_empty = 0};

static void fail(const char *what, const cJSON *a, const cJSON *b,
		 const cJSON *d)
{
	const cJSON *show[3] = {a, b, d};
	const char *label[3] = {"old", "new", "diff"};

	fprintf(stderr, "fuzz-diff: %s\n", what);
	for (int i = 0; i < 3; i++) {
		struct buf t = {0};

		if (!show[i])
			continue;
		json_write(&t, show[i]);
		fprintf(stderr, "  %s: %s\n", label[i], t.p);
		buf_release(&t);
	}
	abort();
}

static cJSON *fixed_page(void)
{
	const struct page_limits lim = {1u << 20, 64, 1024};
	struct fk_err err;
	cJSON *p = NULL;

	if (page_parse(fixed_text, strlen(fixed_text), UUID, PAGE_FROM_PAGER,
		       &lim, &p, &err))
		fail(err.msg, NULL, NULL, NULL);
	page_set_hash(p);
	return p;
}

/* Parses text[0..len) into a page named UUID, normalised against stored;
 * NULL if it is not an object with a valid "entries" array. */
static cJSON *load(const char *text, size_t len, const cJSON *stored)
{
	struct fk_err err;
	cJSON *v = NULL;

	if (json_parse(text, len, &opts, &v, &err))
		return NULL;
	if (!cJSON_IsObject(v)) {
		cJSON_Delete(v);
		return NULL;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(v, "_uuid");
	if (page_validate(v, UUID, PAGE_FROM_USER, &err)) {
		cJSON_Delete(v);
		return NULL;
	}
	page_normalise(v, stored, NOW_MS);
	return v;
}

static cJSON *without_hash(const cJSON *page)
{
	cJSON *c = cJSON_Duplicate(page, 1);

	if (!c)
		abort();
	cJSON_DeleteItemFromObjectCaseSensitive(c, "_hash");
	return c;
}

/* True if the entries of page that have a string _uuid have distinct
 * ones.  Quadratic, but fuzz inputs are small. */
static int distinct_uuids(const cJSON *page)
{
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(page, "entries");
	const cJSON *a, *b;

	cJSON_ArrayForEach(a, entries) {
		const cJSON *ua = cJSON_GetObjectItemCaseSensitive(a, "_uuid");

		if (!cJSON_IsString(ua))
			continue;
		for (b = a->next; b; b = b->next) {
			const cJSON *ub = cJSON_GetObjectItemCaseSensitive(b, "_uuid");

			if (cJSON_IsString(ub) && !strcmp(ua->valuestring, ub->valuestring))
				return 0;
		}
	}
	return 1;
}

/* The §6 property on one pair, and the same diff as a rebase. */
static void check_pair(const cJSON *old, const cJSON *new)
{
	struct fk_err err;
	cJSON *d = NULL, *got, *a, *b, *other;

	if (diff_pages(old, new, &d, &err))
		fail("diff_pages refused two pages of the same _uuid", old, new, NULL);
	got = cJSON_Duplicate(old, 1);
	if (!got)
		abort();
	if (diff_replay(got, d, &err))
		fail("diff_replay refused diff_pages' own diff", old, new, d);
	a = without_hash(got);
	b = without_hash(new);
	if (!json_equal(a, b))
		fail("replay(old, diff(old, new)) differs from new", old, new, d);
	other = fixed_page();
	if (diff_replay(other, d, &err))
		fail("a diff that applies to old is refused on another copy",
		     other, new, d);
	if (!distinct_uuids(other))
		fail("a rebase made two entries with the same _uuid", other, new, d);
	cJSON_Delete(other);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(got);
	cJSON_Delete(d);
}

/* Replays text[0..len), if it is JSON, as a diff onto the fixed page. */
static void replay_raw(const char *text, size_t len)
{
	struct fk_err err;
	cJSON *d = NULL, *page;

	if (json_parse(text, len, &opts, &d, &err))
		return;
	page = fixed_page();
	if (diff_replay(page, d, &err) == FK_OK && !distinct_uuids(page))
		fail("replay made two entries with the same _uuid", NULL, page, d);
	cJSON_Delete(page);
	cJSON_Delete(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = memchr(data, '\0', size);
	size_t len = nul ? (size_t)(nul - text) : size;
	cJSON *old, *new = NULL;

	if (nul) {
		old = load(text, len, NULL);
		if (old)
			new = load(nul + 1, size - len - 1, old);
		replay_raw(nul + 1, size - len - 1);
	} else {
		old = fixed_page();
		new = load(text, len, old);
	}
	replay_raw(text, len);
	if (old && new) {
		check_pair(old, new);
		check_pair(new, old);
	}
	cJSON_Delete(old);
	cJSON_Delete(new);
	return 0;
}
