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
#include "proc.h"
#include "profile.h"
#include "session.h"
#include "target.h"
#include "unwind.h"
#include "wait.h"
#include "session_int.h"

/* A window's end: drain, checks, the profile (session_int.h). */

/*
 * Wait until the main loop has completed a drain that began after now, so
 * every sample taken before the window's end has been dispatched: kick it
 * and wait for two drain passes (the one in progress may have begun earlier).
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
	target = m->drain_pass + 2;
	/* Kick once per pass: the loop would otherwise only come back for
	 * the second pass at its 50 ms timer. EAGAIN (a kick pending) is
	 * fine to ignore. */
	while (m->drain_pass < target && !m->stopping) {
		e = m->drain_pass;
		if (m->wake_fd >= 0)
			(void)!write(m->wake_fd, &one, sizeof(one));
		while (m->drain_pass == e && !m->stopping)
			if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) ==
			    ETIMEDOUT)
				goto out;
	}
	drained = m->drain_pass >= target;
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
void session__totals(const struct session *s, struct aggregate_totals *ret)
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
	session__totals(s, &t);
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
	(void)session_mgr__reconcile(m);
	lost = session_mgr__lost_samples(m) - s->lost_at_start;
	m->st.samples_lost = session_mgr__lost_samples(m);
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

