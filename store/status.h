/*
 * status.h - the exit statuses of flokvm (SPEC §4.4) and the error buffer
 * every layer fills instead of printing.
 *
 * Lower layers return one of these codes (FK_OK on success) so that the
 * command line can exit with it unchanged; the man page's EXIT STATUS
 * section lists the same table.
 */
#ifndef FLOKVM_STATUS_H
#define FLOKVM_STATUS_H

#include <stdarg.h>

enum fk_status {
	FK_OK = 0,        /* success */
	FK_ERUNTIME = 1,  /* pager error, store error, check found problems */
	FK_EUSAGE = 2,    /* usage error */
	FK_EPRECOND = 3,  /* --if-seq/--if-hash mismatch, watch resume trimmed */
	FK_EDATA = 65,    /* bad input data: page, key, namespace, diff, services */
	FK_ENOINPUT = 66, /* a file named on the command line cannot be opened */
	FK_EREFUSED = 69, /* unknown or read-only namespace, unsynced invalidate */
	FK_ETEMP = 75,    /* database locked past the busy timeout, sync running */
};

/* The whole story of one failure, filled by the layer that saw it. */
struct fk_err {
	char msg[2048];
};

/* Formats the message into err (if not NULL) and returns status, so that
 * callers can write `return fk_fail(err, FK_EDATA, "...", ...);`. */
int fk_fail(struct fk_err *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends "prefix" to an existing message: "ns \"user\" key \"k\": ..." */
int fk_prefix(struct fk_err *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
