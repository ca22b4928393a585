/*
 * exec.h - the `exec` pager type (exec.c).
 *
 * Kept apart only until the declaration joins the others in pager.h.
 */
#ifndef FLOKVM_EXEC_H
#define FLOKVM_EXEC_H

#include "pager.h"

extern const struct pager_ops exec_pager_ops;

#endif
