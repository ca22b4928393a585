/*
 * watch.c - registration, liveness, the change feed and the wake-ups of
 * `watch` (see watch.h).
 *
 * Waking: an inotify watch on the database's WAL file wakes the watcher
 * when any process writes a frame.  A frame is written (and fsynced) before
 * the commit becomes visible to readers, so a wake-up is followed by quick
 * re-checks at 0.2, 0.4, 0.8 ... 51.2 ms; an idle watcher otherwise
 * re-checks only every IDLE_MS as a safety net.  Each check is
 * one `PRAGMA data_version` (a couple of microseconds); the change log is
 * read only when it moved.  Without inotify the check runs every POLL_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "page.h"
#include "watch.h"

#define IDLE_MS 250          /* safety-net re-check of an idle watcher */
#define POLL_MS 10           /* re-check interval without inotify */
#define BURST_FIRST_US 200   /* after a wake-up, re-check after 0.2 ms, */
#define BURST_LAST_US 64000  /* doubling each time while below 64 ms */

struct snap_page {
	char *key;
	char *page;  /* NULL: invalidated */
	int64_t seq;
};

struct vm_watch {
	struct vm *vm;
	struct pager *pager;
	char *ns;
	char **keys;          /* sorted; NULL when watching the namespace */
	size_t nkeys;
	bool *first;          /* per key (or [0] for the namespace): we came first */
	struct watch_opts opts;
	char *dir;            /* DB-watchers */
	char *lock_name;      /* our lock file's name inside dir */
	int lock_fd;          /* held flock: we are alive */
	int registry_fd;      /* held flock on registry.lock, or -1 */
	bool registered;
	int64_t last;         /* newest sequence number handled */
	int64_t data_version;
	bool force_check;     /* our own connection committed: data_version is blind to it */
	struct snap_page *snap;
	size_t nsnap;
	struct snap_page *prev; /* with keep_prev: the last copy shown, by key */
	size_t nprev, capprev;
	int ino_fd;           /* inotify on the WAL, or -1 */
	bool feed_started;    /* the pager's feed (drain) was read once */
	bool feed_due;        /* it has input, or asked to be drained */
	long long burst_us;   /* next quick re-check after a wake-up; 0: idle */
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		abort();
	return p;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is key one of the watched pages? */
static bool watched(const struct vm_watch *w, const char *key)
{
	return !w->keys || bsearch(&key, w->keys, w->nkeys, sizeof(char *), cmp_str);
}

/* ---- lock files ---------------------------------------------------- */

static int lock_path(const struct vm_watch *w, const char *name, char *out,
		     size_t n)
{
	return snprintf(out, n, "%s/%s", w->dir, name) < (int)n ? 0 : -1;
}

/* Creates DB-watchers (0700) and takes the registry lock (blocking). */
static int registry_lock(struct vm_watch *w, struct fk_err *err)
{
	char path[4096];

	if (mkdir(w->dir, 0700) && errno != EEXIST)
		return fk_fail(err, FK_ERUNTIME, "cannot create '%s': %s", w->dir,
			       strerror(errno));
	lock_path(w, "registry.lock", path, sizeof(path));
	w->registry_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (w->registry_fd < 0)
		return fk_fail(err, FK_ERUNTIME, "cannot open '%s': %s", path,
			       strerror(errno));
	while (flock(w->registry_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return fk_fail(err, FK_ERUNTIME, "cannot lock '%s': %s", path,
				       strerror(errno));
	return FK_OK;
}

static void registry_unlock(struct vm_watch *w)
{
	if (w->registry_fd >= 0)
		close(w->registry_fd); /* closing releases the flock */
	w->registry_fd = -1;
}

/* Creates our own lock file and holds an flock on it for our lifetime. */
static int own_lock(struct vm_watch *w, struct fk_err *err)
{
	unsigned char r[8];
	char name[32], path[4096];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return fk_fail(err, FK_ERUNTIME, "no random bytes: %s", strerror(errno));
	snprintf(name, sizeof(name), "w-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1],
		 r[2], r[3], r[4], r[5], r[6], r[7]);
	lock_path(w, name, path, sizeof(path));
	w->lock_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->lock_fd < 0 || flock(w->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return fk_fail(err, FK_ERUNTIME, "cannot create lock file '%s': %s", path,
			       strerror(errno));
	w->lock_name = buf_strdup(name);
	return FK_OK;
}

/* A lock file nobody holds (or that is gone) belongs to a dead watcher. */
static bool lock_is_stale(const struct vm_watch *w, const char *name)
{
	char path[4096];
	int fd, stale;

	if (strchr(name, '/') || lock_path(w, name, path, sizeof(path)))
		return true;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	stale = flock(fd, LOCK_EX | LOCK_NB) == 0;
	close(fd);
	return stale;
}

/* ---- registration -------------------------------------------------- */

struct page_list {
	char **ns, **key;  /* key NULL: a namespace watch */
	size_t n, cap;
};

static int add_page(void *ctx, const char *ns, const char *key)
{
	struct page_list *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->ns = realloc(l->ns, l->cap * sizeof(char *));
		l->key = realloc(l->key, l->cap * sizeof(char *));
		if (!l->ns || !l->key)
			abort();
	}
	l->ns[l->n] = buf_strdup(ns);
	l->key[l->n] = buf_strdup(key);
	l->n++;
	return 0;
}

static void page_list_free(struct page_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->ns[i]);
		free(l->key[i]);
	}
	free(l->ns);
	free(l->key);
	memset(l, 0, sizeof(*l));
}

/*
 * Removes the rows of the watcher owning lock file `name` and calls the
 * pager's unwatch for each of its pages that nobody watches any more.
 * Called with the registry lock held.  Pager errors are kept in err but do
 * not stop the unregistering.
 */
static int unregister(struct vm_watch *w, const char *name, struct fk_err *err)
{
	struct db *db = w->vm->db;
	struct page_list pages = {0};
	bool *last;
	int rc, prc = FK_OK;

	rc = db_begin(db, true, err);
	if (!rc)
		rc = db_watcher_pages(db, name, add_page, &pages, err);
	if (!rc)
		rc = db_watcher_remove(db, name, err);
	last = xcalloc(pages.n, sizeof(bool));
	for (size_t i = 0; !rc && i < pages.n; i++) {
		int64_t n = 0;

		rc = db_watcher_count(db, pages.ns[i], pages.key[i], &n, err);
		last[i] = n == 0;
	}
	if (!rc)
		rc = db_commit(db, err);
	else
		db_rollback(db);
	/* The transaction is over: now the pagers may run. */
	for (size_t i = 0; !rc && i < pages.n; i++) {
		struct pager *p;
		struct fk_err perr;
		int r;

		if (!last[i] || vm_pager(w->vm, pages.ns[i], NULL, &p, &perr) ||
		    !p->ops->unwatch)
			continue;
		r = p->ops->unwatch(p, pages.key[i], NULL, &perr);
		if (r && !prc) {
			prc = r;
			*err = perr;
		}
	}
	free(last);
	page_list_free(&pages);
	return rc ? rc : prc;
}

static int collect_lock(void *ctx, const char *lock)
{
	return add_page(ctx, lock, NULL);
}

/* Unregisters every watcher whose lock file is not held.  Registry lock
 * held.  Failures to tell a pager are ignored here: reaping must go on. */
static int reap(struct vm_watch *w, struct fk_err *err)
{
	struct page_list locks = {0};
	int rc = db_watcher_locks(w->vm->db, collect_lock, &locks, err);

	for (size_t i = 0; !rc && i < locks.n; i++) {
		char path[4096];
		struct fk_err ignored;

		if (!lock_is_stale(w, locks.ns[i]))
			continue;
		rc = unregister(w, locks.ns[i], &ignored);
		if (rc == FK_ETEMP || (rc && rc != FK_ERUNTIME)) {
			*err = ignored;
			break;
		}
		rc = FK_OK;
		if (!strchr(locks.ns[i], '/') && !lock_path(w, locks.ns[i], path, sizeof(path)))
			unlink(path);
	}
	page_list_free(&locks);
	return rc;
}

/* Inserts our rows and records which pages we are the first to watch. */
static int register_rows(struct vm_watch *w, struct fk_err *err)
{
	struct db *db = w->vm->db;
	size_t n = w->keys ? w->nkeys : 1;
	int rc = FK_OK;

	for (size_t i = 0; !rc && i < n; i++) {
		const char *key = w->keys ? w->keys[i] : NULL;
		int64_t count = 0;

		rc = db_watcher_count(db, w->ns, key, &count, err);
		if (!rc)
			rc = db_watcher_add(db, w->ns, key, w->lock_name, err);
		w->first[i] = count == 0;
	}
	return rc;
}

/* ---- the snapshot and the change feed ------------------------------ */

static void snap_add(struct snap_page **arr, size_t *n, size_t *cap,
		     const char *key, const char *page, int64_t seq)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*arr = realloc(*arr, *cap * sizeof(**arr));
		if (!*arr)
			abort();
	}
	(*arr)[*n].key = buf_strdup(key);
	(*arr)[*n].page = buf_strdup(page);
	(*arr)[*n].seq = seq;
	(*n)++;
}

static void snap_free(struct snap_page *arr, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(arr[i].key);
		free(arr[i].page);
	}
	free(arr);
}

struct snap_ctx {
	struct vm_watch *w;
	size_t cap;
};

static int snap_row(void *ctx, const char *ns, const struct db_row *row)
{
	struct snap_ctx *c = ctx;

	(void)ns;
	snap_add(&c->w->snap, &c->w->nsnap, &c->cap, row->key, row->page, row->seq);
	return 0;
}

/* Fails when changes after `after` were trimmed from the log. */
static int check_trimmed(struct vm_watch *w, int64_t after, int64_t newest,
			 struct fk_err *err)
{
	int64_t oldest;
	int rc = db_oldest_seq(w->vm->db, &oldest, err);

	if (rc || after >= newest)
		return rc;
	if (oldest == 0 || oldest > after + 1)
		return fk_fail(err, FK_EPRECOND,
			       "seq %lld no longer in the log (oldest %lld); re-read and resume",
			       (long long)after, (long long)(oldest ? oldest : newest + 1));
	return FK_OK;
}

/* Reads the cached copies and S0 in one read transaction. */
static int snapshot(struct vm_watch *w, struct fk_err *err)
{
	struct db *db = w->vm->db;
	struct snap_ctx c = {w, 0};
	int64_t newest = 0;
	int rc;

	rc = db_begin(db, false, err);
	if (!rc)
		rc = db_newest_seq(db, &newest, err);
	if (!rc && w->opts.since > newest)
		rc = fk_fail(err, FK_EDATA,
			     "--since %lld is above the newest sequence number %lld",
			     (long long)w->opts.since, (long long)newest);
	if (!rc && w->opts.since >= 0)
		rc = check_trimmed(w, w->opts.since, newest, err);
	if (!rc && w->opts.since < 0 && !w->keys)
		rc = db_each(db, w->ns, snap_row, &c, err);
	for (size_t i = 0; !rc && w->opts.since < 0 && w->keys && i < w->nkeys; i++) {
		struct db_row row;

		rc = db_get(db, w->ns, w->keys[i], &row, err);
		if (!rc && row.found)
			snap_add(&w->snap, &w->nsnap, &c.cap, w->keys[i], row.page, row.seq);
		db_row_release(&row);
	}
	db_rollback(db); /* ends the read transaction */
	w->last = w->opts.since >= 0 ? w->opts.since : newest;
	return rc;
}

int vm_watch_start(struct vm *vm, const char *ns, char *const *keys,
		   size_t nkeys, const struct watch_opts *opts,
		   struct vm_watch **out, struct fk_err *err)
{
	struct vm_watch *w = xcalloc(1, sizeof(*w));
	size_t dlen;
	char wal[4096];
	int rc;

	*out = NULL;
	w->vm = vm;
	w->opts = *opts;
	w->lock_fd = w->registry_fd = w->ino_fd = -1;
	w->ns = buf_strdup(ns);
	w->first = xcalloc(nkeys ? nkeys : 1, sizeof(bool));
	rc = vm_pager(vm, ns, NULL, &w->pager, err);
	if (nkeys) {
		w->keys = xcalloc(nkeys, sizeof(char *));
		for (size_t i = 0; i < nkeys; i++) {
			if (!rc)
				rc = page_check_name("key", keys[i], vm->set.max_key_bytes, err);
			w->keys[i] = buf_strdup(keys[i]);
		}
		qsort(w->keys, nkeys, sizeof(char *), cmp_str);
		/* The same key twice is one watch. */
		for (size_t i = 1; i < nkeys; i++)
			if (!strcmp(w->keys[i], w->keys[w->nkeys]))
				free(w->keys[i]);
			else
				w->keys[++w->nkeys] = w->keys[i];
		w->nkeys++;
	}
	/* A resume point above 0 on a database that does not exist yet is
	 * above its newest sequence number: say so without creating it. */
	if (!rc && opts->since > 0 && !(rc = vm_db(vm, false, err)) && !vm->db) {
		vm_watch_stop(w, NULL);
		return fk_fail(err, FK_EDATA, "--since %lld is above the newest sequence number 0",
			       (long long)opts->since);
	}
	if (!rc)
		rc = vm_db(vm, true, err);
	if (rc)
		goto fail;
	dlen = strlen(db_path(vm->db));
	w->dir = xcalloc(dlen + 10, 1);
	snprintf(w->dir, dlen + 10, "%s-watchers", db_path(vm->db));
	rc = registry_lock(w, err);
	if (!rc)
		rc = reap(w, err);
	if (!rc)
		rc = own_lock(w, err);
	if (!rc) {
		rc = snapshot(w, err);
		/* About the log, not the namespace: said as SPEC §4.2 words it. */
		if (rc == FK_EPRECOND || rc == FK_EDATA) {
			vm_watch_stop(w, NULL);
			return rc;
		}
	}
	if (!rc) {
		rc = db_begin(vm->db, true, err);
		if (!rc)
			rc = register_rows(w, err);
		if (!rc)
			rc = db_commit(vm->db, err);
		else
			db_rollback(vm->db);
		w->registered = rc == FK_OK;
	}
	if (!rc)
		rc = db_data_version(vm->db, &w->data_version, err);
	/* The first look at the log must happen whatever data_version says:
	 * --since may resume before changes committed long ago. */
	w->force_check = true;
	if (rc)
		goto fail;
	/* Wake-ups: inotify on the WAL, which stays while our connection is
	 * open.  Without it (no inotify, odd file systems) we poll. */
	snprintf(wal, sizeof(wal), "%s-wal", db_path(vm->db));
	w->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ino_fd >= 0 && inotify_add_watch(w->ino_fd, wal, IN_MODIFY) < 0) {
		close(w->ino_fd);
		w->ino_fd = -1;
	}
	*out = w;
	return FK_OK;
fail:
	vm_watch_stop(w, NULL);
	return fk_prefix(err, rc, "namespace \"%s\"", ns);
}

int vm_watch_reap(struct vm *vm, struct fk_err *err)
{
	struct vm_watch w = {.vm = vm, .lock_fd = -1, .registry_fd = -1, .ino_fd = -1};
	size_t dlen;
	int rc;

	if (!vm->db)
		return FK_OK;
	dlen = strlen(db_path(vm->db));
	w.dir = xcalloc(dlen + 10, 1);
	snprintf(w.dir, dlen + 10, "%s-watchers", db_path(vm->db));
	rc = registry_lock(&w, err);
	if (!rc)
		rc = reap(&w, err);
	registry_unlock(&w);
	free(w.dir);
	return rc;
}

int vm_watch_cached(struct vm_watch *w, watch_fn fn, void *ctx)
{
	for (size_t i = 0; i < w->nsnap; i++) {
		struct watch_event ev = {
			.key = w->snap[i].key,
			.page = w->snap[i].page,
			.seq = w->snap[i].seq,
			.cached = true,
		};
		int stop = fn(ctx, &ev);

		if (w->opts.keep_prev) {
			snap_add(&w->prev, &w->nprev, &w->capprev, ev.key, ev.page, ev.seq);
		}
		if (stop)
			return stop;
	}
	return 0;
}

int vm_watch_pager(struct vm_watch *w, struct fk_err *err)
{
	struct pager *p = w->pager;
	size_t n = w->keys ? w->nkeys : 1;
	int rc = FK_OK;

	for (size_t i = 0; i < n; i++) {
		const char *key = w->keys ? w->keys[i] : NULL;
		const char *hash = NULL;
		struct vm_page pg = {0};
		int r;

		if (!w->first[i] || !p->ops->watch)
			continue;
		/* The pager is told the cached hash, as for a read. */
		if (key && vm_cached(w->vm, w->ns, key, &pg, err) == FK_OK && pg.found)
			hash = pg.hash;
		r = p->ops->watch(p, key, hash, err);
		vm_page_release(&pg);
		if (r && !rc)
			rc = fk_prefix(err, r, "namespace \"%s\" watch", w->ns);
	}
	registry_unlock(w);
	/* The feed first (postgres: LISTEN), then the refresh: a change
	 * made in between is announced, not missed. */
	{
		struct fk_err ferr;
		int r = vm_watch_feed(w, &ferr);

		if (r && !rc) {
			rc = r;
			*err = ferr;
		}
	}
	for (size_t i = 0; w->keys && i < w->nkeys; i++) {
		struct vm_page pg;
		struct fk_err ferr;
		int r = vm_fault(w->vm, w->ns, w->keys[i], &pg, &ferr);

		if (pg.changed)
			w->force_check = true;
		vm_page_release(&pg);
		if (r && !rc) {
			rc = r;
			*err = ferr;
		}
	}
	return rc;
}

/* Keeps the first failure of a refresh for vm_watch_feed's caller. */
static void refresh_failed(void *ctx, int status, const char *msg)
{
	struct fk_err *err = ctx;

	if (status && !err->msg[0])
		snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

int vm_watch_feed(struct vm_watch *w, struct fk_err *err)
{
	struct pager *p = w->pager;
	struct pager_notices n = {0};
	int rc, first = FK_OK;

	if (!p->ops->drain || (w->feed_started && !w->feed_due))
		return FK_OK;
	w->feed_started = true;
	w->feed_due = false;
	rc = p->ops->drain(p, &n, err);
	if (rc) {
		pager_notices_release(&n);
		return rc;
	}
	if (n.note[0])
		vm_warn(w->vm, "%s", n.note);
	if (n.all) {
		struct fk_err ferr = {{0}};
		struct vm_sync_report r = {.failed = refresh_failed, .ctx = &ferr};
		struct vm_sync_stats st = {0};

		first = vm_refresh(w->vm, w->ns, &r, &st, &ferr);
		if (first)
			*err = ferr;
		if (st.changed)
			w->force_check = true;
		/* Watched pages that are not cached were missed as well (the
		 * refresh covered the cached ones). */
		for (size_t i = 0; w->keys && i < w->nkeys; i++) {
			struct vm_page pg = {0};
			struct fk_err ferr2;

			if (vm_cached(w->vm, w->ns, w->keys[i], &pg, &ferr2) == FK_OK && !pg.found)
				pager_notices_add(&n, w->keys[i]);
			vm_page_release(&pg);
		}
	}
	/* A namespace watcher takes every announced page; a keyed one its
	 * own keys and the pages already cached here, keeping the cache as
	 * fresh as the feed allows without filling it with strangers. */
	for (size_t i = 0; i < n.n; i++) {
		struct vm_page pg = {0};
		struct fk_err ferr;
		bool take = watched(w, n.keys[i]);

		if (!take && vm_cached(w->vm, w->ns, n.keys[i], &pg, &ferr) == FK_OK)
			take = pg.found;
		vm_page_release(&pg);
		if (!take)
			continue;
		rc = vm_fault(w->vm, w->ns, n.keys[i], &pg, &ferr);
		if (pg.changed)
			w->force_check = true;
		vm_page_release(&pg);
		if (rc && !first) {
			first = rc;
			*err = ferr;
		}
	}
	pager_notices_release(&n);
	return first;
}

/* One change of a watched page in this round. */
struct pending {
	char *key;
	int64_t seq;
};

struct feed_ctx {
	struct vm_watch *w;
	struct pending *p;
	size_t n, cap;
};

static int feed_change(void *ctx, int64_t seq, const char *key, const char *kind)
{
	struct feed_ctx *c = ctx;

	(void)kind;
	if (seq > c->w->last)
		c->w->last = seq;
	if (!watched(c->w, key))
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->p = realloc(c->p, c->cap * sizeof(*c->p));
		if (!c->p)
			abort();
	}
	c->p[c->n].key = buf_strdup(key);
	c->p[c->n].seq = seq;
	c->n++;
	return 0;
}

static int cmp_key_seq(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	int k = strcmp(x->key, y->key);

	return k ? k : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_seq(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Keeps only the newest change of each key, in sequence order: a watcher
 * that fell behind shows each page once, as it is now.  O(n log n). */
static void coalesce(struct feed_ctx *c)
{
	size_t out = 0;

	if (!c->n)
		return; /* c->p may be NULL, which qsort must not get */
	qsort(c->p, c->n, sizeof(*c->p), cmp_key_seq);
	for (size_t i = 0; i < c->n; i++) {
		if (i + 1 < c->n && !strcmp(c->p[i].key, c->p[i + 1].key)) {
			free(c->p[i].key);
			continue;
		}
		c->p[out++] = c->p[i];
	}
	c->n = out;
	qsort(c->p, c->n, sizeof(*c->p), cmp_seq);
}

/* The copy this watcher showed last for key (keep_prev), or NULL. */
static struct snap_page *prev_of(struct vm_watch *w, const char *key)
{
	for (size_t i = 0; i < w->nprev; i++)
		if (!strcmp(w->prev[i].key, key))
			return &w->prev[i];
	return NULL;
}

int vm_watch_next(struct vm_watch *w, watch_fn fn, void *ctx, struct fk_err *err)
{
	struct db *db = w->vm->db;
	struct feed_ctx c = {w, NULL, 0, 0};
	struct snap_page *out = NULL;
	size_t nout = 0, capout = 0;
	int64_t version = 0, newest = 0;
	int rc, stop = 0;

	rc = db_data_version(db, &version, err);
	if (rc || (version == w->data_version && !w->force_check))
		return rc;
	w->data_version = version;
	w->force_check = false;
	/* Collect in one read transaction, print after it ends: a slow
	 * reader of our stdout must not hold back WAL checkpoints. */
	rc = db_begin(db, false, err);
	if (!rc)
		rc = db_newest_seq(db, &newest, err);
	if (!rc)
		rc = check_trimmed(w, w->last, newest, err);
	if (!rc)
		rc = db_changes(db, w->ns, w->last, feed_change, &c, err);
	coalesce(&c);
	for (size_t i = 0; !rc && i < c.n; i++) {
		struct db_row row;

		rc = db_get(db, w->ns, c.p[i].key, &row, err);
		if (!rc)
			snap_add(&out, &nout, &capout, c.p[i].key, row.found ? row.page : NULL,
				 row.found ? row.seq : c.p[i].seq);
		db_row_release(&row);
	}
	db_rollback(db);
	for (size_t i = 0; i < c.n; i++)
		free(c.p[i].key);
	free(c.p);
	for (size_t i = 0; !rc && !stop && i < nout; i++) {
		struct snap_page *prev = w->opts.keep_prev ? prev_of(w, out[i].key) : NULL;
		struct watch_event ev = {
			.invalidated = out[i].page == NULL,
			.key = out[i].key,
			.page = out[i].page,
			.prev = prev ? prev->page : NULL,
			.seq = out[i].seq,
		};

		stop = fn(ctx, &ev);
		if (w->opts.keep_prev && prev) {
			free(prev->page);
			prev->page = buf_strdup(out[i].page);
		} else if (w->opts.keep_prev) {
			snap_add(&w->prev, &w->nprev, &w->capprev, out[i].key, out[i].page,
				 out[i].seq);
		}
	}
	snap_free(out, nout);
	return rc ? rc : stop;
}

int vm_watch_wait(struct vm_watch *w, int timeout_ms, int hup_fd)
{
	struct pager *p = w->pager;
	int wake_ms = -1;
	struct pollfd pfd[3] = {
		{.fd = w->ino_fd, .events = POLLIN},
		{.fd = hup_fd, .events = 0}, /* POLLERR/POLLHUP come regardless */
		{.fd = p->ops->poll_fd ? p->ops->poll_fd(p, &wake_ms) : -1,
		 .events = POLLIN},
	};
	long long wait_us = w->ino_fd < 0 ? POLL_MS * 1000LL
			    : w->burst_us ? w->burst_us : IDLE_MS * 1000LL;
	bool feed_wakes = false;
	struct timespec ts;
	char buf[4096];
	int n;

	if (timeout_ms >= 0 && timeout_ms * 1000LL < wait_us)
		wait_us = timeout_ms * 1000LL;
	if (wake_ms >= 0 && wake_ms * 1000LL <= wait_us) {
		wait_us = wake_ms * 1000LL;
		feed_wakes = true;
	}
	ts.tv_sec = (time_t)(wait_us / 1000000);
	ts.tv_nsec = (long)(wait_us % 1000000) * 1000;
	n = ppoll(pfd, 3, &ts, NULL);
	if (n > 0 && (pfd[0].revents & POLLIN)) {
		while (read(w->ino_fd, buf, sizeof(buf)) > 0)
			;
		w->burst_us = BURST_FIRST_US;
	} else if (n == 0 && w->burst_us) {
		/* Back off: the commit shows within a few ms of its frames. */
		w->burst_us = w->burst_us * 2 > BURST_LAST_US ? 0 : w->burst_us * 2;
	}
	if ((n > 0 && pfd[2].revents) || (n == 0 && feed_wakes))
		w->feed_due = true;
	return n > 0 && (pfd[1].revents & (POLLERR | POLLHUP)) != 0;
}

int vm_watch_stop(struct vm_watch *w, struct fk_err *err)
{
	struct fk_err local;
	char path[4096];
	int rc = FK_OK;

	if (!w)
		return FK_OK;
	if (!err)
		err = &local;
	if (w->registered) {
		if (w->registry_fd < 0)
			rc = registry_lock(w, err);
		if (!rc)
			rc = unregister(w, w->lock_name, err);
	}
	registry_unlock(w);
	if (w->lock_name && !lock_path(w, w->lock_name, path, sizeof(path)))
		unlink(path);
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	if (w->ino_fd >= 0)
		close(w->ino_fd);
	for (size_t i = 0; w->keys && i < w->nkeys; i++)
		free(w->keys[i]);
	free(w->keys);
	free(w->first);
	free(w->ns);
	free(w->dir);
	free(w->lock_name);
	snap_free(w->snap, w->nsnap);
	snap_free(w->prev, w->nprev);
	free(w);
	return rc;
}
