/*
 * diff.c - computing and replaying the diffs of SPEC §6.
 *
 * Pages can hold a hundred thousand entries and cJSON arrays are linked
 * lists, so nothing here walks a list to find a position or a _uuid: the
 * entries are copied into arrays of pointers once, _uuids are found through
 * a hash table, and the positions that moves and insertions need come from
 * a Fenwick tree (diff) or a randomized binary tree ordered by position
 * (replay).  Both directions are O(n log n).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "json.h"

static const char *const pointer_keys[] = {"_head", "_next", "_prev"};
static const char *const pointer_steps[] = {"HEAD_M", "NEXT_M", "PREV_M"};

/* Out of memory: like buf.c, flokvm does not try to go on. */
static void *must(void *p)
{
	if (!p)
		abort();
	return p;
}

static void *alloc_array(size_t n, size_t size)
{
	return must(calloc(n ? n : 1, size));
}

/* True for the top-level keys that are not page payload (§2). */
static int is_reserved_key(const char *k)
{
	return !strcmp(k, "_uuid") || !strcmp(k, "_head") ||
	       !strcmp(k, "_next") || !strcmp(k, "_prev") ||
	       !strcmp(k, "entries") || !strcmp(k, "_hash") ||
	       !strncmp(k, "__", 2);
}

/* The string value of member name of obj, NULL if absent or not a string. */
static const char *str_member(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- uuid index: open addressing over borrowed strings --------------- */

struct uuid_slot {
	const char *key; /* NULL marks a free slot; the string is not owned */
	size_t hash;     /* compared first: most probes then skip strcmp() */
	int val;
};

struct uuid_map {
	struct uuid_slot *slot;
	size_t mask;
};

static size_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a, then a final mix */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return (size_t)h;
}

/* Room for n keys at a load factor of at most one half. */
static void map_init(struct uuid_map *m, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	m->slot = alloc_array(cap, sizeof(*m->slot));
	m->mask = cap - 1;
}

static void map_release(struct uuid_map *m)
{
	free(m->slot);
}

/* The slot holding key, or the free slot where it would go: the caller
 * claims that one by setting its key and val (its hash is already set). */
static struct uuid_slot *map_slot(const struct uuid_map *m, const char *key)
{
	size_t h = hash_str(key), i = h & m->mask;
	struct uuid_slot *s;

	for (s = &m->slot[i]; s->key; s = &m->slot[i]) {
		if (s->hash == h && !strcmp(s->key, key))
			return s;
		i = (i + 1) & m->mask;
	}
	s->hash = h;
	return s;
}

static int map_find(const struct uuid_map *m, const char *key)
{
	const struct uuid_slot *s = map_slot(m, key);

	return s->key ? s->val : -1;
}

/* ---- diff ------------------------------------------------------------- */

/* One page's entries as arrays, with their _uuids indexed. */
struct side {
	const cJSON **e;
	const char **uuid;
	int n;
	struct uuid_map map;
};

static void side_release(struct side *s)
{
	free(s->e);
	free(s->uuid);
	map_release(&s->map);
}

/* Fills s from page's entries; which ("old", "new") names it in errors.
 * A validated page never fails; anything else gets FK_EDATA. */
static int side_load(struct side *s, const cJSON *page, const char *which,
		     struct fk_err *err)
{
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(page, "entries");
	const cJSON *e;
	int i = 0;

	memset(s, 0, sizeof(*s));
	if (!cJSON_IsArray(entries))
		return fk_fail(err, FK_EDATA, "%s page: entries: expected an array",
			       which);
	cJSON_ArrayForEach(e, entries)
		s->n++;
	s->e = alloc_array((size_t)s->n, sizeof(*s->e));
	s->uuid = alloc_array((size_t)s->n, sizeof(*s->uuid));
	map_init(&s->map, (size_t)s->n);
	cJSON_ArrayForEach(e, entries) {
		const char *u = str_member(e, "_uuid");
		struct uuid_slot *slot;

		if (!cJSON_IsObject(e) || !u) {
			side_release(s);
			return fk_fail(err, FK_EDATA,
				       "%s page: entries[%d]: expected an object with a string _uuid",
				       which, i);
		}
		slot = map_slot(&s->map, u);
		if (slot->key) {
			int first = slot->val;

			side_release(s);
			return fk_fail(err, FK_EDATA,
				       "%s page: entries[%d]._uuid: duplicate \"%s\" (also at entries[%d])",
				       which, i, u, first);
		}
		slot->key = u;
		slot->val = i;
		s->e[i] = e;
		s->uuid[i++] = u;
	}
	return FK_OK;
}

static void add_step2(cJSON *d, const char *name, cJSON *a)
{
	cJSON *step = must(cJSON_CreateArray());

	cJSON_AddItemToArray(step, must(cJSON_CreateString(name)));
	cJSON_AddItemToArray(step, must(a));
	cJSON_AddItemToArray(d, step);
}

static void add_step3(cJSON *d, const char *name, cJSON *a, cJSON *b)
{
	cJSON *step = must(cJSON_CreateArray());

	cJSON_AddItemToArray(step, must(cJSON_CreateString(name)));
	cJSON_AddItemToArray(step, must(a));
	cJSON_AddItemToArray(step, must(b));
	cJSON_AddItemToArray(d, step);
}

static cJSON *copy(const cJSON *v)
{
	return must(cJSON_Duplicate(v, 1));
}

/* HEAD_M, NEXT_M, PREV_M: anything but a string counts as unset. */
static void diff_pointers(cJSON *d, const cJSON *old, const cJSON *new)
{
	for (int i = 0; i < 3; i++) {
		const char *a = str_member(old, pointer_keys[i]);
		const char *b = str_member(new, pointer_keys[i]);

		if (!a && !b)
			continue;
		if (a && b && !strcmp(a, b))
			continue;
		add_step2(d, pointer_steps[i],
			  b ? cJSON_CreateString(b) : cJSON_CreateNull());
	}
}

static int cmp_member_name(const void *a, const void *b)
{
	const cJSON *const *x = a, *const *y = b;

	return strcmp((*x)->string, (*y)->string);
}

/* The payload members of page sorted by key bytes; returns how many.
 * Caller frees *out. */
static int payload_sorted(const cJSON *page, const cJSON ***out)
{
	const cJSON *m;
	int n = 0;

	for (m = page->child; m; m = m->next)
		n += !is_reserved_key(m->string);
	*out = alloc_array((size_t)n, sizeof(**out));
	n = 0;
	for (m = page->child; m; m = m->next)
		if (!is_reserved_key(m->string))
			(*out)[n++] = m;
	qsort(*out, (size_t)n, sizeof(**out), cmp_member_name);
	return n;
}

/* PAGE_M / PAGE_D, merged by key byte order. */
static void diff_payload(cJSON *d, const cJSON *old, const cJSON *new)
{
	const cJSON **a, **b;
	int na = payload_sorted(old, &a), nb = payload_sorted(new, &b);
	int i = 0, j = 0;

	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 :
			strcmp(a[i]->string, b[j]->string);

		if (c < 0) {
			add_step2(d, "PAGE_D", cJSON_CreateString(a[i]->string));
			i++;
		} else if (c > 0) {
			add_step3(d, "PAGE_M", cJSON_CreateString(b[j]->string),
				  copy(b[j]));
			j++;
		} else {
			if (!json_equal(a[i], b[j]))
				add_step3(d, "PAGE_M",
					  cJSON_CreateString(b[j]->string),
					  copy(b[j]));
			i++;
			j++;
		}
	}
	free(a);
	free(b);
}

/*
 * Marks in keep[] one longest increasing subsequence of seq[0..k), the one
 * §6 fixes: patience sorting, each value on the leftmost pile whose top is
 * >= it (bisect_left), linked to the top of the pile on its left when
 * placed, traced back from the top of the last pile.
 */
static void mark_lis(const int *seq, int k, char *keep)
{
	int *top = alloc_array((size_t)k, sizeof(int));
	int *link = alloc_array((size_t)k, sizeof(int));
	int piles = 0;

	for (int i = 0; i < k; i++) {
		int lo = 0, hi = piles;

		while (lo < hi) {
			int mid = lo + (hi - lo) / 2;

			if (seq[top[mid]] < seq[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		link[i] = lo > 0 ? top[lo - 1] : -1;
		top[lo] = i;
		if (lo == piles)
			piles++;
	}
	for (int i = piles ? top[piles - 1] : -1; i >= 0; i = link[i])
		keep[i] = 1;
	free(top);
	free(link);
}

/*
 * The index of each move.  Moves run in new order, so when shared entry t
 * (t-th shared entry in new order) moves, shared entries 0..t-1 already
 * stand in new order and t goes right after t-1.  Those from the last kept
 * entry L before t up to t-1 were each placed right after the one before,
 * so they follow L in a block, and before L stand the shared entries
 * 0..L-1 plus the ones after t not moved yet that were before L in the old
 * order.  Hence index = t + #{x > t : old(x) < old(L)}, or t when no kept
 * entry precedes t; counted with a Fenwick tree over old positions while
 * going backwards.  (Kept x > t never count: old(x) > old(L).)
 */
static void move_indexes(const int *seq, int k, const char *keep, int nold,
			 int *index)
{
	int *fen = alloc_array((size_t)nold + 1, sizeof(int));
	int *anchor = alloc_array((size_t)k, sizeof(int));
	int last = -1;

	for (int t = 0; t < k; t++) {
		anchor[t] = last; /* old position of the last kept entry before t */
		if (keep[t])
			last = seq[t];
	}
	for (int t = k - 1; t >= 0; t--) {
		if (!keep[t]) {
			int below = 0;

			for (int i = anchor[t]; i > 0; i -= i & -i)
				below += fen[i]; /* old positions < anchor[t] */
			index[t] = t + below;
		}
		for (int i = seq[t] + 1; i <= nold; i += i & -i)
			fen[i]++;
	}
	free(fen);
	free(anchor);
}

/* "-" and "M" in old order, ">" in new order, "+" by final index. */
static void diff_entries(cJSON *d, const struct side *o, const struct side *n)
{
	int *old_to_new = alloc_array((size_t)o->n, sizeof(int));
	int *new_to_old = alloc_array((size_t)n->n, sizeof(int));
	int *seq = alloc_array((size_t)n->n, sizeof(int));
	int *where = alloc_array((size_t)n->n, sizeof(int));
	int *index = alloc_array((size_t)n->n, sizeof(int));
	char *keep = alloc_array((size_t)n->n, 1);
	int k = 0;

	for (int i = 0; i < o->n; i++)
		old_to_new[i] = -1;
	for (int j = 0; j < n->n; j++) {
		int i = map_find(&o->map, n->uuid[j]);

		new_to_old[j] = i;
		if (i >= 0) {
			old_to_new[i] = j;
			seq[k] = i;
			where[k++] = j;
		}
	}
	for (int i = 0; i < o->n; i++) {
		int j = old_to_new[i];

		if (j < 0)
			add_step2(d, "-", cJSON_CreateString(o->uuid[i]));
		else if (!json_equal(o->e[i], n->e[j]))
			add_step2(d, "M", copy(n->e[j]));
	}
	mark_lis(seq, k, keep);
	move_indexes(seq, k, keep, o->n, index);
	for (int t = 0; t < k; t++)
		if (!keep[t])
			add_step3(d, ">", cJSON_CreateNumber(index[t]),
				  cJSON_CreateString(n->uuid[where[t]]));
	for (int j = 0; j < n->n; j++)
		if (new_to_old[j] < 0)
			add_step3(d, "+", cJSON_CreateNumber(j), copy(n->e[j]));
	free(old_to_new);
	free(new_to_old);
	free(seq);
	free(where);
	free(index);
	free(keep);
}

int diff_pages(const cJSON *old, const cJSON *new, cJSON **out,
	       struct fk_err *err)
{
	const char *a = str_member(old, "_uuid"), *b = str_member(new, "_uuid");
	struct side o, n;
	int rc;

	*out = NULL;
	if (!a || !b)
		return fk_fail(err, FK_EDATA, "%s page: _uuid: expected a string",
			       a ? "new" : "old");
	if (strcmp(a, b))
		return fk_fail(err, FK_EDATA,
			       "pages have different _uuid: \"%s\" and \"%s\"", a, b);
	rc = side_load(&o, old, "old", err);
	if (rc)
		return rc;
	rc = side_load(&n, new, "new", err);
	if (rc) {
		side_release(&o);
		return rc;
	}
	*out = must(cJSON_CreateArray());
	diff_pointers(*out, old, new);
	diff_payload(*out, old, new);
	diff_entries(*out, &o, &n);
	side_release(&o);
	side_release(&n);
	return FK_OK;
}

/* ---- checking a diff --------------------------------------------------- */

enum step_kind { S_HEAD, S_NEXT, S_PREV, S_PAGE_M, S_PAGE_D, S_DEL, S_MOD,
		 S_MOVE, S_INS };

/* Argument codes: p pointer value, k payload key, v any value, u entry
 * _uuid, e entry, i index. */
static const struct {
	const char *name;
	const char *args;
} steps[] = {
	[S_HEAD] = {"HEAD_M", "p"}, [S_NEXT] = {"NEXT_M", "p"},
	[S_PREV] = {"PREV_M", "p"}, [S_PAGE_M] = {"PAGE_M", "kv"},
	[S_PAGE_D] = {"PAGE_D", "k"}, [S_DEL] = {"-", "u"},
	[S_MOD] = {"M", "e"},       [S_MOVE] = {">", "iu"},
	[S_INS] = {"+", "ie"},
};

static int check_arg(char code, const cJSON *a, int n, const char *name,
		     struct fk_err *err)
{
	switch (code) {
	case 'p':
		if (!cJSON_IsString(a) && !cJSON_IsNull(a))
			return fk_fail(err, FK_EDATA,
				       "step %d: \"%s\": expected a string or null", n,
				       name);
		break;
	case 'k':
		if (!cJSON_IsString(a))
			return fk_fail(err, FK_EDATA,
				       "step %d: \"%s\": expected a key (a string)", n,
				       name);
		if (is_reserved_key(a->valuestring))
			return fk_fail(err, FK_EDATA,
				       "step %d: \"%s\": \"%s\" is not a payload key", n,
				       name, a->valuestring);
		break;
	case 'u':
		if (!cJSON_IsString(a))
			return fk_fail(err, FK_EDATA,
				       "step %d: \"%s\": expected an entry _uuid (a string)",
				       n, name);
		break;
	case 'e':
		if (!cJSON_IsObject(a) || !str_member(a, "_uuid"))
			return fk_fail(err, FK_EDATA,
				       "step %d: \"%s\": expected an entry (an object with a string _uuid)",
				       n, name);
		break;
	case 'i':
		if (!cJSON_IsNumber(a) || !(a->valuedouble >= 0) ||
		    a->valuedouble != floor(a->valuedouble))
			return fk_fail(err, FK_EDATA,
				       "step %d: \"%s\": expected an index (an integer >= 0)",
				       n, name);
		break;
	}
	return FK_OK;
}

/* Checks step number n; on success *kind says which it is. */
static int check_step(const cJSON *step, int n, enum step_kind *kind,
		      struct fk_err *err)
{
	const cJSON *a;
	const char *name;
	int argc = -1, k;

	if (!cJSON_IsArray(step))
		return fk_fail(err, FK_EDATA, "step %d: expected an array", n);
	if (!cJSON_IsString(step->child))
		return fk_fail(err, FK_EDATA,
			       "step %d: expected a step name (a string) first", n);
	name = step->child->valuestring;
	for (k = 0; k < (int)(sizeof(steps) / sizeof(steps[0])); k++)
		if (!strcmp(name, steps[k].name))
			break;
	if (k == (int)(sizeof(steps) / sizeof(steps[0])))
		return fk_fail(err, FK_EDATA, "step %d: unknown step \"%s\"", n, name);
	for (a = step->child; a; a = a->next)
		argc++;
	if (argc != (int)strlen(steps[k].args))
		return fk_fail(err, FK_EDATA,
			       "step %d: \"%s\" takes %d argument%s, not %d", n, name,
			       (int)strlen(steps[k].args),
			       strlen(steps[k].args) == 1 ? "" : "s", argc);
	a = step->child->next;
	for (const char *c = steps[k].args; *c; c++, a = a->next) {
		int rc = check_arg(*c, a, n, name, err);

		if (rc)
			return rc;
	}
	*kind = (enum step_kind)k;
	return FK_OK;
}

/* ---- replay: the entries in a randomized tree ordered by position ------ */

/* One entry of the page being replayed; entry NULL once deleted. */
struct rnode {
	cJSON *entry;
	int left, right, parent, size;
};

struct replay {
	struct rnode *node;
	int count;          /* nodes used */
	int root;
	uint64_t rng;       /* xorshift state for the merges */
	struct uuid_map map; /* _uuid -> node, deleted ones included */
	cJSON **trash;      /* deleted entries, freed at the end (the map
			     * still borrows their _uuid strings) */
	int ntrash;
};

static int size_of(const struct replay *r, int t)
{
	return t < 0 ? 0 : r->node[t].size;
}

static void pull(struct replay *r, int t)
{
	struct rnode *x = &r->node[t];

	x->size = 1 + size_of(r, x->left) + size_of(r, x->right);
	if (x->left >= 0)
		r->node[x->left].parent = t;
	if (x->right >= 0)
		r->node[x->right].parent = t;
}

/* Splits tree t into its first k nodes (*a) and the rest (*b). */
static void split(struct replay *r, int t, int k, int *a, int *b)
{
	struct rnode *x;

	if (t < 0) {
		*a = *b = -1;
		return;
	}
	x = &r->node[t];
	if (size_of(r, x->left) >= k) {
		split(r, x->left, k, a, &x->left);
		pull(r, t);
		*b = t;
	} else {
		split(r, x->right, k - size_of(r, x->left) - 1, &x->right, b);
		pull(r, t);
		*a = t;
	}
}

/* Joins a and b (a's nodes first).  The root comes from each side with a
 * probability proportional to its size, which keeps the tree balanced in
 * expectation whatever order the steps come in. */
static int merge(struct replay *r, int a, int b)
{
	uint64_t x;

	if (a < 0 || b < 0)
		return a < 0 ? b : a;
	x = r->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	r->rng = x;
	if (x % (uint64_t)(size_of(r, a) + size_of(r, b)) < (uint64_t)size_of(r, a)) {
		r->node[a].right = merge(r, r->node[a].right, b);
		pull(r, a);
		return a;
	}
	r->node[b].left = merge(r, a, r->node[b].left);
	pull(r, b);
	return b;
}

static int build(struct replay *r, int lo, int hi)
{
	int mid = lo + (hi - lo) / 2;

	if (lo >= hi)
		return -1;
	r->node[mid].left = build(r, lo, mid);
	r->node[mid].right = build(r, mid + 1, hi);
	pull(r, mid);
	return mid;
}

static int position(const struct replay *r, int t)
{
	int p = size_of(r, r->node[t].left);

	for (; r->node[t].parent >= 0; t = r->node[t].parent) {
		const struct rnode *up = &r->node[r->node[t].parent];

		if (up->right == t)
			p += size_of(r, up->left) + 1;
	}
	return p;
}

static void tree_remove(struct replay *r, int t)
{
	int a, b, mid;

	split(r, r->root, position(r, t), &a, &b);
	split(r, b, 1, &mid, &b);
	r->root = merge(r, a, b);
	if (r->root >= 0)
		r->node[r->root].parent = -1;
	r->node[t].left = r->node[t].right = r->node[t].parent = -1;
	r->node[t].size = 1;
}

/* Inserts lone node t at index (past the end means the end). */
static void tree_insert(struct replay *r, int t, double index)
{
	int n = size_of(r, r->root), a, b;

	split(r, r->root, index >= n ? n : (int)index, &a, &b);
	r->root = merge(r, merge(r, a, t), b);
	r->node[r->root].parent = -1;
}

static void to_trash(struct replay *r, cJSON *e)
{
	e->next = e->prev = NULL; /* cJSON_Delete would follow them */
	r->trash[r->ntrash++] = e;
}

/* The live node of uuid, or -1. */
static int live(const struct replay *r, const char *uuid)
{
	int t = map_find(&r->map, uuid);

	return t >= 0 && r->node[t].entry ? t : -1;
}

static void apply_entry_step(struct replay *r, enum step_kind kind,
			     const cJSON *step)
{
	const cJSON *a = step->child->next, *b = a->next;
	cJSON *e;
	int t;

	switch (kind) {
	case S_DEL:
		t = live(r, a->valuestring);
		if (t < 0)
			break;
		tree_remove(r, t);
		to_trash(r, r->node[t].entry);
		r->node[t].entry = NULL;
		break;
	case S_MOD: {
		struct uuid_slot *slot = map_slot(&r->map, str_member(a, "_uuid"));

		t = slot->key ? slot->val : -1;
		if (t < 0 || !r->node[t].entry)
			break;
		/* The map borrows the _uuid string: lend it the new one first. */
		e = r->node[t].entry;
		r->node[t].entry = copy(a);
		slot->key = str_member(r->node[t].entry, "_uuid");
		e->next = e->prev = NULL;
		cJSON_Delete(e);
		break;
	}
	case S_MOVE:
		t = live(r, b->valuestring);
		if (t < 0)
			break;
		tree_remove(r, t);
		tree_insert(r, t, a->valuedouble);
		break;
	case S_INS: {
		struct uuid_slot *slot = map_slot(&r->map, str_member(b, "_uuid"));
		struct rnode *x;

		if (slot->key && r->node[slot->val].entry)
			break;
		t = r->count++;
		x = &r->node[t];
		x->entry = copy(b);
		x->left = x->right = x->parent = -1;
		x->size = 1;
		slot->key = str_member(x->entry, "_uuid");
		slot->val = t;
		tree_insert(r, t, a->valuedouble);
		break;
	}
	default:
		break;
	}
}

/* The leftmost node of the subtree at t. */
static int leftmost(const struct replay *r, int t)
{
	while (r->node[t].left >= 0)
		t = r->node[t].left;
	return t;
}

static int successor(const struct replay *r, int t)
{
	if (r->node[t].right >= 0)
		return leftmost(r, r->node[t].right);
	while (r->node[t].parent >= 0 && r->node[r->node[t].parent].right == t)
		t = r->node[t].parent;
	return r->node[t].parent;
}

/* Takes every entry out of the array into r; room for extra insertions. */
static void replay_init(struct replay *r, cJSON *entries, int extra)
{
	cJSON *e, *next;
	int n = 0;

	cJSON_ArrayForEach(e, entries)
		n++;
	memset(r, 0, sizeof(*r));
	r->node = alloc_array((size_t)n + (size_t)extra, sizeof(*r->node));
	r->trash = alloc_array((size_t)n + (size_t)extra, sizeof(*r->trash));
	r->rng = 0x9e3779b97f4a7c15ULL;
	map_init(&r->map, (size_t)n + (size_t)extra);
	for (e = entries->child; e; e = next) {
		const char *u = str_member(e, "_uuid");
		struct rnode *x = &r->node[r->count];

		next = e->next;
		x->entry = e;
		x->parent = -1;
		if (u) { /* a duplicate _uuid stays addressed by its first */
			struct uuid_slot *slot = map_slot(&r->map, u);

			if (!slot->key) {
				slot->key = u;
				slot->val = r->count;
			}
		}
		r->count++;
	}
	entries->child = NULL;
	r->root = build(r, 0, r->count);
	if (r->root >= 0)
		r->node[r->root].parent = -1;
}

/* Links the entries back into the array in tree order, frees the rest. */
static void replay_finish(struct replay *r, cJSON *entries)
{
	cJSON *last = NULL;

	for (int t = r->root >= 0 ? leftmost(r, r->root) : -1; t >= 0;
	     t = successor(r, t)) {
		cJSON *e = r->node[t].entry;

		e->prev = last;
		e->next = NULL;
		if (last)
			last->next = e;
		else
			entries->child = e;
		last = e;
	}
	if (entries->child)
		entries->child->prev = last; /* cJSON keeps the tail there */
	for (int i = 0; i < r->ntrash; i++)
		cJSON_Delete(r->trash[i]);
	free(r->node);
	free(r->trash);
	map_release(&r->map);
}

/* ---- replay: pointers and payload --------------------------------------- */

/* Links item into obj under key just before member at (NULL: at the end).
 * By hand: cJSON has no "insert before" for object members that keeps the
 * name. */
static void insert_before(cJSON *obj, cJSON *at, const char *key, cJSON *item)
{
	if (!cJSON_AddItemToObject(obj, key, item))
		abort();
	if (!at)
		return;
	cJSON_DetachItemViaPointer(obj, item);
	item->next = at;
	item->prev = at->prev;
	if (at == obj->child)
		obj->child = item; /* item->prev is the tail, as cJSON wants */
	else
		at->prev->next = item;
	at->prev = item;
}

static void set_member(cJSON *obj, const char *key, cJSON *v)
{
	if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v))
		abort();
}

/* HEAD_M, NEXT_M, PREV_M (which = 0, 1, 2). */
static void apply_pointer(cJSON *page, int which, const cJSON *v)
{
	const char *key = pointer_keys[which];
	cJSON *m;

	if (!cJSON_IsString(v)) {
		cJSON_DeleteItemFromObjectCaseSensitive(page, key);
		return;
	}
	if (cJSON_GetObjectItemCaseSensitive(page, key)) {
		set_member(page, key, must(cJSON_CreateString(v->valuestring)));
		return;
	}
	/* Canonical order: after _uuid and the pointers that come first. */
	for (m = page->child; m; m = m->next) {
		int i;

		for (i = 0; i < which && strcmp(m->string, pointer_keys[i]); i++)
			;
		if (strcmp(m->string, "_uuid") && i == which)
			break;
	}
	insert_before(page, m, key, must(cJSON_CreateString(v->valuestring)));
}

static void apply_payload(cJSON *page, const char *key, const cJSON *v)
{
	cJSON *m;

	if (!v) {
		cJSON_DeleteItemFromObjectCaseSensitive(page, key);
		return;
	}
	if (cJSON_GetObjectItemCaseSensitive(page, key)) {
		set_member(page, key, copy(v));
		return;
	}
	/* Payload stays before _hash and any bookkeeping. */
	for (m = page->child; m; m = m->next)
		if (!strcmp(m->string, "_hash") || !strncmp(m->string, "__", 2))
			break;
	insert_before(page, m, key, copy(v));
}

int diff_replay(cJSON *page, const cJSON *diff, struct fk_err *err)
{
	cJSON *entries = cJSON_GetObjectItemCaseSensitive(page, "entries");
	const cJSON *step;
	struct replay r;
	enum step_kind kind;
	int n = 0, entry_steps = 0, inserts = 0;

	if (!cJSON_IsArray(diff))
		return fk_fail(err, FK_EDATA, "diff: expected an array of steps");
	cJSON_ArrayForEach(step, diff) {
		int rc = check_step(step, n++, &kind, err);

		if (rc)
			return rc;
		entry_steps += kind >= S_DEL;
		inserts += kind == S_INS;
	}
	if (entry_steps && !cJSON_IsArray(entries))
		return fk_fail(err, FK_EDATA, "page: entries: expected an array");
	if (entry_steps)
		replay_init(&r, entries, inserts);
	cJSON_ArrayForEach(step, diff) {
		const cJSON *a = step->child->next;

		check_step(step, 0, &kind, NULL); /* checked above: only the kind */
		if (kind <= S_PREV)
			apply_pointer(page, (int)kind, a);
		else if (kind == S_PAGE_M)
			apply_payload(page, a->valuestring, a->next);
		else if (kind == S_PAGE_D)
			apply_payload(page, a->valuestring, NULL);
		else
			apply_entry_step(&r, kind, step);
	}
	if (entry_steps)
		replay_finish(&r, entries);
	return FK_OK;
}
