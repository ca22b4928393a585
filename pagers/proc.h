/*
 * proc.h - running a program: the only place flokvm starts one (SPEC §8).
 *
 * Never through a shell: argv goes to execvp() as given.  The child gets a
 * process group of its own, default signal dispositions, an empty signal
 * mask and only descriptors 0, 1 and 2; the parent feeds its stdin and
 * drains its stdout and stderr together, and at the deadline terminates
 * the whole group, so neither a large page nor a hung grandchild (curl,
 * ssh) can hold flokvm.
 */
#ifndef FLOKVM_PROC_H
#define FLOKVM_PROC_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/* The first bytes of stderr kept for messages. */
#define PROC_ERR_MAX 4096

struct proc_spec {
	char *const *argv;       /* argv[0]: a path, or a bare name for PATH */
	const char *cwd;         /* the child's working directory; NULL: ours */
	char *const *env_extra;  /* "NAME=value" added to our environment
				  * (replacing NAME), NULL-terminated; or NULL */
	const char *in;          /* stdin bytes; NULL: stdin is /dev/null */
	size_t in_len;
	int timeout_ms;          /* <= 0: no time limit */
	size_t max_out;          /* stdout bytes kept; more are read, dropped
				  * and flagged (SIZE_MAX: no limit) */
};

struct proc_result {
	int exit_status;   /* the exit code, or 128 + the signal that killed it */
	bool timed_out;    /* the deadline passed and the group was killed */
	bool out_overflow; /* stdout exceeded max_out; out holds max_out bytes */
	char *out;         /* stdout, NUL-terminated (never NULL on FK_OK) */
	size_t out_len;
	char *err_text;    /* the first PROC_ERR_MAX bytes of stderr, trailing
			    * whitespace trimmed, NUL-terminated (never NULL) */
};

/*
 * Runs spec->argv and waits for it.  Returns FK_OK whenever the program
 * ran, whatever its exit status, with res filled (caller
 * proc_result_release()s).  Returns FK_ERUNTIME with err naming the
 * command if it could not be started (not found, not executable, cwd
 * missing, out of descriptors); res is then empty.
 */
int proc_run(const struct proc_spec *spec, struct proc_result *res,
	     struct fk_err *err);

/* Frees out and err_text and zeroes res; safe on an empty result. */
void proc_result_release(struct proc_result *res);

#endif
