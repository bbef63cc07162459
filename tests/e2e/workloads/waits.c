/* waits: workloads whose waits are known, for the wait profiles (block,
 * mutex, threadcreate, goroutine). Each measures its own waits with
 * CLOCK_MONOTONIC around the calls that wait; on SIGUSR2 it prints a line
 * "totals A B" of nanoseconds waited so far (a wait in progress counted up
 * to now).
 *
 *   waits SECONDS block   thread "sleeper" nanosleeps 200 ms in sleep_loop;
 *                         thread "reader" blocks in read() in pipe_wait on
 *                         a pipe the main thread (feeder) writes every
 *                         100 ms. Totals: sleeping, reading.
 *   waits SECONDS mutex   four threads "contender" lock one mutex in
 *                         contend, hold it 2 ms (nanosleep), spin ~100 us
 *                         unlocked. Totals: their time in
 *                         pthread_mutex_lock, 0.
 *   waits SECONDS mutexlong  thread "holder" holds a mutex 3 s at a
 *                         time (10 ms free between); two threads "waiter"
 *                         lock it in long_wait (blocked at once, for
 *                         the rest of each hold). Totals: their time in
 *                         pthread_mutex_lock, 0.
 *   waits SECONDS spawn   on SIGUSR1 the main thread creates 7 threads in
 *                         spawn_a and 5 in spawn_b (each exits at once)
 *                         and prints "spawned 12".
 *   waits SECONDS deep    thread "deep" nanosleeps 10 ms in deep_sleep,
 *                         called through pad (a 2 KiB frame) from
 *                         path_a and path_b in turn: the same ip, sp, bp
 *                         and innermost KiB, paths apart only deeper.
 *                         Totals: path_a's, path_b's.
 *   waits SECONDS parkdeep  a thread "deep" parked in nanosleep under
 *                         48 calls of recurse (1 KiB frames each: ~50 KiB
 *                         of stack).
 *   waits SECONDS park    50 threads parked: 20 in park_cond
 *                         (pthread_cond_wait), 20 in park_read (read on an
 *                         empty pipe), 10 in park_sleep (nanosleep).
 *   waits SECONDS parkmany N  N threads "many" parked in park_many
 *                         (pthread_cond_wait), 64 KiB stacks each.
 *   waits SECONDS execwait S PROG ARGS...  single-threaded: idles in
 *                         idle_wait (pause) until SIGUSR1, then nanosleeps
 *                         in exec_sleep (50 ms at a time) for S seconds,
 *                         prints "totals A 0" (A: its time in those
 *                         nanosleeps) and executes PROG ARGS (same pid).
 *   waits SECONDS sleepfor S  single-threaded: prints "waits ready",
 *                         nanosleeps in sleep_for (50 ms at a time) for S
 *                         seconds, prints "totals A 0" (as execwait),
 *                         then idles in idle_wait.
 *
 * Build: -O1 -g -fno-omit-frame-pointer -fno-inline -pthread
 * (and with -DWAITS_EXEC as waits-exec: another program, of another build
 * ID, for execwait to execute).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

/* What makes waits-exec another program. */
#ifdef WAITS_EXEC
const char waits_program[] = "waits-exec";
#else
const char waits_program[] = "waits";
#endif

static double deadline;
static volatile sig_atomic_t want_totals, want_spawn;
static int pfd[2];

/* Per measured thread: time waited in finished calls, and the start of the
 * call in progress (0: none). */
struct meter {
	_Atomic unsigned long long total_ns, since_ns;
};

static struct meter meters[8];

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void meter_begin(struct meter *m)
{
	atomic_store(&m->since_ns, now_ns());
}

static void meter_end(struct meter *m)
{
	unsigned long long s = atomic_exchange(&m->since_ns, 0);

	atomic_fetch_add(&m->total_ns, now_ns() - s);
}

static unsigned long long meter_read(struct meter *m)
{
	unsigned long long t = atomic_load(&m->total_ns);
	unsigned long long s = atomic_load(&m->since_ns);

	return t + (s ? now_ns() - s : 0);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR2)
		want_totals = 1;
	else
		want_spawn = 1;
}

static void print_totals(int a0, int a1, int b0, int b1)
{
	unsigned long long a = 0, b = 0;
	int i;

	for (i = a0; i < a1; i++)
		a += meter_read(&meters[i]);
	for (i = b0; i < b1; i++)
		b += meter_read(&meters[i]);
	printf("totals %llu %llu\n", a, b);
	fflush(stdout);
}

/* ---- block ---- */

__attribute__((noinline)) void sleep_loop(void)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	meter_begin(&meters[0]);
	nanosleep(&ts, NULL);
	meter_end(&meters[0]);
}

static void *sleeper(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "sleeper");
	for (;;)
		sleep_loop();
	return NULL;
}

__attribute__((noinline)) void pipe_wait(void)
{
	char c;

	meter_begin(&meters[1]);
	if (read(pfd[0], &c, 1) < 0)
		_exit(3);
	meter_end(&meters[1]);
}

static void *reader(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "reader");
	for (;;)
		pipe_wait();
	return NULL;
}

__attribute__((noinline)) void feeder(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	if (write(pfd[1], "x", 1) < 0)
		_exit(3);
}

/* ---- deep ---- */

/* Measured by its callers: the wait itself must leave the same stack
 * bytes on either path (a meter pointer in a stale slot would not). */
__attribute__((noinline)) void deep_sleep(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* 2 KiB between deep_sleep's frame and its callers' return addresses
 * (what its callers leave on the stack is in the top of it). */
__attribute__((noinline)) void pad(void)
{
	volatile char buf[2048];

	buf[0] = 1;
	deep_sleep();
	buf[sizeof(buf) - 1] = buf[0];
}

__attribute__((noinline)) void path_a(void)
{
	meter_begin(&meters[0]);
	pad();
	meter_end(&meters[0]);
}

__attribute__((noinline)) void path_b(void)
{
	meter_begin(&meters[1]);
	pad();
	meter_end(&meters[1]);
}

static void *deep(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "deep");
	for (;;) {
		path_a();
		path_b();
	}
	return NULL;
}

/* ---- mutex ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) void contend(struct meter *m)
{
	struct timespec hold = { 0, 2 * 1000 * 1000 };

	meter_begin(m);
	pthread_mutex_lock(&lock);
	meter_end(m);
	nanosleep(&hold, NULL);
	pthread_mutex_unlock(&lock);
	SPIN_UNITS(4);
}

static void *contender(void *arg)
{
	pthread_setname_np(pthread_self(), "contender");
	for (;;)
		contend(arg);
	return NULL;
}

/* ---- mutexlong ---- */

static pthread_mutex_t long_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int holding;

__attribute__((noinline)) void long_hold(void)
{
	struct timespec hold = { 3, 0 }, gap = { 0, 10 * 1000 * 1000 };

	pthread_mutex_lock(&long_lock);
	atomic_store(&holding, 1);
	nanosleep(&hold, NULL);
	pthread_mutex_unlock(&long_lock);
	nanosleep(&gap, NULL);
}

static void *holder(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "holder");
	for (;;)
		long_hold();
	return NULL;
}

__attribute__((noinline)) void long_wait(struct meter *m)
{
	struct timespec gap = { 0, 1000 * 1000 };

	meter_begin(m);
	pthread_mutex_lock(&long_lock);
	meter_end(m);
	pthread_mutex_unlock(&long_lock);
	nanosleep(&gap, NULL);
}

static void *waiter(void *arg)
{
	pthread_setname_np(pthread_self(), "waiter");
	for (;;)
		long_wait(arg);
	return NULL;
}

/* ---- spawn ---- */

static void *quit(void *arg)
{
	(void)arg;
	return NULL;
}

__attribute__((noinline)) void spawn_a(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, quit, NULL) == 0)
		pthread_join(t, NULL);
}

__attribute__((noinline)) void spawn_b(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, quit, NULL) == 0)
		pthread_join(t, NULL);
}

/* ---- park ---- */

static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
static _Atomic int parked;

__attribute__((noinline)) void park_cond(void)
{
	pthread_mutex_lock(&park_lock);
	atomic_fetch_add(&parked, 1);
	for (;;)
		pthread_cond_wait(&park_cv, &park_lock);
}

__attribute__((noinline)) void park_read(void)
{
	char c;

	atomic_fetch_add(&parked, 1);
	for (;;)
		if (read(pfd[0], &c, 1) < 0)
			_exit(3);
}

__attribute__((noinline)) void park_sleep(void)
{
	struct timespec ts = { 3600, 0 };

	atomic_fetch_add(&parked, 1);
	for (;;)
		nanosleep(&ts, NULL);
}

__attribute__((noinline)) void recurse(int depth)
{
	volatile char frame[1024];
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	frame[0] = (char)depth;
	if (depth > 1) {
		recurse(depth - 1);
	} else {
		atomic_fetch_add(&parked, 1);
		while (!e2e_expired(deadline))
			nanosleep(&ts, NULL);
	}
	frame[sizeof(frame) - 1] = frame[0];
}

static void *deep_parker(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "deep");
	recurse(48);
	return NULL;
}

static void *parker(void *arg)
{
	long i = (long)arg;

	if (i < 20)
		park_cond();
	else if (i < 40)
		park_read();
	else
		park_sleep();
	return NULL;
}

/* ---- parkmany ---- */

__attribute__((noinline)) void park_many(void)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	static pthread_cond_t c = PTHREAD_COND_INITIALIZER;

	pthread_mutex_lock(&m);
	atomic_fetch_add(&parked, 1);
	for (;;)
		pthread_cond_wait(&c, &m);
}

static void *many_parker(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "many");
	park_many();
	return NULL;
}

/* ---- execwait, sleepfor ---- */

/* Waiting for a cue or the end, apart from the measured waits. */
__attribute__((noinline)) void idle_wait(void)
{
	pause();
}

static void idle_until(volatile sig_atomic_t *cue)
{
	while (!*cue && !e2e_expired(deadline)) {
		alarm(1);	/* pause() returns at least every second */
		idle_wait();
	}
	alarm(0);
}

/* @seconds of 50 ms nanosleeps through @step, measured in meters[0]. */
static void sleep_phase(void (*step)(void), double seconds)
{
	double until = e2e_now() + seconds;

	while (e2e_now() < until)
		step();
	print_totals(0, 1, 1, 1);
}

static void nap(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	meter_begin(&meters[0]);
	nanosleep(&ts, NULL);
	meter_end(&meters[0]);
}

__attribute__((noinline)) void exec_sleep(void)
{
	nap();
}

__attribute__((noinline)) void sleep_for(void)
{
	nap();
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Only the main thread takes the signals: the measured waits of the
 * threads created in between are never cut short. */
static void signals_blocked(int how)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(how, &set, NULL);
}

/* Ready; then the totals of meters[0..n) on each SIGUSR2, until the end. */
static void totals_loop(int n)
{
	printf("waits ready\n");
	fflush(stdout);
	while (!e2e_expired(deadline)) {
		usleep(20 * 1000);
		if (want_totals) {
			want_totals = 0;
			print_totals(0, n, n, n);
		}
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "block";
	struct sigaction sa;
	pthread_t t;
	long i;

	deadline = e2e_deadline(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waits return */
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	if (pipe(pfd) < 0)
		return 3;
	if (!strcmp(mode, "block") || !strcmp(mode, "deep")) {
		signals_blocked(SIG_BLOCK);
		if (!strcmp(mode, "deep")) {
			pthread_create(&t, NULL, deep, NULL);
		} else {
			pthread_create(&t, NULL, sleeper, NULL);
			pthread_create(&t, NULL, reader, NULL);
		}
		signals_blocked(SIG_UNBLOCK);
		printf("waits ready\n");
		fflush(stdout);
		while (!e2e_expired(deadline)) {
			feeder();
			if (want_totals) {
				want_totals = 0;
				print_totals(0, 1, 1, 2);
			}
		}
	} else if (!strcmp(mode, "mutex")) {
		signals_blocked(SIG_BLOCK);
		for (i = 0; i < 4; i++)
			pthread_create(&t, NULL, contender, &meters[i]);
		signals_blocked(SIG_UNBLOCK);
		totals_loop(4);
	} else if (!strcmp(mode, "mutexlong")) {
		signals_blocked(SIG_BLOCK);
		pthread_create(&t, NULL, holder, NULL);
		while (!atomic_load(&holding))
			usleep(1000);
		for (i = 0; i < 2; i++)
			pthread_create(&t, NULL, waiter, &meters[i]);
		signals_blocked(SIG_UNBLOCK);
		usleep(50 * 1000);	/* into their waits */
		totals_loop(2);
	} else if (!strcmp(mode, "spawn")) {
		printf("waits ready\n");
		fflush(stdout);
		while (!e2e_expired(deadline)) {
			usleep(20 * 1000);
			if (want_spawn) {
				want_spawn = 0;
				for (i = 0; i < 7; i++)
					spawn_a();
				for (i = 0; i < 5; i++)
					spawn_b();
				printf("spawned 12\n");
				fflush(stdout);
			}
		}
	} else if (!strcmp(mode, "parkdeep")) {
		pthread_create(&t, NULL, deep_parker, NULL);
		while (atomic_load(&parked) < 1)
			usleep(1000);
		usleep(50 * 1000);
		printf("waits ready\n");
		fflush(stdout);
		while (!e2e_expired(deadline))
			usleep(100 * 1000);
	} else if (!strcmp(mode, "park")) {
		for (i = 0; i < 50; i++)
			pthread_create(&t, NULL, parker, (void *)i);
		while (atomic_load(&parked) < 50)
			usleep(1000);
		usleep(50 * 1000);	/* into their waits */
		printf("waits ready\n");
		fflush(stdout);
		while (!e2e_expired(deadline))
			usleep(100 * 1000);
	} else if (!strcmp(mode, "parkmany") && argc > 3) {
		pthread_attr_t attr;
		long n = atol(argv[3]);

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		for (i = 0; i < n; i++)
			if (pthread_create(&t, &attr, many_parker, NULL))
				return 4;
		while (atomic_load(&parked) < n)
			usleep(1000);
		usleep(50 * 1000);	/* into their waits */
		printf("waits ready\n");
		fflush(stdout);
		while (!e2e_expired(deadline))
			usleep(100 * 1000);
	} else if (!strcmp(mode, "execwait") && argc > 4) {
		signal(SIGALRM, on_alarm);
		printf("waits ready\n");
		fflush(stdout);
		idle_until(&want_spawn);
		sleep_phase(exec_sleep, atof(argv[3]));
		execv(argv[4], argv + 4);
		perror("waits: execv");
		return 3;
	} else if (!strcmp(mode, "sleepfor") && argc > 3) {
		signal(SIGALRM, on_alarm);
		printf("waits ready\n");
		fflush(stdout);
		sleep_phase(sleep_for, atof(argv[3]));
		idle_until(&want_spawn);
	} else {
		return 2;
	}
	return 0;
}
