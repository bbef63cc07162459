/*
 * Workloads for bench/locks:
 *   hold N   prints "ready", waits for a line on stdin, allocates N blocks
 *            of 32..96 bytes from 64 distinct call stacks and keeps them,
 *            prints "held", then sleeps until killed.
 *   spin     burns CPU until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void **blocks;

static __attribute__((noinline)) void *alloc_at(int depth, size_t size)
{
	void *p;

	if (depth > 0) {
		p = alloc_at(depth - 1, size);
		__asm__ volatile("" ::: "memory");	/* no tail call */
		return p;
	}
	return malloc(size);
}

int main(int argc, char **argv)
{
	volatile unsigned long x = 1;
	char line[16];
	long n, i;

	if (argc > 1 && !strcmp(argv[1], "spin")) {
		for (;;)
			x = x * 6364136223846793005UL + 1442695040888963407UL;
	}
	n = argc > 2 ? atol(argv[2]) : 1000000;
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("ready\n");
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	blocks = malloc((size_t)n * sizeof(*blocks));
	for (i = 0; i < n; i++)
		blocks[i] = alloc_at((int)(i % 64), 32 + (size_t)(i % 3) * 32);
	printf("held\n");
	for (;;)
		pause();
}
