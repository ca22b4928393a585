/*
 * db.c - the SQLite side of the store (see db.h and schema.sql).
 *
 * The schema text is embedded at build time (schema-sql.h is generated from
 * schema.sql), so the file in the repository is the only definition.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "schema-sql.h"

/* The statements, prepared on first use and kept for the process. */
enum stmt_id {
	ST_GET,
	ST_LOG,
	ST_PUT,
	ST_DELETE,
	ST_UNQUEUE,
	ST_TRIM,
	ST_EACH_NS,
	ST_EACH_ALL,
	ST_NEWEST,
	ST_OLDEST,
	ST_CHANGES,
	ST_DATA_VERSION,
	ST_W_ADD,
	ST_W_COUNT,
	ST_W_DEL,
	ST_W_LOCKS,
	ST_W_PAGES,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_SET_SYNC,
	ST_SET_AUTH,
	ST_CLOCK,
	ST_CLOCK_NEXT,
	ST_QUEUE_SET,
	ST_QUEUE_PROMOTE,
	ST_QUEUE_LIST,
	ST_QUEUE_ALL,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_GET] = "SELECT page, hash, seq, entries, sync,"
		   " (SELECT phase FROM unsynced u WHERE u.ns = ?1 AND u.key = ?2), auth"
		   " FROM pages WHERE ns = ?1 AND key = ?2",
	[ST_LOG] = "INSERT INTO changes (ns, key, kind, hash) VALUES (?1, ?2, ?3, ?4)",
	[ST_PUT] = "INSERT INTO pages (ns, key, hash, seq, entries, page, sync)"
		   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		   " ON CONFLICT (ns, key) DO UPDATE SET hash = excluded.hash,"
		   " seq = excluded.seq, entries = excluded.entries,"
		   " page = excluded.page, sync = excluded.sync",
	[ST_DELETE] = "DELETE FROM pages WHERE ns = ?1 AND key = ?2",
	[ST_UNQUEUE] = "DELETE FROM unsynced WHERE ns = ?1 AND key = ?2",
	[ST_TRIM] = "DELETE FROM changes WHERE seq <= ?1",
	[ST_EACH_NS] = "SELECT p.ns, p.key, p.page, p.hash, p.seq, p.entries, p.sync,"
		       " u.ns IS NOT NULL FROM pages p LEFT JOIN unsynced u"
		       " ON u.ns = p.ns AND u.key = p.key WHERE p.ns = ?1 ORDER BY p.key",
	[ST_EACH_ALL] = "SELECT p.ns, p.key, p.page, p.hash, p.seq, p.entries, p.sync,"
			" u.ns IS NOT NULL FROM pages p LEFT JOIN unsynced u"
			" ON u.ns = p.ns AND u.key = p.key ORDER BY p.ns, p.key",
	[ST_NEWEST] = "SELECT seq FROM sqlite_sequence WHERE name = 'changes'",
	[ST_OLDEST] = "SELECT min(seq) FROM changes",
	[ST_CHANGES] = "SELECT seq, key, kind FROM changes WHERE seq > ?1 AND ns = ?2 ORDER BY seq",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_W_ADD] = "INSERT INTO watchers (ns, key, lock, pid, started) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_W_COUNT] = "SELECT count(*) FROM watchers WHERE ns = ?1 AND key IS ?2",
	[ST_W_DEL] = "DELETE FROM watchers WHERE lock = ?1",
	[ST_W_LOCKS] = "SELECT DISTINCT lock FROM watchers ORDER BY lock",
	[ST_W_PAGES] = "SELECT ns, key FROM watchers WHERE lock = ?1 ORDER BY ns, key",
	[ST_SAVEPOINT] = "SAVEPOINT request",
	[ST_RELEASE] = "RELEASE request",
	[ST_SET_SYNC] = "UPDATE pages SET sync = ?3 WHERE ns = ?1 AND key = ?2",
	[ST_SET_AUTH] = "UPDATE pages SET auth = ?3 WHERE ns = ?1 AND key = ?2",
	[ST_CLOCK] = "SELECT value FROM meta WHERE name = 'auth_clock'",
	[ST_CLOCK_NEXT] = "UPDATE meta SET value = value + 1 WHERE name = 'auth_clock' RETURNING value",
	[ST_QUEUE_SET] = "INSERT INTO unsynced (ns, key, phase) VALUES (?1, ?2, ?3)"
			 " ON CONFLICT (ns, key) DO UPDATE SET phase = excluded.phase",
	[ST_QUEUE_PROMOTE] = "UPDATE unsynced SET phase = 1 WHERE ns = ?1 AND phase = 0",
	[ST_QUEUE_LIST] = "SELECT key, phase FROM unsynced WHERE ns = ?1 ORDER BY key",
	[ST_QUEUE_ALL] = "SELECT DISTINCT ns FROM unsynced ORDER BY ns",
};

struct db {
	sqlite3 *h;
	char *path;
	int busy_timeout_ms;
	struct timespec busy_since; /* when the current wait for a lock began */
	long log_max_rows;
	bool in_txn;
	sqlite3_stmt *st[ST_COUNT];
};

const char *db_path(const struct db *db)
{
	return db->path;
}

/*
 * Waiting for a lock: SQLite's own busy timeout sleeps up to 100 ms
 * between tries, and a writer that sleeps that long loses the lock to a
 * batch that commits and begins again within a millisecond.  Polling
 * every millisecond keeps one-shot writers from starving, at a cost of a
 * few system calls while they wait.  Gives up after busy_timeout_ms.
 */
static int busy_wait(void *ctx, int tries)
{
	struct db *db = ctx;
	struct timespec now, nap = {0, 1000000};

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (tries == 0)
		db->busy_since = now;
	if ((now.tv_sec - db->busy_since.tv_sec) * 1000 +
		    (now.tv_nsec - db->busy_since.tv_nsec) / 1000000 >= db->busy_timeout_ms)
		return 0;
	nanosleep(&nap, NULL);
	return 1;
}

/* Turns a failed SQLite call into a status: a lock held past the busy
 * timeout is temporary (75), anything else a store failure (1). */
static int db_fail(struct db *db, int rc, const char *what, struct fk_err *err)
{
	int code = rc & 0xff;

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return fk_fail(err, FK_ETEMP,
			       "database '%s' is locked by another process (waited %d ms); try again",
			       db->path, db->busy_timeout_ms);
	return fk_fail(err, FK_ERUNTIME, "database '%s': %s: %s", db->path,
		       what, sqlite3_errmsg(db->h));
}

static int prepare(struct db *db, enum stmt_id id, sqlite3_stmt **out,
		   struct fk_err *err)
{
	int rc;

	if (!db->st[id]) {
		rc = sqlite3_prepare_v3(db->h, stmt_sql[id], -1,
					SQLITE_PREPARE_PERSISTENT, &db->st[id], NULL);
		if (rc != SQLITE_OK)
			return db_fail(db, rc, "prepare", err);
	}
	*out = db->st[id];
	return FK_OK;
}

static int exec(struct db *db, const char *sql, struct fk_err *err)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? FK_OK : db_fail(db, rc, sql, err);
}

/* Reads one integer from a single-row query (a PRAGMA). */
static int query_int(struct db *db, const char *sql, long long *out,
		     struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_NOTADB)
		return fk_fail(err, FK_ERUNTIME,
			       "'%s' is not a flokvm database (not an SQLite file); refusing to touch it",
			       db->path);
	return rc == SQLITE_OK ? FK_OK : db_fail(db, rc, sql, err);
}

/* Reads "PRAGMA NAME = N" from schema.sql, the one place that says it. */
static long long schema_pragma(const char *name)
{
	char pattern[64];
	const char *p;

	snprintf(pattern, sizeof(pattern), "PRAGMA %s = ", name);
	p = strstr(schema_sql, pattern);
	return p ? atoll(p + strlen(pattern)) : 0;
}

int db_schema_version(void)
{
	return (int)schema_pragma("user_version");
}

/* Creates the missing folders of path's parent with mode 0700. */
static int make_parents(const char *path, struct fk_err *err)
{
	char dir[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(dir))
		return fk_fail(err, FK_ERUNTIME, "database path '%s' is too long", path);
	memcpy(dir, path, len + 1);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST) {
			int e = errno;

			return fk_fail(err, FK_ERUNTIME,
				       "cannot create folder '%s' for the database: %s",
				       dir, strerror(e));
		}
		*p = '/';
	}
	return FK_OK;
}

/*
 * Brings a database that passed the identity check to the current schema:
 * applies schema.sql to an empty one, later migrations to older ones.  The
 * version is re-read inside BEGIN IMMEDIATE, so two processes opening a new
 * database at once apply the schema once.
 */
static int migrate(struct db *db, struct fk_err *err)
{
	long long version = 0;
	int rc;

	rc = exec(db, "BEGIN IMMEDIATE", err);
	if (rc)
		return rc;
	rc = query_int(db, "PRAGMA user_version", &version, err);
	if (!rc && version == 0)
		rc = exec(db, schema_sql, err);
	/* Steps from version N to N+1 go here once there is a version 2. */
	if (!rc)
		rc = exec(db, "COMMIT", err);
	if (rc)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Refuses a file that is not ours; *empty for a new file.  One query for
 * the identity, the schema version and the journal mode: opening is on
 * the path of every one-shot command. */
static int check_identity(struct db *db, bool *empty, long long *version,
			  bool *wal, struct fk_err *err)
{
	static const char sql[] =
		"SELECT (SELECT application_id FROM pragma_application_id),"
		" (SELECT user_version FROM pragma_user_version),"
		" (SELECT count(*) FROM sqlite_master),"
		" (SELECT journal_mode FROM pragma_journal_mode)";
	long long app = 0, objects = 0;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *mode = sqlite3_column_text(st, 3);

		app = sqlite3_column_int64(st, 0);
		*version = sqlite3_column_int64(st, 1);
		objects = sqlite3_column_int64(st, 2);
		*wal = mode && !strcmp((const char *)mode, "wal");
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if ((rc & 0xff) == SQLITE_NOTADB)
		return fk_fail(err, FK_ERUNTIME,
			       "'%s' is not a flokvm database (not an SQLite file); refusing to touch it",
			       db->path);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "read the database header", err);
	*empty = app == 0 && objects == 0 && *version == 0;
	if (!*empty && app != schema_pragma("application_id"))
		return fk_fail(err, FK_ERUNTIME,
			       "'%s' is not a flokvm database (application_id %lld); refusing to touch it",
			       db->path, app);
	if (*version > db_schema_version())
		return fk_fail(err, FK_ERUNTIME,
			       "database '%s' has schema version %lld, newer than this flokvm's %d; upgrade flokvm",
			       db->path, *version, db_schema_version());
	return FK_OK;
}

int db_open(const char *path, bool create, const struct settings *set,
	    struct db **out, struct fk_err *err)
{
	static const char *const sync_pragma[] = {
		"PRAGMA synchronous = OFF", "PRAGMA synchronous = NORMAL",
		"PRAGMA synchronous = FULL", "PRAGMA synchronous = EXTRA"};
	struct db *db;
	struct stat sb;
	long long version = 0;
	bool empty = false, wal = false;
	int rc, fd;

	*out = NULL;
	if (stat(path, &sb) != 0) {
		if (errno != ENOENT)
			return fk_fail(err, FK_ERUNTIME, "cannot open database '%s': %s",
				       path, strerror(errno));
		if (!create)
			return FK_OK;
		rc = make_parents(path, err);
		if (rc)
			return rc;
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return fk_fail(err, FK_ERUNTIME, "cannot create database '%s': %s",
				       path, strerror(errno));
		close(fd);
	} else if (sb.st_size == 0 && !create) {
		return FK_OK;
	}

	db = calloc(1, sizeof(*db));
	if (!db || !(db->path = strdup(path)))
		abort();
	db->busy_timeout_ms = set->busy_timeout_ms;
	db->log_max_rows = set->log_max_rows;
	rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = fk_fail(err, FK_ERUNTIME, "cannot open database '%s': %s", path,
			     db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_handler(db->h, busy_wait, db);
	rc = check_identity(db, &empty, &version, &wal, err);
	if (rc)
		goto fail;
	if (empty && !create) {
		db_close(db);
		return FK_OK;
	}
	/* WAL first: it is a property of the file and cannot change inside
	 * the schema transaction. */
	rc = wal ? FK_OK : exec(db, "PRAGMA journal_mode = WAL", err);
	if (!rc)
		rc = exec(db, sync_pragma[set->synchronous & 3], err);
	if (!rc && version < db_schema_version())
		rc = migrate(db, err);
	if (rc)
		goto fail;
	*out = db;
	return FK_OK;
fail:
	db_close(db);
	return rc;
}

/*
 * The last connection to close checkpoints the WAL into the database and
 * deletes it: two more fsyncs, which were half of a one-shot `write`
 * (3.7 ms → 1.9 ms without them).  While the WAL is small, leave it for a
 * later process: the next opener rebuilds its index from at most WAL_KEEP
 * bytes (a `read_sync` paid 0.13 ms more), and the commits in it are
 * durable already (synchronous=FULL syncs the WAL at every commit).  Past
 * that size the checkpoint on close runs as usual.
 */
#define WAL_KEEP (256 * 1024)

static void skip_small_checkpoint(struct db *db)
{
	char wal[4096];
	struct stat sb;

	if (!db->h || snprintf(wal, sizeof(wal), "%s-wal", db->path) >= (int)sizeof(wal))
		return;
	if (stat(wal, &sb) == 0 && sb.st_size < WAL_KEEP)
		sqlite3_db_config(db->h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
}

void db_close(struct db *db)
{
	if (!db)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(db->st[i]);
	skip_small_checkpoint(db);
	sqlite3_close(db->h);
	free(db->path);
	free(db);
}

int db_begin(struct db *db, bool write, struct fk_err *err)
{
	int rc = exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN", err);

	db->in_txn = rc == FK_OK;
	return rc;
}

int db_commit(struct db *db, struct fk_err *err)
{
	int rc = exec(db, "COMMIT", err);

	if (rc)
		db_rollback(db);
	db->in_txn = false;
	return rc;
}

void db_rollback(struct db *db)
{
	if (db && !sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	if (db)
		db->in_txn = false;
}

static char *col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	char *s;

	if (!t)
		return NULL;
	s = strdup((const char *)t);
	if (!s)
		abort();
	return s;
}

void db_row_release(struct db_row *row)
{
	free(row->key);
	free(row->page);
	free(row->hash);
	free(row->sync);
	memset(row, 0, sizeof(*row));
}

int db_get(struct db *db, const char *ns, const char *key,
	   struct db_row *row, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(row, 0, sizeof(*row));
	rc = prepare(db, ST_GET, &st, err);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row->found = true;
		row->page = col_dup(st, 0);
		row->hash = col_dup(st, 1);
		row->seq = sqlite3_column_int64(st, 2);
		row->entries = sqlite3_column_int(st, 3);
		row->sync = col_dup(st, 4);
		row->unsynced = sqlite3_column_type(st, 5) != SQLITE_NULL;
		row->phase = row->unsynced ? sqlite3_column_int(st, 5) : -1;
		row->auth = sqlite3_column_int64(st, 6);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "read page", err);
}

/* Appends a change to the log, trims it, and returns the new seq. */
static int log_change(struct db *db, const char *ns, const char *key,
		      const char *kind, const char *hash, int64_t *seq,
		      struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = prepare(db, ST_LOG, &st, err);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	if (hash)
		sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, "append to the change log", err);
	*seq = sqlite3_last_insert_rowid(db->h);

	rc = prepare(db, ST_TRIM, &st, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, *seq - db->log_max_rows);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "trim the change log", err);
}

int db_put(struct db *db, const char *ns, const char *key, const char *page,
	   const char *hash, int entries, const char *sync, const char *kind,
	   int64_t *seq, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = log_change(db, ns, key, kind, hash, seq, err);
	if (!rc)
		rc = prepare(db, ST_PUT, &st, err);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, *seq);
	sqlite3_bind_int(st, 5, entries);
	sqlite3_bind_text(st, 6, page, -1, SQLITE_STATIC);
	if (sync)
		sqlite3_bind_text(st, 7, sync, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "store page", err);
}

int db_delete(struct db *db, const char *ns, const char *key,
	      const char *kind, int64_t *seq, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = log_change(db, ns, key, kind, NULL, seq, err);
	/* The page and its place in the unsynced queue go together. */
	for (int id = ST_DELETE; !rc && id <= ST_UNQUEUE; id++) {
		rc = prepare(db, (enum stmt_id)id, &st, err);
		if (rc)
			return rc;
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		rc = rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "delete page", err);
	}
	return rc;
}

int db_each(struct db *db, const char *ns, db_page_fn fn, void *ctx,
	    struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	rc = prepare(db, ns ? ST_EACH_NS : ST_EACH_ALL, &st, err);
	if (rc)
		return rc;
	if (ns)
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_row row = {
			.found = true,
			.key = (char *)sqlite3_column_text(st, 1),
			.page = (char *)sqlite3_column_text(st, 2),
			.hash = (char *)sqlite3_column_text(st, 3),
			.seq = sqlite3_column_int64(st, 4),
			.entries = sqlite3_column_int(st, 5),
			.sync = (char *)sqlite3_column_text(st, 6),
			.unsynced = sqlite3_column_int(st, 7) != 0,
		};

		stop = fn(ctx, (const char *)sqlite3_column_text(st, 0), &row);
	}
	sqlite3_reset(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "list pages", err);
}

int db_integrity(struct db *db, void (*fn)(void *ctx, const char *msg),
		 void *ctx, int *problems, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->h, "PRAGMA integrity_check", -1, &st, NULL);

	*problems = 0;
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "integrity check", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(st, 0);

		if (msg && strcmp(msg, "ok")) {
			fn(ctx, msg);
			(*problems)++;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "integrity check", err);
}

/* Steps a prepared statement that yields at most one integer; a NULL or
 * missing row gives 0.  Resets the statement. */
static int step_int(struct db *db, sqlite3_stmt *st, const char *what,
		    int64_t *out, struct fk_err *err)
{
	int rc = sqlite3_step(st);

	*out = 0;
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, what, err);
}

int db_newest_seq(struct db *db, int64_t *seq, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, ST_NEWEST, &st, err);

	return rc ? rc : step_int(db, st, "read the newest sequence number", seq, err);
}

int db_oldest_seq(struct db *db, int64_t *seq, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, ST_OLDEST, &st, err);

	return rc ? rc : step_int(db, st, "read the oldest sequence number", seq, err);
}

int db_data_version(struct db *db, int64_t *version, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, ST_DATA_VERSION, &st, err);

	return rc ? rc : step_int(db, st, "read the data version", version, err);
}

int db_changes(struct db *db, const char *ns, int64_t after, db_change_fn fn,
	       void *ctx, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	rc = prepare(db, ST_CHANGES, &st, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = fn(ctx, sqlite3_column_int64(st, 0),
			  (const char *)sqlite3_column_text(st, 1),
			  (const char *)sqlite3_column_text(st, 2));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "read the change log", err);
}

int db_watcher_add(struct db *db, const char *ns, const char *key,
		   const char *lock, struct fk_err *err)
{
	struct timespec now;
	sqlite3_stmt *st = NULL;
	int rc;

	rc = prepare(db, ST_W_ADD, &st, err);
	if (rc)
		return rc;
	clock_gettime(CLOCK_REALTIME, &now);
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	if (key)
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, lock, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)getpid());
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "register a watcher", err);
}

int db_watcher_count(struct db *db, const char *ns, const char *key,
		     int64_t *n, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, ST_W_COUNT, &st, err);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	if (key)
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	return step_int(db, st, "count watchers", n, err);
}

int db_watcher_remove(struct db *db, const char *lock, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, ST_W_DEL, &st, err);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, lock, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "unregister a watcher", err);
}

int db_watcher_locks(struct db *db, db_lock_fn fn, void *ctx, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	rc = prepare(db, ST_W_LOCKS, &st, err);
	if (rc)
		return rc;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = fn(ctx, (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "list watchers", err);
}

int db_watcher_pages(struct db *db, const char *lock, db_watched_fn fn,
		     void *ctx, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	rc = prepare(db, ST_W_PAGES, &st, err);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, lock, -1, SQLITE_STATIC);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = fn(ctx, (const char *)sqlite3_column_text(st, 0),
			  (const char *)sqlite3_column_text(st, 1));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "list a watcher's pages", err);
}

/* Runs a statement that takes (ns, key[, text or int]) and yields no rows. */
static int run_ns_key(struct db *db, enum stmt_id id, const char *ns,
		      const char *key, const char *text, int64_t num,
		      bool use_text, const char *what, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, id, &st, err);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	if (key)
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	if (use_text && text)
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	else if (!use_text)
		sqlite3_bind_int64(st, 3, num);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, what, err);
}

int db_set_sync(struct db *db, const char *ns, const char *key,
		const char *sync, struct fk_err *err)
{
	return run_ns_key(db, ST_SET_SYNC, ns, key, sync, 0, true,
			  "update bookkeeping", err);
}

int db_set_auth(struct db *db, const char *ns, const char *key, int64_t stamp,
		struct fk_err *err)
{
	return run_ns_key(db, ST_SET_AUTH, ns, key, NULL, stamp, false,
			  "stamp an authority copy", err);
}

int db_auth_clock(struct db *db, int64_t *now, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, ST_CLOCK, &st, err);

	return rc ? rc : step_int(db, st, "read the authority clock", now, err);
}

int db_auth_clock_next(struct db *db, int64_t *now, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, ST_CLOCK_NEXT, &st, err);

	return rc ? rc : step_int(db, st, "advance the authority clock", now, err);
}

int db_queue_set(struct db *db, const char *ns, const char *key, int phase,
		 struct fk_err *err)
{
	if (phase < 0)
		return run_ns_key(db, ST_UNQUEUE, ns, key, NULL, 0, true,
				  "leave the unsynced queue", err);
	return run_ns_key(db, ST_QUEUE_SET, ns, key, NULL, phase, false,
			  "queue an unsynced page", err);
}

int db_queue_promote(struct db *db, const char *ns, struct fk_err *err)
{
	return run_ns_key(db, ST_QUEUE_PROMOTE, ns, NULL, NULL, 0, true,
			  "advance the unsynced queue", err);
}

int db_queue_list(struct db *db, const char *ns, db_queue_fn fn, void *ctx,
		  struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	rc = prepare(db, ns ? ST_QUEUE_LIST : ST_QUEUE_ALL, &st, err);
	if (rc)
		return rc;
	if (ns)
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = ns ? fn(ctx, ns, (const char *)sqlite3_column_text(st, 0),
			       sqlite3_column_int(st, 1))
			  : fn(ctx, (const char *)sqlite3_column_text(st, 0), NULL, -1);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, "read the unsynced queue", err);
}

/* Savepoints nest one request inside a batch's transaction (vm.c). */
/* Runs a prepared statement that takes no parameters and yields no rows. */
static int run_plain(struct db *db, enum stmt_id id, struct fk_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, id, &st, err);

	if (rc)
		return rc;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? FK_OK : db_fail(db, rc, stmt_sql[id], err);
}

int db_savepoint(struct db *db, struct fk_err *err)
{
	return run_plain(db, ST_SAVEPOINT, err);
}

int db_release(struct db *db, struct fk_err *err)
{
	return run_plain(db, ST_RELEASE, err);
}

void db_rollback_to(struct db *db)
{
	sqlite3_exec(db->h, "ROLLBACK TO request; RELEASE request", NULL, NULL, NULL);
}
