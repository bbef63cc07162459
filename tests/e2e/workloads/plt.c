/* plt: a loop whose time is largely in calls through the PLT: labs() from
 * libc is a few instructions, so the stub's jmp takes a good share of the
 * samples. Those leaves must be named "labs@plt", as objdump -d names the
 * stub, not "[plt]" or the executable's name.
 * Build: -O2 -g -fno-builtin (so that labs is a real call; noipa keeps GCC
 * from hoisting the loop, as glibc declares labs const)
 * Usage: plt [seconds]   prints "plt ready" */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

__attribute__((noinline, noipa)) long call_labs(long n)
{
	long s = 0;

	for (long i = -n; i < n; i++)
		s += labs(i);	/* LINE_PLT_CALL */
	return s;
}

int main(int argc, char **argv)
{
	double deadline = e2e_deadline(argc, argv);

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("plt ready\n");
	do
		e2e_sink += call_labs(1 << 16);
	while (!e2e_expired(deadline));
	return 0;
}
