/*
 * spec.c - the `spec` pager, for tests: behaves like `mem` and records
 * every call as a JSON line in options.log (SPEC §3.2).
 *
 * Lines are appended with O_APPEND and one write() each, so several
 * processes can share one log without tearing lines.  Without a log
 * option the calls are simply not recorded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "pager.h"

struct spec_pager {
	struct pager base; /* must be first */
	int fd;            /* the log, or -1 */
};

static struct spec_pager *spec_of(struct pager *p)
{
	return p->ops == &spec_pager_ops ? (struct spec_pager *)p : NULL;
}

static int spec_append(struct spec_pager *sp, struct buf *line,
		       struct fk_err *err)
{
	ssize_t n;

	buf_addc(line, '\n');
	n = write(sp->fd, line->p, line->len);
	if (n < 0 || (size_t)n != line->len)
		return fk_fail(err, FK_ERUNTIME, "cannot append to the spec log: %s",
			       n < 0 ? strerror(errno) : "short write");
	return FK_OK;
}

/* Records {"call":C,"ns":..,"key":..,"hash":H}. */
static int spec_log(struct pager *p, const char *call, const char *key,
		    const char *hash, struct fk_err *err)
{
	struct spec_pager *sp = spec_of(p);
	struct buf line = {0};
	int rc;

	if (!sp || sp->fd < 0)
		return FK_OK;
	buf_adds(&line, "{\"call\":");
	json_write_string(&line, call);
	buf_adds(&line, ",\"ns\":");
	json_write_string(&line, p->conf->ns);
	buf_adds(&line, ",\"key\":");
	if (key)
		json_write_string(&line, key);
	else
		buf_adds(&line, "null");
	buf_adds(&line, ",\"hash\":");
	if (hash)
		json_write_string(&line, hash);
	else
		buf_adds(&line, "null");
	buf_addc(&line, '}');
	rc = spec_append(sp, &line, err);
	buf_release(&line);
	return rc;
}

static int spec_init(struct pager *p, struct fk_err *err)
{
	struct spec_pager *sp = spec_of(p);
	const cJSON *log = cJSON_GetObjectItemCaseSensitive(p->conf->options, "log");
	struct buf path = {0}, line = {0};
	int rc;

	sp->fd = -1;
	if (!log)
		return FK_OK;
	if (!cJSON_IsString(log) || !log->valuestring[0])
		return fk_fail(err, FK_EDATA, "options.log: expected a file name");
	if (log->valuestring[0] != '/' && p->dir)
		buf_printf(&path, "%s/%s", p->dir, log->valuestring);
	else
		buf_adds(&path, log->valuestring);
	sp->fd = open(path.p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (sp->fd < 0) {
		rc = fk_fail(err, FK_ERUNTIME, "cannot open spec log '%s': %s",
			     path.p, strerror(errno));
		buf_release(&path);
		return rc;
	}
	buf_release(&path);
	buf_adds(&line, "{\"call\":\"init\",\"ns\":");
	json_write_string(&line, p->conf->ns);
	buf_adds(&line, ",\"options\":");
	json_write(&line, p->conf->options);
	buf_addc(&line, '}');
	rc = spec_append(sp, &line, err);
	buf_release(&line);
	return rc;
}

static int spec_read(struct pager *p, const char *key, const char *cached,
		     const char *hash, struct pager_answer *ans,
		     struct fk_err *err)
{
	(void)cached;
	ans->verdict = PAGER_NOT_MODIFIED;
	return spec_log(p, "read", key, hash, err);
}

static int spec_watch(struct pager *p, const char *key, const char *hash,
		      struct fk_err *err)
{
	return spec_log(p, "watch", key, hash, err);
}

static int spec_unwatch(struct pager *p, const char *key, const char *hash,
			struct fk_err *err)
{
	return spec_log(p, "unwatch", key, hash, err);
}

static int spec_write(struct pager *p, const char *key, const cJSON *page,
		      const char *hash, struct fk_err *err)
{
	(void)page;
	return spec_log(p, "write", key, hash, err);
}

static int spec_invalidate(struct pager *p, const char *key, const char *hash,
			   struct fk_err *err)
{
	return spec_log(p, "invalidate", key, hash, err);
}

static void spec_close(struct pager *p)
{
	struct spec_pager *sp = spec_of(p);

	if (sp && sp->fd >= 0)
		close(sp->fd);
}

const struct pager_ops spec_pager_ops = {
	.type = "spec",
	.size = sizeof(struct spec_pager),
	.pushes = false,
	.init = spec_init,
	.read = spec_read,
	.watch = spec_watch,
	.unwatch = spec_unwatch,
	.write = spec_write,
	.invalidate = spec_invalidate,
	.close = spec_close,
};
