/*
 * test-json.c - the strict reader, the compact writer, equality and paths
 * of store/json-read.c, json-write.c and json-equal.c.
 *
 * Error cases compare the whole message, position and path included:
 * it is what a user sees on stderr (SPEC §2.3).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

/* A printable, one-line, shortened form of s[0..len) for test names: TAP
 * ends a test line at a newline.  Returns one of four rotating buffers. */
static const char *show(const char *s, size_t len)
{
	static char out[4][64];
	static int turn;
	char *o = out[turn++ % 4];
	size_t i, n = 0;

	for (i = 0; i < len && n < 50; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			o[n++] = (char)c;
		else
			n += (size_t)snprintf(o + n, 8, "\\x%02x", c);
	}
	if (i < len) {
		memcpy(o + n, "...", 3);
		n += 3;
	}
	o[n] = '\0';
	return o;
}

/* Parses text with the given depth limit and returns the rewritten text,
 * or NULL on failure with err filled.  Caller frees. */
static char *rewrite(const char *text, size_t len, int max_depth,
		     struct fk_err *err)
{
	struct json_opts opts = {max_depth, 0, 0};
	struct buf b = {0};
	cJSON *v;

	if (json_parse(text, len, &opts, &v, err) != FK_OK)
		return NULL;
	json_write(&b, v);
	cJSON_Delete(v);
	return buf_detach(&b);
}

/* in parses and prints as want (want NULL: as in itself). */
static void check_round_trip(const char *in, const char *want)
{
	struct fk_err err = {""};
	char *got = rewrite(in, strlen(in), 0, &err);

	if (!want)
		want = in;
	TAP_STR_EQ(got ? got : err.msg, want, "round trip %s",
	       show(in, strlen(in)));
	free(got);
}

/* in fails with FK_EDATA, a NULL tree and exactly the message want. */
static void check_error(const char *in, size_t len, int max_depth,
			const char *want)
{
	struct json_opts opts = {max_depth, 0, 0};
	struct fk_err err = {""};
	static cJSON sentinel;
	cJSON *v = &sentinel; /* must be overwritten with NULL */
	int rc = json_parse(in, len, &opts, &v, &err);

	TAP_OK(rc == FK_EDATA && v == NULL, "rejects %s", show(in, len));
	TAP_STR_EQ(err.msg, want, "message for %s", show(in, len));
	if (rc == FK_OK)
		cJSON_Delete(v);
}

static void check_error_s(const char *in, const char *want)
{
	check_error(in, strlen(in), 0, want);
}

static void test_round_trips(void)
{
	static const char *const same[] = {
		"null", "true", "false", "0", "1", "-1", "1.5", "-1.5",
		"0.1", "1e+21", "1e-7", "1.5e-7", "123456789012",
		"9007199254740992", "-9007199254740992",
		"1.7976931348623157e+308", "4.94065645841247e-324",
		"0.30000000000000004", "2.5e-300", "\"\"", "\"abc\"", "[]", "{}",
		"[1,2,3]", "[[],[[]],{}]", "{\"a\":1,\"b\":[true,false,null]}",
		"{\"z\":1,\"a\":2,\"m\":3}", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
		"\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\"", "\"\x7f\"",
		"{\"\":\"\",\"a b\":{\"\\n\":[]}}",
		("{\"_uuid\":\"news\",\"entries\":[{\"_uuid\":\"e1\","
		 "\"_timestamp\":\"1433865600000\",\"title\":\"hello\"}]}"),
	};
	static const char *const pairs[][2] = {
		{" \t\r\n [ 1 , 2 ]\n ", "[1,2]"},
		{"{ \"a\" : { } , \"b\" : [ ] }", "{\"a\":{},\"b\":[]}"},
		{"-0", "0"},
		{"-0.0", "0"},
		{"1.0", "1"},
		{"1E3", "1000"},
		{"1e21", "1e+21"},
		{"1E+21", "1e+21"},
		{"0.0000001", "1e-7"},
		{"1.5E-07", "1.5e-7"},
		{"1e-400", "0"},
		{"123e-2", "1.23"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"},
		{"-1e300", "-1e+300"},
		{"1152921504606846976e0", "1.152921504606847e+18"},
		{"5e-324", "4.94065645841247e-324"},
		{"1e20", "1e+20"},
		{"\"\\/\"", "\"/\""},
		{"\"\\u00e9\\u20AC\"", "\"\xc3\xa9\xe2\x82\xac\""},
		{"\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\""},
		{"\"\\uDBFF\\uDFFF\"", "\"\xf4\x8f\xbf\xbf\""},
		{"\"\\u007f\\u0080\"", "\"\x7f\xc2\x80\""},
		{"\"\\u000b\"", "\"\\u000b\""},
	};
	size_t i;

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		check_round_trip(same[i], NULL);
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		check_round_trip(pairs[i][0], pairs[i][1]);
}

static void test_numbers_written(void)
{
	static const struct {
		double d;
		const char *want;
	} cases[] = {
		{0.0, "0"}, {-0.0, "0"}, {1e21, "1e+21"}, {1e-7, "1e-7"},
		{0.1, "0.1"}, {-2.5, "-2.5"}, {1e20, "1e+20"},
		{-1e20, "-1e+20"}, {123456789012.0, "123456789012"},
		{9007199254740992.0, "9007199254740992"},
		{9007199254740994.0, "9.007199254740994e+15"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{5e-324, "4.94065645841247e-324"}, {1.0 / 3, "0.3333333333333333"},
		{4503599627370495.5, "4503599627370495.5"},
		{0.5, "0.5"}, {-0.5, "-0.5"}, {123.456, "123.456"},
		{0.0001, "0.0001"}, {0.00012, "0.00012"}, {0.00001, "1e-5"},
		{99999999999999.9, "99999999999999.9"}, {0.1 + 0.2, "0.30000000000000004"},
		{1152921504606846976.0, "1.152921504606847e+18"},
		{-1152921504606846976.0, "-1.152921504606847e+18"},
		{123456789012345678.0, "1.2345678901234568e+17"},
		{1e100, "1e+100"}, {1.5e-300, "1.5e-300"}, {-2.5e-10, "-2.5e-10"},
		{HUGE_VAL, "null"}, {-HUGE_VAL, "null"}, {NAN, "null"},
	};
	struct buf b = {0};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		json_write_number(&b, cases[i].d);
		TAP_STR_EQ(b.p, cases[i].want, "number %s", cases[i].want);
		if (isfinite(cases[i].d)) {
			/* Whatever the writer prints, the reader takes back. */
			struct fk_err err;
			cJSON *v = NULL;

			TAP_OK(json_parse(b.p, b.len, NULL, &v, &err) == FK_OK && v &&
			       v->valuedouble == cases[i].d,
			       "number %s reads back", cases[i].want);
			cJSON_Delete(v);
		}
	}
	buf_release(&b);
}

static void test_bad_utf8(void)
{
	check_error_s("\"abcdef\xff\"", "line 1, column 8: invalid UTF-8 (byte 0xff)");
	check_error_s("[\n \"\xc0\xaf\"]", "line 2, column 3: invalid UTF-8 (byte 0xc0)");
	check_error_s("\"\xe0\x80\xaf\"", "line 1, column 2: invalid UTF-8 (byte 0xe0)");
	check_error_s("\"\xed\xa0\x80\"", "line 1, column 2: invalid UTF-8 (byte 0xed)");
	check_error_s("\"\xf4\x90\x80\x80\"", "line 1, column 2: invalid UTF-8 (byte 0xf4)");
	check_error_s("\"\xf5\x80\x80\x80\"", "line 1, column 2: invalid UTF-8 (byte 0xf5)");
	check_error_s("\"\x80\"", "line 1, column 2: invalid UTF-8 (byte 0x80)");
	check_error_s("\"\xc3", "line 1, column 2: invalid UTF-8 (byte 0xc3)");
	check_error_s("\"\xe2\x82(\"", "line 1, column 2: invalid UTF-8 (byte 0xe2)");
	/* checked before parsing: reported even after a syntax error */
	check_error_s("[}\xff", "line 1, column 3: invalid UTF-8 (byte 0xff)");
}

static void test_syntax(void)
{
	check_error_s("{\"a\":1} x", "line 1, column 9: trailing garbage after the JSON value");
	check_error_s("1 2", "line 1, column 3: trailing garbage after the JSON value");
	check_error_s("[1]]", "line 1, column 4: trailing garbage after the JSON value");
	check_error_s("[1,]", "line 1, column 4: [1]: expected a value, found ']'");
	check_error_s("{\"a\":1,}", "line 1, column 8: expected a member name, found '}'");
	check_error_s("{\"a\" 1}", "line 1, column 6: a: expected ':' after the member name, found '1'");
	check_error_s("{\"a\":}", "line 1, column 6: a: expected a value, found '}'");
	check_error_s("[1 2]", "line 1, column 4: expected ',' or ']', found '2'");
	check_error_s("{\"a\":[1,{\"b\":2 \"c\"}]}",
		      "line 1, column 16: a[1]: expected ',' or '}', found '\"'");
	check_error_s("[", "line 1, column 2: [0]: expected a value, found end of input");
	check_error_s("[1", "line 1, column 3: expected ',' or ']', found end of input");
	check_error_s("{", "line 1, column 2: expected a member name, found end of input");
	check_error_s("{\"a\"", "line 1, column 5: a: expected ':' after the member name, found end of input");
	check_error_s("{\"a\":1", "line 1, column 7: expected ',' or '}', found end of input");
	check_error_s("{\"a\":[1,2}", "line 1, column 10: a: expected ',' or ']', found '}'");
	check_error_s("[1,\r\n2,\r\n  x]", "line 3, column 3: [2]: expected a value, found 'x'");
	check_error_s("{\"a\":[1,\n", "line 2, column 1: a[1]: expected a value, found end of input");
	check_error_s("{'a':1}", "line 1, column 2: expected a member name, found '''");
	check_error_s("[tru]", "line 1, column 2: [0]: invalid literal (true, false or null expected)");
	check_error_s("nul", "line 1, column 1: invalid literal (true, false or null expected)");
	check_error_s("[NaN]", "line 1, column 2: [0]: expected a value, found 'N'");
	check_error_s("Infinity", "line 1, column 1: expected a value, found 'I'");
	check_error_s("\xc3\xa9", "line 1, column 1: expected a value, found byte 0xc3");
	check_error_s("\"abc", "line 1, column 1: unterminated string");
	check_error_s("{\"k\":\"abc\\", "line 1, column 10: k: unterminated string");
	check_error_s("\"a\tb\"", "line 1, column 3: raw control character 0x09 in a string (escape it)");
	check_error_s("{\"a\nb\":1}", "line 1, column 4: raw control character 0x0a in a string (escape it)");
	check_error_s("[\"\\x\"]", "line 1, column 3: [0]: invalid escape (backslash before 'x')");
	check_error_s("\"\\u12g4\"", "line 1, column 2: invalid \\u escape (four hex digits needed)");
	check_error_s("\"\\u12\"", "line 1, column 2: invalid \\u escape (four hex digits needed)");
}

static void test_string_escapes(void)
{
	check_error_s("{\"a\":\"x\\u0000y\"}", "line 1, column 8: a: \\u0000 is not allowed in strings");
	check_error_s("{\"\\u0000\":1}", "line 1, column 3: \\u0000 is not allowed in strings");
	check_error_s("[\"\\ud800\"]", "line 1, column 3: [0]: lone surrogate escape \\ud800");
	check_error_s("[\"\\uDC00\\uD800\"]", "line 1, column 3: [0]: lone surrogate escape \\uDC00");
	check_error_s("[\"\\ud800\\u0041\"]", "line 1, column 3: [0]: lone surrogate escape \\ud800");
	check_error_s("[\"\\ud800\\ud800\"]", "line 1, column 3: [0]: lone surrogate escape \\ud800");
	check_error_s("[\"ab\\uDBFF\"]", "line 1, column 5: [0]: lone surrogate escape \\uDBFF");
	check_error_s("\"\\ude00\"", "line 1, column 2: lone surrogate escape \\ude00");
}

static void test_bad_numbers(void)
{
	check_error_s("[01]", "line 1, column 2: [0]: invalid number (leading zero)");
	check_error_s("-01", "line 1, column 1: invalid number (leading zero)");
	check_error_s("[+1]", "line 1, column 2: [0]: expected a value, found '+'");
	check_error_s("[.5]", "line 1, column 2: [0]: expected a value, found '.'");
	check_error_s("[1.]", "line 1, column 2: [0]: invalid number (a digit must follow '.')");
	check_error_s("[1.e5]", "line 1, column 2: [0]: invalid number (a digit must follow '.')");
	check_error_s("[-]", "line 1, column 2: [0]: invalid number (a digit must follow '-')");
	check_error_s("-Infinity", "line 1, column 1: invalid number (a digit must follow '-')");
	check_error_s("[1e]", "line 1, column 2: [0]: invalid number (exponent without digits)");
	check_error_s("[1e+]", "line 1, column 2: [0]: invalid number (exponent without digits)");
	check_error_s("{\"n\":1e999}", "line 1, column 6: n: number out of range (not a finite double)");
	check_error_s("-1e400", "line 1, column 1: number out of range (not a finite double)");
	check_error_s("{\"entries\":[{},{},{},{\"_timestamp\":9007199254740993}]}",
		      "line 1, column 36: entries[3]._timestamp: integer beyond 2^53 cannot round-trip; quote it");
	check_error_s("-9007199254740993", "line 1, column 1: integer beyond 2^53 cannot round-trip; quote it");
	check_error_s("[12345678901234567]", "line 1, column 2: [0]: integer beyond 2^53 cannot round-trip; quote it");
	check_round_trip("9007199254740993.0", "9007199254740992");
	check_round_trip("9007199254740993e0", "9007199254740992");
	/* numbers at the very end of an unterminated buffer */
	{
		struct fk_err err = {""};
		char text[3] = {'1', '2', '3'};
		char *got = rewrite(text, 3, 0, &err);

		TAP_STR_EQ(got, "123", "number at the end of an unterminated buffer");
		free(got);
	}
	/* a long number goes through the scratch buffer */
	check_round_trip("0.000000000000000000000000000000000000000000000000000000000000000000000000125",
			 "1.25e-73");
}

static void test_duplicates(void)
{
	struct buf in = {0}, key = {0};
	struct fk_err err = {""};
	char want[128];
	cJSON *v;
	int i;

	check_error_s("{\"a\":1,\"a\":2}", "line 1, column 8: duplicate key \"a\"");
	check_error_s("{\"a\":1,\"b\":{\"x\":1,\"y\":2,\"x\":3}}",
		      "line 1, column 25: b: duplicate key \"x\"");
	check_error_s("[{},{\"k\":[{\"q\":1},{\"q\":2,\"q\":3}]}]",
		      "line 1, column 26: [1].k[1]: duplicate key \"q\"");
	check_error_s("{\"a b\":{\"\\n\":1,\"\\u000a\":2}}",
		      "line 1, column 16: [\"a b\"]: duplicate key \"\\n\"");
	check_error_s("{\"\\u00e9\":1,\"\xc3\xa9\":2}",
		      "line 1, column 13: duplicate key \"\xc3\xa9\"");
	/* a huge duplicate key is shortened in the message, between
	 * characters */
	for (i = 0; i < 3000; i++)
		buf_adds(&key, "\xc3\xa9");
	buf_printf(&in, "{\"%s\":1,\"%s\":2}", key.p, key.p);
	buf_release(&key);
	TAP_OK(json_parse(in.p, in.len, NULL, &v, &err) == FK_EDATA &&
		       strstr(err.msg, "line 1, column 6007: duplicate key \"\xc3\xa9") ==
			       err.msg &&
		       strstr(err.msg, "\xc3\xa9...\xc3\xa9") &&
		       strlen(err.msg) < 300,
	       "a huge duplicate key is shortened");
	buf_reset(&in);
	/* same name, different objects: fine */
	check_round_trip("[{\"a\":1},{\"a\":2},{\"a\":{\"a\":3}}]", NULL);

	/* 5000 keys: the hash set, late and early duplicates */
	buf_addc(&in, '{');
	for (i = 0; i < 5000; i++)
		buf_printf(&in, "%s\"k%d\":%d", i ? "," : "", i, i);
	buf_adds(&in, "}");
	TAP_OK(json_parse(in.p, in.len, NULL, &v, &err) == FK_OK && v &&
		       cJSON_GetArraySize(v) == 5000,
	       "5000 distinct keys parse");
	cJSON_Delete(v);
	in.len--;
	buf_adds(&in, ",\"k4321\":0}");
	snprintf(want, sizeof(want), "line 1, column %zu: duplicate key \"k4321\"",
		 in.len - strlen("\"k4321\":0}") + 1);
	check_error(in.p, in.len, 0, want);
	buf_reset(&in);
	buf_adds(&in, "[{\"k15\":0");
	for (i = 0; i < 40; i++)
		buf_printf(&in, ",\"k%d\":%d", 100 + i, i);
	buf_adds(&in, ",\"k15\":1}]");
	snprintf(want, sizeof(want),
		 "line 1, column %zu: [0]: duplicate key \"k15\"",
		 in.len - strlen("\"k15\":1}]") + 1);
	check_error(in.p, in.len, 0, want);
	/* a second big object at the same depth reuses the table */
	buf_reset(&in);
	buf_addc(&in, '[');
	for (int o = 0; o < 3; o++) {
		buf_adds(&in, o ? ",{" : "{");
		for (i = 0; i < 100; i++)
			buf_printf(&in, "%s\"k%d\":%d", i ? "," : "", i, o);
		buf_addc(&in, '}');
	}
	buf_addc(&in, ']');
	TAP_OK(json_parse(in.p, in.len, NULL, &v, &err) == FK_OK,
	       "three 100-key objects with the same keys parse");
	cJSON_Delete(v);
	buf_release(&in);
}

/* n nested arrays, e.g. 3 -> "[[[]]]" */
static char *nested(size_t n)
{
	char *s = malloc(2 * n + 1);
	size_t i;

	for (i = 0; i < n; i++) {
		s[i] = '[';
		s[2 * n - 1 - i] = ']';
	}
	s[2 * n] = '\0';
	return s;
}

static void test_depth(void)
{
	struct fk_err err = {""};
	struct buf want = {0};
	char *s, *got;
	size_t i, n;
	cJSON *v;

	s = nested(64);
	got = rewrite(s, strlen(s), 0, &err);
	TAP_STR_EQ(got, s, "64 levels pass the default limit");
	free(got);
	free(s);

	s = nested(65);
	buf_adds(&want, "line 1, column 65: ");
	for (i = 0; i < 64; i++)
		json_path_index(&want, 0);
	buf_adds(&want, ": nesting deeper than 64");
	check_error(s, strlen(s), 0, want.p);
	free(s);
	buf_release(&want);

	/* containers count, scalars may sit one deeper than the limit */
	got = rewrite("{\"a\":{\"b\":1}}", 13, 2, &err);
	TAP_STR_EQ(got, "{\"a\":{\"b\":1}}", "depth 2 at max_depth 2 passes");
	free(got);
	check_error("{\"a\":{\"b\":[1]}}", 15, 2,
		    "line 1, column 11: a.b: nesting deeper than 2");
	check_error("{\"a\":{\"b\":{}}}", 14, 2,
		    "line 1, column 11: a.b: nesting deeper than 2");
	got = rewrite("[]", 2, 1, &err);
	TAP_STR_EQ(got, "[]", "an empty array at max_depth 1 passes");
	free(got);
	check_error("[[]]", 4, 1, "line 1, column 2: [0]: nesting deeper than 1");
	/* wrappers: a page inside a request line is measured as a page */
	{
		struct json_opts w = {2, 0, 1};
		cJSON *v = NULL;

		err.msg[0] = 0;
		TAP_OK(json_parse("{\"page\":[[1]]}", 14, &w, &v, &err) == FK_OK,
		       "one wrapper level does not count: %s", err.msg);
		cJSON_Delete(v);
		v = NULL;
		TAP_OK(json_parse("{\"page\":[[[1]]]}", 16, &w, &v, &err) == FK_EDATA &&
		       !strcmp(err.msg, "line 1, column 11: page[0][0]: nesting deeper than 2"),
		       "beyond it the limit names the page's depth: %s", err.msg);
		cJSON_Delete(v);
	}
	s = nested(65);
	check_error(s, strlen(s), -5, "line 1, column 65: [0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nesting deeper than 64");
	free(s);

	/* 100,000 levels fail at the limit, without using the C stack */
	s = nested(100000);
	TAP_OK(json_parse(s, strlen(s), NULL, &v, &err) == FK_EDATA && !v,
	       "100000 levels are rejected");
	TAP_OK(strstr(err.msg, "line 1, column 65: [0][0]") == err.msg &&
		       strstr(err.msg, "[0]: nesting deeper than 64"),
	       "100000 levels: the error names level 65");
	free(s);

	/* a raised limit is honoured exactly */
	s = nested(3000);
	got = rewrite(s, strlen(s), 3000, &err);
	TAP_STR_EQ(got, s, "3000 levels pass max_depth 3000");
	free(got);
	TAP_OK(json_parse(s, strlen(s), &(struct json_opts){2999, 0, 0}, &v,
			  &err) == FK_EDATA && !v,
	       "3000 levels fail max_depth 2999");
	/* the 9000-byte path is shortened in the middle, keeping the problem */
	TAP_OK(strncmp(err.msg, "line 1, column 3000: [0][0]", 27) == 0 &&
		       strstr(err.msg, "...") &&
		       strlen(err.msg) < 1100,
	       "a deep path is shortened: %.60s", err.msg);
	n = strlen(err.msg);
	TAP_OK(n > 30 && strcmp(err.msg + n - 30,
				"[0][0]: nesting deeper than 2999") != 0 &&
		       strstr(err.msg, "][0]: nesting deeper than 2999") ==
			       err.msg + n - strlen("][0]: nesting deeper than 2999"),
	       "a deep path keeps its end and the problem");
	free(s);
}

static void test_empty(void)
{
	struct json_opts allow = {0, 1, 0};
	struct fk_err err = {""};
	cJSON *v = NULL;

	check_error("", 0, 0, "line 1, column 1: empty input");
	check_error_s(" \t\r\n ", "line 2, column 2: empty input");
	TAP_OK(json_parse(NULL, 0, NULL, &v, &err) == FK_EDATA && !v,
	       "NULL text of length 0 is empty input");
	TAP_OK(json_parse("", 0, &allow, &v, &err) == FK_OK && !v,
	       "allow_empty: empty text gives no tree");
	TAP_OK(json_parse(" \n\t ", 4, &allow, &v, &err) == FK_OK && !v,
	       "allow_empty: whitespace gives no tree");
	TAP_OK(json_parse(" 1 ", 3, &allow, &v, &err) == FK_OK && v &&
		       cJSON_IsNumber(v),
	       "allow_empty: a value still parses");
	cJSON_Delete(v);
	TAP_OK(json_parse("\"\"", 2, &allow, &v, &err) == FK_OK && v &&
		       strcmp(v->valuestring, "") == 0,
	       "allow_empty: an empty string is not empty input");
	cJSON_Delete(v);
}

/* Parses both texts and compares the trees. */
static int equal_texts(const char *a, const char *b)
{
	struct fk_err err;
	cJSON *x = NULL, *y = NULL;
	int eq;

	if (json_parse(a, strlen(a), NULL, &x, &err) != FK_OK ||
	    json_parse(b, strlen(b), NULL, &y, &err) != FK_OK) {
		cJSON_Delete(x);
		return -1;
	}
	eq = json_equal(x, y);
	if (eq != json_equal(y, x))
		eq = -2;
	cJSON_Delete(x);
	cJSON_Delete(y);
	return eq;
}

static void test_equal(void)
{
	static const struct {
		const char *a, *b;
		int eq;
	} cases[] = {
		{"{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", 1},
		{"1", "1.0", 1},
		{"0", "-0", 1},
		{"100", "1e2", 1},
		{"\"1\"", "1", 0},
		{"[1,2]", "[2,1]", 0},
		{"[1,2]", "[1,2,3]", 0},
		{"[]", "{}", 0},
		{"null", "false", 0},
		{"true", "false", 0},
		{"true", "true", 1},
		{"\"\u00e9\"", "\"\xc3\xa9\"", 1},
		{"\"e\"", "\"E\"", 0},
		{"{\"a\":1}", "{\"a\":1,\"b\":1}", 0},
		{"{\"a\":1,\"c\":1}", "{\"a\":1,\"b\":1}", 0},
		{"{\"a\":[1,{\"x\":null,\"y\":[]}]}",
		 "{\"a\":[1,{\"y\":[],\"x\":null}]}", 1},
		{"{\"a\":[1,{\"x\":null,\"y\":[]}]}",
		 "{\"a\":[1,{\"y\":{},\"x\":null}]}", 0},
		{"{\"a\":{}}", "{\"a\":[]}", 0},
	};
	struct buf a = {0}, b = {0};
	size_t i;
	int k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		TAP_OK(equal_texts(cases[i].a, cases[i].b) == cases[i].eq,
		       "json_equal(%s, %s) is %d", cases[i].a, cases[i].b,
		       cases[i].eq);
	{
		cJSON *n = cJSON_CreateNull();

		TAP_OK(json_equal(NULL, NULL) && !json_equal(NULL, n) &&
			       !json_equal(n, NULL),
		       "json_equal with NULL pointers");
		cJSON_Delete(n);
	}

	/* big objects take the sorting path: same keys reversed */
	buf_addc(&a, '{');
	buf_addc(&b, '{');
	for (k = 0; k < 300; k++) {
		buf_printf(&a, "%s\"k%d\":[%d]", k ? "," : "", k, k);
		buf_printf(&b, "%s\"k%d\":[%d]", k ? "," : "", 299 - k, 299 - k);
	}
	buf_addc(&a, '}');
	buf_addc(&b, '}');
	TAP_OK(equal_texts(a.p, b.p) == 1, "300 keys in reverse order are equal");
	b.p[b.len - 3] = '7'; /* the value of k0 becomes [7] */
	TAP_OK(equal_texts(a.p, b.p) == 0, "300 keys, one value differs");
	buf_release(&a);
	buf_release(&b);
}

static void test_paths(void)
{
	static const struct {
		const char *key, *want;
	} keys[] = {
		{"title", "entries[3].title"},
		{"_timestamp", "entries[3]._timestamp"},
		{"a b", "entries[3][\"a b\"]"},
		{"", "entries[3][\"\"]"},
		{"1a", "entries[3][\"1a\"]"},
		{"a-b", "entries[3][\"a-b\"]"},
		{"q\"\\", "entries[3][\"q\\\"\\\\\"]"},
		{"nl\n", "entries[3][\"nl\\n\"]"},
		{"caf\xc3\xa9", "entries[3][\"caf\xc3\xa9\"]"},
	};
	struct buf path = {0};
	size_t i;

	json_path_key(&path, "entries");
	TAP_STR_EQ(path.p, "entries", "a key at the top has no dot");
	json_path_index(&path, 3);
	TAP_STR_EQ(path.p, "entries[3]", "an index");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		path.len = strlen("entries[3]");
		json_path_key(&path, keys[i].key);
		TAP_STR_EQ(path.p, keys[i].want, "path key %s", keys[i].want);
	}
	buf_reset(&path);
	json_path_key(&path, "x y");
	json_path_index(&path, 0);
	json_path_key(&path, "z");
	TAP_STR_EQ(path.p, "[\"x y\"][0].z", "odd key at the top");
	buf_release(&path);

	check_error_s("{\"entries\":[{\"a b\":{\"\":[0,01]}}]}",
		      "line 1, column 27: entries[0][\"a b\"][\"\"][1]: invalid number (leading zero)");
	check_error_s("{\"t\\\"ab\\u0001\":tru}",
		      "line 1, column 16: [\"t\\\"ab\\u0001\"]: invalid literal (true, false or null expected)");
}

static void test_writer(void)
{
	struct buf b = {0};
	cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();

	cJSON_AddItemToObject(o, "s", cJSON_CreateString("\x01\x1f\x7f\"\\/\xe2\x82\xac"));
	cJSON_AddItemToObject(o, "n", cJSON_CreateNumber(-0.0));
	cJSON_AddItemToArray(a, cJSON_CreateBool(1));
	cJSON_AddItemToArray(a, cJSON_CreateNull());
	cJSON_AddItemToObject(o, "a", a);
	json_write(&b, o);
	TAP_STR_EQ(b.p, "{\"s\":\"\\u0001\\u001f\x7f\\\"\\\\/\xe2\x82\xac\",\"n\":0,\"a\":[true,null]}",
		   "writer escapes only quote, backslash and controls");
	buf_reset(&b);
	json_write_string(&b, "\b\f\n\r\t");
	TAP_STR_EQ(b.p, "\"\\b\\f\\n\\r\\t\"", "short escapes");
	buf_release(&b);
	cJSON_Delete(o);
}

/* The buffer behaviour the writer and the error paths rely on. */
static void test_buf(void)
{
	struct buf b = {0};
	char *p;
	int i;

	p = buf_detach(&b);
	TAP_STR_EQ(p, "", "an untouched buffer detaches as \"\"");
	free(p);
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	TAP_OK(b.len == strlen(b.p) && b.len == 3890 &&
		       strncmp(b.p + b.len - 4, "999,", 4) == 0,
	       "buf_printf grows the buffer (%zu bytes)", b.len);
	buf_reset(&b);
	TAP_OK(b.len == 0 && b.p && b.p[0] == '\0', "buf_reset keeps an empty string");
	buf_add(&b, "ab\0cd", 5);
	buf_addc(&b, 'e');
	TAP_OK(b.len == 6 && memcmp(b.p, "ab\0cde", 7) == 0,
	       "buf_add takes bytes, NUL included, and stays terminated");
	buf_release(&b);
	TAP_OK(!b.p && !b.len && !b.cap, "buf_release zeroes the buffer");
}

int main(void)
{
	test_buf();
	test_round_trips();
	test_numbers_written();
	test_bad_utf8();
	test_syntax();
	test_string_escapes();
	test_bad_numbers();
	test_duplicates();
	test_depth();
	test_empty();
	test_equal();
	test_paths();
	test_writer();
	return tap_done();
}
