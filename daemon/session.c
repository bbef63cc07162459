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

#include "access.h"
#include "aggregate.h"
#include "clock.h"
#include "cputime.h"
#include "execwatch.h"
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

uint64_t session_mgr__lost_samples(struct session_mgr *m)
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
int session_mgr__reconcile(struct session_mgr *m)
{
	struct sampler_target t[256];
	uint64_t periods[PROFD_MAX_PERIODS];
	size_t nt = 0, np = 0, i;
	struct session *s;
	int r;

	lock__assert_held(&m->lock);
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
	r = session_mgr__reconcile(m);
	if (r < 0) {
		memcpy(m->extra, old, sizeof(old));
		m->nextra = nold;
		(void)session_mgr__reconcile(m);
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
	r = aggregate__new(m->lim.max_stacks, &s->parts[0].agg);
	if (r < 0) {
		free(s);
		return r;
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
	s->lost_at_start = session_mgr__lost_samples(m);
	s->next = m->sessions;
	m->sessions = s;
	m->st.sessions_active++;
	m->st.sessions_total++;
	r = session_mgr__reconcile(m);
	if (r < 0) {
		unlink_session(m, s);
		(void)session_mgr__reconcile(m);
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

void session_mgr__drained(struct session_mgr *m)
{
	pthread_mutex_lock(&m->lock);
	m->drain_pass++;
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

void session__free(struct session_mgr *m, struct session *s)
{
	unsigned i;

	if (!s)
		return;
	pthread_mutex_lock(&m->lock);
	unlink_session(m, s);
	s->closed = true;
	(void)session_mgr__reconcile(m);
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

void session_mgr__sessions_json(struct session_mgr *m,
				const struct peer *viewer, struct json *j)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	struct session *s;

	json__arr_begin(j, "sessions");
	pthread_mutex_lock(&m->lock);
	for (s = m->sessions; s; s = s->next) {
		struct aggregate_totals t;

		if (access__may_see_session(viewer, s->req.uid) < 0)
			continue;
		session__totals(s, &t);
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
