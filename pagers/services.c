/*
 * services.c - parsing the services file (SPEC §3.1) into struct
 * services: the checks of the vm service, its pager entries and settings.
 *
 * One lexer (services-lex.c) and one recursive-descent parser
 * (services-grammar.c) read both syntaxes: the Ruby subset of flok's
 * config/services.rb and JSON, which that subset nearly contains.  Values
 * become cJSON trees.  cJSON keeps no line numbers, so the parser records
 * the line of every node it creates in a side table; the checks made
 * afterwards on the tree look lines up there, and every message can start
 * "FILE:LINE: ".  Finding and reading the file is services-load.c's job.
 */
#if !defined(_GNU_SOURCE) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700 /* strdup, strndup, realpath */
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services.h"
#include "services-internal.h"

#define NAME_MAX_BYTES 1024

/* ---- small helpers ---------------------------------------------------- */

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

int svc_perr(struct parser *p, int status, int line, const char *fmt, ...)
{
	char msg[sizeof(p->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fk_fail(p->err, status, "%s:%d: %s", p->file, line, msg);
}

int svc_oom(struct parser *p)
{
	return svc_perr(p, FK_ERUNTIME, p->line, "out of memory");
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

/* ---- from the tree to struct services --------------------------------- */

static int bad_ident(struct parser *p, const cJSON *v, const char *what,
		     const char *pager)
{
	char label[NAME_MAX_BYTES + 16] = "pager ";

	if (pager)
		snprintf(label, sizeof(label), "pager \"%s\": ", pager);
	if (!cJSON_IsString(v))
		return svc_perr(p, FK_EDATA, line_of(p, v),
				"%s%s must be a string", label, what);
	if (!valid_ident(v->valuestring))
		return svc_perr(p, FK_EDATA, line_of(p, v),
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
		return svc_perr(p, FK_EDATA, line_of(p, type),
				"pager \"%s\": options.type must be a string",
				pg->name);
	if (ro && !cJSON_IsBool(ro))
		return svc_perr(p, FK_EDATA, line_of(p, ro),
				"pager \"%s\": options.readonly must be true "
				"or false", pg->name);
	pg->readonly = cJSON_IsTrue(ro);
	if (type) {
		t = type->valuestring;
		line = line_of(p, type);
	} else {
		t = services_type_from_name(pg->name, buf, sizeof(buf));
		line = line_of(p, name);
	}
	if (p->known && !p->known(t))
		return svc_perr(p, FK_EDATA, line,
				"pager \"%s\": unknown type \"%s\" (known: %s)",
				pg->name, t,
				p->known_list ? p->known_list : "");
	pg->type = strdup(t);
	return pg->type ? FK_OK : svc_oom(p);
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
		return svc_perr(p, FK_EDATA, pg->line,
				"pager needs a \"name\"");
	if ((rc = bad_ident(p, name, "name", NULL)))
		return rc;
	if (!ns)
		return svc_perr(p, FK_EDATA, pg->line,
				"pager needs a \"namespace\"");
	if ((rc = bad_ident(p, ns, "namespace", name->valuestring)))
		return rc;
	cJSON_ArrayForEach(k, el)
		if (strcmp(k->string, "name") &&
		    strcmp(k->string, "namespace") &&
		    strcmp(k->string, "options"))
			return svc_perr(p, FK_EDATA, key_line_of(p, k),
					"pager \"%s\": unknown key \"%s\" "
					"(expected name, namespace, options)",
					name->valuestring, k->string);
	if (opts && !cJSON_IsObject(opts))
		return svc_perr(p, FK_EDATA, line_of(p, opts),
				"pager \"%s\": options must be a hash",
				name->valuestring);
	for (i = 0; i < s->npagers; i++) {
		if (!strcmp(s->pagers[i].name, name->valuestring))
			return svc_perr(p, FK_EDATA, line_of(p, name),
					"duplicate pager name \"%s\" (also at "
					"line %d)", name->valuestring,
					s->pagers[i].line);
		if (!strcmp(s->pagers[i].ns, ns->valuestring))
			return svc_perr(p, FK_EDATA, line_of(p, ns),
					"duplicate namespace \"%s\" (also "
					"served by \"%s\" at line %d)",
					ns->valuestring,
					s->pagers[i].name, s->pagers[i].line);
	}
	/* From here on the entry is counted, so release frees its parts. */
	s->npagers++;
	pg->name = strdup(name->valuestring);
	pg->ns = strdup(ns->valuestring);
	if (!pg->name || !pg->ns)
		return svc_oom(p);
	if ((rc = read_pager_options(p, pg, name, opts)))
		return rc;
	pg->options = opts ? cJSON_DetachItemViaPointer(el, opts)
			   : cJSON_CreateObject();
	return pg->options ? FK_OK : svc_oom(p);
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
			return svc_perr(p, FK_EDATA, key_line_of(p, k),
					"unknown key \"%s\" in the vm options "
					"(expected pagers, settings)",
					k->string);
	}
	if (settings) {
		if (!cJSON_IsObject(settings))
			return svc_perr(p, FK_EDATA, line_of(p, settings),
					"settings must be a hash");
		s->settings_line = line_of(p, settings);
		s->settings = cJSON_DetachItemViaPointer(opts, settings);
	}
	if (!pagers)
		return FK_OK;
	if (!cJSON_IsArray(pagers))
		return svc_perr(p, FK_EDATA, line_of(p, pagers),
				"pagers must be an array");
	if (cJSON_GetArraySize(pagers) == 0)
		return FK_OK;
	s->pagers = calloc((size_t)cJSON_GetArraySize(pagers),
			   sizeof(*s->pagers));
	if (!s->pagers)
		return svc_oom(p);
	cJSON_ArrayForEach(el, pagers) {
		if (!cJSON_IsObject(el))
			return svc_perr(p, FK_EDATA, line_of(p, el),
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
			return svc_perr(p, FK_EDATA, line,
					"service_instance needs a name and a "
					"service type");
		if (n > 3)
			return svc_perr(p, FK_EDATA, line,
					"service_instance takes at most 3 "
					"arguments");
		type = cJSON_GetArrayItem(args, 1);
		if (!cJSON_IsString(type) || strcmp(type->valuestring, "vm"))
			continue;
		if (vm_line)
			return svc_perr(p, FK_EDATA, line,
					"a second vm service_instance (the "
					"first is at line %d)", vm_line);
		vm_line = line;
		opts = cJSON_GetArrayItem(args, 2);
		if (opts && !cJSON_IsObject(opts))
			return svc_perr(p, FK_EDATA, line_of(p, opts),
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
			return svc_perr(p, FK_EDATA, key_line_of(p, k),
					"unknown key \"%s\" beside \"vm\" (put "
					"it inside)", k->string);
	if (!cJSON_IsObject(vm))
		return svc_perr(p, FK_EDATA, line_of(p, vm),
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
		return svc_perr(&p, FK_EDATA, p.line, "invalid UTF-8");
	}
	svc_skip_blank(&p, true);
	json = peek(&p, 0) == '{';
	if (json) {
		rc = svc_parse_json(&p, &root);
	} else {
		root = cJSON_CreateArray();
		rc = root ? svc_parse_ruby(&p, root) : svc_oom(&p);
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
