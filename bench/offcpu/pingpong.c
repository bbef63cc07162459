/* bench/offcpu workload: two threads ping-pong one byte over two pipes,
 * ROUNDS round trips (4 context switches each when both run on one CPU).
 * Waits for SIGUSR1 before its clock starts (profiler attach is not timed),
 * then prints "wall_s cpu_s rounds" and exits.
 * Build: -O2 -g -pthread.  Usage: pingpong ROUNDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int ping[2], pong[2];
static long rounds;

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void serve(void)
{
	char b;
	long i;

	for (i = 0; i < rounds; i++)
		if (read(ping[0], &b, 1) != 1 || write(pong[1], &b, 1) != 1)
			exit(3);
}

static void *server(void *arg)
{
	(void)arg;
	serve();
	return NULL;
}

__attribute__((noinline)) static void drive(void)
{
	char b = 'x';
	long i;

	for (i = 0; i < rounds; i++)
		if (write(ping[1], &b, 1) != 1 || read(pong[0], &b, 1) != 1)
			exit(3);
}

int main(int argc, char **argv)
{
	double w0, c0;
	pthread_t t;
	sigset_t set;
	int sig;

	rounds = argc > 1 ? atol(argv[1]) : 100000;
	if (pipe(ping) || pipe(pong))
		return 3;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pthread_create(&t, NULL, server, NULL);
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	w0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	drive();
	pthread_join(t, NULL);
	printf("%.6f %.6f %ld\n", now(CLOCK_MONOTONIC) - w0,
	       now(CLOCK_PROCESS_CPUTIME_ID) - c0, rounds);
	return 0;
}
