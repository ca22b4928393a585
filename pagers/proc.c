/*
 * proc.c - running a program (see proc.h).
 *
 * fork() rather than posix_spawn(): the child has to leave our process
 * group, reset every signal and close stray descriptors, and a few lines
 * of straight code after fork() say that more plainly than spawn
 * attributes.  The child reports a failed chdir() or exec through a
 * close-on-exec pipe, so the parent learns "not found" as an errno
 * instead of guessing from exit status 127.
 *
 * The parent then runs one poll() loop over non-blocking pipes: stdin is
 * written while stdout and stderr are read, so neither side can fill a
 * pipe and wait on the other.  When the deadline passes it stops reading
 * (a grandchild may hold the pipes open forever) and stops the group.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "proc.h"

extern char **environ;

#define PROC_KILL_GRACE_MS 1000 /* from SIGTERM to SIGKILL */
#define PROC_CHUNK 65536
#ifndef NSIG
#define NSIG 65
#endif

/* Why the child could not exec, sent through the status pipe. */
enum child_stage { CHILD_SETUP, CHILD_CHDIR, CHILD_EXEC };
struct child_fail {
	int stage;
	int errnum;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL); /* EINTR: the caller's loop re-checks */
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Our environment with each "NAME=value" of extra replacing NAME.  The
 * array is the caller's to free; the strings stay borrowed. */
static char **env_build(char *const *extra)
{
	size_t n = 0, k = 0, i, j = 0, x, len;
	char **env;
	bool replaced;

	while (environ && environ[n])
		n++;
	while (extra && extra[k])
		k++;
	env = calloc(n + k + 1, sizeof(*env));
	if (!env)
		abort();
	for (i = 0; i < n; i++) {
		replaced = false;
		for (x = 0; x < k && !replaced; x++) {
			len = strcspn(extra[x], "=") + 1;
			replaced = !strncmp(environ[i], extra[x], len);
		}
		if (!replaced)
			env[j++] = environ[i];
	}
	for (x = 0; x < k; x++)
		env[j++] = extra[x];
	return env;
}

/* Marks every descriptor from low up close-on-exec: flokvm's own are
 * already, but a library or our parent may have left some inheritable.
 * Without close_range() (Linux < 5.11) the loop stops at 65536: one
 * fcntl() per possible descriptor up to a large limit costs more than a
 * page read should. */
static void cloexec_from(int low)
{
	struct rlimit rl;
	long fd, max = 65536;

#ifdef CLOSE_RANGE_CLOEXEC
	if (close_range((unsigned)low, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)max)
		max = (long)rl.rlim_cur;
	for (fd = low; fd < max; fd++)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

/* The child after fork(): only async-signal-safe calls from here on.
 * src holds its stdin, stdout and stderr; st is the status pipe. */
static _Noreturn void child_run(const struct proc_spec *spec, int src[3],
				int st, char **env)
{
	struct child_fail f = {CHILD_SETUP, 0};
	struct sigaction sa;
	sigset_t none;
	ssize_t n;
	int i;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 1; i < NSIG; i++)
		sigaction(i, &sa, NULL); /* fails harmlessly for KILL, STOP */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Lift all three above 2 before placing them: when flokvm itself was
	 * started with 0, 1 or 2 closed, a pipe may sit on one of them. */
	for (i = 0; i < 3; i++)
		if ((src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3)) < 0)
			goto fail;
	for (i = 0; i < 3; i++)
		if (dup2(src[i], i) < 0)
			goto fail;
	cloexec_from(3);
	f.stage = CHILD_CHDIR;
	if (spec->cwd && chdir(spec->cwd) < 0)
		goto fail;
	f.stage = CHILD_EXEC;
	environ = env;
	execvp(spec->argv[0], spec->argv);
fail:
	f.errnum = errno;
	do
		n = write(st, &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

static int exit_status_of(const siginfo_t *si)
{
	return si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
}

/*
 * Waits for pid to exit until deadline (a now_ms() time; -1: no limit).
 * With reap false the child stays a zombie, which keeps its pid -- also
 * its group id -- from being reused while we still signal the group.
 * Returns true with *status set once it exited.  Polls with a growing
 * sleep: a SIGCHLD handler would be global state a library must not own.
 */
static bool wait_exit(pid_t pid, int64_t deadline, bool reap, int *status)
{
	int flags = WEXITED | (reap ? 0 : WNOWAIT) | (deadline < 0 ? 0 : WNOHANG);
	int64_t step = 1, left;
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, flags) == 0) {
			if (si.si_pid == pid) {
				*status = exit_status_of(&si);
				return true;
			}
		} else if (errno != EINTR) {
			*status = 255; /* gone already: nothing left to wait for */
			return true;
		} else {
			continue;
		}
		left = deadline - now_ms();
		if (left <= 0)
			return false;
		sleep_ms(step < left ? step : left);
		if (step < 50)
			step *= 2;
	}
}

/* SIGTERM to the group, SIGKILL a grace period later, then reaps.  The
 * SIGKILL goes out even when the child exited in time: what is left of
 * the group is nobody's business any more, and once the child is reaped
 * its group id may be reused, so now is the last safe moment. */
static int stop_group(pid_t pid)
{
	int status;

	if (pid <= 0) /* kill(-0) would be our own group */
		return 255;
	kill(-pid, SIGTERM);
	wait_exit(pid, now_ms() + PROC_KILL_GRACE_MS, false, &status);
	kill(-pid, SIGKILL);
	wait_exit(pid, -1, true, &status);
	return status;
}

/* Says why spawn() failed: stage is where (-1: in the parent, at what). */
static int spawn_failed(const struct proc_spec *spec, int stage,
			const char *what, int e, struct fk_err *err)
{
	const char *cmd = spec->argv[0];

	if (stage == CHILD_EXEC)
		return fk_fail(err, FK_ERUNTIME, "cannot run \"%s\": %s", cmd,
			       strerror(e));
	if (stage == CHILD_CHDIR)
		return fk_fail(err, FK_ERUNTIME,
			       "cannot run \"%s\": cannot change directory to \"%s\": %s",
			       cmd, spec->cwd, strerror(e));
	if (stage == CHILD_SETUP)
		what = "setting up the child";
	return fk_fail(err, FK_ERUNTIME, "cannot run \"%s\": %s: %s", cmd, what,
		       strerror(e));
}

/* Starts the child.  fds receives our ends: stdin (-1 without input),
 * stdout, stderr, all non-blocking. */
static int spawn(const struct proc_spec *spec, pid_t *pid, int fds[3],
		 struct fk_err *err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	int st[2] = {-1, -1}, i, e = 0, stage = -1, status;
	const char *what = "pipe";
	struct child_fail f;
	ssize_t n;

	if (!spec->in) {
		what = "/dev/null";
		in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in[0] < 0)
			e = errno;
	} else if (pipe2(in, O_CLOEXEC)) {
		e = errno;
	}
	if (!e && (pipe2(out, O_CLOEXEC) || pipe2(er, O_CLOEXEC) ||
		   pipe2(st, O_CLOEXEC))) {
		e = errno;
		what = "pipe";
	}
	if (!e) {
		char **env = env_build(spec->env_extra);
		int src[3] = {in[0], out[1], er[1]};

		*pid = fork();
		if (*pid == 0)
			child_run(spec, src, st[1], env);
		e = *pid < 0 ? errno : 0;
		what = "fork";
		free(env);
	}
	/* The child's ends must go before the read below: it sees end of
	 * file only when every copy of the write end is closed. */
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&er[1]);
	close_fd(&st[1]);
	if (!e) {
		do
			n = read(st[0], &f, sizeof(f));
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)sizeof(f)) {
			wait_exit(*pid, -1, true, &status);
			e = f.errnum ? f.errnum : EIO;
			stage = f.stage;
		}
	}
	close_fd(&st[0]);
	fds[0] = in[1];
	fds[1] = out[0];
	fds[2] = er[0];
	if (e) {
		for (i = 0; i < 3; i++)
			close_fd(&fds[i]);
		return spawn_failed(spec, stage, what, e, err);
	}
	for (i = 0; i < 3; i++)
		if (fds[i] >= 0)
			fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	return FK_OK;
}

/* Reads what fd has into b, keeping at most max bytes and flagging the
 * rest in *over.  Closes fd at end of file or on an error. */
static void drain(int *fd, struct buf *b, size_t max, bool *over)
{
	char chunk[PROC_CHUNK];
	ssize_t n = read(*fd, chunk, sizeof(chunk));
	size_t keep;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close_fd(fd);
		return;
	}
	keep = max - b->len < (size_t)n ? max - b->len : (size_t)n;
	buf_add(b, chunk, keep);
	if (keep < (size_t)n)
		*over = true;
}

/* Feeds stdin and drains stdout and stderr until all three are closed
 * (returns 0), the deadline passes (1) or poll() fails (-1, errno set). */
static int pump(const struct proc_spec *spec, int fds[3], int64_t deadline,
		struct buf *out, struct buf *errb, bool *over)
{
	struct pollfd pfd[3];
	int which[3], i, n, nfds, timeout;
	size_t off = 0;
	bool err_over = false;
	int64_t left;
	ssize_t w;

	for (;;) {
		for (nfds = 0, i = 0; i < 3; i++)
			if (fds[i] >= 0) {
				pfd[nfds] = (struct pollfd){fds[i], i ? POLLIN : POLLOUT, 0};
				which[nfds++] = i;
			}
		if (!nfds)
			return 0;
		timeout = -1;
		if (deadline >= 0) {
			left = deadline - now_ms();
			if (left <= 0)
				return 1;
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		n = poll(pfd, (nfds_t)nfds, timeout);
		if (n < 0 && errno != EINTR)
			return -1;
		for (i = 0; n > 0 && i < nfds; i++) {
			if (!pfd[i].revents)
				continue;
			if (which[i] == 1) {
				drain(&fds[1], out, spec->max_out, over);
				continue;
			}
			if (which[i] == 2) {
				drain(&fds[2], errb, PROC_ERR_MAX, &err_over);
				continue;
			}
			w = write(fds[0], spec->in + off, spec->in_len - off);
			if (w > 0)
				off += (size_t)w;
			/* EPIPE: the child is done with its input, which is its
			 * business; its exit status tells the rest. */
			if ((w < 0 && errno != EINTR && errno != EAGAIN) ||
			    off == spec->in_len)
				close_fd(&fds[0]);
		}
	}
}

static bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

int proc_run(const struct proc_spec *spec, struct proc_result *res,
	     struct fk_err *err)
{
	struct buf out = {0}, errb = {0};
	struct sigaction ign, old_pipe;
	int64_t deadline = -1;
	int fds[3], i, rc, e, status = 255;
	bool done = false;
	pid_t pid = 0;

	memset(res, 0, sizeof(*res));
	if (!spec->argv || !spec->argv[0] || !spec->argv[0][0])
		return fk_fail(err, FK_ERUNTIME, "cannot run an empty command");
	if (spec->timeout_ms > 0)
		deadline = now_ms() + spec->timeout_ms;
	rc = spawn(spec, &pid, fds, err);
	if (rc)
		return rc;
	/* A child that exits without reading its input must give us EPIPE,
	 * not kill flokvm. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old_pipe);
	rc = pump(spec, fds, deadline, &out, &errb, &res->out_overflow);
	e = errno;
	sigaction(SIGPIPE, &old_pipe, NULL);
	for (i = 0; i < 3; i++)
		close_fd(&fds[i]);
	if (rc == 0)
		done = wait_exit(pid, deadline, true, &status);
	if (!done) {
		res->timed_out = rc >= 0;
		status = stop_group(pid);
	}
	if (rc < 0) {
		buf_release(&out);
		buf_release(&errb);
		res->out_overflow = false;
		return fk_fail(err, FK_ERUNTIME, "running \"%s\": poll: %s",
			       spec->argv[0], strerror(e));
	}
	res->exit_status = status;
	buf_grow(&out, 0); /* out and err_text are strings even when empty */
	res->out_len = out.len;
	res->out = buf_detach(&out);
	buf_grow(&errb, 0);
	while (errb.len && is_space(errb.p[errb.len - 1]))
		errb.p[--errb.len] = '\0';
	res->err_text = buf_detach(&errb);
	return FK_OK;
}

void proc_result_release(struct proc_result *res)
{
	free(res->out);
	free(res->err_text);
	memset(res, 0, sizeof(*res));
}
