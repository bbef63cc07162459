/*
 * DWARF-unwinding workloads, built -O2 -fomit-frame-pointer (no frame
 * pointers anywhere, like Debian's libraries and gcc's default -O2).
 *   nofp SECONDS chain     main -> run -> dispatch -> work -> hot_a/hot_b, 3:1
 *   nofp SECONDS threads   the chain in two threads named "nfworker"
 *   nofp SECONDS qsort     hot inside a comparator called by libc's qsort
 *   nofp SECONDS deep      hot at the bottom of a 3000-deep recursion
 *   nofp SECONDS deep100   hot at the bottom of a 100-deep recursion of
 *                          ~300-byte frames (~30 KiB of stack): whole
 *   nofp SECONDS signal    hot in a SIGALRM handler that interrupts victim()
 * Prints "nofp ready" once running. Markers name lines the test checks.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "common.h"

/* Of irregular length (E2E_VARY): fixed-length rounds alias with the
 * sampling rate. */
#define NOFP_SPIN(units)                                                    \
	do {                                                                \
		unsigned long _x = 88172645463325252UL;                     \
		unsigned long _m = E2E_VARY((unsigned long)(units) * 4096UL); \
		for (unsigned long _i = 0; _i < _m; _i++) {                 \
			_x = _x * 6364136223846793005UL + 1442695040888963407UL; \
			__asm__ volatile("" : "+r"(_x));                    \
		}                                                           \
		nofp_sink += _x;                                            \
	} while (0)

static volatile unsigned long nofp_sink;
static double deadline;

#include <time.h>
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void hot_a(void) { NOFP_SPIN(300); }
__attribute__((noinline)) void hot_b(void) { NOFP_SPIN(100); }

/* Calls are not the last thing done (the += after), so no tail calls. */
__attribute__((noinline)) int work(int i)
{
	if (i & 1)
		hot_a();
	else
		hot_b();
	return i + (int)nofp_sink;
}

__attribute__((noinline)) int dispatch(int i) { return work(i) + 1; }
__attribute__((noinline)) int run(int i) { return dispatch(i) * 2; }

static void *worker(void *arg)
{
	int i = 0;

	while (now() < deadline)
		nofp_sink += (unsigned long)run(i++);
	return arg;
}

static int cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	NOFP_SPIN(1);	/* MARK_CMP */
	return (x > y) - (x < y);
}

__attribute__((noinline)) void sort_some(int *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = rand();
	qsort(v, n, sizeof(*v), cmp);
	nofp_sink += (unsigned long)v[0];
}

__attribute__((noinline)) unsigned long recurse(int depth)
{
	volatile char pad[48];

	pad[0] = (char)depth;
	if (depth == 0) {
		NOFP_SPIN(50);
		return nofp_sink;
	}
	return recurse(depth - 1) + (unsigned long)pad[0];
}

/* 256 bytes of locals per frame, as a recursive-descent parser's or an
 * interpreter's: 100 of them need ~30 KiB of stack copied. */
__attribute__((noinline)) unsigned long descend(int depth)
{
	volatile char buf[256];

	buf[depth & 255] = (char)depth;
	if (depth == 0) {
		NOFP_SPIN(50);	/* MARK_DESCEND */
		return nofp_sink;
	}
	return descend(depth - 1) + (unsigned long)buf[depth & 255];
}

/* Runs on the signal frame the kernel pushes on victim's stack: unwinding
 * must cross glibc's __restore_rt (CFI with expressions for every register)
 * back into victim at the interrupted pc, then to main. */
static void on_alarm(int sig)
{
	NOFP_SPIN(150);	/* MARK_HANDLER */
	(void)sig;
}

__attribute__((noinline)) void victim(void)
{
	while (now() < deadline)
		NOFP_SPIN(1);
}

static void signal_mode(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { { 0, 4000 }, { 0, 4000 } };

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	victim();
	it.it_value.tv_usec = it.it_interval.tv_usec = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "chain";
	int i = 0;

	deadline = now() + (argc > 1 ? atof(argv[1]) : 60);
	printf("nofp ready\n");
	fflush(stdout);
	if (!strcmp(mode, "threads")) {
		pthread_t t[2];

		for (i = 0; i < 2; i++) {
			pthread_create(&t[i], NULL, worker, NULL);
			pthread_setname_np(t[i], "nfworker");
		}
		for (i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
	} else if (!strcmp(mode, "qsort")) {
		int *v = malloc(2000 * sizeof(*v));

		while (now() < deadline)
			sort_some(v, 2000);
		free(v);
	} else if (!strcmp(mode, "signal")) {
		signal_mode();
	} else if (!strcmp(mode, "deep100")) {
		while (now() < deadline)
			nofp_sink += descend(99);
	} else if (!strcmp(mode, "deep")) {
		while (now() < deadline)
			nofp_sink += recurse(3000);
	} else {
		while (now() < deadline)
			nofp_sink += (unsigned long)run(i++);
	}
	return 0;
}
