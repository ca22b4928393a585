/*
 * settings.h - the tunables of SPEC §2.3, with their defaults.
 *
 * Each comes from the environment (FLOKVM_NAME) or the services file's
 * "settings" object (lower-case name without the prefix); the environment
 * wins.  The man page lists them under ENVIRONMENT.
 */
#ifndef FLOKVM_SETTINGS_H
#define FLOKVM_SETTINGS_H

#include <stddef.h>

#include "status.h"

struct settings {
	size_t max_page_bytes; /* FLOKVM_MAX_PAGE_BYTES, 16 MiB */
	int max_depth;         /* FLOKVM_MAX_DEPTH, 64 */
	size_t max_key_bytes;  /* FLOKVM_MAX_KEY_BYTES, 1024 */
	int busy_timeout_ms;   /* FLOKVM_BUSY_TIMEOUT_MS, 5000 */
	int synchronous;       /* FLOKVM_SYNCHRONOUS: 0 off, 1 normal, 2 full, 3 extra */
	long log_max_rows;     /* FLOKVM_LOG_MAX_ROWS, 100000 */
	long batch_group;      /* FLOKVM_BATCH_GROUP, 1000 */
};

void settings_defaults(struct settings *s);

/* Sets one setting by its lower-case name ("busy_timeout_ms") from text.
 * Returns FK_OK, or FK_EDATA with err naming the setting and the value. */
int settings_set(struct settings *s, const char *name, const char *value,
		 struct fk_err *err);

/* Applies every FLOKVM_<NAME> variable that is set; FK_EDATA on a bad one. */
int settings_from_env(struct settings *s, struct fk_err *err);

/* The lower-case names, NULL-terminated, for messages and the man page. */
extern const char *const settings_names[];

#endif
