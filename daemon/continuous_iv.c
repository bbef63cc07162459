// SPDX-License-Identifier: GPL-2.0
/* continuous: closing collections — an interval's profiles (one per
 * service) to the fleet, a pull's to its caller (continuous_int.h). */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "continuous_int.h"
#include "fleet.h"
#include "profile.h"
#include "service.h"
#include "session.h"

static int by_service(const void *a, const void *b)
{
	const struct cproc *x = *(struct cproc *const *)a;
	const struct cproc *y = *(struct cproc *const *)b;
	int r = strcmp(x->svc->service_name, y->svc->service_name);

	if (r)
		return r;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The tracked processes with samples in slot @i, by service. Malloc'd. */
static struct cproc **holders(struct continuous *c, unsigned i, size_t *ret_n)
{
	struct cproc **v, *p;
	size_t n = 0;

	v = malloc((c->nprocs + 1) * sizeof(*v));
	if (!v) {
		*ret_n = 0;
		return NULL;
	}
	for (p = c->all; p; p = p->next)
		if (p->agg[i] && p->proc)
			v[n++] = p;
	qsort(v, n, sizeof(*v), by_service);
	*ret_n = n;
	return v;
}

static int build(struct continuous *c, struct cproc **v, size_t n,
		 unsigned slot, const struct slot *sl, uint64_t end_ns,
		 const char *what, const char *const *comments, size_t nc,
		 uint64_t lost, void **ret_buf, size_t *ret_len)
{
	struct profile_cpu_part *parts;
	struct profile_cpu_desc d = {};
	uint64_t now;
	size_t i;
	int r;

	parts = calloc(n ? n : 1, sizeof(*parts));
	if (!parts)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		parts[i].proc = v[i]->proc;
		parts[i].agg = v[i]->agg[slot];
		parts[i].pid = v[i]->pid;
		parts[i].comm = v[i]->comm;
		parts[i].service = v[i]->svc->service_name;
	}
	now = cont__now_ns(CLOCK_MONOTONIC);
	if (now > c->symcache_cleared_ns + SYMCACHE_CLEAR_NS) {
		profile_symcache__clear(c->symcache);
		c->symcache_cleared_ns = now;
	}
	d.symcache = c->symcache;
	d.what = what;
	d.comm = "";
	d.parts = parts;
	d.nparts = n;
	d.ksyms = session_mgr__kallsyms(c->m);
	d.period_ns = sl->period_ns;
	d.time_nanos = sl->start_wall_ns;
	d.duration_nanos = (int64_t)(end_ns - sl->start_ns);
	d.lost_samples = lost;
	d.comments = comments;
	d.ncomments = nc;
	r = profile__build_cpu(&d, ret_buf, ret_len);
	free(parts);
	return r;
}

static void free_slot_aggs(struct continuous *c, unsigned i)
{
	struct cproc *p;

	for (p = c->all; p; p = p->next) {
		aggregate__free(p->agg[i]);
		p->agg[i] = NULL;
	}
}

/*
 * Interval slot @i, just closed, becomes the interval after the one that
 * follows it, at the settings in effect now (a reload may have changed
 * them: continuous__reload()). A new length ends on the wall clock's next
 * multiple of it, as the first interval does. Under c->lock; true when
 * its sampling period changed.
 */
static bool recycle(struct continuous *c, unsigned i)
{
	const struct slot *o = &c->slots[(i + 1) % IV_SLOTS];
	struct slot *sl = &c->slots[i];
	uint64_t old_period = sl->period_ns, len = c->iv_ns, wall;

	sl->start_ns = o->end_ns;
	sl->start_wall_ns = o->start_wall_ns +
			    (int64_t)(sl->start_ns - o->start_ns);
	if (c->iv_ns != c->iv_cur_ns && sl->start_wall_ns > 0) {
		wall = (uint64_t)sl->start_wall_ns;
		len = (wall / c->iv_ns + 1) * c->iv_ns - wall;
		/* Not a sliver of an interval: the boundary after. */
		if (len < c->iv_ns / 4)
			len += c->iv_ns;
		c->iv_cur_ns = c->iv_ns;
	}
	sl->end_ns = sl->start_ns + len;
	sl->period_ns = c->iv_period_ns;
	c->st.hz = (unsigned)(1000000000ULL / c->iv_period_ns);
	c->st.interval_s = (unsigned)(c->iv_ns / 1000000000ULL);
	return sl->period_ns != old_period;
}

/*
 * Close interval slot @i: one profile per service to the fleet. The
 * samples lost since the last close are said in every profile of it.
 */
static void close_interval(struct continuous *c, unsigned i)
{
	struct slot sl;
	struct cproc **v;
	size_t n, a, b;
	uint64_t cur[4], lost[4], rb, rbd;
	char what[SERVICE_NAME_MAX + 64], lostline[300];
	const char *comments[2];
	size_t nc = 0;
	void *buf;
	size_t len;
	unsigned nprof = 0, nfail = 0;
	bool renew;
	int r;

	pthread_mutex_lock(&c->lock);
	sl = c->slots[i];
	cur[0] = c->st.lost_queue_full;
	cur[1] = c->st.lost_procs_full;
	cur[2] = c->st.lost_late;
	cur[3] = c->st.lost_unresolved;
	pthread_mutex_unlock(&c->lock);
	for (a = 0; a < 4; a++) {
		lost[a] = cur[a] - c->iv_lost_mark[a];
		c->iv_lost_mark[a] = cur[a];
	}
	rb = cont__ringbuf_lost(c);
	rbd = rb - c->rb_lost_mark;
	c->rb_lost_mark = rb;
	comments[nc++] = c->cfg.fp ?
		"continuous interval: every process of the service, user stacks by frame pointers (continuous-fp: cut short in code built without them) and kernel stacks" :
		"continuous interval: every process of the service, DWARF-unwound user stacks ([truncated] where the copy or CFI ran out) and kernel stacks";
	if (lost[0] || lost[1] || lost[2] || lost[3]) {
		snprintf(lostline, sizeof(lostline),
			 "samples lost machine-wide since the previous interval: %" PRIu64
			 " profd's queue full, %" PRIu64 " process table full, %" PRIu64
			 " arrived after their interval closed, %" PRIu64
			 " of processes gone before profd saw them",
			 lost[0], lost[1], lost[2], lost[3]);
		comments[nc++] = lostline;
	}

	v = holders(c, i, &n);
	for (a = 0; v && a < n; a = b) {
		for (b = a + 1; b < n && !strcmp(v[b]->svc->service_name,
						 v[a]->svc->service_name); b++)
			;
		snprintf(what, sizeof(what), "service %s (%zu process%s)",
			 v[a]->svc->service_name, b - a, b - a == 1 ? "" : "es");
		buf = NULL;
		r = build(c, v + a, b - a, i, &sl, sl.end_ns, what, comments,
			  nc, rbd, &buf, &len);
		if (r == 0 && c->fleet)
			r = fleet__interval_closed(c->fleet, v[a]->svc,
						   sl.start_wall_ns,
						   sl.start_wall_ns +
						   (int64_t)(sl.end_ns - sl.start_ns),
						   buf, len);
		free(buf);
		if (r < 0)
			nfail++;
		else
			nprof++;
	}
	free(v);
	free_slot_aggs(c, i);
	malloc_trim(0);

	pthread_mutex_lock(&c->lock);
	c->st.lost_ringbuf += rbd;
	c->st.intervals_closed++;
	c->st.profiles_closed += nprof;
	c->st.profiles_failed += nfail;
	c->iv_closed_end_ns = sl.end_ns;
	renew = recycle(c, i);
	pthread_mutex_unlock(&c->lock);
	/* A new rate: the sampler takes it, and lets the old one go once
	 * the other slot closes. */
	if (renew)
		(void)cont__update_targets(c);
}

/* Build a pull's profile: every process. */
static void close_pull(struct continuous *c, unsigned i)
{
	struct slot sl;
	struct cproc **v;
	size_t n;
	char what[80];
	uint64_t rbd;
	void *buf = NULL;
	size_t len = 0;
	bool abandoned;
	int r;
	const char *comments[1] = {
		"every process: samples labelled service_name, pid, comm, tid, thread; DWARF-unwound user stacks and kernel stacks",
	};

	pthread_mutex_lock(&c->lock);
	sl = c->slots[i];
	pthread_mutex_unlock(&c->lock);
	if (sl.abandoned) {
		/* Its caller went away: nobody to build it for. */
		free_slot_aggs(c, i);
		pthread_mutex_lock(&c->lock);
		memset(&c->slots[i], 0, sizeof(c->slots[i]));
		pthread_mutex_unlock(&c->lock);
		(void)cont__update_targets(c);
		return;
	}
	rbd = cont__ringbuf_lost(c) - sl.lost_at_start;
	v = holders(c, i, &n);
	snprintf(what, sizeof(what), "every process (%zu with samples)", n);
	r = v ? build(c, v, n, i, &sl, sl.end_ns, what, comments, 1, rbd,
		      &buf, &len) : -ENOMEM;
	free(v);
	free_slot_aggs(c, i);
	pthread_mutex_lock(&c->lock);
	c->slots[i].result = r;
	c->slots[i].buf = buf;
	c->slots[i].len = len;
	c->slots[i].state = SLOT_DONE;
	abandoned = c->slots[i].abandoned;
	if (abandoned) {
		free(buf);
		memset(&c->slots[i], 0, sizeof(c->slots[i]));
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (abandoned)
		(void)cont__update_targets(c);
}

void cont_iv__watermark(struct continuous *c, uint64_t wm)
{
	uint64_t end;
	unsigned i;
	bool closed = false;

	for (;;) {
		/* The interval slot that ends first. */
		pthread_mutex_lock(&c->lock);
		i = c->slots[0].end_ns <= c->slots[1].end_ns ? 0 : 1;
		end = c->slots[i].end_ns;
		if (c->slots[i].state != SLOT_OPEN || end > wm) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		pthread_mutex_unlock(&c->lock);
		close_interval(c, i);
		closed = true;
	}
	for (i = IV_SLOTS; i < NSLOTS; i++) {
		pthread_mutex_lock(&c->lock);
		end = c->slots[i].end_ns;
		if (c->slots[i].state != SLOT_OPEN || end > wm) {
			pthread_mutex_unlock(&c->lock);
			continue;
		}
		pthread_mutex_unlock(&c->lock);
		close_pull(c, i);
		closed = true;
	}
	if (closed)
		cont_procs__sweep(c, cont__now_ns(CLOCK_MONOTONIC));
}
