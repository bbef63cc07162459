/* SPDX-License-Identifier: GPL-2.0 */
/*
 * offcpu's insides, shared by its three files: offcpu.c (the BPF object,
 * windows' lives), offcpu_pair.c (records: each wait's beginning paired
 * with its end, each thread's recent stacks, charging windows) and
 * offcpu_finish.c (a window's end: what is still open charged, profiles).
 * Everything here is under offcpu's lock, but the drain thread's scratch
 * (its unwinding runs with the lock let go).
 */
#ifndef PROFD_OFFCPU_INT_H
#define PROFD_OFFCPU_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "aggregate.h"
#include "kallsyms.h"
#include "offcpu.h"
#include "proc.h"
#include "target.h"
#include "threads.h"
#include "unwind.h"
#define DRAIN_TIMEOUT_NS (2ULL * 1000 * 1000 * 1000)
#define PENDING_BUCKETS 4096	/* a power of two */
#define MAX_FRAMES (UNWIND_MAX_FRAMES + PROFD_MAX_KERNEL_FRAMES)
/* Threads off CPU (or in a futex wait) when a window opens, kept per
 * window with their stacks until they come back; past this, counted. */
#define SEEDS_MAX 65536

/* A wait begun and not ended yet: its stack, unwound. */
struct pending {
	struct pending *next;
	uint32_t what, tid, tgid;
	uint32_t flags;			/* AGG_F_* | state */
	uint32_t slot;			/* profd_wait_begin's */
	uint64_t begin_ns, image;
	char comm[PROFD_COMM_LEN];
	uint16_t n_user, n_kernel;
	uint64_t ips[];			/* user then kernel */
};

/* Program images one window follows: the one it began on and up to
 * three that execs brought (as CPU windows, session_int.h). Waits of
 * further ones are left out and counted. */
#define OFFCPU_PARTS 4

/*
 * A window's waits of one program image. An image the caller may not
 * profile (checked at its first record, execfollow.h) gets no proc and
 * no aggregate: its waits are counted, never unwound, symbolized or
 * shown.
 */
struct offcpu_part {
	uint64_t image;			/* execwatch count */
	struct proc *proc;		/* NULL: denied */
	struct aggregate *agg;		/* NULL: denied */
	uint64_t first_ns;		/* its first record */
	uint64_t denied;		/* waits left out */
	char why[256];			/* after an exec: the profile's comment */
};

struct offcpu_window {
	struct offcpu_window *next;
	uint64_t id;			/* found again after the lock is let go */
	struct offcpu_req req;
	struct target t;
	struct offcpu_part parts[OFFCPU_PARTS];	/* [0]: the image checked */
	unsigned nparts;
	uint64_t start_ns, end_ns;
	int64_t start_wall_ns;
	uint64_t left_out;		/* records of images it does not follow */
	uint64_t errs_at_start[PROFD_WAIT_ERR_MAX];
	uint64_t unpaired_at_start, pending_full_at_start;
	/* Block windows: the threads already off CPU when it opened, with
	 * their stacks then (begin_ns = start_ns), until they come back. */
	struct pending *seeds;
	unsigned nseeds;
	unsigned seeds_dropped;		/* past SEEDS_MAX, or no memory */
	uint64_t gen;			/* the BPF generation it opened in */
	bool closed;
	bool end_asked;			/* offcpu__end(): ended early */
};

struct offcpu {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* drain_pass advanced, or stopping */
	struct offcpu_limits lim;
	struct threads *threads;	/* the stacks of now, at window starts */
	struct proc_cache *pc;		/* processes, shared (proc.h) */
	struct symbolizer *sym;
	struct execwatch *w;
	uint32_t pidns_inum;
	struct offcpu_bpf *skel;	/* NULL until the first window */
	struct bpf_link *links[PROFD_WAIT_WHAT_MAX + 1];
	struct ring_buffer *rb;
	pthread_t drainer;
	bool drainer_started, stopping;
	uint64_t drain_pass;
	struct offcpu_window *windows;
	unsigned nwindows;
	uint64_t next_id;
	struct pending *pending[PENDING_BUCKETS];
	unsigned npending;
	/* Each thread's last full begin record per kind, which repeats
	 * (PROFD_EV_WAIT_REPEAT) refer to. As many as pending at most. */
	struct pending *last[PENDING_BUCKETS];
	unsigned nlast;
	struct kallsyms *ksyms;
	struct offcpu_stats st;
	/* Scratch of the drain thread alone, used without the lock. */
	uint64_t ips[MAX_FRAMES];
	uint64_t key_ips[UNWIND_MAX_FRAMES];	/* what a repeat key determines */
};

/* offcpu.c */
/*
 * Window @w's process runs image @image, which an exec brought and @w
 * has not checked: check its caller against it (execfollow.h) and give
 * @w a part for it, allowed or denied. Lets go of offcpu's lock while it
 * checks: @w may be gone on return (find it again). Drain thread.
 */
void offcpu__follow_exec(struct offcpu *o, struct offcpu_window *w,
			 uint64_t image, uint64_t time_ns);
/*
 * Make the targets map and the attached programs what the open windows
 * want. Under lock. 0 or -errno.
 */
int offcpu__reconcile(struct offcpu *o);
/* The tracer's error counts, summed over CPUs (zeros before it loads). */
void offcpu__read_errors(struct offcpu *o, uint64_t out[PROFD_WAIT_ERR_MAX]);
/* Is thread @tid of the process at /proc dirfd @dirfd in a futex wait?
 * (Reads /proc only: needs no lock.) */
bool offcpu__in_futex_wait(int dirfd, uint32_t tid);

/* offcpu_pair.c */
/* @w's part for @image, or NULL (not one it follows). */
struct offcpu_part *offcpu_pair__part(struct offcpu_window *w,
				      uint64_t image);
/* Take @tid's seed out of window @w, if it has one. */
struct pending *offcpu_pair__take_seed(struct offcpu_window *w, uint32_t tid);
/* The ring buffer's callback (drain thread; takes the lock per record,
 * lets it go to unwind a begin record's stack). */
int offcpu_pair__record(void *ctx, void *data, size_t size);
/* Drop the begun wait *@pp. */
void offcpu_pair__drop(struct offcpu *o, struct pending **pp);
/* Forget every thread's recent stacks; BPF sends them again (new gen). */
void offcpu_pair__forget(struct offcpu *o);
/* Charge wait @p up to @end_ns to the windows (@only: that one). */
void offcpu_pair__charge(struct offcpu *o, const struct pending *p,
			 uint64_t end_ns, struct offcpu_window *only);
/* Charge @count waits of @total_ns between @first_ns and @last_ns. */
void offcpu_pair__charge_sum(struct offcpu *o, const struct pending *p,
			     uint64_t first_ns, uint64_t last_ns,
			     uint64_t count, uint64_t total_ns,
			     struct offcpu_window *only);
/* @tid's recent stack in @slot for @what, if of @tgid's image @image. */
struct pending *offcpu_pair__last_of(struct offcpu *o, uint32_t what,
				     uint32_t tid, uint32_t slot,
				     uint32_t tgid, uint64_t image);

/* /proc/PID/task/TID/syscall's text @buf: in a futex wait? */
bool offcpu_pair__futex_waiting(const char *buf);

#endif /* PROFD_OFFCPU_INT_H */
