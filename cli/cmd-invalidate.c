/*
 * cmd-invalidate.c - `invalidate [--discard] NS KEY`: drop a page from the
 * cache, tell the pager, notify watchers.  On a mem namespace this deletes
 * the page.  A page with unsynced local changes is refused (exit 69)
 * unless --discard is given.
 */
#include "commands.h"

enum { OPT_DISCARD = 1 };

static const struct cli_opt invalidate_opts[] = {
	{"--discard", 0, OPT_DISCARD},
	{NULL, 0, 0},
};

int cmd_invalidate(struct cli *c, int argc, char **argv)
{
	struct fk_err err;
	const char *arg;
	int next = 1, status = FK_OK, opt, rc;
	bool discard = false;

	while ((opt = cli_getopt(c, argc, argv, invalidate_opts, &arg, &next, &status)) > 0)
		discard = true;
	if (opt < 0)
		return status;
	if (argc - next != 2)
		return cli_usage(c, "expected a namespace and a key");
	rc = cli_setup(c);
	if (rc)
		return rc;
	rc = vm_invalidate(&c->vm, argv[next], argv[next + 1], discard, &err);
	return rc ? cli_fail(c, rc, &err) : FK_OK;
}
