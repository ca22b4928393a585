/*
 * diff-bench.c - how long diff_pages() and diff_replay() take on long
 * pages, next to json_parse() of the same page as a yardstick: sync diffs
 * and replays on every local write and every refresh (SPEC §7), so both
 * must stay a small multiple of just reading the page.
 *
 * For 1,000, 10,000 and 100,000 entries it changes about 1% of the entries
 * each way (modified, deleted, inserted, moved) and prints the median of
 * five runs.  The random choices come from a fixed seed so runs compare.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diff.h"
#include "json.h"

#define RUNS 5

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp_double);
	return v[RUNS / 2];
}

/* One entry as flok pages carry them: a UUID, a timestamp, a little
 * payload. */
static void add_entry(struct buf *b, unsigned id)
{
	buf_printf(b, "{\"_uuid\":\"%08x-4b1d-4c5e-9f00-%012x\","
		   "\"_timestamp\":\"%llu\",\"title\":\"entry number %u\","
		   "\"score\":%u,\"tags\":[\"news\",\"t%u\"]}",
		   id * 2654435761u, id, 1433865600000ULL + id, id, id % 100,
		   id % 7);
}

/* The text of a page of n entries; caller frees. */
static char *page_text(int n)
{
	struct buf b = {0};

	buf_adds(&b, "{\"_uuid\":\"bench\",\"_next\":\"bench-2\",\"entries\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			buf_addc(&b, ',');
		add_entry(&b, (unsigned)i);
	}
	buf_adds(&b, "],\"not_synced\":false}");
	return buf_detach(&b);
}

static cJSON *parse(const char *text)
{
	struct json_opts opts = {0, 0, 0};
	struct fk_err err;
	cJSON *v;

	if (json_parse(text, strlen(text), &opts, &v, &err)) {
		fprintf(stderr, "diff-bench: %s\n", err.msg);
		exit(1);
	}
	return v;
}

/* A copy of old with 1% of the entries modified, 1% deleted, 1% moved and
 * 1% inserted, at random places.  Caller cJSON_Delete()s. */
static cJSON *changed_copy(const cJSON *old, int n)
{
	cJSON *page = cJSON_Duplicate(old, 1);
	cJSON *entries = cJSON_GetObjectItemCaseSensitive(page, "entries");
	cJSON **v = malloc(sizeof(*v) * (size_t)(n + n / 100 + 1));
	int m = 0, k = n / 100 ? n / 100 : 1;
	unsigned fresh = (unsigned)n;

	while (entries->child)
		v[m++] = cJSON_DetachItemViaPointer(entries, entries->child);
	for (int i = 0; i < k; i++) { /* modify */
		cJSON *e = v[rnd((uint32_t)m)];

		cJSON_ReplaceItemInObjectCaseSensitive(e, "title",
						       cJSON_CreateString("edited"));
	}
	for (int i = 0; i < k; i++) { /* delete */
		int at = (int)rnd((uint32_t)m);

		cJSON_Delete(v[at]);
		memmove(v + at, v + at + 1, sizeof(*v) * (size_t)(m - at - 1));
		m--;
	}
	for (int i = 0; i < k; i++) { /* move */
		int from = (int)rnd((uint32_t)m), to = (int)rnd((uint32_t)m);
		cJSON *e = v[from];

		memmove(v + from, v + from + 1, sizeof(*v) * (size_t)(m - from - 1));
		memmove(v + to + 1, v + to, sizeof(*v) * (size_t)(m - 1 - to));
		v[to] = e;
	}
	for (int i = 0; i < k; i++) { /* insert */
		int at = (int)rnd((uint32_t)m + 1);
		struct buf b = {0};

		add_entry(&b, fresh++);
		memmove(v + at + 1, v + at, sizeof(*v) * (size_t)(m - at));
		v[at] = parse(b.p);
		buf_release(&b);
		m++;
	}
	for (int i = 0; i < m; i++) {
		v[i]->next = v[i]->prev = NULL;
		cJSON_AddItemToArray(entries, v[i]);
	}
	free(v);
	return page;
}

static void bench(int n)
{
	char *text = page_text(n);
	cJSON *old = parse(text), *new = changed_copy(old, n), *d = NULL;
	double tp[RUNS], td[RUNS], tr[RUNS], mp, md, mr;
	struct fk_err err;
	int steps = 0;

	for (int i = 0; i < RUNS; i++) {
		double t0 = now_ms();
		cJSON *p = parse(text);

		tp[i] = now_ms() - t0;
		cJSON_Delete(p);
	}
	for (int i = 0; i < RUNS; i++) {
		double t0;

		cJSON_Delete(d); /* the previous run's */
		t0 = now_ms();
		if (diff_pages(old, new, &d, &err)) {
			fprintf(stderr, "diff-bench: %s\n", err.msg);
			exit(1);
		}
		td[i] = now_ms() - t0;
	}
	steps = cJSON_GetArraySize(d);
	for (int i = 0; i < RUNS; i++) {
		cJSON *p = cJSON_Duplicate(old, 1);
		double t0 = now_ms();

		if (diff_replay(p, d, &err)) {
			fprintf(stderr, "diff-bench: %s\n", err.msg);
			exit(1);
		}
		tr[i] = now_ms() - t0;
		if (i == 0 && !json_equal(p, new)) {
			fprintf(stderr, "diff-bench: replay(old, diff) != new at n=%d\n", n);
			exit(1);
		}
		cJSON_Delete(p);
	}
	mp = median(tp);
	md = median(td);
	mr = median(tr);
	printf("diff n=%d median=%.1f ms (%.0f ns/entry); replay median=%.1f ms "
	       "(%.0f ns/entry, %d steps); parse median=%.1f ms (%.0f ns/entry); "
	       "diff/parse=%.2f\n",
	       n, md, md * 1e6 / n, mr, mr * 1e6 / n, steps, mp, mp * 1e6 / n,
	       md / mp);
	cJSON_Delete(d);
	cJSON_Delete(old);
	cJSON_Delete(new);
	free(text);
}

int main(void)
{
	bench(1000);
	bench(10000);
	bench(100000);
	return 0;
}
