/*
 * events.c - the JSON-lines events of SPEC §4.1, byte for byte: compact,
 * keys in the documented order, one object per line.
 */
#include <string.h>

#include "cli.h"
#include "diff.h"
#include "json.h"
#include "page.h"

void ev_read_res(struct cli *c, const char *ns, const char *key,
		 const char *page, const char *from, long long seq)
{
	struct buf *b = &c->out;

	buf_adds(b, "{\"event\":\"read_res\",\"ns\":");
	json_write_string(b, ns);
	buf_adds(b, ",\"key\":");
	json_write_string(b, key);
	buf_adds(b, ",\"page\":");
	buf_adds(b, page);
	if (from) {
		buf_adds(b, ",\"from\":");
		json_write_string(b, from);
	}
	buf_printf(b, ",\"seq\":%lld}\n", seq);
}

/* Opens {"event":NAME,"ns":..,"key":.. ; the caller adds fields and
 * closes with ev_close(). */
static void ev_open(struct buf *b, const char *name, const char *ns,
		    const char *key)
{
	buf_adds(b, "{\"event\":\"");
	buf_adds(b, name);
	buf_adds(b, "\",\"ns\":");
	json_write_string(b, ns);
	buf_adds(b, ",\"key\":");
	json_write_string(b, key);
}

static void ev_close(struct buf *b, long long seq)
{
	buf_printf(b, ",\"seq\":%lld}\n", seq);
}

/* One entry-level event for one diff step (SPEC §4.1, watch --diff). */
static void ev_step(struct buf *b, const char *ns, const char *key,
		    const cJSON *step, long long seq)
{
	const char *op = step->child->valuestring;
	const cJSON *a = step->child->next, *v = a ? a->next : NULL;
	static const char *const pointer_events[][2] = {
		{"HEAD_M", "head_changed"}, {"NEXT_M", "next_changed"}, {"PREV_M", "prev_changed"}};

	for (int i = 0; i < 3; i++)
		if (!strcmp(op, pointer_events[i][0])) {
			ev_open(b, pointer_events[i][1], ns, key);
			buf_adds(b, ",\"value\":");
			json_write(b, a);
			ev_close(b, seq);
			return;
		}
	if (!strcmp(op, "PAGE_M") || !strcmp(op, "PAGE_D")) {
		/* "name" is the payload key ("key" already names the page); a
		 * deleted key has no "value". */
		ev_open(b, "payload_changed", ns, key);
		buf_adds(b, ",\"name\":");
		json_write(b, a);
		if (v) {
			buf_adds(b, ",\"value\":");
			json_write(b, v);
		}
	} else if (!strcmp(op, "-")) {
		ev_open(b, "entry_del", ns, key);
		buf_adds(b, ",\"entry_id\":");
		json_write(b, a);
	} else if (!strcmp(op, "M")) {
		ev_open(b, "entry_modify", ns, key);
		buf_adds(b, ",\"entry\":");
		json_write(b, a);
	} else if (!strcmp(op, ">")) {
		ev_open(b, "entry_move", ns, key);
		buf_adds(b, ",\"entry_id\":");
		json_write(b, v);
		buf_adds(b, ",\"index\":");
		json_write(b, a);
	} else { /* "+" */
		ev_open(b, "entry_ins", ns, key);
		buf_adds(b, ",\"index\":");
		json_write(b, a);
		buf_adds(b, ",\"entry\":");
		json_write(b, v);
	}
	ev_close(b, seq);
}

int ev_entry_events(struct cli *c, const char *ns, const char *key,
		    const char *prev, const char *page, long long seq,
		    struct fk_err *err)
{
	struct json_opts o = {.max_depth = PAGE_STORED_MAX_DEPTH, .allow_empty = 0};
	cJSON *old = NULL, *new = NULL, *diff = NULL, *step;
	int rc;

	if (prev) {
		rc = json_parse(prev, strlen(prev), &o, &old, err);
	} else {
		/* First sight of the page: everything in it is new. */
		old = cJSON_CreateObject();
		cJSON_AddStringToObject(old, "_uuid", key);
		cJSON_AddArrayToObject(old, "entries");
		rc = FK_OK;
	}
	if (!rc)
		rc = json_parse(page, strlen(page), &o, &new, err);
	if (!rc)
		rc = diff_pages(old, new, &diff, err);
	cJSON_ArrayForEach(step, diff)
		ev_step(&c->out, ns, key, step, seq);
	cJSON_Delete(diff);
	cJSON_Delete(old);
	cJSON_Delete(new);
	return rc;
}
