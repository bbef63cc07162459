/* SPDX-License-Identifier: GPL-2.0 */
/*
 * heap's insides, shared by its files (not an API): heap.c (BPF, probes,
 * events, snapshots, finals, lifecycle) and heap_agents.c (the in-process
 * agents' calls, queue and thread).
 *
 * Lock order: rb_lock, and agent_lock, are taken before lock, never after;
 * never rb_lock and agent_lock together. lock guards the tracker and its
 * processes (no slow work under it but what the reader and snapshots did
 * before: unwinding, symbolizing); agent_lock serialises calls into
 * processes (ptrace, seconds at most, inject.h), which nothing else waits
 * for but other calls and heap stop (at most STOP_WAIT_MS).
 */
#ifndef PROFD_HEAP_INT_H
#define PROFD_HEAP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.h"
#include "heap.h"
#include "proc.h"
#include "profd_abi.h"
#include "strtab.h"
#include "target.h"

#define MAX_LINKS (2 * PROFD_HEAP_FN_MAX + 2 * 8)

/* A DWARF-unwound allocation stack and the allocations counted on it. */
struct hstack {
	uint64_t *ips;			/* return addresses, innermost first */
	unsigned n;
	bool truncated;
	int64_t alloc_n, alloc_b;	/* sampled, unscaled */
};

/*
 * Event ids of sampled DWARF-mode allocations and their stacks: sorted
 * parallel arrays, 12 bytes per id (a hash map at half load took 32, and
 * twice that while growing). Ids arrive nearly in order (assigned at
 * allocator entry, submitted a moment later on the same CPU), so an insert
 * is an append or a short move.
 */
struct idtab {
	uint64_t *id;
	uint32_t *stack;		/* stack index + 1; 0: none */
	size_t n, cap;
};

struct heap_proc {
	struct heap_proc *next;
	pid_t pid;
	/* The process and the program image tracked: what BPF records is of
	 * that image only, and an exec ends the period (heap__gc()). */
	struct target t;
	uid_t starter;			/* who started tracking (shares) */
	bool kept;			/* a start asked for it: until stop */
	unsigned pulls;			/* one-off pulls relying on it */
	uint64_t generation;
	uint64_t sample_bytes;
	uint64_t started_ns, last_pull_ns;
	int64_t started_wall_ns;
	uint64_t errors_at_start[PROFD_HEAP_ERR_MAX];
	struct proc *proc;
	struct bpf_link *links[MAX_LINKS];
	unsigned nlinks;
	int session_fds[2];		/* uprobe-session links, or -1 */
	char allocator[256];
	char cxx[256];			/* libstdc++ probed for new, or "" */
	unsigned nfuncs;		/* distinct entry points probed */
	bool inproc;			/* in-process mode (HEAP_INPROC) */
	bool starting;			/* its agent is being loaded or
					 * switched on: not tracking yet */
	bool own_new;			/* the allocator defines operator new */
	struct agent *agent;		/* its agent, once loaded */
	size_t rescan_nmaps;		/* proc's mappings when it last
					 * redirected (in-process mode) */
	bool want_rescan;		/* new ones since: the agent thread
					 * has the agent redirect them */
	struct {
		uint64_t lo, hi;
	} skip[1 + 8];			/* its leading frames to drop: the
					 * agent's, operator new's */
	unsigned nskip;

	/* DWARF mode (PROFD_HEAP_F_DWARF): stacks unwound here. */
	uint32_t flags;
	uint64_t first_id;		/* earlier event ids: a previous period */
	struct idtab ids;		/* event id -> stack index + 1 (0: none) */
	uint64_t max_id, prune_mark;	/* see prune_ids() */
	size_t nids_kept;
	struct hstack *stacks;
	size_t nstacks, capstacks;
	struct u64map stack_index;	/* content hash -> stack index + 1 */
	uint64_t dw_unknown;		/* allocations with no stack slot */
	uint64_t snap_inflight;		/* last collect(): blocks left out */
};

/* The last snapshot of a tracked process that exited (or of the program
 * it ran before an exec). */
struct heap_final {
	struct heap_final *next;
	pid_t pid;
	struct proc_ids ids;		/* its image's: who may pull it */
	uint64_t generation;		/* the tracking period it ends */
	uint64_t exited_ns;		/* noticed, CLOCK_MONOTONIC */
	void *buf[2];			/* gzip'd pprof: [0] heap, [1] allocs */
	size_t len[2];
};

/* A process a call into went wrong in: profd never calls into it again. */
struct poisoned {
	pid_t pid;
	uint64_t start_time, image;	/* that process, that image */
	char why[320];
};

#define MAX_POISONED 16		/* remembered; the oldest goes */

struct heap_tracker {
	pthread_mutex_t lock;
	struct heap_limits lim;
	struct symbolizer *sym;
	struct execwatch *w;
	struct heap_bpf *skel;
	bool sessions;			/* kernel has uprobe sessions */
	bool no_sessions;		/* forced off (benchmarks) */
	struct heap_proc *procs;
	unsigned nprocs;
	struct heap_final *finals;	/* newest first, <= max_procs */
	unsigned nfinals;
	uint64_t next_gen;
	bool stopping;

	/* DWARF-mode events: one reader thread, and snapshots drain too. */
	struct ring_buffer *rb;
	pthread_mutex_t rb_lock;
	pthread_t reader;
	bool reader_started, quit;
	uint64_t dw_events, dw_truncated, dw_failed;

	/*
	 * In-process mode: calls into processes (ptrace, each bounded by
	 * deadlines, a few seconds at most) are made under agent_lock, which
	 * nothing else waits for: not lock, not the reader. Agents of released
	 * processes wait in offq to be switched off, and libraries loaded
	 * into tracked processes to be redirected, by the agent thread.
	 */
	pthread_mutex_t agent_lock;
	struct agent *offq;
	pthread_t agent_thread;
	bool agent_thread_started;
	pthread_cond_t agent_wake;	/* with lock: offq grew, or quit */
	uint64_t agents_left_on;	/* could not be switched off */
	uint64_t agents_dropped_exec;	/* their process executed a program */
	uint64_t agents_poisoned;	/* calls that faulted or hung */
	struct poisoned poisoned[MAX_POISONED];
	unsigned npoisoned, next_poisoned;
	unsigned waiters;		/* in heap__wait() */
};

/* How long heap__stop() waits for calls into other processes to end
 * before its own switch-off: longer than one call may take (inject.h). */
#define STOP_WAIT_MS 6000

/* heap.c */
struct heap_proc *heap__find(struct heap_tracker *h, pid_t pid);
/* Leading frames profiles leave out, from @p's mappings. Under lock. */
void heap__skip_frames(struct heap_proc *p);

/* heap_agents.c */
/* The poisoning of @t's process and image, or NULL. Under lock. */
const struct poisoned *heap_agents__poisoned(struct heap_tracker *h,
					     const struct target *t);
/*
 * heap_agents__start() - load the agent into the process @t holds and
 * switch it on, for tracking period @gen of it. Not under lock.
 * -ECANCELED when tracking stopped meanwhile; -EFAULT when a call faulted
 * or hung (the process is poisoned, @err says so); agent__load()'s.
 */
int heap_agents__start(struct heap_tracker *h, const struct target *t,
		       uint64_t gen, const char *allocator,
		       uint64_t sample_bytes, char *err, size_t errlen);
/* Start the agent thread (once). Under lock. 0 or -errno. */
int heap_agents__start_thread(struct heap_tracker *h);
/* Take agent_lock within @wait_ms: 0, or -EBUSY. */
int heap_agents__lock_within(struct heap_tracker *h, unsigned wait_ms);
/* Switch off agent @a (its process released): 0 done (freed), -EAGAIN
 * queued to be tried again. Under agent_lock. */
int heap_agents__switch_off(struct heap_tracker *h, struct agent *a);
/* Switch off the queued agents that are due, waiting @wait_ms at most for
 * agent_lock (-EBUSY). Not under lock. */
int heap_agents__flush(struct heap_tracker *h, unsigned wait_ms);
/* Let go of @a and free it. */
void heap_agents__free(struct agent *a);

#endif /* PROFD_HEAP_INT_H */
