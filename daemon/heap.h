/* SPDX-License-Identifier: GPL-2.0 */
/*
 * heap: live-heap tracking of running processes through uprobes on the
 * allocator each one uses. Owns the heap BPF object (loaded on first use,
 * so CPU-only users pay nothing), the probes of every tracked process and
 * the snapshots. Tracking ends on stop, on the target's exit, or after an
 * idle time without a pull; every end releases probes and map entries.
 */
#ifndef PROFD_HEAP_H
#define PROFD_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolizer.h"

struct heap_tracker;

struct heap_limits {
	unsigned max_procs;		/* processes tracked at once */
	uint64_t max_live;		/* live-table entries, all processes */
	uint64_t default_sample_bytes;
	uint64_t idle_timeout_ns;	/* no pull for this long: stop */
	uint32_t event_buffer_bytes;	/* DWARF stack copies in flight */
	const char *agent_path;		/* libprofd_heap.so, for HEAP_INPROC */
	uint32_t pidns_inum;		/* profd's PID namespace (pidns.h) */
};

/* heap__start() flags */
#define HEAP_FP_ONLY (1u << 0)		/* frame-pointer stacks, walked in BPF */
#define HEAP_INPROC (1u << 1)		/* sample in the process (the agent) */
/* A pull, not a start: tracking it begins ends when its last pull is done
 * (heap__pull_done()), unless a start (no HEAP_ONE_OFF) asks it to stay. */
#define HEAP_ONE_OFF (1u << 2)

struct heap_start_info {
	char allocator[256];		/* the library probed */
	uint64_t sample_bytes;
	unsigned probes;		/* BPF links */
	unsigned functions;		/* distinct entry points they cover */
	bool already;			/* was tracked before this call */
	bool fp_only;			/* frame-pointer stacks, not DWARF */
	bool inproc;			/* sampled in the process by the agent */
	long agent_slots;		/* GOT entries the agent redirected */
	uint64_t generation;		/* identifies this tracking generation */
	bool one_off;			/* HEAP_ONE_OFF and not kept by a start:
					 * call heap__pull_done() */
	uint64_t idle_timeout_ns;	/* when a kept one stops by itself */
};

struct heap_stats {
	unsigned procs;
	uint64_t live_entries, live_max;
	uint64_t errors[8];		/* enum profd_heap_err */
	uint64_t dw_events, dw_truncated, dw_failed;	/* DWARF stacks */
	uint64_t agents_pending_off;	/* in-process agents being switched off */
	uint64_t agents_left_on;	/* ... given up on */
	uint64_t agents_dropped_exec;	/* their process executed a program:
					 * dropped, never called */
	uint64_t agents_poisoned;	/* calls into a process that faulted
					 * or hung: never called into again */
	bool loaded;
};

struct execwatch;
struct proc_cache;
/* @w: which program image a process runs; tracking is bound to one.
 * @pc: the process cache (proc.h), shared with CPU windows. */
int heap__new(const struct heap_limits *lim, struct symbolizer *sym,
	      struct execwatch *w, struct proc_cache *pc,
	      struct heap_tracker **ret);
void heap__free(struct heap_tracker *h);

/*
 * heap__start() - begin tracking @pid for caller @uid (idempotent: a
 * tracked process keeps its settings; every caller is checked against the
 * program image tracked, access__check_image()). What is tracked is that
 * image: an exec ends the tracking generation, keeping its last snapshot as an exit
 * does. @sample_bytes 0 means the default. Allocation stacks are
 * DWARF-unwound unless HEAP_FP_ONLY (frame-pointer walks in BPF). With
 * HEAP_INPROC the process's allocator calls are sampled by profd's agent,
 * loaded into it, instead of a uprobe on each. Errors: -ESRCH no such
 * process, -EACCES @uid may not (a sentence in @err), -EPROTONOSUPPORT a
 * Go program, -ENOENT no allocator found, -ENODATA no mappings to read
 * (its main thread exited), -EBUSY too many tracked processes,
 * -EHOSTDOWN a call into the process went wrong before (poisoned; for
 * HEAP_INPROC), others from BPF; for the agent, see agent__load(), with a
 * sentence for the user in @err (may be ""); -EFAULT: a call faulted or
 * hung, the process is poisoned.
 */
int heap__start(struct heap_tracker *h, pid_t pid, uid_t uid,
		uint64_t sample_bytes, unsigned flags,
		struct heap_start_info *ret, char *err, size_t errlen);
/*
 * 0, -ENOENT when @pid is not tracked, or -EINPROGRESS when tracking
 * stopped but the in-process agent could not be switched off yet (it is
 * retried).
 */
int heap__stop(struct heap_tracker *h, pid_t pid);

/* What heap__pull_done() did with the tracking a one-off pull relied on. */
enum heap_pull_end {
	HEAP_PULL_STOPPED,		/* the last one-off pull: stopped */
	HEAP_PULL_STOPPED_AGENT_ON,	/* ... but the agent could not be
					 * switched off yet (retried) */
	HEAP_PULL_KEPT,			/* a start asked for it to stay */
	HEAP_PULL_OTHERS,		/* other one-off pulls still use it */
	HEAP_PULL_ENDED,		/* already over (exit, stop, restart) */
};

/*
 * heap__pull_done() - a pull of tracking generation @generation of @pid that
 * heap__start() marked one_off is done (snapshot taken, or given up):
 * tracking stops when it was the last such pull and no start asked for it
 * to stay, so a one-off look leaves no probes behind.
 */
enum heap_pull_end heap__pull_done(struct heap_tracker *h, pid_t pid,
				   uint64_t generation);

/*
 * heap__wait() - wait @seconds while tracking generation @generation of @pid
 * lasts. 0, -ECANCELED (stopped), -ESRCH (process exited), -ESHUTDOWN
 * (the daemon is stopping), -ECONNRESET
 * (client gone, polled on @conn_fd).
 */
int heap__wait(struct heap_tracker *h, pid_t pid, uint64_t generation,
	       unsigned seconds, int conn_fd);

/*
 * Snapshot as gzip'd pprof. A tracked process that exited is served its
 * last snapshot (the heap it held at exit) until the idle timeout.
 * -ENOENT when neither.
 */
int heap__snapshot(struct heap_tracker *h, pid_t pid, bool allocs_default,
		   void **ret_buf, size_t *ret_len);
/* May @uid pull the exit snapshot of @pid (access__check_image() on the
 * image it was of)? 0, -EACCES, or -ENOENT (none). */
int heap__final_check(struct heap_tracker *h, pid_t pid, uid_t uid);

/* Release exited and idle processes. The tracker calls it once a second
 * on a thread of its own (from the first start on). */
void heap__gc(struct heap_tracker *h);

void heap__stats(struct heap_tracker *h, struct heap_stats *ret);
struct json;
/* Member "procs" of @j's open object: the tracked processes. */
void heap__procs_json(struct heap_tracker *h, struct json *j);
/* Member "poisoned" of @j's open object: {pid, why} of each poisoned one. */
void heap__poisoned_json(struct heap_tracker *h, struct json *j);
/* Make waiters return -ESHUTDOWN: the daemon is stopping. */
void heap__shutdown(struct heap_tracker *h);
/* Wait (at most @timeout_ms) until no request is in heap__wait(). */
void heap__wait_idle(struct heap_tracker *h, unsigned timeout_ms);

#endif /* PROFD_HEAP_H */
