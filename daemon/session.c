// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "cputime.h"
#include "kallsyms.h"
#include "log.h"
#include "proc.h"
#include "profile.h"
#include "session.h"
#include "unwind.h"

/* Re-read a process's maps at most this often when an unknown address
 * shows up (a library loaded mid-window). */
#define MAPS_REFRESH_NS (100ULL * 1000 * 1000)
/* How long finishing waits for the ring buffer to be drained. */
#define DRAIN_TIMEOUT_NS (2ULL * 1000 * 1000 * 1000)

struct session {
	struct session *next;
	uint64_t id;
	struct session_req req;
	uint64_t period_ns;
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC window */
	int64_t start_wall_ns;
	struct proc *proc;
	struct aggregate *agg;
	uint64_t lost_at_start;
	bool closed;			/* no more samples wanted */
	/* The target's CPU time (cputime.h), to tell a window that missed
	 * its samples: /proc/PID/stat kept open (-1: unknown), the value at
	 * the start and the latest one read, which a process that is gone
	 * at the end leaves at its last 100 ms. Only the API thread that
	 * owns the session touches these. */
	int stat_fd;
	uint64_t cpu_start_ns, cpu_last_ns;
};

struct procref {
	struct procref *next;
	struct proc *proc;
};

struct session_mgr {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* epoch advanced, or shutdown */
	struct session_limits lim;
	struct symbolizer *sym;
	struct sampler *sampler;
	struct session *sessions;
	struct procref *procs;
	struct kallsyms *ksyms;
	uint64_t epoch, next_id, started_ns;
	int wake_fd;			/* eventfd: ask the main loop to drain */
	bool stopping;
	struct session_mgr_stats st;
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int session_mgr__new(const struct session_limits *lim, struct symbolizer *sym,
		     struct session_mgr **ret)
{
	struct session_mgr *m = calloc(1, sizeof(*m));
	pthread_condattr_t ca;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	m->lim = *lim;
	m->sym = sym;
	m->next_id = 1;
	m->wake_fd = -1;
	m->started_ns = now_ns(CLOCK_MONOTONIC);
	*ret = m;
	return 0;
}

void session_mgr__free(struct session_mgr *m)
{
	struct procref *pr, *n;

	if (!m)
		return;
	/* Sessions belong to API threads, which are stopped by now. */
	for (pr = m->procs; pr; pr = n) {
		n = pr->next;
		proc__free(pr->proc);
		free(pr);
	}
	kallsyms__free(m->ksyms);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void session_mgr__set_sampler(struct session_mgr *m, struct sampler *s,
			      int wake_fd)
{
	m->sampler = s;
	m->wake_fd = wake_fd;
}

static uint64_t lost_samples(struct session_mgr *m)
{
	uint64_t errs[PROFD_ERR_MAX] = {};

	if (m->sampler)
		(void)sampler__errors(m->sampler, errs);
	return errs[PROFD_ERR_RINGBUF_FULL];
}

/*
 * Make the sampler do what the open sessions want: the set of periods, and
 * (pid, period) targets with the union of their flags. Under m->lock.
 */
static int reconcile(struct session_mgr *m)
{
	struct sampler_target t[256];
	uint64_t periods[PROFD_MAX_PERIODS];
	size_t nt = 0, np = 0, i;
	struct session *s;
	int r;

	for (s = m->sessions; s; s = s->next) {
		if (s->closed)
			continue;
		for (i = 0; i < np && periods[i] != s->period_ns; i++)
			;
		if (i == np) {
			if (np == PROFD_MAX_PERIODS)
				return -E2BIG;
			periods[np++] = s->period_ns;
		}
		for (i = 0; i < nt; i++)
			if (t[i].tgid == s->req.pid &&
			    t[i].period_ns == s->period_ns)
				break;
		if (i == nt) {
			if (nt == sizeof(t) / sizeof(t[0]))
				return -E2BIG;
			t[nt].tgid = s->req.pid;
			t[nt].period_ns = s->period_ns;
			t[nt].flags = 0;
			nt++;
		}
		if (s->req.kernel)
			t[i].flags |= PROFD_TARGET_KERNEL;
		if (!s->req.fp_only)
			t[i].flags |= PROFD_TARGET_STACK;
	}
	if (!m->sampler)
		return -ENODEV;
	/* Targets first when shrinking is harmless either way: both maps
	 * only filter, and a period without targets emits nothing. */
	r = sampler__set_periods(m->sampler, periods, np);
	if (r < 0)
		return r;
	r = sampler__set_targets(m->sampler, t, nt);
	if (r < 0)
		return r;
	m->st.periods_active = (unsigned)np;
	m->st.targets_active = (unsigned)nt;
	return 0;
}

/* The shared proc for @pid, created if new or if the pid was reused. */
static struct proc *find_proc(struct session_mgr *m, pid_t pid,
			      uint64_t start_time)
{
	struct procref *pr;

	for (pr = m->procs; pr; pr = pr->next)
		if (pr->proc->pid == pid && pr->proc->start_time == start_time &&
		    !pr->proc->gone)
			return pr->proc;
	return NULL;
}

/*
 * The shared proc for @pid (created if new or if the pid was reused):
 * an existing one, else *fresh, which the caller built without the lock
 * (reading maps and loading DWARF takes a while). Under m->lock.
 */
static int get_proc(struct session_mgr *m, pid_t pid, uint64_t start_time,
		    struct proc **fresh, struct proc **ret)
{
	struct procref *pr;
	struct proc *p = find_proc(m, pid, start_time);

	if (p) {
		p->refs++;
		*ret = p;
		return 0;
	}
	if (!*fresh)
		return -EAGAIN;
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return -ENOMEM;
	pr->proc = *fresh;
	*fresh = NULL;
	pr->next = m->procs;
	m->procs = pr;
	*ret = pr->proc;
	return 0;
}

static void put_proc(struct session_mgr *m, struct proc *p)
{
	struct procref **pp, *pr;

	if (--p->refs > 0)
		return;
	for (pp = &m->procs; *pp; pp = &(*pp)->next) {
		if ((*pp)->proc == p) {
			pr = *pp;
			*pp = pr->next;
			free(pr);
			break;
		}
	}
	proc__free(p);
}

static void unlink_session(struct session_mgr *m, struct session *s)
{
	struct session **pp;

	for (pp = &m->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			m->st.sessions_active--;
			return;
		}
	}
}

/*
 * Open the target's /proc/PID/stat and read its CPU time so far. Without
 * it (the process is going away) the window just goes unchecked.
 */
static void open_cputime(struct session *s)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", s->req.pid);
	s->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->stat_fd >= 0 &&
	    cputime__read(s->stat_fd, &s->cpu_start_ns) < 0) {
		close(s->stat_fd);
		s->stat_fd = -1;
	}
	s->cpu_last_ns = s->cpu_start_ns;
}

int session__start(struct session_mgr *m, const struct session_req *req,
		   struct session **ret)
{
	struct proc_ids ids;
	struct session *s, *it;
	struct proc *fresh = NULL;
	unsigned n = 0, nuid = 0;
	bool have;
	int r;

	if (req->seconds == 0 || req->seconds > m->lim.max_seconds ||
	    req->hz == 0 || req->hz > m->lim.max_hz)
		return -EINVAL;
	r = proc__read_ids(req->pid, &ids);
	if (r < 0)
		return r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->req = *req;
	s->period_ns = 1000000000ULL / req->hz;
	s->stat_fd = -1;
	s->agg = aggregate__new(m->lim.max_stacks);
	if (!s->agg) {
		free(s);
		return -ENOMEM;
	}

	/* Capture the process outside the lock unless someone has. */
	pthread_mutex_lock(&m->lock);
	have = find_proc(m, req->pid, ids.start_time) != NULL;
	pthread_mutex_unlock(&m->lock);
	if (!have) {
		r = proc__new(m->sym, req->pid, &fresh);
		if (r < 0)
			goto fail_unlocked;
	}
	open_cputime(s);	/* last thing before the window opens */

	pthread_mutex_lock(&m->lock);
	if (m->stopping) {
		r = -ECANCELED;
		goto fail;
	}
	for (it = m->sessions; it; it = it->next) {
		n++;
		if (it->req.uid == req->uid)
			nuid++;
	}
	if (n >= m->lim.max_sessions) {
		r = -EBUSY;
		goto fail;
	}
	if (nuid >= m->lim.max_sessions_per_uid) {
		r = -EUSERS;
		goto fail;
	}
	r = get_proc(m, req->pid, ids.start_time, &fresh, &s->proc);
	if (r == -EAGAIN) {
		/* Released between our look and now: capture it here. */
		r = proc__new(m->sym, req->pid, &fresh);
		if (r == 0)
			r = get_proc(m, req->pid, ids.start_time, &fresh,
				     &s->proc);
	}
	if (r < 0)
		goto fail;
	s->id = m->next_id++;
	s->start_ns = now_ns(CLOCK_MONOTONIC);
	s->end_ns = s->start_ns + (uint64_t)req->seconds * 1000000000ULL;
	s->start_wall_ns = (int64_t)now_ns(CLOCK_REALTIME);
	s->lost_at_start = lost_samples(m);
	s->next = m->sessions;
	m->sessions = s;
	m->st.sessions_active++;
	m->st.sessions_total++;
	r = reconcile(m);
	if (r < 0) {
		unlink_session(m, s);
		(void)reconcile(m);
		put_proc(m, s->proc);
		goto fail;
	}
	pthread_mutex_unlock(&m->lock);
	proc__free(fresh);	/* another session had it already */
	*ret = s;
	return 0;
fail:
	pthread_mutex_unlock(&m->lock);
fail_unlocked:
	proc__free(fresh);
	aggregate__free(s->agg);
	if (s->stat_fd >= 0)
		close(s->stat_fd);
	free(s);
	return r;
}

/*
 * DWARF-unwind a sample once for every session that wants it. Returns the
 * frame count (0: use the frame-pointer stack). Main thread, under lock.
 */
static unsigned unwind_sample(struct session_mgr *m, struct proc *p,
			      const struct profd_cpu_sample *cs,
			      uint64_t *ips, bool *truncated)
{
	const struct profd_cpu_sample_stack *ss = (const void *)cs;
	int n;

	if (cs->kind != PROFD_EV_CPU_SAMPLE_STACK || !ss->stack_len ||
	    ss->stack_len > PROFD_STACK_COPY) {
		m->st.unwind_no_copy++;
		return 0;
	}
	n = unwind__stack(p, (const uint64_t *)ss->regs,
			  ss->stack, ss->stack_len, ips, PROFD_MAX_USER_FRAMES,
			  truncated);
	if (n <= 0) {
		m->st.unwind_errors++;
		return 0;
	}
	m->st.unwound++;
	if (*truncated)
		m->st.unwind_truncated++;
	return (unsigned)n;
}

void session_mgr__on_sample(void *ctx, const struct profd_cpu_sample *cs)
{
	struct session_mgr *m = ctx;
	struct proc *checked = NULL, *unwound = NULL;
	uint64_t dw[PROFD_MAX_USER_FRAMES];
	struct session *s;
	uint16_t nu = cs->n_user, nk = cs->n_kernel;
	uint32_t flags = 0, dflags = 0;
	unsigned ndw = 0;
	bool trunc = false;

	if (nu > PROFD_MAX_USER_FRAMES)
		nu = PROFD_MAX_USER_FRAMES;
	if (nk > PROFD_MAX_KERNEL_FRAMES)
		nk = PROFD_MAX_KERNEL_FRAMES;
	if (cs->flags & PROFD_SF_USER_TRUNC)
		flags |= AGG_F_USER_TRUNC;
	if (cs->flags & PROFD_SF_USER_ERR)
		flags |= AGG_F_USER_ERR;

	pthread_mutex_lock(&m->lock);
	m->st.samples_total++;
	for (s = m->sessions; s; s = s->next) {
		const uint64_t *ips = (const uint64_t *)cs->user_ips;
		uint16_t n = nu;
		uint32_t f = flags;

		if (s->closed || s->req.pid != (pid_t)cs->tgid ||
		    s->period_ns != cs->period_ns ||
		    cs->time_ns < s->start_ns || cs->time_ns >= s->end_ns)
			continue;
		if (checked != s->proc) {
			/* A library loaded since we last looked? */
			checked = s->proc;
			if (!proc__covers(s->proc, (const uint64_t *)cs->user_ips, nu) &&
			    proc__refresh(s->proc, m->sym, cs->time_ns,
					  MAPS_REFRESH_NS) == 1)
				m->st.maps_refreshes++;
		}
		if (!s->req.fp_only) {
			if (unwound != s->proc) {
				unwound = s->proc;
				ndw = unwind_sample(m, s->proc, cs, dw, &trunc);
				dflags = flags & ~AGG_F_USER_TRUNC;
				if (trunc)
					dflags |= AGG_F_USER_TRUNC;
			}
			if (ndw) {
				ips = dw;
				n = (uint16_t)ndw;
				f = dflags;
			} else {
				/* No DWARF walk: the frame-pointer stack, of
				 * unknown completeness — never shown as whole. */
				f |= AGG_F_USER_TRUNC;
			}
		}
		m->st.samples_matched++;
		if (aggregate__add(s->agg, cs->tid, cs->comm, f, ips, n,
				   (const uint64_t *)cs->kernel_ips,
				   s->req.kernel ? nk : 0, 1,
				   s->period_ns) == -ENOSPC)
			m->st.samples_dropped++;
	}
	pthread_mutex_unlock(&m->lock);
}

void session_mgr__drained(struct session_mgr *m)
{
	pthread_mutex_lock(&m->lock);
	m->epoch++;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

void session_mgr__shutdown(struct session_mgr *m)
{
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static bool stopping(struct session_mgr *m)
{
	bool r;

	pthread_mutex_lock(&m->lock);
	r = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return r;
}

int session__wait(struct session_mgr *m, struct session *s, int conn_fd)
{
	for (;;) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		int timeout_ms;

		/* Every 100 ms: what a process that exits mid-window used
		 * is known to within that (a read is a few microseconds). */
		if (s->stat_fd >= 0)
			(void)cputime__read(s->stat_fd, &s->cpu_last_ns);
		if (stopping(m))
			return -ECANCELED;
		if (now >= s->end_ns)
			return 0;
		timeout_ms = (int)((s->end_ns - now) / 1000000) + 1;
		if (timeout_ms > 100)
			timeout_ms = 100;
		if (conn_fd >= 0) {
			struct pollfd pfd = { .fd = conn_fd,
					      .events = POLLRDHUP };

			if (poll(&pfd, 1, timeout_ms) > 0 &&
			    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
				return -ECONNRESET;
		} else {
			usleep((useconds_t)timeout_ms * 1000);
		}
	}
}

/*
 * Wait until the main loop has completed a drain that began after now, so
 * every sample taken before the window's end has been dispatched: kick it
 * and wait for two epochs (the one in progress may have begun earlier).
 */
static bool wait_drained(struct session_mgr *m)
{
	bool drained = false;
	struct timespec ts;
	uint64_t target, e, one = 1;
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + DRAIN_TIMEOUT_NS;

	ts.tv_sec = (time_t)(deadline / 1000000000ULL);
	ts.tv_nsec = (long)(deadline % 1000000000ULL);
	pthread_mutex_lock(&m->lock);
	target = m->epoch + 2;
	/* Kick once per pass: the loop would otherwise only come back for
	 * the second pass at its 50 ms timer. EAGAIN (a kick pending) is
	 * fine to ignore. */
	while (m->epoch < target && !m->stopping) {
		e = m->epoch;
		if (m->wake_fd >= 0)
			(void)!write(m->wake_fd, &one, sizeof(one));
		while (m->epoch == e && !m->stopping)
			if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) ==
			    ETIMEDOUT)
				goto out;
	}
	drained = m->epoch >= target;
out:
	pthread_mutex_unlock(&m->lock);
	return drained;
}

static struct kallsyms *get_kallsyms(struct session_mgr *m)
{
	struct kallsyms *k = NULL;
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap), *nb;
	int fd;
	ssize_t n;

	pthread_mutex_lock(&m->lock);
	k = m->ksyms;
	pthread_mutex_unlock(&m->lock);
	if (k || !buf)
		goto out;
	fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	/* /proc/kallsyms is ~10 MB; cap at 256 MB. */
	for (;;) {
		if (len == cap) {
			if (cap >= (256u << 20) || !(nb = realloc(buf, cap * 2)))
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (kallsyms__parse(buf, len, &k) < 0)
		k = NULL;
	if (k) {
		pthread_mutex_lock(&m->lock);
		if (m->ksyms) {
			kallsyms__free(k);
		} else {
			m->ksyms = k;
		}
		k = m->ksyms;
		pthread_mutex_unlock(&m->lock);
	}
out:
	free(buf);
	return k;
}

/*
 * Did the window get the samples its process's CPU time implies? If not,
 * a comment for the profile in @buf (empty otherwise), counted and logged:
 * a profile the sampler did not see must never pass for a complete one.
 */
static void check_samples(struct session_mgr *m, struct session *s,
			  char *buf, size_t size)
{
	struct aggregate_totals t;
	uint64_t cpu, got;

	buf[0] = 0;
	if (s->stat_fd < 0)
		return;
	(void)cputime__read(s->stat_fd, &s->cpu_last_ns);
	cpu = s->cpu_last_ns - s->cpu_start_ns;
	aggregate__totals(s->agg, &t);
	got = t.samples + t.dropped_samples;
	if (!cputime__samples_missing(cpu, s->period_ns, got))
		return;
	snprintf(buf, size,
		 "warning: the process used %.2f s of CPU in the window (about %" PRIu64
		 " samples at %u Hz) but profd got %" PRIu64
		 ": most of its samples are missing from this profile",
		 (double)cpu / 1e9, cpu / s->period_ns, s->req.hz, got);
	log_warn("session %" PRIu64 ": pid %d used %.2f s of CPU in the window but got %" PRIu64
		 " samples (about %" PRIu64 " expected at %u Hz)",
		 s->id, (int)s->req.pid, (double)cpu / 1e9, got,
		 cpu / s->period_ns, s->req.hz);
	pthread_mutex_lock(&m->lock);
	m->st.windows_missing_samples++;
	pthread_mutex_unlock(&m->lock);
}

int session__finish(struct session_mgr *m, struct session *s, void **ret_buf,
		    size_t *ret_len)
{
	struct profile_cpu_desc d = {};
	struct proc_ids ids;
	const char *comments[3];
	char missing[256];
	size_t nc = 0;
	bool drained;
	uint64_t lost;
	int r;

	drained = wait_drained(m);
	pthread_mutex_lock(&m->lock);
	s->closed = true;
	(void)reconcile(m);
	lost = lost_samples(m) - s->lost_at_start;
	m->st.samples_lost = lost_samples(m);
	pthread_mutex_unlock(&m->lock);
	/* The aggregate is ours alone once closed: no lock needed. */
	check_samples(m, s, missing, sizeof(missing));

	d.proc = s->proc;
	d.agg = s->agg;
	d.ksyms = s->req.kernel ? get_kallsyms(m) : NULL;
	d.period_ns = s->period_ns;
	d.time_nanos = s->start_wall_ns;
	d.duration_nanos = (int64_t)(s->end_ns - s->start_ns);
	d.lost_samples = lost;
	d.process_exited = proc__read_ids(s->req.pid, &ids) < 0 ||
			   ids.start_time != s->proc->start_time;
	comments[nc++] = s->req.fp_only ?
		"user stacks: frame-pointer walk (unwind=fp)" :
		"user stacks: DWARF-unwound in profd ([truncated] where the copy or CFI ran out)";
	if (!drained)	/* never silently short: say so in the profile */
		comments[nc++] = "sample dispatch fell behind at the window's end: samples from its last moments may be missing";
	if (missing[0])
		comments[nc++] = missing;
	d.comments = comments;
	d.ncomments = nc;
	r = profile__build_cpu(&d, ret_buf, ret_len);
	return r;
}

void session__free(struct session_mgr *m, struct session *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&m->lock);
	unlink_session(m, s);
	s->closed = true;
	(void)reconcile(m);
	put_proc(m, s->proc);
	pthread_mutex_unlock(&m->lock);
	aggregate__free(s->agg);
	if (s->stat_fd >= 0)
		close(s->stat_fd);
	free(s);
}

void session_mgr__stats(struct session_mgr *m, struct session_mgr_stats *ret)
{
	uint64_t errs[PROFD_ERR_MAX] = {};

	if (m->sampler)
		(void)sampler__errors(m->sampler, errs);
	pthread_mutex_lock(&m->lock);
	*ret = m->st;
	pthread_mutex_unlock(&m->lock);
	ret->samples_lost = errs[PROFD_ERR_RINGBUF_FULL];
	ret->user_stack_errors = errs[PROFD_ERR_USER_STACK];
	ret->kernel_stack_errors = errs[PROFD_ERR_KERNEL_STACK];
	ret->uptime_ns = now_ns(CLOCK_MONOTONIC) - m->started_ns;
	symbolizer__stats(m->sym, &ret->sym);
}

size_t session_mgr__sessions_json(struct session_mgr *m, uid_t viewer,
				  char *buf, size_t size)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	struct session *s;
	size_t len = 0;
	int n;

	if (size < 3)
		return 0;
	buf[len++] = '[';
	pthread_mutex_lock(&m->lock);
	for (s = m->sessions; s; s = s->next) {
		struct aggregate_totals t;

		/* Other users' sessions are theirs to see (and root's). */
		if (viewer != 0 && s->req.uid != viewer)
			continue;
		aggregate__totals(s->agg, &t);
		n = snprintf(buf + len, size - len,
			     "%s{\"id\":%" PRIu64 ",\"type\":\"cpu\",\"pid\":%d,"
			     "\"uid\":%u,\"hz\":%u,\"seconds\":%u,"
			     "\"elapsed_ms\":%" PRIu64 ",\"samples\":%" PRIu64
			     ",\"stacks\":%" PRIu64 ",\"dropped\":%" PRIu64 "}",
			     len > 1 ? "," : "", s->id, s->req.pid,
			     (unsigned)s->req.uid, s->req.hz, s->req.seconds,
			     (now - s->start_ns) / 1000000, t.samples, t.stacks,
			     t.dropped_samples);
		if (n < 0 || (size_t)n >= size - len - 1)
			break;
		len += (size_t)n;
	}
	pthread_mutex_unlock(&m->lock);
	buf[len++] = ']';
	buf[len] = 0;
	return len;
}

const struct session_limits *session_mgr__limits(struct session_mgr *m)
{
	return &m->lim;
}

void session_mgr__wait_idle(struct session_mgr *m, unsigned timeout_ms)
{
	unsigned waited = 0, active;

	for (;;) {
		pthread_mutex_lock(&m->lock);
		active = m->st.sessions_active;
		pthread_mutex_unlock(&m->lock);
		if (!active || waited >= timeout_ms)
			break;
		usleep(20 * 1000);
		waited += 20;
	}
	/* The response is queued when the session is freed; give the
	 * connection thread a moment to write it. */
	if (waited)
		usleep(100 * 1000);
}
