/*
 * services-internal.h - what the files that parse the services file share
 * and nothing else sees: the parser's state, the tokens, and the calls
 * between the lexer (services-lex.c), the grammar (services-grammar.c) and
 * the checks (services.c).
 */
#ifndef FLOKVM_SERVICES_INTERNAL_H
#define FLOKVM_SERVICES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "services.h"

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

/* Fills p->err with "FILE:LINE: message" and returns status (services.c). */
int svc_perr(struct parser *p, int status, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Returns FK_ERUNTIME with "out of memory" at the current line. */
int svc_oom(struct parser *p);

/* ---- tokens (services-lex.c) ------------------------------------------ */

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

static inline int peek(struct parser *p, size_t off)
{
	return p->pos + off < p->len ? (unsigned char)p->text[p->pos + off]
				     : -1;
}

/* Skips blanks and comments; newlines too when they are whitespace. */
void svc_skip_blank(struct parser *p, bool newlines);

/* Reads the next token into t (which the caller frees); with nl a newline
 * is a T_NL token. */
int svc_lex(struct parser *p, bool nl, struct tok *t);

/* ---- values (services-grammar.c) -------------------------------------- */

/* The Ruby form: the arguments of each service_instance statement become
 * an array appended to root. */
int svc_parse_ruby(struct parser *p, cJSON *root);

/* The JSON form: one hash into *root. */
int svc_parse_json(struct parser *p, cJSON **root);

#endif
