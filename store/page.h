/*
 * page.h - the page model of SPEC §2: validation, normalisation (the page
 * modification helpers of §2.1), the CRC-32 hash of §2.2 and the canonical
 * text form that events print.
 *
 * A page in memory is a cJSON object in canonical member order:
 *   _uuid, _head, _next, _prev (only those set), entries, payload keys in
 *   input order, then _hash.
 * page_parse() and page_validate() strip flokvm's "__" bookkeeping; the
 * store keeps it beside the page (db.h) and the vm joins the two into a
 * "full page" only for the based-page operations (based.h).
 */
#ifndef FLOKVM_PAGE_H
#define FLOKVM_PAGE_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "status.h"

/* The depth to which stored pages are read back: the largest max_depth
 * setting, so a page stored under a higher limit still reads, while the
 * recursion of cJSON's own functions stays far from the stack's end. */
#define PAGE_STORED_MAX_DEPTH 10000

struct page_limits {
	size_t max_page_bytes;
	int max_depth;
	size_t max_key_bytes;
};

enum page_origin {
	PAGE_FROM_USER,  /* a write: entries may lack _uuid/_timestamp */
	PAGE_FROM_PAGER, /* a pager's copy: validated, never stamped */
};

/* Checks a namespace or key (what = "namespace" or "key"): 1..max bytes of
 * UTF-8 without control characters.  FK_EDATA with a message otherwise. */
int page_check_name(const char *what, const char *s, size_t max,
		    struct fk_err *err);

/*
 * Parses text[0..len) and validates it as a page (size limit, strict JSON,
 * §2 rules).  key is the page's key (a missing _uuid is set to it; a
 * different one is an error); key NULL means _uuid is required.  On success
 * *out is the page in canonical order, without _hash and "__" keys (caller
 * cJSON_Delete()s).  Errors are FK_EDATA with "PATH: problem".
 */
int page_parse(const char *text, size_t len, const char *key,
	       enum page_origin origin, const struct page_limits *lim,
	       cJSON **out, struct fk_err *err);

/* The same for a tree already parsed: validates and reorders page in place
 * (it must be an object); strips _hash and "__" keys. */
int page_validate(cJSON *page, const char *key, enum page_origin origin,
		  struct fk_err *err);

/*
 * Stamps a validated user page per §2.1 against the stored copy (NULL if
 * none) at time now_ms (epoch milliseconds): fresh uuids, missing
 * timestamps, bumped timestamps on changed content, and the re-stamping of
 * rule 4.  Then sets _hash.
 */
void page_normalise(cJSON *page, const cJSON *stored, uint64_t now_ms);

/* The §2.2 hash of a validated page (its _hash member, if any, ignored). */
uint32_t page_hash(const cJSON *page);

/* Replaces or appends "_hash" (as the last member) with page_hash(page). */
void page_set_hash(cJSON *page);

/* Appends the canonical text of a page to b (null pointers left out). */
void page_write(struct buf *b, const cJSON *page);

/* Number of entries of a validated page. */
int page_entry_count(const cJSON *page);

/* Current time in epoch milliseconds. */
uint64_t page_now_ms(void);

#endif
