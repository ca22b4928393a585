/*
 * test-based.c - the based pages of SPEC §7: commit for every shape of the
 * stored page, mark_synced, rebase (the 3-way handshake, merging with
 * server changes, the replay skip rules), pushes, splitting off the
 * bookkeeping, the messages for malformed bookkeeping, and a seeded random
 * property test.
 *
 * Pages are written with single quotes and compared as json_write text,
 * exactly, member order included.  commit's fresh ids are random, so the
 * tests read the id a call made out of its result and write it as "NEW".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "based.h"
#include "diff.h"
#include "json.h"
#include "page.h"
#include "tap.h"

/* The pages of the fixed tests; hashes by SPEC §2.2 (page "p"). */
#define E_A1 "{'_uuid':'a','_timestamp':'1','t':'x'}"
#define E_A3 "{'_uuid':'a','_timestamp':'3','t':'y'}"
#define E_B2 "{'_uuid':'b','_timestamp':'2'}"
#define E_C4 "{'_uuid':'c','_timestamp':'4'}"
#define E_X5 "{'_uuid':'x','_timestamp':'5'}"
/* P: what the authority had; L1 modifies a; L2 adds c; L3 drops b. */
#define P_BODY "{'_uuid':'p','entries':[" E_A1 "," E_B2 "],'_hash':'2772100976'"
#define L1_BODY "{'_uuid':'p','entries':[" E_A3 "," E_B2 "],'_hash':'2534180338'"
#define L2_BODY "{'_uuid':'p','entries':[" E_A3 "," E_B2 "," E_C4 "],'_hash':'2693956749'"
#define L3_BODY "{'_uuid':'p','entries':[" E_A3 "," E_C4 "],'_hash':'2121212103'"
#define C1 "[['M'," E_A3 "]]"
#define P_VIS P_BODY "}"
#define L1_VIS L1_BODY "}"
#define L2_VIS L2_BODY "}"
#define L3_VIS L3_BODY "}"
#define L1_FULL L1_BODY ",'__changes':" C1 ",'__changes_id':'id1'}"
#define L2_FULL L2_BODY ",'__changes':[['+',2," E_C4 "]],'__changes_id':'id2','__base':" \
	L1_FULL "}"

/* s with ' turned into ", in one of eight rotating buffers. */
static const char *J(const char *s)
{
	static char out[8][4096];
	static int turn;
	char *o = out[turn++ % 8];
	size_t i;

	for (i = 0; s[i] && i < sizeof(out[0]) - 1; i++)
		o[i] = s[i] == '\'' ? '"' : s[i];
	o[i] = '\0';
	return o;
}

/* A tree from single-quoted text, as is: no validation, no rehashing. */
static cJSON *tree(const char *s)
{
	struct json_opts opts = {0, 0, 0};
	struct fk_err err;
	cJSON *v = NULL;

	if (json_parse(J(s), strlen(J(s)), &opts, &v, &err))
		printf("# unexpected parse failure: %s: %s\n", err.msg, s);
	return v;
}

/* Caller frees. */
static char *text_of(const cJSON *v)
{
	struct buf b = {0};

	if (!v)
		return strdup("(null)");
	json_write(&b, v);
	return buf_detach(&b);
}

/* The text of v with the string "id" written as "NEW".  Caller frees. */
static char *masked(const cJSON *v, const char *id)
{
	char *t = text_of(v), quoted[64];
	const char *s = t, *at;
	struct buf b = {0};
	size_t n;

	if (!id)
		return t;
	n = (size_t)snprintf(quoted, sizeof(quoted), "\"%s\"", id);
	while ((at = strstr(s, quoted))) {
		buf_add(&b, s, (size_t)(at - s));
		buf_adds(&b, "\"NEW\"");
		s = at + n;
	}
	buf_adds(&b, s);
	free(t);
	return buf_detach(&b);
}

/* 32 lower-case hex digits. */
static int fresh_id_ok(const char *id)
{
	if (!id || strlen(id) != 32)
		return 0;
	for (; *id; id++)
		if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'f')))
			return 0;
	return 1;
}

static const char *id_of(const cJSON *page)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(page, "__changes_id"));
}

/* ---- commit ------------------------------------------------------------ */

static void check_commit(const char *older, const char *newer, const char *want,
			 const char *what)
{
	cJSON *o = older ? tree(older) : NULL, *n = tree(newer);
	struct fk_err err = {""};
	int rc = based_commit(o, n, &err);
	char *got = masked(n, id_of(n));

	TAP_OK(rc == FK_OK, "commit %s: succeeds (%s)", what, err.msg);
	TAP_OK(fresh_id_ok(id_of(n)), "commit %s: a fresh id of 32 hex digits", what);
	TAP_STR_EQ(got, J(want), "commit %s: the page", what);
	free(got);
	cJSON_Delete(o);
	cJSON_Delete(n);
}

static void test_commit(void)
{
	cJSON *o, *a, *b;
	struct fk_err err;

	check_commit(NULL, P_VIS,
		     P_BODY ",'__changes':[['+',0," E_A1 "],['+',1," E_B2 "]],"
		     "'__changes_id':'NEW'}",
		     "onto nothing");
	check_commit(NULL, "{'_uuid':'p','entries':[],'_hash':'2181537457'}",
		     "{'_uuid':'p','entries':[],'_hash':'2181537457','__changes':[],"
		     "'__changes_id':'NEW'}",
		     "of an empty page onto nothing");
	check_commit(P_VIS, L1_VIS, L1_BODY ",'__changes':" C1 ",'__changes_id':'NEW'}",
		     "onto a page without changes");
	check_commit(L1_FULL, L2_VIS,
		     L2_BODY ",'__changes':[['+',2," E_C4 "]],'__changes_id':'NEW',"
		     "'__base':" L1_FULL "}",
		     "onto a page with changes: it becomes the base");
	check_commit(L2_FULL, L3_VIS,
		     L3_BODY ",'__changes':[['-','b'],['+',1," E_C4 "]],"
		     "'__changes_id':'NEW','__base':" L1_FULL "}",
		     "onto a based page: same base, changes from it");
	check_commit(P_VIS, L1_BODY ",'__changes':[],'__changes_id':'old','__x':1}",
		     L1_BODY ",'__changes':" C1 ",'__changes_id':'NEW'}",
		     "drops bookkeeping newer should not carry");

	/* Two commits never share an id. */
	o = tree(P_VIS);
	a = tree(L1_VIS);
	b = tree(L1_VIS);
	based_commit(o, a, &err);
	based_commit(o, b, &err);
	TAP_OK(id_of(a) && id_of(b) && strcmp(id_of(a), id_of(b)),
	       "commit: fresh ids differ (%s, %s)", id_of(a), id_of(b));
	cJSON_Delete(o);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

/* ---- mark_synced ------------------------------------------------------- */

static void check_synced(const char *page, const char *id, int want_rc,
			 const char *want, const char *what)
{
	cJSON *p = tree(page);
	int rc = based_mark_synced(p, id);
	char *got = text_of(p);

	TAP_OK(rc == want_rc, "mark_synced %s: returns %s", what,
	       want_rc ? "true" : "false");
	TAP_STR_EQ(got, J(want), "mark_synced %s: the page", what);
	free(got);
	cJSON_Delete(p);
}

static void test_mark_synced(void)
{
	check_synced(L1_FULL, "id1", 1, L1_VIS, "own id without a base");
	check_synced(L2_FULL, "id1", 1,
		     L2_BODY ",'__changes':[['+',2," E_C4 "]],'__changes_id':'id2'}",
		     "base id with a base");
	check_synced(L1_FULL, "id9", 0, L1_FULL, "a wrong id");
	check_synced(L2_FULL, "id9", 0, L2_FULL, "a wrong id with a base");
	check_synced(L2_FULL, "id2", 0, L2_FULL, "own id while a base exists");
	check_synced(P_VIS, "id1", 0, P_VIS, "a page without changes");
	check_synced(L1_FULL, NULL, 0, L1_FULL, "no id");
}

/* ---- rebase ------------------------------------------------------------ */

static void check_rebase(const char *local, const char *auth, const char *want,
			 const char *what)
{
	cJSON *l = tree(local), *a = tree(auth), *out = NULL;
	struct fk_err err = {""};
	int rc = based_rebase(l, a, &out, &err);
	char *got = text_of(out), *before = text_of(l), *after = text_of(a);

	TAP_OK(rc == FK_OK, "rebase %s: succeeds (%s)", what, err.msg);
	TAP_STR_EQ(got, J(want), "rebase %s: the page", what);
	TAP_OK(!strcmp(before, J(local)) && !strcmp(after, J(auth)),
	       "rebase %s: leaves its arguments alone", what);
	free(got);
	free(before);
	free(after);
	cJSON_Delete(l);
	cJSON_Delete(a);
	cJSON_Delete(out);
}

static void test_rebase(void)
{
	check_rebase(P_VIS,
		     "{'_uuid':'p','_next':'p2','entries':[" E_A1 "],'_hash':'0',"
		     "'__changes':[],'__changes_id':'i'}",
		     "{'_uuid':'p','_next':'p2','entries':[" E_A1 "],'_hash':'326449074'}",
		     "without changes: the authority's copy, rehashed, no bookkeeping");
	check_rebase(L1_FULL, "{'_uuid':'p','entries':[" E_A1 "," E_B2 "," E_X5 "]}",
		     "{'_uuid':'p','entries':[" E_A3 "," E_B2 "," E_X5 "],"
		     "'_hash':'3616912411','__changes':" C1 ",'__changes_id':'id1'}",
		     "a server addition and a local modification both stay");
	check_rebase("{'_uuid':'p','entries':[" E_A1 "," E_B2 ",{'_uuid':'c','_timestamp':'3'},"
		     "{'_uuid':'d','_timestamp':'4'}," E_X5 "],'_hash':'3073859939',"
		     "'__changes':[['+',4," E_X5 "]],'__changes_id':'id1'}",
		     "{'_uuid':'p','entries':[" E_A1 "]}",
		     "{'_uuid':'p','entries':[" E_A1 "," E_X5 "],'_hash':'996045523',"
		     "'__changes':[['+',4," E_X5 "]],'__changes_id':'id1'}",
		     "onto a shorter copy: an index past the end is the end");
	check_rebase(L1_FULL, "{'_uuid':'p','entries':[" E_B2 "]}",
		     "{'_uuid':'p','entries':[" E_B2 "],'_hash':'2788244105',"
		     "'__changes':" C1 ",'__changes_id':'id1'}",
		     "an entry deleted on the server and modified locally stays deleted");
	/* Local L3 over base L1; the server added x in front, set _next, and
	 * deleted b itself, so the fresh changes lose the "-". */
	check_rebase(L3_BODY ",'__changes':[['-','b'],['+',1," E_C4 "]],'__changes_id':'id2',"
		     "'__base':" L1_FULL "}",
		     "{'_uuid':'p','_next':'p2','entries':[" E_X5 "," E_A1 "]}",
		     "{'_uuid':'p','_next':'p2','entries':[" E_X5 "," E_C4 "," E_A3 "],"
		     "'_hash':'744772226','__changes':[['+',1," E_C4 "]],'__changes_id':'id2',"
		     "'__base':{'_uuid':'p','_next':'p2','entries':[" E_X5 "," E_A3 "],"
		     "'_hash':'750971912','__changes':" C1 ",'__changes_id':'id1'}}",
		     "with a base: a new base, changes recomputed from it");
	check_rebase(L2_FULL, P_VIS, L2_FULL,
		     "with a base onto the page it came from: nothing changes");
}

/* The whole §7 cycle with the authority guessing right: the visible page
 * never changes and no changes remain at the end. */
static void test_handshake(void)
{
	cJSON *stored = tree(P_VIS), *l1 = tree(L1_VIS), *l2 = tree(L2_VIS);
	cJSON *push, *answer, *out = NULL, *vis;
	struct fk_err err = {""};
	char id1[64], *t;
	int rc;

	/* One write, pushed and answered with exactly the local guess. */
	rc = based_commit(stored, l1, &err);
	push = based_push(l1);
	answer = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(push, "page"), 1);
	TAP_OK(!rc && based_mark_synced(l1, based_push_id(push)),
	       "handshake: mark_synced with the pushed id");
	rc = based_rebase(l1, answer, &out, &err);
	TAP_OK(!rc && json_equal(out, answer) && !based_has_changes(out),
	       "handshake: the rebased page equals the local guess, no changes left");
	t = text_of(out);
	TAP_STR_EQ(t, J(L1_VIS), "handshake: the page is L1");
	free(t);
	cJSON_Delete(push);
	cJSON_Delete(answer);

	/* Two writes before the first push is answered. */
	vis = tree(L2_VIS);
	rc = based_commit(out, l2, &err);
	cJSON_Delete(out);
	out = NULL;
	cJSON_Delete(l1);
	l1 = tree(L1_VIS);
	rc = rc ? rc : based_commit(l2, l1, &err); /* L2, then back to L1 */
	push = based_push(l1);
	snprintf(id1, sizeof(id1), "%s", based_push_id(push));
	TAP_OK(!rc && cJSON_GetObjectItemCaseSensitive(l1, "__base") &&
	       strcmp(id1, id_of(l1)),
	       "handshake: the second write is based, the push is the first set");
	/* The authority applied L2's set and answers with its page, L2. */
	based_mark_synced(l1, id1);
	rc = based_rebase(l1, vis, &out, &err);
	t = masked(out, id_of(out));
	TAP_STR_EQ(t, J(L1_BODY ",'__changes':[['-','c']],'__changes_id':'NEW'}"),
		   "handshake: after the first answer, the second set remains");
	free(t);
	cJSON_Delete(push);
	push = based_push(out);
	TAP_OK(!strcmp(based_push_id(push), id_of(out)),
	       "handshake: the second push is the page's own set");
	answer = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(push, "page"), 1);
	based_mark_synced(out, based_push_id(push));
	cJSON_Delete(l1);
	l1 = out;
	out = NULL;
	rc = based_rebase(l1, answer, &out, &err);
	TAP_OK(!rc && json_equal(out, answer) && !based_has_changes(out),
	       "handshake: after the second answer the page is L1, no changes left");
	cJSON_Delete(push);
	cJSON_Delete(answer);
	cJSON_Delete(out);
	cJSON_Delete(vis);
	cJSON_Delete(stored);
	cJSON_Delete(l1);
	cJSON_Delete(l2);
}

/* ---- errors ------------------------------------------------------------ */

static const char *const malformed[][2] = {
	{P_BODY ",'__changes':{},'__changes_id':'i'}",
	 "__changes: expected an array (a diff)"},
	{P_BODY ",'__changes':[],'__changes_id':7}", "__changes_id: expected a string"},
	{P_BODY ",'__changes':[]}", "__changes_id: missing beside __changes"},
	{P_BODY ",'__changes_id':'i'}", "__changes_id: present without __changes"},
	{P_BODY ",'__changes':[],'__changes_id':'i','__base':[]}",
	 "__base: expected an object (a page)"},
	{P_BODY ",'__base':" L1_FULL "}", "__base: present without __changes"},
	{P_BODY ",'__changes':[],'__changes_id':'i','__base':" P_VIS "}",
	 "__base.__changes: missing"},
	{P_BODY ",'__changes':[],'__changes_id':'i','__base':" P_BODY
	 ",'__changes':'x','__changes_id':'j'}}",
	 "__base.__changes: expected an array (a diff)"},
	{P_BODY ",'__changes':[],'__changes_id':'i','__base':" P_BODY
	 ",'__changes':[]}}",
	 "__base.__changes_id: missing beside __changes"},
	{P_BODY ",'__changes':[],'__changes_id':'i','__base':" L2_FULL "}",
	 "__base.__base: unexpected (at most one earlier set)"},
};

static void check_rebase_error(const char *local, const char *auth,
			       const char *want, const char *what)
{
	cJSON *l = tree(local), *a = tree(auth), *out = (cJSON *)1;
	struct fk_err err = {""};
	int rc = based_rebase(l, a, &out, &err);

	TAP_OK(rc == FK_EDATA && !out, "rebase %s: FK_EDATA, no page", what);
	TAP_STR_EQ(err.msg, want, "rebase %s: the message", what);
	cJSON_Delete(l);
	cJSON_Delete(a);
}

static void check_commit_error(const char *older, const char *newer,
			       const char *want, const char *what)
{
	cJSON *o = tree(older), *n = tree(newer);
	char *before = text_of(n), *after;
	struct fk_err err = {""};
	int rc = based_commit(o, n, &err);

	after = text_of(n);
	TAP_OK(rc == FK_EDATA && !strcmp(before, after),
	       "commit %s: FK_EDATA, newer untouched", what);
	TAP_STR_EQ(err.msg, want, "commit %s: the message", what);
	free(before);
	free(after);
	cJSON_Delete(o);
	cJSON_Delete(n);
}

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		check_rebase_error(malformed[i][0], P_VIS, malformed[i][1], malformed[i][1]);
		check_commit_error(malformed[i][0], L1_VIS, malformed[i][1], malformed[i][1]);
	}
	check_rebase_error(P_BODY ",'__changes':[['?']],'__changes_id':'i'}", P_VIS,
			   "__changes: step 0: unknown step \"?\"", "a bad step");
	check_rebase_error(P_BODY ",'__changes':[],'__changes_id':'i','__base':" P_BODY
			   ",'__changes':[['+',-1," E_C4 "]],'__changes_id':'j'}}",
			   P_VIS,
			   "__base.__changes: step 0: \"+\": expected an index (an integer >= 0)",
			   "a bad step in the base");
	check_rebase_error(L1_FULL, "{'_uuid':'q','entries':[]}",
			   "pages have different _uuid: \"p\" and \"q\"",
			   "onto another page");
	check_commit_error(P_VIS, "{'_uuid':'q','entries':[]}",
			   "pages have different _uuid: \"p\" and \"q\"", "of another page");
}

/* ---- push and the split of bookkeeping --------------------------------- */

static void check_push(const char *page, const char *want, const char *want_id,
		       const char *what)
{
	cJSON *p = tree(page), *push = based_push(p);
	char *got = text_of(push);

	TAP_STR_EQ(got, want ? J(want) : "(null)", "push %s", what);
	if (want_id)
		TAP_STR_EQ(based_push_id(push), want_id, "push %s: the id", what);
	free(got);
	cJSON_Delete(p);
	cJSON_Delete(push);
}

static void test_push(void)
{
	check_push(P_VIS, NULL, NULL, "without changes: nothing");
	check_push(L1_FULL, "{'page':" L1_VIS ",'changes':" C1 ",'changes_id':'id1'}",
		   "id1", "the page's own set");
	check_push(L2_FULL, "{'page':" L2_VIS ",'changes':" C1 ",'changes_id':'id1'}",
		   "id1", "with a base: the base's set, the newest page");
}

static void test_split(void)
{
	cJSON *p = tree(L2_FULL), *bk = based_take_bookkeeping(p);
	char *page = text_of(p), *book = text_of(bk), *whole;

	TAP_STR_EQ(page, J(L2_VIS), "take_bookkeeping: the page is left user-visible");
	TAP_STR_EQ(book, J("{'__changes':[['+',2," E_C4 "]],'__changes_id':'id2','__base':"
			   L1_FULL "}"),
		   "take_bookkeeping: the members, in order");
	TAP_OK(based_take_bookkeeping(p) == NULL, "take_bookkeeping: none left: NULL");
	based_put_bookkeeping(p, bk);
	based_put_bookkeeping(p, NULL);
	whole = text_of(p);
	TAP_STR_EQ(whole, J(L2_FULL), "put_bookkeeping: restores the full page");
	based_put_bookkeeping(p, bk);
	free(whole);
	whole = text_of(p);
	TAP_STR_EQ(whole, J(L2_FULL), "put_bookkeeping: twice: no duplicate members");
	free(page);
	free(book);
	free(whole);
	cJSON_Delete(p);
	cJSON_Delete(bk);
}

/* ---- the random property test ------------------------------------------ */

#define XORSHIFT_SEED 0x9e3779b97f4a7c15ULL
#include "xorshift.h"

static int entry_serial;

static cJSON *random_entry(void)
{
	cJSON *e = cJSON_CreateObject();
	char s[32];

	snprintf(s, sizeof(s), "e%d", entry_serial++);
	cJSON_AddStringToObject(e, "_uuid", s);
	snprintf(s, sizeof(s), "%u", rnd(1000));
	cJSON_AddStringToObject(e, "_timestamp", s);
	if (rnd(2))
		cJSON_AddNumberToObject(e, "v", rnd(4));
	return e;
}

/* Changes pointers and payload of page at random. */
static void random_members(cJSON *page)
{
	static const char *const names[] = {"_head", "_next", "_prev", "a", "b"};

	for (int i = 0; i < 5; i++) {
		uint32_t r = rnd(3);

		cJSON_DeleteItemFromObjectCaseSensitive(page, names[i]);
		if (r == 1)
			cJSON_AddStringToObject(page, names[i], rnd(2) ? "q1" : "q2");
		else if (r == 2 && i >= 3)
			cJSON_AddNumberToObject(page, names[i], rnd(3));
	}
}

/* Puts page in canonical order and hashes it, as a write would. */
static cJSON *finish(cJSON *page)
{
	struct fk_err err;

	if (page_validate(page, NULL, PAGE_FROM_PAGER, &err))
		printf("# generated an invalid page: %s\n", err.msg);
	page_set_hash(page);
	return page;
}

static cJSON *random_page(void)
{
	cJSON *page = cJSON_CreateObject(), *entries = cJSON_CreateArray();
	int n = (int)rnd(rnd(20) ? 8 : 40);

	cJSON_AddStringToObject(page, "_uuid", "p");
	cJSON_AddItemToObject(page, "entries", entries);
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(entries, random_entry());
	random_members(page);
	return finish(page);
}

/* An edited copy of the user-visible part of old: deletions,
 * modifications, moves, insertions, other pointers and payload. */
static cJSON *random_edit(const cJSON *old)
{
	cJSON *page = cJSON_Duplicate(old, 1), *entries, *v[128];
	int m = 0;

	cJSON_Delete(based_take_bookkeeping(page));
	entries = cJSON_GetObjectItemCaseSensitive(page, "entries");
	while (entries->child) {
		cJSON *e = cJSON_DetachItemViaPointer(entries, entries->child);

		if (m >= 100 || !rnd(6)) {
			cJSON_Delete(e);
			continue;
		}
		if (!rnd(4)) {
			cJSON_DeleteItemFromObjectCaseSensitive(e, "v");
			cJSON_AddNumberToObject(e, "v", 4 + rnd(4));
		}
		v[m++] = e;
	}
	for (int k = (int)rnd(3); k > 0 && m > 1; k--) {
		int from = (int)rnd((uint32_t)m), to = (int)rnd((uint32_t)m);
		cJSON *t = v[from];

		memmove(v + from, v + from + 1, sizeof(*v) * (size_t)(m - 1 - from));
		memmove(v + to + 1, v + to, sizeof(*v) * (size_t)(m - 1 - to));
		v[to] = t;
	}
	for (int k = (int)rnd(4); k > 0; k--) {
		int at = (int)rnd((uint32_t)m + 1);

		memmove(v + at + 1, v + at, sizeof(*v) * (size_t)(m - at));
		v[at] = random_entry();
		m++;
	}
	for (int i = 0; i < m; i++) {
		v[i]->next = v[i]->prev = NULL;
		cJSON_AddItemToArray(entries, v[i]);
	}
	if (!rnd(3))
		random_members(page);
	return finish(page);
}

/* The user-visible content of page as §6 compares it: no _hash, no
 * bookkeeping.  Caller cJSON_Delete()s. */
static cJSON *visible(const cJSON *page)
{
	cJSON *p = cJSON_Duplicate(page, 1);

	cJSON_Delete(based_take_bookkeeping(p));
	cJSON_DeleteItemFromObjectCaseSensitive(p, "_hash");
	return p;
}

/* page with changes replayed on it, as a new tree. */
static cJSON *replayed(const cJSON *page, const cJSON *from, const cJSON *to)
{
	cJSON *p = visible(page), *d = NULL;
	struct fk_err err;

	if (diff_pages(from, to, &d, &err) || diff_replay(p, d, &err))
		printf("# diff or replay failed: %s\n", err.msg);
	cJSON_Delete(d);
	return p;
}

/* True if the members of page are canonical: the user-visible ones in
 * page.h's order, then _hash (right for the page), then the bookkeeping
 * in based.h's order. */
static int canonical(const cJSON *page)
{
	cJSON *v = visible(page);
	char *before = text_of(v), *after, hash[16];
	struct buf tail = {0};
	const cJSON *m = page->child;
	struct fk_err err;
	int ok = !page_validate(v, NULL, PAGE_FROM_PAGER, &err);

	after = text_of(v);
	ok = ok && !strcmp(before, after);
	while (m && strcmp(m->string, "_hash"))
		m = m->next;
	snprintf(hash, sizeof(hash), "%lu", (unsigned long)page_hash(page));
	ok = ok && m && !strcmp(cJSON_GetStringValue(m), hash);
	buf_adds(&tail, "");
	for (m = m ? m->next : NULL; m; m = m->next)
		buf_printf(&tail, ",%s", m->string);
	ok = ok && (!strcmp(tail.p, "") || !strcmp(tail.p, ",__changes,__changes_id") ||
		    !strcmp(tail.p, ",__changes,__changes_id,__base"));
	free(before);
	free(after);
	buf_release(&tail);
	cJSON_Delete(v);
	return ok;
}

static const cJSON *get(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* True if the sets of out = rebase(local, ...) are right: without a base,
 * local's own; with one, the base keeps its set and the page's changes
 * are the diff from the new base. */
static int sets_right(const cJSON *local, const cJSON *out)
{
	const cJSON *base = get(out, "__base");
	cJSON *d = NULL;
	struct fk_err err;
	char *got, *want;
	int ok = !strcmp(id_of(out), id_of(local));

	if (base) {
		ok = ok && !strcmp(id_of(base), id_of(get(local, "__base"))) &&
		     json_equal(get(base, "__changes"), get(get(local, "__base"), "__changes"));
		ok = ok && !diff_pages(base, out, &d, &err);
	} else {
		d = cJSON_Duplicate(get(local, "__changes"), 1);
	}
	got = text_of(get(out, "__changes"));
	want = text_of(d);
	ok = ok && !strcmp(got, want);
	free(got);
	free(want);
	cJSON_Delete(d);
	return ok;
}

/* One case: P stored and known to the authority, local commits L1 (and
 * L2, L3), the authority meanwhile edited P into S.  Returns NULL or what
 * went wrong. */
static const char *random_case(void)
{
	cJSON *p = random_page(), *l[3], *local, *s = random_edit(p);
	cJSON *out = NULL, *same = NULL, *want, *want_base = NULL, *push;
	const char *problem = NULL;
	struct fk_err err;
	int commits = 1 + (int)rnd(3) / 2 + (int)rnd(4) / 3; /* 1, 2 or 3 */
	char base_id[64] = "", own_id[64];

	l[0] = random_edit(p);
	local = cJSON_Duplicate(l[0], 1);
	if (based_commit(p, local, &err))
		problem = "commit failed";
	for (int i = 1; i < commits; i++) {
		cJSON *next;

		l[i] = random_edit(l[i - 1]);
		next = cJSON_Duplicate(l[i], 1);
		if (based_commit(local, next, &err))
			problem = "commit failed";
		cJSON_Delete(local);
		local = next;
	}
	if (commits > 1)
		snprintf(base_id, sizeof(base_id), "%s",
			 id_of(cJSON_GetObjectItemCaseSensitive(local, "__base")));
	snprintf(own_id, sizeof(own_id), "%s", id_of(local));

	/* The expected visible content: the base's set onto S, then the
	 * rest on top. */
	want = replayed(s, p, l[0]);
	if (commits > 1) {
		want_base = want;
		want = replayed(want_base, l[0], l[commits - 1]);
	}
	if (based_rebase(local, s, &out, &err) || based_rebase(local, p, &same, &err)) {
		problem = "rebase failed";
		goto done;
	}
	{
		cJSON *a = visible(out), *b = visible(same), *c = visible(l[commits - 1]);

		if (!json_equal(a, want))
			problem = "rebase(local, S) is not replay(S, diff(P, L))";
		else if (!json_equal(b, c))
			problem = "rebase(local, P) is not the local page";
		cJSON_Delete(a);
		cJSON_Delete(b);
		cJSON_Delete(c);
	}
	if (want_base) {
		cJSON *a = visible(cJSON_GetObjectItemCaseSensitive(out, "__base"));

		if (!json_equal(a, want_base))
			problem = "the new base is not replay(S, diff(P, L1))";
		if (!canonical(cJSON_GetObjectItemCaseSensitive(out, "__base")))
			problem = "the new base is not canonical";
		cJSON_Delete(a);
	}
	if (!canonical(out) || !canonical(local))
		problem = "a page is not canonical";
	if (!sets_right(local, out))
		problem = "the sets of the rebased page are wrong";

	/* Changes stay until every set is acknowledged, oldest first. */
	push = based_push(out);
	if (!based_has_changes(out) || based_mark_synced(out, "nope"))
		problem = "changes lost before any acknowledgement";
	if (strcmp(based_push_id(push), commits > 1 ? base_id : own_id))
		problem = "the push is not the oldest set";
	cJSON_Delete(push);
	if (commits > 1 && (based_mark_synced(out, own_id) || !based_has_changes(out) ||
			    !based_mark_synced(out, base_id) || !based_has_changes(out)))
		problem = "acknowledging the base went wrong";
	if (!based_mark_synced(out, own_id) || based_has_changes(out))
		problem = "acknowledging the last set went wrong";
done:
	for (int i = 0; i < commits; i++)
		cJSON_Delete(l[i]);
	cJSON_Delete(p);
	cJSON_Delete(s);
	cJSON_Delete(local);
	cJSON_Delete(out);
	cJSON_Delete(same);
	cJSON_Delete(want);
	cJSON_Delete(want_base);
	return problem;
}

static void test_random(void)
{
	int runs = 3000, bad = 0;
	const char *first = NULL;

	for (int i = 0; i < runs; i++) {
		const char *problem = random_case();

		if (problem && !bad++)
			first = problem;
	}
	TAP_OK(bad == 0, "random: %d cases of commit, rebase, push, mark_synced (%d bad%s%s)",
	       runs, bad, first ? ": " : "", first ? first : "");
}

int main(void)
{
	test_commit();
	test_mark_synced();
	test_rebase();
	test_handshake();
	test_errors();
	test_push();
	test_split();
	test_random();
	return tap_done();
}
