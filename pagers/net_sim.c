/*
 * net_sim.c - the `net_sim` pager: a slow, read-only network source
 * simulated from a fixture file (SPEC §3.2).
 *
 * init reads options.pages once per process: either JSON lines (one page
 * object per line, blank lines allowed) or one JSON array of page objects,
 * each with a string "_uuid", the key it serves.  A read waits
 * options.delay_ms (default 2000) and then answers a copy of the fixture
 * page, or "gone" when the fixture has none; the vm validates and stores
 * it like any other pager's copy, so an unchanged fixture causes no
 * notification.  Writes are refused: this is the seed's "disable write
 * semantics".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "pager.h"

#define NET_SIM_DEFAULT_DELAY_MS 2000
#define NET_SIM_MAX_DELAY_MS 2147483647.0
/* Guards against /dev/zero and friends; a fixture is test data. */
#define NET_SIM_MAX_FILE_BYTES ((size_t)256 << 20)

struct net_sim_pager {
	struct pager base; /* must be first */
	cJSON *pages;      /* an array of the fixture's page objects, owned */
	long delay_ms;
};

static struct net_sim_pager *net_sim_of(struct pager *p)
{
	return p->ops == &net_sim_pager_ops ? (struct net_sim_pager *)p : NULL;
}

/* Reads all of path (already resolved against the services file's folder,
 * which is what messages show) into b. */
static int slurp(const char *path, struct buf *b, struct fk_err *err)
{
	FILE *f = fopen(path, "rb");
	size_t got;
	int e = 0;

	if (!f)
		return fk_fail(err, FK_EDATA, "options.pages: cannot read '%s': %s",
			       path, strerror(errno));
	do {
		if (b->len > NET_SIM_MAX_FILE_BYTES) {
			fclose(f);
			return fk_fail(err, FK_EDATA,
				       "options.pages: '%s' is larger than 256 MiB",
				       path);
		}
		buf_grow(b, 65536);
		errno = 0;
		got = fread(b->p + b->len, 1, b->cap - b->len - 1, f);
		e = errno;
		b->len += got;
		b->p[b->len] = '\0';
	} while (got > 0);
	if (ferror(f)) {
		fclose(f);
		return fk_fail(err, FK_EDATA, "options.pages: cannot read '%s': %s",
			       path, strerror(e ? e : EIO));
	}
	fclose(f);
	return FK_OK;
}

/*
 * Rewrites json_parse's message in err ("line L, column C: problem") to
 * name the file and the line within it: the parsed text started on line
 * first of path.
 */
static int parse_fail(struct fk_err *err, const char *path, int first)
{
	char msg[sizeof(err->msg)];
	int line = 1, used = 0;

	memcpy(msg, err->msg, sizeof(msg));
	if (sscanf(msg, "line %d, %n", &line, &used) < 1 || used == 0)
		line = 1, used = 0;
	return fk_fail(err, FK_EDATA, "options.pages: '%s' line %d: %s", path,
		       first + line - 1, msg + used);
}

/* Checks that page can serve a key and is the only one serving it.
 * where names it in messages ("line 3", "[2]"). */
static int add_page(cJSON *pages, cJSON *page, const char *path,
		    const char *where, struct fk_err *err)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(page, "_uuid");
	const cJSON *other;
	int rc;

	if (!cJSON_IsObject(page) || !cJSON_IsString(id)) {
		rc = fk_fail(err, FK_EDATA,
			     "options.pages: '%s' %s: expected a page object with a string \"_uuid\"",
			     path, where);
		cJSON_Delete(page);
		return rc;
	}
	cJSON_ArrayForEach(other, pages) {
		const cJSON *oid = cJSON_GetObjectItemCaseSensitive(other, "_uuid");

		if (!strcmp(oid->valuestring, id->valuestring)) {
			rc = fk_fail(err, FK_EDATA,
				     "options.pages: '%s' %s: duplicate page \"%s\"",
				     path, where, id->valuestring);
			cJSON_Delete(page);
			return rc;
		}
	}
	cJSON_AddItemToArray(pages, page);
	return FK_OK;
}

/* One JSON array of pages.  The array is one level more than a page, so
 * the depth limit grows by one. */
static int parse_array(const struct buf *text, const char *path,
		       cJSON *pages, struct fk_err *err)
{
	struct json_opts opts = {.max_depth = 65, .allow_empty = 0};
	char where[32];
	cJSON *all, *page;
	int i = 0, rc = FK_OK;

	if (json_parse(text->p, text->len, &opts, &all, err))
		return parse_fail(err, path, 1);
	if (!cJSON_IsArray(all)) { /* defensive: the text starts with [ */
		cJSON_Delete(all);
		return fk_fail(err, FK_EDATA, "options.pages: '%s': expected an array of pages",
			       path);
	}
	while (!rc && (page = cJSON_DetachItemFromArray(all, 0))) {
		snprintf(where, sizeof(where), "[%d]", i++);
		rc = add_page(pages, page, path, where, err);
	}
	cJSON_Delete(all);
	return rc;
}

/* JSON lines: one page per line, blank lines skipped. */
static int parse_lines(const struct buf *text, const char *path,
		       cJSON *pages, struct fk_err *err)
{
	struct json_opts opts = {.max_depth = 0, .allow_empty = 1};
	const char *s = text->p, *end = text->p + text->len, *nl;
	char where[32];
	cJSON *page;
	int line = 0, rc;

	for (; s < end; s = nl + 1) {
		line++;
		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			nl = end;
		if (json_parse(s, (size_t)(nl - s), &opts, &page, err))
			return parse_fail(err, path, line);
		if (!page)
			continue;
		snprintf(where, sizeof(where), "line %d", line);
		rc = add_page(pages, page, path, where, err);
		if (rc)
			return rc;
	}
	return FK_OK;
}

static int parse_delay(const cJSON *opt, long *delay_ms, struct fk_err *err)
{
	*delay_ms = NET_SIM_DEFAULT_DELAY_MS;
	if (!opt)
		return FK_OK;
	if (!cJSON_IsNumber(opt) || opt->valuedouble < 0 ||
	    opt->valuedouble > NET_SIM_MAX_DELAY_MS ||
	    opt->valuedouble != (double)(long)opt->valuedouble)
		return fk_fail(err, FK_EDATA,
			       "options.delay_ms: expected an integer from 0 to 2147483647 (milliseconds)");
	*delay_ms = (long)opt->valuedouble;
	return FK_OK;
}

static int net_sim_init(struct pager *p, struct fk_err *err)
{
	struct net_sim_pager *np = net_sim_of(p);
	const cJSON *opt = cJSON_GetObjectItemCaseSensitive(p->conf->options, "pages");
	struct buf path = {0}, text = {0};
	const char *s;
	int rc;

	np->pages = NULL;
	if (!cJSON_IsString(opt) || !opt->valuestring[0])
		return fk_fail(err, FK_EDATA,
			       "options.pages: expected the name of a fixture file of pages");
	rc = parse_delay(cJSON_GetObjectItemCaseSensitive(p->conf->options, "delay_ms"),
			 &np->delay_ms, err);
	if (rc)
		return rc;
	if (opt->valuestring[0] != '/' && p->dir)
		buf_printf(&path, "%s/%s", p->dir, opt->valuestring);
	else
		buf_adds(&path, opt->valuestring);
	rc = slurp(path.p, &text, err);
	if (!rc) {
		np->pages = cJSON_CreateArray();
		if (!np->pages)
			abort(); /* as buf.c does: no sensible way on */
		for (s = text.p; *s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'; s++)
			;
		if (*s == '[')
			rc = parse_array(&text, path.p, np->pages, err);
		else
			rc = parse_lines(&text, path.p, np->pages, err);
	}
	if (rc) {
		cJSON_Delete(np->pages);
		np->pages = NULL;
	}
	buf_release(&text);
	buf_release(&path);
	return rc;
}

/*
 * Waits delay_ms.  A signal cuts the wait short on purpose: the delay only
 * simulates a slow network, and a signal usually means the process is
 * being asked to stop (watch notes SIGINT/SIGTERM and must exit promptly),
 * so the read then answers at once.
 */
static void net_sim_delay(long delay_ms)
{
	struct timespec ts = {
		.tv_sec = delay_ms / 1000,
		.tv_nsec = (delay_ms % 1000) * 1000000L,
	};

	(void)nanosleep(&ts, NULL);
}

static int net_sim_read(struct pager *p, const char *key, const char *cached,
			const char *hash, struct pager_answer *ans,
			struct fk_err *err)
{
	struct net_sim_pager *np = net_sim_of(p);
	const cJSON *page;

	(void)cached, (void)hash;
	if (!np || !np->pages)
		return fk_fail(err, FK_ERUNTIME, "net_sim pager \"%s\" is not initialised",
			       p->conf->name);
	net_sim_delay(np->delay_ms);
	cJSON_ArrayForEach(page, np->pages) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(page, "_uuid");

		if (strcmp(id->valuestring, key))
			continue;
		ans->page = cJSON_Duplicate(page, 1);
		if (!ans->page)
			return fk_fail(err, FK_ERUNTIME, "out of memory copying page \"%s\"",
				       key);
		ans->verdict = PAGER_PAGE;
		return FK_OK;
	}
	ans->verdict = PAGER_GONE;
	return FK_OK;
}

static int net_sim_write(struct pager *p, const char *key, const cJSON *page,
			 const char *hash, struct fk_err *err)
{
	(void)key, (void)page, (void)hash;
	return fk_fail(err, FK_EREFUSED,
		       "namespace \"%s\" is served by net_sim pager \"%s\", which does not accept writes (a network source)",
		       p->conf->ns, p->conf->name);
}

static void net_sim_close(struct pager *p)
{
	struct net_sim_pager *np = net_sim_of(p);

	if (np) {
		cJSON_Delete(np->pages);
		np->pages = NULL;
	}
}

const struct pager_ops net_sim_pager_ops = {
	.type = "net_sim",
	.size = sizeof(struct net_sim_pager),
	.pushes = false,
	.init = net_sim_init,
	.read = net_sim_read,
	.write = net_sim_write,
	.close = net_sim_close,
	/* watch, unwatch and invalidate have nothing to do, and there is
	 * nothing to push: NULL.  `flokvm sync` refreshes cached pages with
	 * read, as for any readable pager. */
};
