/*
 * exec.c - the `exec` pager: each operation runs an external command,
 * `COMMAND OP NS KEY` (SPEC §8), so any real source -- curl, ssh, git, a
 * script -- can be a namespace's authority.
 *
 * The protocol lives here; starting, feeding and stopping the program is
 * proc.c's job.  Output is parsed only as far as telling the verdicts
 * apart: the vm validates a returned page like any pager's.  Writes
 * commit locally and are pushed later through sync (§7), so write only
 * says yes.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "pager.h"
#include "page.h"
#include "proc.h"

#define EXEC_DEFAULT_TIMEOUT_MS 10000
/* A sync answer wraps the page in {"page":...,"changes_id":"..."}: room
 * for that envelope beyond the page limit. */
#define EXEC_SYNC_ENVELOPE 4096

struct exec_pager {
	struct pager base; /* must be first */
	char **command;    /* options.command, argv[0] resolved; owned */
	size_t argc;
	int timeout_ms;
};

static struct exec_pager *exec_of(struct pager *p)
{
	assert(p->ops == &exec_pager_ops);
	return (struct exec_pager *)p;
}

static int exec_init(struct pager *p, struct fk_err *err)
{
	static const char bad_command[] =
		"options.command: expected an array of strings (argv, no shell)";
	struct exec_pager *ep = exec_of(p);
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(p->conf->options, "command");
	const cJSON *arg;
	struct buf path = {0};
	size_t i = 0;

	if (!cJSON_IsArray(cmd) || !cmd->child || !cJSON_IsString(cmd->child) ||
	    !cmd->child->valuestring[0])
		return fk_fail(err, FK_EDATA, "%s", bad_command);
	cJSON_ArrayForEach(arg, cmd)
		if (!cJSON_IsString(arg))
			return fk_fail(err, FK_EDATA, "%s", bad_command);
	if (pager_opt_timeout(p, EXEC_DEFAULT_TIMEOUT_MS, &ep->timeout_ms, err))
		return FK_EDATA;
	ep->argc = (size_t)cJSON_GetArraySize(cmd);
	ep->command = calloc(ep->argc + 1, sizeof(*ep->command));
	if (!ep->command)
		abort();
	cJSON_ArrayForEach(arg, cmd)
		ep->command[i++] = buf_strdup(arg->valuestring);
	/* "./pager" means next to the services file, wherever flokvm was
	 * started; a bare name is left to execvp()'s PATH search.  Without
	 * a services folder the child inherits our directory, so a relative
	 * path already means the current one. */
	if (strchr(ep->command[0], '/') && ep->command[0][0] != '/' && p->dir) {
		buf_printf(&path, "%s/%s", p->dir, ep->command[0] +
			   (strncmp(ep->command[0], "./", 2) ? 0 : 2));
		free(ep->command[0]);
		ep->command[0] = buf_detach(&path);
	}
	return FK_OK;
}

/*
 * Runs COMMAND OP NS KEY (KEY "" for a whole namespace) in the services
 * folder with in[0..in_len) as stdin (in NULL: /dev/null), keeping at most
 * max_out bytes of stdout.  Fills res (caller proc_result_release()s);
 * FK_ERUNTIME with err filled if the command could not be started.
 */
static int exec_run(struct exec_pager *ep, const char *op, const char *key,
		    const char *hash, const char *in, size_t in_len,
		    size_t max_out, struct proc_result *res, struct fk_err *err)
{
	struct pager *p = &ep->base;
	struct buf env[4] = {{0}};
	char *envp[5];
	char **argv;
	struct proc_spec spec;
	struct fk_err perr;
	int rc, i;

	argv = calloc(ep->argc + 4, sizeof(*argv));
	if (!argv)
		abort();
	memcpy(argv, ep->command, ep->argc * sizeof(*argv));
	/* execvp() takes char *const[] for history's sake; nothing writes. */
	argv[ep->argc] = (char *)op;
	argv[ep->argc + 1] = p->conf->ns;
	argv[ep->argc + 2] = (char *)(key ? key : "");
	buf_printf(&env[0], "FLOKVM_OP=%s", op);
	buf_printf(&env[1], "FLOKVM_NS=%s", p->conf->ns);
	buf_printf(&env[2], "FLOKVM_KEY=%s", key ? key : "");
	buf_printf(&env[3], "FLOKVM_HASH=%s", hash ? hash : "");
	for (i = 0; i < 4; i++)
		envp[i] = env[i].p;
	envp[4] = NULL;
	spec = (struct proc_spec){
		.argv = argv,
		.cwd = p->dir,
		.env_extra = envp,
		.in = in,
		.in_len = in_len,
		.timeout_ms = ep->timeout_ms,
		.max_out = max_out,
	};
	rc = proc_run(&spec, res, &perr);
	if (rc)
		pager_fail(&ep->base, op, key, rc, err, "%s", perr.msg);
	for (i = 0; i < 4; i++)
		buf_release(&env[i]);
	free(argv);
	return rc;
}

/* The story of a run that failed (status: what to return): how it ended,
 * then what it said on stderr. */
static int run_failed(const struct exec_pager *ep, const char *op,
		      const char *key, const struct proc_result *res,
		      int status, struct fk_err *err)
{
	struct buf m = {0};
	int rc;

	if (res->timed_out)
		buf_printf(&m, "timed out after %d ms", ep->timeout_ms);
	else if (status != FK_ERUNTIME)
		buf_printf(&m, "rejected the changes (exit status %d)", res->exit_status);
	else
		buf_printf(&m, "exited with status %d", res->exit_status);
	if (res->err_text[0]) {
		buf_adds(&m, ": ");
		buf_add_one_line(&m, res->err_text);
	}
	rc = pager_fail(&ep->base, op, key, status, err, "%s", m.p);
	buf_release(&m);
	return rc;
}

/* A run that exited 0 in time succeeded, and its stderr is passed on to
 * ours as SPEC §8 asks: a script's warnings must stay visible, and the vm
 * has no channel for them.  Anything else is FK_ERUNTIME. */
static int run_ok(const struct exec_pager *ep, const char *op,
		  const char *key, const struct proc_result *res,
		  struct fk_err *err)
{
	struct buf line = {0};
	size_t off = 0;
	ssize_t n;

	if (res->timed_out || res->exit_status != 0)
		return run_failed(ep, op, key, res, FK_ERUNTIME, err);
	if (!res->err_text[0])
		return FK_OK;
	buf_adds(&line, res->err_text);
	buf_addc(&line, '\n');
	while (off < line.len) {
		n = write(STDERR_FILENO, line.p + off, line.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* nowhere to show it: not the pager's failure */
		off += (size_t)n;
	}
	buf_release(&line);
	return FK_OK;
}

static int exec_read(struct pager *p, const char *key, const char *cached,
		     const char *hash, struct pager_answer *ans,
		     struct fk_err *err)
{
	struct exec_pager *ep = exec_of(p);
	/* The vm checks the configured depth; this parse must not be the
	 * stricter of the two. */
	struct json_opts o = {.max_depth = PAGE_STORED_MAX_DEPTH, .allow_empty = 1};
	const char *in = cached ? cached : "{}";
	struct proc_result res;
	struct fk_err perr;
	cJSON *page = NULL;
	int rc;

	rc = exec_run(ep, "read", key, hash, in, strlen(in), p->max_page_bytes,
		      &res, err);
	if (!rc)
		rc = run_ok(ep, "read", key, &res, err);
	if (!rc && res.out_overflow)
		rc = pager_fail(&ep->base, "read", key, FK_ERUNTIME, err,
			       "printed more than %zu bytes", p->max_page_bytes);
	if (!rc && json_parse(res.out, res.out_len, &o, &page, &perr))
		rc = pager_fail(&ep->base, "read", key, FK_ERUNTIME, err,
			       "output is not JSON: %s", perr.msg);
	if (!rc && page && !cJSON_IsObject(page))
		rc = pager_fail(&ep->base, "read", key, FK_ERUNTIME, err,
			       "output is not a JSON object");
	if (!rc) {
		/* Nothing: not modified; {}: the authority has no such page. */
		ans->verdict = !page ? PAGER_NOT_MODIFIED :
			       page->child ? PAGER_PAGE : PAGER_GONE;
		if (ans->verdict == PAGER_PAGE) {
			ans->page = page;
			page = NULL;
		}
	}
	cJSON_Delete(page);
	proc_result_release(&res);
	return rc;
}

/* Takes a sync answer {"page": {...}, "changes_id": "..."} apart into
 * ans.  Unknown members are refused rather than ignored: a misspelt
 * changes_id would leave the changes queued and pushed forever. */
static int sync_answer(const struct exec_pager *ep, const char *key,
		       cJSON *reply, struct pager_answer *ans,
		       struct fk_err *err)
{
	cJSON *page = NULL, *id = NULL, *m;
	int n = 0;

	if (cJSON_IsObject(reply)) {
		page = cJSON_GetObjectItemCaseSensitive(reply, "page");
		id = cJSON_GetObjectItemCaseSensitive(reply, "changes_id");
		cJSON_ArrayForEach(m, reply)
			n++;
	}
	if (!cJSON_IsObject(page) || (id && !cJSON_IsNull(id) && !cJSON_IsString(id)) ||
	    n != 1 + (id != NULL))
		return pager_fail(&ep->base, "sync", key, FK_ERUNTIME, err,
				 "output is not {\"page\":..., \"changes_id\":...}");
	ans->verdict = PAGER_PAGE;
	ans->changes_id = cJSON_IsString(id) ? buf_strdup(id->valuestring) : NULL;
	ans->page = cJSON_DetachItemViaPointer(reply, page);
	return FK_OK;
}

static int exec_sync(struct pager *p, const char *key, const cJSON *push,
		     struct pager_answer *ans, struct fk_err *err)
{
	struct exec_pager *ep = exec_of(p);
	struct json_opts o = {.max_depth = PAGE_STORED_MAX_DEPTH + 1, .allow_empty = 1};
	size_t max = p->max_page_bytes + EXEC_SYNC_ENVELOPE;
	struct proc_result res;
	struct buf in = {0};
	struct fk_err perr;
	cJSON *reply = NULL;
	int rc;

	json_write(&in, push);
	rc = exec_run(ep, "sync", key, NULL, in.p, in.len, max, &res, err);
	buf_release(&in);
	/* 65 and 69 (sysexits' DATAERR, UNAVAILABLE, and ours): the
	 * authority rejected the changes, and they are dropped (§7). */
	if (!rc && !res.timed_out &&
	    (res.exit_status == FK_EDATA || res.exit_status == FK_EREFUSED))
		rc = run_failed(ep, "sync", key, &res, res.exit_status, err);
	if (!rc)
		rc = run_ok(ep, "sync", key, &res, err);
	if (!rc && res.out_overflow)
		rc = pager_fail(&ep->base, "sync", key, FK_ERUNTIME, err,
			       "printed more than %zu bytes", max);
	if (!rc && json_parse(res.out, res.out_len, &o, &reply, &perr))
		rc = pager_fail(&ep->base, "sync", key, FK_ERUNTIME, err,
			       "output is not JSON: %s", perr.msg);
	if (!rc && reply)
		rc = sync_answer(ep, key, reply, ans, err);
	else if (!rc)
		ans->verdict = PAGER_NOT_MODIFIED; /* accepted, nothing to add */
	cJSON_Delete(reply);
	proc_result_release(&res);
	return rc;
}

/* watch, unwatch, invalidate: stdin /dev/null, stdout read and dropped. */
static int exec_notify(struct pager *p, const char *op, const char *key,
		       const char *hash, struct fk_err *err)
{
	struct exec_pager *ep = exec_of(p);
	struct proc_result res;
	int rc;

	rc = exec_run(ep, op, key, hash, NULL, 0, 0, &res, err);
	if (!rc)
		rc = run_ok(ep, op, key, &res, err);
	proc_result_release(&res);
	return rc;
}

static int exec_watch(struct pager *p, const char *key, const char *hash,
		      struct fk_err *err)
{
	return exec_notify(p, "watch", key, hash, err);
}

static int exec_unwatch(struct pager *p, const char *key, const char *hash,
			struct fk_err *err)
{
	return exec_notify(p, "unwatch", key, hash, err);
}

static int exec_invalidate(struct pager *p, const char *key,
			   const char *hash, struct fk_err *err)
{
	return exec_notify(p, "invalidate", key, hash, err);
}

/* The write commits locally; sync pushes it (§7). */
static int exec_write(struct pager *p, const char *key, const cJSON *page,
		      const char *hash, struct fk_err *err)
{
	(void)p, (void)key, (void)page, (void)hash, (void)err;
	return FK_OK;
}

static void exec_close(struct pager *p)
{
	struct exec_pager *ep = exec_of(p);
	size_t i;

	for (i = 0; ep->command && i < ep->argc; i++)
		free(ep->command[i]);
	free(ep->command);
	ep->command = NULL;
}

const struct pager_ops exec_pager_ops = {
	.type = "exec",
	.size = sizeof(struct exec_pager),
	.pushes = true,
	.init = exec_init,
	.read = exec_read,
	.watch = exec_watch,
	.unwatch = exec_unwatch,
	.write = exec_write,
	.sync = exec_sync,
	.invalidate = exec_invalidate,
	.close = exec_close,
};
