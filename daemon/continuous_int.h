/* SPDX-License-Identifier: GPL-2.0 */
/*
 * continuous's insides, shared by its three files (continuous.h says what
 * the module does):
 *
 *  - continuous.c: life cycle, the queue the main thread fills, the
 *    worker's loop, the sampler targets, machine-wide pulls, reload;
 *  - continuous_procs.c: the worker's process table (capture, filters,
 *    exec, release) and counting one sample into the open collections;
 *  - continuous_iv.c: closing collections — one profile per service per
 *    interval to the fleet (spool, push), a pull's profile to its caller.
 *
 * Threads: fields marked "worker" are the worker's alone; the slots and
 * stats are under c->lock, the queue under c->qlock (continuous.h has the
 * lock order).
 */
#ifndef PROFD_CONTINUOUS_INT_H
#define PROFD_CONTINUOUS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cfilter.h"
#include "continuous.h"
#include "proc.h"
#include "unwind.h"

struct aggregate;
struct service_id;
struct profile_symcache;

/* Collections: two interval slots (the one open and the next, which
 * samples reach before the open one is closed), then the pulls. */
#define IV_SLOTS 2
#define NSLOTS (IV_SLOTS + CONTINUOUS_MAX_PULLS)
#define HASH_BUCKETS 1024
/* A process without samples this long is let go (seen again: captured
 * again). */
#define IDLE_NS (60ULL * 1000000000ULL)
/* How often a sampled process's cgroup and executable are compared with
 * those it was tracked with (continuous_procs.c: check_identity()); every
 * MAPS_REFRESH_NS when there is reason to think it executed another
 * program. */
#define ID_CHECK_NS (1000ULL * 1000 * 1000)
/* Samples of a drain pass's last microseconds may still be uncommitted
 * in the ring buffer when it ends: close a collection only after a pass
 * that began this much after its end. */
#define WATERMARK_SLACK_NS (5ULL * 1000 * 1000)
#define PULL_TIMEOUT_NS (10ULL * 1000000000ULL)
#define SYMCACHE_ENTRIES 65536
#define SYMCACHE_CLEAR_NS (120ULL * 1000000000ULL)

enum slot_state { SLOT_FREE, SLOT_OPEN, SLOT_DONE };

struct slot {
	enum slot_state state;
	uint64_t period_ns;
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC, [start, end) */
	int64_t start_wall_ns;
	bool abandoned;			/* the pull's caller went away */
	int result;			/* pull: the build's 0 or -errno */
	void *buf;
	size_t len;
	uint64_t lost_at_start;		/* ring buffer counter */
};

struct cproc {
	struct cproc *hnext, *next;
	pid_t pid;
	uint64_t start_time;
	uid_t uid;
	struct pidref ref;
	struct proc *proc;		/* NULL: excluded, or unreadable */
	bool own_proc;			/* not from the process cache */
	struct service_id *svc;
	char *cgroup;			/* its cgroup v2 path when tracked
					 * (NULL: unknown): a move changes it */
	char comm[16];
	bool excluded, linked;
	uint64_t exited_ns;		/* 0: alive when last looked */
	dev_t exe_dev;			/* its executable when first seen: */
	ino_t exe_ino;			/* an exec changes it */
	uint64_t id_checked_ns;		/* cgroup and exe last compared */
	uint64_t last_sample_ns;
	struct aggregate *agg[NSLOTS];
};

struct qitem {
	struct qitem *next;
	size_t len;			/* 0: a watermark */
	uint64_t watermark_ns;
	_Alignas(16) unsigned char data[];
};

struct continuous {
	struct continuous_config cfg;
	struct cfilter include, exclude;
	struct symbolizer *sym;
	struct proc_cache *pc;
	struct session_mgr *m;
	struct fleet *fleet;
	struct sampler *sampler;
	int wake_fd;
	/* The settings a slot takes when it is reused (under c->lock: a
	 * reload sets them, the worker reads them at each close); iv_cur_ns
	 * is the worker's: the length in effect, to see a change. */
	uint64_t iv_period_ns, iv_ns, iv_cur_ns;
	/* End of the last interval closed (c->lock): a sample before it
	 * came too late. */
	uint64_t iv_closed_end_ns;
	/* Filters a reload gave, for the worker to take (c->lock). */
	struct cfilter pend_include, pend_exclude;
	bool pend_filters;

	/* The queue, and which periods it takes. */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct qitem *qhead, *qtail;
	size_t qbytes;
	uint64_t periods[NSLOTS];	/* of open slots; 0: none */
	bool stop;
	pthread_t worker;
	bool worker_started;

	/* Slots' control and the stats. */
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a pull is done, or stopping */
	pthread_mutex_t tlock;		/* serializes target updates */
	struct slot slots[NSLOTS];
	struct continuous_stats st;

	/* The worker's alone. */
	struct cproc *hash[HASH_BUCKETS];
	struct cproc *all;
	size_t nprocs, max_procs;
	uint64_t iv_lost_mark[4];	/* lost counters at the last close */
	uint64_t rb_lost_mark;
	uint64_t dw[UNWIND_MAX_FRAMES];
	/* Symbolized addresses across intervals, cleared every
	 * SYMCACHE_CLEAR_NS (it pins the binaries it names). */
	struct profile_symcache *symcache;
	uint64_t symcache_cleared_ns;
};

static inline uint64_t cont__now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* continuous.c */
uint64_t cont__ringbuf_lost(struct continuous *c);
/* Make the sampler's every-process targets those of the open slots. */
int cont__update_targets(struct continuous *c);

/* continuous_procs.c (worker) */
/* Count one sample (a queue item's record) in the open collections. */
void cont_procs__sample(struct continuous *c, const struct profd_cpu_sample *s);
/* Let go of processes that exited or went idle, once no open collection
 * holds their samples. */
void cont_procs__sweep(struct continuous *c, uint64_t now);
void cont_proc__free(struct cproc *p);
/* Take a reload's filters, if any. */
void cont_procs__refilter(struct continuous *c);

/* continuous_iv.c (worker) */
/* A drain pass that began at @wm is done: close what ended before it. */
void cont_iv__watermark(struct continuous *c, uint64_t wm);

#endif /* PROFD_CONTINUOUS_INT_H */
