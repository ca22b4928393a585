/*
 * apply.c - storing pages and applying what pagers send back (SPEC §4.1,
 * §7): the code every request shares, so that a write, a refresh, a push
 * answer and a watch refresh all decide "is this a change?" the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "based.h"
#include "json.h"
#include "page.h"
#include "vm-internal.h"

void vm_stored_release(struct stored *st)
{
	db_row_release(&st->row);
	cJSON_Delete(st->full);
	st->full = NULL;
}

/* Parses stored JSON text (a page or its bookkeeping). */
static int parse_stored(struct vm *vm, const char *ns, const char *key,
			const char *text, cJSON **out, struct fk_err *err)
{
	struct json_opts o = {.max_depth = PAGE_STORED_MAX_DEPTH, .allow_empty = 0};

	if (json_parse(text, strlen(text), &o, out, err))
		return fk_prefix(err, FK_ERUNTIME,
				 "stored page namespace \"%s\" key \"%s\" in '%s' is damaged (run flokvm check)",
				 ns, key, vm->db_path);
	return FK_OK;
}

int vm_load_stored(struct vm *vm, const char *ns, const char *key,
		   struct stored *st, struct fk_err *err)
{
	cJSON *bk = NULL;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = vm_db(vm, false, err);
	if (rc || !vm->db)
		return rc;
	rc = db_get(vm->db, ns, key, &st->row, err);
	if (rc || !st->row.found)
		return rc;
	rc = parse_stored(vm, ns, key, st->row.page, &st->full, err);
	if (!rc && st->row.sync)
		rc = parse_stored(vm, ns, key, st->row.sync, &bk, err);
	if (!rc && bk)
		based_put_bookkeeping(st->full, bk);
	cJSON_Delete(bk);
	return rc;
}

void vm_page_from_stored(const struct stored *st, struct vm_page *out)
{
	vm_page_release(out);
	out->found = st->row.found;
	out->text = buf_strdup(st->row.found ? st->row.page : "{}");
	out->hash = buf_strdup(st->row.hash);
	out->seq = st->row.found ? st->row.seq : 0;
}

int vm_clock(struct vm *vm, int64_t *clock0, struct fk_err *err)
{
	int rc = vm_db(vm, false, err);

	*clock0 = 0;
	return rc || !vm->db ? rc : db_auth_clock(vm->db, clock0, err);
}

int vm_store_full(struct vm *vm, const char *ns, const char *key,
		  const struct stored *st, cJSON *full, const char *kind,
		  int phase, struct vm_page *out, struct fk_err *err)
{
	cJSON *bk = based_take_bookkeeping(full);
	const char *hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(full, "_hash"));
	struct buf text = {0}, bktext = {0};
	cJSON *old = NULL;
	bool changed;
	int64_t seq = st->row.seq;
	int rc = FK_OK;

	/* The user-visible part decides; the stored tree's bookkeeping is
	 * left out of the comparison. */
	if (st->full) {
		old = cJSON_Duplicate(st->full, 1);
		cJSON_Delete(based_take_bookkeeping(old));
	}
	changed = !(old && json_equal(old, full));
	cJSON_Delete(old);
	page_write(&text, full);
	if (bk)
		json_write(&bktext, bk);
	if (changed)
		rc = db_put(vm->db, ns, key, text.p, hash, page_entry_count(full),
			    bk ? bktext.p : NULL, kind, &seq, err);
	else if (strcmp(bk ? bktext.p : "", st->row.sync ? st->row.sync : ""))
		rc = db_set_sync(vm->db, ns, key, bk ? bktext.p : NULL, err);
	if (!rc && bk && cJSON_GetObjectItemCaseSensitive(bk, "__changes"))
		rc = db_queue_set(vm->db, ns, key,
				  phase >= 0 ? phase : st->row.phase >= 0 ? st->row.phase : 0, err);
	else if (!rc && st->row.unsynced)
		rc = db_queue_set(vm->db, ns, key, -1, err);
	if (!rc) {
		vm_page_release(out);
		out->found = true;
		out->text = buf_detach(&text);
		out->hash = buf_strdup(hash);
		out->seq = seq;
		out->changed = changed;
	}
	based_put_bookkeeping(full, bk);
	cJSON_Delete(bk);
	buf_release(&text);
	buf_release(&bktext);
	return rc;
}

/* Validates a pager's copy in place: its size and depth limits too, as a
 * page of its own (never stamped, §2.1), then hashes it. */
static int validate_copy(struct vm *vm, const char *key, cJSON **page,
			 struct fk_err *err)
{
	struct page_limits lim = vm_limits(vm);
	struct buf text = {0};
	int rc;

	json_write(&text, *page);
	cJSON_Delete(*page);
	*page = NULL;
	rc = page_parse(text.p, text.len, key, PAGE_FROM_PAGER, &lim, page, err);
	buf_release(&text);
	if (rc)
		return fk_prefix(err, FK_ERUNTIME, "the pager's copy is not a valid page");
	page_set_hash(*page);
	return FK_OK;
}

/* The part of vm_apply() inside the transaction. */
static int apply_locked(struct vm *vm, const char *ns, const char *key,
			struct pager_answer *ans, int64_t clock0,
			const char *pushed_id, struct vm_page *out,
			struct fk_err *err)
{
	struct stored st;
	const char *id = ans->changes_id;
	cJSON *full = NULL;
	bool stale;
	int64_t stamp, seq;
	int rc;

	rc = vm_load_stored(vm, ns, key, &st, err);
	if (rc)
		goto done;
	vm_page_from_stored(&st, out);
	stale = st.row.found && st.row.auth > clock0;
	if (!id && ans->verdict == PAGER_NOT_MODIFIED)
		id = pushed_id; /* an empty push answer: accepted as sent */
	full = st.full ? cJSON_Duplicate(st.full, 1) : NULL;
	if (full && id)
		based_mark_synced(full, id);
	if (ans->verdict == PAGER_PAGE && !stale) {
		cJSON *rebased = NULL;

		rc = full ? based_rebase(full, ans->page, &rebased, err)
			  : (rebased = cJSON_Duplicate(ans->page, 1), FK_OK);
		cJSON_Delete(full);
		full = rebased;
		if (!rc)
			rc = db_auth_clock_next(vm->db, &stamp, err);
		if (!rc)
			rc = vm_store_full(vm, ns, key, &st, full, "pager", -1, out, err);
		if (!rc)
			rc = db_set_auth(vm->db, ns, key, stamp, err);
	} else if (ans->verdict == PAGER_GONE && !stale && full &&
		   !based_has_changes(full)) {
		rc = db_delete(vm->db, ns, key, "pager", &seq, err);
		if (!rc) {
			vm_page_release(out);
			out->text = buf_strdup("{}");
			out->seq = seq;
			out->changed = true;
		}
	} else if (full) {
		/* Not modified, stale, or gone with local changes: only the
		 * bookkeeping may have moved (mark_synced). */
		rc = vm_store_full(vm, ns, key, &st, full, "pager", -1, out, err);
	}
done:
	cJSON_Delete(full);
	vm_stored_release(&st);
	return rc;
}

int vm_apply(struct vm *vm, const char *ns, const char *key,
	     struct pager_answer *ans, int64_t clock0, const char *pushed_id,
	     struct vm_page *out, struct fk_err *err)
{
	int rc;

	if (ans->verdict == PAGER_NOT_MODIFIED && !pushed_id && !ans->changes_id)
		return FK_OK; /* nothing new and nothing to acknowledge */
	if (ans->verdict == PAGER_GONE && !pushed_id) {
		rc = vm_db(vm, false, err);
		if (rc || !vm->db)
			return rc; /* gone, and nothing here either */
	}
	if (ans->verdict == PAGER_PAGE) {
		rc = validate_copy(vm, key, &ans->page, err);
		if (rc)
			return rc;
	}
	rc = vm_db(vm, true, err);
	if (!rc)
		rc = vm_begin(vm, err);
	if (rc)
		return rc;
	rc = apply_locked(vm, ns, key, ans, clock0, pushed_id, out, err);
	if (!rc)
		return vm_commit(vm, err);
	vm_rollback(vm);
	return rc;
}
