/*
 * test-page.c - the page model: every hash vector of SPEC §2.2, the
 * normalisation rules of §2.1 and the validation messages of §2.3.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "json.h"
#include "page.h"
#include "tap.h"

static const struct page_limits lim = {16u << 20, 64, 1024};

static cJSON *parse(const char *text, const char *key, enum page_origin o)
{
	struct fk_err err;
	cJSON *p = NULL;

	if (page_parse(text, strlen(text), key, o, &lim, &p, &err))
		printf("# unexpected parse failure: %s\n", err.msg);
	return p;
}

/* The canonical text of a page; caller frees. */
static char *text_of(const cJSON *page)
{
	struct buf b = {0};

	page_write(&b, page);
	return buf_detach(&b);
}

static void hash_vector(const char *page, const char *want)
{
	cJSON *p = parse(page, NULL, PAGE_FROM_PAGER);
	char got[16];

	snprintf(got, sizeof(got), "%lu", p ? (unsigned long)page_hash(p) : 0UL);
	TAP_STR_EQ(got, want, "hash of %s", page);
	cJSON_Delete(p);
}

static void test_vectors(void)
{
	uLong z = crc32(0, (const Bytef *)"test", 4);

	TAP_OK(z == 3632233996UL, "crc32(0, \"test\") = 3632233996");
	z = crc32(z, (const Bytef *)"test2", 5);
	TAP_OK(z == 1273485196UL, "crc32(crc32(0, \"test\"), \"test2\") = 1273485196");
	hash_vector("{\"_uuid\":\"p1\",\"entries\":[]}", "1060662067");
	hash_vector("{\"_uuid\":\"news\",\"_head\":\"h0\",\"_next\":\"news-2\",\"entries\":["
		    "{\"_uuid\":\"e1\",\"_timestamp\":\"1433865600000\"},"
		    "{\"_uuid\":\"e2\",\"_timestamp\":\"1433865600001\"}]}",
		    "1198598375");
	hash_vector("{\"_uuid\":\"news\",\"_head\":\"h0\",\"_next\":\"news-2\",\"entries\":["
		    "{\"_uuid\":\"e2\",\"_timestamp\":\"1433865600001\"},"
		    "{\"_uuid\":\"e1\",\"_timestamp\":\"1433865600000\"}]}",
		    "2910451975");
	hash_vector("{\"_uuid\":\"news\",\"_next\":\"news-2\",\"_prev\":\"news-0\",\"entries\":["
		    "{\"_uuid\":\"e1\",\"_timestamp\":\"1433865600000\"}]}",
		    "2225785527");
	hash_vector("{\"_uuid\":\"caf\xc3\xa9\",\"entries\":[{\"_uuid\":\"x\",\"_timestamp\":\"0\"}]}",
		    "1330132320");
	/* Null and empty pointers are not hashed; payload is not hashed. */
	hash_vector("{\"_uuid\":\"p1\",\"_head\":null,\"_next\":\"\",\"entries\":[],\"x\":1}",
		    "1060662067");
}

static void test_canonical_order(void)
{
	cJSON *p = parse("{\"z\":1,\"entries\":[],\"_next\":\"n\",\"__base\":{},"
			 "\"_hash\":\"7\",\"a\":[true,null],\"_head\":null}",
			 "k", PAGE_FROM_USER);
	char *t;

	page_set_hash(p);
	t = text_of(p);
	TAP_STR_EQ(t, "{\"_uuid\":\"k\",\"_next\":\"n\",\"entries\":[],\"z\":1,"
		      "\"a\":[true,null],\"_hash\":\"1623714822\"}",
		   "canonical order: _uuid, pointers, entries, payload, _hash; __ keys and input _hash dropped");
	free(t);
	cJSON_Delete(p);
}

static const char *ts_of(const cJSON *page, int i)
{
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(page, "entries"), i);

	return cJSON_GetStringValue(cJSON_GetObjectItem(e, "_timestamp"));
}

static const char *uuid_of(const cJSON *page, int i)
{
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(page, "entries"), i);

	return cJSON_GetStringValue(cJSON_GetObjectItem(e, "_uuid"));
}

static void test_normalise(void)
{
	cJSON *old = parse("{\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":\"100\",\"t\":1},"
			   "{\"_uuid\":\"b\",\"_timestamp\":\"200\"}]}", "k", PAGE_FROM_USER);
	cJSON *p;
	char *t;
	const char *u;

	page_normalise(old, NULL, 5000);
	TAP_STR_EQ(ts_of(old, 0), "100", "a given timestamp is kept");

	/* Rule 1 and 2: fresh uuid and the current time for new entries. */
	p = parse("{\"entries\":[{\"x\":1},{\"_uuid\":\"c\"}]}", "k", PAGE_FROM_USER);
	page_normalise(p, old, 5000);
	u = uuid_of(p, 0);
	TAP_OK(u && strlen(u) == 36 && u[14] == '4' && strchr("89ab", u[19]),
	       "an entry without _uuid gets a v4 uuid (%s)", u ? u : "null");
	TAP_STR_EQ(ts_of(p, 0), "5000", "a new entry gets the current time");
	TAP_STR_EQ(ts_of(p, 1), "5000", "a new entry with a uuid gets the current time");
	t = text_of(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "entries"), 1));
	TAP_STR_EQ(t, "{\"_uuid\":\"c\",\"_timestamp\":\"5000\"}", "_timestamp goes after _uuid");
	free(t);
	cJSON_Delete(p);

	/* Rule 2 then 3: stored timestamp taken; unchanged content keeps it. */
	p = parse("{\"entries\":[{\"_uuid\":\"a\",\"t\":1},{\"_uuid\":\"b\"}]}", "k",
		  PAGE_FROM_USER);
	page_normalise(p, old, 5000);
	TAP_STR_EQ(ts_of(p, 0), "100", "an omitted timestamp of a stored entry is taken back");
	TAP_OK(json_equal(p, old), "a rewrite without timestamps is idempotent");
	cJSON_Delete(p);

	/* Rule 3: same timestamp, different content: max(now, old + 1). */
	p = parse("{\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":\"100\",\"t\":2},"
		  "{\"_uuid\":\"b\",\"_timestamp\":\"200\"}]}", "k", PAGE_FROM_USER);
	page_normalise(p, old, 5000);
	TAP_STR_EQ(ts_of(p, 0), "5000", "changed content: timestamp becomes now");
	TAP_STR_EQ(ts_of(p, 1), "200", "an unchanged entry keeps its timestamp");
	cJSON_Delete(p);
	p = parse("{\"entries\":[{\"_uuid\":\"a\",\"t\":3},{\"_uuid\":\"b\"}]}", "k",
		  PAGE_FROM_USER);
	page_normalise(p, old, 50);
	TAP_STR_EQ(ts_of(p, 0), "101", "changed content with a clock behind: old + 1");
	cJSON_Delete(p);
	/* Key order alone is not a change. */
	p = parse("{\"entries\":[{\"t\":1,\"_uuid\":\"a\"},{\"_uuid\":\"b\"}]}", "k",
		  PAGE_FROM_USER);
	page_normalise(p, old, 5000);
	TAP_STR_EQ(ts_of(p, 0), "100", "reordered keys of an entry are not a content change");
	cJSON_Delete(p);
	/* A given different timestamp is the user's. */
	p = parse("{\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":\"7\",\"t\":9}]}", "k",
		  PAGE_FROM_USER);
	page_normalise(p, old, 5000);
	TAP_STR_EQ(ts_of(p, 0), "7", "an explicitly different timestamp is kept");
	cJSON_Delete(p);
	/* Integer timestamps are stored as decimal strings. */
	p = parse("{\"entries\":[{\"_uuid\":\"i\",\"_timestamp\":1433865600000}]}", "k",
		  PAGE_FROM_USER);
	TAP_STR_EQ(ts_of(p, 0), "1433865600000", "an integer timestamp becomes its decimal string");
	cJSON_Delete(p);
	cJSON_Delete(old);

	/* Rule 4: an entry replaced by another with an equal timestamp. */
	old = parse("{\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":\"300\"}]}", "k",
		    PAGE_FROM_USER);
	page_normalise(old, NULL, 5000);
	p = parse("{\"entries\":[{\"_uuid\":\"z\",\"_timestamp\":\"300\"}]}", "k",
		  PAGE_FROM_USER);
	page_normalise(p, old, 200);
	TAP_OK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "_hash")),
		      cJSON_GetStringValue(cJSON_GetObjectItem(old, "_hash"))) != 0,
	       "rule 4: a replaced entry with an equal timestamp changes the hash");
	TAP_STR_EQ(ts_of(p, 0), "301", "rule 4: the new entry is re-stamped to max(now, ts + 1)");
	cJSON_Delete(p);
	/* A reorder of equal timestamps has no new entry: stored unstamped. */
	cJSON_Delete(old);
	old = parse("{\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":\"1\"},"
		    "{\"_uuid\":\"b\",\"_timestamp\":\"1\"}]}", "k", PAGE_FROM_USER);
	page_normalise(old, NULL, 5000);
	p = parse("{\"entries\":[{\"_uuid\":\"b\",\"_timestamp\":\"1\"},"
		  "{\"_uuid\":\"a\",\"_timestamp\":\"1\"}]}", "k", PAGE_FROM_USER);
	page_normalise(p, old, 5000);
	TAP_STR_EQ(ts_of(p, 0), "1", "rule 4 leaves reordered old entries alone");
	TAP_OK(!json_equal(p, old), "the reordered page still differs (it is a change)");
	cJSON_Delete(p);
	cJSON_Delete(old);
}

static void bad(const char *text, const char *key, enum page_origin o,
		const char *want)
{
	struct fk_err err = {{0}};
	cJSON *p = NULL;
	int rc = page_parse(text, strlen(text), key, o, &lim, &p, &err);

	TAP_OK(rc == FK_EDATA && p == NULL, "rejected with 65: %s", text);
	TAP_OK(strstr(err.msg, want) != NULL, "message names the problem: %s", want);
	if (!strstr(err.msg, want))
		printf("#   message: %s\n", err.msg);
	cJSON_Delete(p);
}

static void test_bad_pages(void)
{
	bad("[]", "k", PAGE_FROM_USER, "expected a JSON object");
	bad("{\"_uuid\":\"x\",\"entries\":[]}", "k", PAGE_FROM_USER,
	    "_uuid: \"x\" differs from the key");
	bad("{\"_uuid\":5,\"entries\":[]}", "k", PAGE_FROM_USER, "_uuid: expected a string");
	bad("{\"entries\":[]}", NULL, PAGE_FROM_USER, "_uuid: missing");
	bad("{\"_uuid\":\"k\"}", "k", PAGE_FROM_USER, "entries: missing");
	bad("{\"entries\":{}}", "k", PAGE_FROM_USER, "entries: expected an array");
	bad("{\"entries\":[],\"_next\":3}", "k", PAGE_FROM_USER, "_next: expected a string or null");
	bad("{\"entries\":[1]}", "k", PAGE_FROM_USER, "entries[0]: expected an object");
	bad("{\"entries\":[{\"_uuid\":\"\"}]}", "k", PAGE_FROM_USER,
	    "entries[0]._uuid: expected a non-empty string");
	bad("{\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":\"01\"}]}", "k", PAGE_FROM_USER,
	    "entries[0]._timestamp: expected a decimal string");
	bad("{\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":\"9007199254740992\"}]}", "k",
	    PAGE_FROM_USER, "entries[0]._timestamp: expected a decimal string");
	bad("{\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":-1}]}", "k", PAGE_FROM_USER,
	    "entries[0]._timestamp: expected a decimal string");
	bad("{\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":1.5}]}", "k", PAGE_FROM_USER,
	    "entries[0]._timestamp: expected a decimal string");
	bad("{\"entries\":[{\"_uuid\":\"a\",\"_timestamp\":\"1\"},{\"_uuid\":\"b\",\"_timestamp\":\"1\"},"
	    "{\"_uuid\":\"a\",\"_timestamp\":\"2\"}]}", "k", PAGE_FROM_USER,
	    "entries[2]._uuid: duplicate entry _uuid (also at entries[0])");
	bad("{\"entries\":[{\"_uuid\":\"a\"}]}", "k", PAGE_FROM_PAGER,
	    "entries[0]: missing _timestamp");
	bad("{\"entries\":[{\"_timestamp\":\"1\"}]}", "k", PAGE_FROM_PAGER,
	    "entries[0]: missing _uuid");
	bad("{\"entries\":[],\"a\":1,\"a\":2}", "k", PAGE_FROM_USER, "duplicate key");
	bad("{\"entries\":[{\"_uuid\":\"a\",\"n\":9007199254740993}]}", "k", PAGE_FROM_USER,
	    "entries[0].n: integer beyond 2^53");
}

static void test_names(void)
{
	struct fk_err err;
	char big[1100];

	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	TAP_OK(page_check_name("key", "a b;$(x)", 1024, &err) == FK_OK, "keys may hold spaces and shell characters");
	TAP_OK(page_check_name("key", "", 1024, &err) == FK_EDATA, "an empty key is rejected");
	TAP_OK(page_check_name("key", big, 1024, &err) == FK_EDATA &&
	       strstr(err.msg, "1099 bytes long (at most 1024)"), "an oversized key is rejected");
	TAP_OK(page_check_name("namespace", "a\tb", 1024, &err) == FK_EDATA &&
	       strstr(err.msg, "control character"), "control characters are rejected");
	TAP_OK(page_check_name("key", "a\xff", 1024, &err) == FK_EDATA &&
	       strstr(err.msg, "not valid UTF-8"), "invalid UTF-8 is rejected");
	TAP_OK(page_check_name("key", "caf\xc3\xa9", 1024, &err) == FK_OK, "UTF-8 keys are fine");
}

int main(void)
{
	test_vectors();
	test_canonical_order();
	test_normalise();
	test_bad_pages();
	test_names();
	return tap_done();
}
