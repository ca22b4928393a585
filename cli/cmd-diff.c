/*
 * cmd-diff.c - `diff OLD NEW` and `replay PAGE DIFF` (SPEC §6), on files;
 * "-" reads standard input (at most one operand may be "-").
 */
#include <string.h>

#include "commands.h"
#include "diff.h"
#include "json.h"
#include "page.h"

/* Reads and parses one operand: a page (must name itself) or, with
 * is_page false, any JSON value.  Messages name the file. */
static int load_operand(struct cli *c, const char *path, bool is_page,
			cJSON **out, struct fk_err *err)
{
	struct page_limits lim = vm_limits(&c->vm);
	struct json_opts o = {.max_depth = lim.max_depth, .allow_empty = 0};
	struct buf in = {0};
	int rc;

	*out = NULL;
	rc = cli_read_input(c, path, lim.max_page_bytes, &in, err);
	if (rc) { /* the message names the file already */
		buf_release(&in);
		return rc;
	}
	if (is_page)
		rc = page_parse(in.p, in.len, NULL, PAGE_FROM_USER, &lim, out, err);
	else
		rc = json_parse(in.p, in.len, &o, out, err);
	buf_release(&in);
	if (rc == FK_EDATA)
		return fk_prefix(err, rc, "%s", strcmp(path, "-") ? path : "standard input");
	return rc;
}

/* Parses the two operands of diff and replay; returns -1 to go on, else
 * the exit status (0 after --help). */
static int two_operands(struct cli *c, int argc, char **argv, const char *what,
			int *next)
{
	const char *arg;
	int status = FK_OK;

	*next = 1;
	if (cli_getopt(c, argc, argv, NULL, &arg, next, &status) < 0)
		return status;
	if (argc - *next != 2)
		return cli_usage(c, "expected %s", what);
	if (!strcmp(argv[*next], "-") && !strcmp(argv[*next + 1], "-"))
		return cli_usage(c, "only one operand can be standard input");
	status = cli_setup(c);
	return status ? status : -1;
}

int cmd_diff(struct cli *c, int argc, char **argv)
{
	struct fk_err err;
	cJSON *old = NULL, *new = NULL, *diff = NULL;
	int next, rc = two_operands(c, argc, argv, "two page files", &next);

	if (rc >= 0)
		return rc;
	rc = load_operand(c, argv[next], true, &old, &err);
	if (!rc)
		rc = load_operand(c, argv[next + 1], true, &new, &err);
	if (!rc)
		rc = diff_pages(old, new, &diff, &err);
	if (!rc) {
		json_write(&c->out, diff);
		buf_addc(&c->out, '\n');
	}
	cJSON_Delete(diff);
	cJSON_Delete(old);
	cJSON_Delete(new);
	return rc ? cli_fail(c, rc, &err) : FK_OK;
}

int cmd_replay(struct cli *c, int argc, char **argv)
{
	struct fk_err err;
	cJSON *page = NULL, *diff = NULL;
	int next, rc = two_operands(c, argc, argv, "a page file and a diff file", &next);

	if (rc >= 0)
		return rc;
	rc = load_operand(c, argv[next], true, &page, &err);
	if (!rc)
		rc = load_operand(c, argv[next + 1], false, &diff, &err);
	if (!rc && diff_replay(page, diff, &err))
		rc = fk_prefix(&err, FK_EDATA, "%s", strcmp(argv[next + 1], "-") ?
				argv[next + 1] : "standard input");
	/* What the diff inserted must make a page too (a timestamp "bad"
	 * would otherwise be hashed in). */
	if (!rc && page_validate(page, NULL, PAGE_FROM_PAGER, &err))
		rc = fk_prefix(&err, FK_EDATA, "the replayed page");
	if (!rc) {
		page_set_hash(page);
		page_write(&c->out, page);
		buf_addc(&c->out, '\n');
	}
	cJSON_Delete(page);
	cJSON_Delete(diff);
	return rc ? cli_fail(c, rc, &err) : FK_OK;
}
