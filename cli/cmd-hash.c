/*
 * cmd-hash.c - `hash [FILE]`: normalise and hash a page without storing it.
 *
 * The page must name itself (_uuid); entries without _uuid or _timestamp
 * are stamped as a first write would stamp them.
 */
#include "commands.h"
#include "page.h"

int cmd_hash(struct cli *c, int argc, char **argv)
{
	struct page_limits lim;
	struct buf in = {0};
	struct fk_err err;
	cJSON *page = NULL;
	const char *arg, *file = NULL;
	int next = 1, status = FK_OK, rc;

	if (cli_getopt(c, argc, argv, NULL, &arg, &next, &status) < 0)
		return status;
	if (argc - next > 1)
		return cli_usage(c, "expected at most one file");
	if (next < argc)
		file = argv[next];
	rc = cli_setup(c);
	if (rc)
		return rc;
	lim = vm_limits(&c->vm);
	rc = cli_read_input(c, file, lim.max_page_bytes, &in, &err);
	if (rc) /* the message names the file already */
		file = NULL;
	if (!rc)
		rc = page_parse(in.p, in.len, NULL, PAGE_FROM_USER, &lim, &page, &err);
	if (!rc) {
		page_normalise(page, NULL, page_now_ms());
		page_write(&c->out, page);
		buf_addc(&c->out, '\n');
	}
	cJSON_Delete(page);
	buf_release(&in);
	if (rc && file && rc == FK_EDATA)
		return cli_error(c, rc, "%s: %s", file, err.msg);
	return rc ? cli_fail(c, rc, &err) : FK_OK;
}
