/*
 * cmd-write.c - `write [--if-seq N] [--if-hash H] [--print] NS KEY < PAGE`.
 *
 * The page comes on standard input.  Checks run in the order of SPEC §4.4:
 * usage, namespace, input, precondition, store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

enum { OPT_IF_SEQ = 1, OPT_IF_HASH, OPT_PRINT };

static const struct cli_opt write_opts[] = {
	{"--if-seq", 1, OPT_IF_SEQ},
	{"--if-hash", 1, OPT_IF_HASH},
	{"--print", 0, OPT_PRINT},
	{NULL, 0, 0},
};

/* A hash as flokvm prints them: an unsigned 32-bit decimal, or "none". */
static int hash_arg_ok(const char *h)
{
	char *end;
	unsigned long long v;

	if (!strcmp(h, "none"))
		return 1;
	if (!*h || (h[0] == '0' && h[1]) || strspn(h, "0123456789") != strlen(h))
		return 0;
	errno = 0;
	v = strtoull(h, &end, 10);
	return !errno && v <= 0xffffffffULL;
}

int cmd_write(struct cli *c, int argc, char **argv)
{
	struct vm_write_opts wo = {.if_seq = -1, .if_hash = NULL};
	struct buf in = {0};
	struct vm_page pg = {0};
	struct fk_err err;
	struct pager *p;
	const char *arg;
	int next = 1, status = FK_OK, opt, print = 0, rc;
	char *end;

	while ((opt = cli_getopt(c, argc, argv, write_opts, &arg, &next, &status)) > 0) {
		if (opt == OPT_IF_SEQ) {
			errno = 0;
			wo.if_seq = strtoll(arg, &end, 10);
			if (!*arg || *end || errno || wo.if_seq < 0 || arg[0] == '-' ||
			    arg[0] == '+')
				return cli_usage(c, "--if-seq: '%s' is not a revision (0 or more)", arg);
		} else if (opt == OPT_IF_HASH) {
			if (!hash_arg_ok(arg))
				return cli_usage(c, "--if-hash: '%s' is not a page hash or 'none'", arg);
			wo.if_hash = arg;
		} else {
			print = 1;
		}
	}
	if (opt < 0)
		return status;
	if (argc - next != 2)
		return cli_usage(c, "expected a namespace and a key, and the page on standard input");
	rc = cli_setup(c);
	if (rc)
		return rc;
	/* The namespace and key are checked before the page is read. */
	rc = vm_write_target(&c->vm, argv[next], argv[next + 1], &p, &err);
	if (!rc)
		rc = cli_read_input(c, NULL, c->set.max_page_bytes, &in, &err);
	if (rc == FK_EDATA && in.len > c->set.max_page_bytes)
		fk_prefix(&err, rc, "namespace \"%s\" key \"%s\"", argv[next], argv[next + 1]);
	if (!rc)
		rc = vm_write(&c->vm, argv[next], argv[next + 1], in.p, in.len, &wo, &pg, &err);
	if (!rc && print)
		ev_read_res(c, argv[next], argv[next + 1], pg.text, NULL, pg.seq);
	vm_page_release(&pg);
	buf_release(&in);
	return rc ? cli_fail(c, rc, &err) : FK_OK;
}
