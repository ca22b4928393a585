/*
 * services.c - reading the services file (SPEC §3.1).
 *
 * One lexer and one recursive-descent parser read both syntaxes: the Ruby
 * subset of flok's config/services.rb and JSON, which that subset nearly
 * contains.  Values become cJSON trees.  cJSON keeps no line numbers, so
 * the parser records the line of every node it creates in a side table;
 * the checks made afterwards on the tree look lines up there, and every
 * message can start "FILE:LINE: ".
 */
#if !defined(_GNU_SOURCE) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700 /* strdup, strndup, realpath */
#endif

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services.h"

#define NAME_MAX_BYTES 1024
#define MAX_NESTING 64
#define MAX_FILE_BYTES ((size_t)16 << 20)
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

/* Returns the offset of the first byte that is not valid UTF-8, or len. */
static size_t utf8_bad_offset(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		unsigned long cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return i;
		}
		if (len - i <= n)
			return i;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return i;
		i += n + 1;
	}
	return len;
}

/* Names and namespaces: 1-1024 bytes, no control characters. */
static bool valid_ident(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > NAME_MAX_BYTES)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

const char *services_type_from_name(const char *name, char *buf, size_t n)
{
	size_t len;

	/* A buffer too small truncates, like strlcpy; names are at most
	 * NAME_MAX_BYTES, so a buffer one byte larger always suffices. */
	if (n == 0)
		return NULL;
	if (strncmp(name, "pg_", 3) == 0)
		name += 3;
	len = strlen(name);
	while (len > 0 && name[len - 1] >= '0' && name[len - 1] <= '9')
		len--;
	if (len >= n)
		len = n - 1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	return buf;
}

/* ---- the parser's state and messages ---------------------------------- */

struct node_line {
	const cJSON *node;
	int line;     /* where the value starts */
	int key_line; /* where its key is, for members of a hash; else 0 */
};

struct parser {
	const char *text;
	size_t len, pos;
	int line;                /* of text[pos] */
	int depth;               /* of [ and {, against MAX_NESTING */
	const char *file;        /* for messages */
	svc_type_known_fn known; /* NULL accepts every type */
	const char *known_list;
	struct node_line *lines; /* every node made; sorted by node once the
				  * parse is over, for lookup() */
	size_t nlines, cap;
	struct fk_err *err;
};

static int perr(struct parser *p, int status, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int perr(struct parser *p, int status, int line, const char *fmt, ...)
{
	char msg[sizeof(p->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fk_fail(p->err, status, "%s:%d: %s", p->file, line, msg);
}

static int oom(struct parser *p)
{
	return perr(p, FK_ERUNTIME, p->line, "out of memory");
}

static int record(struct parser *p, const cJSON *node, int line, int key_line)
{
	if (p->nlines == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct node_line *nl = realloc(p->lines, cap * sizeof(*nl));

		if (!nl)
			return oom(p);
		p->lines = nl;
		p->cap = cap;
	}
	p->lines[p->nlines].node = node;
	p->lines[p->nlines].line = line;
	p->lines[p->nlines].key_line = key_line;
	p->nlines++;
	return FK_OK;
}

static int cmp_node_line(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct node_line *)a)->node;
	uintptr_t y = (uintptr_t)((const struct node_line *)b)->node;

	return x < y ? -1 : x > y;
}

/* Only valid once parsing is over and the table is sorted. */
static const struct node_line *lookup(struct parser *p, const cJSON *node)
{
	struct node_line key = { .node = node };

	if (!p->nlines)
		return NULL;
	return bsearch(&key, p->lines, p->nlines, sizeof(key), cmp_node_line);
}

static int line_of(struct parser *p, const cJSON *node)
{
	const struct node_line *nl = lookup(p, node);

	return nl ? nl->line : 0;
}

static int key_line_of(struct parser *p, const cJSON *node)
{
	const struct node_line *nl = lookup(p, node);

	return nl ? nl->key_line : 0;
}

/* ---- the lexer -------------------------------------------------------- */

enum tok_kind {
	T_EOF,
	T_NL,     /* a newline, only when the caller asks for them */
	T_PUNCT,  /* one of [ ] { } ( ) , ; : */
	T_ARROW,  /* => */
	T_WORD,   /* an identifier: true, false, nil, service_instance... */
	T_LABEL,  /* word: as a hash key */
	T_SYMBOL, /* :name, :"name" */
	T_STRING,
	T_NUMBER,
	T_BAD,    /* anything else, up to the next delimiter */
};

struct tok {
	enum tok_kind kind;
	int line;
	size_t start, end; /* the raw text, for messages */
	char c;            /* T_PUNCT */
	char *str;         /* T_LABEL, T_SYMBOL, T_STRING: decoded, owned */
	double num;        /* T_NUMBER */
};

static void tok_free(struct tok *t)
{
	free(t->str);
	t->str = NULL;
}

static bool is_punct(const struct tok *t, char c)
{
	return t->kind == T_PUNCT && t->c == c;
}

static bool is_word(struct parser *p, const struct tok *t, const char *w)
{
	size_t n = strlen(w);

	return t->kind == T_WORD && t->end - t->start == n &&
	       memcmp(p->text + t->start, w, n) == 0;
}

/* Describes a token for "unexpected ...": its text quoted, cut short. */
static const char *tok_desc(struct parser *p, const struct tok *t,
			    char *buf, size_t n)
{
	size_t len = t->end - t->start, i, o = 0;
	bool cut = false;

	if (t->kind == T_EOF)
		return "end of file";
	if (t->kind == T_NL)
		return "end of line";
	if (len > 40) {
		len = 40; /* backing off so as not to split a character */
		while (len > 0 &&
		       ((unsigned char)p->text[t->start + len] & 0xc0) == 0x80)
			len--;
		cut = true;
	}
	buf[o++] = '\'';
	for (i = 0; i < len && o + 5 < n; i++) {
		char c = p->text[t->start + i];

		if (c == '\n') {
			cut = true;
			break;
		}
		buf[o++] = (unsigned char)c < 0x20 ? '?' : c;
	}
	if (cut && o + 5 < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

static int unexpected(struct parser *p, const struct tok *t, const char *why)
{
	char d[64];

	return perr(p, FK_EDATA, t->line, "unexpected %s%s",
		    tok_desc(p, t, d, sizeof(d)), why);
}

static int peek(struct parser *p, size_t off)
{
	return p->pos + off < p->len ? (unsigned char)p->text[p->pos + off]
				     : -1;
}

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
static void skip_blank(struct parser *p, bool newlines)
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
		return perr(p, FK_EDATA, p->line,
			    "\\u0000 is not allowed in strings");
	if (cp > 0x10ffff)
		return perr(p, FK_EDATA, p->line,
			    "\\u escape beyond U+10FFFF");
	if (cp >= 0xd800 && cp <= 0xdfff)
		return perr(p, FK_EDATA, p->line, "lone surrogate \\u escape");
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
				return perr(p, FK_EDATA, p->line,
					    "bad \\u{...} escape");
			while (hex_value(peek(p, 0)) >= 0 && cp <= 0x10ffff)
				cp = cp * 16 + hex_value(p->text[p->pos++]);
			rc = check_code_point(p, (unsigned long)cp);
			if (rc)
				return rc;
			if (sb_put_utf8(b, (unsigned long)cp))
				return oom(p);
		}
	}
	cp = read_hex(p, 4);
	if (cp < 0)
		return perr(p, FK_EDATA, p->line,
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
	return sb_put_utf8(b, (unsigned long)cp) ? oom(p) : FK_OK;
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
		return sb_put(b, &to[k - from], 1) ? oom(p) : FK_OK;
	}
	if (c < 0)
		return FK_OK; /* the caller reports the unterminated string */
	return perr(p, FK_EDATA, p->line, "unknown escape '\\%c' in a string",
		    c < 0x20 || c >= 0x7f ? '?' : c);
}

/* A quoted string; quote is " (Ruby/JSON escapes) or ' (only \\ and \'). */
static int lex_string(struct parser *p, struct tok *t, char quote)
{
	struct sbuf b = { 0 };
	int start_line = p->line, rc = FK_OK;

	p->pos++;
	if (sb_put(&b, "", 0))
		return oom(p);
	for (;;) {
		int c = peek(p, 0);

		if (c < 0) {
			rc = perr(p, FK_EDATA, start_line,
				  "unterminated string");
			break;
		}
		if (c == quote) {
			p->pos++;
			break;
		}
		if (c == 0) {
			rc = perr(p, FK_EDATA, p->line,
				  "NUL byte in a string");
			break;
		}
		if (quote == '"' && c == '#' && peek(p, 1) == '{') {
			rc = perr(p, FK_EDATA, p->line,
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
			rc = oom(p);
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
		return oom(p);
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
		return perr(p, FK_EDATA, p->line,
			    "number '%.*s' has a leading zero (Ruby would read "
			    "it as octal)", (int)(i - p->pos), text + p->pos);
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
		return perr(p, FK_EDATA, p->line, "number '%.*s' %s",
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
			return oom(p);
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
		return oom(p);
	t->kind = T_SYMBOL;
	return FK_OK;
}

/* Reads the next token into t (which the caller frees with tok_free).
 * With nl a newline is a T_NL token; otherwise it is whitespace. */
static int lex(struct parser *p, bool nl, struct tok *t)
{
	int c, rc = FK_OK;

	memset(t, 0, sizeof(*t));
	skip_blank(p, !nl);
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

/* ---- values ----------------------------------------------------------- */

static int parse_value(struct parser *p, struct tok *t, int key_line,
		       cJSON **out);

static int parse_array(struct parser *p, int open_line, cJSON *arr)
{
	struct tok t;
	cJSON *v;
	int rc;

	for (;;) {
		if ((rc = lex(p, false, &t)))
			return rc;
		if (t.kind == T_EOF)
			return perr(p, FK_EDATA, open_line,
				    "unterminated array");
		if (is_punct(&t, ']'))
			return FK_OK; /* empty, or after a trailing comma */
		if ((rc = parse_value(p, &t, 0, &v)))
			return rc;
		cJSON_AddItemToArray(arr, v);
		if ((rc = lex(p, false, &t)))
			return rc;
		if (is_punct(&t, ']'))
			return FK_OK;
		if (t.kind == T_EOF)
			return perr(p, FK_EDATA, open_line,
				    "unterminated array");
		tok_free(&t);
		if (!is_punct(&t, ','))
			return unexpected(p, &t,
					  " in an array (expected ',' or ']')");
	}
}

/* The separator after a quoted or symbol key: => always, ':' after a
 * string ("key": value, JSON's form).  Read from the raw text because
 * `"a":true` would otherwise lex as the symbol :true. */
static int parse_separator(struct parser *p, const struct tok *key,
			   int open_line)
{
	struct tok t;
	int rc;

	skip_blank(p, true);
	if (peek(p, 0) == '=' && peek(p, 1) == '>') {
		p->pos += 2;
		return FK_OK;
	}
	if (peek(p, 0) == ':' && key->kind == T_STRING) {
		p->pos++;
		return FK_OK;
	}
	if ((rc = lex(p, false, &t)))
		return rc;
	tok_free(&t);
	if (t.kind == T_EOF)
		return perr(p, FK_EDATA, open_line, "unterminated hash");
	return unexpected(p, &t, " after a hash key (expected '=>')");
}

static int parse_hash(struct parser *p, int open_line, cJSON *obj)
{
	struct tok k, t;
	cJSON *v;
	int rc;

	for (;;) {
		if ((rc = lex(p, false, &k)))
			return rc;
		if (k.kind == T_EOF)
			return perr(p, FK_EDATA, open_line,
				    "unterminated hash");
		if (is_punct(&k, '}'))
			return FK_OK;
		if (k.kind != T_LABEL && k.kind != T_STRING &&
		    k.kind != T_SYMBOL) {
			tok_free(&k);
			return unexpected(p, &k,
					  " where a hash key (a symbol or a "
					  "string) belongs");
		}
		if (k.kind != T_LABEL &&
		    (rc = parse_separator(p, &k, open_line)))
			goto fail;
		if (cJSON_GetObjectItemCaseSensitive(obj, k.str)) {
			rc = perr(p, FK_EDATA, k.line, "duplicate key \"%s\"",
				  k.str);
			goto fail;
		}
		if ((rc = lex(p, false, &t)))
			goto fail;
		if (t.kind == T_EOF) {
			rc = perr(p, FK_EDATA, open_line, "unterminated hash");
			goto fail;
		}
		if ((rc = parse_value(p, &t, k.line, &v)))
			goto fail;
		if (!cJSON_AddItemToObject(obj, k.str, v)) {
			cJSON_Delete(v);
			rc = oom(p);
			goto fail;
		}
		tok_free(&k);
		if ((rc = lex(p, false, &t)))
			return rc;
		if (is_punct(&t, '}'))
			return FK_OK;
		if (t.kind == T_EOF)
			return perr(p, FK_EDATA, open_line,
				    "unterminated hash");
		tok_free(&t);
		if (!is_punct(&t, ','))
			return unexpected(p, &t,
					  " in a hash (expected ',' or '}')");
	}
fail:
	tok_free(&k);
	return rc;
}

/* Turns token t (and for [ and { what follows it) into a value; takes t's
 * string.  key_line is the line of the value's key inside a hash. */
static int parse_value(struct parser *p, struct tok *t, int key_line,
		       cJSON **out)
{
	cJSON *v = NULL;
	int rc = FK_OK;

	*out = NULL;
	if (t->kind == T_STRING || t->kind == T_SYMBOL) {
		v = cJSON_CreateString(t->str);
	} else if (t->kind == T_NUMBER) {
		v = cJSON_CreateNumber(t->num);
	} else if (is_word(p, t, "true") || is_word(p, t, "false")) {
		v = cJSON_CreateBool(p->text[t->start] == 't');
	} else if (is_word(p, t, "nil") || is_word(p, t, "null")) {
		v = cJSON_CreateNull();
	} else if (is_punct(t, '[') || is_punct(t, '{')) {
		if (++p->depth > MAX_NESTING) {
			rc = perr(p, FK_EDATA, t->line,
				  "nested more than %d deep", MAX_NESTING);
		} else {
			v = t->c == '[' ? cJSON_CreateArray()
					: cJSON_CreateObject();
			if (v)
				rc = t->c == '[' ? parse_array(p, t->line, v)
						 : parse_hash(p, t->line, v);
		}
		p->depth--;
	} else {
		rc = unexpected(p, t, "");
	}
	if (!rc && !v)
		rc = oom(p);
	if (!rc)
		rc = record(p, v, t->line, key_line);
	tok_free(t);
	if (rc) {
		cJSON_Delete(v);
		return rc;
	}
	*out = v;
	return FK_OK;
}

/* ---- statements ------------------------------------------------------- */

/*
 * One `service_instance ARG, ARG[, ARG]` statement, with or without
 * parentheses, the word itself already read.  Its arguments become an
 * array appended to root, recorded with the statement's line.
 */
static int parse_statement(struct parser *p, int line, cJSON *root)
{
	cJSON *args = cJSON_CreateArray(), *v;
	struct tok t;
	bool paren;
	int open_line, rc;

	if (!args)
		return oom(p);
	cJSON_AddItemToArray(root, args);
	if ((rc = record(p, args, line, 0)) || (rc = lex(p, true, &t)))
		return rc;
	paren = is_punct(&t, '(');
	open_line = t.line;
	if (paren && (rc = lex(p, false, &t)))
		return rc;
	while (!(paren && is_punct(&t, ')')) &&
	       !(!paren && (t.kind == T_NL || t.kind == T_EOF ||
			    is_punct(&t, ';')))) {
		if (paren && t.kind == T_EOF)
			return perr(p, FK_EDATA, open_line,
				    "unterminated argument list");
		if ((rc = parse_value(p, &t, 0, &v)))
			return rc;
		cJSON_AddItemToArray(args, v);
		if ((rc = lex(p, !paren, &t)))
			return rc;
		if (!is_punct(&t, ','))
			break;
		if ((rc = lex(p, false, &t)))
			return rc;
		if (!paren && t.kind == T_EOF)
			return unexpected(p, &t, " after ','");
	}
	if (paren) {
		tok_free(&t);
		if (t.kind == T_EOF)
			return perr(p, FK_EDATA, open_line,
				    "unterminated argument list");
		if (!is_punct(&t, ')'))
			return unexpected(p, &t,
					  " in the argument list (expected "
					  "',' or ')')");
		if ((rc = lex(p, true, &t)))
			return rc;
	}
	tok_free(&t);
	if (t.kind != T_NL && t.kind != T_EOF && !is_punct(&t, ';'))
		return unexpected(p, &t,
				  paren ? " after the argument list"
					: " after the arguments (expected ',' "
					  "or the end of the statement)");
	return FK_OK;
}

static int parse_ruby(struct parser *p, cJSON *root)
{
	struct tok t;
	int rc;

	for (;;) {
		if ((rc = lex(p, true, &t)))
			return rc;
		if (t.kind == T_EOF)
			return FK_OK;
		if (t.kind == T_NL || is_punct(&t, ';'))
			continue;
		tok_free(&t);
		if (!is_word(p, &t, "service_instance"))
			return unexpected(p, &t,
					  " (only service_instance statements "
					  "are understood)");
		if ((rc = parse_statement(p, t.line, root)))
			return rc;
	}
}

/* The JSON form: one hash and nothing after it. */
static int parse_json(struct parser *p, cJSON **root)
{
	struct tok t;
	int rc;

	if ((rc = lex(p, false, &t)) || (rc = parse_value(p, &t, 0, root)))
		return rc;
	if ((rc = lex(p, false, &t)))
		return rc;
	tok_free(&t);
	if (t.kind != T_EOF)
		return unexpected(p, &t, " after the JSON value");
	return FK_OK;
}

/* ---- from the tree to struct services --------------------------------- */

static int bad_ident(struct parser *p, const cJSON *v, const char *what,
		     const char *pager)
{
	char label[NAME_MAX_BYTES + 16] = "pager ";

	if (pager)
		snprintf(label, sizeof(label), "pager \"%s\": ", pager);
	if (!cJSON_IsString(v))
		return perr(p, FK_EDATA, line_of(p, v), "%s%s must be a string",
			    label, what);
	if (!valid_ident(v->valuestring))
		return perr(p, FK_EDATA, line_of(p, v),
			    "%s%s must be 1-%d bytes without control "
			    "characters", label, what, NAME_MAX_BYTES);
	return FK_OK;
}

/* Sets the pager's type and readonly flag from its options (NULL: none). */
static int read_pager_options(struct parser *p, struct svc_pager *pg,
			      const cJSON *name, const cJSON *opts)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(opts, "type");
	const cJSON *ro = cJSON_GetObjectItemCaseSensitive(opts, "readonly");
	char buf[NAME_MAX_BYTES + 1];
	const char *t;
	int line;

	if (type && !cJSON_IsString(type))
		return perr(p, FK_EDATA, line_of(p, type),
			    "pager \"%s\": options.type must be a string",
			    pg->name);
	if (ro && !cJSON_IsBool(ro))
		return perr(p, FK_EDATA, line_of(p, ro),
			    "pager \"%s\": options.readonly must be true or "
			    "false", pg->name);
	pg->readonly = cJSON_IsTrue(ro);
	if (type) {
		t = type->valuestring;
		line = line_of(p, type);
	} else {
		t = services_type_from_name(pg->name, buf, sizeof(buf));
		line = line_of(p, name);
	}
	if (p->known && !p->known(t))
		return perr(p, FK_EDATA, line,
			    "pager \"%s\": unknown type \"%s\" (known: %s)",
			    pg->name, t, p->known_list ? p->known_list : "");
	pg->type = strdup(t);
	return pg->type ? FK_OK : oom(p);
}

/* Reads pager entry el into s->pagers[s->npagers] and counts it. */
static int read_pager(struct parser *p, cJSON *el, struct services *s)
{
	struct svc_pager *pg = &s->pagers[s->npagers];
	const cJSON *name, *ns, *k;
	cJSON *opts;
	size_t i;
	int rc;

	pg->line = line_of(p, el);
	name = cJSON_GetObjectItemCaseSensitive(el, "name");
	ns = cJSON_GetObjectItemCaseSensitive(el, "namespace");
	opts = cJSON_GetObjectItemCaseSensitive(el, "options");
	if (!name)
		return perr(p, FK_EDATA, pg->line, "pager needs a \"name\"");
	if ((rc = bad_ident(p, name, "name", NULL)))
		return rc;
	if (!ns)
		return perr(p, FK_EDATA, pg->line,
			    "pager needs a \"namespace\"");
	if ((rc = bad_ident(p, ns, "namespace", name->valuestring)))
		return rc;
	cJSON_ArrayForEach(k, el)
		if (strcmp(k->string, "name") &&
		    strcmp(k->string, "namespace") &&
		    strcmp(k->string, "options"))
			return perr(p, FK_EDATA, key_line_of(p, k),
				    "pager \"%s\": unknown key \"%s\" "
				    "(expected name, namespace, options)",
				    name->valuestring, k->string);
	if (opts && !cJSON_IsObject(opts))
		return perr(p, FK_EDATA, line_of(p, opts),
			    "pager \"%s\": options must be a hash",
			    name->valuestring);
	for (i = 0; i < s->npagers; i++) {
		if (!strcmp(s->pagers[i].name, name->valuestring))
			return perr(p, FK_EDATA, line_of(p, name),
				    "duplicate pager name \"%s\" (also at "
				    "line %d)", name->valuestring,
				    s->pagers[i].line);
		if (!strcmp(s->pagers[i].ns, ns->valuestring))
			return perr(p, FK_EDATA, line_of(p, ns),
				    "duplicate namespace \"%s\" (also served "
				    "by \"%s\" at line %d)", ns->valuestring,
				    s->pagers[i].name, s->pagers[i].line);
	}
	/* From here on the entry is counted, so release frees its parts. */
	s->npagers++;
	pg->name = strdup(name->valuestring);
	pg->ns = strdup(ns->valuestring);
	if (!pg->name || !pg->ns)
		return oom(p);
	if ((rc = read_pager_options(p, pg, name, opts)))
		return rc;
	pg->options = opts ? cJSON_DetachItemViaPointer(el, opts)
			   : cJSON_CreateObject();
	return pg->options ? FK_OK : oom(p);
}

/* The vm service's options hash (NULL: none, so no pagers). */
static int read_vm_options(struct parser *p, cJSON *opts,
			   struct services *s)
{
	cJSON *k, *pagers = NULL, *settings = NULL, *el;
	int rc;

	cJSON_ArrayForEach(k, opts) {
		if (!strcmp(k->string, "pagers"))
			pagers = k;
		else if (!strcmp(k->string, "settings"))
			settings = k;
		else
			return perr(p, FK_EDATA, key_line_of(p, k),
				    "unknown key \"%s\" in the vm options "
				    "(expected pagers, settings)", k->string);
	}
	if (settings) {
		if (!cJSON_IsObject(settings))
			return perr(p, FK_EDATA, line_of(p, settings),
				    "settings must be a hash");
		s->settings_line = line_of(p, settings);
		s->settings = cJSON_DetachItemViaPointer(opts, settings);
	}
	if (!pagers)
		return FK_OK;
	if (!cJSON_IsArray(pagers))
		return perr(p, FK_EDATA, line_of(p, pagers),
			    "pagers must be an array");
	if (cJSON_GetArraySize(pagers) == 0)
		return FK_OK;
	s->pagers = calloc((size_t)cJSON_GetArraySize(pagers),
			   sizeof(*s->pagers));
	if (!s->pagers)
		return oom(p);
	cJSON_ArrayForEach(el, pagers) {
		if (!cJSON_IsObject(el))
			return perr(p, FK_EDATA, line_of(p, el),
				    "each pager must be a hash");
		if ((rc = read_pager(p, el, s)))
			return rc;
	}
	return FK_OK;
}

/* Picks the one vm service_instance out of the statements. */
static int read_ruby(struct parser *p, cJSON *root, struct services *s)
{
	cJSON *args, *type, *opts = NULL;
	int n, line, vm_line = 0;

	cJSON_ArrayForEach(args, root) {
		line = line_of(p, args);
		n = cJSON_GetArraySize(args);
		if (n < 2)
			return perr(p, FK_EDATA, line,
				    "service_instance needs a name and a "
				    "service type");
		if (n > 3)
			return perr(p, FK_EDATA, line,
				    "service_instance takes at most 3 "
				    "arguments");
		type = cJSON_GetArrayItem(args, 1);
		if (!cJSON_IsString(type) || strcmp(type->valuestring, "vm"))
			continue;
		if (vm_line)
			return perr(p, FK_EDATA, line,
				    "a second vm service_instance (the first "
				    "is at line %d)", vm_line);
		vm_line = line;
		opts = cJSON_GetArrayItem(args, 2);
		if (opts && !cJSON_IsObject(opts))
			return perr(p, FK_EDATA, line_of(p, opts),
				    "the vm service's options must be a "
				    "hash");
	}
	return read_vm_options(p, opts, s);
}

/* {"pagers": ...} or {"vm": {"pagers": ...}}. */
static int read_json(struct parser *p, cJSON *root, struct services *s)
{
	cJSON *vm = cJSON_GetObjectItemCaseSensitive(root, "vm"), *k;

	if (!vm)
		return read_vm_options(p, root, s);
	cJSON_ArrayForEach(k, root)
		if (k != vm)
			return perr(p, FK_EDATA, key_line_of(p, k),
				    "unknown key \"%s\" beside \"vm\" (put it "
				    "inside)", k->string);
	if (!cJSON_IsObject(vm))
		return perr(p, FK_EDATA, line_of(p, vm),
			    "vm must be a hash");
	return read_vm_options(p, vm, s);
}

/* The absolute folder of path, resolved through symbolic links. */
static int fill_origin(struct services *s, const char *path,
		       struct fk_err *err)
{
	const char *slash = strrchr(path, '/');
	size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
	char *folder = slash ? strndup(path, n) : strdup(".");

	s->path = strdup(path);
	if (!folder || !s->path) {
		free(folder);
		return fk_fail(err, FK_ERUNTIME, "%s: out of memory", path);
	}
	s->dir = realpath(folder, NULL);
	free(folder);
	if (!s->dir)
		return fk_fail(err, FK_ENOINPUT,
			       "cannot resolve the folder of services file "
			       "'%s': %s", path, strerror(errno));
	return FK_OK;
}

int services_parse(const char *text, size_t len, const char *path,
		   svc_type_known_fn known, const char *known_list,
		   struct services *s, struct fk_err *err)
{
	struct parser p = { .text = text, .len = len, .line = 1,
			    .file = path, .known = known,
			    .known_list = known_list, .err = err };
	cJSON *root = NULL;
	size_t bad;
	bool json;
	int rc;

	memset(s, 0, sizeof(*s));
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		p.pos = 3; /* a byte order mark */
	bad = utf8_bad_offset((const unsigned char *)text, len);
	if (bad < len) {
		for (size_t i = 0; i < bad; i++)
			p.line += text[i] == '\n';
		return perr(&p, FK_EDATA, p.line, "invalid UTF-8");
	}
	skip_blank(&p, true);
	json = peek(&p, 0) == '{';
	if (json) {
		rc = parse_json(&p, &root);
	} else {
		root = cJSON_CreateArray();
		rc = root ? parse_ruby(&p, root) : oom(&p);
	}
	if (!rc) {
		if (p.nlines)
			qsort(p.lines, p.nlines, sizeof(*p.lines),
			      cmp_node_line);
		rc = json ? read_json(&p, root, s) : read_ruby(&p, root, s);
	}
	if (!rc)
		rc = fill_origin(s, path, err);
	cJSON_Delete(root);
	free(p.lines);
	if (rc)
		services_release(s);
	return rc;
}

/* ---- files ------------------------------------------------------------ */

/* Reads all of path into *text (caller frees).  *open_errno is the errno
 * of a failed open, else 0, so that the XDG search can skip a missing file
 * yet report one it cannot read. */
static int slurp(const char *path, char **text, size_t *len, int *open_errno,
		 struct fk_err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0, got;
	int rc = FK_OK, e = 0;

	*open_errno = 0;
	if (!f) {
		*open_errno = errno;
		return fk_fail(err, FK_ENOINPUT,
			       "cannot open services file '%s': %s", path,
			       strerror(errno));
	}
	for (;;) {
		if (n > MAX_FILE_BYTES) { /* /dev/zero, say */
			rc = fk_fail(err, FK_EDATA,
				     "services file '%s' is larger than 16 MiB",
				     path);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = fk_fail(err, FK_ERUNTIME,
					     "%s: out of memory", path);
				break;
			}
			buf = nb;
		}
		errno = 0;
		got = fread(buf + n, 1, cap - n, f);
		e = errno;
		if (got == 0)
			break;
		n += got;
	}
	if (!rc && ferror(f))
		rc = fk_fail(err, FK_ENOINPUT,
			     "cannot read services file '%s': %s", path,
			     strerror(e ? e : EIO));
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	*text = buf;
	*len = n;
	return FK_OK;
}

static int load(const char *path, svc_type_known_fn known,
		const char *known_list, struct services *s, int *open_errno,
		struct fk_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = slurp(path, &text, &len, open_errno, err);
	if (rc)
		return rc;
	rc = services_parse(text, len, path, known, known_list, s, err);
	free(text);
	return rc;
}

int services_load(const char *path, svc_type_known_fn known,
		  const char *known_list, struct services *s,
		  struct fk_err *err)
{
	int open_errno;

	return load(path, known, known_list, s, &open_errno, err);
}

/* The XDG config folder, absolute (caller frees), or NULL when neither
 * $XDG_CONFIG_HOME nor $HOME is an absolute path: a relative one would
 * mean the current directory, which is never searched. */
static char *config_home(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *d;

	if (xdg && xdg[0] == '/')
		return strdup(xdg);
	if (!home || home[0] != '/')
		return NULL;
	d = malloc(strlen(home) + sizeof("/.config"));
	if (d)
		sprintf(d, "%s/.config", home);
	return d;
}

int services_find_and_load(const char *explicit_path, svc_type_known_fn known,
			   const char *known_list, struct services *s,
			   struct fk_err *err)
{
	static const char *const names[] = { "services.rb", "services.json" };
	const char *env = getenv("FLOKVM_SERVICES");
	char *base, *path;
	size_t i;
	int rc, open_errno;

	memset(s, 0, sizeof(*s));
	if (explicit_path)
		return services_load(explicit_path, known, known_list, s, err);
	if (env && *env)
		return services_load(env, known, known_list, s, err);
	base = config_home();
	for (i = 0; base && i < sizeof(names) / sizeof(names[0]); i++) {
		path = malloc(strlen(base) + strlen(names[i]) +
			      sizeof("/flokvm/"));
		if (!path) {
			free(base);
			return fk_fail(err, FK_ERUNTIME, "out of memory");
		}
		sprintf(path, "%s/flokvm/%s", base, names[i]);
		rc = load(path, known, known_list, s, &open_errno, err);
		free(path);
		if (rc == FK_ENOINPUT &&
		    (open_errno == ENOENT || open_errno == ENOTDIR))
			continue;
		free(base);
		return rc;
	}
	free(base);
	services_default(s);
	return FK_OK;
}

void services_default(struct services *s)
{
	struct svc_pager *pg;

	/* Out of memory leaves no pagers rather than a half-built one. */
	memset(s, 0, sizeof(*s));
	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return;
	pg->name = strdup("mem0");
	pg->ns = strdup("user");
	pg->type = strdup("mem");
	pg->options = cJSON_CreateObject();
	s->pagers = pg;
	s->npagers = 1;
	if (!pg->name || !pg->ns || !pg->type || !pg->options)
		services_release(s);
}

void services_release(struct services *s)
{
	size_t i;

	for (i = 0; i < s->npagers; i++) {
		free(s->pagers[i].name);
		free(s->pagers[i].ns);
		free(s->pagers[i].type);
		cJSON_Delete(s->pagers[i].options);
	}
	free(s->pagers);
	cJSON_Delete(s->settings);
	free(s->path);
	free(s->dir);
	memset(s, 0, sizeof(*s));
}
