/* SPDX-License-Identifier: GPL-2.0 */
/*
 * session's insides, shared by its files (not an API). One job per file:
 *
 *   session.c         the manager and a window's lifecycle: sampler
 *                     targets, start, wait, early end, free; stats, JSON
 *   session_sample.c  samples: refs under the lock, unwinding without it,
 *                     counting under it; a window's process exec'ing
 *   session_finish.c  a window's end: drain, kallsyms, the missed-samples
 *                     check, the profile
 */
#ifndef PROFD_SESSION_INT_H
#define PROFD_SESSION_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "aggregate.h"
#include "kallsyms.h"
#include "proc.h"
#include "session.h"
#include "target.h"

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
	pthread_cond_t cond;		/* drain_pass advanced, or shutdown */
	struct session_limits lim;
	struct symbolizer *sym;
	struct execwatch *w;
	struct sampler *sampler;
	struct session *sessions;
	struct proc_cache *pc;		/* procs, shared with the heap */
	struct kallsyms *ksyms;
	uint64_t drain_pass, next_id, started_ns;
	int wake_fd;			/* eventfd: ask the main loop to drain */
	/* Every-process (tgid 0) targets of continuous.c. */
	struct sampler_target extra[PROFD_MAX_PERIODS];
	size_t nextra;
	bool stopping;
	struct session_mgr_stats st;
};

/* session.c */
uint64_t session_mgr__lost_samples(struct session_mgr *m);
int session_mgr__reconcile(struct session_mgr *m);

/* session_finish.c */
void session__totals(const struct session *s, struct aggregate_totals *ret);

#endif /* PROFD_SESSION_INT_H */
