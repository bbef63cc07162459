/* exiter: spins in exiter_spin for argv[1] seconds (default 1.5), then exits.
 * Build: -O1 -g -fno-omit-frame-pointer -fno-inline -fno-optimize-sibling-calls */
#include "common.h"

__attribute__((noinline)) void exiter_spin(double deadline)
{
	while (!e2e_expired(deadline))
		SPIN_UNITS(64);
}

int main(int argc, char **argv)
{
	double deadline = argc > 1 ? e2e_deadline(argc, argv) : e2e_now() + 1.5;
	exiter_spin(deadline);
	return 0;
}
