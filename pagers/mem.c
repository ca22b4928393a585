/*
 * mem.c - the `mem` pager: local pages, persisted in the database.
 *
 * The minimal pager, and the example to copy.  The cache is the
 * authority, so mem needs no slot at all: a NULL read answers "not
 * modified" from the cache and a NULL write accepts every write (see the
 * contract in pager.h).  A pager for a real source fills in the slots it
 * needs; spec.c shows every slot filled.
 */
#include "pager.h"

const struct pager_ops mem_pager_ops = {
	.type = "mem",
	.size = sizeof(struct pager),
	.pushes = false,
};
