/*
 * buf.c - the growable byte buffer (see buf.h).
 *
 * Every function that adds bytes keeps p NUL-terminated, so a buffer can be
 * handed to anything that wants a C string.  Running out of memory aborts:
 * see the header for why there is no error path.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void buf_die(void)
{
	fputs("flokvm: out of memory\n", stderr);
	abort();
}

/* Makes room for extra more bytes plus the terminating NUL.  Afterwards p
 * is never NULL, so even an empty buffer is a valid string. */
void buf_grow(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - 1 - b->len)
		buf_die();
	need = b->len + extra + 1;
	if (need > b->cap) {
		cap = b->cap ? b->cap : 64;
		while (cap < need) {
			if (cap > SIZE_MAX / 2) {
				cap = need;
				break;
			}
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (!p)
			buf_die();
		b->p = p;
		b->cap = cap;
	}
	b->p[b->len] = '\0';
}

void buf_add(struct buf *b, const void *data, size_t len)
{
	if (len >= b->cap - b->len) /* also true for a zeroed buffer */
		buf_grow(b, len);
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addc(struct buf *b, char c)
{
	if (b->len + 1 >= b->cap)
		buf_grow(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap, again;
	size_t room;
	int n;

	buf_grow(b, 0);
	room = b->cap - b->len;
	va_start(ap, fmt);
	va_copy(again, ap);
	n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		/* Only an invalid format or wide-character conversion gets
		 * here; drop the partial text rather than print half of it. */
		b->p[b->len] = '\0';
		va_end(again);
		return;
	}
	if ((size_t)n >= room) {
		buf_grow(b, (size_t)n);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
	}
	va_end(again);
	b->len += (size_t)n;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void buf_release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Even a buffer that never received a byte detaches as "", so callers need
 * not tell NULL from empty. */
char *buf_detach(struct buf *b)
{
	char *p;

	buf_grow(b, 0);
	p = b->p;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

/* Appends text as one line: line breaks become "; ", other control
 * characters spaces, so that a script's stderr or a library's message
 * cannot break our one-line errors. */
void buf_add_one_line(struct buf *b, const char *text)
{
	size_t start = b->len;
	bool brk = false;

	for (; *text; text++) {
		if (*text == '\n' || *text == '\r') {
			brk = b->len > start;
			continue;
		}
		if (brk && (*text == ' ' || *text == '\t'))
			continue; /* the indentation of a continuation line */
		if (brk)
			buf_adds(b, "; ");
		brk = false;
		buf_addc(b, (unsigned char)*text < 0x20 && *text != '\t' ? ' ' : *text);
	}
}

char *buf_strdup(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		abort();
	return d;
}
