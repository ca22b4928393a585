/*
 * test-diff.c - the diffs of SPEC §6: the worked example, every step kind
 * and the order of steps, the index of each move, replay's skip rules, the
 * messages for malformed diffs, and a seeded random property test.
 *
 * Pages in the tests are written with single quotes for readability; J()
 * turns them into JSON.  Diffs are compared as json_write text, which is
 * what sync stores and pushes (§7).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "json.h"
#include "tap.h"

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

static cJSON *parse(const char *text)
{
	struct json_opts opts = {0, 0, 0};
	struct fk_err err;
	cJSON *v = NULL;

	if (json_parse(text, strlen(text), &opts, &v, &err))
		printf("# unexpected parse failure: %s: %s\n", err.msg, text);
	return v;
}

/* Caller frees. */
static char *text_of(const cJSON *v)
{
	struct buf b = {0};

	json_write(&b, v);
	return buf_detach(&b);
}

/* The diff of two pages as text, or "error N: message".  Caller frees. */
static char *diff_text(const char *old, const char *new)
{
	cJSON *a = parse(J(old)), *b = parse(J(new)), *d = NULL;
	struct fk_err err = {""};
	int rc = diff_pages(a, b, &d, &err);
	char *out;

	if (rc) {
		struct buf e = {0};

		buf_printf(&e, "error %d: %s", rc, err.msg);
		out = buf_detach(&e);
	} else {
		out = text_of(d);
	}
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(d);
	return out;
}

/* The page after replaying diff on it, or "error N: message" (then also
 * checks that the page was left as it was).  Caller frees. */
static char *replay_text(const char *page, const char *diff)
{
	cJSON *p = parse(J(page)), *d = parse(J(diff));
	char *before = text_of(p), *out;
	struct fk_err err = {""};
	int rc = diff_replay(p, d, &err);

	if (rc) {
		struct buf e = {0};
		char *after = text_of(p);

		buf_printf(&e, "error %d: %s%s", rc, err.msg,
			   strcmp(before, after) ? " (AND THE PAGE CHANGED)" : "");
		free(after);
		out = buf_detach(&e);
	} else {
		out = text_of(p);
	}
	free(before);
	cJSON_Delete(p);
	cJSON_Delete(d);
	return out;
}

static void check_diff(const char *old, const char *new, const char *want,
		       const char *what)
{
	char *got = diff_text(old, new);

	TAP_STR_EQ(got, J(want), "diff: %s", what);
	free(got);
}

static void check_replay(const char *page, const char *diff, const char *want,
			 const char *what)
{
	char *got = replay_text(page, diff);

	TAP_STR_EQ(got, J(want), "replay: %s", what);
	free(got);
}

/* A page "p" whose entries are named by the letters of ids. */
static const char *page_of(const char *ids)
{
	static char out[4][2048];
	static int turn;
	char *o = out[turn++ % 4];
	size_t n = (size_t)sprintf(o, "{'_uuid':'p','entries':[");

	for (const char *c = ids; *c; c++)
		n += (size_t)sprintf(o + n, "%s{'_uuid':'%c','_timestamp':'1'}",
				     c == ids ? "" : ",", *c);
	sprintf(o + n, "]}");
	return o;
}

/* Diffs page_of(from) -> page_of(to), checks the text and that replaying
 * it gives page_of(to) back. */
static void check_entries(const char *from, const char *to, const char *want)
{
	char *d = diff_text(page_of(from), page_of(to));
	char *got = replay_text(page_of(from), d);

	TAP_STR_EQ(d, J(want), "diff: %s -> %s", from, to);
	TAP_STR_EQ(got, J(page_of(to)), "replay: %s -> %s", from, to);
	free(d);
	free(got);
}

static void test_worked_example(void)
{
	check_diff("{'_uuid':'p','entries':[{'_uuid':'A','_timestamp':'1'},"
		   "{'_uuid':'B','_timestamp':'1'},{'_uuid':'F','_timestamp':'1'},"
		   "{'_uuid':'D','_timestamp':'1'}]}",
		   "{'_uuid':'p','entries':[{'_uuid':'A','_timestamp':'1'},"
		   "{'_uuid':'D','_timestamp':'1'},{'_uuid':'C','_timestamp':'2','t':'c'},"
		   "{'_uuid':'B','_timestamp':'1'},{'_uuid':'E','_timestamp':'3'}]}",
		   "[['-','F'],['>',1,'D'],['+',2,{'_uuid':'C','_timestamp':'2','t':'c'}],"
		   "['+',4,{'_uuid':'E','_timestamp':'3'}]]",
		   "the worked example of SPEC §6");
	check_replay("{'_uuid':'p','entries':[{'_uuid':'A','_timestamp':'1'},"
		     "{'_uuid':'B','_timestamp':'1'},{'_uuid':'F','_timestamp':'1'},"
		     "{'_uuid':'D','_timestamp':'1'}]}",
		     "[['-','F'],['>',1,'D'],['+',2,{'_uuid':'C','_timestamp':'2','t':'c'}],"
		     "['+',4,{'_uuid':'E','_timestamp':'3'}]]",
		     "{'_uuid':'p','entries':[{'_uuid':'A','_timestamp':'1'},"
		     "{'_uuid':'D','_timestamp':'1'},{'_uuid':'C','_timestamp':'2','t':'c'},"
		     "{'_uuid':'B','_timestamp':'1'},{'_uuid':'E','_timestamp':'3'}]}",
		     "the worked example of SPEC §6");
}

static void test_step_kinds(void)
{
	check_diff("{'_uuid':'p','entries':[]}", "{'_uuid':'p','entries':[]}",
		   "[]", "equal pages give an empty diff");
	check_diff("{'_uuid':'p','entries':[],'_hash':'1','__changes':[1]}",
		   "{'__changes_id':'x','_uuid':'p','entries':[],'_hash':'2'}",
		   "[]", "_hash and __ keys are ignored");
	check_diff("{'_uuid':'p','entries':[{'_uuid':'A','_timestamp':'1','x':{'a':1,'b':2}}]}",
		   "{'_uuid':'p','entries':[{'x':{'b':2,'a':1},'_timestamp':'1','_uuid':'A'}]}",
		   "[]", "member order alone is no modification (§4.1)");
	check_diff("{'_uuid':'p','entries':[]}",
		   "{'_uuid':'p','_head':'h','entries':[]}",
		   "[['HEAD_M','h']]", "HEAD_M sets _head");
	check_diff("{'_uuid':'p','_head':'h','entries':[]}",
		   "{'_uuid':'p','entries':[]}",
		   "[['HEAD_M',null]]", "HEAD_M null removes _head");
	check_diff("{'_uuid':'p','_next':'a','entries':[]}",
		   "{'_uuid':'p','_next':'b','entries':[]}",
		   "[['NEXT_M','b']]", "NEXT_M changes _next");
	check_diff("{'_uuid':'p','_prev':'a','entries':[]}",
		   "{'_uuid':'p','_prev':'','entries':[]}",
		   "[['PREV_M','']]", "PREV_M to the empty string (it is a string)");
	check_diff("{'_uuid':'p','entries':[]}",
		   "{'_uuid':'p','entries':[],'k':{'a':[1,2]}}",
		   "[['PAGE_M','k',{'a':[1,2]}]]", "PAGE_M adds a payload key");
	check_diff("{'_uuid':'p','entries':[],'k':1}",
		   "{'_uuid':'p','entries':[],'k':'1'}",
		   "[['PAGE_M','k','1']]", "PAGE_M changes a payload value's type");
	check_diff("{'_uuid':'p','entries':[],'k':1}",
		   "{'_uuid':'p','entries':[]}",
		   "[['PAGE_D','k']]", "PAGE_D deletes a payload key");
	check_diff(page_of("AB"), page_of("B"), "[['-','A']]",
		   "- deletes an entry");
	check_diff(page_of("AB"),
		   "{'_uuid':'p','entries':[{'_uuid':'A','_timestamp':'1'},"
		   "{'_uuid':'B','_timestamp':'1','x':null}]}",
		   "[['M',{'_uuid':'B','_timestamp':'1','x':null}]]",
		   "M replaces an entry that gained a key");
	check_diff(page_of("AB"), page_of("BA"), "[['>',0,'B']]",
		   "> moves an entry");
	check_diff(page_of("AB"), page_of("ACB"),
		   "[['+',1,{'_uuid':'C','_timestamp':'1'}]]", "+ inserts an entry");
	check_diff("{'_uuid':'p','entries':[]}", "{'_uuid':'q','entries':[]}",
		   "error 65: pages have different _uuid: 'p' and 'q'",
		   "different page _uuids");
	check_diff("{'entries':[]}", "{'_uuid':'q','entries':[]}",
		   "error 65: old page: _uuid: expected a string",
		   "a page without _uuid");
	check_diff(page_of("AB"), "{'_uuid':'p'}",
		   "error 65: new page: entries: expected an array",
		   "a page without entries");
	check_diff("{'_uuid':'p','entries':[{'_uuid':'A'},{'_uuid':'B'},{'_uuid':'A'}]}",
		   page_of("A"),
		   "error 65: old page: entries[2]._uuid: duplicate 'A' (also at entries[0])",
		   "duplicate entry _uuids");
	check_diff(page_of("A"), "{'_uuid':'p','entries':[{'_uuid':'A'},{'_uuid':7}]}",
		   "error 65: new page: entries[1]: expected an object with a string _uuid",
		   "an entry without a string _uuid");
}

static void test_order(void)
{
	check_diff("{'_uuid':'p','_prev':'a','_head':'x','entries':["
		   "{'_uuid':'A','_timestamp':'1'},{'_uuid':'B','_timestamp':'1'},"
		   "{'_uuid':'C','_timestamp':'1'},{'_uuid':'D','_timestamp':'1'}],"
		   "'z':1,'b':2,'a':1,'_hash':'5'}",
		   "{'_uuid':'p','_head':'y','_next':'n','entries':["
		   "{'_uuid':'E','_timestamp':'1'},{'_uuid':'D','_timestamp':'1'},"
		   "{'_uuid':'A','_timestamp':'2'},{'_uuid':'C','_timestamp':'1'}],"
		   "'b':3,'a':1,'B':1,'é':1,'_hash':'6'}",
		   "[['HEAD_M','y'],['NEXT_M','n'],['PREV_M',null],"
		   "['PAGE_M','B',1],['PAGE_M','b',3],['PAGE_D','z'],['PAGE_M','é',1],"
		   "['M',{'_uuid':'A','_timestamp':'2'}],['-','B'],"
		   "['>',0,'D'],['+',0,{'_uuid':'E','_timestamp':'1'}]]",
		   "pointers, payload by key bytes, - and M in old order, >, +");
}

static void test_null_pointers(void)
{
	check_diff("{'_uuid':'p','entries':[]}",
		   "{'_uuid':'p','_next':null,'entries':[]}", "[]",
		   "absent -> null is no step");
	check_diff("{'_uuid':'p','_head':null,'entries':[]}",
		   "{'_uuid':'p','entries':[]}", "[]",
		   "null -> absent is no step");
	check_diff("{'_uuid':'p','_prev':null,'entries':[]}",
		   "{'_uuid':'p','_prev':'x','entries':[]}", "[['PREV_M','x']]",
		   "null -> string");
	check_diff("{'_uuid':'p','_prev':'x','entries':[]}",
		   "{'_uuid':'p','_prev':null,'entries':[]}", "[['PREV_M',null]]",
		   "string -> null");
}

static void test_moves(void)
{
	check_entries("ABCD", "DCBA",
		      "[['>',0,'D'],['>',1,'C'],['>',2,'B']]");
	check_entries("ABCD", "BCDA", "[['>',3,'A']]");
	check_entries("ABCD", "DABC", "[['>',0,'D']]");
	/* Z moves while X (moved later) still stands before the kept L. */
	check_entries("XLMZ", "LZMX", "[['>',2,'Z'],['>',3,'X']]");
	/* Moves among a deletion and an insertion: kept A, B. */
	check_entries("ABCDE", "CXAEB",
		      "[['-','D'],['>',0,'C'],['>',2,'E'],"
		      "['+',1,{'_uuid':'X','_timestamp':'1'}]]");
	/* The predecessor of a move is the nearest shared entry: Y is new. */
	check_entries("ABC", "CYBA",
		      "[['>',0,'C'],['>',1,'B'],"
		      "['+',1,{'_uuid':'Y','_timestamp':'1'}]]");
	/* n - LIS moves: EFGHABCD keeps ABCD (or EFGH), moves four. */
	check_entries("ABCDEFGH", "EFGHABCD",
		      "[['>',0,'E'],['>',1,'F'],['>',2,'G'],['>',3,'H']]");
	check_entries("ABCDEFG", "BADCFEG",
		      "[['>',0,'B'],['>',2,'D'],['>',4,'F']]");
}

static void test_replay_rules(void)
{
	char abc[256];

	snprintf(abc, sizeof(abc), "%s", page_of("ABC")); /* page_of() rotates */

	check_replay(abc, "[['-','Z']]", abc, "- of a missing entry is skipped");
	check_replay(abc, "[['M',{'_uuid':'Z','x':1}]]", abc,
		     "M of a missing entry is skipped");
	check_replay(abc, "[['>',0,'Z']]", abc, "> of a missing entry is skipped");
	check_replay(abc, "[['+',0,{'_uuid':'B','x':1}]]", abc,
		     "+ of an existing _uuid is skipped");
	check_replay(abc, "[['-','B'],['-','B'],['M',{'_uuid':'B'}],['>',0,'B']]",
		     page_of("AC"), "steps on a deleted entry are skipped");
	check_replay(abc, "[['-','B'],['+',0,{'_uuid':'B','_timestamp':'1'}]]",
		     page_of("BAC"), "a deleted _uuid can be inserted again");
	check_replay(abc, "[['+',99,{'_uuid':'Z','_timestamp':'1'}]]",
		     page_of("ABCZ"), "+ past the end appends");
	check_replay(abc, "[['>',3,'A']]", page_of("BCA"),
		     "> to the last index");
	check_replay(abc, "[['>',1e300,'A']]", page_of("BCA"),
		     "> past the end moves to the end");
	check_replay(abc, "[['M',{'_uuid':'B','x':1}],['M',{'_uuid':'B','x':2}]]",
		     "{'_uuid':'p','entries':[{'_uuid':'A','_timestamp':'1'},"
		     "{'_uuid':'B','x':2},{'_uuid':'C','_timestamp':'1'}]}",
		     "M twice: the last wins");
	check_replay(page_of(""), "[['>',0,'A'],['+',5,{'_uuid':'A'}],['-','A'],"
		     "['+',0,{'_uuid':'B'}]]",
		     "{'_uuid':'p','entries':[{'_uuid':'B'}]}",
		     "an empty page");
	check_replay("{'_uuid':'p','_prev':'c','entries':[],'x':1,'_hash':'7'}",
		     "[['NEXT_M','b'],['HEAD_M','a'],['PAGE_M','y',2],['PAGE_M','x',3]]",
		     "{'_uuid':'p','_head':'a','_next':'b','_prev':'c','entries':[],"
		     "'x':3,'y':2,'_hash':'7'}",
		     "pointers and payload keep the canonical order, _hash untouched");
	check_replay("{'_uuid':'p','_head':'a','_next':'b','entries':[],'x':1}",
		     "[['HEAD_M',null],['PREV_M',null],['PAGE_D','x'],['PAGE_D','q'],"
		     "['NEXT_M','c']]",
		     "{'_uuid':'p','_next':'c','entries':[]}",
		     "null removes a pointer, PAGE_D a key, both skip what is absent");
	check_replay("{'_uuid':'p','_head':null,'entries':[]}", "[['HEAD_M','h']]",
		     "{'_uuid':'p','_head':'h','entries':[]}",
		     "a null pointer member is replaced in place");
	check_replay("{'_uuid':'p','entries':[],'x':1}",
		     "[['PAGE_M','x',2],['PAGE_M','y',3],['HEAD_M','h'],['PAGE_M','x',4]]",
		     "{'_uuid':'p','_head':'h','entries':[],'x':4,'y':3}",
		     "replacing the last member keeps the list whole");
	check_replay(page_of("AB"), "[]", page_of("AB"), "an empty diff");
}

static void test_invalid(void)
{
	static const char *const cases[][2] = {
		{"{}", "diff: expected an array of steps"},
		{"null", "diff: expected an array of steps"},
		{"[1]", "step 0: expected an array"},
		{"[[]]", "step 0: expected a step name (a string) first"},
		{"[[1,2]]", "step 0: expected a step name (a string) first"},
		{"[['-','A'],['X',1]]", "step 1: unknown step 'X'"},
		{"[['m',{'_uuid':'A'}]]", "step 0: unknown step 'm'"},
		{"[['-']]", "step 0: '-' takes 1 argument, not 0"},
		{"[['+',0]]", "step 0: '+' takes 2 arguments, not 1"},
		{"[['HEAD_M','a','b']]", "step 0: 'HEAD_M' takes 1 argument, not 2"},
		{"[['HEAD_M',1]]", "step 0: 'HEAD_M': expected a string or null"},
		{"[['PREV_M',{}]]", "step 0: 'PREV_M': expected a string or null"},
		{"[['PAGE_M',1,2]]", "step 0: 'PAGE_M': expected a key (a string)"},
		{"[['PAGE_M','_hash',1]]", "step 0: 'PAGE_M': '_hash' is not a payload key"},
		{"[['PAGE_M','__base',1]]", "step 0: 'PAGE_M': '__base' is not a payload key"},
		{"[['PAGE_M','_uuid','q']]", "step 0: 'PAGE_M': '_uuid' is not a payload key"},
		{"[['PAGE_D','entries']]", "step 0: 'PAGE_D': 'entries' is not a payload key"},
		{"[['PAGE_D','_next']]", "step 0: 'PAGE_D': '_next' is not a payload key"},
		{"[['-',1]]", "step 0: '-': expected an entry _uuid (a string)"},
		{"[['>',0,null]]", "step 0: '>': expected an entry _uuid (a string)"},
		{"[['M','A']]", "step 0: 'M': expected an entry (an object with a string _uuid)"},
		{"[['M',{'a':1}]]", "step 0: 'M': expected an entry (an object with a string _uuid)"},
		{"[['+',0,{'_uuid':1}]]", "step 0: '+': expected an entry (an object with a string _uuid)"},
		{"[['>',-1,'A']]", "step 0: '>': expected an index (an integer >= 0)"},
		{"[['>',1.5,'A']]", "step 0: '>': expected an index (an integer >= 0)"},
		{"[['+','1',{'_uuid':'Z'}]]", "step 0: '+': expected an index (an integer >= 0)"},
		{"[['-','A'],['HEAD_M','h'],['PAGE_M','k',1],['+',-2,{'_uuid':'Z'}]]",
		 "step 3: '+': expected an index (an integer >= 0)"},
	};
	const char *page = "{'_uuid':'p','_next':'n','entries':["
			   "{'_uuid':'A','_timestamp':'1'}],'k':0}";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = replay_text(page, cases[i][0]);
		struct buf want = {0};

		buf_printf(&want, "error 65: %s", J(cases[i][1]));
		TAP_STR_EQ(got, want.p, "invalid diff %s: message, page unchanged",
			   J(cases[i][0]));
		free(got);
		buf_release(&want);
	}
}

/* ---- the random property test --------------------------------------- */

#define XORSHIFT_SEED 0x2545f4914f6cdd1dULL
#include "xorshift.h"

static int next_id;

static cJSON *random_entry(void)
{
	cJSON *e = cJSON_CreateObject();
	char s[32];

	snprintf(s, sizeof(s), "e%d", next_id++);
	cJSON_AddStringToObject(e, "_uuid", s);
	snprintf(s, sizeof(s), "%u", rnd(1000));
	cJSON_AddStringToObject(e, "_timestamp", s);
	if (rnd(2))
		cJSON_AddNumberToObject(e, "v", rnd(3));
	return e;
}

static const char *const ptr_names[] = {"_head", "_next", "_prev"};
static const char *const payload_names[] = {"a", "b", "B", "not_synced", "__x"};

/* Sets pointers and payload of page at random (absent, null, a string). */
static void random_members(cJSON *page)
{
	for (int i = 0; i < 3; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(page, ptr_names[i]);
		switch (rnd(4)) {
		case 0: break;
		case 1: cJSON_AddNullToObject(page, ptr_names[i]); break;
		default:
			cJSON_AddStringToObject(page, ptr_names[i], rnd(2) ? "p1" : "p2");
		}
	}
	for (int i = 0; i < 5; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(page, payload_names[i]);
		switch (rnd(4)) {
		case 0: break;
		case 1: cJSON_AddNumberToObject(page, payload_names[i], rnd(2)); break;
		case 2: cJSON_AddStringToObject(page, payload_names[i], "s"); break;
		default: {
			cJSON *arr = cJSON_CreateArray();

			cJSON_AddItemToArray(arr, cJSON_CreateNumber(rnd(2)));
			cJSON_AddItemToObject(page, payload_names[i], arr);
		}
		}
	}
	cJSON_DeleteItemFromObjectCaseSensitive(page, "_hash");
	if (rnd(2))
		cJSON_AddStringToObject(page, "_hash", rnd(2) ? "1" : "2");
}

static cJSON *random_page(int n)
{
	cJSON *page = cJSON_CreateObject(), *entries = cJSON_CreateArray();

	cJSON_AddStringToObject(page, "_uuid", "p");
	cJSON_AddItemToObject(page, "entries", entries);
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(entries, random_entry());
	random_members(page);
	return page;
}

/* A changed copy of old: deletions, modifications, reordering, insertions,
 * other pointers and payload. */
static cJSON *random_change(const cJSON *old)
{
	cJSON *page = cJSON_Duplicate(old, 1);
	cJSON *entries = cJSON_GetObjectItemCaseSensitive(page, "entries");
	int n = cJSON_GetArraySize(entries), m = 0, mode = (int)rnd(5);
	cJSON **v = malloc(sizeof(*v) * (size_t)(n + 16));
	int pdel = (int)rnd(4), pmod = (int)rnd(4);

	while (entries->child) {
		cJSON *e = cJSON_DetachItemViaPointer(entries, entries->child);

		if (pdel && rnd(10) < (uint32_t)pdel) {
			cJSON_Delete(e);
			continue;
		}
		if (pmod && rnd(10) < (uint32_t)pmod) {
			cJSON_DeleteItemFromObjectCaseSensitive(e, "v");
			cJSON_AddNumberToObject(e, rnd(2) ? "v" : "w", rnd(3));
		}
		v[m++] = e;
	}
	if (mode == 1) { /* a full shuffle */
		for (int i = m - 1; i > 0; i--) {
			int j = (int)rnd((uint32_t)i + 1);
			cJSON *t = v[i];

			v[i] = v[j];
			v[j] = t;
		}
	} else if (mode == 2) { /* reversal */
		for (int i = 0; i < m / 2; i++) {
			cJSON *t = v[i];

			v[i] = v[m - 1 - i];
			v[m - 1 - i] = t;
		}
	} else if (mode >= 3 && m > 1) { /* a few single moves */
		for (int k = (int)rnd(4); k >= 0; k--) {
			int from = (int)rnd((uint32_t)m), to = (int)rnd((uint32_t)m);
			cJSON *t = v[from];

			memmove(v + from, v + from + 1, sizeof(*v) * (size_t)(m - 1 - from));
			memmove(v + to + 1, v + to, sizeof(*v) * (size_t)(m - 1 - to));
			v[to] = t;
		}
	}
	for (int k = (int)rnd(6); k > 0 && m < n + 16; k--) {
		int at = (int)rnd((uint32_t)m + 1);

		memmove(v + at + 1, v + at, sizeof(*v) * (size_t)(m - at));
		v[at] = random_entry();
		m++;
	}
	for (int i = 0; i < m; i++) {
		v[i]->next = v[i]->prev = NULL;
		cJSON_AddItemToArray(entries, v[i]);
	}
	free(v);
	if (rnd(3))
		random_members(page);
	return page;
}

/* A copy of page as §6 compares it: no _hash, no __ keys, no null
 * pointers.  Caller cJSON_Delete()s. */
static cJSON *visible(const cJSON *page)
{
	cJSON *p = cJSON_Duplicate(page, 1), *m, *next;

	for (m = p->child; m; m = next) {
		next = m->next;
		if (!strcmp(m->string, "_hash") || !strncmp(m->string, "__", 2) ||
		    (cJSON_IsNull(m) && (!strcmp(m->string, "_head") ||
					 !strcmp(m->string, "_next") ||
					 !strcmp(m->string, "_prev"))))
			cJSON_Delete(cJSON_DetachItemViaPointer(p, m));
	}
	return p;
}

static const char *uuid_of(const cJSON *e)
{
	return cJSON_GetObjectItemCaseSensitive(e, "_uuid")->valuestring;
}

/* Position of uuid among v[0..n), or -1. */
static int find(const char *const *v, int n, const char *uuid)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i], uuid))
			return i;
	return -1;
}

/* Length of a longest increasing subsequence, the simple O(n^2) way. */
static int lis_length(const int *s, int n)
{
	int *len = malloc(sizeof(int) * (size_t)(n ? n : 1)), best = 0;

	for (int i = 0; i < n; i++) {
		len[i] = 1;
		for (int j = 0; j < i; j++)
			if (s[j] < s[i] && len[j] + 1 > len[i])
				len[i] = len[j] + 1;
		if (len[i] > best)
			best = len[i];
	}
	free(len);
	return best;
}

/*
 * Checks d = diff(old, new) against §6 without diff.c's algorithm: replays
 * it on a plain array of _uuids, checking that the steps come in their
 * kinds' order, deletions and modifications in old order, moves in new
 * order with the index "one past the nearest preceding shared entry, the
 * mover taken out", insertions by ascending final index; that the array
 * ends as new's; and that there are (shared - LIS) moves.  Returns NULL or
 * what went wrong.
 */
static const char *check_steps(const cJSON *old, const cJSON *new, const cJSON *d)
{
	const cJSON *oe = cJSON_GetObjectItemCaseSensitive(old, "entries")->child;
	const cJSON *ne = cJSON_GetObjectItemCaseSensitive(new, "entries")->child;
	int no = 0, nn = 0, cur = 0, phase = 0, last = -1, moves = 0, shared = 0;
	const char *ov[128], *nv[128], *list[128], *problem = NULL;
	int seq[128];
	const cJSON *s;

	for (; oe; oe = oe->next)
		ov[no++] = list[cur++] = uuid_of(oe);
	for (; ne; ne = ne->next)
		nv[nn++] = uuid_of(ne);
	for (int j = 0; j < nn; j++)
		if (find(ov, no, nv[j]) >= 0)
			seq[shared++] = find(ov, no, nv[j]);
	cJSON_ArrayForEach(s, d) {
		const char *name = s->child->valuestring;
		const cJSON *a = s->child->next;
		int kind = !strcmp(name, "-") || !strcmp(name, "M") ? 2 :
			   !strcmp(name, ">") ? 3 : !strcmp(name, "+") ? 4 :
			   !strncmp(name, "PAGE", 4) ? 1 : 0;

		if (kind < phase)
			return "steps out of kind order";
		if (kind != phase)
			last = -1;
		phase = kind;
		if (kind == 2) {
			const char *u = cJSON_IsString(a) ? a->valuestring : uuid_of(a);
			int at = find(ov, no, u), i = find(list, cur, u);

			if (at <= last || i < 0)
				return "- and M not in old order";
			last = at;
			if (*name == '-') {
				memmove(list + i, list + i + 1, sizeof(*list) * (size_t)(cur - i - 1));
				cur--;
			}
		} else if (kind == 3) {
			const char *u = a->next->valuestring;
			int at = find(nv, nn, u), i = find(list, cur, u), want = 0;

			if (at <= last || i < 0)
				return "moves not in new order";
			last = at;
			memmove(list + i, list + i + 1, sizeof(*list) * (size_t)(cur - i - 1));
			cur--;
			for (int j = at - 1; j >= 0; j--)
				if (find(ov, no, nv[j]) >= 0) {
					want = find(list, cur, nv[j]) + 1;
					break;
				}
			if ((int)a->valuedouble != want)
				problem = "a move index breaks the rule";
			memmove(list + want + 1, list + want, sizeof(*list) * (size_t)(cur - want));
			list[want] = u;
			cur++;
			moves++;
		} else if (kind == 4) {
			int at = (int)a->valuedouble;

			if (at <= last || at > cur)
				return "insertions not ascending";
			last = at;
			memmove(list + at + 1, list + at, sizeof(*list) * (size_t)(cur - at));
			list[at] = uuid_of(a->next);
			cur++;
		}
	}
	if (problem)
		return problem;
	if (cur != nn)
		return "wrong number of entries";
	for (int i = 0; i < nn; i++)
		if (strcmp(list[i], nv[i]))
			return "entries in the wrong order";
	if (moves != shared - lis_length(seq, shared))
		return "not shared - LIS moves";
	return NULL;
}

/* True if the entries of page have distinct _uuids. */
static int distinct_uuids(const cJSON *page)
{
	const cJSON *a, *b, *entries = cJSON_GetObjectItemCaseSensitive(page, "entries");

	cJSON_ArrayForEach(a, entries)
		for (b = a->next; b; b = b->next)
			if (!strcmp(uuid_of(a), uuid_of(b)))
				return 0;
	return 1;
}

static void test_random(void)
{
	int runs = 4000, bad_rc = 0, bad_replay = 0, bad_steps = 0, bad_other = 0;
	const char *first = NULL;

	for (int run = 0; run < runs; run++) {
		int n = run % 50 == 0 ? (int)rnd(100) : (int)rnd(20);
		cJSON *old = random_page(n), *new = random_change(old);
		cJSON *other = random_change(old), *d = NULL, *got, *a, *b;
		struct fk_err err;
		const char *problem;

		if (diff_pages(old, new, &d, &err)) {
			bad_rc++;
			goto next;
		}
		got = cJSON_Duplicate(old, 1);
		if (diff_replay(got, d, &err))
			bad_rc++;
		a = visible(got);
		b = visible(new);
		if (!json_equal(a, b)) {
			if (!bad_replay++) {
				char *t1 = text_of(got), *t2 = text_of(new), *t3 = text_of(d);

				printf("# replay differs:\n#  got  %s\n#  want %s\n#  diff %s\n",
				       t1, t2, t3);
				free(t1);
				free(t2);
				free(t3);
			}
		}
		problem = check_steps(old, new, d);
		if (problem) {
			if (!bad_steps++)
				first = problem;
		}
		/* Rebase-like: the same diff on another copy must apply. */
		if (diff_replay(other, d, &err) || !distinct_uuids(other))
			bad_other++;
		cJSON_Delete(a);
		cJSON_Delete(b);
		cJSON_Delete(got);
next:
		cJSON_Delete(old);
		cJSON_Delete(new);
		cJSON_Delete(other);
		cJSON_Delete(d);
	}
	TAP_OK(bad_rc == 0, "random: diff and replay succeed on %d page pairs", runs);
	TAP_OK(bad_replay == 0, "random: replay(old, diff(old, new)) equals new (%d bad)",
	       bad_replay);
	TAP_OK(bad_steps == 0, "random: step order, move indexes, shared - LIS moves (%d bad%s%s)",
	       bad_steps, first ? ": " : "", first ? first : "");
	TAP_OK(bad_other == 0, "random: the diff replays onto another copy (%d bad)",
	       bad_other);
}

/* A page "p" of n entries in the order of ids[]; caller cJSON_Delete()s. */
static cJSON *long_page(const int *ids, int n)
{
	cJSON *page = cJSON_CreateObject(), *entries = cJSON_CreateArray();
	char s[32];

	cJSON_AddStringToObject(page, "_uuid", "p");
	cJSON_AddItemToObject(page, "entries", entries);
	for (int i = 0; i < n; i++) {
		cJSON *e = cJSON_CreateObject();

		snprintf(s, sizeof(s), "u%d", ids[i]);
		cJSON_AddStringToObject(e, "_uuid", s);
		cJSON_AddStringToObject(e, "_timestamp", "1");
		cJSON_AddItemToArray(entries, e);
	}
	return page;
}

/* Reversed and shuffled long pages: all moves, no quadratic step (this
 * test would time out). */
static void test_long(void)
{
	enum { N = 30000 };
	int *ids = malloc(sizeof(int) * N);

	for (int mode = 0; mode < 2; mode++) {
		cJSON *old, *new, *d = NULL;
		struct fk_err err;
		int moves = 0, ok;
		const cJSON *s;

		for (int i = 0; i < N; i++)
			ids[i] = i;
		old = long_page(ids, N);
		for (int i = 0; i < N; i++)
			ids[i] = mode ? i : N - 1 - i;
		for (int i = N - 1; mode && i > 0; i--) {
			int j = (int)rnd((uint32_t)i + 1), t = ids[i];

			ids[i] = ids[j];
			ids[j] = t;
		}
		new = long_page(ids, N);
		ok = diff_pages(old, new, &d, &err) == FK_OK &&
		     diff_replay(old, d, &err) == FK_OK && json_equal(old, new);
		cJSON_ArrayForEach(s, d)
			moves++;
		TAP_OK(ok, "%d entries %s: replay(old, diff) = new (%d moves)", N,
		       mode ? "shuffled" : "reversed", moves);
		if (!mode)
			TAP_OK(moves == N - 1, "reversal of %d entries is %d moves", N,
			       N - 1);
		cJSON_Delete(old);
		cJSON_Delete(new);
		cJSON_Delete(d);
	}
	free(ids);
}

int main(void)
{
	test_worked_example();
	test_step_kinds();
	test_order();
	test_null_pointers();
	test_moves();
	test_replay_rules();
	test_invalid();
	test_random();
	test_long();
	return tap_done();
}
