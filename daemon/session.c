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
#include "execwatch.h"
#include "kallsyms.h"
#include "log.h"
#include "proc.h"
#include "profile.h"
#include "session.h"
#include "target.h"
#include "unwind.h"

/* Re-read a process's maps at most this often when an unknown address
 * shows up (a library loaded mid-window). */
#define MAPS_REFRESH_NS (100ULL * 1000 * 1000)
/* How long finishing waits for the ring buffer to be drained. */
#define DRAIN_TIMEOUT_NS (2ULL * 1000 * 1000 * 1000)

/* Program images one window may see: the one it began on and up to
 * three that execs brought. Samples of further ones are left out. */
#define MAX_PARTS 4

/*
 * A window's samples of one program image. An image the caller may not
 * profile (checked when its first sample arrives) gets no proc and no
 * aggregate: its samples are counted, never symbolized or shown.
 */
struct part {
	uint64_t image;			/* execwatch count */
	struct proc *proc;		/* NULL: denied */
	struct aggregate *agg;		/* NULL: denied */
	uint64_t first_ns;		/* its first sample */
	uint64_t denied;		/* samples left out */
	char why[256];			/* denied: the profile's comment */
};

struct session {
	struct session *next;
	uint64_t id;
	struct session_req req;
	uint64_t period_ns;
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC window */
	int64_t start_wall_ns;
	struct target t;		/* the process, held since the check */
	struct part parts[MAX_PARTS];	/* [0]: the image checked at start */
	unsigned nparts;
	uint64_t deciding;		/* an image being checked (0: none) */
	uint64_t unattributed;		/* samples of no image (not watched) */
	uint64_t lost_at_start;
	bool closed;			/* no more samples wanted */
	bool end_asked;			/* session_mgr__end(): end it now */
	enum session_end ended;		/* how the window ended */
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
	struct execwatch *w;
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
		     struct execwatch *w, struct session_mgr **ret)
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
	m->w = w;
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

/* The shared proc of image @image of @pid, if there is one. Under lock. */
static struct proc *find_proc(struct session_mgr *m, pid_t pid,
			      uint64_t start_time, uint64_t image)
{
	struct procref *pr;

	for (pr = m->procs; pr; pr = pr->next)
		if (pr->proc->pid == pid && pr->proc->start_time == start_time &&
		    pr->proc->image == image && !pr->proc->gone)
			return pr->proc;
	return NULL;
}

/*
 * The shared proc for @pid (created if new or if the pid was reused):
 * an existing one, else *fresh, which the caller built without the lock
 * (reading maps and loading DWARF takes a while). Under m->lock.
 */
static int get_proc(struct session_mgr *m, pid_t pid, uint64_t start_time,
		    uint64_t image, struct proc **fresh, struct proc **ret)
{
	struct procref *pr;
	struct proc *p = find_proc(m, pid, start_time, image);

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
	s->stat_fd = openat(s->t.ref.dirfd, "stat", O_RDONLY | O_CLOEXEC);
	if (s->stat_fd >= 0 &&
	    cputime__read(s->stat_fd, &s->cpu_start_ns) < 0) {
		close(s->stat_fd);
		s->stat_fd = -1;
	}
	s->cpu_last_ns = s->cpu_start_ns;
}

/* Free what a part holds. Under lock (procs are shared). */
static void part__fini(struct session_mgr *m, struct part *pt)
{
	if (pt->proc)
		put_proc(m, pt->proc);
	aggregate__free(pt->agg);
	pt->proc = NULL;
	pt->agg = NULL;
}

/*
 * Hold the process and check the caller against the image it runs now,
 * and capture that image (its mappings, its binaries): a proc bound to it
 * (proc.h: an exec ends what it reads). Retried when an exec comes
 * between the two. Not under lock: reads /proc and opens binaries.
 */
static int bind_image(struct session_mgr *m, const struct session_req *req,
		      struct target *ret_t, struct proc **ret_fresh)
{
	struct target t = TARGET_NONE;
	struct proc *fresh = NULL;
	uid_t owner;
	bool have;
	int r = -EAGAIN, tries;

	for (tries = 0; tries < 3 && r == -EAGAIN; tries++) {
		r = target__bind(m->w, req->pid, req->uid, &t, &owner);
		if (r == -EPERM)
			r = -EACCES;
		if (r < 0)
			break;
		pthread_mutex_lock(&m->lock);
		have = find_proc(m, req->pid, t.ids.start_time, t.image) != NULL;
		pthread_mutex_unlock(&m->lock);
		if (!have) {
			r = proc__new_at(m->sym, req->pid, t.ref.dirfd, &fresh);
			if (r == 0)
				fresh->image = t.image;
		}
		/* The maps read were of the image checked? */
		if (r == 0 && target__current(&t) == -ESTALE)
			r = -EAGAIN;
		if (r < 0) {
			proc__free(fresh);
			fresh = NULL;
			target__release(&t);
		}
	}
	if (r < 0)
		return r;
	*ret_t = t;
	*ret_fresh = fresh;
	return 0;
}

int session__start(struct session_mgr *m, const struct session_req *req,
		   struct session **ret)
{
	struct session *s, *it;
	struct proc *fresh = NULL;
	unsigned n = 0, nuid = 0;
	int r;

	if (req->seconds == 0 || req->seconds > m->lim.max_seconds ||
	    req->hz == 0 || req->hz > m->lim.max_hz)
		return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->req = *req;
	s->period_ns = 1000000000ULL / req->hz;
	s->stat_fd = -1;
	s->t = TARGET_NONE;
	s->parts[0].agg = aggregate__new(m->lim.max_stacks);
	if (!s->parts[0].agg) {
		free(s);
		return -ENOMEM;
	}
	r = bind_image(m, req, &s->t, &fresh);
	if (r < 0)
		goto fail_unlocked;
	s->parts[0].image = s->t.image;
	s->nparts = 1;
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
	r = get_proc(m, req->pid, s->t.ids.start_time, s->t.image, &fresh,
		     &s->parts[0].proc);
	if (r == -EAGAIN) {
		/* Released between our look and now: capture it here. */
		r = proc__new_at(m->sym, req->pid, s->t.ref.dirfd, &fresh);
		if (r == 0) {
			fresh->image = s->t.image;
			r = target__current(&s->t) == -ESTALE ? -EAGAIN :
				get_proc(m, req->pid, s->t.ids.start_time,
					 s->t.image, &fresh, &s->parts[0].proc);
		}
	}
	if (r < 0)
		goto fail;
	s->id = m->next_id++;
	s->start_ns = now_ns(CLOCK_MONOTONIC);
	s->end_ns = s->start_ns + (uint64_t)req->seconds * 1000000000ULL;
	s->start_wall_ns = (int64_t)now_ns(CLOCK_REALTIME);
	s->parts[0].first_ns = s->start_ns;
	s->lost_at_start = lost_samples(m);
	s->next = m->sessions;
	m->sessions = s;
	m->st.sessions_active++;
	m->st.sessions_total++;
	r = reconcile(m);
	if (r < 0) {
		unlink_session(m, s);
		(void)reconcile(m);
		put_proc(m, s->parts[0].proc);
		/* -EACCES from perf is a privilege of profd's, not a refusal
		 * of the caller (which -EACCES means here). */
		if (r == -EACCES)
			r = -EPERM;
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
	aggregate__free(s->parts[0].agg);
	if (s->stat_fd >= 0)
		close(s->stat_fd);
	target__release(&s->t);
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

	/* stack_skip + stack_len were checked against the record's size
	 * (sampler.c). */
	if (cs->kind != PROFD_EV_CPU_SAMPLE_STACK || !ss->stack_len) {
		m->st.unwind_no_copy++;
		return 0;
	}
	n = unwind__stack(p, (const uint64_t *)ss->regs,
			  ss->stack + ss->stack_skip, ss->stack_len, ips,
			  UNWIND_MAX_FRAMES, truncated);
	if (n <= 0) {
		m->st.unwind_errors++;
		return 0;
	}
	m->st.unwound++;
	if (*truncated)
		m->st.unwind_truncated++;
	return (unsigned)n;
}

/* What one sample gave the sessions so far: work done once per proc. */
struct dispatch {
	struct proc *checked, *unwound;
	uint64_t dw[UNWIND_MAX_FRAMES];
	unsigned ndw;
	bool trunc;
	uint32_t dflags;
};

static struct part *part_of(struct session *s, uint64_t image)
{
	unsigned i;

	for (i = 0; i < s->nparts; i++)
		if (s->parts[i].image == image)
			return &s->parts[i];
	return NULL;
}

/*
 * Count @cs in session @s. Returns false when the sample is of an image
 * the window has not checked yet (an exec): the caller has it checked,
 * outside the lock, and dispatches it again. Under lock.
 */
static bool dispatch(struct session_mgr *m, struct session *s,
		     const struct profd_cpu_sample *cs, struct dispatch *d)
{
	const uint64_t *ips = (const uint64_t *)cs->user_ips;
	uint16_t nu = cs->n_user, nk = cs->n_kernel, n;
	uint32_t flags = 0, f;
	struct part *pt;

	if (nu > PROFD_MAX_USER_FRAMES)
		nu = PROFD_MAX_USER_FRAMES;
	if (nk > PROFD_MAX_KERNEL_FRAMES)
		nk = PROFD_MAX_KERNEL_FRAMES;
	if (cs->flags & PROFD_SF_USER_TRUNC)
		flags |= AGG_F_USER_TRUNC;
	if (cs->flags & PROFD_SF_USER_ERR)
		flags |= AGG_F_USER_ERR;
	pt = part_of(s, cs->image);
	if (!pt) {
		/* Older than the window's first image, or not watched:
		 * of no image the caller was checked against. */
		if (cs->image == PROFD_IMAGE_NONE ||
		    cs->image < s->parts[0].image) {
			s->unattributed++;
			return true;
		}
		return false;
	}
	if (!pt->proc) {
		pt->denied++;	/* never unwound, symbolized or shown */
		return true;
	}
	n = nu;
	f = flags;
	if (d->checked != pt->proc) {
		/* A library loaded since we last looked? */
		d->checked = pt->proc;
		if (!proc__covers(pt->proc, ips, nu) &&
		    proc__refresh(pt->proc, m->sym, cs->time_ns,
				  MAPS_REFRESH_NS) == 1)
			m->st.maps_refreshes++;
	}
	if (!s->req.fp_only) {
		if (d->unwound != pt->proc) {
			d->unwound = pt->proc;
			d->ndw = unwind_sample(m, pt->proc, cs, d->dw, &d->trunc);
			d->dflags = flags & ~AGG_F_USER_TRUNC;
			if (d->trunc)
				d->dflags |= AGG_F_USER_TRUNC;
		}
		if (d->ndw) {
			ips = d->dw;
			n = (uint16_t)d->ndw;
			f = d->dflags;
		} else {
			/* No DWARF walk: the frame-pointer stack, of
			 * unknown completeness — never shown as whole. */
			f |= AGG_F_USER_TRUNC;
		}
	}
	m->st.samples_matched++;
	if (aggregate__add(pt->agg, cs->tid, cs->comm, f, ips, n,
			   (const uint64_t *)cs->kernel_ips,
			   s->req.kernel ? nk : 0, 1, s->period_ns) == -ENOSPC)
		m->st.samples_dropped++;
	return true;
}

static struct session *find_session(struct session_mgr *m, uint64_t id)
{
	struct session *s;

	for (s = m->sessions; s && s->id != id; s = s->next)
		;
	return s;
}

/*
 * The process of window @id runs image @image, which an exec brought:
 * check the caller against it, and for an image they may profile capture
 * its mappings, as at the start. The answer holds for the rest of the
 * window: later samples of a denied image are counted and dropped. Slow
 * work (reading /proc, opening binaries) outside the lock; the main
 * thread waits for it, once per exec and window. An image that cannot be
 * checked any more (the process moved past it) is denied: nobody can
 * tell what it was.
 */
static void check_exec(struct session_mgr *m, uint64_t id, uint64_t image,
		       uint64_t time_ns)
{
	struct target t = TARGET_NONE;
	struct proc_ids ids = {};
	struct proc *fresh = NULL;
	struct session *s;
	struct part *pt;
	char why[sizeof(pt->why)];
	uid_t uid, owner = 0;
	int r;

	pthread_mutex_lock(&m->lock);
	s = find_session(m, id);
	/* Beyond MAX_PARTS the sample stays unattributed (the caller
	 * counts it), and the profile says so. */
	if (!s || s->closed || s->deciding || part_of(s, image) ||
	    s->nparts == MAX_PARTS) {
		pthread_mutex_unlock(&m->lock);
		return;
	}
	s->deciding = image;
	uid = s->req.uid;
	r = target__dup(&s->t, &t);
	pthread_mutex_unlock(&m->lock);

	if (r == 0)
		r = target__check_image(&t, uid, image, &ids, &owner);
	if (r == 0) {
		r = proc__new_at(m->sym, t.ref.pid, t.ref.dirfd, &fresh);
		if (r == 0) {
			uint64_t now;

			fresh->image = image;
			/* Its maps were the image checked's? */
			if (execwatch__image(m->w, t.ref.pid, &now, NULL) < 0 ||
			    now != image)
				r = -ESTALE;
		}
	}

	pthread_mutex_lock(&m->lock);
	s = find_session(m, id);
	if (!s || s->closed) {
		pthread_mutex_unlock(&m->lock);
		goto out;
	}
	s->deciding = 0;
	pt = &s->parts[s->nparts++];
	memset(pt, 0, sizeof(*pt));
	pt->image = image;
	pt->first_ns = time_ns;
	if (r == 0) {
		pt->agg = aggregate__new(m->lim.max_stacks);
		if (pt->agg &&
		    get_proc(m, t.ref.pid, t.ids.start_time, image, &fresh,
			     &pt->proc) < 0) {
			aggregate__free(pt->agg);
			pt->agg = NULL;
		}
		if (!pt->agg)
			r = -ENOMEM;
	}
	if (r == -EACCES)
		snprintf(pt->why, sizeof(pt->why),
			 "the process executed a program of uid %u, which uid %u may not profile",
			 (unsigned)owner, (unsigned)uid);
	else if (r == -EPERM)
		snprintf(pt->why, sizeof(pt->why),
			 "the process executed a program uid %u may not profile (set-user-ID, set-group-ID or not dumpable)",
			 (unsigned)uid);
	else if (r < 0)
		snprintf(pt->why, sizeof(pt->why),
			 "the process executed a program that could not be checked (%s)",
			 r == -ESTALE ? "it executed another one before" :
					strerror(-r));
	else
		snprintf(pt->why, sizeof(pt->why),
			 "the process executed a new program (%s)", ids.comm);
	/* The session may be freed once unlocked: log a copy. */
	snprintf(why, sizeof(why), "%s", pt->why);
	pthread_mutex_unlock(&m->lock);
	if (r < 0)
		log_info("session %" PRIu64 ": pid %d: %s: its samples are left out",
			 id, (int)t.ref.pid, why);
out:
	proc__free(fresh);
	target__release(&t);
}

void session_mgr__on_sample(void *ctx, const struct profd_cpu_sample *cs)
{
	struct session_mgr *m = ctx;
	struct dispatch d = {};
	uint64_t later[MAX_PARTS];
	unsigned nlater = 0, i;
	struct session *s;

	pthread_mutex_lock(&m->lock);
	m->st.samples_total++;
	for (s = m->sessions; s; s = s->next) {
		if (s->closed || s->req.pid != (pid_t)cs->tgid ||
		    s->period_ns != cs->period_ns ||
		    cs->time_ns < s->start_ns || cs->time_ns >= s->end_ns)
			continue;
		if (!dispatch(m, s, cs, &d)) {
			if (nlater < MAX_PARTS)
				later[nlater++] = s->id;
			else
				s->unattributed++;
		}
	}
	pthread_mutex_unlock(&m->lock);
	/* Windows whose process executed a program: check it, then count
	 * the sample there (or as left out). */
	for (i = 0; i < nlater; i++) {
		check_exec(m, later[i], cs->image, cs->time_ns);
		pthread_mutex_lock(&m->lock);
		s = find_session(m, later[i]);
		memset(&d, 0, sizeof(d));
		if (s && !s->closed && !dispatch(m, s, cs, &d))
			s->unattributed++;
		pthread_mutex_unlock(&m->lock);
	}
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

/*
 * End @s's window now, early (@why): samples from now on are not its, and
 * its duration is the time until now. Under lock.
 */
static void end_early(struct session *s, enum session_end why, uint64_t now)
{
	if (now < s->end_ns) {
		s->end_ns = now;
		s->ended = why;
	}
}

int session__wait(struct session_mgr *m, struct session *s, int conn_fd)
{
	for (;;) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		struct pollfd pfd[2];
		int timeout_ms;
		bool asked;

		/* Every 100 ms: what a process that exits mid-window used
		 * is known to within that (a read is a few microseconds). */
		if (s->stat_fd >= 0)
			(void)cputime__read(s->stat_fd, &s->cpu_last_ns);
		if (stopping(m))
			return -ECANCELED;
		pthread_mutex_lock(&m->lock);
		asked = s->end_asked;
		if (asked)
			end_early(s, SESSION_END_ASKED, now);
		pthread_mutex_unlock(&m->lock);
		if (asked || now >= s->end_ns)
			return 0;
		/* The process exited (its pidfd polls readable): nothing
		 * more to sample, and a window that waited on would claim a
		 * duration it did not profile. Its last samples were taken
		 * before now: session__finish() drains them. */
		if (s->t.ref.pidfd >= 0 && !pidref__alive(&s->t.ref)) {
			pthread_mutex_lock(&m->lock);
			end_early(s, SESSION_END_EXITED, now);
			pthread_mutex_unlock(&m->lock);
			return 0;
		}
		timeout_ms = (int)((s->end_ns - now) / 1000000) + 1;
		if (timeout_ms > 100)
			timeout_ms = 100;
		pfd[0] = (struct pollfd){ .fd = conn_fd, .events = POLLRDHUP };
		pfd[1] = (struct pollfd){ .fd = s->t.ref.pidfd, .events = POLLIN };
		if (poll(pfd, 2, timeout_ms) > 0 && conn_fd >= 0 &&
		    (pfd[0].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return -ECONNRESET;
	}
}

enum session_end session__ended(const struct session *s, uint64_t *ret_ns)
{
	*ret_ns = s->end_ns - s->start_ns;
	return s->ended;
}

unsigned session_mgr__end(struct session_mgr *m, pid_t pid, uid_t uid,
			  const char *window)
{
	struct session *s;
	unsigned n = 0;

	pthread_mutex_lock(&m->lock);
	for (s = m->sessions; s; s = s->next) {
		if (s->closed || s->req.pid != pid || s->req.uid != uid ||
		    (window[0] && strcmp(s->req.window, window)))
			continue;
		s->end_asked = true;
		n++;
	}
	pthread_mutex_unlock(&m->lock);
	return n;
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
/* A window's totals over the images it kept. */
static void totals(const struct session *s, struct aggregate_totals *ret)
{
	struct aggregate_totals t;
	unsigned i;

	memset(ret, 0, sizeof(*ret));
	for (i = 0; i < s->nparts; i++) {
		if (!s->parts[i].agg)
			continue;
		aggregate__totals(s->parts[i].agg, &t);
		ret->samples += t.samples;
		ret->dropped_samples += t.dropped_samples;
		ret->stacks += t.stacks;
	}
}

/* Samples the window left out on purpose: other images', unwatched. */
static uint64_t left_out(const struct session *s)
{
	uint64_t n = s->unattributed;
	unsigned i;

	for (i = 0; i < s->nparts; i++)
		n += s->parts[i].denied;
	return n;
}

/*
 * Did the window get the samples its process's CPU time implies? If not,
 * a comment for the profile in @buf (empty otherwise), counted and logged:
 * a profile the sampler did not see must never pass for a complete one.
 * Samples left out on purpose (another image's) count as seen: they were.
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
	totals(s, &t);
	got = t.samples + t.dropped_samples + left_out(s);
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

#define MAX_COMMENTS (5 + MAX_PARTS)

int session__finish(struct session_mgr *m, struct session *s, void **ret_buf,
		    size_t *ret_len)
{
	struct profile_cpu_part parts[MAX_PARTS];
	struct profile_cpu_desc d = {};
	const char *comments[MAX_COMMENTS];
	char missing[256], execs[MAX_PARTS][400], other[160], early[200];
	size_t nc = 0;
	unsigned i, np = 0;
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
	/* The parts are ours alone once closed: no lock needed. */
	check_samples(m, s, missing, sizeof(missing));

	for (i = 0; i < s->nparts; i++) {
		const struct part *pt = &s->parts[i];

		if (pt->proc) {
			parts[np].proc = pt->proc;
			parts[np].agg = pt->agg;
			np++;
		}
		if (i == 0)
			continue;
		/* What an exec did to the window, and when. */
		if (pt->proc)
			snprintf(execs[i], sizeof(execs[i]),
				 "%s about %.1f s into the window: samples from then on are of that program",
				 pt->why,
				 (double)(pt->first_ns - s->start_ns) / 1e9);
		else
			snprintf(execs[i], sizeof(execs[i]),
				 "%s about %.1f s into the window: its %" PRIu64 " samples are left out of this profile",
				 pt->why,
				 (double)(pt->first_ns - s->start_ns) / 1e9,
				 pt->denied);
		comments[nc++] = execs[i];
	}
	if (s->unattributed) {
		snprintf(other, sizeof(other),
			 "%" PRIu64 " samples of program images this window did not check (more execs than it follows) are left out",
			 s->unattributed);
		comments[nc++] = other;
	}
	d.parts = parts;
	d.nparts = np;
	d.ksyms = s->req.kernel ? get_kallsyms(m) : NULL;
	d.period_ns = s->period_ns;
	d.time_nanos = s->start_wall_ns;
	/* The time the window covered: to the exit or the end asked for,
	 * if one came first. */
	d.duration_nanos = (int64_t)(s->end_ns - s->start_ns);
	if (s->ended != SESSION_END_FULL) {
		snprintf(early, sizeof(early),
			 "the window ended early, after %.2f s of the %u s asked: %s",
			 (double)(s->end_ns - s->start_ns) / 1e9, s->req.seconds,
			 s->ended == SESSION_END_EXITED ? "the process exited" :
			 "its caller asked it to end (POST /v1/profile/stop; profctl: Ctrl-C)");
		comments[nc++] = early;
	}
	d.lost_samples = lost;
	d.process_exited = !pidref__alive(&s->t.ref);
	comments[nc++] = s->req.fp_only ?
		"user stacks: frame-pointer walk (unwind=fp)" :
		"user stacks: DWARF-unwound in profd ([truncated] where the copy or CFI ran out)";
	if (!drained)	/* never silently short: say so in the profile */
		comments[nc++] = "sample dispatch fell behind at the window's end: samples from its last moments may be missing";
	if (missing[0])
		comments[nc++] = missing;
	d.comments = comments;
	d.ncomments = nc;
	d.pid = s->req.pid;
	d.comm = s->t.ids.comm;
	r = profile__build_cpu(&d, ret_buf, ret_len);
	return r;
}

void session__free(struct session_mgr *m, struct session *s)
{
	unsigned i;

	if (!s)
		return;
	pthread_mutex_lock(&m->lock);
	unlink_session(m, s);
	s->closed = true;
	(void)reconcile(m);
	for (i = 0; i < s->nparts; i++)
		part__fini(m, &s->parts[i]);
	pthread_mutex_unlock(&m->lock);
	if (s->stat_fd >= 0)
		close(s->stat_fd);
	target__release(&s->t);
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
		totals(s, &t);
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
