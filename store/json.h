/*
 * json.h - strict JSON text to cJSON trees and back.
 *
 * cJSON's own parser accepts duplicate keys, silently truncates strings at
 * \u0000 and cannot say where a problem is, so flokvm parses with its own
 * strict reader (RFC 8259 plus the limits of SPEC §2.3) and only uses cJSON
 * as the tree.  The writer prints compact JSON that escapes only '"', '\\'
 * and control characters, and numbers in their shortest round-trip form.
 */
#ifndef FLOKVM_JSON_H
#define FLOKVM_JSON_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "status.h"

/* 2^53: integers beyond this cannot round-trip through a double. */
#define JSON_MAX_SAFE_INT 9007199254740992.0

struct json_opts {
	int max_depth;    /* the outermost value is depth 1; 0 means 64 */
	int allow_empty;  /* 1: empty or all-whitespace text gives *out = NULL */
	int wrappers;     /* levels around the value that max_depth is about,
			   * which do not count: 1 for batch's request line,
			   * whose page sits one level down */
};

/*
 * Parses text[0..len) as exactly one JSON value.  Rejects: invalid UTF-8
 * (checked first, over the whole text), syntax errors, trailing garbage,
 * duplicate keys in any object, \u0000, lone surrogate escapes, integer
 * literals (no fraction, no exponent) beyond +-2^53, any number whose
 * value is not finite, nesting deeper than max_depth.
 *
 * On success returns FK_OK and *out is a new tree (caller cJSON_Delete()s).
 * On failure returns FK_EDATA, *out is NULL, and err holds one line:
 *   "line L, column C: PATH: problem"    (PATH omitted at the top level)
 * where PATH names the value being read, e.g. entries[3]._timestamp.
 */
int json_parse(const char *text, size_t len, const struct json_opts *opts,
	       cJSON **out, struct fk_err *err);

/* Appends the compact form of v to b (any cJSON type but raw/invalid). */
void json_write(struct buf *b, const cJSON *v);

/* Appends s as a JSON string literal with quotes. */
void json_write_string(struct buf *b, const char *s);

/* Appends a number: integers below 1e21 in plain decimal, others in the
 * shortest of %.15g/%.16g/%.17g that reads back to the same double. */
void json_write_number(struct buf *b, double d);

/* SPEC §4.1 equality: same types, numbers equal as doubles, strings
 * byte-equal, arrays in order, objects with equal key sets (order ignored).
 * Returns 1 if equal. */
int json_equal(const cJSON *a, const cJSON *b);

/* Appends the path of a child to a path being built, e.g. "entries" + 3 ->
 * "entries[3]", "entries[3]" + "title" -> "entries[3].title".  Keys that are
 * not plain identifiers are written as ["key"] with JSON escaping. */
void json_path_key(struct buf *path, const char *key);
void json_path_index(struct buf *path, size_t index);

#endif
