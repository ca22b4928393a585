/*
 * vm-internal.h - what the files of the vm layer (vm.c, apply.c, sync.c,
 * watch.c) share and nothing else sees: the stored state of a page and the
 * one place that writes a page back.
 */
#ifndef FLOKVM_VM_INTERNAL_H
#define FLOKVM_VM_INTERNAL_H

#include <cjson/cJSON.h>

#include "vm.h"

/* A page as stored: the row and the full page (user-visible members plus
 * the "__" bookkeeping of based.h).  Missing page: row.found false, full
 * NULL.  Release with vm_stored_release(). */
struct stored {
	struct db_row row;
	cJSON *full;
};

/* Reads (ns, key) into st.  A missing database is a missing page. */
int vm_load_stored(struct vm *vm, const char *ns, const char *key,
		   struct stored *st, struct fk_err *err);
void vm_stored_release(struct stored *st);

/* Fills out (released first) with what st holds. */
void vm_page_from_stored(const struct stored *st, struct vm_page *out);

/*
 * Writes full (canonical, hashed, with any bookkeeping) as (ns, key) in
 * the open write transaction.  If its user-visible part differs from st's
 * (SPEC §4.1) it is a change, logged as `kind` and shown to watchers;
 * otherwise only the bookkeeping is updated, silently.  A page with
 * __changes is queued (phase >= 0: at that phase; phase < 0: keeping its
 * queued phase, 0 if it was not queued); a page without leaves the queue.
 * out gets the stored state, out->changed whether it was a change.
 */
int vm_store_full(struct vm *vm, const char *ns, const char *key,
		  const struct stored *st, cJSON *full, const char *kind,
		  int phase, struct vm_page *out, struct fk_err *err);

/*
 * Applies a pager's answer (SPEC §7) in a fresh BEGIN IMMEDIATE that
 * re-reads the page: mark_synced with the answer's changes_id (or, for an
 * empty push answer, pushed_id), then rebase onto the authority's copy.
 * A copy is discarded when the page took another authority copy after
 * clock0 (read with db_auth_clock() before the pager call).  GONE drops
 * the page unless it holds unsynced changes.  ans->page is validated here.
 */
int vm_apply(struct vm *vm, const char *ns, const char *key,
	     struct pager_answer *ans, int64_t clock0, const char *pushed_id,
	     struct vm_page *out, struct fk_err *err);

/* A read-modify-write transaction: BEGIN IMMEDIATE, or in a batch a
 * savepoint in the group's transaction (vm.h, struct vm_group). */
int vm_begin(struct vm *vm, struct fk_err *err);
int vm_commit(struct vm *vm, struct fk_err *err);
void vm_rollback(struct vm *vm);

/* Called before every pager call: commits a batch's open group, because
 * no transaction may be held while a pager runs (FK_EUSAGE in --atomic). */
int vm_before_pager(struct vm *vm, const char *ns, struct fk_err *err);

/* The authority clock now, 0 without a database. */
int vm_clock(struct vm *vm, int64_t *clock0, struct fk_err *err);

#endif
