/*
 * hash-bench.c - what hashing and normalisation cost, against the bare
 * cost of parsing the same page (the baseline, same run).
 *
 * usage: hash-bench [ENTRIES]   (default 100000)
 *
 * Builds a page of ENTRIES entries of ~100 bytes, then times (median of
 * 7): json_parse alone; page_parse (parse + validate); page_normalise
 * against the stored copy (the rewrite case); page_hash alone.  Prints
 * ns per entry and the share of validation + normalisation + hashing in
 * a parse-validate-normalise-hash pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "page.h"

#define RUNS 7

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(double), cmp);
	return v[RUNS / 2];
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	struct page_limits lim = {1u << 30, 64, 1024};
	struct json_opts jo = {64, 0, 0};
	double parse[RUNS], validate[RUNS], norm[RUNS], hash[RUNS];
	struct buf text = {0};
	struct fk_err err;
	cJSON *stored = NULL;
	volatile uint32_t sink = 0;

	buf_adds(&text, "{\"_uuid\":\"p\",\"_next\":\"p2\",\"entries\":[");
	for (int i = 0; i < n; i++)
		buf_printf(&text, "%s{\"_uuid\":\"e%07d\",\"_timestamp\":\"%lld\",\"title\":\"entry number %d of the page\",\"n\":%d}",
			   i ? "," : "", i, 1433865600000LL + i, i, i);
	buf_adds(&text, "]}");
	if (page_parse(text.p, text.len, "p", PAGE_FROM_USER, &lim, &stored, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	page_normalise(stored, NULL, 1);
	for (int r = 0; r < RUNS; r++) {
		cJSON *v = NULL;
		double t0 = now_ns(), t1, t2, t3;

		json_parse(text.p, text.len, &jo, &v, &err);
		t1 = now_ns();
		cJSON_Delete(v);
		v = NULL;
		t2 = now_ns();
		page_parse(text.p, text.len, "p", PAGE_FROM_USER, &lim, &v, &err);
		t3 = now_ns();
		parse[r] = t1 - t0;
		validate[r] = t3 - t2;
		t0 = now_ns();
		page_normalise(v, stored, 2);
		norm[r] = now_ns() - t0;
		t0 = now_ns();
		sink ^= page_hash(v);
		hash[r] = now_ns() - t0;
		cJSON_Delete(v);
	}
	{
		double p = median(parse), v = median(validate), no = median(norm), h = median(hash);

		printf("page of %d entries, %zu bytes of JSON\n", n, text.len);
		printf("baseline, json_parse alone: median %.1f ms (%.0f ns/entry)\n", p / 1e6, p / n);
		printf("page_parse (parse + validate): median %.1f ms (%.0f ns/entry); validation adds %.0f%%\n",
		       v / 1e6, v / n, 100.0 * (v - p) / p);
		printf("page_normalise against the stored copy: median %.1f ms (%.0f ns/entry)\n", no / 1e6,
		       no / n);
		printf("page_hash: median %.2f ms (%.1f ns/entry)\n", h / 1e6, h / n);
		printf("validate + normalise + hash = %.0f%% of a parse-validate-normalise-hash pass\n",
		       100.0 * (v - p + no + h) / (v + no + h));
	}
	cJSON_Delete(stored);
	buf_release(&text);
	return (int)(sink & 0);
}
