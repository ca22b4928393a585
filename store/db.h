/*
 * db.h - the SQLite cache (SPEC §5): pages with their hash and revision,
 * the change log, the unsynced queue and the live watchers.
 *
 * One struct db per process.  Statements are prepared once and reused.
 * Every function returns FK_OK or a status with err filled: FK_ETEMP when
 * the database stayed locked past the busy timeout, FK_ERUNTIME otherwise.
 * No SQL exists outside this file and schema.sql.
 */
#ifndef FLOKVM_DB_H
#define FLOKVM_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "settings.h"
#include "status.h"

struct db;

/* One cached page.  Strings are owned; db_row_release() frees them. */
struct db_row {
	bool found;
	char *key;
	char *page;   /* canonical user-visible JSON text */
	char *hash;
	int64_t seq;  /* revision */
	int entries;
	char *sync;   /* "__" bookkeeping JSON, or NULL */
	bool unsynced;
	int phase;    /* unsynced queue phase, -1 when not queued (db_get only) */
	int64_t auth; /* authority clock of the last authority copy (db_get only) */
};

/*
 * Opens the database at path.  With create, a missing file (and its
 * missing folders, 0700) is created with mode 0600 and given the schema;
 * without, a missing or empty file gives *out = NULL and FK_OK, and the
 * caller treats it as an empty store.  A foreign file (not SQLite, another
 * application_id, a newer schema version) is refused with FK_ERUNTIME and
 * left untouched.  Older schema versions are migrated.
 */
int db_open(const char *path, bool create, const struct settings *set,
	    struct db **out, struct fk_err *err);
void db_close(struct db *db);
const char *db_path(const struct db *db);

/* write: BEGIN IMMEDIATE (the read-modify-write lock); else a deferred
 * read transaction.  db_rollback() is safe to call without a transaction. */
int db_begin(struct db *db, bool write, struct fk_err *err);
int db_commit(struct db *db, struct fk_err *err);
void db_rollback(struct db *db);

/* A savepoint inside the open transaction: one request of a batch.
 * Release keeps its work for the enclosing commit; rollback_to undoes it. */
int db_savepoint(struct db *db, struct fk_err *err);
int db_release(struct db *db, struct fk_err *err);
void db_rollback_to(struct db *db);

/* Reads (ns, key) into row; row->found says whether it exists. */
int db_get(struct db *db, const char *ns, const char *key,
	   struct db_row *row, struct fk_err *err);
void db_row_release(struct db_row *row);

/*
 * Stores a changed page and appends its change to the log (kind "write",
 * "pager", ...), inside the caller's write transaction.  *seq receives the
 * new revision.  The log is trimmed to the configured number of rows.
 */
int db_put(struct db *db, const char *ns, const char *key, const char *page,
	   const char *hash, int entries, const char *sync, const char *kind,
	   int64_t *seq, struct fk_err *err);

/* Deletes (ns, key) and logs the change with a NULL hash; *seq as above. */
int db_delete(struct db *db, const char *ns, const char *key,
	      const char *kind, int64_t *seq, struct fk_err *err);

/* Calls fn for each cached page of ns (all namespaces if ns is NULL) in
 * (ns, key) byte order, with ns_out filled; fn returning non-zero stops. */
typedef int (*db_page_fn)(void *ctx, const char *ns, const struct db_row *row);
int db_each(struct db *db, const char *ns, db_page_fn fn, void *ctx,
	    struct fk_err *err);

/* Runs SQLite's integrity check; fn gets each problem line ("ok" is not
 * reported).  *problems counts them. */
int db_integrity(struct db *db, void (*fn)(void *ctx, const char *msg),
		 void *ctx, int *problems, struct fk_err *err);

/* The change log: the newest sequence number ever handed out (it
 * survives trimming), the oldest still in the log (0 when empty), and the
 * changes of ns after a sequence number, in order. */
int db_newest_seq(struct db *db, int64_t *seq, struct fk_err *err);
int db_oldest_seq(struct db *db, int64_t *seq, struct fk_err *err);
typedef int (*db_change_fn)(void *ctx, int64_t seq, const char *key,
			    const char *kind);
int db_changes(struct db *db, const char *ns, int64_t after, db_change_fn fn,
	       void *ctx, struct fk_err *err);

/* SQLite's data_version: changes when another connection commits. */
int db_data_version(struct db *db, int64_t *version, struct fk_err *err);

/* Live watchers, one row per watched page (key NULL: the namespace),
 * identified by the lock file that proves the watcher alive. */
int db_watcher_add(struct db *db, const char *ns, const char *key,
		   const char *lock, struct fk_err *err);
int db_watcher_count(struct db *db, const char *ns, const char *key,
		     int64_t *n, struct fk_err *err);
int db_watcher_remove(struct db *db, const char *lock, struct fk_err *err);
typedef int (*db_lock_fn)(void *ctx, const char *lock);
int db_watcher_locks(struct db *db, db_lock_fn fn, void *ctx, struct fk_err *err);
typedef int (*db_watched_fn)(void *ctx, const char *ns, const char *key);
int db_watcher_pages(struct db *db, const char *lock, db_watched_fn fn,
		     void *ctx, struct fk_err *err);

/* Bookkeeping-only updates: not changes, nothing is logged. */
int db_set_sync(struct db *db, const char *ns, const char *key,
		const char *sync, struct fk_err *err);
int db_set_auth(struct db *db, const char *ns, const char *key, int64_t stamp,
		struct fk_err *err);

/* The authority clock (schema.sql, table meta): read it before a pager
 * call; advance it (in the write transaction) when applying its answer. */
int db_auth_clock(struct db *db, int64_t *now, struct fk_err *err);
int db_auth_clock_next(struct db *db, int64_t *now, struct fk_err *err);

/* The unsynced queue (SPEC §7): phase 0 or 1; phase -1 removes the page.
 * promote moves every phase-0 page of ns to phase 1.  list calls fn with
 * each queued key of ns and its phase, or, with ns NULL, once per
 * namespace that has queued pages (key NULL, phase -1). */
int db_queue_set(struct db *db, const char *ns, const char *key, int phase,
		 struct fk_err *err);
int db_queue_promote(struct db *db, const char *ns, struct fk_err *err);
typedef int (*db_queue_fn)(void *ctx, const char *ns, const char *key, int phase);
int db_queue_list(struct db *db, const char *ns, db_queue_fn fn, void *ctx,
		  struct fk_err *err);

/* The schema version this binary writes (from schema.sql). */
int db_schema_version(void);

#endif
