/*
 * events.c - the JSON-lines events of SPEC §4.1, byte for byte: compact,
 * keys in the documented order, one object per line.
 */
#include "cli.h"
#include "json.h"

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
