/*
 * settings.c - defaults and parsing of the tunables (see settings.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "settings.h"

const char *const settings_names[] = {
	"max_page_bytes", "max_depth",   "max_key_bytes", "busy_timeout_ms",
	"synchronous",    "log_max_rows", "batch_group",   NULL,
};

void settings_defaults(struct settings *s)
{
	s->max_page_bytes = 16u << 20;
	s->max_depth = 64;
	s->max_key_bytes = 1024;
	s->busy_timeout_ms = 5000;
	s->synchronous = 2;
	s->log_max_rows = 100000;
	s->batch_group = 1000;
}

/* Reads a decimal integer in [min, max]; the whole text must be digits. */
static int parse_long(const char *name, const char *v, long min, long max,
		      long *out, struct fk_err *err)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	/* strtol alone would also take "+5" and " 5". */
	if (!*v || strspn(v, "0123456789") != strlen(v) || *end || errno ||
	    n < min || n > max)
		return fk_fail(err, FK_EDATA,
			       "setting %s: '%s' is not an integer from %ld to %ld",
			       name, v, min, max);
	*out = n;
	return FK_OK;
}

int settings_set(struct settings *s, const char *name, const char *value,
		 struct fk_err *err)
{
	static const char *const sync_modes[] = {"off", "normal", "full", "extra"};
	long n;
	int rc;

	if (!strcmp(name, "synchronous")) {
		for (int i = 0; i < 4; i++)
			if (!strcasecmp(value, sync_modes[i])) {
				s->synchronous = i;
				return FK_OK;
			}
		return fk_fail(err, FK_EDATA,
			       "setting synchronous: '%s' is not one of off, normal, full, extra",
			       value);
	}
	if (!strcmp(name, "max_page_bytes")) {
		rc = parse_long(name, value, 2, 1L << 30, &n, err);
		if (!rc)
			s->max_page_bytes = (size_t)n;
	} else if (!strcmp(name, "max_depth")) {
		rc = parse_long(name, value, 3, 10000, &n, err);
		if (!rc)
			s->max_depth = (int)n;
	} else if (!strcmp(name, "max_key_bytes")) {
		rc = parse_long(name, value, 1, 1L << 20, &n, err);
		if (!rc)
			s->max_key_bytes = (size_t)n;
	} else if (!strcmp(name, "busy_timeout_ms")) {
		rc = parse_long(name, value, 0, 3600000, &n, err);
		if (!rc)
			s->busy_timeout_ms = (int)n;
	} else if (!strcmp(name, "log_max_rows")) {
		rc = parse_long(name, value, 1, 1L << 40, &n, err);
		if (!rc)
			s->log_max_rows = n;
	} else if (!strcmp(name, "batch_group")) {
		rc = parse_long(name, value, 1, 1L << 30, &n, err);
		if (!rc)
			s->batch_group = n;
	} else {
		return fk_fail(err, FK_EDATA, "unknown setting '%s'", name);
	}
	return rc;
}

int settings_from_env(struct settings *s, struct fk_err *err)
{
	char var[64];

	for (int i = 0; settings_names[i]; i++) {
		const char *v;
		size_t j;

		strcpy(var, "FLOKVM_");
		for (j = 0; settings_names[i][j]; j++)
			var[7 + j] = (char)toupper((unsigned char)settings_names[i][j]);
		var[7 + j] = '\0';
		v = getenv(var);
		/* Empty means unset, as for FLOKVM_DB and FLOKVM_SERVICES. */
		if (v && *v && settings_set(s, settings_names[i], v, err))
			return fk_prefix(err, FK_EDATA, "environment %s", var);
	}
	return FK_OK;
}
