/*
 * based.h - based pages (SPEC §7): a page written to a namespace whose
 * pager pushes keeps its unacknowledged local changes inside itself, so a
 * refresh from the authority never loses a local write.
 *
 * A "full page" here is the canonical user-visible page (page.h) plus the
 * bookkeeping members, which always come after _hash, in this order:
 *   __changes     the diff (diff.h) of the newest unacknowledged set
 *   __changes_id  a fresh random id for that set
 *   __base        while an earlier set is unacknowledged: the page that
 *                 set produced, itself with its __changes and __changes_id
 * These are flok's operations; the names follow flok.
 */
#ifndef FLOKVM_BASED_H
#define FLOKVM_BASED_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "status.h"

/*
 * commit(older, newer) on a local write.  older is the stored full page,
 * or NULL when nothing is stored (then it counts as an empty page with
 * newer's _uuid and no entries, so __changes is the diff from that).
 * newer is the new user-visible page (validated, normalised, hashed, no
 * bookkeeping); commit adds its bookkeeping in place:
 *   - a fresh __changes_id;
 *   - older without __changes: __changes = diff(older, newer);
 *   - older with __changes, no __base: __base = older (with its __changes
 *     and __changes_id), __changes = diff(older, newer);
 *   - older with __base: newer keeps that __base, __changes =
 *     diff(__base, newer).
 * FK_EDATA only if the pages' _uuid differ.
 */
int based_commit(const cJSON *older, cJSON *newer, struct fk_err *err);

/*
 * mark_synced(page, id), in place: without __base, removes __changes and
 * __changes_id if id is the page's own; with __base, removes __base if id
 * is the base's; otherwise nothing.  Returns true if it removed anything.
 */
bool based_mark_synced(cJSON *page, const char *id);

/*
 * rebase(local, authoritative): the full page that results when the
 * authority's copy (user-visible, validated) arrives for a local full page.
 *   - local without __changes: a copy of authoritative;
 *   - local with __changes, no __base: authoritative with local's
 *     __changes replayed onto it, keeping __changes and __changes_id;
 *   - local with __base: the base's changes replayed onto authoritative
 *     become the new __base (with the base's __changes and id), local's
 *     __changes are replayed on top, and __changes is recomputed as the
 *     diff from the new base (local's __changes_id is kept).
 * _hash is recomputed for the result and for a new __base.  *out is a new
 * tree (caller cJSON_Delete()s).  FK_EDATA for malformed bookkeeping.
 */
int based_rebase(const cJSON *local, const cJSON *authoritative, cJSON **out,
		 struct fk_err *err);

/* True if page holds unacknowledged changes (__changes present). */
bool based_has_changes(const cJSON *page);

/*
 * The push for the oldest unacknowledged set (SPEC §7 "Pushing"):
 * {"page": <user-visible local page>, "changes": [...], "changes_id": ".."}
 * where changes/changes_id are __base's if present, else the page's own.
 * NULL if the page has no changes.  Caller cJSON_Delete()s.
 */
cJSON *based_push(const cJSON *page);

/* The id inside a push (borrowed from push), for mark_synced after it. */
const char *based_push_id(const cJSON *push);

/* Splits a full page: detaches the bookkeeping members from page (which
 * is left user-visible) into a new object (NULL if there are none). */
cJSON *based_take_bookkeeping(cJSON *page);

/* Appends the members of bookkeeping (may be NULL) to page, in order. */
void based_put_bookkeeping(cJSON *page, const cJSON *bookkeeping);

#endif
