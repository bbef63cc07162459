/* execer: burns CPU in before_exec() for BURN seconds, then executes
 * PROG ARGS... in the same process (same pid): what a shell does that
 * runs `exec prog`.
 * Build: -O1 -g -fno-omit-frame-pointer -fno-inline -fno-optimize-sibling-calls
 * Usage: execer SECONDS BURN PROG [ARGS...]   (SECONDS: safety deadline) */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "common.h"

__attribute__((noinline)) void before_exec(double until)
{
	do
		SPIN_UNITS(64); /* LINE_BEFORE_EXEC */
	while (!e2e_expired(until));
}

int main(int argc, char **argv)
{
	double deadline = e2e_deadline(argc, argv);

	if (argc < 4) {
		fprintf(stderr, "usage: execer SECONDS BURN PROG [ARGS...]\n");
		return 2;
	}
	if (deadline > 0)
		alarm((unsigned)atof(argv[1]) + 1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("execer ready\n");
	before_exec(e2e_now() + atof(argv[2]));
	fflush(stdout);
	execv(argv[3], argv + 3);
	perror("execer: execv");
	return 1;
}
