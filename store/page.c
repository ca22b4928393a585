/*
 * page.c - validation, normalisation, hashing and printing of pages
 * (SPEC §2).  Everything that decides what a page *is* lives here, so that
 * writes, pager copies, `hash` and `check` all agree.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zlib.h>

#include "json.h"
#include "page.h"

#define MAX_TIMESTAMP 9007199254740991ULL /* 2^53 - 1 */

static const char *const pointer_keys[] = {"_head", "_next", "_prev"};

static bool is_pointer_key(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, pointer_keys[i]))
			return true;
	return false;
}

/* Length of the valid UTF-8 sequence at s, or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0; /* overlong or a surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

int page_check_name(const char *what, const char *s, size_t max,
		    struct fk_err *err)
{
	size_t len = strlen(s), i = 0;

	if (len == 0)
		return fk_fail(err, FK_EDATA, "%s is empty", what);
	if (len > max)
		return fk_fail(err, FK_EDATA,
			       "%s is %zu bytes long (at most %zu)", what, len,
			       max);
	while (i < len) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t n = utf8_seq(p);

		if (!n)
			return fk_fail(err, FK_EDATA,
				       "%s is not valid UTF-8 (byte %zu)", what,
				       i + 1);
		if (*p < 0x20 || *p == 0x7f)
			return fk_fail(err, FK_EDATA,
				       "%s contains a control character (byte %zu)",
				       what, i + 1);
		i += n;
	}
	return FK_OK;
}

/* Appends item to obj keeping item->string (objects and arrays share the
 * child list, and cJSON_AddItemToArray does not touch the name). */
static void append_member(cJSON *obj, cJSON *item)
{
	cJSON_AddItemToArray(obj, item);
}

/* Inserts a new member named key at position pos of obj (at the end if
 * pos is past it).  Linked by hand: cJSON_InsertItemInArray() refuses
 * objects in some cJSON builds. */
static void insert_member(cJSON *obj, int pos, const char *key, cJSON *item)
{
	cJSON *at;

	cJSON_AddItemToObject(obj, key, item);
	cJSON_DetachItemViaPointer(obj, item);
	for (at = obj->child; at && pos > 0; at = at->next)
		pos--;
	if (!at) {
		append_member(obj, item);
		return;
	}
	item->next = at;
	item->prev = at->prev;
	if (at == obj->child)
		obj->child = item;
	else
		at->prev->next = item;
	at->prev = item;
}

/* True if s is epoch milliseconds as flokvm stores them. */
static bool timestamp_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 16 || (s[0] == '0' && len > 1))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return strtoull(s, NULL, 10) <= MAX_TIMESTAMP;
}

static int entry_error(struct fk_err *err, int index, const char *key,
		       const char *problem)
{
	struct buf path = {0};
	int rc;

	buf_adds(&path, "entries");
	json_path_index(&path, (size_t)index);
	if (key)
		json_path_key(&path, key);
	rc = fk_fail(err, FK_EDATA, "%s: %s", path.p, problem);
	buf_release(&path);
	return rc;
}

/* Validates entry number index in place: an object whose _uuid is a
 * non-empty string and whose _timestamp is a decimal string (an integer is
 * converted).  User pages may omit both; page_normalise() fills them. */
static int validate_entry(cJSON *entry, int index, enum page_origin origin,
			  struct fk_err *err)
{
	cJSON *uuid, *ts;

	if (!cJSON_IsObject(entry))
		return entry_error(err, index, NULL, "expected an object");
	uuid = cJSON_GetObjectItemCaseSensitive(entry, "_uuid");
	if (uuid && (!cJSON_IsString(uuid) || !uuid->valuestring[0]))
		return entry_error(err, index, "_uuid",
				   "expected a non-empty string");
	if (!uuid && origin == PAGE_FROM_PAGER)
		return entry_error(err, index, NULL,
				   "missing _uuid (a pager's entries must carry one)");
	ts = cJSON_GetObjectItemCaseSensitive(entry, "_timestamp");
	if (!ts) {
		if (origin == PAGE_FROM_PAGER)
			return entry_error(err, index, NULL,
					   "missing _timestamp (a pager's entries must carry one)");
		return FK_OK;
	}
	if (cJSON_IsNumber(ts)) {
		double d = ts->valuedouble;
		char num[32];

		if (d < 0 || d > (double)MAX_TIMESTAMP || d != (double)(uint64_t)d)
			return entry_error(err, index, "_timestamp",
					   "expected a decimal string of epoch milliseconds");
		snprintf(num, sizeof(num), "%llu", (unsigned long long)d);
		cJSON_ReplaceItemInObjectCaseSensitive(entry, "_timestamp", cJSON_CreateString(num));
		return FK_OK;
	}
	if (!cJSON_IsString(ts) || !timestamp_ok(ts->valuestring))
		return entry_error(err, index, "_timestamp",
				   "expected a decimal string of epoch milliseconds");
	return FK_OK;
}

/*
 * Entries by _uuid: an open-addressing hash table (FNV-1a), built once per
 * write for duplicate checks and for normalisation against the stored
 * copy.  Sorting and binary search cost n log n string comparisons, and on
 * large pages that was most of a write's CPU time.
 */
struct uuid_slot {
	const char *uuid; /* NULL: empty */
	const cJSON *entry;
	int index;
};

struct uuid_index {
	struct uuid_slot *slot;
	size_t mask;
};

static size_t uuid_hash(const char *s)
{
	size_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static void uuid_index_init(struct uuid_index *ix, int n)
{
	size_t cap = 16;

	while (cap < 2 * (size_t)n)
		cap *= 2;
	ix->slot = calloc(cap, sizeof(*ix->slot));
	if (!ix->slot)
		abort();
	ix->mask = cap - 1;
}

/* Adds uuid unless it is there: then returns the slot that holds it. */
static const struct uuid_slot *uuid_index_put(struct uuid_index *ix,
					      const char *uuid,
					      const cJSON *entry, int index)
{
	size_t i = uuid_hash(uuid) & ix->mask;

	for (; ix->slot[i].uuid; i = (i + 1) & ix->mask)
		if (!strcmp(ix->slot[i].uuid, uuid))
			return &ix->slot[i];
	ix->slot[i] = (struct uuid_slot){uuid, entry, index};
	return NULL;
}

static const struct uuid_slot *uuid_index_get(const struct uuid_index *ix,
					      const char *uuid)
{
	for (size_t i = uuid_hash(uuid) & ix->mask; ix->slot[i].uuid; i = (i + 1) & ix->mask)
		if (!strcmp(ix->slot[i].uuid, uuid))
			return &ix->slot[i];
	return NULL;
}

static void uuid_index_free(struct uuid_index *ix)
{
	free(ix->slot);
	ix->slot = NULL;
}

/* The first entry, in order, whose _uuid an earlier entry has. */
static int check_duplicates(const cJSON *entries, struct fk_err *err)
{
	int n = cJSON_GetArraySize(entries), i = 0, rc = FK_OK;
	struct uuid_index ix;
	const cJSON *e;
	char problem[128];

	if (n < 2)
		return FK_OK;
	uuid_index_init(&ix, n);
	cJSON_ArrayForEach(e, entries) {
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(e, "_uuid");
		const struct uuid_slot *dup = cJSON_IsString(u) ?
			uuid_index_put(&ix, u->valuestring, e, i) : NULL;

		if (dup) {
			snprintf(problem, sizeof(problem),
				 "duplicate entry _uuid (also at entries[%d])", dup->index);
			rc = entry_error(err, i, "_uuid", problem);
			break;
		}
		i++;
	}
	uuid_index_free(&ix);
	return rc;
}

int page_validate(cJSON *page, const char *key, enum page_origin origin,
		  struct fk_err *err)
{
	cJSON *uuid = NULL, *ptr[3] = {NULL, NULL, NULL}, *entries = NULL;
	cJSON *payload = cJSON_CreateArray(), *item, *next;
	int rc = FK_OK, i = 0;

	if (!cJSON_IsObject(page)) {
		cJSON_Delete(payload);
		return fk_fail(err, FK_EDATA, "expected a JSON object (a page)");
	}
	/* Take every member out, then put them back in canonical order. */
	for (item = page->child; item; item = next) {
		const char *name = item->string;

		next = item->next;
		cJSON_DetachItemViaPointer(page, item);
		if (!strcmp(name, "_uuid")) {
			uuid = item;
		} else if (!strcmp(name, "entries")) {
			entries = item;
		} else if (!strcmp(name, "_hash") || !strncmp(name, "__", 2)) {
			cJSON_Delete(item);
		} else {
			for (i = 0; i < 3 && strcmp(name, pointer_keys[i]); i++)
				;
			if (i < 3)
				ptr[i] = item;
			else
				append_member(payload, item);
		}
	}
	if (uuid && !cJSON_IsString(uuid)) {
		rc = fk_fail(err, FK_EDATA, "_uuid: expected a string");
	} else if (uuid && key && strcmp(uuid->valuestring, key)) {
		rc = fk_fail(err, FK_EDATA, "_uuid: \"%s\" differs from the key",
			     uuid->valuestring);
	} else if (!uuid && !key) {
		rc = fk_fail(err, FK_EDATA, "_uuid: missing (the page must name itself)");
	}
	for (i = 0; i < 3 && !rc; i++)
		if (ptr[i] && !cJSON_IsString(ptr[i]) && !cJSON_IsNull(ptr[i]))
			rc = fk_fail(err, FK_EDATA, "%s: expected a string or null",
				     pointer_keys[i]);
	if (!rc && !entries)
		rc = fk_fail(err, FK_EDATA,
			     "entries: missing (a page needs an \"entries\" array)");
	if (!rc && !cJSON_IsArray(entries))
		rc = fk_fail(err, FK_EDATA, "entries: expected an array");
	if (!rc) {
		i = 0;
		cJSON_ArrayForEach(item, entries) {
			rc = validate_entry(item, i++, origin, err);
			if (rc)
				break;
		}
	}
	if (!rc)
		rc = check_duplicates(entries, err);

	/* Reassemble (also on failure, so that nothing leaks). */
	if (uuid)
		append_member(page, uuid);
	else if (key)
		cJSON_AddItemToObject(page, "_uuid", cJSON_CreateString(key));
	for (i = 0; i < 3; i++) {
		if (ptr[i] && cJSON_IsNull(ptr[i]))
			cJSON_Delete(ptr[i]);
		else if (ptr[i])
			append_member(page, ptr[i]);
	}
	if (entries)
		append_member(page, entries);
	while (payload->child)
		append_member(page, cJSON_DetachItemViaPointer(payload, payload->child));
	cJSON_Delete(payload);
	return rc;
}

int page_parse(const char *text, size_t len, const char *key,
	       enum page_origin origin, const struct page_limits *lim,
	       cJSON **out, struct fk_err *err)
{
	struct json_opts o = {.max_depth = lim->max_depth, .allow_empty = 0};
	cJSON *page;
	int rc;

	*out = NULL;
	if (len > lim->max_page_bytes)
		return fk_fail(err, FK_EDATA,
			       "page is %zu bytes of JSON (at most %zu)", len,
			       lim->max_page_bytes);
	rc = json_parse(text, len, &o, &page, err);
	if (rc)
		return rc;
	rc = page_validate(page, key, origin, err);
	if (rc) {
		cJSON_Delete(page);
		return rc;
	}
	*out = page;
	return FK_OK;
}

/* The CRC of the concatenation of strings is the chained CRC of each
 * (§2.2's "continued from z"), so the timestamps are gathered into a
 * buffer and hashed in large pieces: one crc32() call per entry costs
 * more than the CRC itself. */
struct crc_feed {
	uLong z;
	size_t len;
	unsigned char buf[8192];
};

static void crc_add(struct crc_feed *f, const char *s)
{
	size_t n = strlen(s);

	if (f->len + n > sizeof(f->buf)) {
		f->z = crc32(f->z, f->buf, (uInt)f->len);
		f->len = 0;
		if (n > sizeof(f->buf)) {
			f->z = crc32(f->z, (const Bytef *)s, (uInt)n);
			return;
		}
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
}

/* The string value of member name of o, or NULL; a direct walk, as
 * entries hold few members. */
static const char *member_string(const cJSON *o, const char *name)
{
	for (const cJSON *m = o->child; m; m = m->next)
		if (m->string[0] == name[0] && !strcmp(m->string, name))
			return cJSON_IsString(m) ? m->valuestring : NULL;
	return NULL;
}

uint32_t page_hash(const cJSON *page)
{
	struct crc_feed f;
	const cJSON *e;
	const char *v;

	f.z = crc32(0L, Z_NULL, 0);
	f.len = 0;
	for (int i = 0; i < 3; i++) {
		v = member_string(page, pointer_keys[i]);
		if (v && v[0])
			crc_add(&f, v);
	}
	v = member_string(page, "_uuid");
	if (v)
		crc_add(&f, v);
	e = cJSON_GetObjectItemCaseSensitive(page, "entries");
	for (e = e ? e->child : NULL; e; e = e->next) {
		v = member_string(e, "_timestamp");
		if (v)
			crc_add(&f, v);
	}
	return (uint32_t)crc32(f.z, f.buf, (uInt)f.len);
}

void page_set_hash(cJSON *page)
{
	char num[16];
	cJSON *old = cJSON_GetObjectItemCaseSensitive(page, "_hash");

	snprintf(num, sizeof(num), "%lu", (unsigned long)page_hash(page));
	if (old)
		cJSON_Delete(cJSON_DetachItemViaPointer(page, old));
	cJSON_AddItemToObject(page, "_hash", cJSON_CreateString(num));
}

int page_entry_count(const cJSON *page)
{
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "entries"));
}

void page_write(struct buf *b, const cJSON *page)
{
	const cJSON *m;
	bool first = true;

	buf_addc(b, '{');
	for (m = page->child; m; m = m->next) {
		/* Bookkeeping is never shown; a null pointer is an unset one. */
		if (!strncmp(m->string, "__", 2) ||
		    (cJSON_IsNull(m) && is_pointer_key(m->string)))
			continue;
		if (!first)
			buf_addc(b, ',');
		first = false;
		json_write_string(b, m->string);
		buf_addc(b, ':');
		json_write(b, m);
	}
	buf_addc(b, '}');
}

uint64_t page_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A fresh random UUID, version 4, lower-case, into out[37]. */
static void new_uuid(char out[37])
{
	unsigned char r[16];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
		 r[10], r[11], r[12], r[13], r[14], r[15]);
}

static void set_timestamp(cJSON *entry, uint64_t ms)
{
	char num[24];
	cJSON *ts = cJSON_GetObjectItemCaseSensitive(entry, "_timestamp");

	if (ms > MAX_TIMESTAMP)
		ms = MAX_TIMESTAMP;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)ms);
	if (ts) {
		cJSON_ReplaceItemInObjectCaseSensitive(entry, "_timestamp", cJSON_CreateString(num));
	} else {
		int pos = 0;
		const cJSON *m;

		/* Right after _uuid, where flok's helpers put it. */
		for (m = entry->child; m && strcmp(m->string, "_uuid"); m = m->next)
			pos++;
		insert_member(entry, m ? pos + 1 : 0, "_timestamp",
			      cJSON_CreateString(num));
	}
}

static uint64_t timestamp_of(const cJSON *entry)
{
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(entry, "_timestamp");

	return strtoull(ts->valuestring, NULL, 10);
}

static const char *str_member(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* True if a and b differ in anything the hash covers: the pointers as
 * hashed, the page _uuid, or any entry's (_uuid, _timestamp) by position. */
static bool hashed_positions_differ(const cJSON *a, const cJSON *b)
{
	const cJSON *ea, *eb;

	for (int i = 0; i < 3; i++) {
		const char *pa = str_member(a, pointer_keys[i]);
		const char *pb = str_member(b, pointer_keys[i]);

		if (strcmp(pa ? pa : "", pb ? pb : ""))
			return true;
	}
	ea = cJSON_GetObjectItemCaseSensitive(a, "entries")->child;
	eb = cJSON_GetObjectItemCaseSensitive(b, "entries")->child;
	for (; ea && eb; ea = ea->next, eb = eb->next)
		if (strcmp(str_member(ea, "_uuid"), str_member(eb, "_uuid")) ||
		    strcmp(str_member(ea, "_timestamp"), str_member(eb, "_timestamp")))
			return true;
	return ea || eb;
}

void page_normalise(cJSON *page, const cJSON *stored, uint64_t now_ms)
{
	cJSON *entries = cJSON_GetObjectItemCaseSensitive(page, "entries");
	const cJSON *sentries = stored ? cJSON_GetObjectItemCaseSensitive(stored, "entries") : NULL;
	int n = cJSON_GetArraySize(entries), si = 0;
	bool *fresh = calloc((size_t)(n ? n : 1), sizeof(bool));
	bool any_fresh = false;
	struct uuid_index ix;
	const cJSON *se;
	cJSON *e;
	int i = 0;

	if (!fresh)
		abort();
	uuid_index_init(&ix, cJSON_GetArraySize(sentries));
	cJSON_ArrayForEach(se, sentries) {
		const char *u = str_member(se, "_uuid");

		if (u)
			uuid_index_put(&ix, u, se, si);
		si++;
	}
	cJSON_ArrayForEach(e, entries) {
		const char *uuid = str_member(e, "_uuid");
		const struct uuid_slot *old;
		char id[37];

		if (!uuid) {
			new_uuid(id);
			insert_member(e, 0, "_uuid", cJSON_CreateString(id));
			uuid = str_member(e, "_uuid");
		}
		old = uuid_index_get(&ix, uuid);
		if (!cJSON_GetObjectItemCaseSensitive(e, "_timestamp"))
			set_timestamp(e, old ? timestamp_of(old->entry) : now_ms);
		if (old && timestamp_of(e) == timestamp_of(old->entry) &&
		    !json_equal(e, old->entry)) {
			uint64_t t = timestamp_of(old->entry) + 1;

			set_timestamp(e, t > now_ms ? t : now_ms);
		}
		fresh[i] = !old;
		any_fresh |= fresh[i];
		i++;
	}
	/* Rule 4: a hashed difference that the CRC does not show (an entry
	 * replaced by another with an equal timestamp) re-stamps the new
	 * entries until it does.  Each round moves them on by one more ms. */
	if (stored && any_fresh && hashed_positions_differ(page, stored)) {
		uint32_t old_hash = page_hash(stored);

		for (int round = 0; round < 64 && page_hash(page) == old_hash; round++) {
			i = 0;
			cJSON_ArrayForEach(e, entries) {
				if (fresh[i++]) {
					uint64_t t = timestamp_of(e) + 1;

					set_timestamp(e, t > now_ms ? t : now_ms);
				}
			}
		}
	}
	uuid_index_free(&ix);
	free(fresh);
	page_set_hash(page);
}
