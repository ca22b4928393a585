/*
 * json-internal.h - what the files of the JSON code (json-read.c,
 * json-write.c, json-equal.c) share and nothing else sees.
 */
#ifndef FLOKVM_JSON_INTERNAL_H
#define FLOKVM_JSON_INTERNAL_H

/* Says "out of memory" on stderr and aborts: every allocation failure
 * does (json-read.c says why). */
void json_die(void);

static inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1e0 to 1e22: the powers of ten that are exact doubles. */
extern const double json_exact_pow10[];

#endif
