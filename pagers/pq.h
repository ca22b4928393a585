/*
 * pq.h - libpq, loaded with dlopen() on first use.
 *
 * Linking libpq costs every flokvm process -- also a one-shot `write` to a
 * `mem` namespace -- some 6.6 ms in the dynamic loader (libpq pulls in 25
 * shared libraries: OpenSSL, Kerberos, LDAP ...), three times the whole
 * write.  So only a process that uses a postgres namespace pays for it.
 * The types and constants still come from libpq-fe.h at build time.
 */
#ifndef FLOKVM_PQ_H
#define FLOKVM_PQ_H

#include <libpq-fe.h>

#include "status.h"

/* The libpq functions flokvm calls, named as in libpq without "PQ". */
struct pq_api {
	PGconn *(*connectdbParams)(const char *const *keywords,
				   const char *const *values, int expand_dbname);
	ConnStatusType (*status)(const PGconn *conn);
	char *(*errorMessage)(const PGconn *conn);
	void (*finish)(PGconn *conn);
	int (*socket)(const PGconn *conn);
	int (*setnonblocking)(PGconn *conn, int arg);
	PQnoticeProcessor (*setNoticeProcessor)(PGconn *conn, PQnoticeProcessor proc,
						void *arg);
	int (*sendQuery)(PGconn *conn, const char *command);
	int (*sendQueryParams)(PGconn *conn, const char *command, int nParams,
			       const Oid *paramTypes, const char *const *paramValues,
			       const int *paramLengths, const int *paramFormats,
			       int resultFormat);
	int (*flush)(PGconn *conn);
	int (*consumeInput)(PGconn *conn);
	int (*isBusy)(PGconn *conn);
	PGresult *(*getResult)(PGconn *conn);
	ExecStatusType (*resultStatus)(const PGresult *res);
	char *(*resultErrorMessage)(const PGresult *res);
	char *(*resultErrorField)(const PGresult *res, int fieldcode);
	void (*clear)(PGresult *res);
	int (*ntuples)(const PGresult *res);
	char *(*getvalue)(const PGresult *res, int tup_num, int field_num);
	int (*getlength)(const PGresult *res, int tup_num, int field_num);
	int (*getisnull)(const PGresult *res, int tup_num, int field_num);
	PGnotify *(*notifies)(PGconn *conn);
	void (*freemem)(void *ptr);
	char *(*escapeIdentifier)(PGconn *conn, const char *str, size_t len);
	PGcancel *(*getCancel)(PGconn *conn);
	int (*cancel)(PGcancel *cancel, char *errbuf, int errbufsize);
	void (*freeCancel)(PGcancel *cancel);
};

/* Loads libpq once per process; later calls return the same table.
 * FK_ERUNTIME with err saying what is missing if it cannot be loaded. */
int pq_load(const struct pq_api **out, struct fk_err *err);

#endif
