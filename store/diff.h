/*
 * diff.h - the diffs of SPEC §6: the steps that turn one copy of a page
 * into another, and their replay.
 *
 * Sync (§7) keeps a page's unpushed local changes as a diff and replays
 * them onto whatever copy the authority sends back, so replay must accept
 * diffs computed against a different copy: steps that no longer apply are
 * skipped rather than refused.  Only a diff that is malformed is an error.
 */
#ifndef FLOKVM_DIFF_H
#define FLOKVM_DIFF_H

#include <cjson/cJSON.h>

#include "status.h"

/*
 * Computes the §6 diff turning old into new (validated pages; _hash and
 * "__" keys are ignored, an absent pointer equals a null one).  Steps come
 * in §6 order: HEAD_M, NEXT_M, PREV_M; PAGE_M/PAGE_D by key byte order;
 * "-" and "M" in old order; ">" in new order; "+" by final index.
 *
 * On success *out is a new cJSON array (caller cJSON_Delete()s) holding
 * copies of the new entries and values, never pointers into new.  FK_EDATA
 * if the pages' _uuid differ ("pages have different _uuid: \"a\" and
 * \"b\"") or an entries array is not the validated kind; *out is NULL then.
 */
int diff_pages(const cJSON *old, const cJSON *new, cJSON **out,
	       struct fk_err *err);

/*
 * Applies diff to page in place by the §6 replay rules: a step naming an
 * entry that is not there is skipped, an insertion of a _uuid already there
 * is skipped, an index past the end means the end.  A newly set pointer
 * goes to its canonical place (after _uuid and the pointers before it), a
 * new payload key before _hash.  _hash itself is not touched: the caller
 * recomputes it.
 *
 * FK_EDATA with "step N: problem" (N the 0-based index into diff) for a
 * malformed step, "diff: ..." if diff is not an array; the whole diff is
 * checked before anything is applied, so page is unchanged on failure.
 */
int diff_replay(cJSON *page, const cJSON *diff, struct fk_err *err);

#endif
