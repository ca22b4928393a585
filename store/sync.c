/*
 * sync.c - pushing local changes and `sync`, the cron job (SPEC §7).
 *
 * One sync at a time: a non-blocking flock on DB-sync.lock beside the
 * database, a lock that dies with its process (a row in a table would
 * survive a SIGKILL and block every later sync).  A sync pushes the pages
 * that were at phase 1 when it started and moves phase-0 pages to phase 1
 * (a write has just pushed them once), then refreshes every cached page of
 * the namespaces it syncs.  A page that fails is reported and retried by
 * the next run; it never stops the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "buf.h"
#include "based.h"
#include "vm-internal.h"
#include "watch.h"

int vm_push(struct vm *vm, const char *ns, const char *key,
	    struct vm_page *out, struct fk_err *err)
{
	struct pager_answer ans = {0};
	struct stored st;
	struct pager *p;
	cJSON *push = NULL;
	char *id = NULL;
	int64_t clock0 = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->text = buf_strdup("{}");
	rc = vm_pager(vm, ns, key, &p, err);
	if (!rc && (!p->ops->pushes || !p->ops->sync))
		return fk_fail(err, FK_EREFUSED, "pager \"%s\" of namespace \"%s\" does not push",
			       p->conf->name, ns);
	if (!rc)
		rc = vm_load_stored(vm, ns, key, &st, err);
	if (rc)
		return rc;
	vm_page_from_stored(&st, out);
	push = st.full ? based_push(st.full) : NULL;
	vm_stored_release(&st);
	if (!push)
		return FK_OK; /* nothing unacknowledged */
	id = buf_strdup(based_push_id(push));
	rc = vm_clock(vm, &clock0, err);
	if (!rc)
		rc = vm_before_pager(vm, ns, err);
	if (!rc)
		rc = p->ops->sync(p, key, push, &ans, err); /* no transaction open */
	if (!rc) {
		rc = vm_apply(vm, ns, key, &ans, clock0, id, out, err);
	} else if (rc == FK_EDATA || rc == FK_EREFUSED) {
		/* Rejected: drop the pushed set (as if acknowledged), then
		 * take the authority's copy. */
		struct pager_answer none = {.verdict = PAGER_NOT_MODIFIED};
		struct vm_page reread = {0};

		vm_warn(vm, "namespace \"%s\" key \"%s\": the authority rejected changes %s; they are dropped: %s",
			ns, key, id, err->msg);
		rc = vm_apply(vm, ns, key, &none, clock0, id, out, err);
		if (!rc)
			rc = vm_fault(vm, ns, key, &reread, err);
		if (!rc && reread.changed) {
			vm_page_release(out);
			*out = reread;
		} else {
			out->changed |= reread.changed;
			vm_page_release(&reread);
		}
	}
	pager_answer_release(&ans);
	cJSON_Delete(push);
	free(id);
	return rc ? fk_prefix(err, rc, "namespace \"%s\" key \"%s\": push", ns, key) : FK_OK;
}

/* A list of keys (or namespaces) with their queue phase. */
struct key_list {
	char **key;
	int *phase;
	size_t n, cap;
};

static int add_key(void *ctx, const char *ns, const char *key, int phase)
{
	struct key_list *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		l->key = realloc(l->key, l->cap * sizeof(*l->key));
		l->phase = realloc(l->phase, l->cap * sizeof(*l->phase));
		if (!l->key || !l->phase)
			abort();
	}
	l->key[l->n] = buf_strdup(key ? key : ns);
	l->phase[l->n] = phase;
	l->n++;
	return 0;
}

static int add_cached(void *ctx, const char *ns, const struct db_row *row)
{
	(void)ns;
	return add_key(ctx, NULL, row->key, -1);
}

static void key_list_free(struct key_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->key[i]);
	free(l->key);
	free(l->phase);
	memset(l, 0, sizeof(*l));
}

struct sync_run {
	struct vm *vm;
	const struct vm_sync_report *r;
	struct vm_sync_stats *stats;
	int first_failure;
	size_t done, total;
};

static void page_failed(struct sync_run *s, int rc, const struct fk_err *err)
{
	s->stats->failed++;
	if (!s->first_failure)
		s->first_failure = rc;
	if (s->r->failed)
		s->r->failed(s->r->ctx, rc, err->msg);
}

static void page_done(struct sync_run *s, const char *ns, const char *key,
		      const struct vm_page *pg)
{
	if (pg->changed) {
		s->stats->changed++;
		if (s->r->changed)
			s->r->changed(s->r->ctx, ns, key, pg);
	}
	s->done++;
	if (s->r->progress)
		s->r->progress(s->r->ctx, s->done, s->total);
}

/* Pushes the queued pages of one namespace. */
static int push_namespace(struct sync_run *s, const char *ns, bool now,
			  struct fk_err *err)
{
	struct vm *vm = s->vm;
	struct key_list q = {0};
	int rc;

	rc = db_queue_list(vm->db, ns, add_key, &q, err);
	/* Phase 0 → 1 for what was written since the last run: those pages
	 * were pushed once by their write and wait for the next sync. */
	if (!rc && !now)
		rc = db_queue_promote(vm->db, ns, err);
	s->total += q.n;
	for (size_t i = 0; !rc && i < q.n; i++) {
		struct vm_page pg = {0};
		struct fk_err perr;
		int prc;

		if (q.phase[i] == 0 && !now) {
			s->done++;
			continue;
		}
		prc = vm_push(vm, ns, q.key[i], &pg, &perr);
		if (prc)
			page_failed(s, prc, &perr);
		else
			s->stats->pushed++;
		page_done(s, ns, q.key[i], &pg);
		vm_page_release(&pg);
		if (prc == FK_ETEMP)
			break; /* the database itself is busy: stop here */
	}
	key_list_free(&q);
	return rc;
}

static int refresh_namespace(struct sync_run *s, const char *ns, struct fk_err *err);

/* How many pages one revalidate() call asks about: one round trip each,
 * with the cached texts of a chunk in memory at a time. */
#define REVALIDATE_CHUNK 500

/* Refreshes keys[0..n) with one revalidate() call: the cached copies
 * are read first, the answers applied one page at a time afterwards, as
 * a read's answer would be. */
static void revalidate_chunk(struct sync_run *s, struct pager *p, const char *ns,
			     char **keys, size_t n)
{
	struct vm_page *cached = calloc(n, sizeof(*cached));
	const char **texts = calloc(n, sizeof(*texts));
	const char **hashes = calloc(n, sizeof(*hashes));
	struct pager_answer *ans = calloc(n, sizeof(*ans));
	struct fk_err perr;
	int64_t clock0 = 0;
	int rc;

	if (!cached || !texts || !hashes || !ans)
		abort();
	rc = vm_clock(s->vm, &clock0, &perr);
	for (size_t i = 0; !rc && i < n; i++) {
		rc = vm_cached(s->vm, ns, keys[i], &cached[i], &perr);
		texts[i] = cached[i].found ? cached[i].text : NULL;
		hashes[i] = cached[i].hash;
	}
	if (!rc)
		rc = vm_before_pager(s->vm, ns, &perr);
	if (!rc)
		rc = p->ops->revalidate(p, (const char *const *)keys, texts, hashes,
					n, ans, &perr);
	if (rc) {
		/* One failure for the chunk, not one per page. */
		fk_prefix(&perr, rc, "namespace \"%s\": refreshing %zu pages", ns, n);
		page_failed(s, rc, &perr);
		s->done += n;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		struct vm_page pg = {0};
		int prc = vm_apply(s->vm, ns, keys[i], &ans[i], clock0, NULL, &pg, &perr);

		if (prc) {
			fk_prefix(&perr, prc, "namespace \"%s\" key \"%s\"", ns, keys[i]);
			page_failed(s, prc, &perr);
		} else {
			s->stats->refreshed++;
		}
		page_done(s, ns, keys[i], &pg);
		vm_page_release(&pg);
		pager_answer_release(&ans[i]);
	}
	for (size_t i = 0; i < n; i++)
		vm_page_release(&cached[i]);
	free(cached);
	free(texts);
	free(hashes);
	free(ans);
}

int vm_refresh(struct vm *vm, const char *ns, const struct vm_sync_report *r,
	       struct vm_sync_stats *stats, struct fk_err *err)
{
	struct sync_run s = {vm, r, stats, 0, 0, 0};
	int rc = refresh_namespace(&s, ns, err);

	return rc ? rc : s.first_failure;
}

/* Refreshes every cached page of one namespace from its pager: in chunks
 * through revalidate() when the pager has it, else one read per page. */
static int refresh_namespace(struct sync_run *s, const char *ns, struct fk_err *err)
{
	struct key_list keys = {0};
	struct pager *p;
	int rc = vm_pager(s->vm, ns, NULL, &p, err);

	if (!rc)
		rc = db_each(s->vm->db, ns, add_cached, &keys, err);
	s->total += keys.n;
	for (size_t i = 0; !rc && p->ops->revalidate && i < keys.n; i += REVALIDATE_CHUNK)
		revalidate_chunk(s, p, ns, keys.key + i,
				 keys.n - i < REVALIDATE_CHUNK ? keys.n - i : REVALIDATE_CHUNK);
	for (size_t i = 0; !rc && !p->ops->revalidate && i < keys.n; i++) {
		struct vm_page pg = {0};
		struct fk_err perr;
		int prc = vm_fault(s->vm, ns, keys.key[i], &pg, &perr);

		if (prc)
			page_failed(s, prc, &perr);
		else if (p->ops->read) /* a cache-only pager has nothing to refresh */
			s->stats->refreshed++;
		page_done(s, ns, keys.key[i], &pg);
		vm_page_release(&pg);
		if (prc == FK_ETEMP)
			break;
	}
	key_list_free(&keys);
	return rc;
}

/* Warns about queued pages that no pushing pager can deliver any more. */
static int warn_orphans(struct sync_run *s, struct fk_err *err)
{
	struct key_list nss = {0};
	int rc = db_queue_list(s->vm->db, NULL, add_key, &nss, err);

	for (size_t i = 0; !rc && i < nss.n; i++) {
		const struct svc_pager *conf = NULL;
		const struct pager_ops *ops;
		struct fk_err ignored;

		/* By type, without starting the pager: one that fails to start
		 * is reported as such by the namespace's own turn. */
		if (!vm_namespace(s->vm, nss.key[i], &conf, &ignored) &&
		    (ops = pager_type_find(conf->type)) && ops->pushes)
			continue;
		vm_warn(s->vm, "namespace \"%s\" has unsynced pages but no pushing pager serves it; they stay queued",
			nss.key[i]);
	}
	key_list_free(&nss);
	return rc;
}

/* Takes DB-sync.lock without waiting; FK_ETEMP if another sync has it. */
static int sync_lock(struct vm *vm, int *fd, struct fk_err *err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s-sync.lock", db_path(vm->db));
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return fk_fail(err, FK_ERUNTIME, "cannot open '%s': %s", path, strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return FK_OK;
	close(*fd);
	*fd = -1;
	if (errno == EWOULDBLOCK)
		return fk_fail(err, FK_ETEMP, "another flokvm sync is running on '%s'; try again later",
			       db_path(vm->db));
	return fk_fail(err, FK_ERUNTIME, "cannot lock '%s': %s", path, strerror(errno));
}

int vm_sync(struct vm *vm, char *const *nss, size_t n, bool now,
	    const struct vm_sync_report *r, struct vm_sync_stats *stats,
	    struct fk_err *err)
{
	struct sync_run s = {vm, r, stats, 0, 0, 0};
	const struct svc_pager *conf;
	int rc = FK_OK, lock = -1;

	memset(stats, 0, sizeof(*stats));
	for (size_t i = 0; !rc && i < n; i++)
		rc = vm_namespace(vm, nss[i], &conf, err);
	if (!rc)
		rc = vm_db(vm, false, err);
	if (rc || !vm->db)
		return rc; /* no database: nothing cached, nothing queued */
	rc = sync_lock(vm, &lock, err);
	if (!rc)
		rc = vm_watch_reap(vm, err);
	if (!rc)
		rc = warn_orphans(&s, err);
	for (size_t i = 0; !rc && i < (n ? n : vm->svc->npagers); i++) {
		const char *ns = n ? nss[i] : vm->svc->pagers[i].ns;
		struct fk_err perr;
		struct pager *p;
		int prc = vm_pager(vm, ns, NULL, &p, &perr);

		/* A pager that cannot start fails its namespace, not the run. */
		if (prc) {
			page_failed(&s, prc, &perr);
			continue;
		}
		if (p->ops->pushes)
			rc = push_namespace(&s, ns, now, err);
		if (!rc)
			rc = refresh_namespace(&s, ns, err);
	}
	if (lock >= 0)
		close(lock);
	return rc ? rc : s.first_failure;
}
