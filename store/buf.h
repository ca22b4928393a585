/*
 * buf.h - a growable byte buffer, the one way flokvm builds output text.
 *
 * A zeroed struct buf is an empty buffer.  buf_release() frees the storage;
 * buf_detach() hands it to the caller (caller frees with free()).  On
 * allocation failure the process aborts: flokvm has no sensible way to go on
 * without memory, and a half-built event must never be printed.
 */
#ifndef FLOKVM_BUF_H
#define FLOKVM_BUF_H

#include <stddef.h>

struct buf {
	char *p;    /* always NUL-terminated once anything was added */
	size_t len; /* bytes used, not counting the NUL */
	size_t cap;
};

void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);   /* len = 0, keeps the storage */
void buf_release(struct buf *b); /* frees the storage, zeroes b */
char *buf_detach(struct buf *b); /* caller frees; b is left empty */
/* strdup() that aborts when out of memory, as the buffers do; NULL
 * stays NULL.  Caller frees. */
char *buf_strdup(const char *s);
/* Appends text with line breaks as "; " and control characters as spaces. */
void buf_add_one_line(struct buf *b, const char *text);

#endif
