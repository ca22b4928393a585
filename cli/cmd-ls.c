/*
 * cmd-ls.c - `ls NS`: the cached pages of a namespace in key byte order.
 *
 * ls reads the cache only, so it also lists pages of a namespace that no
 * pager serves any more (their pages stay in the database).
 */
#include "commands.h"
#include "json.h"

static int ls_line(void *ctx, const char *ns, const struct db_row *row)
{
	struct cli *c = ctx;
	struct buf *b = &c->out;

	buf_adds(b, "{\"ns\":");
	json_write_string(b, ns);
	buf_adds(b, ",\"key\":");
	json_write_string(b, row->key);
	buf_adds(b, ",\"hash\":");
	json_write_string(b, row->hash);
	buf_printf(b, ",\"seq\":%lld,\"entries\":%d,\"unsynced\":%s}\n",
		   (long long)row->seq, row->entries, row->unsynced ? "true" : "false");
	/* Keep memory flat on namespaces with millions of pages. */
	return b->len > 65536 ? cli_flush(c) : 0;
}

int cmd_ls(struct cli *c, int argc, char **argv)
{
	struct fk_err err;
	const char *arg;
	int next = 1, status = FK_OK, rc;

	if (cli_getopt(c, argc, argv, NULL, &arg, &next, &status) < 0)
		return status;
	if (argc - next != 1)
		return cli_usage(c, "expected a namespace");
	rc = cli_setup(c);
	if (rc)
		return rc;
	err.msg[0] = '\0';
	rc = vm_ls(&c->vm, argv[next], ls_line, c, &err);
	if (rc == FK_ERUNTIME && !err.msg[0])
		return rc; /* ls_line already reported a write error */
	return rc ? cli_fail(c, rc, &err) : FK_OK;
}
