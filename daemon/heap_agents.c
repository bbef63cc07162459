// SPDX-License-Identifier: GPL-2.0
/*
 * The heap tracker's in-process agents: loading and switching them on for
 * a start, switching off those of released processes (now, or queued and
 * retried), redirecting libraries loaded since, and the processes calls
 * went wrong in (poisoned). Every call into a process holds agent_lock
 * (heap_int.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "heap_int.h"
#include "lockcheck.h"

#define OFF_TRIES 10		/* a switch-off that fails is tried again */
#define OFF_RETRY_NS (3 * 1000000000ULL)

/* Remember that calls into @pid's image @image went wrong. Under lock. */
static void poison(struct heap_tracker *h, const struct target *t,
		   const char *why)
{
	struct poisoned *e = &h->poisoned[h->next_poisoned];

	e->pid = t->ref.pid;
	e->start_time = t->ids.start_time;
	e->image = t->image;
	snprintf(e->why, sizeof(e->why), "%s", why);
	h->next_poisoned = (h->next_poisoned + 1) % MAX_POISONED;
	if (h->npoisoned < MAX_POISONED)
		h->npoisoned++;
	h->agents_poisoned++;
}

/* The poisoning of @t's process and image, or NULL. Under lock. */
const struct poisoned *heap_agents__poisoned(struct heap_tracker *h,
					     const struct target *t)
{
	unsigned i;

	lock__assert_held(&h->lock);
	for (i = 0; i < h->npoisoned; i++)
		if (h->poisoned[i].pid == t->ref.pid &&
		    h->poisoned[i].start_time == t->ids.start_time &&
		    h->poisoned[i].image == t->image)
			return &h->poisoned[i];
	return NULL;
}

void heap_agents__free(struct agent *a)
{
	agent__fini(a);
	free(a);
}

/*
 * Switch off agent @a, of a released process. One whose process ended or
 * executed another program went with its image: dropped, nothing called.
 * One that cannot be switched off (another tracer holds the process, its
 * threads never stop somewhere safe) is queued to be tried again
 * OFF_RETRY_NS later, OFF_TRIES times in all; meanwhile its probe points,
 * without probes, are nops. One whose call faulted or hung is never tried
 * again (poisoned). 0 when done with (off or dropped: freed), -EAGAIN when
 * queued. Under agent_lock.
 */
int heap_agents__switch_off(struct heap_tracker *h, struct agent *a)
{
	int r;

	r = target__current(&a->t);
	if (r == -ESTALE)
		__atomic_fetch_add(&h->agents_dropped_exec, 1, __ATOMIC_RELAXED);
	if (r < 0 || a->poisoned) {
		heap_agents__free(a);
		return 0;
	}
	r = agent__off(a, h->pc);	/* 0 too when it is gone */
	if (r < 0 && a->poisoned) {
		pthread_mutex_lock(&h->lock);
		poison(h, &a->t, a->why);
		h->agents_left_on++;
		pthread_mutex_unlock(&h->lock);
		heap_agents__free(a);
		return -EAGAIN;
	}
	if (r < 0 && ++a->tries < OFF_TRIES) {
		a->next_try_ns = now_ns(CLOCK_MONOTONIC) + OFF_RETRY_NS;
		pthread_mutex_lock(&h->lock);
		a->next = h->offq;
		h->offq = a;
		pthread_mutex_unlock(&h->lock);
		return -EAGAIN;
	}
	if (r < 0)
		__atomic_fetch_add(&h->agents_left_on, 1, __ATOMIC_RELAXED);
	heap_agents__free(a);
	return r < 0 ? -EAGAIN : 0;
}

/* Switch off the queued agents that are due. Under agent_lock. */
static void flush_offs_held(struct heap_tracker *h)
{
	struct agent *a, *due = NULL, **pp;
	uint64_t now = now_ns(CLOCK_MONOTONIC);

	pthread_mutex_lock(&h->lock);
	for (pp = &h->offq; (a = *pp);) {
		if (a->next_try_ns > now) {
			pp = &a->next;
			continue;
		}
		*pp = a->next;
		a->next = due;
		due = a;
		/* Still pending for /v1/status until its call is over. */
		h->offs_running++;
	}
	pthread_mutex_unlock(&h->lock);
	while ((a = due)) {
		due = a->next;
		(void)heap_agents__switch_off(h, a);
		pthread_mutex_lock(&h->lock);
		h->offs_running--;
		pthread_mutex_unlock(&h->lock);
	}
}

/* Take agent_lock within @wait_ms. 0, or -EBUSY. */
int heap_agents__lock_within(struct heap_tracker *h, unsigned wait_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return pthread_mutex_timedlock(&h->agent_lock, &until) ? -EBUSY : 0;
}

/*
 * Not under lock. @wait_ms: how long to wait for agent_lock (calls into
 * other processes); -EBUSY when that passed.
 */
int heap_agents__flush(struct heap_tracker *h, unsigned wait_ms)
{
	bool empty;

	/* A look under lock, which guards offq: a lockless peek raced with
	 * heap__release()'s plain push (ThreadSanitizer, make tsan). */
	pthread_mutex_lock(&h->lock);
	empty = !h->offq;
	pthread_mutex_unlock(&h->lock);
	if (empty)
		return 0;
	if (heap_agents__lock_within(h, wait_ms) < 0)
		return -EBUSY;
	flush_offs_held(h);
	pthread_mutex_unlock(&h->agent_lock);
	return 0;
}

/*
 * Libraries a process tracked in-process loaded since its agent last
 * redirected: have the agent redirect them (heap__gc() notices them).
 * Not under lock.
 */
static void rescans(struct heap_tracker *h)
{
	struct { pid_t pid; uint64_t gen; size_t nmaps; } todo[16];
	unsigned n = 0, i;
	struct heap_proc *p;
	struct agent *a;
	int r;

	pthread_mutex_lock(&h->lock);
	for (p = h->procs; p && n < 16; p = p->next) {
		if (!p->agent || p->starting || !p->want_rescan)
			continue;
		todo[n].pid = p->pid;
		todo[n].gen = p->generation;
		todo[n].nmaps = proc__nmaps(p->proc);
		n++;
		p->want_rescan = false;
	}
	pthread_mutex_unlock(&h->lock);
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&h->agent_lock);
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, todo[i].pid);
		/* Once released it is offq's, freed only under agent_lock. */
		a = p && p->generation == todo[i].gen ? p->agent : NULL;
		pthread_mutex_unlock(&h->lock);
		r = a && !a->poisoned ? agent__rescan(a, h->pc) : 0;
		pthread_mutex_lock(&h->lock);
		if (a && a->poisoned && r < 0)
			poison(h, &a->t, a->why);
		p = heap__find(h, todo[i].pid);
		if (p && p->generation == todo[i].gen && r == 0)
			p->rescan_nmaps = todo[i].nmaps;
		pthread_mutex_unlock(&h->lock);
		pthread_mutex_unlock(&h->agent_lock);
	}
}

/*
 * The agent thread: the calls into processes nobody waits for — switching
 * off agents of released processes, and redirecting libraries loaded
 * since — off the main loop and the reader. Wakes when an agent is
 * queued, and twice a second.
 */
static void *agent_main(void *arg)
{
	struct heap_tracker *h = arg;
	struct timespec until;

	pthread_mutex_lock(&h->lock);
	while (!h->quit) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 500000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&h->agent_wake, &h->lock, &until);
		if (h->quit)
			break;
		pthread_mutex_unlock(&h->lock);
		(void)heap_agents__flush(h, 500);
		rescans(h);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Start the agent thread with the first in-process tracking. Under lock. */
int heap_agents__start_thread(struct heap_tracker *h)
{
	int r;

	lock__assert_held(&h->lock);
	if (h->agent_thread_started)
		return 0;
	r = pthread_create(&h->agent_thread, NULL, agent_main, h);
	if (r)
		return -r;
	pthread_setname_np(h->agent_thread, "heap-agents");
	h->agent_thread_started = true;
	return 0;
}

/*
 * In-process mode, not under lock: load the agent into the process @t
 * holds and switch it on, for tracking generation @gen. The process is
 * stopped for about a millisecond per call (longer while its threads are
 * inside the allocator); other tracked processes, snapshots and status go
 * on. -ECANCELED when tracking stopped meanwhile; -EFAULT when a call
 * faulted or hung: the process is poisoned, and @err says so.
 */
int heap_agents__start(struct heap_tracker *h, const struct target *t,
		       uint64_t gen, const char *allocator,
		       uint64_t sample_bytes, char *err, size_t errlen)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct heap_proc *p;
	bool owned = false;
	pid_t pid = t->ref.pid;
	int r;

	if (!a)
		return -ENOMEM;
	pthread_mutex_lock(&h->agent_lock);
	flush_offs_held(h);	/* an earlier generation's off first */
	r = agent__load(h->pc, t, h->lim.agent_path, allocator, a, err,
			errlen);
	if (r == -EFAULT) {
		pthread_mutex_lock(&h->lock);
		poison(h, t, err);
		pthread_mutex_unlock(&h->lock);
	}
	if (r == 0) {
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, pid);
		if (p && p->generation == gen) {
			p->agent = a;	/* released from here: off queued */
			owned = true;
			/* Its samples must reach the unwinder with the
			 * agent's mapping known and its frames skipped. */
			(void)proc__refresh(p->proc, h->sym,
					    now_ns(CLOCK_MONOTONIC), 0);
			heap_probes__skip_frames(p);
			p->rescan_nmaps = proc__nmaps(p->proc);
		} else {
			snprintf(err, errlen, "heap tracking of pid %d ended while its agent was being loaded (stopped, or the process exited or ran another program)",
				 pid);
			r = -ECANCELED;
		}
		pthread_mutex_unlock(&h->lock);
	}
	/* @a lives on while we hold agent_lock, even if released. */
	if (r == 0) {
		r = agent__on(a, h->pc, sample_bytes, (uint32_t)gen,
			      h->lim.max_live, err, errlen);
		if (r < 0 && a->poisoned) {
			pthread_mutex_lock(&h->lock);
			poison(h, t, err);
			pthread_mutex_unlock(&h->lock);
			r = -EFAULT;
		}
	}
	pthread_mutex_unlock(&h->agent_lock);
	if (!owned) {
		if (r == 0 || r == -ECANCELED)
			agent__fini(a);
		free(a);
	}
	return r;
}

