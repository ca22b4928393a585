/*
 * util.c - errors, option parsing and input for the command files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* "flokvm: CMD: ", or "flokvm: " before a command was chosen. */
static void print_prefix(const struct cli *c)
{
	fputs("flokvm: ", stderr);
	if (c->cmd)
		fprintf(stderr, "%s: ", c->cmd);
}

int cli_error(struct cli *c, int status, const char *fmt, ...)
{
	va_list ap;

	print_prefix(c);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int cli_fail(struct cli *c, int status, const struct fk_err *err)
{
	return cli_error(c, status, "%s", err->msg);
}

int cli_usage(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	print_prefix(c);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n", c->synopsis);
	return FK_EUSAGE;
}

int cli_getopt(struct cli *c, int argc, char **argv, const struct cli_opt *opts,
	       const char **arg, int *next, int *status)
{
	const char *a;
	const struct cli_opt *o;
	size_t len;

	*arg = NULL;
	if (*next >= argc)
		return 0;
	a = argv[*next];
	if (!strcmp(a, "--")) {
		(*next)++;
		return 0;
	}
	if (a[0] != '-' || !a[1])
		return 0; /* the first operand ends the options */
	if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
		printf("usage: %s\n", c->synopsis);
		*status = FK_OK;
		return -1;
	}
	len = strcspn(a, "=");
	for (o = opts; o && o->name; o++) {
		if (strncmp(a, o->name, len) || o->name[len])
			continue;
		(*next)++;
		if (o->has_arg && a[len] == '=') {
			*arg = a + len + 1;
		} else if (o->has_arg) {
			if (*next >= argc) {
				*status = cli_usage(c, "option %s needs a value", o->name);
				return -1;
			}
			*arg = argv[(*next)++];
		} else if (a[len] == '=') {
			*status = cli_usage(c, "option %s takes no value", o->name);
			return -1;
		}
		return o->val;
	}
	*status = cli_usage(c, "unknown option '%s'", a);
	return -1;
}

int cli_read_input(struct cli *c, const char *path, size_t max, struct buf *b,
		   struct fk_err *err)
{
	int fd = 0;
	ssize_t n;

	(void)c;
	if (path && strcmp(path, "-")) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fk_fail(err, FK_ENOINPUT, "cannot open '%s': %s", path,
				       strerror(errno));
	}
	/* Read at most max + 1 bytes: enough to know the input is too big
	 * without holding an enormous one in memory. */
	for (;;) {
		size_t room, want = max + 1 - b->len;

		buf_grow(b, 65536); /* room for 65536 bytes and the NUL */
		room = b->cap - 1 - b->len;
		n = read(fd, b->p + b->len, room < want ? room : want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		b->len += (size_t)n;
		b->p[b->len] = '\0';
		if (b->len > max)
			break;
	}
	if (fd > 0)
		close(fd);
	if (n < 0)
		return fk_fail(err, FK_ENOINPUT, "cannot read '%s': %s",
			       path ? path : "standard input", strerror(errno));
	if (b->len > max)
		return fk_fail(err, FK_EDATA, "%s is larger than %zu bytes",
			       path && strcmp(path, "-") ? path : "standard input", max);
	if (!b->p)
		buf_adds(b, "");
	return FK_OK;
}

int cli_flush(struct cli *c)
{
	if (c->out.len && fwrite(c->out.p, 1, c->out.len, stdout) != c->out.len) {
		buf_reset(&c->out);
		return cli_error(c, FK_ERUNTIME, "cannot write to standard output: %s",
				 strerror(errno));
	}
	buf_reset(&c->out);
	if (fflush(stdout) != 0)
		return cli_error(c, FK_ERUNTIME, "cannot write to standard output: %s",
				 strerror(errno));
	return FK_OK;
}
