/*
 * fuzz-services.c - libFuzzer target for the services file parser
 * (pagers/services*.c), both syntaxes: the input is the text of a file
 * named services.rb in the current folder.
 *
 * Oracles, each an abort(): a file that loads has pagers with a name, a
 * namespace, a known type and an options object, no two with the same name
 * or namespace, and readonly set exactly when options.readonly is true; a
 * file that does not load leaves the struct empty and says which file and
 * line are wrong (services.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services.h"

#define PATH "services.rb"
#define KNOWN "exec, mem, net_sim, spec"

static bool known(const char *type)
{
	static const char *const types[] = {"exec", "mem", "net_sim", "spec"};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(type, types[i]))
			return true;
	return false;
}

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-services: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	abort();
}

static void check_loaded(const struct services *s)
{
	if (!s->path || strcmp(s->path, PATH) || !s->dir)
		fail("path or folder not filled", s->path);
	if (s->settings && !cJSON_IsObject(s->settings))
		fail("settings is not an object", NULL);
	if (s->npagers && !s->pagers)
		fail("pagers counted but not there", NULL);
	for (size_t i = 0; i < s->npagers; i++) {
		const struct svc_pager *p = &s->pagers[i];
		const cJSON *ro;

		if (!p->name || !p->ns || !p->type)
			fail("a pager without name, namespace or type", p->name);
		if (!known(p->type))
			fail("a pager of an unknown type", p->type);
		if (!cJSON_IsObject(p->options))
			fail("options is not an object", p->name);
		ro = cJSON_GetObjectItemCaseSensitive(p->options, "readonly");
		if (p->readonly != cJSON_IsTrue(ro))
			fail("readonly differs from options.readonly", p->name);
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(p->name, s->pagers[j].name))
				fail("duplicate name accepted", p->name);
			if (!strcmp(p->ns, s->pagers[j].ns))
				fail("duplicate namespace accepted", p->ns);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct services empty;
	struct services s;
	struct fk_err err;
	int rc;

	err.msg[0] = '\0';
	rc = services_parse((const char *)data, size, PATH, known, KNOWN, &s, &err);
	if (rc == FK_OK) {
		check_loaded(&s);
		services_release(&s);
		return 0;
	}
	if (memcmp(&s, &empty, sizeof(s)))
		fail("a failed parse left something in the struct", err.msg);
	if (rc != FK_EDATA)
		fail("a bad file is not FK_EDATA", err.msg);
	if (strncmp(err.msg, PATH ":", strlen(PATH ":")))
		fail("the message does not name the file", err.msg);
	return 0;
}
