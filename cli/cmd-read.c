/*
 * cmd-read.c - `read NS KEY` and `read_sync NS KEY` (SPEC §4).
 *
 * read prints the cached copy at once (flushed, so a script sees it before
 * the pager answers), then asks the pager and prints a second line only if
 * the pager's copy made a change.  read_sync prints exactly one line.
 */
#include "commands.h"

/* Parses "[--] NS KEY" and sets up the vm; returns -1 to go on, else the
 * exit status. */
static int parse_ns_key(struct cli *c, int argc, char **argv, char **ns,
			char **key)
{
	const char *arg;
	int next = 1, status = FK_OK;

	if (cli_getopt(c, argc, argv, NULL, &arg, &next, &status) < 0)
		return status;
	if (argc - next != 2)
		return cli_usage(c, "expected a namespace and a key");
	*ns = argv[next];
	*key = argv[next + 1];
	status = cli_setup(c);
	return status ? status : -1;
}

int cmd_read(struct cli *c, int argc, char **argv)
{
	struct vm_page pg;
	struct fk_err err;
	char *ns = NULL, *key = NULL;
	int rc = parse_ns_key(c, argc, argv, &ns, &key);

	if (rc >= 0)
		return rc;
	rc = vm_cached(&c->vm, ns, key, &pg, &err);
	if (rc) {
		vm_page_release(&pg);
		return cli_fail(c, rc, &err);
	}
	ev_read_res(c, ns, key, pg.text, "cache", pg.seq);
	vm_page_release(&pg);
	rc = cli_flush(c);
	if (rc)
		return rc;
	rc = vm_fault(&c->vm, ns, key, &pg, &err);
	if (!rc && pg.changed)
		ev_read_res(c, ns, key, pg.text, "pager", pg.seq);
	vm_page_release(&pg);
	return rc ? cli_fail(c, rc, &err) : FK_OK;
}

int cmd_read_sync(struct cli *c, int argc, char **argv)
{
	struct vm_page pg;
	struct fk_err err;
	char *ns = NULL, *key = NULL;
	int rc = parse_ns_key(c, argc, argv, &ns, &key);

	if (rc >= 0)
		return rc;
	rc = vm_read_sync(&c->vm, ns, key, &pg, &err);
	if (!rc)
		ev_read_res(c, ns, key, pg.text, NULL, pg.seq);
	vm_page_release(&pg);
	return rc ? cli_fail(c, rc, &err) : FK_OK;
}
