/*
 * cmd-sync.c - `sync [--now] [-v] [NS...]`, the cron job (SPEC §7).
 *
 * Prints a read_res for every page the sync changed.  Under cron it is
 * silent unless something failed (so cron mails only failures); a summary
 * and a progress bar appear on a terminal, the summary also with -v.
 * Failures past the first FAILURES_SHOWN are counted, not printed, unless
 * -v: a server that is down fails every queued page, and a cron mail of
 * ten thousand identical lines helps nobody.
 */
#include <unistd.h>

#include "commands.h"

enum { OPT_NOW = 1, OPT_VERBOSE };

#define FAILURES_SHOWN 20

static const struct cli_opt sync_opts[] = {
	{"--now", 0, OPT_NOW},
	{"-v", 0, OPT_VERBOSE},
	{"--verbose", 0, OPT_VERBOSE},
	{NULL, 0, 0},
};

struct sync_cli {
	struct cli *c;
	bool tty;
	bool bar_shown;
	bool verbose;
	size_t failures; /* reported so far, shown or not */
};

static void clear_bar(struct sync_cli *s)
{
	if (s->bar_shown)
		fputs("\r\033[K", stderr);
	s->bar_shown = false;
}

static void on_changed(void *ctx, const char *ns, const char *key,
		       const struct vm_page *pg)
{
	struct sync_cli *s = ctx;

	ev_read_res(s->c, ns, key, pg->text, NULL, (long long)pg->seq);
	cli_flush(s->c);
}

static void on_failed(void *ctx, int status, const char *msg)
{
	struct sync_cli *s = ctx;

	if (++s->failures > FAILURES_SHOWN && !s->verbose)
		return;
	clear_bar(s);
	cli_error(s->c, status, "%s", msg);
}

static void on_progress(void *ctx, size_t done, size_t total)
{
	struct sync_cli *s = ctx;

	if (!s->tty || !total)
		return;
	fprintf(stderr, "\rsync: %zu/%zu pages", done, total);
	s->bar_shown = true;
}

int cmd_sync(struct cli *c, int argc, char **argv)
{
	struct sync_cli s = {c, isatty(STDERR_FILENO) == 1, false, false, 0};
	struct vm_sync_report r = {on_changed, on_failed, on_progress, &s};
	struct vm_sync_stats stats;
	struct fk_err err;
	const char *arg;
	bool now = false, verbose = false;
	int next = 1, status = FK_OK, opt, rc;

	while ((opt = cli_getopt(c, argc, argv, sync_opts, &arg, &next, &status)) > 0) {
		if (opt == OPT_NOW)
			now = true;
		else
			verbose = true;
	}
	if (opt < 0)
		return status;
	rc = cli_setup(c);
	if (rc)
		return rc;
	s.verbose = verbose;
	rc = vm_sync(&c->vm, argv + next, (size_t)(argc - next), now, &r, &stats, &err);
	clear_bar(&s);
	if (s.failures > FAILURES_SHOWN && !verbose)
		cli_error(c, 0, "%zu more failures not shown (-v shows them all)",
			  s.failures - FAILURES_SHOWN);
	/* A page's failure was reported as it happened; anything else here. */
	if (rc && !stats.failed)
		return cli_fail(c, rc, &err);
	if (s.tty || verbose)
		fprintf(stderr, "sync: %zu pushed, %zu refreshed, %zu changed, %zu failed\n",
			stats.pushed, stats.refreshed, stats.changed, stats.failed);
	return rc;
}
