/*
 * services.h - the services file (SPEC §3.1): which pager serves which
 * namespace, and the optional settings.
 *
 * Two syntaxes are read by one parser: flok's config/services.rb form
 * (`service_instance :vm, :vm, {...}`, the Ruby subset flok uses) and JSON
 * (`{"pagers": [...]}` or `{"vm": {"pagers": [...]}}`).  Values of both
 * become cJSON trees; symbols become strings, nil becomes null.
 */
#ifndef FLOKVM_SERVICES_H
#define FLOKVM_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "status.h"

struct svc_pager {
	char *name;      /* unique */
	char *ns;        /* unique: one pager per namespace */
	char *type;      /* options.type, else the name without pg_ and digits */
	bool readonly;   /* options.readonly == true */
	cJSON *options;  /* owned; always an object (empty if none given) */
	int line;        /* line of the pager's entry in the file, 0 built-in */
};

struct services {
	char *path;      /* file it came from, NULL for the built-in default */
	char *dir;       /* that file's folder (absolute), NULL for the default */
	struct svc_pager *pagers;
	size_t npagers;
	cJSON *settings; /* owned; the "settings" object or NULL */
	int settings_line;
};

/* Reports whether a pager type exists; services_parse() rejects others and
 * its message lists the known ones (known_list, e.g. "mem, spec"). */
typedef bool (*svc_type_known_fn)(const char *type);

/*
 * Parses a services file held in text[0..len).  path is used in messages
 * ("services.rb:12: duplicate namespace \"user\"") and to fill s->path and
 * s->dir.  Returns FK_OK, or FK_EDATA with err naming file and line.
 * On failure s is left empty (nothing to release).
 */
int services_parse(const char *text, size_t len, const char *path,
		   svc_type_known_fn known, const char *known_list,
		   struct services *s, struct fk_err *err);

/* Reads and parses a file: FK_ENOINPUT if it cannot be opened/read. */
int services_load(const char *path, svc_type_known_fn known,
		  const char *known_list, struct services *s,
		  struct fk_err *err);

/*
 * Finds the file by SPEC §3.1's order: explicit (--services), then
 * $FLOKVM_SERVICES, then $XDG_CONFIG_HOME/flokvm/services.rb and .json
 * (XDG default ~/.config).  An explicit or $FLOKVM_SERVICES file that is
 * missing is FK_ENOINPUT; with no file at all the built-in default (one
 * mem pager "mem0" on namespace "user") is used.
 */
int services_find_and_load(const char *explicit_path, svc_type_known_fn known,
			   const char *known_list, struct services *s,
			   struct fk_err *err);

void services_default(struct services *s);
void services_release(struct services *s);

/* The type a pager name implies: "pg_mem2" -> "mem".  Writes into buf. */
const char *services_type_from_name(const char *name, char *buf, size_t n);

#endif
