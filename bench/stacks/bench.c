// SPDX-License-Identifier: GPL-2.0
/*
 * The stack interning's cost per call: aggregate__add() (a CPU sample,
 * user + 16 kernel frames) and heap_stacks__intern() (an allocation
 * stack), 1 Mi calls over 4000 stacks of 8-55 frames, skewed so that most
 * hit a few stacks, as profiles do. CPU time of this thread, best of
 * ROUNDS. Built twice by run.sh: against a base revision and the tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
#include <errno.h>
#include "aggregate.h"
#include "heap_stacks.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static uint64_t rng = 88172645463325252ULL;
static uint64_t xr(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

#define NST 4000
#define DEPTH 48
static uint64_t st[NST][DEPTH + 16];
static unsigned len[NST];
static unsigned seq[1 << 20];

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5, r, i;
	double best_a = 1e9, best_h = 1e9;

	for (i = 0; i < NST; i++) {
		len[i] = 8 + xr() % DEPTH;
		for (unsigned k = 0; k < len[i] + 16; k++)
			st[i][k] = 0x7f0000000000ULL + (xr() % 100000) * 16;
	}
	for (i = 0; i < (1 << 20); i++) {	/* skewed: most samples on few stacks */
		uint64_t x = xr() % NST;
		seq[i] = (unsigned)(x * x / NST) % NST;
	}
	for (r = 0; r < rounds; r++) {
		struct aggregate *a;
		double t0 = now();
#ifdef AGG_NEW_PTR	/* before 0/-errno constructors */
		a = aggregate__new(100000);
#else
		aggregate__new(100000, &a);
#endif
		for (i = 0; i < (1 << 20); i++) {
			unsigned s = seq[i];
			aggregate__add(a, 1000 + s % 7, "worker", 0, st[s], len[s], st[s] + len[s], 16, 1, 10101010);
		}
		double t = (now() - t0) / (1 << 20) * 1e9;
		if (t < best_a) best_a = t;
		aggregate__free(a);

		struct heap_stacks hs = {};
		uint32_t idx;
		t0 = now();
		for (i = 0; i < (1 << 20); i++) {
			unsigned s = seq[i];
			heap_stacks__intern(&hs, st[s], len[s], false, &idx);
		}
		t = (now() - t0) / (1 << 20) * 1e9;
		if (t < best_h) best_h = t;
		heap_stacks__fini(&hs);
	}
	printf("%s aggregate__add %.1f ns  heap_stacks__intern %.1f ns (best of %d)\n",
	       LABEL,
	       best_a, best_h, rounds);
	return 0;
}
