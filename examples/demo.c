/*
 * The demo workload for `make demo`: a tiny "server" that spends its CPU
 * parsing requests (~60%), hashing them (~30%) and logging (~10%), so the
 * profile has an answer you can check at a glance.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile uint64_t sink;

static __attribute__((noinline)) uint64_t burn(uint64_t units)
{
	uint64_t h = 1469598103934665603ULL, i;

	for (i = 0; i < units * 20000; i++)
		h = (h ^ i) * 1099511628211ULL;
	return h;
}

static __attribute__((noinline)) void parse_request(void)
{
	sink += burn(6);
}

static __attribute__((noinline)) void hash_request(void)
{
	sink += burn(3);
}

static __attribute__((noinline)) void log_request(void)
{
	sink += burn(1);
}

static __attribute__((noinline)) void handle_request(void)
{
	parse_request();
	hash_request();
	log_request();
}

int main(int argc, char **argv)
{
	time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 30);

	while (time(NULL) < end)
		handle_request();
	printf("%llu\n", (unsigned long long)sink);
	return 0;
}
