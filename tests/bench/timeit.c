/*
 * timeit.c - runs a command many times and prints its median wall time.
 *
 * usage: timeit [-n RUNS] [-i STDIN-FILE] [-l LABEL] -- COMMAND ARGS...
 *
 * An argument "%d" (exactly) is replaced by the run's number, so that
 * each run can, say, write a page of its own.
 * Prints "LABEL: median M ms, p90 P ms over N runs" and, on the last
 * line, the bare median in ms (for scripts).  The command's stdout and
 * stderr go to /dev/null; a run that exits non-zero fails the whole
 * measurement (a benchmark of a failing command measures nothing).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *in = NULL, *label = "run";
	int runs = 200, i, opt;
	double *t;

	while ((opt = getopt(argc, argv, "n:i:l:")) != -1) {
		if (opt == 'n')
			runs = atoi(optarg);
		else if (opt == 'i')
			in = optarg;
		else if (opt == 'l')
			label = optarg;
		else
			return 2;
	}
	if (optind >= argc || runs < 1) {
		fprintf(stderr, "usage: timeit [-n RUNS] [-i FILE] [-l LABEL] -- CMD...\n");
		return 2;
	}
	t = calloc((size_t)runs, sizeof(double));
	for (i = 0; i < runs; i++) {
		double start = now_ms();
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			int null = open("/dev/null", O_RDWR);
			char num[16];

			snprintf(num, sizeof(num), "%d", i);
			for (int a = optind; a < argc; a++)
				if (!strcmp(argv[a], "%d"))
					argv[a] = num;
			int fd = in ? open(in, O_RDONLY) : null;

			dup2(fd, 0);
			dup2(null, 1);
			dup2(null, 2);
			execvp(argv[optind], argv + optind);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		t[i] = now_ms() - start;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "timeit: %s: run %d failed (status %d)\n", label, i, status);
			return 1;
		}
	}
	qsort(t, (size_t)runs, sizeof(double), cmp);
	printf("%s: median %.3f ms, p90 %.3f ms over %d runs\n", label, t[runs / 2],
	       t[(runs * 9) / 10], runs);
	printf("%.3f\n", t[runs / 2]);
	free(t);
	return 0;
}
