/*
 * cmd-watch.c - `watch [--since SEQ] [--count N] [--timeout S] [--diff]
 * NS [KEY...]`: stream the cached copies, then every change (SPEC §4.2).
 *
 * Signal handlers only note the signal; the loop notices it, unregisters
 * (calling the pager's unwatch if this was the last watcher) and exits
 * 130/143.  --count, --timeout and a closed stdout end it with 0.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "json.h"
#include "watch.h"

enum { OPT_SINCE = 1, OPT_COUNT, OPT_TIMEOUT, OPT_DIFF };

static const struct cli_opt watch_opts[] = {
	{"--since", 1, OPT_SINCE},
	{"--count", 1, OPT_COUNT},
	{"--timeout", 1, OPT_TIMEOUT},
	{"--diff", 0, OPT_DIFF},
	{NULL, 0, 0},
};

static volatile sig_atomic_t got_signal;

static void note_signal(int sig)
{
	got_signal = sig;
}

struct watch_run {
	struct cli *c;
	const char *ns;
	long long count;   /* lines left before --count ends it; -1: no limit */
	bool diff;
	int status;        /* the exit status a callback decided */
};

/* What the callbacks return to stop the watch: negative, so that they
 * never collide with the statuses the store returns. */
enum { STOP = -1 };

/* Writes what is pending.  A closed reader is a quiet end (status 0). */
static int flush_events(struct watch_run *r)
{
	struct buf *b = &r->c->out;
	int e;

	if (b->len && (fwrite(b->p, 1, b->len, stdout) != b->len || fflush(stdout))) {
		e = errno;
		buf_reset(b);
		clearerr(stdout);
		if (e != EPIPE)
			r->status = cli_error(r->c, FK_ERUNTIME,
					      "cannot write to standard output: %s", strerror(e));
		return STOP;
	}
	buf_reset(b);
	return 0;
}

static int on_event(void *ctx, const struct watch_event *ev)
{
	struct watch_run *r = ctx;
	struct cli *c = r->c;
	struct fk_err err;

	if (ev->invalidated) {
		buf_adds(&c->out, "{\"event\":\"invalidated\",\"ns\":");
		json_write_string(&c->out, r->ns);
		buf_adds(&c->out, ",\"key\":");
		json_write_string(&c->out, ev->key);
		buf_printf(&c->out, ",\"seq\":%lld}\n", (long long)ev->seq);
	} else {
		ev_read_res(c, r->ns, ev->key, ev->page, ev->cached ? "cache" : NULL,
			    (long long)ev->seq);
		if (r->diff && !ev->cached &&
		    ev_entry_events(c, r->ns, ev->key, ev->prev, ev->page,
				    (long long)ev->seq, &err))
			cli_error(c, 0, "warning: no entry events for key \"%s\": %s",
				  ev->key, err.msg);
	}
	if (flush_events(r))
		return STOP;
	return r->count > 0 && --r->count == 0 ? STOP : 0;
}

/* Parses decimal seconds into milliseconds; -1 if malformed. */
static long long parse_seconds(const char *s)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(d) || d < 0 || d > 1e9)
		return -1;
	return (long long)(d * 1000.0 + 0.5);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_count(const char *arg, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(arg, &end, 10);
	return *arg >= '0' && *arg <= '9' && !*end && !errno;
}

int cmd_watch(struct cli *c, int argc, char **argv)
{
	struct watch_opts wo = {.since = -1, .keep_prev = false};
	struct watch_run run = {c, NULL, -1, false, FK_OK};
	struct vm_watch *w = NULL;
	struct sigaction sa;
	struct fk_err err;
	const char *arg;
	long long timeout_ms = -1, start = mono_ms();
	int next = 1, status = FK_OK, opt, rc;

	while ((opt = cli_getopt(c, argc, argv, watch_opts, &arg, &next, &status)) > 0) {
		long long since;

		if (opt == OPT_SINCE && !parse_count(arg, &since))
			return cli_usage(c, "--since: '%s' is not a sequence number", arg);
		if (opt == OPT_SINCE)
			wo.since = since;
		if (opt == OPT_COUNT && (!parse_count(arg, &run.count) || run.count == 0))
			return cli_usage(c, "--count: '%s' is not a positive number", arg);
		if (opt == OPT_TIMEOUT && (timeout_ms = parse_seconds(arg)) < 0)
			return cli_usage(c, "--timeout: '%s' is not a number of seconds", arg);
		if (opt == OPT_DIFF)
			run.diff = wo.keep_prev = true;
	}
	if (opt < 0)
		return status;
	if (next >= argc)
		return cli_usage(c, "expected a namespace");
	rc = cli_setup(c);
	if (rc)
		return rc;
	run.ns = argv[next];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = note_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = vm_watch_start(&c->vm, run.ns, argv + next + 1, (size_t)(argc - next - 1),
			    &wo, &w, &err);
	if (rc)
		return cli_fail(c, rc, &err);
	rc = vm_watch_cached(w, on_event, &run);
	if (!rc && vm_watch_pager(w, &err))
		cli_error(c, 0, "warning: %s", err.msg);
	while (!rc && !got_signal) {
		long long left;

		if (vm_watch_feed(w, &err))
			cli_error(c, 0, "warning: %s", err.msg);
		rc = vm_watch_next(w, on_event, &run, &err);
		left = timeout_ms < 0 ? -1 : timeout_ms - (mono_ms() - start);
		if (rc || (timeout_ms >= 0 && left <= 0))
			break;
		if (vm_watch_wait(w, (int)left, STDOUT_FILENO))
			break; /* nobody reads our output any more */
	}
	if (rc > 0)
		run.status = cli_fail(c, rc, &err);
	if (vm_watch_stop(w, &err))
		cli_error(c, 0, "warning: while unregistering: %s", err.msg);
	if (run.status)
		return run.status;
	return got_signal ? 128 + got_signal : FK_OK;
}
