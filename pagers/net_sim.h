/*
 * net_sim.h - the `net_sim` pager type (net_sim.c).
 *
 * Kept apart only until the declaration joins the others in pager.h.
 */
#ifndef FLOKVM_NET_SIM_H
#define FLOKVM_NET_SIM_H

#include "pager.h"

extern const struct pager_ops net_sim_pager_ops;

#endif
