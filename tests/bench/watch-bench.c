/*
 * watch-bench.c - how quickly a change reaches a `flokvm watch`, and what
 * an idle watcher costs.
 *
 * usage: watch-bench FLOKVM [WRITES]
 *
 * The benchmark commits writes in-process through the store library (so
 * the clock starts when the commit has returned) while a real `flokvm
 * watch` child prints them; the clock stops when the line is read from its
 * stdout.  The baseline in the same run is the commit itself.  Then the
 * watcher sits idle for 10 s and its CPU time is read from /proc.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pager.h"
#include "services.h"
#include "settings.h"
#include "vm.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return v[i];
}

/* User + system CPU of a process, in clock ticks, from /proc. */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	long utime = 0, stime = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')'); /* fields after the command name */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
			 &utime, &stime) != 2)
		return -1;
	return utime + stime;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/flokvm-bench-XXXXXX", db[256], line[65536];
	struct services svc;
	struct settings set;
	struct vm vm;
	struct vm_write_opts wo = {.if_seq = -1, .if_hash = NULL};
	struct vm_page pg;
	struct fk_err err;
	int n = argc > 2 ? atoi(argv[2]) : 300, fds[2];
	double *lat, *commit;
	long t0, t1;
	pid_t pid;
	FILE *in;

	if (argc < 2 || n < 10) {
		fprintf(stderr, "usage: watch-bench FLOKVM [WRITES >= 10]\n");
		return 2;
	}
	lat = calloc((size_t)n, sizeof(double));
	commit = calloc((size_t)n, sizeof(double));
	if (!lat || !commit || !mkdtemp(dir))
		return 1;
	snprintf(db, sizeof(db), "%s/pages.db", dir);
	services_default(&svc);
	settings_defaults(&set);
	vm_init(&vm, db, &svc, &set);
	if (vm_write(&vm, "user", "k", "{\"entries\":[]}", 14, &wo, &pg, &err)) {
		fprintf(stderr, "write: %s\n", err.msg);
		return 1;
	}
	vm_page_release(&pg);

	if (pipe(fds))
		return 1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		setenv("HOME", dir, 1);
		execl(argv[1], argv[1], "--db", db, "watch", "user", "k", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	if (!fgets(line, sizeof(line), in)) /* the cached copy */
		return 1;
	for (int i = 0; i < n; i++) {
		char page[64];
		double start, done;

		snprintf(page, sizeof(page), "{\"entries\":[],\"v\":%d}", i);
		start = now_ms();
		if (vm_write(&vm, "user", "k", page, strlen(page), &wo, &pg, &err)) {
			fprintf(stderr, "write: %s\n", err.msg);
			return 1;
		}
		done = now_ms();
		vm_page_release(&pg);
		if (!fgets(line, sizeof(line), in)) {
			fprintf(stderr, "watch ended early\n");
			return 1;
		}
		lat[i] = now_ms() - done;
		commit[i] = done - start;
		usleep((useconds_t)(1000 + rand() % 4000)); /* writes arrive apart */
	}
	qsort(lat, (size_t)n, sizeof(double), cmp_double);
	qsort(commit, (size_t)n, sizeof(double), cmp_double);
	printf("watch latency (commit -> line read), %d writes: median %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       n, pct(lat, n, 0.5), pct(lat, n, 0.99), lat[n - 1]);
	printf("baseline, the commit itself (synchronous=FULL): median %.2f ms, p99 %.2f ms; latency/commit %.2f\n",
	       pct(commit, n, 0.5), pct(commit, n, 0.99), pct(lat, n, 0.5) / pct(commit, n, 0.5));

	t0 = cpu_ticks(pid);
	sleep(10);
	t1 = cpu_ticks(pid);
	printf("idle watcher over 10 s: %ld clock ticks = %.3f%% of one CPU\n", t1 - t0,
	       100.0 * (double)(t1 - t0) / (double)sysconf(_SC_CLK_TCK) / 10.0);

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	fclose(in);
	vm_release(&vm);
	services_release(&svc);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	free(lat);
	free(commit);
	return 0;
}
