/*
 * services-grammar.c - the recursive-descent parser of the services file:
 * the tokens of services-lex.c become cJSON trees, the arguments of each
 * service_instance statement (the Ruby form) or the one hash of the JSON
 * form.  Every node made is recorded with its line in the parser's side
 * table, which services.c's checks look lines up in.
 */
#include <stdlib.h>
#include <string.h>

#include "services-internal.h"

#define MAX_NESTING 64

/* ---- tokens and lines ------------------------------------------------- */

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

	return svc_perr(p, FK_EDATA, t->line, "unexpected %s%s",
			tok_desc(p, t, d, sizeof(d)), why);
}

static int record(struct parser *p, const cJSON *node, int line, int key_line)
{
	if (p->nlines == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct node_line *nl = realloc(p->lines, cap * sizeof(*nl));

		if (!nl)
			return svc_oom(p);
		p->lines = nl;
		p->cap = cap;
	}
	p->lines[p->nlines].node = node;
	p->lines[p->nlines].line = line;
	p->lines[p->nlines].key_line = key_line;
	p->nlines++;
	return FK_OK;
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
		if ((rc = svc_lex(p, false, &t)))
			return rc;
		if (t.kind == T_EOF)
			return svc_perr(p, FK_EDATA, open_line,
					"unterminated array");
		if (is_punct(&t, ']'))
			return FK_OK; /* empty, or after a trailing comma */
		if ((rc = parse_value(p, &t, 0, &v)))
			return rc;
		cJSON_AddItemToArray(arr, v);
		if ((rc = svc_lex(p, false, &t)))
			return rc;
		if (is_punct(&t, ']'))
			return FK_OK;
		if (t.kind == T_EOF)
			return svc_perr(p, FK_EDATA, open_line,
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

	svc_skip_blank(p, true);
	if (peek(p, 0) == '=' && peek(p, 1) == '>') {
		p->pos += 2;
		return FK_OK;
	}
	if (peek(p, 0) == ':' && key->kind == T_STRING) {
		p->pos++;
		return FK_OK;
	}
	if ((rc = svc_lex(p, false, &t)))
		return rc;
	tok_free(&t);
	if (t.kind == T_EOF)
		return svc_perr(p, FK_EDATA, open_line, "unterminated hash");
	return unexpected(p, &t, " after a hash key (expected '=>')");
}

static int parse_hash(struct parser *p, int open_line, cJSON *obj)
{
	struct tok k, t;
	cJSON *v;
	int rc;

	for (;;) {
		if ((rc = svc_lex(p, false, &k)))
			return rc;
		if (k.kind == T_EOF)
			return svc_perr(p, FK_EDATA, open_line,
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
			rc = svc_perr(p, FK_EDATA, k.line,
				      "duplicate key \"%s\"", k.str);
			goto fail;
		}
		if ((rc = svc_lex(p, false, &t)))
			goto fail;
		if (t.kind == T_EOF) {
			rc = svc_perr(p, FK_EDATA, open_line,
				      "unterminated hash");
			goto fail;
		}
		if ((rc = parse_value(p, &t, k.line, &v)))
			goto fail;
		if (!cJSON_AddItemToObject(obj, k.str, v)) {
			cJSON_Delete(v);
			rc = svc_oom(p);
			goto fail;
		}
		tok_free(&k);
		if ((rc = svc_lex(p, false, &t)))
			return rc;
		if (is_punct(&t, '}'))
			return FK_OK;
		if (t.kind == T_EOF)
			return svc_perr(p, FK_EDATA, open_line,
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
			rc = svc_perr(p, FK_EDATA, t->line,
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
		rc = svc_oom(p);
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
		return svc_oom(p);
	cJSON_AddItemToArray(root, args);
	if ((rc = record(p, args, line, 0)) || (rc = svc_lex(p, true, &t)))
		return rc;
	paren = is_punct(&t, '(');
	open_line = t.line;
	if (paren && (rc = svc_lex(p, false, &t)))
		return rc;
	while (!(paren && is_punct(&t, ')')) &&
	       !(!paren && (t.kind == T_NL || t.kind == T_EOF ||
			    is_punct(&t, ';')))) {
		if (paren && t.kind == T_EOF)
			return svc_perr(p, FK_EDATA, open_line,
					"unterminated argument list");
		if ((rc = parse_value(p, &t, 0, &v)))
			return rc;
		cJSON_AddItemToArray(args, v);
		if ((rc = svc_lex(p, !paren, &t)))
			return rc;
		if (!is_punct(&t, ','))
			break;
		if ((rc = svc_lex(p, false, &t)))
			return rc;
		if (!paren && t.kind == T_EOF)
			return unexpected(p, &t, " after ','");
	}
	if (paren) {
		tok_free(&t);
		if (t.kind == T_EOF)
			return svc_perr(p, FK_EDATA, open_line,
					"unterminated argument list");
		if (!is_punct(&t, ')'))
			return unexpected(p, &t,
					  " in the argument list (expected "
					  "',' or ')')");
		if ((rc = svc_lex(p, true, &t)))
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

int svc_parse_ruby(struct parser *p, cJSON *root)
{
	struct tok t;
	int rc;

	for (;;) {
		if ((rc = svc_lex(p, true, &t)))
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
int svc_parse_json(struct parser *p, cJSON **root)
{
	struct tok t;
	int rc;

	if ((rc = svc_lex(p, false, &t)) || (rc = parse_value(p, &t, 0, root)))
		return rc;
	if ((rc = svc_lex(p, false, &t)))
		return rc;
	tok_free(&t);
	if (t.kind != T_EOF)
		return unexpected(p, &t, " after the JSON value");
	return FK_OK;
}
