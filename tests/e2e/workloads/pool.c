/* pool: a thread pool. The main thread queues tasks (at most 8 waiting)
 * and four workers named pool-0..pool-3 take them: parse tasks of 128
 * work units and render tasks of 64, queued alternately, so 2/3 of the
 * pool's work is in task_parse and 1/3 in task_render whichever worker
 * runs them (the truth for the continuous-mode test). The main thread
 * waits on a condition variable while the queue is full: it uses
 * next to no CPU.
 * Build: -O1 -g -fno-omit-frame-pointer -fno-inline -fno-optimize-sibling-calls -pthread
 * Usage: pool [seconds] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

#define WORKERS 4
#define QUEUE_MAX 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static int queue[QUEUE_MAX], head, len, done;

__attribute__((noinline)) void task_parse(void)
{
	SPIN_UNITS(128);
}

__attribute__((noinline)) void task_render(void)
{
	SPIN_UNITS(64);
}

static void *worker(void *arg)
{
	int kind;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (!len && !done)
			pthread_cond_wait(&not_empty, &lock);
		if (!len) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		kind = queue[head];
		head = (head + 1) % QUEUE_MAX;
		len--;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&lock);
		if (kind)
			task_parse();
		else
			task_render();
	}
}

int main(int argc, char **argv)
{
	double deadline = e2e_deadline(argc, argv);
	pthread_t t[WORKERS];
	char name[16];
	int i, kind = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < WORKERS; i++) {
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 1;
		snprintf(name, sizeof(name), "pool-%d", i);
		pthread_setname_np(t[i], name);
	}
	printf("pool ready\n");
	while (!e2e_expired(deadline)) {
		pthread_mutex_lock(&lock);
		while (len == QUEUE_MAX)
			pthread_cond_wait(&not_full, &lock);
		queue[(head + len) % QUEUE_MAX] = kind;
		len++;
		kind = !kind;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	done = 1;
	pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	return 0;
}
