/*
 * vm.h - the requests of the paging service (SPEC §4): read, read_sync,
 * write, ls, check.  Around every pager call this layer validates and
 * hashes pages, keeps the cache, and decides what is a change; pagers and
 * the command line never repeat that work.
 *
 * Every request names its subject in err ("namespace \"user\" key \"k\":
 * ...") so that the command line only adds "flokvm: COMMAND: ".
 */
#ifndef FLOKVM_VM_H
#define FLOKVM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "pager.h"
#include "services.h"
#include "settings.h"

/*
 * Group commit for `batch` (SPEC §4.3).  While enabled, each request's
 * read-modify-write runs in a savepoint inside one BEGIN IMMEDIATE.  The
 * vm commits it before any pager call (no transaction is ever held while
 * a pager runs); the caller commits it (vm_group_commit) when n reaches
 * size and when no more input is ready.  `committed` is called after
 * each commit, or its failure, so that the caller prints acknowledgements
 * only for work that is on disk.  atomic: one transaction, never committed
 * early; a request that would need a pager call fails instead.
 */
struct vm_group {
	bool enabled;
	bool atomic;
	bool txn;    /* the group's BEGIN IMMEDIATE is open */
	long n;      /* requests in it */
	long size;
	void (*committed)(void *ctx, int status, const struct fk_err *err);
	void *ctx;
};

struct vm {
	const char *db_path;
	const struct services *svc;
	struct settings set;
	struct db *db;          /* opened on first use; NULL: none yet */
	struct pager **pagers;  /* one slot per svc->pagers, created lazily */
	/* Warnings that do not fail a request (a push that failed after the
	 * local write committed): the command line prints them. */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
	/* Writes whose push failed after the first one warned about: they are
	 * counted, and vm_release() warns once with the count (a batch while
	 * the authority is down would warn once per page otherwise). */
	bool unpushed_warned;
	size_t unpushed_quiet;
	struct vm_group group;
};

/* A page as a request answers it.  text is "{}" for a missing page. */
struct vm_page {
	char *text;     /* canonical user-visible JSON; owned */
	char *hash;     /* owned; NULL when missing */
	int64_t seq;    /* revision; 0 when missing */
	bool found;
	bool changed;   /* the request committed a change */
};

/* Passes a formatted warning to vm->warn, if set. */
void vm_warn(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* svc and db_path must outlive the vm. */
void vm_init(struct vm *vm, const char *db_path, const struct services *svc,
	     const struct settings *set);
void vm_release(struct vm *vm);
void vm_page_release(struct vm_page *pg);

/* Commits the open group transaction, if any (then calls committed). */
int vm_group_commit(struct vm *vm, struct fk_err *err);
/* Ends the group: commit (commit true) or roll back what is open. */
int vm_group_end(struct vm *vm, bool commit, struct fk_err *err);

/* The limits of page_parse() from the settings. */
struct page_limits vm_limits(const struct vm *vm);

/* Checks a namespace name and finds its pager: FK_EDATA for a bad name,
 * FK_EREFUSED (saying how to configure one) when no pager serves it. */
int vm_namespace(struct vm *vm, const char *ns, const struct svc_pager **conf,
		 struct fk_err *err);

/* Opens the database on first use (with create: making it exist).  A
 * missing database without create leaves vm->db NULL: an empty store. */
int vm_db(struct vm *vm, bool create, struct fk_err *err);

/* Checks ns (and key, if not NULL) and returns the namespace's pager,
 * initialised on first use. */
int vm_pager(struct vm *vm, const char *ns, const char *key, struct pager **out,
	     struct fk_err *err);

/* The cached copy only; never creates the database. */
int vm_cached(struct vm *vm, const char *ns, const char *key,
	      struct vm_page *out, struct fk_err *err);

/* Asks the pager for a fresher copy and applies it; out is the page as
 * stored afterwards, out->changed whether that was a change. */
int vm_fault(struct vm *vm, const char *ns, const char *key,
	     struct vm_page *out, struct fk_err *err);

/* The cached copy, else one pager read. */
int vm_read_sync(struct vm *vm, const char *ns, const char *key,
		 struct vm_page *out, struct fk_err *err);

struct vm_write_opts {
	int64_t if_seq;       /* -1: no condition; 0: only if absent */
	const char *if_hash;  /* NULL: no condition; "none": only if absent */
};

/* vm_write() for a page already parsed (batch): page is consumed. */
int vm_write_tree(struct vm *vm, const char *ns, const char *key, cJSON *page,
		  const struct vm_write_opts *opts, struct vm_page *out,
		  struct fk_err *err);

/* The checks of a write that come before its input (SPEC §4.4's order):
 * the namespace has a pager (69), it is writable (69), the key is good
 * (65).  *out is the pager. */
int vm_write_target(struct vm *vm, const char *ns, const char *key,
		    struct pager **out, struct fk_err *err);

/* Validates, normalises and hashes text as the page (ns, key), lets the
 * pager decide, and commits it if it is a change. */
int vm_write(struct vm *vm, const char *ns, const char *key, const char *text,
	     size_t len, const struct vm_write_opts *opts, struct vm_page *out,
	     struct fk_err *err);

/* Drops (ns, key) from the cache (a change, announced to watchers) and
 * tells the pager.  A page with unsynced local changes is refused
 * (FK_EREFUSED) unless discard.  A page not cached is no change. */
int vm_invalidate(struct vm *vm, const char *ns, const char *key, bool discard,
		  struct fk_err *err);

/*
 * Pushes the oldest unacknowledged set of changes of (ns, key) to its
 * pager (SPEC §7 "Pushing") and applies the answer.  A rejection (the
 * pager's sync exits 65 or 69) drops the pushed changes with a warning and
 * re-reads the page.  out is the page as stored afterwards.  Other
 * failures keep the changes queued and return the pager's status.
 */
int vm_push(struct vm *vm, const char *ns, const char *key,
	    struct vm_page *out, struct fk_err *err);

/* `sync` (SPEC §7): see sync.c. */
struct vm_sync_report {
	/* A page whose stored copy changed (print its read_res). */
	void (*changed)(void *ctx, const char *ns, const char *key,
			const struct vm_page *pg);
	/* One page failed; the sync goes on (status, message). */
	void (*failed)(void *ctx, int status, const char *msg);
	/* done of total pages handled so far (for a progress bar). */
	void (*progress)(void *ctx, size_t done, size_t total);
	void *ctx;
};

struct vm_sync_stats {
	size_t pushed, refreshed, changed, failed;
};

/*
 * Runs one sync over the namespaces nss[0..n) (n == 0: every configured
 * namespace).  FK_ETEMP at once if another sync holds the sync lock,
 * FK_EREFUSED for a namespace no pager serves; otherwise the status of the
 * first page that failed, or FK_OK.  now: push phase-0 pages too.
 */
int vm_sync(struct vm *vm, char *const *nss, size_t n, bool now,
	    const struct vm_sync_report *r, struct vm_sync_stats *stats,
	    struct fk_err *err);

/* The refresh half of `sync` for one namespace, without its lock: every
 * cached page of ns asked about again (batched when the pager can).  For
 * `watch` after its pager's feed missed announcements.  The status of the
 * first page that failed, or FK_OK. */
int vm_refresh(struct vm *vm, const char *ns, const struct vm_sync_report *r,
	       struct vm_sync_stats *stats, struct fk_err *err);

/* Cached pages of ns in key byte order (none if the database is missing). */
int vm_ls(struct vm *vm, const char *ns, db_page_fn fn, void *ctx,
	  struct fk_err *err);

/* Verifies every stored page and SQLite's integrity; fn gets each problem
 * (ns and key NULL for database-wide ones).  *problems counts them. */
typedef void (*vm_problem_fn)(void *ctx, const char *ns, const char *key,
			      const char *problem);
int vm_check(struct vm *vm, vm_problem_fn fn, void *ctx, int *problems,
	     struct fk_err *err);

#endif
