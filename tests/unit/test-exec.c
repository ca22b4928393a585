/*
 * test-exec.c - the exec pager (pagers/exec.c) and the process runner
 * under it (pagers/proc.c): arguments passed verbatim and never through a
 * shell, the environment and folder of the child, the verdicts of read
 * and sync, the time limit with stubborn children and grandchildren,
 * large pages both ways, and a child that starts clean (signals, mask,
 * descriptors, process group).
 *
 * Fake pagers are small #!/bin/sh scripts in a mkdtemp folder under /tmp,
 * removed at the end.  The pager is built by hand, as pager_new() does.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "pager.h"
#include "proc.h"
#include "tap.h"

static char tmp[] = "/tmp/test-exec-XXXXXX";

/* tmp/name in static storage (one at a time). */
static const char *in_tmp(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	return path;
}

/* Writes an executable "#!/bin/sh" script tmp/name with body. */
static void script(const char *name, const char *body)
{
	const char *path = in_tmp(name);
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "#!/bin/sh\n%s", body) < 0 || fclose(f) != 0 ||
	    chmod(path, 0755) != 0) {
		perror(path);
		exit(99);
	}
}

/* The contents of tmp/name (caller frees), or NULL if it does not exist. */
static char *slurp(const char *name)
{
	FILE *f = fopen(in_tmp(name), "rb");
	struct buf b = {0};
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	buf_grow(&b, 0);
	return buf_detach(&b);
}

static bool exists(const char *name)
{
	return access(in_tmp(name), F_OK) == 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* No child of ours is left, running or zombie. */
static bool no_children(void)
{
	int st;

	return waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD;
}

/* An exec pager with the given options (JSON text) in folder dir. */
struct harness {
	struct svc_pager conf;
	struct pager *p;
	struct fk_err err;
};

/* Builds and initialises the pager; returns init's status.  On success
 * h->p is ready, otherwise it is already freed (as pager_new does). */
static int start(struct harness *h, const char *options, const char *dir,
		 size_t max_page_bytes)
{
	int rc;

	memset(h, 0, sizeof(*h));
	h->conf.name = "ex0";
	h->conf.ns = "news";
	h->conf.type = "exec";
	h->conf.options = cJSON_Parse(options);
	if (!h->conf.options) {
		fprintf(stderr, "bad options in test: %s\n", options);
		exit(99);
	}
	h->p = calloc(1, exec_pager_ops.size);
	if (!h->p)
		abort();
	h->p->ops = &exec_pager_ops;
	h->p->conf = &h->conf;
	h->p->dir = dir;
	h->p->max_page_bytes = max_page_bytes;
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
	memset(h, 0, sizeof(*h));
}

/* Reads key; ans is released by the caller. */
static int do_read(struct harness *h, const char *key, const char *cached,
		   const char *hash, struct pager_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	h->err.msg[0] = '\0';
	return h->p->ops->read(h->p, key, cached, hash, ans, &h->err);
}

static void release(struct pager_answer *ans)
{
	cJSON_Delete(ans->page);
	free(ans->changes_id);
	memset(ans, 0, sizeof(*ans));
}

static char *page_text(const cJSON *page)
{
	struct buf b = {0};

	if (!page)
		return NULL;
	json_write(&b, page);
	return buf_detach(&b);
}

static void test_init_errors(void)
{
	static const char *const bad[] = {
		"{}",
		"{\"command\":\"./pager --flag\"}",
		"{\"command\":[]}",
		"{\"command\":[\"\"]}",
		"{\"command\":[\"./p\",3]}",
	};
	static const char *const bad_timeout[] = {
		"0", "-5", "1.5", "\"100\"", "true", "1e12",
	};
	struct harness h;
	char opts[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TAP_OK(start(&h, bad[i], tmp, 1024) == FK_EDATA,
		       "init refuses options %s", bad[i]);
		TAP_STR_EQ(h.err.msg, "options.command: expected an array of strings (argv, no shell)",
			   "init %s: message", bad[i]);
		stop(&h);
	}
	for (i = 0; i < sizeof(bad_timeout) / sizeof(bad_timeout[0]); i++) {
		snprintf(opts, sizeof(opts),
			 "{\"command\":[\"true\"],\"timeout_ms\":%s}", bad_timeout[i]);
		TAP_OK(start(&h, opts, tmp, 1024) == FK_EDATA &&
			       !strcmp(h.err.msg, "options.timeout_ms: expected a positive integer (milliseconds)"),
		       "init refuses timeout_ms %s", bad_timeout[i]);
		stop(&h);
	}
	TAP_OK(start(&h, "{\"command\":[\"true\"],\"timeout_ms\":250}", tmp, 1024) == FK_OK,
	       "init accepts a command and a timeout");
	stop(&h);
}

/* Records what the script saw: its arguments, environment and folder. */
static const char args_sh[] =
	"printf '%s' \"$#\" > argc\n"
	"printf '%s' \"$1\" > arg1\n"
	"printf '%s' \"$2\" > op\n"
	"printf '%s' \"$3\" > ns\n"
	"printf '%s' \"$4\" > key\n"
	"printf '%s|%s|%s|%s|%s' \"$FLOKVM_OP\" \"$FLOKVM_NS\" \"$FLOKVM_KEY\" "
	"\"$FLOKVM_HASH\" \"$FLOKVM_TEST_INHERITED\" > env\n"
	"pwd -P > cwd\n"
	"cat > stdin\n";

static void test_arguments(void)
{
	static const char key[] =
		"a b 'single' \"double\" ; $(touch pwned) `touch pwned2` \\ $HOME * end";
	struct pager_answer ans;
	struct harness h;
	char real[PATH_MAX], *s;
	int rc;

	script("args.sh", args_sh);
	if (start(&h, "{\"command\":[\"./args.sh\",\"--flag x\"]}", tmp, 1024)) {
		TAP_OK(0, "init args.sh: %s", h.err.msg);
		return;
	}
	setenv("FLOKVM_TEST_INHERITED", "yes", 1);
	setenv("FLOKVM_KEY", "stale", 1);
	rc = do_read(&h, key, "{\"_uuid\":\"k\"}", "123", &ans);
	unsetenv("FLOKVM_KEY");
	TAP_OK(rc == FK_OK && ans.verdict == PAGER_NOT_MODIFIED,
	       "read with no output: not modified (%s)", h.err.msg);
	release(&ans);
	TAP_STR_EQ(s = slurp("argc"), "4", "COMMAND... OP NS KEY: four arguments");
	free(s);
	TAP_STR_EQ(s = slurp("arg1"), "--flag x", "options.command's arguments come first, whole");
	free(s);
	TAP_STR_EQ(s = slurp("op"), "read", "OP is read");
	free(s);
	TAP_STR_EQ(s = slurp("ns"), "news", "NS is the namespace");
	free(s);
	TAP_STR_EQ(s = slurp("key"), key, "KEY arrives byte for byte");
	free(s);
	TAP_OK(!exists("pwned") && !exists("pwned2") && access("pwned", F_OK) &&
		       access("pwned2", F_OK),
	       "no shell ever saw the key: nothing was touched");
	TAP_STR_EQ(s = slurp("env"), "read|news|a b 'single' \"double\" ; $(touch pwned) `touch pwned2` \\ $HOME * end|123|yes",
		   "FLOKVM_OP, _NS, _KEY (replacing ours), _HASH, inherited env");
	free(s);
	TAP_STR_EQ(s = slurp("stdin"), "{\"_uuid\":\"k\"}", "read: stdin is the cached page");
	free(s);
	s = slurp("cwd");
	TAP_OK(s && realpath(tmp, real) && !strncmp(s, real, strlen(real)) &&
		       !strcmp(s + strlen(real), "\n"),
	       "the child runs in the services folder");
	free(s);

	rc = do_read(&h, "k", NULL, NULL, &ans);
	release(&ans);
	TAP_STR_EQ(s = slurp("stdin"), "{}", "read without a cached page: stdin is {}");
	free(s);
	TAP_STR_EQ(s = slurp("env"), "read|news|k||yes", "no hash: FLOKVM_HASH is empty");
	free(s);

	TAP_OK(h.p->ops->watch(h.p, NULL, NULL, &h.err) == FK_OK, "watch the namespace");
	TAP_STR_EQ(s = slurp("argc"), "4", "whole-namespace watch still passes KEY");
	free(s);
	TAP_STR_EQ(s = slurp("key"), "", "whole-namespace watch: KEY is empty");
	free(s);
	TAP_STR_EQ(s = slurp("stdin"), "", "watch: stdin is /dev/null");
	free(s);
	TAP_OK(h.p->ops->unwatch(h.p, "k2", "7", &h.err) == FK_OK, "unwatch");
	TAP_STR_EQ(s = slurp("env"), "unwatch|news|k2|7|yes", "unwatch: OP, KEY, HASH");
	free(s);
	TAP_OK(h.p->ops->invalidate(h.p, "k3", NULL, &h.err) == FK_OK, "invalidate");
	TAP_STR_EQ(s = slurp("op"), "invalidate", "invalidate: OP");
	free(s);
	stop(&h);
	unsetenv("FLOKVM_TEST_INHERITED");
}

static void test_command_paths(void)
{
	struct pager_answer ans;
	struct harness h;
	char cwd[PATH_MAX], *s;

	mkdir(in_tmp("bin"), 0755);
	script("bin/tool.sh", "echo sub > from-sub\n");
	if (start(&h, "{\"command\":[\"bin/tool.sh\"]}", tmp, 1024) == FK_OK) {
		TAP_OK(do_read(&h, "k", NULL, NULL, &ans) == FK_OK,
		       "a relative path with '/' is found in the services folder");
		release(&ans);
		TAP_STR_EQ(s = slurp("from-sub"), "sub\n", "  and it ran");
		free(s);
	}
	stop(&h);

	if (start(&h, "{\"command\":[\"true\"]}", tmp, 1024) == FK_OK)
		TAP_OK(do_read(&h, "k", NULL, NULL, &ans) == FK_OK &&
			       ans.verdict == PAGER_NOT_MODIFIED,
		       "a bare name is looked up in PATH");
	stop(&h);

	/* Without a services folder: relative to the current directory. */
	if (!getcwd(cwd, sizeof(cwd)) || chdir(tmp)) {
		TAP_OK(0, "chdir to the temporary folder");
		return;
	}
	remove("from-sub");
	if (start(&h, "{\"command\":[\"bin/tool.sh\"]}", NULL, 1024) == FK_OK) {
		TAP_OK(do_read(&h, "k", NULL, NULL, &ans) == FK_OK,
		       "no services folder: relative to the current directory (%s)",
		       h.err.msg);
		release(&ans);
	}
	stop(&h);
	TAP_OK(chdir(cwd) == 0 && exists("from-sub"), "  and it ran there");

	start(&h, "{\"command\":[\"./nope.sh\"]}", tmp, 1024);
	TAP_OK(do_read(&h, "k", NULL, NULL, &ans) == FK_ERUNTIME,
	       "a missing command fails with status 1");
	TAP_STR_EQ(strstr(h.err.msg, "nope.sh\": No such file"), "nope.sh\": No such file or directory",
		   "  naming the command and the reason: %s", h.err.msg);
	TAP_OK(!strncmp(h.err.msg, "pager \"ex0\" read \"k\": cannot run \"/", 35),
	       "  after the pager, op and key, as an absolute path");
	stop(&h);

	start(&h, "{\"command\":[\"flokvm-no-such-command\"]}", tmp, 1024);
	do_read(&h, "k", NULL, NULL, &ans);
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" read \"k\": cannot run \"flokvm-no-such-command\": No such file or directory",
		   "a bare name not in PATH");
	stop(&h);

	script("noexec.sh", "exit 0\n");
	chmod(in_tmp("noexec.sh"), 0644);
	start(&h, "{\"command\":[\"./noexec.sh\"]}", tmp, 1024);
	TAP_OK(do_read(&h, "k", NULL, NULL, &ans) == FK_ERUNTIME &&
		       strstr(h.err.msg, "noexec.sh\": Permission denied"),
	       "a file that is not executable: %s", h.err.msg);
	stop(&h);
	TAP_OK(no_children(), "failed starts leave no child behind");
}

static const char read_sh[] =
	"case \"$3\" in\n"
	"empty) ;;\n"
	"space) printf ' \\n\\t\\r\\n' ;;\n"
	"gone) echo ' { } ' ;;\n"
	"page) echo '{\"_uuid\":\"page\",\"entries\":[]}' ;;\n"
	"garbage) echo 'not json' ;;\n"
	"twice) echo '{}{}' ;;\n"
	"array) echo '[{\"_uuid\":\"a\"}]' ;;\n"
	"status3) echo 'first line' >&2; echo >&2; echo 'second line' >&2; exit 3 ;;\n"
	"silent3) exit 3 ;;\n"
	"signal) kill -KILL $$ ;;\n"
	"big) i=0; while [ $i -lt 100 ]; do printf '%s' '                    '; "
	"i=$((i+1)); done; echo '{\"_uuid\":\"big\"}' ;;\n"
	"warn) echo 'a warning' >&2; echo '{\"_uuid\":\"w\"}' ;;\n"
	"cat) cat ;;\n"
	"esac\n";

static void test_read_verdicts(void)
{
	struct pager_answer ans;
	struct harness h;
	int rc, saved, fd;
	char *s;

	script("read.sh", read_sh);
	if (start(&h, "{\"command\":[\"./read.sh\"]}", tmp, 1024)) {
		TAP_OK(0, "init read.sh: %s", h.err.msg);
		return;
	}
	TAP_OK(do_read(&h, "empty", NULL, NULL, &ans) == FK_OK &&
		       ans.verdict == PAGER_NOT_MODIFIED && !ans.page,
	       "no output: not modified");
	release(&ans);
	TAP_OK(do_read(&h, "space", NULL, NULL, &ans) == FK_OK &&
		       ans.verdict == PAGER_NOT_MODIFIED && !ans.page,
	       "only whitespace: not modified");
	release(&ans);
	TAP_OK(do_read(&h, "gone", NULL, NULL, &ans) == FK_OK &&
		       ans.verdict == PAGER_GONE && !ans.page,
	       "{}: gone");
	release(&ans);
	rc = do_read(&h, "page", NULL, NULL, &ans);
	TAP_OK(rc == FK_OK && ans.verdict == PAGER_PAGE, "a page: page");
	TAP_STR_EQ(s = page_text(ans.page), "{\"_uuid\":\"page\",\"entries\":[]}",
		   "  the page as printed");
	free(s);
	release(&ans);

	TAP_OK(do_read(&h, "garbage", NULL, NULL, &ans) == FK_ERUNTIME && !ans.page,
	       "garbage: an error");
	TAP_OK(!strncmp(h.err.msg, "pager \"ex0\" read \"garbage\": output is not JSON: line 1, column", 62),
	       "  saying where: %s", h.err.msg);
	TAP_OK(do_read(&h, "twice", NULL, NULL, &ans) == FK_ERUNTIME,
	       "two values: an error (%s)", h.err.msg);
	TAP_OK(do_read(&h, "array", NULL, NULL, &ans) == FK_ERUNTIME, "an array: an error");
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" read \"array\": output is not a JSON object",
		   "  message");
	TAP_OK(do_read(&h, "status3", NULL, NULL, &ans) == FK_ERUNTIME && !ans.page,
	       "exit 3: an error");
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" read \"status3\": exited with status 3: first line; second line",
		   "  with stderr on one line");
	do_read(&h, "silent3", NULL, NULL, &ans);
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" read \"silent3\": exited with status 3",
		   "exit 3 without stderr");
	do_read(&h, "signal", NULL, NULL, &ans);
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" read \"signal\": exited with status 137",
		   "killed by a signal: 128 + the signal");
	TAP_OK(do_read(&h, "big", NULL, NULL, &ans) == FK_ERUNTIME && !ans.page,
	       "output beyond max_page_bytes: an error");
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" read \"big\": printed more than 1024 bytes",
		   "  message");

	/* A successful run's stderr is passed through to ours. */
	fflush(stderr);
	saved = dup(2);
	fd = open(in_tmp("stderr"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	rc = do_read(&h, "warn", NULL, NULL, &ans);
	dup2(saved, 2);
	close(saved);
	TAP_OK(rc == FK_OK && ans.verdict == PAGER_PAGE, "a page with a warning");
	release(&ans);
	TAP_STR_EQ(s = slurp("stderr"), "a warning\n", "  the warning reaches our stderr");
	free(s);
	stop(&h);
}

static void test_sync(void)
{
	static const char sync_sh[] =
		"cat > push.json\n"
		"case \"$3\" in\n"
		"accept) printf '\\n' ;;\n"
		"page) echo '{\"page\":{\"_uuid\":\"page\",\"entries\":[]},\"changes_id\":\"c1\"}' ;;\n"
		"noid) echo '{\"page\":{\"_uuid\":\"page\"}}' ;;\n"
		"nullid) echo '{\"page\":{\"_uuid\":\"page\"},\"changes_id\":null}' ;;\n"
		"typo) echo '{\"page\":{\"_uuid\":\"page\"},\"changesId\":\"c1\"}' ;;\n"
		"bare) echo '{\"_uuid\":\"page\"}' ;;\n"
		"numid) echo '{\"page\":{\"_uuid\":\"page\"},\"changes_id\":3}' ;;\n"
		"garbage) echo '{\"page\":' ;;\n"
		"r65) echo 'entry e1: bad title' >&2; exit 65 ;;\n"
		"r69) echo 'no such page' >&2; exit 69 ;;\n"
		"fail) echo 'network down' >&2; exit 1 ;;\n"
		"esac\n";
	static const char push_text[] =
		"{\"page\":{\"_uuid\":\"k\",\"entries\":[]},\"changes\":[],\"changes_id\":\"c1\"}";
	struct pager_answer ans;
	struct harness h;
	cJSON *push;
	char *s;
	int rc;

	script("sync.sh", sync_sh);
	if (start(&h, "{\"command\":[\"./sync.sh\"]}", tmp, 1024)) {
		TAP_OK(0, "init sync.sh: %s", h.err.msg);
		return;
	}
	push = cJSON_Parse(push_text);
	memset(&ans, 0, sizeof(ans));
	rc = h.p->ops->sync(h.p, "accept", push, &ans, &h.err);
	TAP_OK(rc == FK_OK && ans.verdict == PAGER_NOT_MODIFIED && !ans.page &&
		       !ans.changes_id,
	       "sync, nothing printed: accepted without a copy");
	TAP_STR_EQ(s = slurp("push.json"), push_text, "  stdin is the push as JSON");
	free(s);
	rc = h.p->ops->sync(h.p, "page", push, &ans, &h.err);
	TAP_OK(rc == FK_OK && ans.verdict == PAGER_PAGE, "sync with a copy: page");
	TAP_STR_EQ(ans.changes_id, "c1", "  and its changes_id");
	TAP_STR_EQ(s = page_text(ans.page), "{\"_uuid\":\"page\",\"entries\":[]}",
		   "  the page itself, detached");
	free(s);
	release(&ans);
	TAP_OK(h.p->ops->sync(h.p, "noid", push, &ans, &h.err) == FK_OK &&
		       ans.page && !ans.changes_id,
	       "changes_id may be absent");
	release(&ans);
	TAP_OK(h.p->ops->sync(h.p, "nullid", push, &ans, &h.err) == FK_OK &&
		       ans.page && !ans.changes_id,
	       "changes_id may be null");
	release(&ans);
	TAP_OK(h.p->ops->sync(h.p, "typo", push, &ans, &h.err) == FK_ERUNTIME &&
		       !ans.page,
	       "an unknown member is refused");
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" sync \"typo\": output is not {\"page\":..., \"changes_id\":...}",
		   "  message");
	TAP_OK(h.p->ops->sync(h.p, "bare", push, &ans, &h.err) == FK_ERUNTIME,
	       "a bare page instead of {page, changes_id} is refused");
	TAP_OK(h.p->ops->sync(h.p, "numid", push, &ans, &h.err) == FK_ERUNTIME,
	       "a number as changes_id is refused");
	TAP_OK(h.p->ops->sync(h.p, "garbage", push, &ans, &h.err) == FK_ERUNTIME &&
		       strstr(h.err.msg, "output is not JSON: "),
	       "garbage is refused: %s", h.err.msg);
	TAP_OK(h.p->ops->sync(h.p, "r65", push, &ans, &h.err) == FK_EDATA,
	       "exit 65: rejected, FK_EDATA");
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" sync \"r65\": rejected the changes (exit status 65): entry e1: bad title",
		   "  message");
	TAP_OK(h.p->ops->sync(h.p, "r69", push, &ans, &h.err) == FK_EREFUSED,
	       "exit 69: rejected, FK_EREFUSED");
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" sync \"r69\": rejected the changes (exit status 69): no such page",
		   "  message");
	TAP_OK(h.p->ops->sync(h.p, "fail", push, &ans, &h.err) == FK_ERUNTIME,
	       "exit 1: failed, FK_ERUNTIME");
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" sync \"fail\": exited with status 1: network down",
		   "  message");
	TAP_OK(h.p->ops->write(h.p, "k", push, NULL, &h.err) == FK_OK,
	       "write commits locally: always accepted");
	cJSON_Delete(push);
	stop(&h);
}

static void test_notify_failure(void)
{
	struct harness h;

	script("fail.sh", "echo out; echo 'cannot reach' >&2; exit 2\n");
	start(&h, "{\"command\":[\"./fail.sh\"]}", tmp, 1024);
	TAP_OK(h.p->ops->watch(h.p, NULL, NULL, &h.err) == FK_ERUNTIME,
	       "a failing watch is an error");
	TAP_STR_EQ(h.err.msg, "pager \"ex0\" (namespace \"news\") watch: exited with status 2: cannot reach",
		   "  without a key for the whole namespace");
	TAP_OK(h.p->ops->invalidate(h.p, "k", NULL, &h.err) == FK_ERUNTIME,
	       "a failing invalidate is an error");
	stop(&h);
}

/* The pid a script wrote to tmp/name is gone (or a zombie of init's). */
static bool pid_dead(const char *name)
{
	char *s = slurp(name), path[64], stat[256];
	long pid = s ? atol(s) : 0;
	double until = now_s() + 1.0;
	FILE *f;
	bool dead = false;

	free(s);
	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	while (!dead && now_s() < until) {
		f = fopen(path, "r");
		dead = !f || (fgets(stat, sizeof(stat), f) && strstr(stat, ") Z "));
		if (f)
			fclose(f);
		if (!dead)
			usleep(10000);
	}
	return dead;
}

static void test_timeouts(void)
{
	static const struct {
		const char *name, *body;
		double max_s;
	} cases[] = {
		{"sleep", "echo $$ > sleep.pid\nsleep 30\n", 0.8},
		{"grandchild", "sleep 30 &\necho $! > grandchild.pid\necho '{}'\n", 0.8},
		{"closed", "echo $$ > closed.pid\nexec >&- 2>&-\nsleep 30\n", 0.8},
		{"stubborn", "echo $$ > stubborn.pid\ntrap '' TERM\nsleep 30\n", 1.6},
	};
	struct pager_answer ans;
	struct harness h;
	char name[64], opts[128], want[128];
	double t;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "%s.sh", cases[i].name);
		script(name, cases[i].body);
		snprintf(opts, sizeof(opts),
			 "{\"command\":[\"./%s\"],\"timeout_ms\":300}", name);
		start(&h, opts, tmp, 1024);
		t = now_s();
		rc = do_read(&h, "k", NULL, NULL, &ans);
		t = now_s() - t;
		printf("# %s: read returned after %.3f s\n", cases[i].name, t);
		TAP_OK(rc == FK_ERUNTIME && t >= 0.29 && t < cases[i].max_s,
		       "%s: stopped at the 300 ms limit in %.2f s (< %.1f)",
		       cases[i].name, t, cases[i].max_s);
		TAP_STR_EQ(h.err.msg, "pager \"ex0\" read \"k\": timed out after 300 ms",
			   "%s: message", cases[i].name);
		snprintf(want, sizeof(want), "%s.pid", cases[i].name);
		TAP_OK(pid_dead(want), "%s: the process is gone", cases[i].name);
		TAP_OK(no_children(), "%s: the child was reaped", cases[i].name);
		stop(&h);
	}
}

/* proc_run() with a plain argv, for what the pager does not show. */
static int run(char *const *argv, const char *in, size_t in_len,
	       struct proc_result *res, struct fk_err *err)
{
	struct proc_spec spec = {
		.argv = argv,
		.in = in,
		.in_len = in_len,
		.timeout_ms = 20000,
		.max_out = SIZE_MAX,
	};

	return proc_run(&spec, res, err);
}

static void test_large(void)
{
	static char *const cat[] = {"cat", NULL};
	static char *const no_read[] = {"true", NULL};
	const size_t n = 5u << 20;
	struct sigaction before, after;
	struct proc_result res;
	struct pager_answer ans;
	struct harness h;
	struct fk_err err;
	struct buf page = {0};
	char *in = malloc(n), *s;
	double t;
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		in[i] = (char)(i * 7 + i / 251); /* every byte value, NULs too */
	t = now_s();
	rc = run(cat, in, n, &res, &err);
	printf("# cat of 5 MiB: %.3f s\n", now_s() - t);
	TAP_OK(rc == FK_OK && res.exit_status == 0 && res.out_len == n &&
		       !memcmp(res.out, in, n) && !res.timed_out && !res.out_overflow,
	       "5 MiB through cat and back, byte for byte");
	proc_result_release(&res);

	sigaction(SIGPIPE, NULL, &before);
	rc = run(no_read, in, n, &res, &err);
	sigaction(SIGPIPE, NULL, &after);
	TAP_OK(rc == FK_OK && res.exit_status == 0,
	       "a child that never reads 5 MiB of stdin: no SIGPIPE for us");
	TAP_OK(before.sa_handler == after.sa_handler,
	       "  and SIGPIPE's disposition is restored");
	proc_result_release(&res);
	free(in);

	/* The same through the pager: a 5 MiB page in, the same page out. */
	buf_adds(&page, "{\"_uuid\":\"big\",\"blob\":\"");
	for (i = 0; i < n / 64; i++)
		buf_adds(&page, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	buf_adds(&page, "\"}");
	script("read.sh", read_sh);
	start(&h, "{\"command\":[\"./read.sh\"]}", tmp, 16u << 20);
	rc = do_read(&h, "cat", page.p, NULL, &ans);
	TAP_OK(rc == FK_OK && ans.verdict == PAGER_PAGE, "a 5 MiB page read through a script");
	s = page_text(ans.page);
	TAP_OK(s && !strcmp(s, page.p), "  comes back unchanged");
	free(s);
	release(&ans);
	stop(&h);
	buf_release(&page);
}

static void test_clean_child(void)
{
	static char *const sigs[] = {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL};
	static char *const fds[] = {"ls", "/proc/self/fd", NULL};
	static char *const group[] = {
		"sh", "-c", "set -- $(cat /proc/$$/stat); [ \"$1\" = \"$5\" ] && echo leader", NULL};
	struct sigaction ign, old_int, old_quit;
	sigset_t block, old_mask;
	struct proc_result res;
	struct fk_err err;
	int leak, pipes[2];
	struct proc_spec spec = {.argv = fds, .cwd = "/nonexistent-flokvm",
				 .timeout_ms = 5000, .max_out = SIZE_MAX};

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old_mask);
	TAP_OK(run(sigs, NULL, 0, &res, &err) == FK_OK, "grep ran");
	TAP_STR_EQ(res.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
		   "the child has an empty mask and ignores nothing, though we do");
	proc_result_release(&res);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);

	leak = open("/dev/null", O_RDONLY); /* inheritable on purpose */
	if (pipe(pipes))
		pipes[0] = pipes[1] = -1;
	TAP_OK(run(fds, NULL, 0, &res, &err) == FK_OK, "ls ran");
	TAP_STR_EQ(res.out, "0\n1\n2\n3\n",
		   "the child has only 0, 1 and 2 (3 is ls's own listing)");
	proc_result_release(&res);
	close(leak);
	close(pipes[0]);
	close(pipes[1]);

	TAP_OK(run(group, NULL, 0, &res, &err) == FK_OK, "sh ran");
	TAP_STR_EQ(res.out, "leader\n", "the child leads its own process group");
	proc_result_release(&res);

	TAP_OK(proc_run(&spec, &res, &err) == FK_ERUNTIME, "a missing cwd fails");
	TAP_STR_EQ(err.msg, "cannot run \"ls\": cannot change directory to \"/nonexistent-flokvm\": No such file or directory",
		   "  and says so");
	TAP_OK(!res.out && !res.err_text, "  leaving nothing to release");
	TAP_OK(no_children(), "no child is left behind");
}

static int rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

int main(void)
{
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 99;
	}
	TAP_OK(!strcmp(exec_pager_ops.type, "exec") && exec_pager_ops.pushes &&
		       exec_pager_ops.sync && exec_pager_ops.write,
	       "type \"exec\", pushes");
	test_init_errors();
	test_arguments();
	test_command_paths();
	test_read_verdicts();
	test_sync();
	test_notify_failure();
	test_timeouts();
	test_large();
	test_clean_child();
	nftw(tmp, rm, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
