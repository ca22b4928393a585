/*
 * test-net-sim.c - the net_sim pager (pagers/net_sim.c): both fixture
 * formats, paths relative to the services file's folder, missing keys,
 * the delay, the refused write and the errors of a bad configuration.
 *
 * Fixtures are written to a mkdtemp folder under /tmp, removed at the end.
 * The pager is built by hand, as pager_new() does, so that the test links
 * only the pager and the store's JSON code.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "pager.h"
#include "tap.h"

static char tmp[] = "/tmp/test-net-sim-XXXXXX";

/* Writes text to tmp/name and returns the full path (static storage). */
static const char *fixture(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
	return path;
}

/* A pager with the given options (JSON text) and folder. */
struct harness {
	struct svc_pager conf;
	struct pager *p;
	struct fk_err err;
};

/* Builds and initialises the pager; returns init's status.  On success
 * h->p is ready, otherwise it is already freed (as pager_new does). */
static int start(struct harness *h, const char *options, const char *dir)
{
	int rc;

	memset(h, 0, sizeof(*h));
	h->conf.name = "net0";
	h->conf.ns = "news";
	h->conf.type = "net_sim";
	h->conf.options = cJSON_Parse(options);
	if (!h->conf.options) {
		fprintf(stderr, "bad options in test: %s\n", options);
		exit(99);
	}
	h->p = calloc(1, net_sim_pager_ops.size);
	if (!h->p)
		abort();
	h->p->ops = &net_sim_pager_ops;
	h->p->conf = &h->conf;
	h->p->dir = dir;
	h->p->max_page_bytes = 16 << 20;
	rc = h->p->ops->init(h->p, &h->err);
	if (rc) {
		free(h->p);
		h->p = NULL;
	}
	return rc;
}

static void stop(struct harness *h)
{
	if (h->p) {
		h->p->ops->close(h->p);
		free(h->p);
	}
	cJSON_Delete(h->conf.options);
}

/* Reads key; returns the verdict and the page's compact text in *text
 * (caller frees; NULL unless a page came back), or -1 on an error. */
static int read_key(struct harness *h, const char *key, char **text)
{
	struct pager_answer ans = {0};
	struct buf b = {0};
	int rc;

	*text = NULL;
	rc = h->p->ops->read(h->p, key, NULL, NULL, &ans, &h->err);
	if (rc) {
		cJSON_Delete(ans.page);
		return -1;
	}
	if (ans.page) {
		json_write(&b, ans.page);
		*text = buf_detach(&b);
	}
	cJSON_Delete(ans.page);
	free(ans.changes_id);
	return (int)ans.verdict;
}

/* Expects key to read as want (NULL: gone) from a started pager. */
static void expect_read(struct harness *h, const char *key, const char *want,
			const char *what)
{
	char *text;
	int v = read_key(h, key, &text);

	if (want) {
		TAP_OK(v == PAGER_PAGE, "%s: \"%s\" answers a page", what, key);
		TAP_STR_EQ(text, want, "%s: \"%s\" is the fixture's page", what,
			   key);
	} else {
		TAP_OK(v == PAGER_GONE && !text, "%s: \"%s\" is gone", what,
		       key);
	}
	if (v < 0)
		printf("#   error: %s\n", h->err.msg);
	free(text);
}

/* Expects init to fail with status and a message containing want. */
static void expect_init_error(const char *options, const char *dir, int status,
			      const char *want, const char *what)
{
	struct harness h;
	int rc = start(&h, options, dir);

	TAP_OK(rc == status, "%s: init fails with %d (got %d)", what, status,
	       rc);
	TAP_OK(strstr(h.err.msg, want) != NULL, "%s: the message says \"%s\"",
	       what, want);
	printf("#   message: %s\n", h.err.msg);
	stop(&h);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char page_a[] =
	"{\"_uuid\":\"a\",\"entries\":[{\"_uuid\":\"e1\",\"_timestamp\":\"1\",\"title\":\"hello\"}]}";
static const char page_b[] = "{\"_uuid\":\"b c\",\"_next\":\"a\",\"entries\":[]}";

static void test_json_lines(void)
{
	struct harness h;
	char text[1024], options[1024];

	snprintf(text, sizeof(text), "\n%s\n   \n%s\r\n\n", page_a, page_b);
	snprintf(options, sizeof(options),
		 "{\"pages\":\"%s\",\"delay_ms\":0}", fixture("lines.jsonl", text));
	TAP_OK(start(&h, options, NULL) == FK_OK, "json lines: init");
	if (h.p) {
		expect_read(&h, "a", page_a, "json lines");
		expect_read(&h, "b c", page_b, "json lines");
		expect_read(&h, "c", NULL, "json lines");
		expect_read(&h, "a", page_a, "json lines, read again");
	}
	stop(&h);
}

static void test_json_array(void)
{
	struct harness h;
	char text[1024], options[1024];

	snprintf(text, sizeof(text), "  [\n  %s,\n  %s\n]\n", page_a, page_b);
	snprintf(options, sizeof(options),
		 "{\"pages\":\"%s\",\"delay_ms\":0}", fixture("array.json", text));
	TAP_OK(start(&h, options, NULL) == FK_OK, "json array: init");
	if (h.p) {
		expect_read(&h, "b c", page_b, "json array");
		expect_read(&h, "a", page_a, "json array");
		expect_read(&h, "A", NULL, "json array (keys are exact)");
	}
	stop(&h);

	fixture("empty.json", "[]");
	TAP_OK(start(&h, "{\"pages\":\"empty.json\",\"delay_ms\":0}", tmp) == FK_OK,
	       "empty array: init");
	if (h.p)
		expect_read(&h, "a", NULL, "empty array");
	stop(&h);
}

/* A relative options.pages is taken from p->dir, not the working folder. */
static void test_relative_path(void)
{
	struct harness h;
	char sub[512], text[1024];

	snprintf(sub, sizeof(sub), "%s/sub", tmp);
	TAP_OK(mkdir(sub, 0700) == 0, "relative: made a folder");
	snprintf(text, sizeof(text), "%s\n", page_a);
	fixture("sub/rel.jsonl", text);
	TAP_OK(start(&h, "{\"pages\":\"sub/rel.jsonl\",\"delay_ms\":0}", tmp) == FK_OK,
	       "relative: init finds sub/rel.jsonl in p->dir");
	if (h.p)
		expect_read(&h, "a", page_a, "relative");
	stop(&h);

	TAP_OK(start(&h, "{\"pages\":\"rel.jsonl\",\"delay_ms\":0}", sub) == FK_OK,
	       "relative: init finds rel.jsonl in another p->dir");
	stop(&h);

	expect_init_error("{\"pages\":\"rel.jsonl\",\"delay_ms\":0}", tmp, FK_EDATA,
			  "/rel.jsonl': No such file or directory",
			  "relative, wrong folder");
}

static void test_delay(void)
{
	struct harness h;
	char *text;
	double t0, ms;
	int v;

	fixture("delay.jsonl", page_a);
	TAP_OK(start(&h, "{\"pages\":\"delay.jsonl\",\"delay_ms\":100}", tmp) == FK_OK,
	       "delay: init");
	if (h.p) {
		t0 = now_ms();
		v = read_key(&h, "a", &text);
		ms = now_ms() - t0;
		TAP_OK(v == PAGER_PAGE && ms >= 100.0,
		       "delay: a read with delay_ms 100 takes >= 100 ms (%.1f)", ms);
		free(text);
		t0 = now_ms();
		v = read_key(&h, "nope", &text);
		ms = now_ms() - t0;
		TAP_OK(v == PAGER_GONE && ms >= 100.0,
		       "delay: a miss waits too (%.1f ms)", ms);
	}
	stop(&h);

	TAP_OK(start(&h, "{\"pages\":\"delay.jsonl\",\"delay_ms\":0}", tmp) == FK_OK,
	       "delay 0: init");
	if (h.p) {
		t0 = now_ms();
		v = read_key(&h, "a", &text);
		ms = now_ms() - t0;
		TAP_OK(v == PAGER_PAGE && ms < 100.0,
		       "delay 0: a read does not wait (%.1f ms)", ms);
		free(text);
	}
	stop(&h);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal cuts the delay short (documented in net_sim.c), and the read
 * still answers. */
static void test_delay_interrupted(void)
{
	struct sigaction sa = {0}, old;
	struct itimerval it = {.it_value = {.tv_usec = 50000}};
	struct harness h;
	char *text = NULL;
	double t0, ms;
	int v = -1;

	sa.sa_handler = on_alarm; /* no SA_RESTART: nanosleep sees EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	TAP_OK(start(&h, "{\"pages\":\"delay.jsonl\",\"delay_ms\":5000}", tmp) == FK_OK,
	       "interrupted delay: init");
	if (h.p) {
		t0 = now_ms();
		setitimer(ITIMER_REAL, &it, NULL);
		v = read_key(&h, "a", &text);
		ms = now_ms() - t0;
		TAP_OK(v == PAGER_PAGE && ms < 2500.0,
		       "interrupted delay: a signal ends the wait (%.1f ms)", ms);
		TAP_STR_EQ(text, page_a, "interrupted delay: the page comes back");
		free(text);
	}
	stop(&h);
	sigaction(SIGALRM, &old, NULL);
}

/* The answer is the caller's own copy: changing it leaves the fixture. */
static void test_deep_copy(void)
{
	struct pager_answer ans = {0};
	struct harness h;
	cJSON *entries;

	fixture("copy.jsonl", page_a);
	TAP_OK(start(&h, "{\"pages\":\"copy.jsonl\",\"delay_ms\":0}", tmp) == FK_OK,
	       "deep copy: init");
	if (h.p) {
		h.p->ops->read(h.p, "a", NULL, NULL, &ans, &h.err);
		entries = cJSON_GetObjectItemCaseSensitive(ans.page, "entries");
		TAP_OK(cJSON_IsArray(entries), "deep copy: the answer has entries");
		cJSON_DeleteItemFromArray(entries, 0);
		cJSON_DeleteItemFromObject(ans.page, "_uuid");
		cJSON_Delete(ans.page);
		expect_read(&h, "a", page_a, "deep copy, after changing an answer");
	}
	stop(&h);
}

static void test_write_refused(void)
{
	struct harness h;
	cJSON *page = cJSON_Parse(page_a);
	int rc;

	fixture("w.jsonl", page_a);
	TAP_OK(start(&h, "{\"pages\":\"w.jsonl\",\"delay_ms\":0}", tmp) == FK_OK,
	       "write: init");
	if (h.p) {
		TAP_OK(!h.p->ops->pushes && !h.p->ops->sync,
		       "write: net_sim does not push");
		rc = h.p->ops->write(h.p, "a", page, NULL, &h.err);
		TAP_OK(rc == FK_EREFUSED, "write: refused with 69 (got %d)", rc);
		TAP_STR_EQ(h.err.msg,
			   "namespace \"news\" is served by net_sim pager \"net0\", which does not accept writes (a network source)",
			   "write: the message names namespace and pager");
	}
	stop(&h);
	cJSON_Delete(page);
}

static void test_errors(void)
{
	char want[600];

	expect_init_error("{}", tmp, FK_EDATA, "options.pages: expected",
			  "missing options.pages");
	expect_init_error("{\"pages\":3}", tmp, FK_EDATA, "options.pages: expected",
			  "numeric options.pages");
	expect_init_error("{\"pages\":\"\"}", tmp, FK_EDATA, "options.pages: expected",
			  "empty options.pages");

	fixture("bad-line.jsonl", "{\"_uuid\":\"a\",\"entries\":[]}\n\n{\"_uuid\":\"b\",}\n");
	snprintf(want, sizeof(want), "options.pages: '%s/bad-line.jsonl' line 3: column 14", tmp);
	expect_init_error("{\"pages\":\"bad-line.jsonl\"}", tmp, FK_EDATA, want,
			  "bad json on line 3");

	fixture("bad-array.json", "[\n{\"_uuid\":\"a\",\"entries\":[]},\n{\"_uuid\" \"b\"}\n]\n");
	snprintf(want, sizeof(want), "options.pages: '%s/bad-array.json' line 3: column 10", tmp);
	expect_init_error("{\"pages\":\"bad-array.json\"}", tmp, FK_EDATA, want,
			  "bad json in an array, line 3");

	fixture("two.jsonl", "{\"_uuid\":\"a\",\"entries\":[]} {\"_uuid\":\"b\",\"entries\":[]}\n");
	expect_init_error("{\"pages\":\"two.jsonl\"}", tmp, FK_EDATA, "line 1:",
			  "two pages on one line");

	fixture("no-uuid.jsonl", "{\"_uuid\":\"a\",\"entries\":[]}\n{\"entries\":[]}\n");
	expect_init_error("{\"pages\":\"no-uuid.jsonl\"}", tmp, FK_EDATA,
			  "line 2: expected a page object with a string \"_uuid\"",
			  "a line without _uuid");

	fixture("no-uuid.json", "[{\"_uuid\":\"a\",\"entries\":[]},{\"_uuid\":7}]");
	expect_init_error("{\"pages\":\"no-uuid.json\"}", tmp, FK_EDATA,
			  "[1]: expected a page object with a string \"_uuid\"",
			  "an array element with a numeric _uuid");

	fixture("not-object.jsonl", "[1]\n");
	expect_init_error("{\"pages\":\"not-object.jsonl\"}", tmp, FK_EDATA,
			  "[0]: expected a page object",
			  "an array of a non-object");

	fixture("scalar.jsonl", "\"a\"\n");
	expect_init_error("{\"pages\":\"scalar.jsonl\"}", tmp, FK_EDATA,
			  "line 1: expected a page object",
			  "a line holding a string");

	fixture("dup.jsonl", "{\"_uuid\":\"a\",\"entries\":[]}\n{\"_uuid\":\"a\",\"entries\":[]}\n");
	expect_init_error("{\"pages\":\"dup.jsonl\"}", tmp, FK_EDATA,
			  "line 2: duplicate page \"a\"", "a key served twice");

	fixture("ok.jsonl", page_a);
	expect_init_error("{\"pages\":\"ok.jsonl\",\"delay_ms\":-1}", tmp, FK_EDATA,
			  "options.delay_ms: expected", "negative delay_ms");
	expect_init_error("{\"pages\":\"ok.jsonl\",\"delay_ms\":1.5}", tmp, FK_EDATA,
			  "options.delay_ms: expected", "fractional delay_ms");
	expect_init_error("{\"pages\":\"ok.jsonl\",\"delay_ms\":\"100\"}", tmp, FK_EDATA,
			  "options.delay_ms: expected", "delay_ms as a string");
	expect_init_error("{\"pages\":\"missing.jsonl\"}", tmp, FK_EDATA,
			  "options.pages: cannot read", "a missing fixture file");
	snprintf(want, sizeof(want), "options.pages: cannot read '%s/.': Is a directory", tmp);
	expect_init_error("{\"pages\":\".\"}", tmp, FK_EDATA, want,
			  "a folder as fixture file");
}

static void cleanup(void)
{
	static const char *const names[] = {
		"lines.jsonl", "array.json", "empty.json", "sub/rel.jsonl",
		"delay.jsonl", "w.jsonl", "bad-line.jsonl", "bad-array.json",
		"two.jsonl", "no-uuid.jsonl", "no-uuid.json", "not-object.jsonl",
		"scalar.jsonl", "dup.jsonl", "ok.jsonl", "copy.jsonl",
	};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp, names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/sub", tmp);
	rmdir(path);
	rmdir(tmp);
}

int main(void)
{
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 99;
	}
	TAP_OK(strcmp(net_sim_pager_ops.type, "net_sim") == 0 &&
		       !net_sim_pager_ops.pushes,
	       "type \"net_sim\", does not push");
	TAP_OK(!net_sim_pager_ops.watch && !net_sim_pager_ops.unwatch &&
		       !net_sim_pager_ops.invalidate,
	       "watch, unwatch and invalidate have nothing to do");
	test_json_lines();
	test_json_array();
	test_relative_path();
	test_delay();
	test_delay_interrupted();
	test_deep_copy();
	test_write_refused();
	test_errors();
	cleanup();
	return tap_done();
}
