/* SPDX-License-Identifier: GPL-2.0 */
/*
 * heap's insides, shared by its files (not an API). One job per file, in
 * the order data flows:
 *
 *   heap.c          lifecycle: start, stop, wait, stats; the locks
 *   heap_gc.c       upkeep threads: the reaper, gc once a second
 *   heap_probes.c   choosing the allocator, attaching uprobes
 *   heap_agents.c   the in-process agent: calls, queue and thread
 *   heap_maps.c     the BPF object: loading, map reads and purges
 *   heap_events.c   the reader thread: DWARF events, unwinding
 *   heap_stacks.c   id table, stack interning, record assembly (pure)
 *   heap_snapshot.c snapshots: records -> profile -> gzip'd pprof
 *   heap_finals.c   the last snapshot of processes that exited
 *
 * Lock order: rb_lock, agent_lock and load_lock are taken before lock,
 * never after, and never two of them together. lock guards the tracker
 * and its processes; nothing slow runs under it: a copy of one process's
 * stacks (a pull, heap_snapshot.c: the maps are read, symbolized and
 * gzip'd without it), the counting of one unwound event (the reader
 * unwinds with the lock dropped and a reference on the process's capture,
 * heap_events.c), list walks. Without it: process captures and allocator
 * choice (heap__capture(), before the lock, or with it dropped in a start
 * that raced a stop), the BPF object's first load (load_lock, heap_maps.c),
 * a start's uprobe attach (before the process is listed), gc's re-reads of
 * in-process targets' maps (heap_gc.c); released processes wait in
 * h->dead for heap__reap(), which keeps an exit's last snapshot
 * (symbolizing, gzip), detaches the uprobes and purges the BPF maps
 * without it. agent_lock serialises calls into processes (ptrace, seconds
 * at most, inject.h), which nothing else waits for but other calls and
 * heap stop (at most STOP_WAIT_MS). Functions that need lock say "Under
 * lock" and assert it in debug builds (lockcheck.h). The daemon-wide order
 * is in main.c.
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
#include "heap_stacks.h"
#include "strtab.h"
#include "target.h"

#define MAX_LINKS (2 * PROFD_HEAP_FN_MAX + 2 * 8)

struct heap_proc {
	struct heap_proc *next;
	pid_t pid;
	/* The process and the program image tracked: what BPF records is of
	 * that image only, and an exec ends the tracking generation (heap__gc()). */
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
	int usession_fds[2];		/* uprobe-session links, or -1 */
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
	uint64_t gc_pass;		/* heap__gc() looked at its maps */
	struct {
		uint64_t lo, hi;
	} skip[1 + 8];			/* its leading frames to drop: the
					 * agent's, operator new's */
	unsigned nskip;

	/* DWARF mode (PROFD_HEAP_F_DWARF): stacks unwound here. */
	uint32_t flags;
	uint64_t first_id;		/* earlier event ids: a previous generation */
	struct heap_stacks st;		/* its stacks and event ids */
	uint64_t dw_unknown;		/* allocations with no stack slot */

	/* Released (in h->dead), waiting for heap__reap(). */
	int final_why;			/* -ESRCH, -ESTALE: keep its last
					 * snapshot; 0: none */
	uint64_t retired_ns;		/* when released, CLOCK_MONOTONIC */
	long agent_errors;		/* its agent's, when released (the
					 * agent goes to the offq) */
	bool reaping;			/* a heap__reap() has it */
	bool in_bpf;			/* heap_maps__track()ed: purge */
};

/* The last snapshot of a tracked process that exited (or of the program
 * it ran before an exec). */
struct heap_final {
	struct heap_final *next;
	pid_t pid;
	struct proc_ids ids;		/* its image's: who may pull it */
	uint64_t generation;		/* the tracking generation it ends */
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
	pthread_mutex_t load_lock;	/* the BPF object's first load:
					 * before lock, never under it */
	struct heap_limits lim;
	struct symbolizer *sym;
	struct proc_cache *pc;		/* captures, shared (proc.h) */
	struct execwatch *w;
	struct heap_bpf *skel;
	bool uprobe_sessions;		/* kernel has uprobe sessions ("uprobe
					 * session": the kernel's word, not a
					 * CPU window) */
	bool no_uprobe_sessions;	/* forced off (benchmarks) */
	struct heap_proc *procs;
	unsigned nprocs;
	struct heap_proc *dead;		/* released, not yet reaped */
	pthread_cond_t reaped;		/* with lock: one left dead */
	pthread_t reap_thread;		/* heap__reap() as they come */
	bool reap_started;
	pthread_cond_t reap_wake;	/* with lock: dead grew, or quit */
	struct heap_final *finals;	/* newest first, <= max_procs */
	unsigned nfinals;
	uint64_t next_gen;
	bool stopping;

	/* DWARF-mode events: one reader thread, and snapshots drain too. */
	struct ring_buffer *rb;
	pthread_mutex_t rb_lock;
	pthread_t reader;
	bool reader_started, quit;

	/* Once a second, heap__gc() on a thread of its own: an exit's
	 * snapshot (symbolizing, gzip) never stalls the CPU main loop. */
	pthread_t gc_thread;
	bool gc_started;
	pthread_cond_t gc_wake;		/* with lock: quit */
	uint64_t gc_pass;		/* heap__gc()'s, for p->gc_pass */
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
	unsigned offs_running;		/* taken from offq, being switched
					 * off: still pending (with lock) */
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
/* Released @pid not reaped yet (h->dead), or NULL. Under lock. */
struct heap_proc *heap__find_dead(struct heap_tracker *h, pid_t pid);
/*
 * Untrack @p: it leaves h->procs for h->dead (its agent queued to be
 * switched off); heap__reap() does the slow rest. Under lock.
 */
void heap__release(struct heap_tracker *h, struct heap_proc *p);
/* heap_gc.c */
/*
 * Detach, keep the last snapshot (p->final_why), purge the BPF entries
 * and free the processes released so far. Not under lock.
 */
void heap__reap(struct heap_tracker *h);
/*
 * Until no released process of @pid is left (reaping them, or waiting
 * for the thread that does). Under lock, which it drops meanwhile: what
 * the caller found before is to be looked up again.
 */
void heap__reap_wait(struct heap_tracker *h, pid_t pid);
/* Start the gc and reaper threads (once). Under lock. 0 or -errno. */
int heap_gc__start(struct heap_tracker *h);

/* heap_maps.c: the BPF object, loaded on first use. */
/* Load it, sized by the limits (once; load_lock serialises the first
 * loads, seconds of verifier work, which take lock only to publish
 * h->skel). Not under lock. 0 or -errno. */
int heap_maps__load(struct heap_tracker *h);
void heap_maps__unload(struct heap_tracker *h);
/* BPF_LINK_CREATE of a uprobe session: the link's fd, or -errno. */
int heap_maps__usession_link(int prog_fd, const char *path,
			    const uint64_t *offs, const uint64_t *cookies,
			    unsigned n, pid_t pid);
/* The per-CPU error counters, summed (zeros before the load). */
void heap_maps__read_errors(struct heap_tracker *h,
			    uint64_t out[PROFD_HEAP_ERR_MAX]);
/* The newest event id handed out so far. */
uint64_t heap_maps__last_event_id(struct heap_tracker *h);
/* Configure tracking of @tgid in BPF. 0 or -errno. */
int heap_maps__track(struct heap_tracker *h, uint32_t tgid,
		     const struct profd_heap_proc *cfg);
/* Forget @tgid: its config, live blocks, counts and unused stacks. */
void heap_maps__forget(struct heap_tracker *h, uint32_t tgid);

/* Live blocks of one process, read from the live table. */
struct heap_live_set {
	struct profd_heap_live_val *v;
	size_t n;
};
/*
 * Read @tgid's live blocks. Needs no lock (the maps live as long as the
 * tracker): read in batches by bucket, each entry once while others are
 * deleted (heap_maps__walk()). 0, -ENOMEM, or the batch lookup's -errno.
 */
int heap_maps__read_live(struct heap_tracker *h, uint32_t tgid,
			 struct heap_live_set *ret);
/* @tgid's allocation-site counts as records (as read_live). 0 or -errno. */
int heap_maps__read_allocs(struct heap_tracker *h, uint32_t tgid,
			   struct heap_rec **ret, size_t *ret_n);
/* The frame-pointer stack @stack_hash. 0 or -errno (-ENOENT). */
int heap_maps__frames(struct heap_tracker *h, uint64_t stack_hash,
		      struct profd_heap_frames *ret);

/* heap_probes.c */
/* Pick @pr's allocator: its path and entry points' offsets. 0,
 * -EPROTONOSUPPORT (a Go program), -ENOENT (none). */
int heap_probes__choose_allocator(struct proc *pr, char *path, size_t size,
				  uint64_t offs[PROFD_HEAP_FN_MAX]);
/* Probe p->allocator at @offs (and libstdc++'s operator new). Not under
 * lock: @p is not listed yet (heap__start()). */
int heap_probes__attach(struct heap_tracker *h, struct heap_proc *p,
			const uint64_t offs[PROFD_HEAP_FN_MAX]);
/* In-process mode: the uprobes on the agent's probe points. Not under
 * lock (as heap_probes__attach()). */
int heap_probes__attach_agent(struct heap_tracker *h, struct heap_proc *p,
			      char *err, size_t errlen);
/* Detach every probe of @p. Not under lock: @p is released (h->dead). */
void heap_probes__detach(struct heap_proc *p);
/* Does @allocator (mapped in @pr) define C++ operator new itself? */
bool heap_probes__defines_new(struct proc *pr, const char *allocator);
/* Leading frames profiles leave out, from @p's mappings. Not under lock
 * (as heap_probes__attach()). */
void heap_probes__skip_frames(struct heap_proc *p);
/* Is @ip in a frame profiles leave out? */
bool heap_probes__skipped(const struct heap_proc *p, uint64_t ip);

/* heap_events.c: the reader of DWARF-mode events. */
/* Start the reader with the BPF object. Under lock. */
int heap_events__start(struct heap_tracker *h);
/* Join it (after h->quit is set). Not under lock. */
void heap_events__stop(struct heap_tracker *h);
/* Process every event in the buffer. Not under lock. */
void heap_events__drain(struct heap_tracker *h);

/* heap_snapshot.c */
/*
 * Build released @p's snapshot as gzip'd pprof (an exit's last snapshot,
 * heap_finals.c; pulls build theirs from a copy, heap__snapshot()). Not
 * under lock: @p is in h->dead, owned by its reaper. @note: an extra
 * comment, or NULL.
 */
int heap_snapshot__build(struct heap_tracker *h, struct heap_proc *p,
			 bool allocs_default, const char *note,
			 void **ret_buf, size_t *ret_len);

/* heap_finals.c: last snapshots, newest first, at most max_procs. */
/* @p's process ended or executed another program (@why: -ESRCH,
 * -ESTALE): release it, its last snapshot to be kept by heap__reap().
 * Under lock, after drain. */
void heap_finals__retire(struct heap_tracker *h, struct heap_proc *p,
			 int why, uint64_t now);
/* Build released @p's last snapshot (both views). Not under lock: @p is
 * in h->dead, its BPF entries not purged yet. 0 or -errno. */
int heap_finals__build(struct heap_tracker *h, struct heap_proc *p,
		       struct heap_final **ret);
/* Keep @f (drops older ones of its pid, and the oldest past
 * max_procs). Under lock. */
void heap_finals__insert(struct heap_tracker *h, struct heap_final *f);
/* Drop finals of @pid (a new process has the pid; 0: none), and those
 * past the idle timeout. Under lock. */
void heap_finals__expire(struct heap_tracker *h, pid_t pid, uint64_t now);
/* Is there a final of generation @gen of @pid? Under lock. */
bool heap_finals__has(struct heap_tracker *h, pid_t pid, uint64_t gen);
/* A copy of @pid's final (the allocs view or not): 0, -ENOENT, -ENOMEM.
 * Under lock. */
int heap_finals__copy(struct heap_tracker *h, pid_t pid, bool allocs,
		      void **ret_buf, size_t *ret_len);
/* Free them all. Under lock. */
void heap_finals__free_all(struct heap_tracker *h);

/* heap_agents.c */
/* The poisoning of @t's process and image, or NULL. Under lock. */
const struct poisoned *heap_agents__poisoned(struct heap_tracker *h,
					     const struct target *t);
/*
 * heap_agents__start() - load the agent into the process @t holds and
 * switch it on, for tracking generation @gen of it. Not under lock.
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
