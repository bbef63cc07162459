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
#include "unwind.h"

/* Unwind one allocation's stack and count it in p's table. Under lock. */
static int heap_events__unwind(struct heap_tracker *h, struct heap_proc *p,
			       const struct profd_heap_event *ev, size_t size)
{
	uint64_t ips[PROFD_MAX_USER_FRAMES + 1];
	size_t len = ev->stack_len;
	bool trunc = true;
	int n, tries, skip;

	if (len > PROFD_STACK_COPY || PROFD_HEAP_EVENT_HDR + len > size)
		len = 0;
	for (tries = 0; tries < 2; tries++) {
		n = unwind__stack(p->proc, (const uint64_t *)ev->regs,
				  ev->stack, len, ips,
				  PROFD_MAX_USER_FRAMES + 1, &trunc);
		/* Frames in code we have no mapping for: a library loaded
		 * since tracking began? Read the maps again (at most every
		 * 100 ms), so that the snapshot can name them, and unwind
		 * once more if the walk was cut short there. */
		if (n <= 0 || proc__covers(p->proc, ips, (unsigned)n) ||
		    proc__refresh(p->proc, h->sym, now_ns(CLOCK_MONOTONIC),
				  100000000ULL) != 1 || !trunc)
			break;
	}
	h->dw_events++;
	if (n <= 0) {
		h->dw_failed++;
		n = 1;		/* no frames: shown as [unknown] */
		trunc = true;
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

static int heap_events__on_event(void *ctx, void *data, size_t size)
{
	struct heap_tracker *h = ctx;
	const struct profd_heap_event *ev = data;
	struct heap_proc *p;

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
	if (heap_events__unwind(h, p, ev, size) < 0)
		p->dw_unknown++;	/* no stack, or its live block shows
					 * as [unknown] */
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
