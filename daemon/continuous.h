/* SPDX-License-Identifier: GPL-2.0 */
/*
 * continuous: every process, through the shared sampler (issue 13). Two
 * kinds of collection share one machinery:
 *
 *  - intervals (continuous = yes): an every-process (tgid 0) target at
 *    continuous-hz; every continuous-interval, aligned to multiples of it
 *    on the wall clock (so a fleet's hosts close the same intervals), one
 *    CPU profile per service (service.h) goes to fleet__interval_closed();
 *  - machine-wide pulls (GET /debug/pprof/profile without pid, profctl
 *    cpu --all): one window over every process, at its own hz (the same
 *    target when the hz is the same).
 *
 * The main thread hands each sample of an every-process period over with
 * continuous__on_sample() (a copy into a bounded queue: no /proc, no
 * unwinding there) and marks the end of each drain pass with
 * continuous__drained(). One worker thread does the rest in the order
 * the samples came: it captures a process's mappings and binaries the
 * first time it sees the process (so one that exits before the interval
 * closes is still symbolized), its service and whether the filters want
 * it; unwinds (DWARF, as windows do); counts the sample in every
 * collection whose time range holds its timestamp — a sample belongs to
 * exactly one interval, by the time it was taken — and closes a
 * collection once a drain pass that began after its end has been
 * processed. Samples lost on the way (ring buffer full, queue full,
 * process table full, after their interval closed) are counted, and each
 * interval's profiles say how many.
 *
 * Bounds: CONTINUOUS_MAX_PROCS processes tracked (more are counted as
 * dropped, their samples lost), the queue's bytes, distinct stacks per
 * process per collection (session limits' max_stacks); processes that
 * exited, or have had no sample for a minute, are released once no open
 * collection holds their samples.
 *
 * Lock order: continuous's lock, then nothing (it calls the session
 * manager, which takes its own, never while holding it).
 */
#ifndef PROFD_CONTINUOUS_H
#define PROFD_CONTINUOUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profd_abi.h"

#define CONTINUOUS_MAX_PROCS 4096
#define CONTINUOUS_MAX_PULLS 4		/* machine-wide windows at once */
#define CONTINUOUS_QUEUE_BYTES (16u << 20)

struct continuous;
struct session_mgr;
struct sampler;
struct proc_cache;
struct fleet;

struct continuous_config {
	bool on;			/* continuous = yes */
	unsigned hz;			/* continuous-hz */
	unsigned interval_s;		/* continuous-interval */
	const char *include, *exclude;	/* cfilter.h text, NULL: none */
	bool fp;			/* continuous-fp: no stack copies */
	size_t max_stacks;		/* per process per collection */
};

struct continuous_stats {
	bool on;
	unsigned hz, interval_s;
	uint64_t samples;		/* counted in a collection */
	uint64_t lost_queue_full, lost_procs_full, lost_late;
	uint64_t lost_unresolved;	/* process gone before it was seen */
	uint64_t lost_ringbuf;		/* ring buffer full, machine-wide,
					 * while collections were open */
	uint64_t dropped_stacks;	/* distinct-stack tables full */
	uint64_t excluded;		/* samples of filtered-out processes */
	uint64_t procs_tracked;		/* now */
	uint64_t procs_seen, procs_dropped, procs_excluded;
	uint64_t procs_moved;		/* tracked afresh in another cgroup */
	uint64_t intervals_closed;	/* intervals (all services) */
	uint64_t profiles_closed;	/* per-service profiles handed over */
	uint64_t profiles_failed;
	uint64_t pulls;
	uint64_t reloads_applied;	/* reloads that changed settings */
	uint64_t reloads_refused;	/* ... that changed continuous on/off */
};

/* @pc: the process cache (proc.h), shared with windows and the heap
 * tracker; @m: where the every-process targets go
 * (session_mgr__set_extra()); @f: where intervals go (NULL: none).
 * 0 or -errno (-EINVAL: a filter). */
int continuous__new(const struct continuous_config *cfg,
		    struct proc_cache *pc, struct session_mgr *m,
		    struct fleet *f, struct continuous **ret);
/* Start the worker and, with cfg->on, the intervals' sampling; after the
 * sampler exists. 0 or -errno. */
int continuous__start(struct continuous *c, struct sampler *s, int wake_fd);
/* Stop the worker, release everything. NULL ok. */
void continuous__free(struct continuous *c);

/* Main thread: a sample (record of the sampler's; copied if wanted). */
void continuous__on_sample(struct continuous *c,
			   const struct profd_cpu_sample *s);
/* Main thread: a drain pass that began at @began_ns (CLOCK_MONOTONIC)
 * is complete: every sample taken before it has been handed over. */
void continuous__drained(struct continuous *c, uint64_t began_ns);

/*
 * continuous__pull() - one machine-wide window: every process for
 * @seconds at @hz (kernel stacks too), as one gzip pprof whose samples
 * carry service_name, pid, comm, tid and thread. Blocks; polls @conn_fd
 * (>= 0) for the client hanging up. The caller checked that it may (root).
 * 0 with a malloc'd *@ret_buf, -EBUSY (CONTINUOUS_MAX_PULLS open), -E2BIG
 * (sampling periods), -ECONNRESET, -ECANCELED (stopping), -errno.
 */
int continuous__pull(struct continuous *c, unsigned seconds, unsigned hz,
		     int conn_fd, void **ret_buf, size_t *ret_len);

#define CONTINUOUS_RELOAD_RATE	 1u	/* hz or interval changed */
#define CONTINUOUS_RELOAD_FILTERS 2u	/* include or exclude changed */
#define CONTINUOUS_RELOAD_REFUSED 4u	/* on/off or fp changed: not applied */

/*
 * continuous__reload() - SIGHUP's settings (main thread). What changed is
 * said in *@ret_what (CONTINUOUS_RELOAD_*; 0: nothing) and applied live:
 *
 *  - continuous-hz and continuous-interval from the interval after the
 *    one in progress (samples already fall into that one at the old
 *    rate); a new interval length ends its first interval on the wall
 *    clock's next multiple of it, as at start. Until the one in progress
 *    closes, both rates are sampled (one interval of extra samples, which
 *    no collection counts).
 *  - continuous-include/-exclude at the worker's next drain pass: every
 *    tracked process is looked at again at its next sample (samples
 *    counted already stay in their interval).
 *  - continuous = yes/no and continuous-fp are not applied until the next
 *    restart: refused, counted (reloads_refused); the other changes still
 *    apply.
 *
 * 0, or -EINVAL with @err saying which filter term is bad (nothing
 * changed then), -ENOMEM.
 */
int continuous__reload(struct continuous *c,
		       const struct continuous_config *cfg, char *err,
		       size_t errsize, unsigned *ret_what);

/* Stop: fail waiting pulls. */
void continuous__shutdown(struct continuous *c);

void continuous__stats(struct continuous *c, struct continuous_stats *ret);

#endif /* PROFD_CONTINUOUS_H */
