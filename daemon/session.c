// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "clock.h"
#include "cputime.h"
#include "execwatch.h"
#include "json.h"
#include "kallsyms.h"
#include "log.h"
#include "jitmap_proc.h"
#include "proc.h"
#include "profile.h"
#include "session.h"
#include "target.h"
#include "unwind.h"
#include "wait.h"

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

struct session_mgr {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* epoch advanced, or shutdown */
	struct session_limits lim;
	struct symbolizer *sym;
	struct execwatch *w;
	struct sampler *sampler;
	struct session *sessions;
	struct proc_cache *pc;		/* procs, shared with the heap */
	struct kallsyms *ksyms;
	uint64_t epoch, next_id, started_ns;
	int wake_fd;			/* eventfd: ask the main loop to drain */
	/* Every-process (tgid 0) targets of continuous.c. */
	struct sampler_target extra[PROFD_MAX_PERIODS];
	size_t nextra;
	bool stopping;
	struct session_mgr_stats st;
};

int session_mgr__new(const struct session_limits *lim, struct symbolizer *sym,
		     struct execwatch *w, struct proc_cache *pc,
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
	m->w = w;
	m->pc = pc;
	m->next_id = 1;
	m->wake_fd = -1;
	m->started_ns = now_ns(CLOCK_MONOTONIC);
	*ret = m;
	return 0;
}

void session_mgr__free(struct session_mgr *m)
{
	if (!m)
		return;
	/* Sessions belong to API threads, which are stopped by now. */
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
	/* Every-process targets (continuous.c): one more target each, and
	 * what they record is recorded for the windows' processes too at
	 * the same period (the BPF side looks the process's own entry up
	 * first), so that a window costs continuous mode nothing. */
	for (i = 0; i < m->nextra; i++) {
		size_t j;

		for (j = 0; j < np && periods[j] != m->extra[i].period_ns; j++)
			;
		if (j == np) {
			if (np == PROFD_MAX_PERIODS)
				return -E2BIG;
			periods[np++] = m->extra[i].period_ns;
		}
		for (j = 0; j < nt; j++)
			if (t[j].period_ns == m->extra[i].period_ns)
				t[j].flags |= m->extra[i].flags;
		if (nt == sizeof(t) / sizeof(t[0]))
			return -E2BIG;
		t[nt++] = m->extra[i];
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

int session_mgr__set_extra(struct session_mgr *m,
			  const struct sampler_target *t, size_t n)
{
	struct sampler_target old[PROFD_MAX_PERIODS];
	size_t nold;
	int r;

	if (n > PROFD_MAX_PERIODS)
		return -E2BIG;
	pthread_mutex_lock(&m->lock);
	nold = m->nextra;
	memcpy(old, m->extra, sizeof(old));
	memcpy(m->extra, t, n * sizeof(*t));
	m->nextra = n;
	r = reconcile(m);
	if (r < 0) {
		memcpy(m->extra, old, sizeof(old));
		m->nextra = nold;
		(void)reconcile(m);
	}
	pthread_mutex_unlock(&m->lock);
	return r;
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

/* Free what a part holds. */
static void part__fini(struct session_mgr *m, struct part *pt)
{
	proc__put(pt->proc);
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
		      struct target *ret_t, struct proc **ret_proc)
{
	struct target t = TARGET_NONE;
	struct proc *pr = NULL;
	uid_t owner;
	int r = -EAGAIN, tries;

	for (tries = 0; tries < 3 && r == -EAGAIN; tries++) {
		r = target__bind(m->w, req->pid, req->uid, &t, &owner);
		if (r == -EPERM)
			r = -EACCES;
		if (r < 0)
			break;
		/* Shared with other windows and the heap tracker. */
		r = proc__get(m->pc, req->pid, t.ref.dirfd, t.ids.start_time,
			      t.image, &pr);
		/* The maps read were of the image checked? */
		if (r == 0 && target__current(&t) == -ESTALE)
			r = -EAGAIN;
		if (r < 0) {
			proc__put(pr);
			pr = NULL;
			target__release(&t);
		}
	}
	if (r < 0)
		return r;
	*ret_t = t;
	*ret_proc = pr;
	return 0;
}

int session__start(struct session_mgr *m, const struct session_req *req,
		   struct session **ret)
{
	struct session *s, *it;
	struct proc *pr = NULL;
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
	r = bind_image(m, req, &s->t, &pr);
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
	s->parts[0].proc = pr;
	pr = NULL;		/* the session's now */
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
		pr = s->parts[0].proc;	/* put below, unlocked */
		/* -EACCES from perf is a privilege of profd's, not a refusal
		 * of the caller (which -EACCES means here). */
		if (r == -EACCES)
			r = -EPERM;
		goto fail;
	}
	pthread_mutex_unlock(&m->lock);
	*ret = s;
	return 0;
fail:
	pthread_mutex_unlock(&m->lock);
fail_unlocked:
	proc__put(pr);
	aggregate__free(s->parts[0].agg);
	if (s->stat_fd >= 0)
		close(s->stat_fd);
	target__release(&s->t);
	free(s);
	return r;
}

/*
 * DWARF-unwind a sample. Returns the frame count, -ENODATA when the
 * sample has no stack copy (use the frame-pointer stack), or -EIO when
 * the walk failed. Not under the lock: @p is held (refs).
 */
static int unwind_sample(struct proc *p, const struct profd_cpu_sample *cs,
			 uint64_t *ips, bool *truncated)
{
	const struct profd_cpu_sample_stack *ss = (const void *)cs;
	int n;

	/* stack_skip + stack_len were checked against the record's size
	 * (sampler.c). */
	if (cs->kind != PROFD_EV_CPU_SAMPLE_STACK || !ss->stack_len)
		return -ENODATA;
	n = unwind__stack(p, (const uint64_t *)ss->regs,
			  ss->stack + ss->stack_skip, ss->stack_len, ips,
			  UNWIND_MAX_FRAMES, truncated);
	return n > 0 ? n : -EIO;
}

/*
 * What one sample needs of one proc, done once whichever sessions want it:
 * the maps checked (and read again for a library loaded since), and the
 * DWARF walk. Done outside the lock (sample_proc__work()), with the proc
 * held; counted in the stats under it, once.
 */
struct sample_proc {
	struct proc *proc;
	bool held;			/* a reference of ours, put after */
	bool want_dwarf;		/* a session wants the DWARF walk */
	bool checked, refreshed, unwound;
	bool counted_refresh, counted_unwind;
	int nunw;			/* unwind_sample() */
	bool trunc;
	unsigned jit_gen;		/* proc__jit_sample() */
	uint64_t dw[UNWIND_MAX_FRAMES];
};

/* Procs per sample worked on outside the lock: sessions of one process
 * share its proc per image, so one is usual. Beyond, under it. */
#define SAMPLE_PROCS 4

struct dispatch {
	struct sample_proc p[SAMPLE_PROCS];
	unsigned n;
};

/* @proc's entry in @d (added when there is room), or NULL. */
static struct sample_proc *sample_proc_of(struct dispatch *d,
					  struct proc *proc)
{
	unsigned i;

	for (i = 0; i < d->n; i++)
		if (d->p[i].proc == proc)
			return &d->p[i];
	if (d->n == SAMPLE_PROCS)
		return NULL;
	/* Not the frames: 4 KiB each, written by the walk. */
	memset(&d->p[d->n], 0, offsetof(struct sample_proc, dw));
	d->p[d->n].proc = proc;
	return &d->p[d->n++];
}

/* The slow part: reads /proc, opens binaries, unwinds. Not under lock
 * (or, as a fallback, under it). */
static void sample_proc__work(struct session_mgr *m, struct sample_proc *sp,
			      const struct profd_cpu_sample *cs)
{
	uint16_t nu = cs->n_user;

	if (nu > PROFD_MAX_USER_FRAMES)
		nu = PROFD_MAX_USER_FRAMES;
	if (!sp->checked) {
		/* A library loaded since we last looked? */
		sp->checked = true;
		sp->refreshed = !proc__covers(sp->proc,
					      (const uint64_t *)cs->user_ips,
					      nu) &&
				proc__refresh(sp->proc, m->sym, cs->time_ns,
					      MAPS_REFRESH_NS) == 1;
		/* JIT names while the process runs, as of this sample. */
		sp->jit_gen = proc__jit_sample(sp->proc,
					       (const uint64_t *)cs->user_ips,
					       nu, cs->time_ns,
					       now_ns(CLOCK_MONOTONIC));
	}
	if (sp->want_dwarf && !sp->unwound) {
		sp->unwound = true;
		sp->nunw = unwind_sample(sp->proc, cs, sp->dw, &sp->trunc);
	}
}

/* Count @sp's work in the stats, once. Under lock. */
static void sample_proc__count(struct session_mgr *m, struct sample_proc *sp)
{
	if (sp->checked && !sp->counted_refresh) {
		sp->counted_refresh = true;
		if (sp->refreshed)
			m->st.maps_refreshes++;
	}
	if (sp->unwound && !sp->counted_unwind) {
		sp->counted_unwind = true;
		if (sp->nunw == -ENODATA) {
			m->st.unwind_no_copy++;
		} else if (sp->nunw < 0) {
			m->st.unwind_errors++;
		} else {
			m->st.unwound++;
			if (sp->trunc)
				m->st.unwind_truncated++;
		}
	}
}

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
 * outside the lock, and dispatches it again. Under lock; the slow work
 * for @d's procs was done before, outside it (sample_pass()).
 */
static bool dispatch(struct session_mgr *m, struct session *s,
		     const struct profd_cpu_sample *cs, struct dispatch *d)
{
	const uint64_t *ips = (const uint64_t *)cs->user_ips;
	uint16_t nu = cs->n_user, nk = cs->n_kernel, n;
	struct sample_proc *sp, *tmp = NULL;
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
	sp = sample_proc_of(d, pt->proc);
	if (!sp) {
		/* More procs than SAMPLE_PROCS: this one under the lock. */
		tmp = calloc(1, sizeof(*tmp));
		if (!tmp)
			return true;
		tmp->proc = pt->proc;
		sp = tmp;
	}
	if (!s->req.fp_only)
		sp->want_dwarf = true;
	sample_proc__work(m, sp, cs);	/* done already, unless new */
	sample_proc__count(m, sp);
	if (!s->req.fp_only) {
		if (sp->nunw > 0) {
			ips = sp->dw;
			n = (uint16_t)sp->nunw;
			f = flags & ~AGG_F_USER_TRUNC;
			if (sp->trunc)
				f |= AGG_F_USER_TRUNC;
		} else {
			/* No DWARF walk: the frame-pointer stack, of
			 * unknown completeness — never shown as whole. */
			f |= AGG_F_USER_TRUNC;
		}
	}
	m->st.samples_matched++;
	f |= sp->jit_gen << AGG_F_JIT_GEN_SHIFT;
	if (aggregate__add(pt->agg, cs->tid, cs->comm, f, ips, n,
			   (const uint64_t *)cs->kernel_ips,
			   s->req.kernel ? nk : 0, 1, s->period_ns) == -ENOSPC)
		m->st.samples_dropped++;
	free(tmp);
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
		r = proc__get(m->pc, t.ref.pid, t.ref.dirfd, t.ids.start_time,
			      image, &fresh);
		if (r == 0) {
			uint64_t now;

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
		if (pt->agg) {
			pt->proc = fresh;	/* the part's now */
			fresh = NULL;
		} else {
			r = -ENOMEM;
		}
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
	proc__put(fresh);
	target__release(&t);
}

static bool sample_matches(const struct session *s,
			   const struct profd_cpu_sample *cs, uint64_t only)
{
	return !s->closed && s->req.pid == (pid_t)cs->tgid &&
	       s->period_ns == cs->period_ns &&
	       cs->time_ns >= s->start_ns && cs->time_ns < s->end_ns &&
	       (!only || s->id == only);
}

/*
 * Count @cs in the sessions that want it (only window @only, unless 0),
 * in three steps: under the lock, hold the procs they need; without it,
 * refresh maps and unwind (sample_proc__work()); under it again, count.
 * Windows whose process executed a program not checked yet go in @later.
 */
static void sample_pass(struct session_mgr *m,
			const struct profd_cpu_sample *cs, uint64_t only,
			uint64_t *later, unsigned *nlater)
{
	struct dispatch d;
	struct sample_proc *sp;
	struct session *s;
	struct part *pt;
	unsigned i;

	d.n = 0;
	pthread_mutex_lock(&m->lock);
	if (!only)
		m->st.samples_total++;
	for (s = m->sessions; s; s = s->next) {
		if (!sample_matches(s, cs, only) ||
		    !(pt = part_of(s, cs->image)) || !pt->proc)
			continue;
		sp = sample_proc_of(&d, pt->proc);
		if (!sp)
			continue;
		if (!sp->held) {
			sp->held = true;
			proc__hold(pt->proc);
		}
		if (!s->req.fp_only)
			sp->want_dwarf = true;
	}
	pthread_mutex_unlock(&m->lock);

	for (i = 0; i < d.n; i++)
		sample_proc__work(m, &d.p[i], cs);

	pthread_mutex_lock(&m->lock);
	for (s = m->sessions; s; s = s->next) {
		if (!sample_matches(s, cs, only) || dispatch(m, s, cs, &d))
			continue;
		if (later && *nlater < MAX_PARTS)
			later[(*nlater)++] = s->id;
		else
			s->unattributed++;
	}
	for (i = 0; i < d.n; i++)
		if (d.p[i].held)
			proc__put(d.p[i].proc);
	pthread_mutex_unlock(&m->lock);
}

void session_mgr__on_sample(void *ctx, const struct profd_cpu_sample *cs)
{
	struct session_mgr *m = ctx;
	uint64_t later[MAX_PARTS];
	unsigned nlater = 0, i;

	sample_pass(m, cs, 0, later, &nlater);
	/* Windows whose process executed a program: check it, then count
	 * the sample there (or as left out). */
	for (i = 0; i < nlater; i++) {
		check_exec(m, later[i], cs->image, cs->time_ns);
		sample_pass(m, cs, later[i], NULL, NULL);
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
		/* Woken early by the exit too (the pidfd). */
		if (wait__step(s->end_ns, conn_fd, s->t.ref.pidfd) < 0)
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

struct kallsyms *session_mgr__kallsyms(struct session_mgr *m)
{
	struct kallsyms *k;

	pthread_mutex_lock(&m->lock);
	k = m->ksyms;
	pthread_mutex_unlock(&m->lock);
	if (k)
		return k;
	/* Read and parsed without the lock (~10 MB). */
	if (kallsyms__load(&k) < 0)
		return NULL;
	pthread_mutex_lock(&m->lock);
	if (m->ksyms)
		kallsyms__free(k);	/* loaded meanwhile by another */
	else
		m->ksyms = k;
	k = m->ksyms;
	pthread_mutex_unlock(&m->lock);
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
	struct profile_cpu_part parts[MAX_PARTS] = {};
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
	d.ksyms = s->req.kernel ? session_mgr__kallsyms(m) : NULL;
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

void session_mgr__sessions_json(struct session_mgr *m, uid_t viewer,
				struct json *j)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	struct session *s;

	json__arr_begin(j, "sessions");
	pthread_mutex_lock(&m->lock);
	for (s = m->sessions; s; s = s->next) {
		struct aggregate_totals t;

		/* Other users' sessions are theirs to see (and root's). */
		if (viewer != 0 && s->req.uid != viewer)
			continue;
		totals(s, &t);
		json__obj_begin(j, NULL);
		json__u64(j, "id", s->id);
		json__str(j, "type", "cpu");
		json__i64(j, "pid", s->req.pid);
		json__u64(j, "uid", s->req.uid);
		json__u64(j, "hz", s->req.hz);
		json__u64(j, "seconds", s->req.seconds);
		json__u64(j, "elapsed_ms", (now - s->start_ns) / 1000000);
		json__u64(j, "samples", t.samples);
		json__u64(j, "stacks", t.stacks);
		json__u64(j, "dropped", t.dropped_samples);
		json__obj_end(j);
	}
	pthread_mutex_unlock(&m->lock);
	json__arr_end(j);
}

const struct session_limits *session_mgr__limits(struct session_mgr *m)
{
	return &m->lim;
}

static bool session_mgr__busy(void *ctx)
{
	struct session_mgr *m = ctx;
	unsigned active;

	pthread_mutex_lock(&m->lock);
	active = m->st.sessions_active;
	pthread_mutex_unlock(&m->lock);
	return active > 0;
}

/* The response is queued when the session is freed: wait__idle() gives
 * the connection thread a moment to write it. */
void session_mgr__wait_idle(struct session_mgr *m, unsigned timeout_ms)
{
	wait__idle(session_mgr__busy, m, timeout_ms);
}
