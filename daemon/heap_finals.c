// SPDX-License-Identifier: GPL-2.0
/*
 * The heap tracker's finals (heap_int.h): when a tracked process exits or
 * executes another program, the last snapshot of the image tracked is
 * kept for pulls until the idle timeout, by those who may see that image.
 * At most max_procs: the oldest goes.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "clock.h"
#include "heap_int.h"
#include "lockcheck.h"

/*
 * @p's process ended or executed another program (@why: -ESRCH, -ESTALE):
 * release it; heap__reap() keeps the last snapshot of the image it
 * tracked (heap_finals__build()), without the lock. Under lock, after
 * heap_events__drain().
 */
void heap_finals__retire(struct heap_tracker *h, struct heap_proc *p,
			 int why, uint64_t now)
{
	p->final_why = why == -ESTALE ? -ESTALE : -ESRCH;
	p->retired_ns = now;
	heap__release(h, p);
}

static void heap_finals__free(struct heap_final *f)
{
	free(f->buf[0]);
	free(f->buf[1]);
	free(f);
}

void heap_finals__expire(struct heap_tracker *h, pid_t pid, uint64_t now)
{
	struct heap_final **pp = &h->finals, *f;

	lock__assert_held(&h->lock);
	while ((f = *pp)) {
		if (f->pid == pid ||
		    now - f->exited_ns > h->lim.idle_timeout_ns) {
			*pp = f->next;
			heap_finals__free(f);
			h->nfinals--;
		} else {
			pp = &f->next;
		}
	}
}

bool heap_finals__has(struct heap_tracker *h, pid_t pid, uint64_t gen)
{
	struct heap_final *f;

	lock__assert_held(&h->lock);
	for (f = h->finals; f; f = f->next)
		if (f->pid == pid && f->generation == gen)
			return true;
	return false;
}

/*
 * Released @p's process exited, or executed another program: its last
 * snapshot of the image tracked (the heap it held at exit, what a leak
 * hunt wants), kept for pulls until the idle timeout by those who may see
 * that image. Both views are built now, while the maps still hold the
 * data (heap__reap() purges them after). Not under lock: symbolizing and
 * gzip a 1M-entry table take seconds, which status requests and starts
 * would otherwise wait out. 0 or -errno.
 */
int heap_finals__build(struct heap_tracker *h, struct heap_proc *p,
		       struct heap_final **ret)
{
	const char *why = p->final_why == -ESTALE ?
		"the process executed another program: this is the heap the one it ran before held then" :
		"the process exited: this is the heap it held at exit";
	struct heap_final *f;
	char note[200];
	int k, r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->pid = p->pid;
	f->ids = p->t.ids;
	f->generation = p->generation;
	f->exited_ns = p->retired_ns;
	snprintf(note, sizeof(note), "%s (tracking generation %" PRIu64 ")", why,
		 p->generation);
	for (k = 0; k < 2; k++) {
		r = heap_snapshot__build(h, p, k == 1, note, &f->buf[k],
					 &f->len[k]);
		if (r < 0) {
			heap_finals__free(f);
			return r;
		}
	}
	*ret = f;
	return 0;
}

void heap_finals__insert(struct heap_tracker *h, struct heap_final *f)
{
	struct heap_final **pp;

	lock__assert_held(&h->lock);
	heap_finals__expire(h, f->pid, f->exited_ns);
	/* Bounded like tracked processes: the oldest goes. */
	while (h->nfinals >= h->lim.max_procs && h->finals) {
		for (pp = &h->finals; (*pp)->next; pp = &(*pp)->next)
			;
		heap_finals__free(*pp);
		*pp = NULL;
		h->nfinals--;
	}
	f->next = h->finals;
	h->finals = f;
	h->nfinals++;
}

int heap__final_check(struct heap_tracker *h, pid_t pid, uid_t uid)
{
	struct heap_final *f;
	struct heap_proc *p;
	int r = -ENOENT, cur = 0;

	/*
	 * Exited (or executed another program), still tracked: heap__gc()
	 * (once a second) has not kept its last snapshot yet. Keep it now,
	 * so that a pull just after the exit gets it rather than a 404.
	 */
	pthread_mutex_lock(&h->lock);
	p = heap__find(h, pid);
	if (p)
		cur = target__current(&p->t);
	pthread_mutex_unlock(&h->lock);
	if (cur < 0) {
		heap_events__drain(h);	/* its queued stack events first */
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, pid);
		if (p && (cur = target__current(&p->t)) < 0)
			heap_finals__retire(h, p, cur, now_ns(CLOCK_MONOTONIC));
		pthread_mutex_unlock(&h->lock);
	}
	/* Whoever may see the image it was of (when it was checked): once
	 * its last snapshot is kept (heap__reap()). */
	pthread_mutex_lock(&h->lock);
	heap__reap_wait(h, pid);
	for (f = h->finals; f; f = f->next) {
		if (f->pid != pid)
			continue;
		r = access__check_image(uid, &f->ids, NULL) < 0 ? -EACCES : 0;
		break;
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

int heap_finals__copy(struct heap_tracker *h, pid_t pid, bool allocs,
		      void **ret_buf, size_t *ret_len)
{
	struct heap_final *f;
	void *buf;

	lock__assert_held(&h->lock);
	for (f = h->finals; f; f = f->next) {
		if (f->pid != pid)
			continue;
		buf = malloc(f->len[allocs]);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, f->buf[allocs], f->len[allocs]);
		*ret_buf = buf;
		*ret_len = f->len[allocs];
		return 0;
	}
	return -ENOENT;
}

void heap_finals__free_all(struct heap_tracker *h)
{
	while (h->finals) {
		struct heap_final *f = h->finals;

		h->finals = f->next;
		heap_finals__free(f);
	}
	h->nfinals = 0;
}
