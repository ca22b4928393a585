/*
 * postgres.c - the `postgres` pager (SPEC §9): a PostgreSQL server shared
 * by many machines is the authority of a namespace.
 *
 * Each machine keeps its SQLite cache, its watchers and its offline
 * writes; this pager only answers reads, applies pushes and announces
 * changes.  A push is merged on the server's side of the wire but by our
 * code: in one server transaction the row is locked, the pushed diff is
 * replayed onto the authority's copy with store/diff.c, normalised and
 * hashed with store/page.c, stored, and announced with NOTIFY.  So the
 * merge rules are exactly the ones every flokvm applies locally, and the
 * server needs nothing but two plain tables (postgres.sql).
 *
 * libpq is loaded on first use (pq.c).  Every statement runs with the
 * connection in non-blocking mode and a deadline of options.timeout_ms,
 * so a hung server or network costs a bounded wait, then a cancel.  A
 * connection that fails or is lost is retried with exponential backoff;
 * until the next attempt is due, calls fail at once with the last reason,
 * so that a `sync` of many pages against a dead server does not wait once
 * per page.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "diff.h"
#include "json.h"
#include "page.h"
#include "pager.h"
#include "pq.h"
#include "postgres-sql.h"

#define PG_DEFAULT_TIMEOUT_MS 10000
#define PG_BACKOFF_FIRST_MS 500
#define PG_BACKOFF_MAX_MS 30000
/* An identifier longer than this is silently truncated by PostgreSQL. */
#define PG_NAME_MAX 63
/* The advisory lock that serialises table creation across machines (the
 * number is flokvm's SQLite application_id, for want of a better one). */
#define PG_DDL_LOCK "1718381430"

struct pg_pager {
	struct pager base; /* must be first */
	const struct pq_api *pq;
	char *conninfo;
	char *channel;
	int timeout_ms;
	/* The statements, with the quoted table names filled in; owned. */
	char *sql_tables, *sql_ddl, *sql_read, *sql_lock, *sql_store, *sql_reval;
	char *pages_q, *applied_q; /* quoted table names */
	char *listen_sql;
	PGconn *conn;          /* NULL: not connected */
	bool tables_ready;     /* this process has seen both tables */
	bool listen_wanted;    /* a watch loop reads the feed */
	bool listening;        /* LISTEN is active on conn */
	bool lost;             /* the feed was down: announcements were missed */
	long long retry_at;    /* monotonic ms: no connection attempt before */
	int backoff_ms;        /* the wait after the last failed attempt */
	char down[1024];       /* why the last attempt failed */
	struct pager_notices queued; /* announcements read during queries */
};

static struct pg_pager *pg_of(struct pager *p)
{
	assert(p->ops == &postgres_pager_ops);
	return (struct pg_pager *)p;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "name" with embedded quotes doubled: an SQL identifier. */
static char *quote_ident(const char *name)
{
	struct buf b = {0};

	buf_addc(&b, '"');
	for (; *name; name++) {
		if (*name == '"')
			buf_addc(&b, '"');
		buf_addc(&b, *name);
	}
	buf_addc(&b, '"');
	return buf_detach(&b);
}

/* Replaces every "@pages@" and "@applied@" of sql with the quoted names. */
static char *fill_names(const struct pg_pager *pg, const char *sql)
{
	struct buf b = {0};

	while (*sql) {
		if (!strncmp(sql, "@pages@", 7)) {
			buf_adds(&b, pg->pages_q);
			sql += 7;
		} else if (!strncmp(sql, "@applied@", 9)) {
			buf_adds(&b, pg->applied_q);
			sql += 9;
		} else {
			buf_addc(&b, *sql++);
		}
	}
	return buf_detach(&b);
}

/* options.NAME as a string of 1..max bytes (0: any length), or dflt. */
static int opt_string(const struct pager *p, const char *name, const char *dflt,
		      size_t max, char **out, struct fk_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->conf->options, name);

	if (!v || cJSON_IsNull(v)) {
		*out = buf_strdup(dflt);
		return FK_OK;
	}
	if (!cJSON_IsString(v))
		return fk_fail(err, FK_EDATA, "options.%s: expected a string", name);
	if (max && (!v->valuestring[0] || strlen(v->valuestring) > max))
		return fk_fail(err, FK_EDATA, "options.%s: expected 1 to %zu bytes", name, max);
	*out = buf_strdup(v->valuestring);
	return FK_OK;
}

static void pg_close(struct pager *p);

static int pg_init(struct pager *p, struct fk_err *err)
{
	/* The statements.  $1 is always the namespace, $2 the key. */
	static const char sql_read[] =
		"SELECT CASE WHEN hash = $3 AND digest = $4 THEN NULL ELSE page END"
		" FROM @pages@ WHERE ns = $1 AND key = $2 AND page IS NOT NULL";
	/* Records the push's id (no row back: applied before) and locks the
	 * page's row, creating an empty one for a first push, in one trip.
	 * ON CONFLICT DO UPDATE waits for and locks the newest committed
	 * version of the row, so the page it returns is the one we replace. */
	static const char sql_lock[] =
		"WITH a AS (INSERT INTO @applied@ (changes_id, ns, key)"
		" VALUES ($3, $1, $2) ON CONFLICT DO NOTHING RETURNING 1),"
		" r AS (INSERT INTO @pages@ AS t (ns, key) VALUES ($1, $2)"
		" ON CONFLICT (ns, key) DO UPDATE SET version = t.version"
		" RETURNING t.page)"
		" SELECT r.page, (SELECT count(*) FROM a) FROM r";
	static const char sql_store[] =
		"WITH u AS (UPDATE @pages@ SET page = $3, hash = $4, digest = $5,"
		" version = version + 1, updated_at = now()"
		" WHERE ns = $1 AND key = $2 RETURNING version)"
		" SELECT version, pg_notify($6, $7) FROM u";
	/* One row per asked key, in the order asked: its index, whether the
	 * server has it, and its page unless hash and digest are equal.  One
	 * index probe per key whatever the table's statistics say: a plain
	 * join was planned as a hash join over the whole namespace until the
	 * first ANALYZE (3-4x slower), and so is a LATERAL subquery, which
	 * the planner flattens into the same join unless a LIMIT stops it. */
	static const char sql_reval[] =
		"SELECT c.i, t.hash IS NULL,"
		" CASE WHEN t.hash = c.h AND t.digest = c.d THEN NULL ELSE t.page END"
		" FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY"
		" AS c(k, h, d, i)"
		" LEFT JOIN LATERAL (SELECT p.page, p.hash, p.digest FROM @pages@ p"
		" WHERE p.ns = $1 AND p.key = c.k AND p.page IS NOT NULL LIMIT 1) t ON true"
		" ORDER BY c.i";
	struct pg_pager *pg = pg_of(p);
	char *table = NULL, *applied;
	struct buf b = {0};
	int rc;

	rc = pager_opt_timeout(p, PG_DEFAULT_TIMEOUT_MS, &pg->timeout_ms, err);
	if (!rc)
		rc = opt_string(p, "conninfo", "", 0, &pg->conninfo, err);
	/* "_applied" must fit beside the table's name in 63 bytes. */
	if (!rc)
		rc = opt_string(p, "table", "flokvm_pages", PG_NAME_MAX - 8, &table, err);
	if (!rc)
		rc = opt_string(p, "channel", "flokvm", PG_NAME_MAX, &pg->channel, err);
	if (rc) {
		free(table);
		pg_close(p);
		return rc;
	}
	buf_printf(&b, "%s_applied", table);
	applied = buf_detach(&b);
	pg->pages_q = quote_ident(table);
	pg->applied_q = quote_ident(applied);
	free(table);
	free(applied);
	pg->sql_tables = buf_strdup("SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL");
	buf_printf(&b, "BEGIN; SELECT pg_advisory_xact_lock(" PG_DDL_LOCK "); %s; COMMIT",
		   postgres_sql);
	pg->sql_ddl = fill_names(pg, b.p);
	buf_release(&b);
	pg->sql_read = fill_names(pg, sql_read);
	pg->sql_lock = fill_names(pg, sql_lock);
	pg->sql_store = fill_names(pg, sql_store);
	pg->sql_reval = fill_names(pg, sql_reval);
	{
		char *ch = quote_ident(pg->channel);

		buf_printf(&b, "LISTEN %s", ch);
		pg->listen_sql = buf_detach(&b);
		free(ch);
	}
	return FK_OK;
}

/* Forgets the connection; the next call reconnects.  A feed that was
 * listening has missed whatever was announced meanwhile. */
static void pg_drop(struct pg_pager *pg)
{
	if (pg->conn)
		pg->pq->finish(pg->conn);
	pg->conn = NULL;
	if (pg->listening)
		pg->lost = true;
	pg->listening = false;
}

/* Sets the next attempt after a failure: 0.5 s, doubling up to 30 s. */
static void pg_backoff(struct pg_pager *pg)
{
	pg->backoff_ms = pg->backoff_ms ? pg->backoff_ms * 2 : PG_BACKOFF_FIRST_MS;
	if (pg->backoff_ms > PG_BACKOFF_MAX_MS)
		pg->backoff_ms = PG_BACKOFF_MAX_MS;
	pg->retry_at = mono_ms() + pg->backoff_ms;
}

/* libpq's notices (NOTICE from CREATE TABLE IF NOT EXISTS, "message
 * arrived while idle" when a server shuts down) would go to our stderr;
 * a lost connection is reported through the calls that notice it. */
static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Queues the announcements that arrived, keeping our namespace's keys. */
static void pg_collect(struct pg_pager *pg)
{
	struct json_opts o = {.max_depth = 2, .allow_empty = 0};
	PGnotify *n;

	while (pg->conn && (n = pg->pq->notifies(pg->conn))) {
		cJSON *msg = NULL, *ns, *key;
		struct fk_err ignored;

		if (!json_parse(n->extra, strlen(n->extra), &o, &msg, &ignored) &&
		    cJSON_IsString(ns = cJSON_GetObjectItemCaseSensitive(msg, "ns")) &&
		    cJSON_IsString(key = cJSON_GetObjectItemCaseSensitive(msg, "key")) &&
		    !strcmp(ns->valuestring, pg->base.conf->ns))
			pager_notices_add(&pg->queued, key->valuestring);
		cJSON_Delete(msg);
		pg->pq->freemem(n);
	}
}

/* Waits until the socket is ready for events or the deadline passes:
 * 1 ready, 0 timed out. */
static int pg_wait(struct pg_pager *pg, short events, long long deadline)
{
	struct pollfd pfd = {.fd = pg->pq->socket(pg->conn), .events = events};

	for (;;) {
		long long left = deadline - mono_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return 1; /* let libpq find out what is wrong */
	}
}

/* The connection failed under us: its message as one line, then drop it. */
static int pg_conn_failed(struct pg_pager *pg, const char *op, const char *key,
			  const char *what, struct fk_err *err)
{
	struct buf m = {0};
	int rc;

	buf_add_one_line(&m, pg->pq->errorMessage(pg->conn));
	if (!m.len)
		buf_adds(&m, "the connection was closed");
	rc = pager_fail(&pg->base, op, key, FK_ERUNTIME, err, "%s: %s", what, m.p);
	buf_release(&m);
	pg_drop(pg);
	return rc;
}

/*
 * Sends what libpq holds and collects the results of the statement just
 * sent, within timeout_ms.  *out is its (last) result, which the caller
 * clears; on an error the first error's message fills err.  At the
 * deadline the statement is cancelled and the connection dropped: its
 * state is unknown.
 */
static int pg_result(struct pg_pager *pg, const char *op, const char *key,
		     const char *what, PGresult **out, struct fk_err *err)
{
	const struct pq_api *pq = pg->pq;
	long long deadline = mono_ms() + pg->timeout_ms;
	PGresult *last = NULL, *res;
	int f;

	*out = NULL;
	while ((f = pq->flush(pg->conn)) != 0) {
		if (f < 0)
			return pg_conn_failed(pg, op, key, what, err);
		if (!pg_wait(pg, POLLIN | POLLOUT, deadline))
			goto timeout;
		if (!pq->consumeInput(pg->conn))
			return pg_conn_failed(pg, op, key, what, err);
	}
	for (;;) {
		while (pq->isBusy(pg->conn)) {
			if (!pg_wait(pg, POLLIN, deadline))
				goto timeout;
			if (!pq->consumeInput(pg->conn)) {
				pq->clear(last);
				return pg_conn_failed(pg, op, key, what, err);
			}
		}
		res = pq->getResult(pg->conn);
		if (!res)
			break;
		/* Keep the first error of a multi-statement string. */
		if (last && pq->resultStatus(last) == PGRES_FATAL_ERROR) {
			pq->clear(res);
		} else {
			pq->clear(last);
			last = res;
		}
	}
	pg_collect(pg);
	if (!last)
		return pg_conn_failed(pg, op, key, what, err);
	if (pq->resultStatus(last) != PGRES_COMMAND_OK &&
	    pq->resultStatus(last) != PGRES_TUPLES_OK) {
		struct buf m = {0};
		int rc;

		buf_add_one_line(&m, pq->resultErrorMessage(last));
		rc = pager_fail(&pg->base, op, key, FK_ERUNTIME, err, "%s: %s", what, m.p);
		buf_release(&m);
		pq->clear(last);
		if (pq->status(pg->conn) != CONNECTION_OK)
			pg_drop(pg);
		return rc;
	}
	*out = last;
	return FK_OK;
timeout:
	pq->clear(last);
	{
		PGcancel *c = pq->getCancel(pg->conn);
		char ebuf[256];

		if (c) {
			pq->cancel(c, ebuf, sizeof(ebuf));
			pq->freeCancel(c);
		}
	}
	pg_drop(pg);
	return pager_fail(&pg->base, op, key, FK_ERUNTIME, err, "%s: no answer from PostgreSQL within %d ms (options.timeout_ms)",
		       what, pg->timeout_ms);
}

/* Runs one statement with text parameters (NULL: SQL NULL). */
static int pg_run(struct pg_pager *pg, const char *op, const char *key,
		  const char *what, const char *sql, int n,
		  const char *const *vals, PGresult **out, struct fk_err *err)
{
	PGresult *res = NULL;
	int rc;

	if (!pg->pq->sendQueryParams(pg->conn, sql, n, NULL, vals, NULL, NULL, 0))
		return pg_conn_failed(pg, op, key, what, err);
	rc = pg_result(pg, op, key, what, &res, err);
	if (out)
		*out = res;
	else
		pg->pq->clear(res);
	return rc;
}

/* Creates the tables unless both are there (postgres.sql). */
static int pg_tables(struct pg_pager *pg, const char *op, const char *key,
		     struct fk_err *err)
{
	const char *vals[2] = {pg->pages_q, pg->applied_q};
	PGresult *res = NULL;
	bool there;
	int rc;

	rc = pg_run(pg, op, key, "looking for the tables", pg->sql_tables, 2, vals,
		    &res, err);
	if (rc)
		return rc;
	there = pg->pq->ntuples(res) == 1 && !strcmp(pg->pq->getvalue(res, 0, 0), "t");
	pg->pq->clear(res);
	if (!there) {
		if (!pg->pq->sendQuery(pg->conn, pg->sql_ddl))
			return pg_conn_failed(pg, op, key, "creating the tables", err);
		rc = pg_result(pg, op, key, "creating the tables", &res, err);
		pg->pq->clear(res);
		if (rc)
			return rc;
	}
	pg->tables_ready = true;
	return FK_OK;
}

/*
 * Opens a connection unless a good one is open -- and unless the last
 * attempt failed less than the backoff ago, in which case it fails at
 * once with that attempt's reason.
 */
static int pg_open(struct pg_pager *pg, const char *op, const char *key,
		   struct fk_err *err)
{
	const struct pq_api *pq = pg->pq;
	char timeout[16];
	/* Ours first, then the user's conninfo (it may set connect_timeout
	 * or application_name), then what must hold: the merge works on
	 * UTF-8, whatever the server's or the environment's encoding. */
	const char *kw[] = {"connect_timeout", "application_name", "dbname",
			    "client_encoding", NULL};
	const char *val[5];
	struct buf m = {0};
	long long now;

	if (pg->conn && pq->status(pg->conn) == CONNECTION_OK)
		return FK_OK;
	pg_drop(pg);
	now = mono_ms();
	if (now < pg->retry_at)
		return pager_fail(&pg->base, op, key, FK_ERUNTIME, err,
			       "cannot connect to PostgreSQL: %s (next attempt in %.1f s)",
			       pg->down, (double)(pg->retry_at - now) / 1000.0);
	/* libpq counts whole seconds and takes less than 2 as 2. */
	snprintf(timeout, sizeof(timeout), "%d", (pg->timeout_ms + 999) / 1000);
	val[0] = timeout;
	val[1] = "flokvm";
	val[2] = pg->conninfo; /* "" : libpq's PG* environment */
	val[3] = "UTF8";
	val[4] = NULL;
	pg->conn = pq->connectdbParams(kw, val, 1);
	if (!pg->conn)
		abort(); /* libpq's out of memory */
	if (pq->status(pg->conn) != CONNECTION_OK) {
		buf_add_one_line(&m, pq->errorMessage(pg->conn));
		snprintf(pg->down, sizeof(pg->down), "%s", m.len ? m.p : "connection failed");
		buf_release(&m);
		pq->finish(pg->conn);
		pg->conn = NULL;
		pg_backoff(pg);
		return pager_fail(&pg->base, op, key, FK_ERUNTIME, err,
			       "cannot connect to PostgreSQL: %s", pg->down);
	}
	pq->setNoticeProcessor(pg->conn, ignore_notice, NULL);
	pq->setnonblocking(pg->conn, 1);
	pg->backoff_ms = 0;
	pg->retry_at = 0;
	return FK_OK;
}

/*
 * Makes the connection ready for op: open (pg_open), its tables checked
 * once per process, and LISTEN active if a watch wants the feed -- also
 * on a connection that a read opened before the watch asked.
 */
static int pg_connect(struct pg_pager *pg, const char *op, const char *key,
		      struct fk_err *err)
{
	int rc = pq_load(&pg->pq, err);

	if (rc)
		return pager_fail(&pg->base, op, key, rc, err, "%s", err->msg);
	rc = pg_open(pg, op, key, err);
	if (!rc && !pg->tables_ready)
		rc = pg_tables(pg, op, key, err);
	if (!rc && pg->listen_wanted && !pg->listening) {
		rc = pg_run(pg, op, key, "LISTEN", pg->listen_sql, 0, NULL, NULL, err);
		pg->listening = !rc;
	}
	return rc;
}

/* CRC-32 of a page's whole text, as decimal: tells copies with equal
 * hashes apart when their payload keys differ. */
static void text_digest(const char *text, char out[11])
{
	uLong c = crc32(0L, (const Bytef *)text, (uInt)strlen(text));

	snprintf(out, 11, "%lu", (unsigned long)c);
}

/* Parses the server's copy of a page into ans (the vm validates it). */
static int pg_answer_page(struct pg_pager *pg, const char *op, const char *key,
			  const char *text, struct pager_answer *ans,
			  struct fk_err *err)
{
	struct json_opts o = {.max_depth = PAGE_STORED_MAX_DEPTH, .allow_empty = 0};
	struct fk_err perr;

	if (json_parse(text, strlen(text), &o, &ans->page, &perr))
		return pager_fail(&pg->base, op, key, FK_ERUNTIME, err,
			       "the server's copy is not JSON: %s", perr.msg);
	ans->verdict = PAGER_PAGE;
	return FK_OK;
}

static int pg_read(struct pager *p, const char *key, const char *cached,
		   const char *hash, struct pager_answer *ans,
		   struct fk_err *err)
{
	struct pg_pager *pg = pg_of(p);
	char digest[11];
	const char *vals[4] = {p->conf->ns, key, hash, NULL};
	PGresult *res = NULL;
	int rc;

	if (cached) {
		text_digest(cached, digest);
		vals[3] = digest;
	}
	rc = pg_connect(pg, "read", key, err);
	if (!rc)
		rc = pg_run(pg, "read", key, "reading the page", pg->sql_read, 4, vals,
			    &res, err);
	if (rc)
		return rc;
	if (pg->pq->ntuples(res) == 0)
		ans->verdict = PAGER_GONE;
	else if (pg->pq->getisnull(res, 0, 0))
		ans->verdict = PAGER_NOT_MODIFIED;
	else
		rc = pg_answer_page(pg, "read", key, pg->pq->getvalue(res, 0, 0), ans, err);
	pg->pq->clear(res);
	return rc;
}

/*
 * The authority's merge: replays changes onto cur (the server's copy's
 * text, or NULL: an empty page named key), then validates, normalises
 * (stamping entries whose content changed under an equal timestamp, so
 * that the hash shows the change) and hashes the result.  FK_EDATA (a
 * rejection) if the changes do not apply or make an invalid page;
 * FK_ERUNTIME if the server's own copy is broken.
 */
static int pg_merge(const struct pg_pager *pg, const char *key, const char *cur,
		    const cJSON *changes, cJSON **out, struct fk_err *err)
{
	struct json_opts o = {.max_depth = PAGE_STORED_MAX_DEPTH, .allow_empty = 0};
	cJSON *base = NULL, *merged = NULL;
	struct fk_err perr;
	int rc = FK_OK;

	*out = NULL;
	if (cur) {
		if (json_parse(cur, strlen(cur), &o, &base, &perr) ||
		    page_validate(base, key, PAGE_FROM_PAGER, &perr))
			rc = pager_fail(&pg->base, "sync", key, FK_ERUNTIME, err,
				     "the server's copy is not a valid page: %s", perr.msg);
	} else {
		base = cJSON_CreateObject();
		if (!base || !cJSON_AddStringToObject(base, "_uuid", key) ||
		    !cJSON_AddArrayToObject(base, "entries"))
			abort();
	}
	if (!rc) {
		merged = cJSON_Duplicate(base, 1);
		if (!merged)
			abort();
		if (diff_replay(merged, changes, &perr) ||
		    page_validate(merged, key, PAGE_FROM_PAGER, &perr))
			rc = pager_fail(&pg->base, "sync", key, FK_EDATA, err,
				     "the pushed changes do not apply: %s", perr.msg);
	}
	if (!rc) {
		page_normalise(merged, cur ? base : NULL, page_now_ms());
		*out = merged;
		merged = NULL;
	}
	cJSON_Delete(base);
	cJSON_Delete(merged);
	return rc;
}

/* Stores merged as (ns, key) and announces it; the row is locked. */
static int pg_store(struct pg_pager *pg, const char *key, const char *text,
		    const cJSON *merged, struct fk_err *err)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(merged, "_hash");
	struct buf note = {0};
	char digest[11];
	const char *vals[7];
	int rc;

	text_digest(text, digest);
	buf_adds(&note, "{\"ns\":");
	json_write_string(&note, pg->base.conf->ns);
	buf_adds(&note, ",\"key\":");
	json_write_string(&note, key);
	buf_adds(&note, ",\"hash\":");
	json_write_string(&note, h->valuestring);
	buf_addc(&note, '}');
	vals[0] = pg->base.conf->ns;
	vals[1] = key;
	vals[2] = text;
	vals[3] = h->valuestring;
	vals[4] = digest;
	vals[5] = pg->channel;
	vals[6] = note.p;
	rc = pg_run(pg, "sync", key, "storing the page", pg->sql_store, 7, vals, NULL, err);
	buf_release(&note);
	return rc;
}

/*
 * The push, in one server transaction (SPEC §9): record the changes_id
 * and lock the row; a changes_id seen before answers the current page
 * and applies nothing; else merge, store, NOTIFY, commit.  The answer is
 * {page, changes_id} either way.
 */
static int pg_sync(struct pager *p, const char *key, const cJSON *push,
		   struct pager_answer *ans, struct fk_err *err)
{
	struct pg_pager *pg = pg_of(p);
	const cJSON *changes = cJSON_GetObjectItemCaseSensitive(push, "changes");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(push, "changes_id");
	const char *vals[3] = {p->conf->ns, key, NULL};
	struct buf text = {0};
	cJSON *merged = NULL;
	PGresult *res = NULL;
	char *cur = NULL;
	bool fresh = false;
	int rc;

	if (!cJSON_IsString(id) || !cJSON_IsArray(changes))
		return pager_fail(&pg->base, "sync", key, FK_ERUNTIME, err,
			       "the push has no changes_id or changes");
	vals[2] = id->valuestring;
	rc = pg_connect(pg, "sync", key, err);
	if (!rc)
		rc = pg_run(pg, "sync", key, "BEGIN", "BEGIN", 0, NULL, NULL, err);
	if (rc)
		return rc;
	rc = pg_run(pg, "sync", key, "locking the page", pg->sql_lock, 3, vals, &res, err);
	if (!rc && pg->pq->ntuples(res) != 1)
		rc = pager_fail(&pg->base, "sync", key, FK_ERUNTIME, err, "locking the page: no row");
	if (!rc) {
		cur = pg->pq->getisnull(res, 0, 0) ? NULL : buf_strdup(pg->pq->getvalue(res, 0, 0));
		fresh = strcmp(pg->pq->getvalue(res, 0, 1), "0") != 0;
	}
	pg->pq->clear(res);
	if (!rc && fresh) {
		rc = pg_merge(pg, key, cur, changes, &merged, err);
		if (!rc)
			page_write(&text, merged);
		/* Every machine would refuse a copy over the page limit. */
		if (!rc && text.len > pg->base.max_page_bytes)
			rc = pager_fail(&pg->base, "sync", key, FK_EDATA, err,
				     "the merged page would be %zu bytes, over the limit of %zu",
				     text.len, pg->base.max_page_bytes);
		/* An unchanged page is not stored again, nor announced; the
		 * commit still records the id. */
		if (!rc && (!cur || strcmp(text.p, cur)))
			rc = pg_store(pg, key, text.p, merged, err);
	}
	if (!rc && pg->conn)
		rc = pg_run(pg, "sync", key, "COMMIT", fresh ? "COMMIT" : "ROLLBACK", 0,
			    NULL, NULL, err);
	else if (pg->conn) /* keep err: it says what went wrong */
		pg_run(pg, "sync", key, "ROLLBACK", "ROLLBACK", 0, NULL, NULL,
		       &(struct fk_err){{0}});
	if (!rc && fresh) {
		ans->verdict = PAGER_PAGE;
		ans->page = merged;
		merged = NULL;
	} else if (!rc && cur) {
		rc = pg_answer_page(pg, "sync", key, cur, ans, err);
	} else if (!rc) {
		ans->verdict = PAGER_NOT_MODIFIED; /* applied, but no page: accepted */
	}
	if (!rc)
		ans->changes_id = buf_strdup(id->valuestring);
	cJSON_Delete(merged);
	buf_release(&text);
	free(cur);
	return rc;
}

/* Appends a PostgreSQL array literal of texts (NULL elements allowed). */
static void add_array(struct buf *b, const char *const *v, size_t n)
{
	buf_addc(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(b, ',');
		if (!v[i]) {
			buf_adds(b, "NULL");
			continue;
		}
		buf_addc(b, '"');
		for (const char *s = v[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				buf_addc(b, '\\');
			buf_addc(b, *s);
		}
		buf_addc(b, '"');
	}
	buf_addc(b, '}');
}

/* All of keys in one query: the server compares hashes and digests and
 * sends only the pages that differ (SPEC §9, `sync` refresh). */
static int pg_revalidate(struct pager *p, const char *const *keys,
			 const char *const *cached, const char *const *hashes,
			 size_t n, struct pager_answer *answers,
			 struct fk_err *err)
{
	struct pg_pager *pg = pg_of(p);
	struct buf k = {0}, h = {0}, d = {0};
	const char **digests = calloc(n ? n : 1, sizeof(*digests));
	char (*dig)[11] = calloc(n ? n : 1, sizeof(*dig));
	const char *vals[4];
	PGresult *res = NULL;
	int rc, rows = 0;

	if (!digests || !dig)
		abort();
	memset(answers, 0, n * sizeof(*answers)); /* releasable if we fail */
	for (size_t i = 0; i < n; i++) {
		if (cached[i]) {
			text_digest(cached[i], dig[i]);
			digests[i] = dig[i];
		}
	}
	add_array(&k, keys, n);
	add_array(&h, hashes, n);
	add_array(&d, digests, n);
	vals[0] = p->conf->ns;
	vals[1] = k.p;
	vals[2] = h.p;
	vals[3] = d.p;
	rc = pg_connect(pg, "revalidate", NULL, err);
	if (!rc)
		rc = pg_run(pg, "revalidate", NULL, "comparing hashes", pg->sql_reval, 4,
			    vals, &res, err);
	if (!rc) {
		rows = pg->pq->ntuples(res);
		if ((size_t)rows != n)
			rc = pager_fail(&pg->base, "revalidate", NULL, FK_ERUNTIME, err,
				     "asked for %zu pages, got %d rows", n, rows);
	}
	for (int r = 0; !rc && r < rows; r++) {
		long i = strtol(pg->pq->getvalue(res, r, 0), NULL, 10) - 1;
		struct pager_answer *a;

		if (i < 0 || (size_t)i >= n) {
			rc = pager_fail(&pg->base, "revalidate", NULL, FK_ERUNTIME, err,
				     "row %d has no page index", r);
			break;
		}
		a = &answers[i];
		memset(a, 0, sizeof(*a));
		if (!strcmp(pg->pq->getvalue(res, r, 1), "t"))
			a->verdict = PAGER_GONE;
		else if (pg->pq->getisnull(res, r, 2))
			a->verdict = PAGER_NOT_MODIFIED;
		else
			rc = pg_answer_page(pg, "revalidate", keys[i],
					    pg->pq->getvalue(res, r, 2), a, err);
	}
	if (rc)
		for (size_t i = 0; i < n; i++)
			pager_answer_release(&answers[i]);
	if (res)
		pg->pq->clear(res);
	buf_release(&k);
	buf_release(&h);
	buf_release(&d);
	free(digests);
	free(dig);
	return rc;
}

/* Appends text to err's message (cut at its size); FK_ERUNTIME. */
static int append(struct fk_err *err, const char *text)
{
	size_t len = strlen(err->msg);

	snprintf(err->msg + len, sizeof(err->msg) - len, "%s", text);
	return FK_ERUNTIME;
}

static int pg_poll_fd(struct pager *p, int *wake_ms)
{
	struct pg_pager *pg = pg_of(p);
	long long left;

	pg->listen_wanted = true;
	if (pg->queued.n) {
		*wake_ms = 0;
	} else if (pg->conn && pg->listening) {
		*wake_ms = -1;
	} else {
		left = pg->retry_at - mono_ms();
		*wake_ms = left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
	}
	return pg->conn && pg->listening ? pg->pq->socket(pg->conn) : -1;
}

/*
 * The feed: connects and LISTENs when needed (after a loss, with backoff,
 * then asks for a refresh of everything, as announcements were missed),
 * else reads what arrived.  Announced keys of our namespace go to out.
 */
static int pg_drain(struct pager *p, struct pager_notices *out,
		    struct fk_err *err)
{
	struct pg_pager *pg = pg_of(p);
	int rc;

	pg->listen_wanted = true;
	if (pg->conn && pg->listening) {
		if (!pg->pq->consumeInput(pg->conn) ||
		    pg->pq->status(pg->conn) != CONNECTION_OK) {
			pg_conn_failed(pg, "listen", NULL,
				       "lost the connection to PostgreSQL", err);
			/* The first attempt at once: a restart may be quick. */
			pg->retry_at = 0;
			pg->backoff_ms = 0;
			return append(err, "; reconnecting");
		}
		pg_collect(pg);
	} else if (mono_ms() >= pg->retry_at) {
		bool was_lost = pg->lost;
		char again[64];

		rc = pg_connect(pg, "listen", NULL, err);
		if (rc) {
			if (pg->conn)
				pg_drop(pg);
			if (!pg->retry_at)
				pg_backoff(pg);
			pg->lost = true;
			snprintf(again, sizeof(again), "; reconnecting in %.1f s",
				 (double)pg->backoff_ms / 1000.0);
			return append(err, again);
		}
		if (was_lost) {
			out->all = true;
			snprintf(out->note, sizeof(out->note),
				 "pager \"%s\" (namespace \"%s\"): reconnected to PostgreSQL; refreshing the cached pages",
				 p->conf->name, p->conf->ns);
		}
		pg->lost = false;
	}
	out->keys = pg->queued.keys;
	out->n = pg->queued.n;
	out->cap = pg->queued.cap;
	memset(&pg->queued, 0, sizeof(pg->queued));
	return FK_OK;
}

static void pg_close(struct pager *p)
{
	struct pg_pager *pg = pg_of(p);

	if (pg->conn)
		pg->pq->finish(pg->conn);
	pg->conn = NULL;
	free(pg->conninfo);
	free(pg->channel);
	free(pg->pages_q);
	free(pg->applied_q);
	free(pg->sql_tables);
	free(pg->sql_ddl);
	free(pg->sql_read);
	free(pg->sql_lock);
	free(pg->sql_store);
	free(pg->sql_reval);
	free(pg->listen_sql);
	pager_notices_release(&pg->queued);
}

const struct pager_ops postgres_pager_ops = {
	.type = "postgres",
	.size = sizeof(struct pg_pager),
	.pushes = true,
	.init = pg_init,
	.read = pg_read,
	.sync = pg_sync,
	.close = pg_close,
	.poll_fd = pg_poll_fd,
	.drain = pg_drain,
	.revalidate = pg_revalidate,
};
