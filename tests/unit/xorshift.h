/*
 * xorshift.h - the seeded generator of the unit tests' random property
 * tests: reproducible on every machine, so a failure can be replayed.
 * A test defines XORSHIFT_SEED before including this header.
 */
#ifndef FLOKVM_XORSHIFT_H
#define FLOKVM_XORSHIFT_H

#include <stdint.h>

static uint64_t rng_state = XORSHIFT_SEED;

/* A number below n (n > 0). */
static inline uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

#endif
