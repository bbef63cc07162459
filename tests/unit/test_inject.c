// SPDX-License-Identifier: GPL-2.0
/*
 * pidref and inject on real processes: a pid recycled to another process
 * is never acted on (the old pidref says it is gone, reopens no directory
 * of the newcomer's, and inject refuses it without stopping the newcomer), and injected calls that return, hang or
 * fault end within their deadlines with the thread given back untraced.
 *
 * Runs as pid 1 of a PID namespace of its own (with its own /proc), where
 * nothing else forks: there the next pid is set through ns_last_pid, so a
 * pid is recycled on purpose. Needs root; skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "inject.h"
#include "proc.h"

/* Called in a child through inject: never returns. */
__attribute__((noinline)) void spin_forever(void)
{
	for (;;)
		__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) long add3(long a, long b, long c)
{
	return a + b + c;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A child that sleeps in pause() until killed. */
static pid_t sleeper(void)
{
	pid_t c = fork();

	if (c == 0) {
		for (;;)
			pause();
	}
	usleep(20000);	/* let it reach pause() */
	return c;
}

/* "State" letter and TracerPid of @pid. */
static void state_of(pid_t pid, char *state, int *tracer)
{
	char path[64], buf[4096], *s;
	ssize_t n;
	int fd;

	*state = '?';
	*tracer = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	if ((s = strstr(buf, "\nState:")))
		sscanf(s + 7, " %c", state);
	if ((s = strstr(buf, "\nTracerPid:")))
		*tracer = atoi(s + 11);
}

/* As state_of(), once it is asleep again (it may still be on its way
 * back into pause() right after a call): up to half a second. */
static void settled_state(pid_t pid, char *state, int *tracer)
{
	int i;

	for (i = 0; i < 50; i++) {
		state_of(pid, state, tracer);
		if (*state == 'S')
			return;
		usleep(10000);
	}
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}

static void test_recycled_pid(void)
{
	struct inject_opts o = { .patience_ms = 200, .deadline_ms = 200,
				 .stack_need = 4096 };
	struct inject_call c = { .fn = (uint64_t)(uintptr_t)add3, .nargs = 3,
				 .args = { 1, 2, 3 } };
	struct pidref old = PIDREF_NONE, now = PIDREF_NONE;
	struct proc_ids ids;
	char why[256], st;
	int64_t ret = 0;
	pid_t a, b = 0;
	int tracer, tries, fd, r;

	a = sleeper();
	r = pidref__open(a, &old);
	CHECK(r == 0, "pidref__open(%d): %d", a, r);
	if (r < 0)
		return;
	CHECK(pidref__alive(&old), "alive");
	CHECK(proc__read_ids_at(old.dirfd, &ids) == 0 && ids.tgid == a,
	      "ids through the pidref");
	reap(a);
	CHECK(!pidref__alive(&old), "alive after its end");

	/* The next fork gets a's pid again. */
	for (tries = 0; tries < 10 && b != a; tries++) {
		fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
		if (fd >= 0) {
			dprintf(fd, "%d", a - 1);
			close(fd);
		}
		b = sleeper();
		if (b != a) {
			reap(b);
			b = 0;
		}
	}
	CHECK(b == a, "pid %d not recycled (got %d)", a, b);
	if (b != a)
		goto out;
	CHECK(!pidref__alive(&old), "the old pidref alive for the newcomer");
	r = proc__read_ids_at(old.dirfd, &ids);
	CHECK(r == -ESRCH, "the old /proc directory reads the newcomer: %d", r);
	/* Reopening the held process's directory (continuous mode closes it
	 * between checks) names /proc/PID, now the newcomer's: refused. */
	close(old.dirfd);
	old.dirfd = -1;
	r = pidref__open_dir(&old);
	CHECK(r == -ESRCH && old.dirfd == -1,
	      "the old pidref reopened /proc/%d of the newcomer: %d", a, r);
	r = inject__call(&old, &o, &c, &ret, why, sizeof(why));
	CHECK(r == -ESRCH, "inject on the recycled pid: %d (%s)", r, why);
	state_of(b, &st, &tracer);
	CHECK(tracer == 0 && st == 'S', "the newcomer was touched: state %c, tracer %d",
	      st, tracer);
	/* The newcomer through a pidref of its own: a call works. */
	r = pidref__open(b, &now);
	CHECK(r == 0 && pidref__alive(&now), "pidref of the newcomer: %d", r);
	r = inject__call(&now, &o, &c, &ret, why, sizeof(why));
	CHECK(r == 0 && ret == 6, "a call in the newcomer: %d (%s), returned %lld",
	      r, why, (long long)ret);
	settled_state(b, &st, &tracer);
	CHECK(tracer == 0 && st == 'S', "after the call: state %c, tracer %d",
	      st, tracer);
out:
	pidref__close(&old);
	pidref__close(&now);
	if (b)
		reap(b);
}

static void test_hung_and_faulting_calls(void)
{
	struct inject_opts o = { .patience_ms = 500, .deadline_ms = 300,
				 .stack_need = 4096 };
	struct inject_call hang = { .fn = (uint64_t)(uintptr_t)spin_forever };
	struct inject_call fault = { .fn = 0x10 };	/* not mapped */
	struct inject_call ok = { .fn = (uint64_t)(uintptr_t)add3, .nargs = 3,
				  .args = { 10, 20, 30 } };
	struct pidref p = PIDREF_NONE;
	char why[256], st;
	int64_t ret = 0;
	uint64_t t0;
	int tracer, r;
	pid_t c;

	c = sleeper();
	if (pidref__open(c, &p) < 0) {
		CHECK(0, "pidref__open");
		reap(c);
		return;
	}
	t0 = now_ms();
	r = inject__call(&p, &o, &hang, &ret, why, sizeof(why));
	CHECK(r == -ETIMEDOUT, "a call that never returns: %d (%s)", r, why);
	CHECK(now_ms() - t0 < 2000, "it took %llu ms",
	      (unsigned long long)(now_ms() - t0));
	CHECK(strstr(why, "did not return") != NULL, "why: %s", why);
	settled_state(c, &st, &tracer);
	CHECK(tracer == 0 && st == 'S', "after the hung call: state %c, tracer %d",
	      st, tracer);

	r = inject__call(&p, &o, &fault, &ret, why, sizeof(why));
	CHECK(r == -EFAULT && strstr(why, "faulted"), "a faulting call: %d (%s)",
	      r, why);
	settled_state(c, &st, &tracer);
	CHECK(tracer == 0 && st == 'S', "after the fault: state %c, tracer %d",
	      st, tracer);

	/* Put back where it was: it still works, and sleeps on. */
	r = inject__call(&p, &o, &ok, &ret, why, sizeof(why));
	CHECK(r == 0 && ret == 60, "a call after those: %d (%s) = %lld", r, why,
	      (long long)ret);
	CHECK(waitpid(c, NULL, WNOHANG) == 0, "the child died");
	pidref__close(&p);
	reap(c);
}

/* As pid 1 of its own PID namespace, with its own /proc. */
static int in_namespace(void)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0) {
		printf("SKIP: cannot mount a /proc for the namespace: %m\n");
		return 77;
	}
	test_recycled_pid();
	test_hung_and_faulting_calls();
	return check__done();
}

int main(void)
{
	pid_t c, init;
	int st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0)
		return check__skip("needs root (a PID namespace, ptrace)");
	/*
	 * A child makes the namespace: once its init has ended nobody can
	 * fork into it, and this process must still fork (a sanitizer's
	 * leak check does, at exit).
	 */
	c = fork();
	if (c < 0)
		return 1;
	if (c == 0) {
		if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
			printf("SKIP: cannot create a PID namespace: %m\n");
			_exit(CHECK_EXIT_SKIP);
		}
		init = fork();
		if (init == 0)
			exit(in_namespace());
		if (init < 0 || waitpid(init, &st, 0) != init || !WIFEXITED(st))
			_exit(1);
		_exit(WEXITSTATUS(st));
	}
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st))
		return 1;
	return WEXITSTATUS(st);
}
