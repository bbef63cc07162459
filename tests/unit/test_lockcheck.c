// SPDX-License-Identifier: GPL-2.0
/*
 * lockcheck: lock__assert_held() passes for the thread that holds the
 * mutex and aborts for one that does not (unlocked, or held by another
 * thread), in the debug builds that define PROFD_LOCK_CHECK (defined here).
 */
#define PROFD_LOCK_CHECK 1
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "lockcheck.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static int ready[2];

/* How the child that runs @fn ends: its exit status, or -signal. */
static int in_child(void (*fn)(void))
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		/* Its report goes to stderr: not the test's output. */
		(void)!freopen("/dev/null", "w", stderr);
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1000;
	return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

static void holding(void)
{
	pthread_mutex_lock(&m);
	lock__assert_held(&m);
	pthread_mutex_unlock(&m);
}

static void not_holding(void)
{
	lock__assert_held(&m);
}

static void *holder(void *arg)
{
	pthread_mutex_lock(&held);
	(void)!write(ready[1], "", 1);	/* held now */
	pause();
	return arg;
}

static void another_holds(void)
{
	pthread_t t;
	char c;

	if (pipe(ready) || pthread_create(&t, NULL, holder, NULL))
		_exit(3);
	if (read(ready[0], &c, 1) != 1)	/* until the holder has it */
		_exit(3);
	lock__assert_held(&held);
}

int main(void)
{
	int r;

	r = in_child(holding);
	CHECK(r == 0, "holder asserted: %d", r);
	r = in_child(not_holding);
	CHECK(r == -SIGABRT, "unlocked mutex: %d", r);
	r = in_child(another_holds);
	CHECK(r == -SIGABRT, "held by another thread: %d", r);
	return check__done();
}
