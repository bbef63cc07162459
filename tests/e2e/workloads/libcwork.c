/* libcwork: time spent inside libc — qsort with a comparator (libc's
 * static msort_with_tmp calls back into cmp_int) and memcpy of large
 * buffers. Built -O2 -g, then stripped with its debug info moved to a
 * directory only the test's debuginfod server serves. -DVARIANT=N builds
 * copies with their own build-ids (dwz shares their DWARF).
 * Usage: libcwork [seconds] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define N_INTS 65536
#define N_BYTES (8 << 20)

static int ints[N_INTS];
static char src[N_BYTES], dst[N_BYTES];

/* Inlined into cmp_int: with dwz, its abstract instance is shared with
 * the other variant and moves to the alternate file. */
static inline __attribute__((always_inline)) int three_way(int x, int y)
{
	return (x > y) - (x < y); /* LINE_CMP */
}

static int cmp_int(const void *a, const void *b)
{
	return three_way(*(const int *)a, *(const int *)b);
}

__attribute__((noinline)) static void sort_work(void)
{
	for (int i = 0; i < N_INTS; i++)
		ints[i] = rand();
	qsort(ints, N_INTS, sizeof(ints[0]), cmp_int); /* LINE_QSORT */
}

__attribute__((noinline)) static void copy_work(void)
{
	for (int k = 0; k < 8; k++) {
		memcpy(dst, src, N_BYTES); /* LINE_MEMCPY */
		src[k] = dst[N_BYTES - 1 - k];
	}
}

int main(int argc, char **argv)
{
	double deadline = e2e_deadline(argc, argv);

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(src, 1, sizeof(src));
	printf("libcwork ready\n");
	do {
		sort_work();
		copy_work();
	} while (!e2e_expired(deadline));
#ifndef VARIANT
#define VARIANT 0
#endif
	return dst[0] == 7 + VARIANT;
}
