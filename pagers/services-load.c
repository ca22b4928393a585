/*
 * services-load.c - finding and reading the services file (SPEC §3.1):
 * --services, then $FLOKVM_SERVICES, then the XDG config folder, and the
 * built-in default when there is no file.  services.c parses the text.
 */
#if !defined(_GNU_SOURCE) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700 /* strdup */
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services.h"

#define MAX_FILE_BYTES ((size_t)16 << 20)

/* Reads all of path into *text (caller frees).  *open_errno is the errno
 * of a failed open, else 0, so that the XDG search can skip a missing file
 * yet report one it cannot read. */
static int slurp(const char *path, char **text, size_t *len, int *open_errno,
		 struct fk_err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0, got;
	int rc = FK_OK, e = 0;

	*open_errno = 0;
	if (!f) {
		*open_errno = errno;
		return fk_fail(err, FK_ENOINPUT,
			       "cannot open services file '%s': %s", path,
			       strerror(errno));
	}
	for (;;) {
		if (n > MAX_FILE_BYTES) { /* /dev/zero, say */
			rc = fk_fail(err, FK_EDATA,
				     "services file '%s' is larger than 16 MiB",
				     path);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = fk_fail(err, FK_ERUNTIME,
					     "%s: out of memory", path);
				break;
			}
			buf = nb;
		}
		errno = 0;
		got = fread(buf + n, 1, cap - n, f);
		e = errno;
		if (got == 0)
			break;
		n += got;
	}
	if (!rc && ferror(f))
		rc = fk_fail(err, FK_ENOINPUT,
			     "cannot read services file '%s': %s", path,
			     strerror(e ? e : EIO));
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	*text = buf;
	*len = n;
	return FK_OK;
}

static int load(const char *path, svc_type_known_fn known,
		const char *known_list, struct services *s, int *open_errno,
		struct fk_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = slurp(path, &text, &len, open_errno, err);
	if (rc)
		return rc;
	rc = services_parse(text, len, path, known, known_list, s, err);
	free(text);
	return rc;
}

int services_load(const char *path, svc_type_known_fn known,
		  const char *known_list, struct services *s,
		  struct fk_err *err)
{
	int open_errno;

	return load(path, known, known_list, s, &open_errno, err);
}

/* The XDG config folder, absolute (caller frees), or NULL when neither
 * $XDG_CONFIG_HOME nor $HOME is an absolute path: a relative one would
 * mean the current directory, which is never searched. */
static char *config_home(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *d;

	if (xdg && xdg[0] == '/')
		return strdup(xdg);
	if (!home || home[0] != '/')
		return NULL;
	d = malloc(strlen(home) + sizeof("/.config"));
	if (d)
		sprintf(d, "%s/.config", home);
	return d;
}

int services_find_and_load(const char *explicit_path, svc_type_known_fn known,
			   const char *known_list, struct services *s,
			   struct fk_err *err)
{
	static const char *const names[] = { "services.rb", "services.json" };
	const char *env = getenv("FLOKVM_SERVICES");
	char *base, *path;
	size_t i;
	int rc, open_errno;

	memset(s, 0, sizeof(*s));
	if (explicit_path)
		return services_load(explicit_path, known, known_list, s, err);
	if (env && *env)
		return services_load(env, known, known_list, s, err);
	base = config_home();
	for (i = 0; base && i < sizeof(names) / sizeof(names[0]); i++) {
		path = malloc(strlen(base) + strlen(names[i]) +
			      sizeof("/flokvm/"));
		if (!path) {
			free(base);
			return fk_fail(err, FK_ERUNTIME, "out of memory");
		}
		sprintf(path, "%s/flokvm/%s", base, names[i]);
		rc = load(path, known, known_list, s, &open_errno, err);
		free(path);
		if (rc == FK_ENOINPUT &&
		    (open_errno == ENOENT || open_errno == ENOTDIR))
			continue;
		free(base);
		return rc;
	}
	free(base);
	services_default(s);
	return FK_OK;
}

void services_default(struct services *s)
{
	struct svc_pager *pg;

	/* Out of memory leaves no pagers rather than a half-built one. */
	memset(s, 0, sizeof(*s));
	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return;
	pg->name = strdup("mem0");
	pg->ns = strdup("user");
	pg->type = strdup("mem");
	pg->options = cJSON_CreateObject();
	s->pagers = pg;
	s->npagers = 1;
	if (!pg->name || !pg->ns || !pg->type || !pg->options)
		services_release(s);
}

