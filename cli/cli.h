/*
 * cli.h - what the command files share: the command table entry, the
 * per-run context, and the helpers that print errors and events.
 *
 * cli/ is the only layer that prints or decides an exit status.
 */
#ifndef FLOKVM_CLI_H
#define FLOKVM_CLI_H

#include <stdio.h>

#include "buf.h"
#include "services.h"
#include "settings.h"
#include "status.h"
#include "vm.h"

struct cli {
	const char *cmd;           /* the command's name, for messages */
	const char *synopsis;      /* its usage line */
	const char *db_path;       /* resolved: --db, $FLOKVM_DB, XDG */
	const char *services_path; /* --services, or NULL */
	struct services svc;
	struct settings set;
	struct vm vm;
	struct buf out;            /* stdout, flushed per event */
};

enum cmd_flags {
	CMD_ALIAS = 1 << 0, /* another name of a command: not listed by help */
};

struct cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	unsigned flags;
	const char *synopsis; /* the SYNOPSIS line of the man page */
	const char *summary;
};

/* "flokvm: CMD: message" on stderr; returns status. */
int cli_error(struct cli *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same for an fk_err filled by a lower layer. */
int cli_fail(struct cli *c, int status, const struct fk_err *err);
/* A usage error: the message, then "usage: SYNOPSIS"; returns 2. */
int cli_usage(struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Parses the options of a command with getopt_long semantics: options
 * before operands, "--" ends them; --help prints the synopsis (returns -1
 * with *status 0).  Returns the option character, 0 at the end of the
 * options (*optind_out = first operand), or -1 with *status set to exit.
 */
struct cli_opt {
	const char *name;
	int has_arg;
	int val;
};
int cli_getopt(struct cli *c, int argc, char **argv, const struct cli_opt *opts,
	       const char **arg, int *next, int *status);

/* Reads a whole file ("-" or NULL: stdin) of at most max bytes into b.
 * FK_ENOINPUT if it cannot be opened, FK_EDATA if it is larger than max. */
int cli_read_input(struct cli *c, const char *path, size_t max, struct buf *b,
		   struct fk_err *err);

/* Writes the pending output and flushes stdout; FK_ERUNTIME on failure. */
int cli_flush(struct cli *c);

/* Appends {"event":"read_res","ns":..,"key":..,"page":..[,"from":..],"seq":N}
 * and a newline to c->out.  from may be NULL. */
void ev_read_res(struct cli *c, const char *ns, const char *key,
		 const char *page, const char *from, long long seq);

/* Appends the entry-level events of `watch --diff` for the change from
 * prev (NULL: a page not seen before) to page, in diff-step order. */
int ev_entry_events(struct cli *c, const char *ns, const char *key,
		    const char *prev, const char *page, long long seq,
		    struct fk_err *err);

#endif
