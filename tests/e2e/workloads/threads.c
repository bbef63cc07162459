/* threads: the main thread burns a little CPU in main_hot (about 1/4 duty
 * cycle); after 0.5 s it starts a thread named "worker" that burns CPU in
 * thread_hot continuously.
 * Build: -O1 -g -fno-omit-frame-pointer -fno-inline -fno-optimize-sibling-calls -pthread
 * Usage: threads [seconds] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include "common.h"

static double deadline;

__attribute__((noinline)) void thread_hot(void)
{
	SPIN_UNITS(64);
}

__attribute__((noinline)) void main_hot(void)
{
	SPIN_UNITS(64);
}

static void *worker(void *arg)
{
	(void)arg;
	while (!e2e_expired(deadline))
		thread_hot();
	return NULL;
}

/* Roughly 25 % of one CPU: spin ~5 ms, sleep ~15 ms (each drawn from
 * half to 1.5 times that, E2E_VARY: a fixed round aliases with the
 * sampling rate). */
__attribute__((noinline)) void main_loop(double until)
{
	while (!e2e_expired(until) && !e2e_expired(deadline)) {
		double t = e2e_now(), spin = E2E_VARY(5000) / 1e6;

		while (e2e_now() - t < spin)
			main_hot();
		usleep((useconds_t)E2E_VARY(15000));
	}
}

int main(int argc, char **argv)
{
	pthread_t t;
	deadline = e2e_deadline(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("threads ready\n");
	main_loop(e2e_now() + 0.5);
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 1;
	pthread_setname_np(t, "worker");
	main_loop(0);
	pthread_join(t, NULL);
	return 0;
}
