// SPDX-License-Identifier: GPL-2.0
/* continuous: life cycle, queue, worker loop, targets, pulls (see
 * continuous_int.h for how the module is split). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "cfilter.h"
#include "continuous_int.h"
#include "profile.h"
#include "sampler.h"
#include "session.h"

uint64_t cont__ringbuf_lost(struct continuous *c)
{
	uint64_t errs[PROFD_ERR_MAX] = {};

	if (c->sampler)
		(void)sampler__errors(c->sampler, errs);
	return errs[PROFD_ERR_RINGBUF_FULL];
}

int continuous__new(const struct continuous_config *cfg,
		    struct proc_cache *pc, struct session_mgr *m,
		    struct fleet *f, struct continuous **ret)
{
	struct continuous *c;
	pthread_condattr_t ca;
	char err[256];
	int r;

	if (cfg->on && (!cfg->hz || !cfg->interval_s))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->cfg.include = c->cfg.exclude = NULL;
	r = cfilter__parse(cfg->include, &c->include, err, sizeof(err));
	if (r == 0)
		r = cfilter__parse(cfg->exclude, &c->exclude, err, sizeof(err));
	if (r < 0) {
		free(c);
		return r;
	}
	r = profile_symcache__new(SYMCACHE_ENTRIES, &c->symcache);
	if (r < 0) {
		free(c);
		return r;
	}
	c->pc = pc;
	c->sym = proc_cache__symbolizer(pc);
	c->m = m;
	c->fleet = f;
	c->wake_fd = -1;
	if (cfg->on) {
		c->iv_period_ns = 1000000000ULL / cfg->hz;
		c->iv_ns = (uint64_t)cfg->interval_s * 1000000000ULL;
	}
	pthread_mutex_init(&c->qlock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->tlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->qcond, &ca);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->st.on = cfg->on;
	c->st.hz = cfg->on ? cfg->hz : 0;
	c->st.interval_s = cfg->on ? cfg->interval_s : 0;
	*ret = c;
	return 0;
}

/*
 * Make the sampler's every-process targets those of the open slots, and
 * the queue take their periods. Kernel stacks and stack copies always:
 * continuous profiles are whole-system ones.
 */
int cont__update_targets(struct continuous *c)
{
	struct sampler_target t[NSLOTS];
	uint64_t periods[NSLOTS] = {};
	size_t n = 0, i, j;
	int r;

	pthread_mutex_lock(&c->tlock);
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < NSLOTS; i++) {
		if (c->slots[i].state != SLOT_OPEN)
			continue;
		periods[i] = c->slots[i].period_ns;
		for (j = 0; j < n && t[j].period_ns != c->slots[i].period_ns; j++)
			;
		if (j < n) {
			if (i >= IV_SLOTS)
				t[j].flags |= PROFD_TARGET_STACK;
			continue;
		}
		t[n].tgid = 0;
		t[n].period_ns = c->slots[i].period_ns;
		/* Pulls copy stacks always; intervals unless continuous-fp
		 * (a pull at the intervals' period shares their target). */
		t[n].flags = PROFD_TARGET_KERNEL;
		if (!c->cfg.fp || i >= IV_SLOTS)
			t[n].flags |= PROFD_TARGET_STACK;
		n++;
	}
	pthread_mutex_unlock(&c->lock);
	/* The queue takes a new period before its samples come, and lets
	 * an old one go after they stop: none is refused in between. */
	pthread_mutex_lock(&c->qlock);
	for (i = 0; i < NSLOTS; i++)
		if (periods[i])
			c->periods[i] = periods[i];
	pthread_mutex_unlock(&c->qlock);
	r = session_mgr__set_extra(c->m, t, n);
	pthread_mutex_lock(&c->qlock);
	memcpy(c->periods, periods, sizeof(periods));
	pthread_mutex_unlock(&c->qlock);
	pthread_mutex_unlock(&c->tlock);
	return r;
}

/* ---- main thread ---- */

void continuous__on_sample(struct continuous *c,
			   const struct profd_cpu_sample *s)
{
	const struct profd_cpu_sample_stack *ss = (const void *)s;
	size_t len = sizeof(*s), stack = 0, i;
	struct profd_cpu_sample_stack *cp;
	struct qitem *q;
	bool want = false;

	if (s->kind == PROFD_EV_CPU_SAMPLE_STACK) {
		/* Only the bytes from sp up (sampler.c checked the sizes). */
		stack = ss->stack_len;
		len = offsetof(struct profd_cpu_sample_stack, stack) + stack;
	}
	pthread_mutex_lock(&c->qlock);
	for (i = 0; i < NSLOTS && !want; i++)
		want = c->periods[i] == s->period_ns;
	if (!want || c->stop) {
		pthread_mutex_unlock(&c->qlock);
		return;
	}
	if (c->qbytes + len > CONTINUOUS_QUEUE_BYTES) {
		pthread_mutex_unlock(&c->qlock);
		pthread_mutex_lock(&c->lock);
		c->st.lost_queue_full++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->qbytes += len;
	pthread_mutex_unlock(&c->qlock);

	q = malloc(sizeof(*q) + len);
	if (!q) {
		pthread_mutex_lock(&c->qlock);
		c->qbytes -= len;
		pthread_mutex_unlock(&c->qlock);
		pthread_mutex_lock(&c->lock);
		c->st.lost_queue_full++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	q->next = NULL;
	q->len = len;
	q->watermark_ns = 0;
	if (s->kind == PROFD_EV_CPU_SAMPLE_STACK) {
		cp = (void *)q->data;
		memcpy(cp, ss, offsetof(struct profd_cpu_sample_stack, stack));
		memcpy(cp->stack, ss->stack + ss->stack_skip, stack);
		cp->stack_skip = 0;
	} else {
		memcpy(q->data, s, sizeof(*s));
	}
	pthread_mutex_lock(&c->qlock);
	if (c->qtail)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	pthread_mutex_unlock(&c->qlock);
}

void continuous__drained(struct continuous *c, uint64_t began_ns)
{
	struct qitem *q = malloc(sizeof(*q));

	if (!q)
		return;		/* the next pass's will do */
	q->next = NULL;
	q->len = 0;
	q->watermark_ns = began_ns > WATERMARK_SLACK_NS ?
			  began_ns - WATERMARK_SLACK_NS : 0;
	pthread_mutex_lock(&c->qlock);
	if (c->qtail)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	pthread_cond_signal(&c->qcond);
	pthread_mutex_unlock(&c->qlock);
}

static void *worker(void *arg)
{
	struct continuous *c = arg;
	struct qitem *q;
	uint64_t last_sweep = 0, now;

	for (;;) {
		pthread_mutex_lock(&c->qlock);
		while (!c->qhead && !c->stop)
			pthread_cond_wait(&c->qcond, &c->qlock);
		if (c->stop) {
			pthread_mutex_unlock(&c->qlock);
			break;
		}
		q = c->qhead;
		c->qhead = q->next;
		if (!c->qhead)
			c->qtail = NULL;
		c->qbytes -= q->len;
		pthread_mutex_unlock(&c->qlock);
		if (q->len) {
			cont_procs__sample(c, (const void *)q->data);
		} else {
			cont_procs__refilter(c);
			cont_iv__watermark(c, q->watermark_ns);
			now = cont__now_ns(CLOCK_MONOTONIC);
			if (now - last_sweep > 5000000000ULL) {
				last_sweep = now;
				cont_procs__sweep(c, now);
			}
		}
		free(q);
	}
	return NULL;
}

int continuous__start(struct continuous *c, struct sampler *s, int wake_fd)
{
	uint64_t mono, wall, first;
	struct rlimit rl;
	int r;

	c->sampler = s;
	c->wake_fd = wake_fd;
	/* Three descriptors a process (pidfd, /proc/PID, its maps), besides
	 * the binaries the symbolizer keeps: raise the soft limit to the
	 * hard one and track no more than it allows. */
	c->max_procs = CONTINUOUS_MAX_PROCS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur != RLIM_INFINITY &&
		    (rl.rlim_cur < 1024 ||
		     (rl.rlim_cur - 512) / 3 < c->max_procs))
			c->max_procs = rl.rlim_cur < 1024 ? 128 :
				       (size_t)(rl.rlim_cur - 512) / 3;
	}
	c->rb_lost_mark = cont__ringbuf_lost(c);
	r = pthread_create(&c->worker, NULL, worker, c);
	if (r)
		return -r;
	c->worker_started = true;
	if (!c->cfg.on)
		return 0;
	/* Intervals end on multiples of the interval on the wall clock;
	 * the first one is shorter (its duration says so). */
	mono = cont__now_ns(CLOCK_MONOTONIC);
	wall = cont__now_ns(CLOCK_REALTIME);
	first = (wall / c->iv_ns + 1) * c->iv_ns - wall;
	c->iv_cur_ns = c->iv_ns;
	pthread_mutex_lock(&c->lock);
	c->slots[0] = (struct slot){
		.state = SLOT_OPEN, .period_ns = c->iv_period_ns,
		.start_ns = mono, .end_ns = mono + first,
		.start_wall_ns = (int64_t)wall,
	};
	c->slots[1] = (struct slot){
		.state = SLOT_OPEN, .period_ns = c->iv_period_ns,
		.start_ns = mono + first, .end_ns = mono + first + c->iv_ns,
		.start_wall_ns = (int64_t)(wall + first),
	};
	pthread_mutex_unlock(&c->lock);
	return cont__update_targets(c);
}

void continuous__shutdown(struct continuous *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->qlock);
	c->stop = true;
	pthread_cond_broadcast(&c->qcond);
	pthread_mutex_unlock(&c->qlock);
	pthread_mutex_lock(&c->lock);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static bool stopping(struct continuous *c)
{
	bool r;

	pthread_mutex_lock(&c->qlock);
	r = c->stop;
	pthread_mutex_unlock(&c->qlock);
	return r;
}

int continuous__pull(struct continuous *c, unsigned seconds, unsigned hz,
		     int conn_fd, void **ret_buf, size_t *ret_len)
{
	struct timespec ts;
	uint64_t now, deadline, one = 1;
	unsigned i;
	int r;

	if (!hz || !seconds)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	for (i = IV_SLOTS; i < NSLOTS && c->slots[i].state != SLOT_FREE; i++)
		;
	if (i == NSLOTS) {
		pthread_mutex_unlock(&c->lock);
		return -EBUSY;
	}
	now = cont__now_ns(CLOCK_MONOTONIC);
	c->slots[i] = (struct slot){
		.state = SLOT_OPEN, .period_ns = 1000000000ULL / hz,
		.start_ns = now, .end_ns = now + (uint64_t)seconds * 1000000000ULL,
		.start_wall_ns = (int64_t)cont__now_ns(CLOCK_REALTIME),
		.lost_at_start = cont__ringbuf_lost(c),
	};
	c->st.pulls++;
	pthread_mutex_unlock(&c->lock);
	r = cont__update_targets(c);
	if (r < 0) {
		pthread_mutex_lock(&c->lock);
		/* The worker may have seen it open: it holds no samples
		 * (none came at that period), but it may be closing it. */
		c->slots[i].abandoned = true;
		c->slots[i].end_ns = now;
		pthread_mutex_unlock(&c->lock);
		return r;
	}

	for (;;) {
		struct pollfd pfd = { .fd = conn_fd, .events = POLLRDHUP };
		uint64_t end;

		now = cont__now_ns(CLOCK_MONOTONIC);
		pthread_mutex_lock(&c->lock);
		end = c->slots[i].end_ns;
		pthread_mutex_unlock(&c->lock);
		if (now >= end)
			break;
		if (stopping(c)) {
			r = -ECANCELED;
			goto abandon;
		}
		if (poll(&pfd, 1, (int)((end - now) / 1000000 > 100 ? 100 :
					(end - now) / 1000000 + 1)) > 0 &&
		    conn_fd >= 0 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			r = -ECONNRESET;
			goto abandon;
		}
	}
	/* Ask for a drain now rather than at the loop's next 50 ms. */
	if (c->wake_fd >= 0)
		(void)!write(c->wake_fd, &one, sizeof(one));
	deadline = cont__now_ns(CLOCK_MONOTONIC) + PULL_TIMEOUT_NS;
	ts.tv_sec = (time_t)(deadline / 1000000000ULL);
	ts.tv_nsec = (long)(deadline % 1000000000ULL);
	pthread_mutex_lock(&c->lock);
	while (c->slots[i].state != SLOT_DONE) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0 ||
		    c->stop) {
			/* The worker frees it when it is built. */
			c->slots[i].abandoned = true;
			pthread_mutex_unlock(&c->lock);
			return -ECANCELED;
		}
	}
	r = c->slots[i].result;
	*ret_buf = c->slots[i].buf;
	*ret_len = c->slots[i].len;
	memset(&c->slots[i], 0, sizeof(c->slots[i]));
	pthread_mutex_unlock(&c->lock);
	(void)cont__update_targets(c);
	if (r < 0)
		free(*ret_buf);
	return r;

abandon:
	pthread_mutex_lock(&c->lock);
	if (c->slots[i].state == SLOT_DONE) {
		free(c->slots[i].buf);
		memset(&c->slots[i], 0, sizeof(c->slots[i]));
		pthread_mutex_unlock(&c->lock);
		(void)cont__update_targets(c);
		return r;
	}
	/* The worker closes it at the next drain and lets its period go. */
	c->slots[i].abandoned = true;
	c->slots[i].end_ns = now;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int continuous__reload(struct continuous *c,
		       const struct continuous_config *cfg, char *err,
		       size_t errsize, unsigned *ret_what)
{
	struct cfilter *inc, *exc;
	unsigned what = 0;
	int r;

	/* Two filters are 34 KiB: not on the stack. */
	inc = malloc(2 * sizeof(*inc));
	if (!inc)
		return -ENOMEM;
	exc = inc + 1;
	r = cfilter__parse(cfg->include, inc, err, errsize);
	if (r == 0)
		r = cfilter__parse(cfg->exclude, exc, err, errsize);
	if (r < 0)
		goto out;
	if (cfg->on && (!cfg->hz || !cfg->interval_s)) {
		snprintf(err, errsize, "continuous-hz and continuous-interval must not be 0");
		r = -EINVAL;
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	if (cfg->on != c->st.on || cfg->fp != c->cfg.fp) {
		/* Starting or stopping every-process sampling live would
		 * need a partial interval closed or opened: not worth it for
		 * a switch that is set once per host. */
		what |= CONTINUOUS_RELOAD_REFUSED;
		c->st.reloads_refused++;
	}
	if (c->st.on && cfg->hz && cfg->interval_s &&
	    (1000000000ULL / cfg->hz != c->iv_period_ns ||
	     (uint64_t)cfg->interval_s * 1000000000ULL != c->iv_ns)) {
		c->iv_period_ns = 1000000000ULL / cfg->hz;
		c->iv_ns = (uint64_t)cfg->interval_s * 1000000000ULL;
		what |= CONTINUOUS_RELOAD_RATE;
	}
	/* Against the pending filters if any (c->include is the worker's
	 * otherwise, and a reload only ever sets what it reads). */
	if (memcmp(inc, c->pend_filters ? &c->pend_include : &c->include,
		   sizeof(*inc)) ||
	    memcmp(exc, c->pend_filters ? &c->pend_exclude : &c->exclude,
		   sizeof(*exc))) {
		c->pend_include = *inc;
		c->pend_exclude = *exc;
		c->pend_filters = true;
		what |= CONTINUOUS_RELOAD_FILTERS;
	}
	if (what & (CONTINUOUS_RELOAD_RATE | CONTINUOUS_RELOAD_FILTERS))
		c->st.reloads_applied++;
	pthread_mutex_unlock(&c->lock);
	*ret_what = what;
out:
	free(inc);
	return r;
}

void continuous__stats(struct continuous *c, struct continuous_stats *ret)
{
	pthread_mutex_lock(&c->lock);
	*ret = c->st;
	pthread_mutex_unlock(&c->lock);
}

void continuous__free(struct continuous *c)
{
	struct cproc *p, *n;
	struct qitem *q, *qn;
	unsigned i;

	if (!c)
		return;
	continuous__shutdown(c);
	if (c->worker_started)
		pthread_join(c->worker, NULL);
	for (q = c->qhead; q; q = qn) {
		qn = q->next;
		free(q);
	}
	for (p = c->all; p; p = n) {
		n = p->next;
		cont_proc__free(p);
	}
	for (i = 0; i < NSLOTS; i++)
		free(c->slots[i].buf);
	profile_symcache__free(c->symcache);
	pthread_cond_destroy(&c->qcond);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->qlock);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->tlock);
	free(c);
}
