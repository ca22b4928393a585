/*
 * pq.c - loads libpq at run time (see pq.h for why).
 */
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#include "pq.h"

static struct pq_api api;
static int loaded; /* 1: api is complete */

/* Each slot of struct pq_api with the libpq symbol that fills it. */
#define SLOT(name) {"PQ" #name, offsetof(struct pq_api, name)}
static const struct {
	const char *symbol;
	size_t offset;
} slots[] = {
	SLOT(connectdbParams), SLOT(status), SLOT(errorMessage), SLOT(finish),
	SLOT(socket), SLOT(setnonblocking), SLOT(setNoticeProcessor),
	SLOT(sendQuery), SLOT(sendQueryParams), SLOT(flush),
	SLOT(consumeInput), SLOT(isBusy), SLOT(getResult), SLOT(resultStatus),
	SLOT(resultErrorMessage), SLOT(resultErrorField), SLOT(clear),
	SLOT(ntuples), SLOT(getvalue), SLOT(getlength), SLOT(getisnull),
	SLOT(notifies), SLOT(freemem), SLOT(escapeIdentifier), SLOT(getCancel),
	SLOT(cancel), SLOT(freeCancel),
};

int pq_load(const struct pq_api **out, struct fk_err *err)
{
	/* libpq's soname has been libpq.so.5 since PostgreSQL 8.2. */
	static const char *const names[] = {"libpq.so.5", "libpq.so"};
	void *lib = NULL;

	if (loaded) {
		*out = &api;
		return FK_OK;
	}
	for (size_t i = 0; !lib && i < sizeof(names) / sizeof(names[0]); i++)
		lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return fk_fail(err, FK_ERUNTIME,
			       "cannot load libpq, the PostgreSQL client library (install libpq5): %s",
			       dlerror());
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		void *sym = dlsym(lib, slots[i].symbol);

		if (!sym) {
			dlclose(lib);
			return fk_fail(err, FK_ERUNTIME, "libpq has no %s: %s",
				       slots[i].symbol, dlerror());
		}
		/* POSIX guarantees a data pointer from dlsym() converts to
		 * the function pointer it names; C alone does not, hence the
		 * copy of the bytes rather than a cast. */
		memcpy((char *)&api + slots[i].offset, &sym, sizeof(sym));
	}
	loaded = 1; /* lib stays open for the life of the process */
	*out = &api;
	return FK_OK;
}
