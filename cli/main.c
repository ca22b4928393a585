/*
 * main.c - global options, the command table and the dispatcher.
 *
 * The dispatcher owns everything a command shares: the database path, the
 * services file and settings (loaded only when a command asks for them,
 * after its own usage checks), and the guard on stdout: a command whose
 * output could not be written fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "json.h"

#define GLOBAL_SYNOPSIS \
	"flokvm [--db FILE] [--services FILE] COMMAND [OPTIONS] ARGS..."

/* Sorted by name. */
static const struct cmd cmds[] = {
	{"batch", cmd_batch, 0, "flokvm batch [--atomic] < REQUESTS",
	 "run requests given as JSON lines, answer with events"},
	{"check", cmd_check, 0, "flokvm check",
	 "verify every stored page and the database"},
	{"diff", cmd_diff, 0, "flokvm diff OLD NEW",
	 "print the diff that turns one page into another"},
	{"hash", cmd_hash, 0, "flokvm hash [FILE]",
	 "normalise and hash a page without storing it"},
	{"help", cmd_help, 0, "flokvm help", "list the commands"},
	{"invalidate", cmd_invalidate, 0, "flokvm invalidate [--discard] NS KEY",
	 "drop a page from the cache and tell the pager"},
	{"ls", cmd_ls, 0, "flokvm ls NS",
	 "list the cached pages of a namespace"},
	{"pagers", cmd_pagers, 0, "flokvm pagers", "list the configured pagers"},
	{"read", cmd_read, 0, "flokvm read NS KEY",
	 "print the cached copy, then ask the pager for a fresher one"},
	{"read-sync", cmd_read_sync, CMD_ALIAS, "flokvm read_sync NS KEY",
	 "alias of read_sync"},
	{"read_sync", cmd_read_sync, 0, "flokvm read_sync NS KEY",
	 "print the cached copy, else the pager's"},
	{"replay", cmd_replay, 0, "flokvm replay PAGE DIFF",
	 "apply a diff to a page and print the result"},
	{"sync", cmd_sync, 0, "flokvm sync [--now] [-v] [NS...]",
	 "push local changes and refresh cached pages (for cron)"},
	{"watch", cmd_watch, 0,
	 "flokvm watch [--since SEQ] [--count N] [--timeout S] [--diff] NS [KEY...]",
	 "print the cached copies, then every change as it happens"},
	{"write", cmd_write, 0,
	 "flokvm write [--if-seq N] [--if-hash H] [--print] NS KEY < PAGE",
	 "validate, normalise and store a page"},
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static int global_usage(FILE *f)
{
	fprintf(f, "usage: %s\n       flokvm --version\n\ncommands:\n", GLOBAL_SYNOPSIS);
	for (size_t i = 0; i < NCMDS; i++)
		if (!(cmds[i].flags & CMD_ALIAS))
			fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nSee flokvm(1) for the page format, the services file and exit statuses.\n");
	return f == stdout ? FK_OK : FK_EUSAGE;
}

int cmd_help(struct cli *c, int argc, char **argv)
{
	const char *arg;
	int next = 1, status = FK_OK;

	if (cli_getopt(c, argc, argv, NULL, &arg, &next, &status) < 0)
		return status;
	if (next < argc)
		return cli_usage(c, "unexpected argument '%s'", argv[next]);
	return global_usage(stdout);
}

/* --db, else $FLOKVM_DB, else $XDG_DATA_HOME/flokvm/pages.db (XDG default
 * ~/.local/share).  The result is static storage or the environment's. */
static const char *default_db_path(void)
{
	static char path[4096];
	const char *v = getenv("FLOKVM_DB"), *home;

	if (v && *v)
		return v;
	v = getenv("XDG_DATA_HOME");
	if (v && *v && v[0] == '/') {
		snprintf(path, sizeof(path), "%s/flokvm/pages.db", v);
		return path;
	}
	home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	snprintf(path, sizeof(path), "%s/.local/share/flokvm/pages.db", home);
	return path;
}

/* vm->warn: "flokvm: CMD: warning: ..." on stderr. */
static void print_warning(void *ctx, const char *msg)
{
	cli_error(ctx, 0, "warning: %s", msg);
}

/* Loads the services file and the settings and sets up the vm. */
static int setup_vm(struct cli *c)
{
	struct fk_err err;
	const cJSON *s;
	int rc;

	rc = services_find_and_load(c->services_path, pager_type_known,
				    pager_type_list(), &c->svc, &err);
	if (rc)
		return cli_fail(c, rc, &err);
	cJSON_ArrayForEach(s, c->svc.settings) {
		struct buf v = {0};

		/* Numbers as JSON writes them: 3.7 stays 3.7 and is refused. */
		if (cJSON_IsString(s))
			buf_adds(&v, s->valuestring);
		else
			json_write(&v, s);
		rc = settings_set(&c->set, s->string, v.p, &err);
		buf_release(&v);
		if (rc)
			return cli_error(c, FK_EDATA, "%s:%d: %s", c->svc.path,
					 c->svc.settings_line, err.msg);
	}
	if (settings_from_env(&c->set, &err))
		return cli_fail(c, FK_EDATA, &err);
	vm_init(&c->vm, c->db_path, &c->svc, &c->set);
	c->vm.warn = print_warning;
	c->vm.warn_ctx = c;
	return FK_OK;
}

int cli_setup(struct cli *c)
{
	return setup_vm(c);
}

static int run(const struct cmd *cmd, struct cli *c, int argc, char **argv)
{
	int status, flushed;

	c->cmd = cmd->name;
	c->synopsis = cmd->synopsis;
	status = cmd->fn(c, argc, argv);
	flushed = cli_flush(c);
	if (!status)
		status = flushed;
	/* A write error can also surface only when stdout is closed. */
	if (fclose(stdout) != 0 && !status)
		status = cli_error(c, FK_ERUNTIME, "cannot write to standard output: %s",
				   strerror(errno));
	if (c->vm.svc)
		vm_release(&c->vm);
	services_release(&c->svc);
	buf_release(&c->out);
	return status;
}

int main(int argc, char **argv)
{
	struct cli c;
	int i = 1;

	memset(&c, 0, sizeof(c));
	c.synopsis = GLOBAL_SYNOPSIS;
	settings_defaults(&c.set);
	c.db_path = default_db_path();
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--version")) {
			printf("flokvm %s\n", FLOKVM_VERSION);
			return FK_OK;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			return global_usage(stdout);
		} else if (!strcmp(a, "--db") || !strcmp(a, "--services")) {
			if (i + 1 >= argc || !argv[i + 1][0])
				return cli_usage(&c, "option %s needs a file name", a);
			if (a[2] == 'd')
				c.db_path = argv[++i];
			else
				c.services_path = argv[++i];
		} else if (!strncmp(a, "--db=", 5) && a[5]) {
			c.db_path = a + 5;
		} else if (!strncmp(a, "--services=", 11) && a[11]) {
			c.services_path = a + 11;
		} else {
			return cli_usage(&c, "unknown option '%s'", a);
		}
	}
	if (i >= argc) {
		global_usage(stderr);
		return FK_EUSAGE;
	}
	for (size_t k = 0; k < NCMDS; k++)
		if (!strcmp(cmds[k].name, argv[i]))
			return run(&cmds[k], &c, argc - i, argv + i);
	return cli_usage(&c, "unknown command '%s' (see flokvm help)", argv[i]);
}
