/*
 * mem.c - the `mem` pager: local pages, persisted in the database.
 *
 * The minimal pager, and the example to copy: every slot it needs is a
 * one-liner, because the vm layer already keeps the cache.  Reads answer
 * "not modified" (the cache is the authority), writes are accepted.
 */
#include "pager.h"

static int mem_read(struct pager *p, const char *key, const char *cached,
		    const char *hash, struct pager_answer *ans,
		    struct fk_err *err)
{
	(void)p, (void)key, (void)cached, (void)hash, (void)err;
	ans->verdict = PAGER_NOT_MODIFIED;
	return FK_OK;
}

static int mem_write(struct pager *p, const char *key, const cJSON *page,
		     const char *hash, struct fk_err *err)
{
	(void)p, (void)key, (void)page, (void)hash, (void)err;
	return FK_OK;
}

const struct pager_ops mem_pager_ops = {
	.type = "mem",
	.size = sizeof(struct pager),
	.pushes = false,
	.read = mem_read,
	.write = mem_write,
	/* watch, unwatch and invalidate have nothing to do: NULL. */
};
