/*
 * watch.h - `watch` (SPEC §4.2): the cached copies, then every later
 * change by any process, resumable by sequence number.
 *
 * A watcher registers one row per watched page in the database and holds
 * an flock on a lock file of its own in DB-watchers/ beside the database;
 * a row whose lock file can be locked belongs to a dead watcher and is
 * reaped.  First-watcher / last-watcher decisions, and the pager's
 * watch/unwatch calls they cause, are serialised by an flock on
 * DB-watchers/registry.lock, never by a SQLite transaction.
 */
#ifndef FLOKVM_WATCH_H
#define FLOKVM_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "vm.h"

struct vm_watch;

/* One line of a watch's output.  Strings belong to the watcher and live
 * until the callback returns. */
struct watch_event {
	bool invalidated;   /* the page is gone: no page text */
	const char *key;
	const char *page;   /* canonical text of the page now */
	const char *prev;   /* the copy this watcher showed before, or NULL */
	int64_t seq;
	bool cached;        /* one of the cached copies printed at the start */
};

/* Returns non-zero to stop the watch (that value is passed back). */
typedef int (*watch_fn)(void *ctx, const struct watch_event *ev);

struct watch_opts {
	int64_t since;   /* -1: start with the cached copies; else resume after */
	bool keep_prev;  /* remember each page shown, for ev->prev (--diff) */
};

/*
 * Reaps stale watchers, takes the snapshot (cached copies and the newest
 * sequence number in one read transaction) and registers the watcher.
 * keys may be empty: the whole namespace.  FK_EDATA for --since above the
 * newest sequence number, FK_EPRECOND if it was trimmed from the log.
 * The registry lock stays held until vm_watch_pager() or vm_watch_stop().
 */
int vm_watch_start(struct vm *vm, const char *ns, char *const *keys,
		   size_t nkeys, const struct watch_opts *opts,
		   struct vm_watch **out, struct fk_err *err);

/* Unregisters dead watchers (and unwatches their pages); `sync` calls it.
 * Nothing to do without a database. */
int vm_watch_reap(struct vm *vm, struct fk_err *err);

/* Passes the snapshot's cached copies to fn, in key byte order. */
int vm_watch_cached(struct vm_watch *w, watch_fn fn, void *ctx);

/* Calls the pager's watch for the pages this watcher is the first to
 * watch, releases the registry lock, then refreshes each watched page with
 * a pager read (a namespace watch does not refresh).  What the refresh
 * brings arrives through the change log.  Returns the first pager error
 * (the watch goes on: the caller reports it as a warning). */
int vm_watch_pager(struct vm_watch *w, struct fk_err *err);

/* Reads the pager's live feed, if it has one and it is due (input
 * arrived, or the pager asked to be called: vm_watch_wait() notes it; the
 * first call starts the feed): each announced page that this watcher
 * watches, or that is cached, is faulted in -- the change log carries it
 * to fn like any other change.  After a feed outage every cached page is
 * refreshed.  A failure (the feed is down, a page failed) is a warning:
 * the feed retries by itself. */
int vm_watch_feed(struct vm_watch *w, struct fk_err *err);
/* Passes every change after the last one seen to fn, coalesced per key,
 * in sequence order.  FK_EPRECOND when trimming overtook the watcher. */
int vm_watch_next(struct vm_watch *w, watch_fn fn, void *ctx,
		  struct fk_err *err);

/* Sleeps until something may have changed, at most timeout_ms (-1: no
 * limit of the caller's), and returns early when a signal arrives.
 * Returns 1 if hup_fd (the output, or -1) reports an error or hang-up. */
int vm_watch_wait(struct vm_watch *w, int timeout_ms, int hup_fd);

/* Unregisters (calling the pager's unwatch for pages nobody watches any
 * more) and frees w.  Errors are returned but w is freed regardless. */
int vm_watch_stop(struct vm_watch *w, struct fk_err *err);

#endif
