/*
 * Allocation microbenchmark for bench/heap: N malloc+free pairs of sizes
 * 64..320 bytes (FIELD.md's shape). Prints "ready", waits for a line on
 * stdin (so a tracker can attach first), runs, prints ns per pair.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

void *volatile sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, i;
	char line[16];
	double t0, t1;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("ready\n");
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	t0 = now();
	for (i = 0; i < n; i++) {
		void *p = malloc(64 + (i % 5) * 64);

		sink = p;
		free(p);
	}
	t1 = now();
	printf("ns_per_pair %.1f\n", (t1 - t0) * 1e9 / n);
	return 0;
}
