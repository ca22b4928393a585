/*
 * test-services.c - the services file: both syntaxes, the errors with
 * their exact "FILE:LINE: " messages, and where the file is looked for.
 *
 * The lookup tests point HOME and XDG_CONFIG_HOME at folders under /tmp,
 * never at the real home.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "services.h"
#include "tap.h"

#define KNOWN "exec, mem, net_sim, spec"

static bool known(const char *type)
{
	static const char *const types[] = { "exec", "mem", "net_sim", "spec" };
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			return true;
	return false;
}

static int parse(const char *text, struct services *s, struct fk_err *err)
{
	err->msg[0] = '\0';
	return services_parse(text, strlen(text), "t.rb", known, KNOWN, s,
			      err);
}

/* Parses text that must load, checking the count of pagers. */
static bool good(const char *text, size_t npagers, struct services *s,
		 const char *what)
{
	struct fk_err err;
	int rc = parse(text, s, &err);

	TAP_OK(rc == FK_OK && s->npagers == npagers, "%s: loads %zu pager(s)",
	       what, npagers);
	if (rc != FK_OK)
		printf("#   rc %d: %s\n", rc, err.msg);
	return rc == FK_OK && s->npagers == npagers;
}

/* Parses text that must be refused with exactly the message want. */
static void bad(const char *text, const char *want, const char *what)
{
	struct services s;
	struct fk_err err;
	int rc = parse(text, &s, &err);

	TAP_OK(rc == FK_EDATA, "%s: exits 65 (got %d)", what, rc);
	TAP_STR_EQ(err.msg, want, "%s: message", what);
	TAP_OK(s.npagers == 0 && !s.pagers && !s.settings && !s.path &&
	       !s.dir, "%s: leaves nothing to release", what);
}

static const char *opt_str(const struct svc_pager *pg, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(pg->options, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_spec_example(void)
{
	struct services s;
	char cwd[PATH_MAX];
	const cJSON *cmd;

	if (!good("service_instance :vm, :vm, {\n"
		  "  :pagers => [\n"
		  "    { :name => \"mem0\", :namespace => \"user\", "
		  ":options => {} },\n"
		  "    { :name => \"net0\", :namespace => \"news\",\n"
		  "      :options => { \"type\" => \"exec\", \"command\" => "
		  "[\"./news-pager\"] } }\n"
		  "  ]\n"
		  "}\n", 2, &s, "SPEC 3.1 example"))
		return;
	TAP_STR_EQ(s.pagers[0].name, "mem0", "spec example: first name");
	TAP_STR_EQ(s.pagers[0].ns, "user", "spec example: first namespace");
	TAP_STR_EQ(s.pagers[0].type, "mem", "spec example: mem0 is a mem");
	TAP_OK(s.pagers[0].line == 3, "spec example: mem0 at line 3");
	TAP_OK(cJSON_IsObject(s.pagers[0].options) &&
	       !s.pagers[0].options->child, "spec example: empty options");
	TAP_OK(!s.pagers[0].readonly, "spec example: not readonly");
	TAP_STR_EQ(s.pagers[1].name, "net0", "spec example: second name");
	TAP_STR_EQ(s.pagers[1].ns, "news", "spec example: second namespace");
	TAP_STR_EQ(s.pagers[1].type, "exec", "spec example: type from options");
	TAP_OK(s.pagers[1].line == 4, "spec example: net0 at line 4");
	cmd = cJSON_GetObjectItemCaseSensitive(s.pagers[1].options, "command");
	TAP_OK(cJSON_IsArray(cmd) && cJSON_GetArraySize(cmd) == 1 &&
	       !strcmp(cJSON_GetArrayItem(cmd, 0)->valuestring,
		       "./news-pager"), "spec example: command kept");
	TAP_OK(!s.settings, "spec example: no settings");
	TAP_STR_EQ(s.path, "t.rb", "spec example: path as given");
	TAP_STR_EQ(s.dir, getcwd(cwd, sizeof(cwd)),
		   "spec example: dir is the absolute folder");
	services_release(&s);
	TAP_OK(!s.pagers && !s.npagers && !s.path,
	       "release zeroes the struct");
}

static void test_seed_example(void)
{
	struct services s;

	if (!good("service_instance :vm, :vm, {\n"
		  "  :pagers => [\n"
		  "    {\n"
		  "      :name => \"spec0\",\n"
		  "      :namespace => \"user\",\n"
		  "      :options => {  //Passed to pager init function\n"
		  "      }\n"
		  "    }\n"
		  "  ]\n"
		  "}\n", 1, &s, "seed vm.md example"))
		return;
	TAP_STR_EQ(s.pagers[0].name, "spec0", "seed example: name");
	TAP_STR_EQ(s.pagers[0].ns, "user", "seed example: namespace");
	TAP_STR_EQ(s.pagers[0].type, "spec", "seed example: type spec");
	TAP_OK(s.pagers[0].line == 3, "seed example: line of the '{'");
	TAP_OK(cJSON_IsObject(s.pagers[0].options) &&
	       !s.pagers[0].options->child, "seed example: empty options");
	services_release(&s);
}

static void test_ruby_values(void)
{
	struct services s;
	const cJSON *v;

	if (good("service_instance :vm, :vm, {\n"
		 "  :pagers => [{ :name => \"pg_spec0\", :namespace => \"a\",\n"
		 "                :options => { \"hello\" => \"world\" } }]\n"
		 "}\n", 1, &s, "pg_ prefix")) {
		TAP_STR_EQ(s.pagers[0].type, "spec", "pg_spec0 is a spec");
		TAP_STR_EQ(opt_str(&s.pagers[0], "hello"), "world",
			   "string options kept");
		services_release(&s);
	}

	if (good("service_instance :vm, :vm, {\n"
		 "  pagers: [\n"
		 "    { name: \"mem0\", namespace: \"user\",\n"
		 "      options: { readonly: true, size: 1_000, sym: :abc,\n"
		 "                 none: nil, f: -2.5e1, \"k\": 'v',\n"
		 "                 zero: 0, half: 0.5,\n"
		 "                 big: 9_007_199_254_740_992, } },\n"
		 "  ],\n"
		 "}\n", 1, &s, "key: value style")) {
		TAP_OK(s.pagers[0].readonly, "label style: readonly");
		v = cJSON_GetObjectItemCaseSensitive(s.pagers[0].options,
						     "size");
		TAP_OK(cJSON_IsNumber(v) && v->valuedouble == 1000,
		       "1_000 is the number 1000");
		TAP_STR_EQ(opt_str(&s.pagers[0], "sym"), "abc",
			   "a symbol becomes a string");
		v = cJSON_GetObjectItemCaseSensitive(s.pagers[0].options,
						     "none");
		TAP_OK(cJSON_IsNull(v), "nil becomes null");
		v = cJSON_GetObjectItemCaseSensitive(s.pagers[0].options, "f");
		TAP_OK(cJSON_IsNumber(v) && v->valuedouble == -25,
		       "-2.5e1 is a float");
		TAP_STR_EQ(opt_str(&s.pagers[0], "k"), "v",
			   "\"k\": value pairs");
		v = cJSON_GetObjectItemCaseSensitive(s.pagers[0].options,
						     "zero");
		TAP_OK(cJSON_IsNumber(v) && v->valuedouble == 0, "0 is 0");
		v = cJSON_GetObjectItemCaseSensitive(s.pagers[0].options,
						     "half");
		TAP_OK(cJSON_IsNumber(v) && v->valuedouble == 0.5,
		       "0.5 has no leading zero problem");
		v = cJSON_GetObjectItemCaseSensitive(s.pagers[0].options,
						     "big");
		TAP_OK(cJSON_IsNumber(v) &&
		       v->valuedouble == 9007199254740992.0,
		       "2^53 itself is allowed");
		services_release(&s);
	}

	if (good("service_instance :vm, :vm, {\n"
		 "  :pagers => [{ :name => 'mem0', :namespace => 'it\\'s',\n"
		 "    :options => { 'a' => 'back\\\\slash', 'b' => 'c\\d',\n"
		 "                  'c' => 'no \\n escape' } }]\n"
		 "}\n", 1, &s, "single-quoted strings")) {
		TAP_STR_EQ(s.pagers[0].ns, "it's", "\\' in single quotes");
		TAP_STR_EQ(opt_str(&s.pagers[0], "a"), "back\\slash",
			   "\\\\ in single quotes");
		TAP_STR_EQ(opt_str(&s.pagers[0], "b"), "c\\d",
			   "other backslashes stay in single quotes");
		TAP_STR_EQ(opt_str(&s.pagers[0], "c"), "no \\n escape",
			   "no \\n in single quotes");
		services_release(&s);
	}

	if (good("service_instance :vm, :vm, {\n"
		 "  :pagers => [{ :name => \"mem0\", :namespace => \"u\",\n"
		 "    :options => { :\"quoted key\" => \"t\\tn\\n\\\"q\\\" "
		 "\\u00e9 \\u{1F600} \\ud83d\\ude00 \\#{x}\" } }]\n"
		 "}\n", 1, &s, "double-quoted escapes")) {
		TAP_STR_EQ(opt_str(&s.pagers[0], "quoted key"),
			   "t\tn\n\"q\" \xc3\xa9 \xf0\x9f\x98\x80 "
			   "\xf0\x9f\x98\x80 #{x}", "escapes decoded");
		services_release(&s);
	}

	if (good("service_instance(:vm, :vm, {\n"
		 "  :pagers => [\n"
		 "    { :name => \"mem0\", :namespace => \"user\", },\n"
		 "    { :name => \"mem1\", :namespace => \"other\", },\n"
		 "  ],\n"
		 "},)\n", 2, &s, "parentheses and trailing commas")) {
		TAP_STR_EQ(s.pagers[1].name, "mem1",
			   "trailing commas: second pager");
		TAP_OK(cJSON_IsObject(s.pagers[1].options),
		       "no options: an empty object");
		services_release(&s);
	}
}

static void test_comments(void)
{
	struct services s;

	if (!good("# a flok config\n"
		  "// another comment\n"
		  "service_instance :vm, :vm, { # the vm\n"
		  "  :pagers => [ // the pagers\n"
		  "    { :name => \"exec0\", # first\n"
		  "      :namespace => \"web\", // second\n"
		  "      :options => { \"url\" => \"http://example.com/#x\",\n"
		  "                    'p' => '//not a comment' } },\n"
		  "  ] # end\n"
		  "} // done\n", 1, &s, "comments"))
		return;
	TAP_STR_EQ(opt_str(&s.pagers[0], "url"), "http://example.com/#x",
		   "// and # inside a double-quoted string");
	TAP_STR_EQ(opt_str(&s.pagers[0], "p"), "//not a comment",
		   "// inside a single-quoted string");
	TAP_OK(s.pagers[0].line == 5, "comments do not shift lines");
	services_release(&s);
}

static void test_instances(void)
{
	struct services s;

	if (good("service_instance :timer, :timer, { :rate => [1, 2.5, "
		 "\"x\"] }\n"
		 "service_instance :vm, :vm, {\n"
		 "  :pagers => [{ :name => \"mem0\", :namespace => \"u\" }]\n"
		 "}\n"
		 "service_instance :ctl, :controller; service_instance(:x, "
		 "\"y\")\n", 1, &s, "other service_instance lines")) {
		TAP_STR_EQ(s.pagers[0].name, "mem0",
			   "other services ignored");
		services_release(&s);
	}

	if (good("service_instance :vm, :vm\n", 0, &s, "vm without options"))
		services_release(&s);
	if (good("service_instance :vm, \"vm\", {}\n", 0, &s,
		 "vm as a string, empty options"))
		services_release(&s);
	if (good("", 0, &s, "an empty file"))
		services_release(&s);

	if (good("service_instance :vm, :vm, {\n"
		 "  :pagers => [\n"
		 "    { :name => \"mem0\", :namespace => \"a\" },\n"
		 "    { :name => \"mem1\", :namespace => \"b\" },\n"
		 "    { :name => \"pg_mem2\", :namespace => \"c\",\n"
		 "      :options => { :readonly => true } },\n"
		 "    { :name => \"mine\", :namespace => \"d\",\n"
		 "      :options => { :type => \"mem\", :readonly => false }"
		 " },\n"
		 "  ]\n"
		 "}\n", 4, &s, "several instances of one type")) {
		TAP_OK(!strcmp(s.pagers[0].type, "mem") &&
		       !strcmp(s.pagers[1].type, "mem") &&
		       !strcmp(s.pagers[2].type, "mem") &&
		       !strcmp(s.pagers[3].type, "mem"), "all four are mem");
		TAP_OK(!s.pagers[0].readonly && s.pagers[2].readonly &&
		       !s.pagers[3].readonly, "readonly only where true");
		TAP_OK(s.pagers[2].line == 5 && s.pagers[3].line == 7,
		       "lines of multi-line entries");
		services_release(&s);
	}
}

static void test_settings(void)
{
	struct services s;
	const cJSON *v;

	if (good("service_instance :vm, :vm, {\n"
		 "  :settings => {\n"
		 "    :busy_timeout_ms => 100, \"synchronous\" => :normal,\n"
		 "    :whatever => 1,\n"
		 "  },\n"
		 "  :pagers => [],\n"
		 "}\n", 0, &s, "ruby settings")) {
		TAP_OK(cJSON_IsObject(s.settings) && s.settings_line == 2,
		       "settings kept with their line");
		v = cJSON_GetObjectItemCaseSensitive(s.settings,
						     "busy_timeout_ms");
		TAP_OK(cJSON_IsNumber(v) && v->valuedouble == 100,
		       "a symbol key, a number value");
		v = cJSON_GetObjectItemCaseSensitive(s.settings, "synchronous");
		TAP_OK(cJSON_IsString(v) && !strcmp(v->valuestring, "normal"),
		       "a string key, a symbol value");
		TAP_OK(cJSON_GetObjectItemCaseSensitive(s.settings, "whatever")
			       != NULL, "names are not checked here");
		services_release(&s);
	}

	if (good("{\n"
		 "  \"pagers\": [],\n"
		 "  \"settings\": {\"log_max_rows\": 10}\n"
		 "}\n", 0, &s, "json settings")) {
		v = cJSON_GetObjectItemCaseSensitive(s.settings,
						     "log_max_rows");
		TAP_OK(cJSON_IsNumber(v) && s.settings_line == 3,
		       "json settings kept with their line");
		services_release(&s);
	}

	if (good("{\"vm\": {\"settings\": {\"batch_group\": 5}}}", 0, &s,
		 "json settings inside vm")) {
		TAP_OK(cJSON_GetObjectItemCaseSensitive(s.settings,
							"batch_group") != NULL,
		       "vm-shaped json settings");
		services_release(&s);
	}
}

static void test_json(void)
{
	struct services s;
	const cJSON *v;

	if (good("// a comment first is fine\n"
		 "{\"pagers\":[{\"name\":\"mem0\",\"namespace\":\"user\","
		 "\"options\":{\"x\":null,\"n\":-1.5e3,\"t\":true}},\n"
		 "  {\"name\" : \"net_sim0\", \"namespace\" : \"news\"}]}\n",
		 2, &s, "json pagers")) {
		TAP_STR_EQ(s.pagers[0].type, "mem", "json: mem0");
		v = cJSON_GetObjectItemCaseSensitive(s.pagers[0].options, "t");
		TAP_OK(cJSON_IsTrue(v), "json: compact \"t\":true");
		v = cJSON_GetObjectItemCaseSensitive(s.pagers[0].options, "n");
		TAP_OK(cJSON_IsNumber(v) && v->valuedouble == -1500,
		       "json: numbers");
		TAP_STR_EQ(s.pagers[1].type, "net_sim", "json: net_sim0");
		TAP_OK(s.pagers[0].line == 2 && s.pagers[1].line == 3,
		       "json: lines");
		services_release(&s);
	}

	if (good("{\"vm\": {\"pagers\": [\n"
		 "  {\"name\": \"a\", \"namespace\": \"b\", "
		 "\"options\": {\"type\": \"spec\", \"log\": \"x.log\"}}\n"
		 "]}}\n", 1, &s, "json vm shape")) {
		TAP_STR_EQ(s.pagers[0].type, "spec",
			   "json: type from options.type");
		TAP_STR_EQ(opt_str(&s.pagers[0], "log"), "x.log",
			   "json: options kept");
		services_release(&s);
	}
}

static void test_errors(void)
{
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => [{ :name => \"mem0 }]\n"
	    "}\n",
	    "t.rb:2: unterminated string", "unterminated string");
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => [{ :name => 'mem0 }]\n",
	    "t.rb:2: unterminated string", "unterminated single quotes");
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => []\n",
	    "t.rb:1: unterminated hash", "unterminated hash");
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => [\n",
	    "t.rb:2: unterminated array", "unterminated array");
	bad("service_instance(:vm, :vm\n",
	    "t.rb:1: unterminated argument list", "unterminated parenthesis");
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => [{ :name => \"foo0\", :namespace => \"user\" }]\n"
	    "}\n",
	    "t.rb:2: pager \"foo0\": unknown type \"foo\" (known: " KNOWN ")",
	    "unknown type");
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => [{ :name => \"x\", :namespace => \"user\",\n"
	    "                :options => { :type => \"ftp\" } }]\n"
	    "}\n",
	    "t.rb:3: pager \"x\": unknown type \"ftp\" (known: " KNOWN ")",
	    "unknown options.type");
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => [\n"
	    "    { :name => \"mem0\", :namespace => \"user\" },\n"
	    "    { :name => \"mem1\", :namespace => \"news\" },\n"
	    "    { :name => \"mem0\", :namespace => \"other\" },\n"
	    "  ]\n"
	    "}\n",
	    "t.rb:5: duplicate pager name \"mem0\" (also at line 3)",
	    "duplicate name");
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => [\n"
	    "    { :name => \"mem0\", :namespace => \"user\" },\n"
	    "    { :name => \"spec0\",\n"
	    "      :namespace => \"user\" },\n"
	    "  ]\n"
	    "}\n",
	    "t.rb:5: duplicate namespace \"user\" (also served by \"mem0\" at "
	    "line 3)", "duplicate namespace");
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => [\n"
	    "    { :namespace => \"user\" }]}\n",
	    "t.rb:3: pager needs a \"name\"", "missing name");
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => [\n"
	    "    { :name => \"mem0\" }]}\n",
	    "t.rb:3: pager needs a \"namespace\"", "missing namespace");
	bad("service_instance :vm, :vm, { :pagers => [\n"
	    "  { :name => \"mem0\", :namespace => \"user\",\n"
	    "    :options => [] }]}\n",
	    "t.rb:3: pager \"mem0\": options must be a hash",
	    "options not a hash");
	bad("service_instance :vm, :vm, { :pagers => [\n"
	    "  { :name => \"mem0\", :namespace => \"user\",\n"
	    "    :options => { :readonly => \"yes\" } }]}\n",
	    "t.rb:3: pager \"mem0\": options.readonly must be true or false",
	    "readonly not a boolean");
	bad("service_instance :vm, :vm, { :pagers => [\n"
	    "  { :name => \"mem0\", :namespace => \"user\",\n"
	    "    :options => { :type => 3 } }]}\n",
	    "t.rb:3: pager \"mem0\": options.type must be a string",
	    "type not a string");
	bad("service_instance :vm, :vm, { :pagers => [\n"
	    "  { :name => :mem0, :namespace => 42 }]}\n",
	    "t.rb:2: pager \"mem0\": namespace must be a string",
	    "namespace not a string");
	bad("service_instance :vm, :vm, { :pagers => [\n"
	    "  { :name => \"\", :namespace => \"u\" }]}\n",
	    "t.rb:2: pager name must be 1-1024 bytes without control "
	    "characters", "empty name");
	bad("service_instance :vm, :vm, { :pagers => [\n"
	    "  { :name => \"mem0\", :namespace => \"a\\tb\" }]}\n",
	    "t.rb:2: pager \"mem0\": namespace must be 1-1024 bytes without "
	    "control characters", "control character in a namespace");
	bad("service_instance :vm, :vm, { :pagers => [\n"
	    "  { :name => \"mem0\", :namespace => \"u\",\n"
	    "    :opts => {} }]}\n",
	    "t.rb:3: pager \"mem0\": unknown key \"opts\" (expected name, "
	    "namespace, options)", "unknown pager key");
	bad("service_instance :vm, :vm, { :pagers => [],\n"
	    "  :pager => [] }\n",
	    "t.rb:2: unknown key \"pager\" in the vm options (expected "
	    "pagers, settings)", "unknown vm option");
	bad("service_instance :vm, :vm, { :pagers => {} }\n",
	    "t.rb:1: pagers must be an array", "pagers not an array");
	bad("service_instance :vm, :vm, { :pagers => [1] }\n",
	    "t.rb:1: each pager must be a hash", "a pager not a hash");
	bad("service_instance :vm, :vm, { :settings => [] }\n",
	    "t.rb:1: settings must be a hash", "settings not a hash");
	bad("service_instance :vm, :vm, []\n",
	    "t.rb:1: the vm service's options must be a hash",
	    "vm options not a hash");
	bad("service_instance :vm, :vm\n"
	    "\n"
	    "service_instance :vm2, :vm, {}\n",
	    "t.rb:3: a second vm service_instance (the first is at line 1)",
	    "two vm instances");
	bad("service_instance :vm\n",
	    "t.rb:1: service_instance needs a name and a service type",
	    "one argument");
	bad("service_instance :vm, :vm, {}, 4\n",
	    "t.rb:1: service_instance takes at most 3 arguments",
	    "four arguments");
	bad("service_instance :vm, :vm\n"
	    "require 'foo'\n",
	    "t.rb:2: unexpected 'require' (only service_instance statements "
	    "are understood)", "unexpected statement");
	bad("  42\n",
	    "t.rb:1: unexpected '42' (only service_instance statements are "
	    "understood)", "a value as a statement");
	bad("service_instance :vm :vm\n",
	    "t.rb:1: unexpected ':vm' after the arguments (expected ',' or "
	    "the end of the statement)", "missing comma");
	bad("{\"pagers\": []}\n"
	    "\n"
	    "x\n",
	    "t.rb:3: unexpected 'x' after the JSON value",
	    "garbage after JSON");
	bad("{\"pagers\": []} {}",
	    "t.rb:1: unexpected '{' after the JSON value",
	    "a second JSON value");
	bad("{\"vm\": {}, \"pagers\": []}",
	    "t.rb:1: unknown key \"pagers\" beside \"vm\" (put it inside)",
	    "keys beside vm");
	bad("service_instance :vm, :vm, {\n"
	    "  :pagers => [ @foo ]\n"
	    "}\n",
	    "t.rb:2: unexpected '@foo'", "bad token");
	bad("service_instance :vm, :vm, { :pagers => [ bar ] }\n",
	    "t.rb:1: unexpected 'bar'", "a bare word as a value");
	bad("service_instance :vm, :vm, { :pagers => [ 12abc ] }\n",
	    "t.rb:1: unexpected '12abc'", "a bad number");
	bad("service_instance :vm, :vm, { :pagers => [ 1 2 ] }\n",
	    "t.rb:1: unexpected '2' in an array (expected ',' or ']')",
	    "missing comma in an array");
	bad("service_instance :vm, :vm, { :pagers => [] :x => 1 }\n",
	    "t.rb:1: unexpected ':x' in a hash (expected ',' or '}')",
	    "missing comma in a hash");
	bad("service_instance :vm, :vm, { 1 => 2 }\n",
	    "t.rb:1: unexpected '1' where a hash key (a symbol or a string) "
	    "belongs", "a number as a key");
	bad("service_instance :vm, :vm, { :a 1 }\n",
	    "t.rb:1: unexpected '1' after a hash key (expected '=>')",
	    "missing =>");
	bad("service_instance :vm, :vm, { :pagers => [], :pagers => [] }\n",
	    "t.rb:1: duplicate key \"pagers\"", "duplicate key");
	bad("service_instance :vm, :vm, { :n => 9007199254740993 }\n",
	    "t.rb:1: number '9007199254740993' is beyond what a double holds "
	    "exactly (2^53); quote it", "integer beyond 2^53");
	bad("service_instance :vm, :vm, { :n => 1e400 }\n",
	    "t.rb:1: number '1e400' is out of range", "float out of range");
	bad("service_instance(:vm, :vm) 3\n",
	    "t.rb:1: unexpected '3' after the argument list",
	    "content after the parentheses");
	bad("service_instance :vm, :vm, { :n => 012 }\n",
	    "t.rb:1: number '012' has a leading zero (Ruby would read it as "
	    "octal)", "leading zero");
	bad("service_instance :vm, :vm, { :s => \"a#{b}\" }\n",
	    "t.rb:1: string interpolation (#{...}) is not supported",
	    "interpolation");
	bad("service_instance :vm, :vm, { :s => \"\\q\" }\n",
	    "t.rb:1: unknown escape '\\q' in a string", "unknown escape");
	bad("service_instance :vm, :vm, { :s => \"\\u0000\" }\n",
	    "t.rb:1: \\u0000 is not allowed in strings", "\\u0000");
	bad("service_instance :vm, :vm, { :s => \"\\ud800\" }\n",
	    "t.rb:1: lone surrogate \\u escape", "lone surrogate");
	bad("# ok\nservice_instance :vm, :vm, { :s => \"\xff\" }\n",
	    "t.rb:2: invalid UTF-8", "invalid UTF-8");
	{
		char deep[200];
		int i;

		strcpy(deep, "service_instance :vm, :vm, { :a => ");
		for (i = 0; i < 65; i++)
			strcat(deep, "[");
		bad(deep, "t.rb:1: nested more than 64 deep", "nesting limit");
	}
}

static void test_type_from_name(void)
{
	static const char *const cases[][2] = {
		{ "mem0", "mem" },         { "pg_mem2", "mem" },
		{ "spec1", "spec" },       { "net_sim0", "net_sim" },
		{ "exec", "exec" },        { "mem12", "mem" },
		{ "pg_", "" },             { "42", "" },
		{ "a1b2", "a1b" },         { "pgmem0", "pgmem" },
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		TAP_STR_EQ(services_type_from_name(cases[i][0], buf,
						   sizeof(buf)),
			   cases[i][1], "type of \"%s\"", cases[i][0]);
	TAP_STR_EQ(services_type_from_name("net_sim0", buf, 4), "net",
		   "a small buffer truncates");
	TAP_OK(services_type_from_name("mem0", buf, 0) == NULL,
	       "no buffer: NULL");
}

static void test_default(void)
{
	struct services s;

	services_default(&s);
	TAP_OK(s.npagers == 1 && !s.path && !s.dir && !s.settings,
	       "default: one pager, no file");
	if (s.npagers == 1) {
		TAP_STR_EQ(s.pagers[0].name, "mem0", "default: mem0");
		TAP_STR_EQ(s.pagers[0].ns, "user", "default: user");
		TAP_STR_EQ(s.pagers[0].type, "mem", "default: type mem");
		TAP_OK(!s.pagers[0].readonly && s.pagers[0].line == 0 &&
		       cJSON_IsObject(s.pagers[0].options),
		       "default: writable, empty options, line 0");
	}
	services_release(&s);
}

/* ---- the lookup order, in folders under /tmp -------------------------- */

static char tmp[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

static void dir(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	if (mkdir(path, 0700)) {
		printf("Bail out! cannot create %s\n", path);
		exit(1);
	}
}

static char *at(const char *rel)
{
	static char path[4][256];
	static int n;

	n = (n + 1) % 4;
	snprintf(path[n], sizeof(path[n]), "%s/%s", tmp, rel);
	return path[n];
}

static void rm(const char *rel)
{
	remove(at(rel));
}

/* Loads by the lookup order; the one pager's name, or "default", or
 * "error N: message". */
static const char *lookup_name(const char *explicit_path, char *buf,
			       size_t n)
{
	struct services s;
	struct fk_err err;
	int rc;

	rc = services_find_and_load(explicit_path, known, KNOWN, &s, &err);
	if (rc)
		snprintf(buf, n, "error %d: %s", rc, err.msg);
	else if (s.npagers != 1)
		snprintf(buf, n, "%zu pagers", s.npagers);
	else
		snprintf(buf, n, "%s", s.path ? s.pagers[0].name : "default");
	services_release(&s);
	return buf;
}

static void pager_file(const char *rel, const char *name)
{
	char text[256];

	snprintf(text, sizeof(text),
		 "{\"pagers\": [{\"name\": \"%s\", \"namespace\": \"u\"}]}\n",
		 name);
	put(rel, text);
}

static void test_lookup(void)
{
	char buf[2300], want[512], cwd[PATH_MAX], real[PATH_MAX];
	struct services s;
	struct fk_err err;

	strcpy(tmp, "/tmp/test-services-XXXXXX");
	if (!mkdtemp(tmp) || !getcwd(cwd, sizeof(cwd))) {
		printf("Bail out! cannot create a folder under /tmp\n");
		exit(1);
	}
	dir("home");
	dir("xdg");
	dir("xdg/flokvm");
	dir("cwd");
	dir("cwd/flokvm");
	dir("cwd/.config");
	dir("cwd/.config/flokvm");
	pager_file("cwd/services.rb", "mem9");
	pager_file("cwd/services.json", "mem9");
	pager_file("cwd/flokvm/services.rb", "mem9");
	pager_file("cwd/.config/flokvm/services.rb", "mem9");
	if (chdir(at("cwd"))) {
		printf("Bail out! cannot enter %s\n", at("cwd"));
		exit(1);
	}
	setenv("HOME", at("home"), 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("FLOKVM_SERVICES");

	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), "default",
		   "lookup: nothing anywhere gives the default");

	dir("home/.config");
	dir("home/.config/flokvm");
	pager_file("home/.config/flokvm/services.json", "mem1");
	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), "mem1",
		   "lookup: ~/.config/flokvm/services.json");
	pager_file("home/.config/flokvm/services.rb", "mem2");
	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), "mem2",
		   "lookup: services.rb before services.json");

	setenv("XDG_CONFIG_HOME", "", 1);
	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), "mem2",
		   "lookup: empty XDG_CONFIG_HOME means ~/.config");
	setenv("XDG_CONFIG_HOME", ".", 1);
	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), "mem2",
		   "lookup: a relative XDG_CONFIG_HOME is ignored");
	setenv("XDG_CONFIG_HOME", at("xdg"), 1);
	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), "default",
		   "lookup: XDG_CONFIG_HOME replaces ~/.config, and the "
		   "current directory is never searched");
	pager_file("xdg/flokvm/services.json", "mem3");
	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), "mem3",
		   "lookup: $XDG_CONFIG_HOME/flokvm/services.json");

	pager_file("env.rb", "mem4");
	setenv("FLOKVM_SERVICES", at("env.rb"), 1);
	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), "mem4",
		   "lookup: $FLOKVM_SERVICES before XDG");
	pager_file("explicit.json", "mem5");
	TAP_STR_EQ(lookup_name(at("explicit.json"), buf, sizeof(buf)), "mem5",
		   "lookup: the explicit file first");

	snprintf(want, sizeof(want),
		 "error 66: cannot open services file '%s': No such file or "
		 "directory", at("missing.rb"));
	TAP_STR_EQ(lookup_name(at("missing.rb"), buf, sizeof(buf)), want,
		   "lookup: a missing explicit file exits 66");
	setenv("FLOKVM_SERVICES", at("missing.rb"), 1);
	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), want,
		   "lookup: a missing $FLOKVM_SERVICES file exits 66");
	setenv("FLOKVM_SERVICES", "", 1);
	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), "mem3",
		   "lookup: an empty $FLOKVM_SERVICES is unset");

	put("xdg/flokvm/services.rb", "service_instance :vm, :vm, {\n  ]\n");
	snprintf(want, sizeof(want),
		 "error 65: %s: unexpected ']' where a hash key (a symbol or "
		 "a string) belongs", at("xdg/flokvm/services.rb:2"));
	TAP_STR_EQ(lookup_name(NULL, buf, sizeof(buf)), want,
		   "lookup: a bad XDG file exits 65");
	rm("xdg/flokvm/services.rb");

	snprintf(want, sizeof(want),
		 "error 66: cannot read services file '%s': Is a directory",
		 at("xdg"));
	TAP_STR_EQ(lookup_name(at("xdg"), buf, sizeof(buf)), want,
		   "lookup: a folder as the file exits 66");

	TAP_OK(services_load("/dev/zero", known, KNOWN, &s, &err) == FK_EDATA,
	       "load: an endless file exits 65");
	TAP_STR_EQ(err.msg, "services file '/dev/zero' is larger than 16 MiB",
		   "load: an endless file is cut at 16 MiB");

	TAP_OK(services_load(at("xdg/flokvm/services.json"), known, KNOWN, &s,
			     &err) == FK_OK, "load: a file");
	TAP_STR_EQ(s.path, at("xdg/flokvm/services.json"),
		   "load: path as given");
	TAP_STR_EQ(s.dir, realpath(at("xdg/flokvm"), real),
		   "load: dir is the file's absolute folder");
	services_release(&s);

	if (chdir(at("xdg"))) {
		printf("Bail out! cannot enter %s\n", at("xdg"));
		exit(1);
	}
	TAP_OK(services_load("flokvm/services.json", known, KNOWN, &s,
			     &err) == FK_OK, "load: a relative path");
	TAP_STR_EQ(s.path, "flokvm/services.json",
		   "load: a relative path kept as given");
	TAP_STR_EQ(s.dir, real, "load: its folder made absolute");
	services_release(&s);

	if (chdir(cwd))
		printf("# cannot return to %s\n", cwd);
	rm("home/.config/flokvm/services.json");
	rm("home/.config/flokvm/services.rb");
	rm("home/.config/flokvm");
	rm("home/.config");
	rm("home");
	rm("xdg/flokvm/services.json");
	rm("xdg/flokvm");
	rm("xdg");
	rm("cwd/services.rb");
	rm("cwd/services.json");
	rm("cwd/flokvm/services.rb");
	rm("cwd/flokvm");
	rm("cwd/.config/flokvm/services.rb");
	rm("cwd/.config/flokvm");
	rm("cwd/.config");
	rm("cwd");
	rm("env.rb");
	rm("explicit.json");
	rmdir(tmp);
}

int main(void)
{
	test_spec_example();
	test_seed_example();
	test_ruby_values();
	test_comments();
	test_instances();
	test_settings();
	test_json();
	test_errors();
	test_type_from_name();
	test_default();
	test_lookup();
	return tap_done();
}
