/*
 * registry.c - pager types by name, and the life cycle common to all.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pager.h"

/* Sorted by name; pager_type_list() prints them in this order. */
static const struct pager_ops *const types[] = {
	&exec_pager_ops,
	&mem_pager_ops,
	&net_sim_pager_ops,
	&postgres_pager_ops,
	&spec_pager_ops,
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

const struct pager_ops *pager_type_find(const char *type)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (!strcmp(types[i]->type, type))
			return types[i];
	return NULL;
}

bool pager_type_known(const char *type)
{
	return pager_type_find(type) != NULL;
}

const char *pager_type_list(void)
{
	static char list[256];

	if (!list[0])
		for (size_t i = 0; i < NTYPES; i++) {
			if (i)
				strcat(list, ", ");
			strcat(list, types[i]->type);
		}
	return list;
}

int pager_new(const struct svc_pager *conf, const char *dir,
	      size_t max_page_bytes, struct pager **out, struct fk_err *err)
{
	const struct pager_ops *ops = pager_type_find(conf->type);
	struct pager *p;
	int rc;

	*out = NULL;
	if (!ops)
		return fk_fail(err, FK_ERUNTIME, "pager \"%s\": unknown type \"%s\" (known: %s)",
			       conf->name, conf->type, pager_type_list());
	p = calloc(1, ops->size);
	if (!p)
		abort();
	p->ops = ops;
	p->conf = conf;
	p->dir = dir;
	p->max_page_bytes = max_page_bytes;
	rc = ops->init ? ops->init(p, err) : FK_OK;
	if (rc) {
		free(p);
		return fk_prefix(err, rc, "pager \"%s\" (namespace \"%s\")",
				 conf->name, conf->ns);
	}
	*out = p;
	return FK_OK;
}

void pager_free(struct pager *p)
{
	if (!p)
		return;
	if (p->ops->close)
		p->ops->close(p);
	free(p);
}

void pager_answer_release(struct pager_answer *ans)
{
	cJSON_Delete(ans->page);
	free(ans->changes_id);
	memset(ans, 0, sizeof(*ans));
}

void pager_notices_add(struct pager_notices *n, const char *key)
{
	for (size_t i = 0; i < n->n; i++)
		if (!strcmp(n->keys[i], key))
			return;
	if (n->n == n->cap) {
		n->cap = n->cap ? 2 * n->cap : 8;
		n->keys = realloc(n->keys, n->cap * sizeof(*n->keys));
		if (!n->keys)
			abort();
	}
	n->keys[n->n] = strdup(key);
	if (!n->keys[n->n])
		abort();
	n->n++;
}

void pager_notices_release(struct pager_notices *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->keys[i]);
	free(n->keys);
	memset(n, 0, sizeof(*n));
}

int pager_fail(const struct pager *p, const char *op, const char *key,
	       int status, struct fk_err *err, const char *fmt, ...)
{
	char detail[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (key)
		return fk_fail(err, status, "pager \"%s\" %s \"%s\": %s",
			       p->conf->name, op, key, detail);
	return fk_fail(err, status, "pager \"%s\" (namespace \"%s\") %s: %s",
		       p->conf->name, p->conf->ns, op, detail);
}

int pager_opt_timeout(const struct pager *p, int dflt, int *out,
		      struct fk_err *err)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(p->conf->options, "timeout_ms");

	*out = dflt;
	if (!t || cJSON_IsNull(t))
		return FK_OK;
	if (!cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > INT_MAX ||
	    t->valuedouble != floor(t->valuedouble))
		return fk_fail(err, FK_EDATA, "options.timeout_ms: expected a positive integer (milliseconds)");
	*out = (int)t->valuedouble;
	return FK_OK;
}
