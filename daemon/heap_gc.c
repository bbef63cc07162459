// SPDX-License-Identifier: GPL-2.0
/*
 * The heap tracker's upkeep (heap_int.h), on two threads of its own: the
 * reaper, which finishes what a release leaves (uprobe detach, an exit's
 * last snapshot, the purge of the BPF maps: seconds, without the lock),
 * and gc, once a second, which notices exits and executed programs,
 * releases tracking past the idle timeout, prunes event ids and has
 * in-process agents redirect newly loaded libraries. Neither runs on the
 * CPU main loop.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "heap.h"
#include "heap_int.h"
#include "lockcheck.h"
#include "proc.h"
#include "target.h"

/* Reap the released processes of @pid (0: all). Not under lock. */
static void heap__reap_pid(struct heap_tracker *h, pid_t pid)
{
	struct heap_proc *p, **pp;
	struct heap_final *f;

	for (;;) {
		pthread_mutex_lock(&h->lock);
		for (p = h->dead; p && (p->reaping || (pid && p->pid != pid));
		     p = p->next)
			;
		if (p)
			p->reaping = true;
		pthread_mutex_unlock(&h->lock);
		if (!p)
			return;
		/*
		 * Released, so no one else touches it: its probes off first
		 * (a few ms per link), its last snapshot from the maps (an
		 * exit: seconds for a 1M-entry table), then the purge of its
		 * entries (~0.5 s for 1M). A start of the same pid waits
		 * (heap__reap_wait()): its entries are not purged with these.
		 */
		f = NULL;
		heap_probes__detach(p);
		if (p->final_why)
			(void)heap_finals__build(h, p, &f);	/* none: a 409 */
		if (p->in_bpf)
			heap_maps__forget(h, (uint32_t)p->pid);
		pthread_mutex_lock(&h->lock);
		if (f)
			heap_finals__insert(h, f);
		for (pp = &h->dead; *pp != p; pp = &(*pp)->next)
			;
		*pp = p->next;
		pthread_cond_broadcast(&h->reaped);
		pthread_mutex_unlock(&h->lock);
		heap_stacks__fini(&p->st);
		proc__put(p->proc);
		target__release(&p->t);
		free(p);
	}
}

void heap__reap(struct heap_tracker *h)
{
	heap__reap_pid(h, 0);
}

void heap__reap_wait(struct heap_tracker *h, pid_t pid)
{
	struct heap_proc *p;

	lock__assert_held(&h->lock);
	while ((p = heap__find_dead(h, pid))) {
		if (p->reaping) {
			pthread_cond_wait(&h->reaped, &h->lock);
			continue;
		}
		pthread_mutex_unlock(&h->lock);
		heap__reap_pid(h, pid);
		pthread_mutex_lock(&h->lock);
	}
}

/*
 * The reaper thread: detaching a process's uprobes waits an RCU grace
 * period per link (17-33 links: seconds on a loaded machine), which
 * neither the gc thread (it notices exits) nor a start should wait out.
 */
static void *heap__reap_main(void *arg)
{
	struct heap_tracker *h = arg;
	struct heap_proc *p;

	pthread_mutex_lock(&h->lock);
	while (!h->quit) {
		for (p = h->dead; p && p->reaping; p = p->next)
			;
		if (!p) {
			pthread_cond_wait(&h->reap_wake, &h->lock);
			continue;
		}
		pthread_mutex_unlock(&h->lock);
		heap__reap(h);
		/* Their stacks and event ids were allocated by the reader
		 * thread, in its own malloc arena, which glibc does not trim
		 * by itself: hand the freed memory back. */
		malloc_trim(0);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void *heap__gc_main(void *arg)
{
	struct heap_tracker *h = arg;
	struct timespec until;

	pthread_mutex_lock(&h->lock);
	while (!h->quit) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec++;
		(void)pthread_cond_timedwait(&h->gc_wake, &h->lock, &until);
		if (h->quit)
			break;
		pthread_mutex_unlock(&h->lock);
		heap__gc(h);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int heap_gc__start(struct heap_tracker *h)
{
	int r;

	lock__assert_held(&h->lock);
	if (!h->reap_started) {
		r = pthread_create(&h->reap_thread, NULL, heap__reap_main, h);
		if (r)
			return -r;
		pthread_setname_np(h->reap_thread, "heap-reap");
		h->reap_started = true;
	}
	if (h->gc_started)
		return 0;
	r = pthread_create(&h->gc_thread, NULL, heap__gc_main, h);
	if (r)
		return -r;
	pthread_setname_np(h->gc_thread, "heap-gc");
	h->gc_started = true;
	return 0;
}

/*
 * In-process mode: libraries loaded since the agent last redirected call
 * malloc through GOT entries it has not seen. The agent thread has it
 * redirect them (a call, as for on and off). Once a second: a read of
 * /proc/PID/maps per such process, without the lock (proc__refresh()
 * reads /proc and opens ELF files), one process at a time.
 */
static void heap__gc_rescan(struct heap_tracker *h, uint64_t now)
{
	struct heap_proc *p;
	uint64_t pass, gen;
	struct proc *pr;
	pid_t pid;

	pthread_mutex_lock(&h->lock);
	pass = ++h->gc_pass;
	for (;;) {
		for (p = h->procs; p; p = p->next)
			if (p->agent && !p->starting && p->proc &&
			    p->gc_pass != pass)
				break;
		if (!p)
			break;
		p->gc_pass = pass;
		pid = p->pid;
		gen = p->generation;
		pr = proc__hold(p->proc);
		pthread_mutex_unlock(&h->lock);
		(void)proc__refresh(pr, h->sym, now, 900000000ULL);
		proc__put(pr);
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, pid);
		if (p && p->generation == gen && p->agent &&
		    proc__nmaps(p->proc) > p->rescan_nmaps && !p->want_rescan) {
			p->want_rescan = true;
			pthread_cond_signal(&h->agent_wake);
		}
	}
	pthread_mutex_unlock(&h->lock);
}

void heap__gc(struct heap_tracker *h)
{
	struct heap_proc *p, *next;
	bool exited = false;
	uint64_t now, prune_gen = 0;
	struct heap_live_set live;
	pid_t prune_pid = 0;
	int cur;

	/* Exited processes keep a last snapshot: first make sure their
	 * queued stack events are in (heap_events__drain() takes the lock itself). */
	pthread_mutex_lock(&h->lock);
	for (p = h->procs; p && !exited; p = p->next)
		exited = target__current(&p->t) < 0;
	pthread_mutex_unlock(&h->lock);
	if (exited)
		heap_events__drain(h);

	pthread_mutex_lock(&h->lock);
	/* Read the clock under the lock: a start or pull that held it set
	 * last_pull_ns after any earlier reading. */
	now = now_ns(CLOCK_MONOTONIC);
	heap_finals__expire(h, 0, now);
	for (p = h->procs; p; p = next) {
		next = p->next;
		/*
		 * Ended, or executed another program: its tracking ends
		 * with the image it was of (BPF recorded nothing since).
		 * An agent went with that image: dropped, never called.
		 */
		cur = target__current(&p->t);
		if (cur < 0) {
			heap_finals__retire(h, p, cur, now);
		} else if (now > p->last_pull_ns &&
			   now - p->last_pull_ns > h->lim.idle_timeout_ns) {
			heap__release(h, p);
		} else if (!prune_pid && heap_stacks__want_prune(&p->st)) {
			prune_pid = p->pid;	/* amortised: the list doubled */
			prune_gen = p->generation;
		}
	}
	pthread_mutex_unlock(&h->lock);
	heap__gc_rescan(h, now);
	/*
	 * Event ids of blocks since freed, pruned against the live table,
	 * read outside the lock. Ids processed meanwhile are newer than the
	 * last prune's mark, so heap_stacks__prune() keeps them.
	 */
	if (prune_pid && heap_maps__read_live(h, (uint32_t)prune_pid, &live) == 0) {
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, prune_pid);
		if (p && p->generation == prune_gen)
			(void)heap_stacks__prune_live(&p->st, live.v, live.n);
		pthread_mutex_unlock(&h->lock);
		free(live.v);
	}
}
