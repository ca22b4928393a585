/*
 * fuzz-page.c - libFuzzer target for the page model (store/page.c).
 *
 * The input is a page, optionally followed by a NUL byte and a second page.
 * The first is parsed both as a user's write and as a pager's copy; the
 * second, when it parses as a pager's copy, is the stored page the write is
 * normalised against (otherwise the first page's own pager parse is).
 *
 * Oracles, each an abort():
 *   - what page_write() prints parses again (as a pager's copy once
 *     normalised) into a page JSON-equal to the one printed, with the same
 *     hash: every stored page must read back;
 *   - normalising a normalised page against itself changes nothing, also
 *     when its entries' _timestamps are left out (SPEC §2.1: a rewrite is
 *     idempotent).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "page.h"

#define NOW_MS 1433865600000ULL

static const struct page_limits lim = {1u << 20, 64, 1024};
/* Printing may grow a page (uuids and timestamps are added, escapes
 * change), so the text is read back without a size limit. */
static const struct page_limits reread_lim = {SIZE_MAX, 64, 1024};

static void fail(const char *what, const cJSON *page, const struct buf *text)
{
	fprintf(stderr, "fuzz-page: %s\n", what);
	if (page) {
		struct buf b = {0};

		json_write(&b, page);
		fprintf(stderr, "  page: %s\n", b.p);
		buf_release(&b);
	}
	if (text)
		fprintf(stderr, "  text: %s\n", text->p);
	abort();
}

/* A copy of page without its _hash member (caller cJSON_Delete()s). */
static cJSON *without_hash(const cJSON *page)
{
	cJSON *c = cJSON_Duplicate(page, 1);

	if (!c)
		abort();
	cJSON_DeleteItemFromObjectCaseSensitive(c, "_hash");
	return c;
}

/* Prints page and parses the text again with origin; the result must be
 * the same page with the same hash. */
static void check_round_trip(const cJSON *page, enum page_origin origin)
{
	struct buf text = {0};
	struct fk_err err;
	cJSON *again = NULL, *want;

	page_write(&text, page);
	if (page_parse(text.p, text.len, NULL, origin, &reread_lim, &again, &err)) {
		fprintf(stderr, "fuzz-page: %s\n", err.msg);
		fail("printed page does not parse again", page, &text);
	}
	want = without_hash(page);
	if (!json_equal(again, want))
		fail("printed page parses into a different page", page, &text);
	if (page_hash(again) != page_hash(page))
		fail("printed page has a different hash", page, &text);
	cJSON_Delete(want);
	cJSON_Delete(again);
	buf_release(&text);
}

/* Normalises a copy of page against page itself (with its entries'
 * _timestamps removed when strip is set): nothing may change. */
static void check_idempotent(const cJSON *page, int strip)
{
	cJSON *again = cJSON_Duplicate(page, 1), *e;

	if (!again)
		abort();
	if (strip)
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(again, "entries"))
			cJSON_DeleteItemFromObjectCaseSensitive(e, "_timestamp");
	page_normalise(again, page, NOW_MS + 5000);
	if (!json_equal(again, page))
		fail(strip ? "rewrite without timestamps is not idempotent" :
			     "rewrite is not idempotent", page, NULL);
	cJSON_Delete(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = memchr(data, '\0', size);
	size_t len = nul ? (size_t)(nul - text) : size;
	cJSON *user = NULL, *pager = NULL, *stored = NULL;
	struct fk_err err;

	page_parse(text, len, NULL, PAGE_FROM_USER, &lim, &user, &err);
	page_parse(text, len, NULL, PAGE_FROM_PAGER, &lim, &pager, &err);
	if (nul)
		page_parse(nul + 1, size - len - 1, NULL, PAGE_FROM_PAGER, &lim,
			   &stored, &err);
	/* Whatever the pager path accepts, the user path accepts too. */
	if (pager && !user)
		fail("a pager's page is refused as a user's page", pager, NULL);

	if (pager) {
		page_set_hash(pager);
		check_round_trip(pager, PAGE_FROM_PAGER);
	}
	if (stored)
		page_set_hash(stored);
	if (user) {
		/* Unstamped, the page still prints and reads back as a write. */
		page_set_hash(user);
		check_round_trip(user, PAGE_FROM_USER);
		page_normalise(user, stored ? stored : pager, NOW_MS);
		check_round_trip(user, PAGE_FROM_PAGER);
		check_idempotent(user, 0);
		check_idempotent(user, 1);
	}
	cJSON_Delete(user);
	cJSON_Delete(pager);
	cJSON_Delete(stored);
	return 0;
}
