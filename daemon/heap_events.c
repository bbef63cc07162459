// SPDX-License-Identifier: GPL-2.0
/*
 * The heap tracker's event reader (heap_int.h): DWARF-mode allocations
 * arrive from BPF with registers and a stack copy; each is unwound here
 * once (unwind.h) and counted on its interned stack (heap_stacks.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/epoll.h>

#include <bpf/libbpf.h>

#include "clock.h"
#include "heap.skel.h"
#include "heap_int.h"
#include "lockcheck.h"
#include "unwind.h"

/*
 * Unwind one allocation's stack in @pr (held), of the tracking generation
 * @gen of ev->tgid: not under the lock (unwinding reads the copy, the
 * process's maps and libdw's CFI; a refresh reads /proc and opens ELF
 * files). @ips gets the frames; returns how many (at least 1: no frames is
 * [unknown], truncated), *@trunc whether the walk was cut short.
 */
static int heap_events__unwind(struct heap_tracker *h, struct proc *pr,
			       const struct profd_heap_event *ev, size_t size,
			       uint64_t *ips, bool *trunc)
{
	size_t len = ev->stack_len;
	int n;

	*trunc = true;
	if (len > PROFD_STACK_COPY || PROFD_HEAP_EVENT_HDR + len > size)
		len = 0;
	/* A library loaded since tracking began: the maps read again, so
	 * that the snapshot can name its frames. */
	n = unwind__fresh(pr, h->sym, now_ns(CLOCK_MONOTONIC), MAPS_REFRESH_NS,
			  (const uint64_t *)ev->regs, ev->stack, len, ips,
			  PROFD_MAX_USER_FRAMES + 1, trunc, NULL);
	if (n <= 0) {
		*trunc = true;
		return -1;
	}
	return n;
}

/* Count @ev's unwound stack @ips[@n] in p's table. Under lock. */
static int heap_events__count(struct heap_tracker *h, struct heap_proc *p,
			      const struct profd_heap_event *ev,
			      uint64_t *ips, int n, bool trunc)
{
	int skip;

	lock__assert_held(&h->lock);
	h->dw_events++;
	if (n <= 0) {
		h->dw_failed++;
		n = 1;		/* no frames: shown as [unknown] */
		ips[0] = 0;
	}
	if (trunc)
		h->dw_truncated++;
	/* Frame 0 is the allocator's entry itself (or the agent's probe
	 * point, then the agent's wrapper): profiles start at its caller,
	 * as frame-pointer stacks do. */
	for (skip = 1; skip < n && heap_probes__skipped(p, ips[skip]); skip++)
		;
	return heap_stacks__add(&p->st, ev->id, ips + skip,
				(unsigned)(n - skip), trunc, ev->size);
}

/*
 * One event. The lock is taken twice, briefly: to see whether its process
 * is tracked (and hold its capture), and to count the unwound stack in
 * the same tracking generation. Events are consumed one at a time
 * (rb_lock), in order, so ids still reach the table in increasing order
 * (heap_stacks__prune() relies on it).
 */
static int heap_events__on_event(void *ctx, void *data, size_t size)
{
	uint64_t ips[PROFD_MAX_USER_FRAMES + 1];
	struct heap_tracker *h = ctx;
	const struct profd_heap_event *ev = data;
	struct heap_proc *p;
	struct proc *pr;
	uint64_t gen;
	bool trunc;
	int n;

	if (size < offsetof(struct profd_heap_event, regs))
		return 0;
	pthread_mutex_lock(&h->lock);
	p = heap__find(h, (pid_t)ev->tgid);
	if (!p || !(p->flags & PROFD_HEAP_F_DWARF) || ev->id < p->first_id)
		goto out;	/* not (or no longer) tracked */
	if (ev->kind == PROFD_HEAP_EV_CANCEL) {
		/* The allocation failed: uncount it. */
		heap_stacks__cancel(&p->st, ev->id, ev->size);
		goto out;
	}
	if (ev->kind != PROFD_HEAP_EV_ALLOC || size < PROFD_HEAP_EVENT_HDR)
		goto out;
	if (!p->proc)
		goto out;
	gen = p->generation;
	pr = proc__hold(p->proc);
	pthread_mutex_unlock(&h->lock);

	n = heap_events__unwind(h, pr, ev, size, ips, &trunc);

	pthread_mutex_lock(&h->lock);
	p = heap__find(h, (pid_t)ev->tgid);
	/* Stopped (or restarted) meanwhile: the event is of no tracking. */
	if (p && p->generation == gen &&
	    heap_events__count(h, p, ev, ips, n, trunc) < 0)
		p->dw_unknown++;	/* no stack, or its live block shows
					 * as [unknown] */
	pthread_mutex_unlock(&h->lock);
	proc__put(pr);
	return 0;
out:
	pthread_mutex_unlock(&h->lock);
	return 0;
}

void heap_events__drain(struct heap_tracker *h)
{
	pthread_mutex_lock(&h->rb_lock);
	if (h->rb)
		(void)ring_buffer__consume(h->rb);
	pthread_mutex_unlock(&h->rb_lock);
}

/*
 * The reader: wakes when the buffer fills past an eighth (the BPF side
 * asks for a wakeup then) and every 100 ms otherwise, so stacks are
 * unwound while the process's memory layout is current. It never waits
 * for a call into a process (agent_lock): that is the agent thread's.
 */
static void *heap_events__reader(void *arg)
{
	struct heap_tracker *h = arg;
	struct epoll_event e;
	int efd = ring_buffer__epoll_fd(h->rb);

	while (!__atomic_load_n(&h->quit, __ATOMIC_ACQUIRE)) {
		(void)epoll_wait(efd, &e, 1, 100);
		heap_events__drain(h);
	}
	return NULL;
}

int heap_events__start(struct heap_tracker *h)
{
	int r;

	if (h->reader_started)
		return 0;
	h->rb = ring_buffer__new(bpf_map__fd(h->skel->maps.heap_events),
				 heap_events__on_event, h, NULL);
	if (!h->rb)
		return -errno;
	r = pthread_create(&h->reader, NULL, heap_events__reader, h);
	if (!r)
		pthread_setname_np(h->reader, "heap-reader");
	if (r) {
		ring_buffer__free(h->rb);
		h->rb = NULL;
		return -r;
	}
	h->reader_started = true;
	return 0;
}

void heap_events__stop(struct heap_tracker *h)
{
	if (!h->reader_started)
		return;
	pthread_join(h->reader, NULL);
	pthread_mutex_lock(&h->rb_lock);
	ring_buffer__free(h->rb);
	h->rb = NULL;
	pthread_mutex_unlock(&h->rb_lock);
	h->reader_started = false;
}
