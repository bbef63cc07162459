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
#include "execfollow.h"
#include "execwatch.h"
#include "jitmap_proc.h"
#include "json.h"
#include "kallsyms.h"
#include "lockcheck.h"
#include "log.h"
#include "proc.h"
#include "profile.h"
#include "session.h"
#include "target.h"
#include "unwind.h"
#include "wait.h"
#include "session_int.h"

/* Samples into windows (session_int.h). */

/*
 * DWARF-unwind a sample (unwind__fresh(): the maps read again for a walk
 * cut short in code loaded since, *@refreshed). Returns the frame count,
 * -ENODATA when the sample has no stack copy (use the frame-pointer
 * stack), or -EIO when the walk failed. Not under the lock: @p is held
 * (refs).
 */
static int unwind_sample(struct session_mgr *m, struct proc *p,
			 const struct profd_cpu_sample *cs, uint64_t *ips,
			 bool *truncated, bool *refreshed)
{
	const struct profd_cpu_sample_stack *ss = (const void *)cs;
	int n;

	/* stack_skip + stack_len were checked against the record's size
	 * (sampler.c). */
	if (cs->kind != PROFD_EV_CPU_SAMPLE_STACK || !ss->stack_len)
		return -ENODATA;
	n = unwind__fresh(p, m->sym, cs->time_ns, MAPS_REFRESH_NS,
			  (const uint64_t *)ss->regs,
			  ss->stack + ss->stack_skip, ss->stack_len, ips,
			  UNWIND_MAX_FRAMES, truncated, refreshed);
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
	bool unwind_refreshed;		/* the walk read the maps again */
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
		sp->nunw = unwind_sample(m, sp->proc, cs, sp->dw, &sp->trunc,
					 &sp->unwind_refreshed);
	}
}

/* Count @sp's work in the stats, once. Under lock. */
static void sample_proc__count(struct session_mgr *m, struct sample_proc *sp)
{
	lock__assert_held(&m->lock);
	if (sp->checked && !sp->counted_refresh) {
		sp->counted_refresh = true;
		if (sp->refreshed)
			m->st.maps_refreshes++;
	}
	if (sp->unwound && !sp->counted_unwind) {
		sp->counted_unwind = true;
		if (sp->unwind_refreshed)
			m->st.maps_refreshes++;
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

	lock__assert_held(&m->lock);
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
	struct proc *fresh = NULL;
	struct session *s;
	struct part *pt;
	char why[sizeof(pt->why)];
	uid_t uid;
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
		r = execfollow__check(&t, uid, image, m->pc, m->w, &fresh,
				      why, sizeof(why));
	else
		r = execfollow__unchecked(r, why, sizeof(why));

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
		r = aggregate__new(m->lim.max_stacks, &pt->agg);
		if (r == 0) {
			pt->proc = fresh;	/* the part's now */
			fresh = NULL;
		} else {
			snprintf(why, sizeof(why),
				 "the process executed a new program, which could not be followed (%s)",
				 strerror(-r));
		}
	}
	snprintf(pt->why, sizeof(pt->why), "%s", why);
	/* The session may be freed once unlocked: log the copy. */
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

