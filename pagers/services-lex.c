/*
 * services-lex.c - the lexer of the services file: the tokens of the Ruby
 * subset flok's config/services.rb uses, which JSON's nearly are too.
 * Strings are decoded here (escapes, \u with surrogate pairs, Ruby's
 * \u{...}) and numbers checked (no octal-looking leading zero, integers
 * exact as doubles); every token knows its line, for the messages.
 */
#if !defined(_GNU_SOURCE) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700 /* strndup */
#endif

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "services-internal.h"

#define MAX_EXACT_INT 9007199254740992ULL /* 2^53: doubles are exact below */

/* ---- small helpers ---------------------------------------------------- */

/* A growable string; p is NUL-terminated once anything was put. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static int sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		char *np;

		while (b->len + n + 1 > cap)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Appends code point cp (already checked to be a scalar value) as UTF-8. */
static int sb_put_utf8(struct sbuf *b, unsigned long cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		return sb_put(b, u, 1);
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		return sb_put(b, u, 2);
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return sb_put(b, u, 3);
	}
	u[0] = (char)(0xf0 | (cp >> 18));
	u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return sb_put(b, u, 4);
}

/* ---- the lexer -------------------------------------------------------- */

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c >= 0x80;
}

static bool ident_char(int c)
{
	return ident_start(c) || is_digit(c);
}

/* Skips blanks and comments (# and // to the end of the line); newlines
 * too when they are whitespace (inside brackets, after a comma). */
void svc_skip_blank(struct parser *p, bool newlines)
{
	for (;;) {
		int c = peek(p, 0);

		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
		    c == '\v') {
			p->pos++;
		} else if (c == '\n' && newlines) {
			p->pos++;
			p->line++;
		} else if (c == '\\' && peek(p, 1) == '\n') {
			p->pos += 2; /* Ruby's line continuation */
			p->line++;
		} else if (c == '#' || (c == '/' && peek(p, 1) == '/')) {
			while (p->pos < p->len && p->text[p->pos] != '\n')
				p->pos++;
		} else {
			return;
		}
	}
}

/* Anything the lexer does not know, up to the next delimiter. */
static void lex_bad(struct parser *p, struct tok *t)
{
	do
		p->pos++;
	while (p->pos < p->len &&
	       !strchr(" \t\r\n\f\v[]{}(),;'\"#", p->text[p->pos]));
	t->kind = T_BAD;
}

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads exactly n hex digits at the current position. */
static long read_hex(struct parser *p, int n)
{
	long v = 0;
	int i, h;

	for (i = 0; i < n; i++) {
		h = hex_value(peek(p, (size_t)i));
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	p->pos += (size_t)n;
	return v;
}

static int check_code_point(struct parser *p, unsigned long cp)
{
	if (cp == 0)
		return svc_perr(p, FK_EDATA, p->line,
				"\\u0000 is not allowed in strings");
	if (cp > 0x10ffff)
		return svc_perr(p, FK_EDATA, p->line,
				"\\u escape beyond U+10FFFF");
	if (cp >= 0xd800 && cp <= 0xdfff)
		return svc_perr(p, FK_EDATA, p->line,
				"lone surrogate \\u escape");
	return FK_OK;
}

/* \uXXXX (with JSON's surrogate pairs) or Ruby's \u{X Y ...}; the
 * position is just after the "u". */
static int lex_unicode(struct parser *p, struct sbuf *b)
{
	long cp, lo;
	int rc;

	if (peek(p, 0) == '{') {
		p->pos++;
		for (;;) {
			while (peek(p, 0) == ' ' || peek(p, 0) == '\t')
				p->pos++;
			if (peek(p, 0) == '}') {
				p->pos++;
				return FK_OK;
			}
			cp = 0;
			if (hex_value(peek(p, 0)) < 0)
				return svc_perr(p, FK_EDATA, p->line,
						"bad \\u{...} escape");
			while (hex_value(peek(p, 0)) >= 0 && cp <= 0x10ffff)
				cp = cp * 16 + hex_value(p->text[p->pos++]);
			rc = check_code_point(p, (unsigned long)cp);
			if (rc)
				return rc;
			if (sb_put_utf8(b, (unsigned long)cp))
				return svc_oom(p);
		}
	}
	cp = read_hex(p, 4);
	if (cp < 0)
		return svc_perr(p, FK_EDATA, p->line,
				"bad \\u escape (expected 4 hex digits)");
	if (cp >= 0xd800 && cp <= 0xdbff && peek(p, 0) == '\\' &&
	    peek(p, 1) == 'u') {
		size_t save = p->pos;

		p->pos += 2;
		lo = read_hex(p, 4);
		if (lo >= 0xdc00 && lo <= 0xdfff)
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		else
			p->pos = save;
	}
	rc = check_code_point(p, (unsigned long)cp);
	if (rc)
		return rc;
	return sb_put_utf8(b, (unsigned long)cp) ? svc_oom(p) : FK_OK;
}

/* A backslash escape of a double-quoted string, the position just after
 * the backslash. */
static int lex_escape(struct parser *p, struct sbuf *b)
{
	static const char from[] = "ntrbfvaes\"\\/'#";
	static const char to[] = "\n\t\r\b\f\v\a\033 \"\\/'#";
	int c = peek(p, 0);
	const char *k;

	if (c == 'u') {
		p->pos++;
		return lex_unicode(p, b);
	}
	if (c == '\n') { /* a continued line: Ruby drops both */
		p->pos++;
		p->line++;
		return FK_OK;
	}
	if (c > 0 && (k = strchr(from, c)) != NULL) {
		p->pos++;
		return sb_put(b, &to[k - from], 1) ? svc_oom(p) : FK_OK;
	}
	if (c < 0)
		return FK_OK; /* the caller reports the unterminated string */
	return svc_perr(p, FK_EDATA, p->line,
			"unknown escape '\\%c' in a string",
			c < 0x20 || c >= 0x7f ? '?' : c);
}

/* A quoted string; quote is " (Ruby/JSON escapes) or ' (only \\ and \'). */
static int lex_string(struct parser *p, struct tok *t, char quote)
{
	struct sbuf b = { 0 };
	int start_line = p->line, rc = FK_OK;

	p->pos++;
	if (sb_put(&b, "", 0))
		return svc_oom(p);
	for (;;) {
		int c = peek(p, 0);

		if (c < 0) {
			rc = svc_perr(p, FK_EDATA, start_line,
				      "unterminated string");
			break;
		}
		if (c == quote) {
			p->pos++;
			break;
		}
		if (c == 0) {
			rc = svc_perr(p, FK_EDATA, p->line,
				      "NUL byte in a string");
			break;
		}
		if (quote == '"' && c == '#' && peek(p, 1) == '{') {
			rc = svc_perr(p, FK_EDATA, p->line,
				      "string interpolation (#{...}) is not "
				      "supported");
			break;
		}
		if (c == '\\' && quote == '"') {
			p->pos++;
			rc = lex_escape(p, &b);
			if (rc)
				break;
			continue;
		}
		if (c == '\\' && (peek(p, 1) == '\\' || peek(p, 1) == '\''))
			p->pos++; /* single quotes: \\ and \' only */
		if (c == '\n')
			p->line++;
		if (sb_put(&b, p->text + p->pos, 1)) {
			rc = svc_oom(p);
			break;
		}
		p->pos++;
	}
	if (rc) {
		free(b.p);
		return rc;
	}
	t->kind = T_STRING;
	t->str = b.p;
	return FK_OK;
}

/* Digits with Ruby's single underscores between them; returns the index
 * after the run, the digits (without underscores) appended to b. */
static size_t lex_digits(struct parser *p, size_t i, struct sbuf *b, int *rc)
{
	while (i < p->len) {
		char c = p->text[i];

		if (is_digit(c)) {
			if (sb_put(b, &c, 1))
				*rc = -1;
			i++;
		} else if (c == '_' && i + 1 < p->len &&
			   is_digit(p->text[i + 1])) {
			i++;
		} else {
			break;
		}
	}
	return i;
}

static int lex_number(struct parser *p, struct tok *t)
{
	struct sbuf b = { 0 };
	size_t i = p->pos, int_start, int_end;
	bool is_float = false;
	int rc = 0;
	const char *text = p->text, *why = NULL;

	if (text[i] == '+' || text[i] == '-') {
		if (text[i] == '-' && sb_put(&b, "-", 1))
			rc = -1;
		i++;
	}
	int_start = i;
	i = int_end = lex_digits(p, i, &b, &rc);
	if (i + 1 < p->len && text[i] == '.' && is_digit(text[i + 1])) {
		if (sb_put(&b, ".", 1))
			rc = -1;
		i = lex_digits(p, i + 1, &b, &rc);
		is_float = true;
	}
	if (i + 1 < p->len && (text[i] == 'e' || text[i] == 'E')) {
		size_t j = i + 1;

		if (j + 1 < p->len && (text[j] == '+' || text[j] == '-'))
			j++;
		if (j < p->len && is_digit(text[j])) {
			if (sb_put(&b, "e", 1) ||
			    (text[j - 1] == '-' && sb_put(&b, "-", 1)))
				rc = -1;
			i = lex_digits(p, j, &b, &rc);
			is_float = true;
		}
	}
	if (rc) {
		free(b.p);
		return svc_oom(p);
	}
	/* 12abc, 1_, 0x1f, 1.foo: not a number we know */
	if (i < p->len &&
	    (ident_char((unsigned char)text[i]) || text[i] == '.')) {
		free(b.p);
		lex_bad(p, t);
		return FK_OK;
	}
	if (int_end - int_start > 1 && text[int_start] == '0') {
		free(b.p);
		return svc_perr(p, FK_EDATA, p->line,
				"number '%.*s' has a leading zero (Ruby would "
				"read it as octal)", (int)(i - p->pos),
				text + p->pos);
	}
	errno = 0;
	if (is_float) {
		t->num = strtod(b.p, NULL);
		if (t->num == HUGE_VAL || t->num == -HUGE_VAL)
			why = "is out of range";
	} else {
		const char *digits = b.p[0] == '-' ? b.p + 1 : b.p;
		unsigned long long u = strtoull(digits, NULL, 10);

		if (errno == ERANGE || u > MAX_EXACT_INT)
			why = "is beyond what a double holds exactly (2^53); "
			      "quote it";
		t->num = b.p[0] == '-' ? -(double)u : (double)u;
	}
	free(b.p);
	if (why)
		return svc_perr(p, FK_EDATA, p->line, "number '%.*s' %s",
				(int)(i - p->pos), text + p->pos, why);
	p->pos = i;
	t->kind = T_NUMBER;
	return FK_OK;
}

/* A word; followed at once by a single ':' it is a label (`key: value`). */
static int lex_word(struct parser *p, struct tok *t)
{
	size_t start = p->pos;

	while (ident_char(peek(p, 0)))
		p->pos++;
	if (peek(p, 0) == '?' || peek(p, 0) == '!')
		p->pos++;
	t->kind = T_WORD;
	if (peek(p, 0) == ':' && peek(p, 1) != ':') {
		t->str = strndup(p->text + start, p->pos - start);
		if (!t->str)
			return svc_oom(p);
		t->kind = T_LABEL;
		p->pos++;
	}
	return FK_OK;
}

/* :name, :"name" or :'name'; a lone ':' is punctuation. */
static int lex_colon(struct parser *p, struct tok *t)
{
	int c = peek(p, 1);
	size_t start;
	int rc;

	if (c == '"' || c == '\'') {
		p->pos++;
		rc = lex_string(p, t, (char)c);
		t->kind = T_SYMBOL;
		return rc;
	}
	if (!ident_start(c)) {
		p->pos++;
		t->kind = T_PUNCT;
		t->c = ':';
		return FK_OK;
	}
	start = ++p->pos;
	while (ident_char(peek(p, 0)))
		p->pos++;
	if (peek(p, 0) == '?' || peek(p, 0) == '!')
		p->pos++;
	t->str = strndup(p->text + start, p->pos - start);
	if (!t->str)
		return svc_oom(p);
	t->kind = T_SYMBOL;
	return FK_OK;
}

/* Reads the next token into t (which the caller frees with tok_free).
 * With nl a newline is a T_NL token; otherwise it is whitespace. */
int svc_lex(struct parser *p, bool nl, struct tok *t)
{
	int c, rc = FK_OK;

	memset(t, 0, sizeof(*t));
	svc_skip_blank(p, !nl);
	t->line = p->line;
	t->start = p->pos;
	c = peek(p, 0);
	if (c < 0) {
		t->kind = T_EOF;
	} else if (c == '\n') {
		t->kind = T_NL;
		p->pos++;
		p->line++;
	} else if (c != 0 && strchr("[]{}(),;", c)) {
		t->kind = T_PUNCT;
		t->c = (char)c;
		p->pos++;
	} else if (c == '=' && peek(p, 1) == '>') {
		t->kind = T_ARROW;
		p->pos += 2;
	} else if (c == '"' || c == '\'') {
		rc = lex_string(p, t, (char)c);
	} else if (c == ':') {
		rc = lex_colon(p, t);
	} else if (is_digit(c) ||
		   ((c == '-' || c == '+') && is_digit(peek(p, 1)))) {
		rc = lex_number(p, t);
	} else if (ident_start(c)) {
		rc = lex_word(p, t);
	} else {
		lex_bad(p, t);
	}
	t->end = p->pos;
	return rc;
}
