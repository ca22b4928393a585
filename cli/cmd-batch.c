/*
 * cmd-batch.c - `batch [--atomic]`: requests as JSON lines on stdin,
 * events as JSON lines on stdout (SPEC §4.3).
 *
 * Each request's events and its `done` line wait in `pending` until the
 * transaction holding its work has committed (struct vm_group in vm.h), so
 * that whatever was acknowledged is on disk.  The group commits every
 * FLOKVM_BATCH_GROUP requests, before any pager call, and whenever no more
 * input is ready, so a co-process that waits for each answer never stalls.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "json.h"

enum { OPT_ATOMIC = 1 };

static const struct cli_opt batch_opts[] = {
	{"--atomic", 0, OPT_ATOMIC},
	{NULL, 0, 0},
};

/* One request's answer, held until its work is committed. */
struct answer {
	char *events;       /* its event lines (may be empty) */
	long line;
	char *ns, *key;
	int status;
	long long seq;
	char *hash;         /* NULL: the page is missing */
	char *message;      /* when status != 0 */
	bool bad_line;      /* not a request: an "error" event, not "done" */
};

struct batch {
	struct cli *c;
	struct answer *pending;
	size_t n, cap;
	int first_failure;
};

static char *dup_or_null(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		abort();
	return d;
}

/* Writes the done line of a; a failed commit overrides its status. */
static void print_answer(struct batch *b, const struct answer *a, int status,
			 const char *message)
{
	struct buf *o = &b->c->out;

	if (a->bad_line) {
		if (!b->first_failure)
			b->first_failure = FK_EDATA;
		buf_printf(o, "{\"event\":\"error\",\"line\":%ld,\"status\":65,\"message\":", a->line);
		json_write_string(o, a->message);
		buf_adds(o, "}\n");
		return;
	}
	/* The group's failure: this request's work was rolled back, so its
	 * events describe a state that never existed, and are dropped. */
	bool rolled_back = status && !a->status;

	if (!status) {
		status = a->status;
		message = a->message;
	}
	if (status && !b->first_failure)
		b->first_failure = status;
	if (a->events && !rolled_back)
		buf_adds(o, a->events);
	buf_printf(o, "{\"event\":\"done\",\"line\":%ld,\"ns\":", a->line);
	json_write_string(o, a->ns);
	buf_adds(o, ",\"key\":");
	json_write_string(o, a->key);
	buf_printf(o, ",\"status\":%d,\"seq\":%lld,\"hash\":", status, status ? 0LL : a->seq);
	if (a->hash && !status)
		json_write_string(o, a->hash);
	else
		buf_adds(o, "null");
	if (status) {
		buf_adds(o, ",\"message\":");
		json_write_string(o, message ? message : "failed");
	}
	buf_adds(o, "}\n");
}

/* Prints every pending answer (status: a failed commit's, else 0). */
static void flush_pending(struct batch *b, int status, const char *message)
{
	for (size_t i = 0; i < b->n; i++) {
		struct answer *a = &b->pending[i];

		/* A request that failed on its own keeps its own status. */
		print_answer(b, a, a->status ? 0 : status, message);
		free(a->events);
		free(a->ns);
		free(a->key);
		free(a->hash);
		free(a->message);
	}
	b->n = 0;
	cli_flush(b->c);
}

/* vm_group.committed: the group is on disk (or failed to get there). */
static void on_committed(void *ctx, int status, const struct fk_err *err)
{
	flush_pending(ctx, status, status ? err->msg : NULL);
}

/* Queues a finished answer (the request's work may still be uncommitted). */
static void add_answer(struct batch *b, const struct answer *a)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->pending = realloc(b->pending, b->cap * sizeof(*b->pending));
		if (!b->pending)
			abort();
	}
	b->pending[b->n++] = *a;
}

/* The event lines a read prints, rendered now into a string. */
static char *render_read(struct cli *c, const char *ns, const char *key,
			 const struct vm_page *first, const char *from,
			 const struct vm_page *second)
{
	struct buf saved = c->out, b = {0};
	char *s;

	c->out = b;
	ev_read_res(c, ns, key, first->text, from, (long long)first->seq);
	if (second)
		ev_read_res(c, ns, key, second->text, "pager", (long long)second->seq);
	s = buf_detach(&c->out);
	c->out = saved;
	return s;
}

/* Runs one well-formed request; fills a. */
static void run_request(struct batch *b, const char *req, const char *ns,
			const char *key, cJSON *page, const struct vm_write_opts *wo,
			bool discard, struct answer *a)
{
	struct vm *vm = &b->c->vm;
	struct vm_page pg = {0}, second = {0};
	struct fk_err err;
	int rc;

	if (!strcmp(req, "write")) {
		rc = vm_write_tree(vm, ns, key, page, wo, &pg, &err);
	} else if (!strcmp(req, "read_sync")) {
		rc = vm_read_sync(vm, ns, key, &pg, &err);
		if (!rc)
			a->events = render_read(b->c, ns, key, &pg, NULL, NULL);
	} else if (!strcmp(req, "read")) {
		rc = vm_cached(vm, ns, key, &pg, &err);
		if (!rc)
			rc = vm_fault(vm, ns, key, &second, &err);
		if (!rc)
			a->events = render_read(b->c, ns, key, &pg, "cache",
						second.changed ? &second : NULL);
		if (!rc && second.changed) {
			vm_page_release(&pg);
			pg = second;
			memset(&second, 0, sizeof(second));
		}
	} else { /* invalidate */
		rc = vm_invalidate(vm, ns, key, discard, &err);
	}
	a->status = rc;
	if (rc)
		a->message = dup_or_null(err.msg);
	a->seq = pg.seq;
	a->hash = dup_or_null(pg.found ? pg.hash : NULL);
	vm_page_release(&pg);
	vm_page_release(&second);
}

/* Checks a request line's shape; FK_EDATA with err naming the problem. */
static int parse_request(cJSON *r, const char **req, const char **ns,
			 const char **key, cJSON **page, struct vm_write_opts *wo,
			 bool *discard, struct fk_err *err)
{
	static const char *const reqs[] = {"write", "read", "read_sync", "invalidate"};
	const cJSON *m;
	size_t i;

	if (!cJSON_IsObject(r))
		return fk_fail(err, FK_EDATA, "a request is a JSON object");
	*req = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "req"));
	for (i = 0; *req && i < 4 && strcmp(*req, reqs[i]); i++)
		;
	if (!*req || i == 4)
		return fk_fail(err, FK_EDATA, "req: expected one of write, read, read_sync, invalidate");
	*ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "ns"));
	*key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "key"));
	if (!*ns || !*key)
		return fk_fail(err, FK_EDATA, "%s: expected a string", *ns ? "key" : "ns");
	cJSON_ArrayForEach(m, r) {
		const char *k = m->string;
		bool w = !strcmp(*req, "write");

		if (!strcmp(k, "req") || !strcmp(k, "ns") || !strcmp(k, "key"))
			continue;
		if (w && !strcmp(k, "page") && cJSON_IsObject(m))
			*page = (cJSON *)m;
		else if (w && !strcmp(k, "if_seq") && cJSON_IsNumber(m) && m->valuedouble >= 0 &&
			 m->valuedouble == (double)(long long)m->valuedouble)
			wo->if_seq = (int64_t)m->valuedouble;
		else if (w && !strcmp(k, "if_hash") && cJSON_IsString(m))
			wo->if_hash = m->valuestring;
		else if (!strcmp(*req, "invalidate") && !strcmp(k, "discard") && cJSON_IsBool(m))
			*discard = cJSON_IsTrue(m);
		else
			return fk_fail(err, FK_EDATA, "%s: not a valid member of a %s request", k, *req);
	}
	if (!strcmp(*req, "write") && !*page)
		return fk_fail(err, FK_EDATA, "page: a write needs a page object");
	return FK_OK;
}

/* A line that is not a request; answered in its turn like the others. */
static void error_line(struct batch *b, long line, const char *message)
{
	struct answer a = {.line = line, .bad_line = true, .status = FK_EDATA};

	a.message = dup_or_null(message);
	add_answer(b, &a);
}

/*
 * Standard input, read in blocks and split into lines of at most `max`
 * bytes: a longer line is consumed to its end but not kept, so a batch
 * fed an endless line keeps its memory bounded.
 */
struct line_reader {
	char buf[65536];
	size_t start, end;
	bool eof;
};

/* Reads the next line into *line (grown as needed, at most max + 1 bytes
 * kept, without the newline).  Returns its length, or -1 at the end of
 * input; *too_long tells that the line was longer than max. */
static ssize_t read_line(struct line_reader *r, struct buf *line, size_t max,
			 bool *too_long)
{
	bool any = false;

	buf_reset(line);
	*too_long = false;
	for (;;) {
		char *nl;
		size_t n;

		if (r->start == r->end) {
			ssize_t got;

			if (r->eof)
				break;
			got = read(STDIN_FILENO, r->buf, sizeof(r->buf));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				r->eof = true;
				break;
			}
			r->start = 0;
			r->end = (size_t)got;
		}
		any = true;
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		n = (nl ? (size_t)(nl - r->buf) : r->end) - r->start;
		if (line->len + n > max)
			*too_long = true;
		else
			buf_add(line, r->buf + r->start, n);
		r->start += n + (nl != NULL);
		if (nl)
			break;
	}
	if (!any)
		return -1;
	if (!line->p)
		buf_adds(line, "");
	return (ssize_t)line->len;
}

/* True if more input is waiting (then the group may stay open). */
static bool input_ready(const struct line_reader *r)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};

	if (memchr(r->buf + r->start, '\n', r->end - r->start))
		return true;
	return !r->eof && poll(&p, 1, 0) > 0;
}

int cmd_batch(struct cli *c, int argc, char **argv)
{
	struct batch b = {c, NULL, 0, 0, 0};
	struct line_reader *in;
	struct buf line = {0};
	struct json_opts jo;
	struct fk_err err;
	const char *arg;
	bool too_long;
	ssize_t len;
	long lineno = 0;
	int next = 1, status = FK_OK, opt, rc;
	bool atomic = false;

	while ((opt = cli_getopt(c, argc, argv, batch_opts, &arg, &next, &status)) > 0)
		atomic = true;
	if (opt < 0)
		return status;
	if (next < argc)
		return cli_usage(c, "unexpected argument '%s' (requests come on standard input)", argv[next]);
	rc = cli_setup(c);
	if (rc)
		return rc;
	jo.max_depth = c->set.max_depth;
	jo.wrappers = 1; /* the page sits one level down, in the request */
	jo.allow_empty = 1;
	c->vm.group = (struct vm_group){.enabled = true, .atomic = atomic,
					.size = c->set.batch_group,
					.committed = on_committed, .ctx = &b};
	in = calloc(1, sizeof(*in)); /* after the usage checks: nothing to free */
	if (!in)
		abort();
	while ((len = read_line(in, &line, c->set.max_page_bytes + 4096, &too_long)) >= 0) {
		const char *req = NULL, *ns = NULL, *key = NULL;
		struct vm_write_opts wo = {.if_seq = -1, .if_hash = NULL};
		cJSON *r = NULL, *page = NULL;
		bool discard = false;

		lineno++;
		if (too_long) {
			error_line(&b, lineno, "request larger than the page limit");
		} else if (json_parse(line.p, (size_t)len, &jo, &r, &err)) {
			/* A request is one line: its position is the column. */
			error_line(&b, lineno, strncmp(err.msg, "line 1, ", 8) ? err.msg : err.msg + 8);
		} else if (r && parse_request(r, &req, &ns, &key, &page, &wo, &discard, &err)) {
			error_line(&b, lineno, err.msg);
		} else if (r) {
			/* Answered into `a` first: a commit inside the request (before
			 * a pager call) flushes only the answers before it. */
			struct answer a = {.line = lineno};

			a.ns = dup_or_null(ns);
			a.key = dup_or_null(key);
			if (page) /* the vm consumes it */
				cJSON_DetachItemViaPointer(r, page);
			run_request(&b, req, ns, key, page, &wo, discard, &a);
			add_answer(&b, &a);
		}
		cJSON_Delete(r);
		if (atomic)
			continue;
		/* Nothing open: answers can go now.  Else commit when the
		 * writer of our input waits for them. */
		if (!c->vm.group.txn)
			flush_pending(&b, 0, NULL);
		else if (c->vm.group.n >= c->vm.group.size || !input_ready(in)) {
			vm_group_commit(&c->vm, &err); /* a failure is in its answers */
			/* A full group and more to come: leave the write lock free
			 * for a moment, so that one-shot writers waiting for it
			 * (polling every millisecond, db.c) are not starved. */
			if (input_ready(in))
				usleep(1500);
		}
	}
	buf_release(&line);
	free(in);
	if (atomic && b.first_failure == 0) {
		for (size_t i = 0; i < b.n; i++)
			if (b.pending[i].status && !b.first_failure)
				b.first_failure = b.pending[i].status;
	}
	if (atomic && b.first_failure) {
		char msg[128];

		vm_group_end(&c->vm, false, &err);
		snprintf(msg, sizeof(msg), "rolled back: --atomic and a request failed");
		flush_pending(&b, FK_ERUNTIME, msg);
	} else {
		vm_group_end(&c->vm, true, &err); /* flushes through on_committed */
		flush_pending(&b, 0, NULL);
	}
	free(b.pending);
	return b.first_failure;
}
