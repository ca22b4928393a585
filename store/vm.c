/*
 * vm.c - the paging service's requests (see vm.h).
 *
 * The rules that every request shares live here: a transaction is never
 * held while a pager runs (pager calls happen between transactions, and
 * what they return is applied in a fresh BEGIN IMMEDIATE that re-reads the
 * page); a change is a commit that makes the user-visible page differ
 * (SPEC §4.1); every change is logged by db_put()/db_delete().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "based.h"
#include "json.h"
#include "page.h"
#include "vm-internal.h"

void vm_warn(struct vm *vm, const char *fmt, ...)
{
	char msg[2400];
	va_list ap;

	if (!vm->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vm->warn(vm->warn_ctx, msg);
}

void vm_init(struct vm *vm, const char *db_path, const struct services *svc,
	     const struct settings *set)
{
	memset(vm, 0, sizeof(*vm));
	vm->db_path = db_path;
	vm->svc = svc;
	vm->set = *set;
	vm->pagers = calloc(svc->npagers ? svc->npagers : 1, sizeof(*vm->pagers));
	if (!vm->pagers)
		abort();
}

void vm_release(struct vm *vm)
{
	if (vm->unpushed_quiet)
		vm_warn(vm, "%zu more pages written locally, not pushed yet (`flokvm sync` pushes them; `flokvm ls` shows them as unsynced)",
			vm->unpushed_quiet);
	for (size_t i = 0; i < vm->svc->npagers; i++)
		pager_free(vm->pagers[i]);
	free(vm->pagers);
	db_close(vm->db);
	memset(vm, 0, sizeof(*vm));
}

void vm_page_release(struct vm_page *pg)
{
	free(pg->text);
	free(pg->hash);
	memset(pg, 0, sizeof(*pg));
}

struct page_limits vm_limits(const struct vm *vm)
{
	struct page_limits lim = {
		.max_page_bytes = vm->set.max_page_bytes,
		.max_depth = vm->set.max_depth,
		.max_key_bytes = vm->set.max_key_bytes,
	};
	return lim;
}

/* Opens the database on first use.  Without create, a missing database
 * leaves vm->db NULL, which every request reads as an empty store; a later
 * request that must store something opens it again with create. */
int vm_db(struct vm *vm, bool create, struct fk_err *err)
{
	if (vm->db)
		return FK_OK;
	if (!vm->db_path)
		return fk_fail(err, FK_ERUNTIME,
			       "no database: set HOME, XDG_DATA_HOME or FLOKVM_DB, or give --db");
	return db_open(vm->db_path, create, &vm->set, &vm->db, err);
}

int vm_namespace(struct vm *vm, const char *ns, const struct svc_pager **conf,
		 struct fk_err *err)
{
	int rc = page_check_name("namespace", ns, vm->set.max_key_bytes, err);

	if (rc)
		return rc;
	for (size_t i = 0; i < vm->svc->npagers; i++)
		if (!strcmp(vm->svc->pagers[i].ns, ns)) {
			*conf = &vm->svc->pagers[i];
			return FK_OK;
		}
	if (vm->svc->path)
		return fk_fail(err, FK_EREFUSED,
			       "no pager serves namespace \"%s\"; add one to the services file '%s'",
			       ns, vm->svc->path);
	return fk_fail(err, FK_EREFUSED,
		       "no pager serves namespace \"%s\"; the built-in default serves only \"user\" (configure pagers in ~/.config/flokvm/services.rb, see flokvm(1))",
		       ns);
}

int vm_pager(struct vm *vm, const char *ns, const char *key,
		    struct pager **out, struct fk_err *err)
{
	const struct svc_pager *conf;
	size_t i;
	int rc;

	rc = vm_namespace(vm, ns, &conf, err);
	if (rc)
		return rc;
	if (key && page_check_name("key", key, vm->set.max_key_bytes, err))
		return fk_prefix(err, FK_EDATA, "namespace \"%s\"", ns);
	i = (size_t)(conf - vm->svc->pagers);
	if (!vm->pagers[i]) {
		rc = pager_new(conf, vm->svc->dir, vm->set.max_page_bytes, &vm->pagers[i], err);
		if (rc)
			return rc;
	}
	*out = vm->pagers[i];
	return FK_OK;
}

int vm_group_commit(struct vm *vm, struct fk_err *err)
{
	struct vm_group *g = &vm->group;
	int rc;

	if (!g->txn)
		return FK_OK;
	rc = db_commit(vm->db, err);
	g->txn = false;
	g->n = 0;
	if (g->committed)
		g->committed(g->ctx, rc, err);
	return rc;
}

int vm_group_end(struct vm *vm, bool commit, struct fk_err *err)
{
	struct vm_group *g = &vm->group;
	int rc = FK_OK;

	if (commit)
		rc = vm_group_commit(vm, err);
	else if (g->txn)
		db_rollback(vm->db);
	g->txn = false;
	g->enabled = false;
	return rc;
}

int vm_begin(struct vm *vm, struct fk_err *err)
{
	struct vm_group *g = &vm->group;
	int rc;

	if (!g->enabled)
		return db_begin(vm->db, true, err);
	if (!g->txn) {
		rc = db_begin(vm->db, true, err);
		if (rc)
			return rc;
		g->txn = true;
	}
	return db_savepoint(vm->db, err);
}

int vm_commit(struct vm *vm, struct fk_err *err)
{
	struct vm_group *g = &vm->group;
	int rc;

	if (!g->enabled)
		return db_commit(vm->db, err);
	rc = db_release(vm->db, err);
	if (!rc)
		g->n++; /* the caller commits the group when it is full */
	return rc;
}

void vm_rollback(struct vm *vm)
{
	if (vm->group.enabled)
		db_rollback_to(vm->db);
	else
		db_rollback(vm->db);
}

int vm_before_pager(struct vm *vm, const char *ns, struct fk_err *err)
{
	struct vm_group *g = &vm->group;

	if (g->enabled && g->atomic)
		return fk_fail(err, FK_EUSAGE,
			       "--atomic cannot be used with namespace \"%s\": its pager would run inside the transaction",
			       ns);
	return g->txn ? vm_group_commit(vm, err) : FK_OK;
}

/* Makes out the answer for a missing page, releasing what it held. */
static void set_missing(struct vm_page *out)
{
	vm_page_release(out);
	out->text = buf_strdup("{}");
}

/* Reads the stored state of (ns, key) into out; missing database = miss. */
static int load(struct vm *vm, const char *ns, const char *key,
		struct vm_page *out, struct fk_err *err)
{
	struct stored st;
	int rc = vm_load_stored(vm, ns, key, &st, err);

	if (!rc)
		vm_page_from_stored(&st, out);
	vm_stored_release(&st);
	return rc;
}

int vm_cached(struct vm *vm, const char *ns, const char *key,
	      struct vm_page *out, struct fk_err *err)
{
	struct db_row row;
	struct pager *p;
	int rc;

	memset(out, 0, sizeof(*out));
	set_missing(out);
	rc = vm_pager(vm, ns, key, &p, err);
	if (!rc)
		rc = vm_db(vm, false, err);
	if (rc || !vm->db)
		return rc;
	/* The fast path of read and read_sync: the stored text as it is. */
	rc = db_get(vm->db, ns, key, &row, err);
	if (!rc && row.found) {
		free(out->text);
		out->text = row.page;
		out->hash = row.hash;
		out->seq = row.seq;
		out->found = true;
		row.page = row.hash = NULL;
	}
	db_row_release(&row);
	return rc ? fk_prefix(err, rc, "namespace \"%s\" key \"%s\"", ns, key) : FK_OK;
}

int vm_fault(struct vm *vm, const char *ns, const char *key,
	     struct vm_page *out, struct fk_err *err)
{
	struct pager_answer ans = {0};
	struct pager *p;
	int64_t clock0 = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	set_missing(out);
	rc = vm_pager(vm, ns, key, &p, err);
	if (!rc && !p->ops->read)
		return FK_OK; /* the cache is the authority: nothing to fault in */
	if (!rc)
		rc = load(vm, ns, key, out, err);
	if (!rc)
		rc = vm_clock(vm, &clock0, err);
	/* No transaction is open while the pager runs. */
	if (!rc)
		rc = vm_before_pager(vm, ns, err);
	if (!rc)
		rc = p->ops->read(p, key, out->found ? out->text : NULL,
				  out->hash, &ans, err);
	if (!rc)
		rc = vm_apply(vm, ns, key, &ans, clock0, NULL, out, err);
	pager_answer_release(&ans);
	if (rc)
		return fk_prefix(err, rc, "namespace \"%s\" key \"%s\"", ns, key);
	return FK_OK;
}

int vm_read_sync(struct vm *vm, const char *ns, const char *key,
		 struct vm_page *out, struct fk_err *err)
{
	int rc = vm_cached(vm, ns, key, out, err);

	if (rc || out->found)
		return rc;
	vm_page_release(out);
	return vm_fault(vm, ns, key, out, err);
}

/* Checks --if-seq / --if-hash against the stored state in cur. */
static int precondition(const struct vm_write_opts *o, const struct vm_page *cur,
			struct fk_err *err)
{
	const char *hash = cur->found ? cur->hash : "none";

	if (o->if_seq >= 0 && o->if_seq != (cur->found ? cur->seq : 0))
		return fk_fail(err, FK_EPRECOND,
			       "--if-seq %lld failed: the stored page is at revision %lld with hash %s",
			       (long long)o->if_seq, (long long)(cur->found ? cur->seq : 0), hash);
	if (o->if_hash && strcmp(o->if_hash, hash))
		return fk_fail(err, FK_EPRECOND,
			       "--if-hash %s failed: the stored page is at revision %lld with hash %s",
			       o->if_hash, (long long)(cur->found ? cur->seq : 0), hash);
	return FK_OK;
}

/* msg without a leading `namespace "NS" key "KEY": `, which a warning
 * about that page has said already. */
static const char *vm_unprefixed(const char *msg, const char *ns, const char *key)
{
	char prefix[sizeof(((struct fk_err *)0)->msg)];
	int n = snprintf(prefix, sizeof(prefix), "namespace \"%s\" key \"%s\": ", ns, key);

	if (n > 0 && (size_t)n < sizeof(prefix) && !strncmp(msg, prefix, (size_t)n))
		return msg + n;
	return msg;
}

/*
 * The read-modify-write of a write, in one BEGIN IMMEDIATE: re-read,
 * check the precondition, normalise against the stored copy, and store if
 * it is a change.  For a pushing pager the page becomes a based page
 * (commit, §7) and enters the unsynced queue at phase 0.
 */
static int commit_write(struct vm *vm, struct pager *p, const char *ns,
			const char *key, cJSON *page,
			const struct vm_write_opts *opts, struct vm_page *out,
			struct fk_err *err)
{
	struct stored st = {0};
	cJSON *visible = NULL;
	int rc;

	rc = vm_db(vm, true, err);
	if (!rc)
		rc = vm_begin(vm, err);
	if (rc)
		return rc;
	rc = vm_load_stored(vm, ns, key, &st, err);
	if (!rc) {
		vm_page_from_stored(&st, out);
		rc = precondition(opts, out, err);
	}
	if (!rc && st.full) {
		visible = cJSON_Duplicate(st.full, 1);
		cJSON_Delete(based_take_bookkeeping(visible));
	}
	if (!rc) {
		page_normalise(page, visible, page_now_ms());
		/* An identical copy is no change: nothing stored, nobody told. */
		if (!(visible && json_equal(visible, page))) {
			if (p->ops->pushes)
				rc = based_commit(st.full, page, err);
			if (!rc)
				rc = vm_store_full(vm, ns, key, &st, page, "write", 0, out, err);
		}
	}
	cJSON_Delete(visible);
	vm_stored_release(&st);
	if (!rc)
		rc = vm_commit(vm, err);
	else
		vm_rollback(vm);
	return rc;
}

int vm_write_target(struct vm *vm, const char *ns, const char *key,
		    struct pager **out, struct fk_err *err)
{
	int rc = vm_pager(vm, ns, NULL, out, err);

	if (rc)
		return rc;
	if ((*out)->conf->readonly)
		return fk_fail(err, FK_EREFUSED, "namespace \"%s\" is read-only (pager \"%s\")",
			       ns, (*out)->conf->name);
	if (page_check_name("key", key, vm->set.max_key_bytes, err))
		return fk_prefix(err, FK_EDATA, "namespace \"%s\"", ns);
	return FK_OK;
}

/* The rest of a write once its page is validated; page is consumed. */
static int write_valid(struct vm *vm, struct pager *p, const char *ns,
		       const char *key, cJSON *page,
		       const struct vm_write_opts *opts, struct vm_page *out,
		       struct fk_err *err)
{
	int rc = FK_OK;

	if (vm->group.atomic && p->ops->pushes)
		rc = fk_fail(err, FK_EUSAGE, "--atomic cannot be used with namespace \"%s\": its pager pushes",
			     ns);
	/* An early look at the stored page when a pager is to be told of
	 * the write (with the hash before it) or a precondition could fail:
	 * a failing one must not reach the pager, nor create the database.
	 * commit_write() checks again under lock. */
	if (!rc && (p->ops->write || opts->if_seq >= 0 || opts->if_hash))
		rc = load(vm, ns, key, out, err);
	if (!rc)
		rc = precondition(opts, out, err);
	if (!rc && p->ops->write) /* no write slot: writes are accepted */
		rc = vm_before_pager(vm, ns, err);
	if (!rc && p->ops->write)
		rc = p->ops->write(p, key, page, out->hash, err);
	if (!rc)
		rc = commit_write(vm, p, ns, key, page, opts, out, err);
	cJSON_Delete(page);
	if (rc)
		return fk_prefix(err, rc, "namespace \"%s\" key \"%s\"", ns, key);
	/* Push once at once; a failure leaves the write queued, not failed. */
	if (p->ops->pushes && out->changed) {
		struct vm_page pushed = {0};
		struct fk_err perr;
		int prc = vm_push(vm, ns, key, &pushed, &perr);

		if (prc && vm->unpushed_warned) {
			vm->unpushed_quiet++;
		} else if (prc) {
			vm_warn(vm, "namespace \"%s\" key \"%s\": written locally, not pushed yet: %s",
				ns, key, vm_unprefixed(perr.msg, ns, key));
			vm->unpushed_warned = true;
		} else if (pushed.found || pushed.changed) {
			int64_t seq = out->seq;

			vm_page_release(out);
			*out = pushed;
			if (out->seq < seq)
				out->seq = seq;
			memset(&pushed, 0, sizeof(pushed));
		}
		vm_page_release(&pushed);
	}
	return FK_OK;
}

int vm_write(struct vm *vm, const char *ns, const char *key, const char *text,
	     size_t len, const struct vm_write_opts *opts, struct vm_page *out,
	     struct fk_err *err)
{
	struct page_limits lim = vm_limits(vm);
	cJSON *page = NULL;
	struct pager *p;
	int rc;

	memset(out, 0, sizeof(*out));
	set_missing(out);
	rc = vm_write_target(vm, ns, key, &p, err);
	if (rc)
		return rc;
	rc = page_parse(text, len, key, PAGE_FROM_USER, &lim, &page, err);
	if (rc)
		return fk_prefix(err, rc, "namespace \"%s\" key \"%s\"", ns, key);
	return write_valid(vm, p, ns, key, page, opts, out, err);
}

int vm_write_tree(struct vm *vm, const char *ns, const char *key, cJSON *page,
		  const struct vm_write_opts *opts, struct vm_page *out,
		  struct fk_err *err)
{
	struct pager *p;
	int rc;

	memset(out, 0, sizeof(*out));
	set_missing(out);
	rc = vm_write_target(vm, ns, key, &p, err);
	if (!rc && page_validate(page, key, PAGE_FROM_USER, err))
		rc = fk_prefix(err, FK_EDATA, "namespace \"%s\" key \"%s\"", ns, key);
	if (rc) {
		cJSON_Delete(page);
		return rc;
	}
	return write_valid(vm, p, ns, key, page, opts, out, err);
}

int vm_ls(struct vm *vm, const char *ns, db_page_fn fn, void *ctx,
	  struct fk_err *err)
{
	int rc = page_check_name("namespace", ns, vm->set.max_key_bytes, err);

	if (!rc)
		rc = vm_db(vm, false, err);
	if (rc || !vm->db)
		return rc;
	return db_each(vm->db, ns, fn, ctx, err);
}

struct check_ctx {
	struct vm *vm;
	vm_problem_fn fn;
	void *ctx;
	int problems;
};

static void problem(struct check_ctx *c, const char *ns, const char *key,
		    const char *msg)
{
	c->fn(c->ctx, ns, key, msg);
	c->problems++;
}

/* Checks one stored page: JSON, the page rules, hash, entry count. */
static int check_page(void *ctx, const char *ns, const struct db_row *row)
{
	struct check_ctx *c = ctx;
	/* Stored pages read back as deep as any max_depth setting allows
	 * (page.h): a page stored under a higher setting is not damaged. */
	struct json_opts o = {.max_depth = PAGE_STORED_MAX_DEPTH, .allow_empty = 0};
	struct fk_err err;
	cJSON *page = NULL, *h;
	char msg[2300], hash[16];

	if (json_parse(row->page, strlen(row->page), &o, &page, &err)) {
		snprintf(msg, sizeof(msg), "stored page is not valid JSON: %s", err.msg);
		problem(c, ns, row->key, msg);
		return 0;
	}
	h = cJSON_DetachItemFromObjectCaseSensitive(page, "_hash");
	if (page_validate(page, row->key, PAGE_FROM_PAGER, &err)) {
		snprintf(msg, sizeof(msg), "stored page breaks the page rules: %s", err.msg);
		problem(c, ns, row->key, msg);
	} else {
		snprintf(hash, sizeof(hash), "%lu", (unsigned long)page_hash(page));
		if (strcmp(hash, row->hash)) {
			snprintf(msg, sizeof(msg), "stored hash %s differs from the computed hash %s",
				 row->hash, hash);
			problem(c, ns, row->key, msg);
		}
		if (!cJSON_IsString(h) || strcmp(h->valuestring, hash)) {
			snprintf(msg, sizeof(msg), "the page's _hash differs from the computed hash %s",
				 hash);
			problem(c, ns, row->key, msg);
		}
		if (page_entry_count(page) != row->entries) {
			snprintf(msg, sizeof(msg), "entry count %d differs from the page's %d",
				 row->entries, page_entry_count(page));
			problem(c, ns, row->key, msg);
		}
	}
	cJSON_Delete(h);
	cJSON_Delete(page);
	return 0;
}

static void integrity_problem(void *ctx, const char *msg)
{
	struct check_ctx *c = ctx;
	char line[1200];

	snprintf(line, sizeof(line), "sqlite integrity check: %s", msg);
	c->fn(c->ctx, NULL, NULL, line);
}

int vm_check(struct vm *vm, vm_problem_fn fn, void *ctx, int *problems,
	     struct fk_err *err)
{
	struct check_ctx c = {vm, fn, ctx, 0};
	int rc, sqlite_problems = 0;

	*problems = 0;
	rc = vm_db(vm, false, err);
	if (rc || !vm->db)
		return rc;
	rc = db_begin(vm->db, false, err);
	if (!rc)
		rc = db_each(vm->db, NULL, check_page, &c, err);
	db_rollback(vm->db);
	if (!rc)
		rc = db_integrity(vm->db, integrity_problem, &c, &sqlite_problems, err);
	*problems = c.problems + sqlite_problems;
	return rc;
}

int vm_invalidate(struct vm *vm, const char *ns, const char *key, bool discard,
		  struct fk_err *err)
{
	struct db_row row = {0};
	struct pager *p;
	int64_t seq;
	int rc;

	rc = vm_pager(vm, ns, key, &p, err);
	if (rc)
		return rc; /* the message names namespace and key already */
	rc = vm_db(vm, false, err);
	if (!rc && vm->db) {
		rc = vm_begin(vm, err);
		if (!rc)
			rc = db_get(vm->db, ns, key, &row, err);
		if (!rc && row.found && row.unsynced && !discard)
			rc = fk_fail(err, FK_EREFUSED,
				     "the page has unsynced local changes; give --discard to drop them");
		if (!rc && row.found)
			rc = db_delete(vm->db, ns, key, "invalidate", &seq, err);
		if (!rc)
			rc = vm_commit(vm, err);
		else
			vm_rollback(vm);
	}
	/* The pager hears of it after the commit, holding no transaction.
	 * The page is gone by then, so a pager that cannot be told is a
	 * warning, not a failed invalidate. */
	if (!rc && p->ops->invalidate)
		rc = vm_before_pager(vm, ns, err);
	if (!rc && p->ops->invalidate) {
		struct fk_err perr;

		if (p->ops->invalidate(p, key, row.found ? row.hash : NULL, &perr))
			vm_warn(vm, "namespace \"%s\" key \"%s\": dropped, but the pager was not told: %s",
				ns, key, perr.msg);
	}
	db_row_release(&row);
	if (rc)
		return fk_prefix(err, rc, "namespace \"%s\" key \"%s\"", ns, key);
	return FK_OK;
}
