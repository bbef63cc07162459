/* exiter: spins in exiter_spin for argv[1] seconds (default 1.5), then exits.
 * "exiter S cpu": until it has had S seconds of CPU time (its own clock), so
 * a test knows how many samples to expect whatever else runs on the machine.
 * Build: -O1 -g -fno-omit-frame-pointer -fno-inline -fno-optimize-sibling-calls */
#include <string.h>

#include "common.h"

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void exiter_spin(double deadline, int on_cpu)
{
	while (on_cpu ? cpu_now() < deadline : !e2e_expired(deadline))
		SPIN_UNITS(64);
}

int main(int argc, char **argv)
{
	int on_cpu = argc > 2 && !strcmp(argv[2], "cpu");
	double s = argc > 1 ? atof(argv[1]) : 1.5;

	exiter_spin((on_cpu ? cpu_now() : e2e_now()) + s, on_cpu);
	return 0;
}
