/*
 * pager.h - the pager interface (SPEC §3.2).
 *
 * A pager is a paging device for one namespace: it answers reads with
 * fresher copies, decides what a write means, and pushes local changes.
 * Pagers never touch the database, print or exit: they return pages and
 * verdicts, and store/vm.c owns the cache, the hashes and notifications.
 *
 * Each pager type is one file with one `const struct pager_ops` and a
 * struct that embeds `struct pager` as its first member.  `mem.c` is the
 * minimal example.
 */
#ifndef FLOKVM_PAGER_H
#define FLOKVM_PAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "services.h"
#include "status.h"

enum pager_verdict {
	PAGER_NOT_MODIFIED, /* nothing new: keep the cached copy */
	PAGER_PAGE,         /* answer->page is the authority's copy */
	PAGER_GONE,         /* the authority no longer has the page */
};

/* What a read or sync brought back.  The op fills it; the caller owns page
 * and changes_id afterwards and frees them with pager_answer_release(). */
struct pager_answer {
	enum pager_verdict verdict;
	cJSON *page;      /* PAGER_PAGE: unvalidated; the vm validates it */
	char *changes_id; /* sync: the id of the changes the copy contains */
};

/* What a drain() found out.  Release with pager_notices_release(). */
struct pager_notices {
	char **keys;    /* announced as changed by the authority; owned */
	size_t n, cap;
	bool all;       /* announcements may have been missed (reconnected):
			 * every cached page needs a refresh */
	char note[512]; /* non-empty: news for the user ("reconnected") */
};

struct pager;

/*
 * The operations.  Each returns FK_OK or a status (FK_ERUNTIME for a pager
 * failure, FK_EREFUSED for a refusal, FK_EDATA for rejected data) with err
 * filled.  `hash` arguments are the cached page's _hash before the call, or
 * NULL when nothing is cached; `cached` is the cached user-visible page
 * text or NULL.  A NULL key in watch/unwatch means the whole namespace.
 * init, watch, unwatch, invalidate and close may be NULL: nothing to do.
 * read may be NULL: the pager answers from the cache only (always "not
 * modified"); write may be NULL: writes are accepted and stored.  A NULL
 * slot costs no call, which lets `batch` keep its transaction open.
 */
struct pager_ops {
	const char *type;
	size_t size;  /* bytes to allocate: the type's struct embedding pager */
	bool pushes;  /* writes become based pages and are queued (§7) */

	/* Called once per process, before the first other call. */
	int (*init)(struct pager *p, struct fk_err *err);
	/* Fault: may return a fresher copy. */
	int (*read)(struct pager *p, const char *key, const char *cached,
		    const char *hash, struct pager_answer *ans,
		    struct fk_err *err);
	/* The first watcher of a page across all processes arrived / the last
	 * one left. */
	int (*watch)(struct pager *p, const char *key, const char *hash,
		     struct fk_err *err);
	int (*unwatch)(struct pager *p, const char *key, const char *hash,
		       struct fk_err *err);
	/* A write of the validated page is about to be committed locally:
	 * FK_OK accepts it, anything else refuses it. */
	int (*write)(struct pager *p, const char *key, const cJSON *page,
		     const char *hash, struct fk_err *err);
	/* Push {page, changes, changes_id}; NULL for pagers that don't push. */
	int (*sync)(struct pager *p, const char *key, const cJSON *push,
		    struct pager_answer *ans, struct fk_err *err);
	/* The page was dropped from the cache. */
	int (*invalidate)(struct pager *p, const char *key, const char *hash,
			  struct fk_err *err);
	/* Frees what init allocated (not p itself). */
	void (*close)(struct pager *p);

	/*
	 * Optional, NULL when unsupported.  A live feed of the authority's
	 * changes for `watch` (postgres LISTEN): poll_fd() returns a
	 * descriptor to poll for input (-1: none at the moment) and sets
	 * *wake_ms to the longest the loop may sleep before calling drain()
	 * anyway (-1: no limit), e.g. to retry a lost connection; drain()
	 * reads what arrived.  A drain failure is a warning: the feed goes on
	 * and is retried.
	 */
	int (*poll_fd)(struct pager *p, int *wake_ms);
	int (*drain)(struct pager *p, struct pager_notices *out,
		     struct fk_err *err);
	/* Optional: one round trip for many "read"s, as in `sync`.  keys[i],
	 * cached[i] and hashes[i] are what read() would get; answers[0..n)
	 * are filled (the caller releases each) unless an error is returned,
	 * in which case none are. */
	int (*revalidate)(struct pager *p, const char *const *keys,
			  const char *const *cached, const char *const *hashes,
			  size_t n, struct pager_answer *answers,
			  struct fk_err *err);
};

struct pager {
	const struct pager_ops *ops;
	const struct svc_pager *conf; /* name, ns, type, options, readonly */
	const char *dir;              /* the services file's folder, or NULL */
	size_t max_page_bytes;        /* the page limit: more output is an error */
};

/* The registry of types (registry.c). */
const struct pager_ops *pager_type_find(const char *type);
bool pager_type_known(const char *type);
const char *pager_type_list(void); /* "mem, spec" */

/* Allocates and initialises the pager for conf.  Caller pager_free()s. */
int pager_new(const struct svc_pager *conf, const char *dir,
	      size_t max_page_bytes, struct pager **out, struct fk_err *err);
void pager_free(struct pager *p);
void pager_answer_release(struct pager_answer *ans);
/* For the pager types' own messages: fills err with `pager "NAME" OP
 * "KEY": ...`, or `pager "NAME" (namespace "NS") OP: ...` without a key,
 * and returns status. */
int pager_fail(const struct pager *p, const char *op, const char *key,
	       int status, struct fk_err *err, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* options.timeout_ms: a positive integer, else dflt when absent or null;
 * FK_EDATA naming the option otherwise. */
int pager_opt_timeout(const struct pager *p, int dflt, int *out,
		      struct fk_err *err);
/* Appends a copy of key to n->keys, unless it is there already. */
void pager_notices_add(struct pager_notices *n, const char *key);
void pager_notices_release(struct pager_notices *n);

/* The built-in pager types, one file each. */
extern const struct pager_ops exec_pager_ops;
extern const struct pager_ops mem_pager_ops;
extern const struct pager_ops net_sim_pager_ops;
extern const struct pager_ops postgres_pager_ops;
extern const struct pager_ops spec_pager_ops;

#endif
