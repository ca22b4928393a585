/*
 * json-equal.c - SPEC §4.1 equality of two cJSON trees (see json.h), by
 * which a write that changes a page is told from one that does not.  It
 * looks only at trees, never at text, so it stands apart from json-read.c
 * and json-write.c.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json-internal.h"

/* ---- equality -------------------------------------------------------- */

/* A member and its position, so that sorting by name is deterministic even
 * for a tree with repeated names (json_parse never builds one). */
struct member {
	const cJSON *v;
	size_t pos;
};

static int name_cmp(const cJSON *a, const cJSON *b)
{
	return strcmp(a->string ? a->string : "", b->string ? b->string : "");
}

static int member_cmp(const void *x, const void *y)
{
	const struct member *a = x, *b = y;
	int c = name_cmp(a->v, b->v);

	if (c)
		return c;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static size_t sort_members(const cJSON *o, struct member *m)
{
	const cJSON *c;
	size_t n = 0;

	for (c = o->child; c; c = c->next) {
		m[n].v = c;
		m[n].pos = n;
		n++;
	}
	qsort(m, n, sizeof(*m), member_cmp);
	return n;
}

/*
 * Objects are equal when their members, sorted by name, pair up with equal
 * names and equal values: O(n log n) rather than a lookup per member.
 * Most comparisons are of a page with an earlier copy of itself, whose
 * names come in the same order; that needs no sorting at all.
 */
static int objects_equal(const cJSON *a, const cJSON *b)
{
	struct member small[2][8], *ma = small[0], *mb = small[1];
	const cJSON *c, *d;
	size_t n = 0, i;
	int eq = 1, same_order = 1;

	for (c = a->child, d = b->child; c && d; c = c->next, d = d->next) {
		if (same_order && name_cmp(c, d) != 0)
			same_order = 0;
		n++;
	}
	if (c || d)
		return 0;
	if (same_order) {
		for (c = a->child, d = b->child; c; c = c->next, d = d->next)
			if (!json_equal(c, d))
				return 0;
		return 1;
	}
	if (n > 8) {
		ma = malloc(n * sizeof(*ma));
		mb = malloc(n * sizeof(*mb));
		if (!ma || !mb)
			json_die();
	}
	sort_members(a, ma);
	sort_members(b, mb);
	for (i = 0; i < n && eq; i++)
		eq = name_cmp(ma[i].v, mb[i].v) == 0 &&
		     json_equal(ma[i].v, mb[i].v);
	if (n > 8) {
		free(ma);
		free(mb);
	}
	return eq;
}

int json_equal(const cJSON *a, const cJSON *b)
{
	const cJSON *c, *d;

	if (a == b)
		return 1;
	if (!a || !b || (a->type & 0xff) != (b->type & 0xff))
		return 0;
	switch (a->type & 0xff) {
	case cJSON_Number:
		return a->valuedouble == b->valuedouble;
	case cJSON_String:
	case cJSON_Raw:
		return strcmp(a->valuestring ? a->valuestring : "",
			      b->valuestring ? b->valuestring : "") == 0;
	case cJSON_Array:
		for (c = a->child, d = b->child; c && d;
		     c = c->next, d = d->next)
			if (!json_equal(c, d))
				return 0;
		return !c && !d;
	case cJSON_Object:
		return objects_equal(a, b);
	default:
		return 1; /* true, false, null: the type says it all */
	}
}
