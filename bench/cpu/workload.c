// SPDX-License-Identifier: GPL-2.0
/*
 * Deterministic CPU-bound workload for bench/cpu/run.sh.
 *
 *   workload ITERS          do ITERS rounds of integer hashing, then print
 *                           "wall_ns cpu_ns checksum" and exit
 *   workload 0              hash forever (a busy target for windows)
 *
 * The work is a fixed amount of integer hashing spread over a few
 * non-inlined function frames (so profiles have distinct stacks to
 * aggregate and frame pointers to walk). No memory traffic beyond the
 * stack, no syscalls inside the timed section.
 *
 * Start protocol: the process blocks SIGUSR1, prints "ready <pid>" on
 * stdout, and waits for SIGUSR1 before it starts the clock; the harness
 * attaches its profiler in between, so attach cost is never timed.
 * With -n the workload starts at once.
 *
 * Build: cc -O2 -g -fno-omit-frame-pointer workload.c -o workload
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static volatile uint64_t sink;

static uint64_t now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* splitmix64 finalizer and a murmur-style mixer: pure integer work. */
NOINLINE static uint64_t hash_a(uint64_t x, unsigned n)
{
	while (n--) {
		x += 0x9e3779b97f4a7c15ULL;
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
		x ^= x >> 31;
	}
	return x;
}

NOINLINE static uint64_t hash_b(uint64_t x, unsigned n)
{
	while (n--) {
		x ^= x >> 33;
		x *= 0xff51afd7ed558ccdULL;
		x ^= x >> 33;
		x *= 0xc4ceb9fe1a85ec53ULL;
		x ^= x >> 33;
		x += n;
	}
	return x;
}

NOINLINE static uint64_t hash_c(uint64_t x, unsigned n)
{
	while (n--)
		x = (x << 13 | x >> 51) * 5 + 0xe6546b64 + n;
	return x;
}

NOINLINE static uint64_t inner(uint64_t x)
{
	x = hash_a(x, 400);
	x = hash_b(x, 300);
	return hash_c(x, 300);
}

NOINLINE static uint64_t middle(uint64_t x)
{
	x = inner(x);
	return hash_a(x ^ 0x5bd1e995, 200);
}

NOINLINE static uint64_t outer(uint64_t x, uint64_t i)
{
	/* Two call paths into the same leaves. */
	if (i & 1)
		return middle(x);
	return inner(x + i);
}

int main(int argc, char **argv)
{
	uint64_t iters, i, x = 42, w0, c0, w1, c1;
	int wait = 1, a = 1, sig;
	sigset_t set;

	if (argc > 1 && !strcmp(argv[1], "-n")) {
		wait = 0;
		a++;
	}
	if (a >= argc) {
		fprintf(stderr, "usage: %s [-n] ITERS (0: forever)\n", argv[0]);
		return 2;
	}
	iters = strtoull(argv[a], NULL, 10);
	if (wait) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		if (sigwait(&set, &sig))
			return 1;
	}
	w0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; !iters || i < iters; i++)
		x = outer(x, i);
	c1 = now(CLOCK_PROCESS_CPUTIME_ID);
	w1 = now(CLOCK_MONOTONIC);
	sink = x;
	printf("%llu %llu %016llx\n", (unsigned long long)(w1 - w0),
	       (unsigned long long)(c1 - c0), (unsigned long long)x);
	return 0;
}
