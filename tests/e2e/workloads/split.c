/* split: main -> run -> dispatch -> work -> {hot_a, hot_b}.
 * hot_a runs 3 work units for every 1 unit of hot_b, with the same loop
 * body, so hot_a:hot_b CPU is 75:25 by construction.
 * Build: -O1 -g -fno-omit-frame-pointer -fno-inline -fno-optimize-sibling-calls
 * Usage: split [seconds]   (default: until killed) */
#include <stdio.h>
#include "common.h"

#define UNITS_B 64 /* ~1 ms-ish per call of hot_b on a typical CPU */

__attribute__((noinline)) void hot_a(void)
{
	SPIN_UNITS(3 * UNITS_B); /* LINE_HOT_A */
}

__attribute__((noinline)) void hot_b(void)
{
	SPIN_UNITS(UNITS_B); /* LINE_HOT_B */
}

__attribute__((noinline)) void work(void)
{
	hot_a(); /* LINE_CALL_A */
	hot_b(); /* LINE_CALL_B */
}

__attribute__((noinline)) void dispatch(int n)
{
	for (int i = 0; i < n; i++)
		work();
}

__attribute__((noinline)) void run(double deadline)
{
	do
		dispatch(8);
	while (!e2e_expired(deadline));
}

int main(int argc, char **argv)
{
	double deadline = e2e_deadline(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("split ready\n");
	run(deadline);
	return 0;
}
