/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The contract between bpf/offcpu.bpf.c and daemon/offcpu.c: where the
 * threads of a process wait. Three kinds of wait, each a begin record
 * (registers, stack copy, taken in the waiting thread's own context when
 * the wait begins) and, for the two with a duration, an end record
 * (where the wait ends: the thread back on a CPU, the futex call
 * returning). User space pairs them by thread and begin time.
 *
 *   OFFCPU  sched_switch: the thread left the CPU (begin) / came back (end)
 *   FUTEX   sys_enter/sys_exit of futex(FUTEX_WAIT*, FUTEX_LOCK_PI*) and
 *           futex_waitv
 *   CLONE   sched_process_fork of a thread (CLONE_THREAD): begin only
 *
 * Fixed-width types and explicit padding only; user space checks the
 * sizes with _Static_assert.
 */
#ifndef PROFD_WAIT_H
#define PROFD_WAIT_H

#include "profd_abi.h"

enum profd_wait_what {
	PROFD_WAIT_OFFCPU = 0,
	PROFD_WAIT_FUTEX,
	PROFD_WAIT_CLONE,
	PROFD_WAIT_WHAT_MAX,
};

/* Value of the wait_targets map (key: tgid in profd's PID namespace). */
#define PROFD_WAIT_F_OFFCPU	(1u << PROFD_WAIT_OFFCPU)
#define PROFD_WAIT_F_FUTEX	(1u << PROFD_WAIT_FUTEX)
#define PROFD_WAIT_F_CLONE	(1u << PROFD_WAIT_CLONE)
#define PROFD_WAIT_F_KERNEL	(1u << 8)	/* record kernel stacks */
#define PROFD_WAIT_F_STACK	(1u << 9)	/* regs + stack (DWARF) */

struct profd_wait_target {
	__u32 flags;
	__u32 pad;
};

/* Why an off-CPU thread is off CPU (state label). */
enum profd_wait_state {
	PROFD_WAIT_SLEEPING = 0,	/* TASK_INTERRUPTIBLE: waits for an event */
	PROFD_WAIT_DISK,		/* TASK_UNINTERRUPTIBLE: I/O, kernel locks */
	PROFD_WAIT_PREEMPTED,		/* runnable, descheduled */
	PROFD_WAIT_STATE_MAX,
};

enum profd_wait_kind {
	PROFD_EV_WAIT_BEGIN = 0x57,	/* struct profd_wait_begin */
	PROFD_EV_WAIT_END,		/* struct profd_wait_end */
	PROFD_EV_WAIT_REPEAT,		/* struct profd_wait_repeat */
};

/*
 * Bytes above sp that, with ip, sp, bp and the generation, key "the same
 * stack as one of this thread's recent begin records of this kind"
 * (off-CPU and futex waits with a stack copy; thread creation always
 * sends its stack, and a frame-pointer record's key is its frames). A
 * thread that waits again where it waited recently (a server's accept or
 * read loop, a ping-pong) then adds to a sum instead of sending its
 * stack. A local
 * variable in them that changed only costs a full record. The key does
 * not hold the whole stack: profd charges the sums to the frames a walk
 * from just the key's registers and bytes finds (daemon/offcpu_pair.c),
 * which are right for every stack with that key; where that walk ends
 * before the whole stack's (a frame over 1 KiB, a deep saved register),
 * the sums' stack is cut there, marked truncated, never another path's,
 * and profd lengthens that thread's key (below).
 */
#define PROFD_WAIT_KEY_BYTES 1024
/*
 * A thread whose stacks need more than that (profd found a walk from
 * the key cut short: a 2 KiB buffer between two frames) gets a longer
 * key, in KiB, up to this: wait_key_kib (key: tid in profd's PID
 * namespace), written by profd, read into the thread's task storage at
 * its next full record or sum. Hashing costs ~1 ns a byte per wait.
 */
#define PROFD_WAIT_KEY_KIB_MAX 16

/*
 * A wait begins: the thread's user registers (DWARF order) and its stack
 * from sp's page up (stack[stack_skip .. stack_skip + stack_len) is from
 * sp up; 0 when not copied), and/or frame-pointer and kernel stacks.
 * Variable-sized: header + whole pages copied.
 */
struct profd_wait_begin {
	__u32 kind;		/* PROFD_EV_WAIT_BEGIN */
	__u32 what;		/* enum profd_wait_what */
	__u64 time_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 tgid;
	__u32 tid;
	__u32 state;		/* enum profd_wait_state (OFFCPU) */
	__u32 flags;		/* PROFD_SF_* */
	__u64 image;		/* the process's image count (profd_abi.h) */
	char comm[PROFD_COMM_LEN];
	__u16 n_user;		/* frame-pointer frames, leaf first */
	__u16 n_kernel;
	__u32 stack_len;
	__u32 stack_skip;
	__u16 slot;		/* which of the thread's recent stacks */
	__u16 key_kib;		/* its key's stack bytes, KiB (0: no key) */
	__u64 regs[PROFD_NREGS];
	__u64 user_ips[PROFD_MAX_USER_FRAMES];
	__u64 kernel_ips[PROFD_MAX_KERNEL_FRAMES];
	__u8 stack[];
};

/*
 * Waits that began with the same stack as one of the thread's recent
 * begin records of their kind (PROFD_WAIT_SLOTS of them), summed in the kernel (per thread, kind and state) and
 * sent when PROFD_WAIT_SUM_MAX of them or PROFD_WAIT_SUM_NS have gathered,
 * or before the thread's next begin record: count waits, total_ns off
 * CPU, the first beginning at first_ns, the last ending at last_ns.
 */
#define PROFD_WAIT_SUM_MAX 64
#define PROFD_WAIT_SUM_NS (20ULL * 1000 * 1000)

struct profd_wait_repeat {
	__u32 kind;		/* PROFD_EV_WAIT_REPEAT */
	__u32 what;
	__u32 tgid;
	__u32 tid;
	__u64 first_ns;
	__u64 last_ns;
	__u64 count;
	__u64 total_ns;
	__u64 image;
	__u32 state;
	__u32 slot;		/* the begin record's slot */
};

/*
 * The wait tracer's per-thread state (task storage, readable from user
 * space with a thread pidfd: what is summed and not sent yet, and a wait
 * still open, at a window's end). Sums are indexed what * 3 + state.
 */
#define PROFD_WAIT_SLOTS 4	/* recent stacks kept per thread and kind */
#define PROFD_WAIT_SUM_IDX(what, slot, state) \
	(((what) * PROFD_WAIT_SLOTS + (slot)) * PROFD_WAIT_STATE_MAX + (state))
#define PROFD_WAIT_NSUMS (2 * PROFD_WAIT_SLOTS * PROFD_WAIT_STATE_MAX)

struct profd_wait_task {
	__u64 begin_ns[PROFD_WAIT_WHAT_MAX];	/* open wait (0: none) */
	__u64 key[2][PROFD_WAIT_SLOTS];	/* of the recent full begin records */
	__u32 next_slot[2];		/* the one the next full record takes */
	__u32 slot[2];			/* the open wait's, if a repeat */
	__u32 repeat[PROFD_WAIT_WHAT_MAX];	/* the open wait is a repeat */
	__u32 state[PROFD_WAIT_WHAT_MAX];	/* the open wait's state */
	__u64 sum_n[PROFD_WAIT_NSUMS];
	__u64 sum_ns[PROFD_WAIT_NSUMS];
	__u64 sum_first[PROFD_WAIT_NSUMS];
	__u64 sum_last[PROFD_WAIT_NSUMS];
	__u64 image;
	__u64 seen_gen;		/* last gen it left or came back to a CPU in */
	__u64 futex_gen;	/* gen of its last futex wait begun or ended */
	__u32 key_kib;		/* wait_key_kib's, read at full records and
				 * sums (0: PROFD_WAIT_KEY_BYTES) */
	__u32 pad;
};

/* The wait that began at begin_ns ended at end_ns. begin_ns 0: an
 * off-CPU wait whose beginning was not recorded (it began before the
 * targets were set: profd took the thread's stack when the window
 * opened), the thread's first return to a CPU in this generation. */
struct profd_wait_end {
	__u32 kind;		/* PROFD_EV_WAIT_END */
	__u32 what;
	__u32 tgid;
	__u32 tid;
	__u64 begin_ns;
	__u64 end_ns;
};

enum profd_wait_err {
	PROFD_WAIT_ERR_RINGBUF_FULL = 0,	/* a begin record lost */
	PROFD_WAIT_ERR_END_LOST,		/* an end record lost */
	PROFD_WAIT_ERR_USER_STACK,
	PROFD_WAIT_ERR_KERNEL_STACK,
	PROFD_WAIT_ERR_MAX,
};

/*
 * Thread snapshots (bpf/threads.bpf.c, a sleepable task iterator over
 * one process): per thread, its saved user registers and a copy of its
 * user stack from sp's page up (at most PROFD_THREAD_STACK_PAGES pages,
 * read with bpf_copy_from_user_task: no ptrace stop). Written to the
 * iterator's seq file: header + stack_len + stack_skip bytes.
 */
#define PROFD_THREAD_STACK_PAGES 7	/* 28 KiB: with the header, under the
					 * seq file's 32 KiB per thread */

struct profd_thread {
	__u32 magic;		/* PROFD_THREAD_MAGIC */
	__u32 tid;
	__u32 state;		/* task->__state */
	__u32 flags;		/* PROFD_THREAD_F_* */
	char comm[PROFD_COMM_LEN];
	__u64 regs[PROFD_NREGS];
	__u32 stack_len;	/* bytes from sp up */
	__u32 stack_skip;	/* sp's offset in the first page */
	__u32 n_kernel;		/* kernel frames, leaf first (0: none read) */
	__u32 page_from;	/* the copy starts this many pages above sp's
				 * (then stack_skip is 0) */
	__u64 kernel_ips[PROFD_MAX_KERNEL_FRAMES];
};

/* A stack deeper than the first copy is read on in further passes of
 * the iterator, PROFD_THREAD_STACK_PAGES at a time, for at most
 * PROFD_THREAD_DEEP threads, up to PROFD_THREAD_STACK_MAX_PAGES. */
#define PROFD_THREAD_STACK_MAX_PAGES (3 * PROFD_THREAD_STACK_PAGES)
#define PROFD_THREAD_DEEP 64

#define PROFD_THREAD_MAGIC 0x70726f74
#define PROFD_THREAD_F_RUNNING	(1u << 0)	/* on a CPU: regs, stack stale */
#define PROFD_THREAD_F_NO_REGS	(1u << 1)	/* no user registers */

#endif /* PROFD_WAIT_H */
