/*
 * cmd-pagers.c - `pagers`: the configured pagers, in the file's order.
 */
#include "commands.h"
#include "json.h"

int cmd_pagers(struct cli *c, int argc, char **argv)
{
	const char *arg;
	int next = 1, status = FK_OK, rc;

	if (cli_getopt(c, argc, argv, NULL, &arg, &next, &status) < 0)
		return status;
	if (next < argc)
		return cli_usage(c, "unexpected argument '%s'", argv[next]);
	rc = cli_setup(c);
	if (rc)
		return rc;
	for (size_t i = 0; i < c->svc.npagers; i++) {
		const struct svc_pager *p = &c->svc.pagers[i];

		buf_adds(&c->out, "{\"name\":");
		json_write_string(&c->out, p->name);
		buf_adds(&c->out, ",\"namespace\":");
		json_write_string(&c->out, p->ns);
		buf_adds(&c->out, ",\"type\":");
		json_write_string(&c->out, p->type);
		buf_printf(&c->out, ",\"readonly\":%s}\n", p->readonly ? "true" : "false");
	}
	return FK_OK;
}
