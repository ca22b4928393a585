/*
 * cmd-check.c - `check`: verify every stored page (JSON, the page rules,
 * the stored hash) and SQLite's own integrity check.  One JSON line per
 * problem on stdout; exit 1 if there was any.
 */
#include "commands.h"
#include "json.h"

static void report(void *ctx, const char *ns, const char *key, const char *problem)
{
	struct cli *c = ctx;
	struct buf *b = &c->out;

	buf_addc(b, '{');
	if (ns) {
		buf_adds(b, "\"ns\":");
		json_write_string(b, ns);
		buf_adds(b, ",\"key\":");
		json_write_string(b, key);
		buf_addc(b, ',');
	}
	buf_adds(b, "\"problem\":");
	json_write_string(b, problem);
	buf_adds(b, "}\n");
}

int cmd_check(struct cli *c, int argc, char **argv)
{
	struct fk_err err;
	const char *arg;
	int next = 1, status = FK_OK, rc, problems = 0;

	if (cli_getopt(c, argc, argv, NULL, &arg, &next, &status) < 0)
		return status;
	if (next < argc)
		return cli_usage(c, "unexpected argument '%s'", argv[next]);
	rc = cli_setup(c);
	if (rc)
		return rc;
	rc = vm_check(&c->vm, report, c, &problems, &err);
	if (rc)
		return cli_fail(c, rc, &err);
	if (problems)
		return cli_error(c, FK_ERUNTIME, "%d problem%s found in '%s'", problems,
				 problems == 1 ? "" : "s", c->db_path);
	return FK_OK;
}
