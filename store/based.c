/*
 * based.c - flok's based-page operations (SPEC §7): commit on a local
 * write, mark_synced on an acknowledgement, rebase when the authority's
 * copy arrives, and the push of the oldest unacknowledged set.
 *
 * The real work is diff_pages() and diff_replay(); what is left here is
 * keeping the bookkeeping in its canonical place (after _hash: __changes,
 * __changes_id, __base) and refusing stored bookkeeping that is not well
 * formed, because a rebase built on it would silently lose local writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "based.h"
#include "diff.h"
#include "page.h"

#define ID_BYTES 16 /* 128 random bits, written as 32 hex digits */

/* Out of memory: like buf.c and diff.c, flokvm does not try to go on. */
static void *must(void *p)
{
	if (!p)
		abort();
	return p;
}

static cJSON *copy(const cJSON *v)
{
	return must(cJSON_Duplicate(v, 1));
}

static const cJSON *member(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static const char *str_member(const cJSON *obj, const char *name)
{
	return cJSON_GetStringValue(member(obj, name));
}

/* A fresh set id into out.  Random rather than a counter: ids from many
 * machines (and from a store that was deleted and rebuilt) meet at the
 * authority, which treats an id it has seen as a no-op (§7). */
static void fresh_id(char out[2 * ID_BYTES + 1])
{
	unsigned char r[ID_BYTES];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			abort(); /* no kernel randomness: no safe id either */
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* The bookkeeping of a page, checked; everything borrowed from the page.
 * changes is NULL when nothing is unacknowledged, base when no earlier set
 * is. */
struct book {
	const cJSON *changes, *base, *base_changes;
	const char *id, *base_id;
};

/* Reads one set (__changes with its __changes_id) of obj; where prefixes
 * the messages ("" or "__base."). */
static int read_set(const cJSON *obj, const char *where, const cJSON **changes,
		    const char **id, struct fk_err *err)
{
	const cJSON *c = member(obj, "__changes"), *i = member(obj, "__changes_id");

	if (c && !cJSON_IsArray(c))
		return fk_fail(err, FK_EDATA, "%s__changes: expected an array (a diff)",
			       where);
	if (i && !cJSON_IsString(i))
		return fk_fail(err, FK_EDATA, "%s__changes_id: expected a string", where);
	if (c && !i)
		return fk_fail(err, FK_EDATA, "%s__changes_id: missing beside __changes",
			       where);
	if (i && !c)
		return fk_fail(err, FK_EDATA, "%s__changes_id: present without __changes",
			       where);
	*changes = c;
	*id = i ? i->valuestring : NULL;
	return FK_OK;
}

static int read_book(const cJSON *page, struct book *bk, struct fk_err *err)
{
	int rc;

	memset(bk, 0, sizeof(*bk));
	rc = read_set(page, "", &bk->changes, &bk->id, err);
	if (rc)
		return rc;
	bk->base = member(page, "__base");
	if (!bk->base)
		return FK_OK;
	if (!cJSON_IsObject(bk->base))
		return fk_fail(err, FK_EDATA, "__base: expected an object (a page)");
	if (!bk->changes)
		return fk_fail(err, FK_EDATA, "__base: present without __changes");
	rc = read_set(bk->base, "__base.", &bk->base_changes, &bk->base_id, err);
	if (rc)
		return rc;
	if (!bk->base_changes)
		return fk_fail(err, FK_EDATA, "__base.__changes: missing");
	if (member(bk->base, "__base"))
		return fk_fail(err, FK_EDATA,
			       "__base.__base: unexpected (at most one earlier set)");
	return FK_OK;
}

/* Appends one set to page, which takes changes over. */
static void add_set(cJSON *page, cJSON *changes, const char *id)
{
	cJSON_AddItemToObject(page, "__changes", changes);
	must(cJSON_AddStringToObject(page, "__changes_id", id));
}

/* Drops every "__" member of page. */
static void strip(cJSON *page)
{
	cJSON_Delete(based_take_bookkeeping(page));
}

/* Replays changes onto a page without bookkeeping and rehashes it. */
static int replay_hashed(cJSON *page, const cJSON *changes, const char *where,
			 struct fk_err *err)
{
	int rc = diff_replay(page, changes, err);

	if (rc)
		return fk_prefix(err, rc, "%s__changes", where);
	page_set_hash(page);
	return FK_OK;
}

int based_commit(const cJSON *older, cJSON *newer, struct fk_err *err)
{
	const cJSON *uuid = member(newer, "_uuid"), *from = older;
	cJSON *empty = NULL, *changes = NULL;
	char id[2 * ID_BYTES + 1];
	struct book bk = {0};
	int rc;

	if (older && (rc = read_book(older, &bk, err)))
		return rc;
	if (!older) {
		if (!cJSON_IsString(uuid))
			return fk_fail(err, FK_EDATA, "_uuid: expected a string");
		empty = must(cJSON_CreateObject());
		must(cJSON_AddStringToObject(empty, "_uuid", uuid->valuestring));
		must(cJSON_AddArrayToObject(empty, "entries"));
		from = empty;
	} else if (bk.base) {
		from = bk.base;
	}
	rc = diff_pages(from, newer, &changes, err);
	cJSON_Delete(empty);
	if (rc)
		return rc;
	strip(newer); /* promised to carry none; make sure of it */
	fresh_id(id);
	add_set(newer, changes, id);
	/* An earlier set stays the base; otherwise older's own pending set
	 * becomes the base, since it may already be on its way. */
	if (bk.base)
		cJSON_AddItemToObject(newer, "__base", copy(bk.base));
	else if (bk.changes)
		cJSON_AddItemToObject(newer, "__base", copy(older));
	return FK_OK;
}

bool based_mark_synced(cJSON *page, const char *id)
{
	const cJSON *base = member(page, "__base");
	const char *own = str_member(page, "__changes_id");

	if (!id)
		return false;
	if (base) {
		const char *bid = str_member(base, "__changes_id");

		if (!bid || strcmp(bid, id))
			return false;
		cJSON_DeleteItemFromObjectCaseSensitive(page, "__base");
		return true;
	}
	if (!own || strcmp(own, id))
		return false;
	cJSON_DeleteItemFromObjectCaseSensitive(page, "__changes");
	cJSON_DeleteItemFromObjectCaseSensitive(page, "__changes_id");
	return true;
}

int based_rebase(const cJSON *local, const cJSON *authoritative, cJSON **out,
		 struct fk_err *err)
{
	const char *lu = str_member(local, "_uuid");
	const char *au = str_member(authoritative, "_uuid");
	cJSON *page, *base = NULL, *changes = NULL;
	struct book bk;
	int rc;

	*out = NULL;
	rc = read_book(local, &bk, err);
	if (rc)
		return rc;
	/* Replaying one page's changes onto another would be nonsense. */
	if (bk.changes && (!lu || !au || strcmp(lu, au)))
		return fk_fail(err, FK_EDATA, "pages have different _uuid: \"%s\" and \"%s\"",
			       lu ? lu : "", au ? au : "");
	page = copy(authoritative);
	strip(page); /* an authority's copy carries no bookkeeping of ours */
	if (!bk.changes) {
		page_set_hash(page);
		*out = page;
		return FK_OK;
	}
	if (bk.base) {
		base = page;
		page = NULL;
		rc = replay_hashed(base, bk.base_changes, "__base.", err);
		if (rc)
			goto fail;
		page = copy(base);
		add_set(base, copy(bk.base_changes), bk.base_id);
	}
	rc = replay_hashed(page, bk.changes, "", err);
	if (rc)
		goto fail;
	if (base)
		rc = diff_pages(base, page, &changes, err);
	else
		changes = copy(bk.changes);
	if (rc)
		goto fail;
	add_set(page, changes, bk.id);
	if (base)
		cJSON_AddItemToObject(page, "__base", base);
	*out = page;
	return FK_OK;
fail:
	cJSON_Delete(page);
	cJSON_Delete(base);
	return rc;
}

bool based_has_changes(const cJSON *page)
{
	return member(page, "__changes") != NULL;
}

/* Also NULL when the set to push is malformed (rebase and commit report
 * that one as FK_EDATA). */
cJSON *based_push(const cJSON *page)
{
	const cJSON *base = member(page, "__base");
	const cJSON *set = cJSON_IsObject(base) ? base : page;
	const cJSON *changes = member(set, "__changes");
	const char *id = str_member(set, "__changes_id");
	cJSON *push, *visible;

	if (!cJSON_IsArray(changes) || !id)
		return NULL;
	push = must(cJSON_CreateObject());
	visible = copy(page);
	strip(visible);
	cJSON_AddItemToObject(push, "page", visible);
	cJSON_AddItemToObject(push, "changes", copy(changes));
	must(cJSON_AddStringToObject(push, "changes_id", id));
	return push;
}

const char *based_push_id(const cJSON *push)
{
	return str_member(push, "changes_id");
}

cJSON *based_take_bookkeeping(cJSON *page)
{
	cJSON *bk = NULL, *m, *next;

	if (!cJSON_IsObject(page))
		return NULL;
	for (m = page->child; m; m = next) {
		next = m->next;
		if (!m->string || strncmp(m->string, "__", 2))
			continue;
		if (!bk)
			bk = must(cJSON_CreateObject());
		/* Adding to an object "as an array" keeps the member's name. */
		cJSON_AddItemToArray(bk, cJSON_DetachItemViaPointer(page, m));
	}
	return bk;
}

/* A member of the same name already in page is replaced, so that page
 * never holds a key twice. */
void based_put_bookkeeping(cJSON *page, const cJSON *bookkeeping)
{
	const cJSON *m;

	if (!bookkeeping)
		return;
	cJSON_ArrayForEach(m, bookkeeping) {
		cJSON_DeleteItemFromObjectCaseSensitive(page, m->string);
		cJSON_AddItemToObject(page, m->string, copy(m));
	}
}
