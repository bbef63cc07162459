/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The contract between profd's BPF programs and user space: map keys and
 * the records the programs write to the ring buffer. Fixed-width types and
 * explicit padding only; user space checks the sizes with _Static_assert.
 */
#ifndef PROFD_ABI_H
#define PROFD_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Frames kept per stack. bpf_get_stack() fills at most this many. */
#define PROFD_MAX_USER_FRAMES 127
#define PROFD_MAX_KERNEL_FRAMES 64
#define PROFD_COMM_LEN 16

/* Most sampler frequencies (distinct sample periods) active at once. */
#define PROFD_MAX_PERIODS 8

/*
 * Key of the targets map: which process is sampled at which period.
 * Samples from a sampler whose period no session asked for in this
 * process are dropped in the kernel, so they cost no ring buffer space.
 * tgid 0 means "every process" (reserved for the fleet mode).
 */
struct profd_target_key {
	__u32 tgid;
	__u32 pad;
	__u64 period_ns;
};

/* Value of the targets map. */
#define PROFD_TARGET_KERNEL (1u << 0)	/* also record kernel stacks */
#define PROFD_TARGET_STACK  (1u << 1)	/* copy user regs + stack (DWARF) */

/* User stack bytes copied per heap event for DWARF unwinding. perf copies
 * 8 KiB by default; recursive library code (glibc's qsort) needs more. */
#define PROFD_STACK_COPY 16384

/*
 * CPU samples copy the stack in whole pages, from sp's page up to the end
 * of the mapping that holds sp (the used part of a thread's stack, plus its
 * TLS), at most PROFD_STACK_PAGES_MAX pages: 64 KiB above sp whatever sp's
 * offset in its page, perf's own limit. The record is sized to the copy
 * (a ring buffer dynptr), so shallow stacks cost what they use.
 */
#define PROFD_STACK_COPY_MAX 65536
#define PROFD_STACK_PAGES_MAX (PROFD_STACK_COPY_MAX / 4096 + 1)
#define PROFD_NREGS 17	/* x86-64 DWARF registers 0..16 (rax..r15, rip) */

struct profd_target_val {
	__u32 flags;
	__u32 pad;
};

enum profd_event_kind {
	PROFD_EV_CPU_SAMPLE = 1,
	PROFD_EV_CPU_SAMPLE_STACK,	/* struct profd_cpu_sample_stack */
	PROFD_EV_KIND_MAX,
};

/*
 * Program images. A process's image is what exec replaces: its code,
 * mappings and credentials. profd binds every window and tracking generation
 * to the image the caller was checked against. The execs map (key: tgid
 * in profd's PID namespace; bpf/exec.bpf.c) holds, for each process profd
 * watches, a count of image changes: an exec, and the process's end (so
 * that a recycled pid never continues an old count). starting runs ahead
 * of image while an exec is under way (from sched_prepare_exec, 6.10+, to
 * sched_process_exec): credentials read then may be the next image's.
 */
struct profd_exec {
	__u64 image;		/* image changes seen: execs and the end */
	__u64 starting;		/* == image unless an exec is under way */
	__u64 execs;		/* execs alone: what ended an image */
};

#define PROFD_EXEC_MAX 8192	/* processes watched at once */
#define PROFD_IMAGE_NONE (~0ULL)	/* a sample of a process not watched */

/* Flags of a sample. */
#define PROFD_SF_USER_ERR	(1u << 0)	/* bpf_get_stack(user) failed */
#define PROFD_SF_KERNEL_ERR	(1u << 1)	/* bpf_get_stack(kernel) failed */
#define PROFD_SF_USER_TRUNC	(1u << 2)	/* user stack filled every slot */

/*
 * One CPU sample. Written whole into the ring buffer (~1.6 KiB): at 99 Hz on
 * a handful of CPUs that is a few hundred KiB/s at most, and it keeps the
 * raw stack in user space, where a later DWARF unwinder can extend it.
 */
struct profd_cpu_sample {
	__u32 kind;		/* PROFD_EV_CPU_SAMPLE */
	__u32 flags;		/* PROFD_SF_* */
	__u64 time_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 period_ns;	/* the sampler's period */
	__u32 tgid;
	__u32 tid;
	__u32 cpu;
	__u16 n_user;		/* frames in user_ips, leaf first */
	__u16 n_kernel;		/* frames in kernel_ips, leaf first */
	char comm[PROFD_COMM_LEN];	/* thread name */
	__u64 image;		/* the process's image count (struct profd_exec) */
	__u64 user_ips[PROFD_MAX_USER_FRAMES];
	__u64 kernel_ips[PROFD_MAX_KERNEL_FRAMES];
};

/*
 * A CPU sample with what DWARF unwinding needs: the interrupted user
 * registers (DWARF order) and a copy of the stack. The copy starts at sp's
 * page: the bytes from sp up are stack[stack_skip .. stack_skip +
 * stack_len). The record is variable-sized (header + whole pages copied).
 * stack_len 0 when the stack could not be read: the frame-pointer stack
 * in the header stands.
 */
struct profd_cpu_sample_stack {
	struct profd_cpu_sample s;
	__u64 regs[PROFD_NREGS];
	__u32 stack_len;	/* bytes from sp up */
	__u32 stack_skip;	/* sp's offset in its page */
	__u8 stack[];
};

/* Per-CPU error counters, indexed by enum profd_err. */
enum profd_err {
	PROFD_ERR_RINGBUF_FULL = 0,	/* sample lost: ring buffer full */
	PROFD_ERR_USER_STACK,		/* user stack could not be read */
	PROFD_ERR_KERNEL_STACK,		/* kernel stack could not be read */
	PROFD_ERR_MAX,
};

/*
 * Heap tracking (bpf/heap.bpf.c). Allocator entry probes record the request
 * per thread; return probes pair it with the returned address. The live
 * table maps (tgid, address) to the block's size and allocation stack; the
 * allocs table accumulates sampled allocations per stack.
 */
#define PROFD_HEAP_SAMPLE_TABLE 1024	/* exponential quantiles, mean 1<<16 */

enum profd_heap_fn {
	PROFD_HEAP_MALLOC = 0,
	PROFD_HEAP_CALLOC,
	PROFD_HEAP_REALLOC,
	PROFD_HEAP_REALLOCARRAY,
	PROFD_HEAP_POSIX_MEMALIGN,
	PROFD_HEAP_ALIGNED_ALLOC,
	PROFD_HEAP_MEMALIGN,
	PROFD_HEAP_VALLOC,
	PROFD_HEAP_PVALLOC,
	PROFD_HEAP_FREE,
	PROFD_HEAP_FN_MAX,
	PROFD_HEAP_CXX_NEW = PROFD_HEAP_FN_MAX,	/* C++ operator new family */
};

/* Per tracked process settings (heap_procs map, key: tgid). */
#define PROFD_HEAP_F_DWARF (1u << 0)	/* send sampled stacks to unwind */

struct profd_heap_proc {
	__u64 sample_bytes;	/* mean sampling interval; <= 1: every block */
	__u32 flags;		/* PROFD_HEAP_F_* */
	__u32 gen;		/* tracking generation, PROFD_HEAP_GEN_MASK bits */
	__u64 image;		/* the image tracked (struct profd_exec): an
				 * exec ends what is recorded */
};

/*
 * A uprobe session's attach cookie carries the process's settings, so the
 * entry program needs no map lookup: fn in bits 0-7, flags in 8-11, the
 * gen in 12-23, the sampling interval above (up to 2^40 bytes).
 */
#define PROFD_HEAP_GEN_MASK 0xfff
#define PROFD_HEAP_MAX_SAMPLE_BYTES ((1ULL << 40) - 1)
#define PROFD_HEAP_COOKIE(fn, flags, gen, sample_bytes)		\
	((__u64)(fn) | (__u64)(flags) << 8 |				\
	 (__u64)((gen) & PROFD_HEAP_GEN_MASK) << 12 |		\
	 (__u64)(sample_bytes) << 24)

/*
 * An allocation's stack. Frame-pointer walks (kind PROFD_HEAP_STACK_FP):
 * the key of its frames in the stacks map plus the caller's return
 * address, read at [sp] on entry because the walk skips it there. DWARF
 * (PROFD_HEAP_STACK_DWARF): stack_hash is the id of the heap event that
 * carried registers and stack to the daemon, which unwinds it.
 */
#define PROFD_HEAP_STACK_FP 0
#define PROFD_HEAP_STACK_DWARF 1

struct profd_heap_stack {
	__u32 tgid;
	__u32 kind;		/* PROFD_HEAP_STACK_* */
	__u64 stack_hash;	/* 0: stack not recorded */
	__u64 caller;		/* return address into the allocator's caller */
};

/*
 * Heap events (heap_events ring buffer), only for processes tracked with
 * PROFD_HEAP_F_DWARF. ALLOC: a sampled allocation's registers at allocator
 * entry and its stack from sp up (variable length: header + stack_len).
 * CANCEL: that allocation failed (returned NULL) — uncount it.
 */
enum profd_heap_event_kind {
	PROFD_HEAP_EV_ALLOC = 1,
	PROFD_HEAP_EV_CANCEL,
};

struct profd_heap_event {
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__u32 stack_len;
	__u64 id;		/* > 0, increasing */
	__u64 size;		/* bytes requested */
	__u64 regs[PROFD_NREGS];
	__u8 stack[PROFD_STACK_COPY];
};

#define PROFD_HEAP_EVENT_HDR 168	/* bytes before stack[] */

/* Value of the heap_stacks map (key: stack_hash). */
struct profd_heap_frames {
	__u64 n;
	__u64 ips[PROFD_MAX_USER_FRAMES];
};

struct profd_heap_live_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

struct profd_heap_live_val {
	__u64 size;		/* bytes requested */
	struct profd_heap_stack stack;
};

struct profd_heap_allocs_val {
	__u64 count;		/* sampled allocations */
	__u64 bytes;		/* their requested bytes */
};

enum profd_heap_err {
	PROFD_HEAP_ERR_LIVE_FULL = 0,	/* sampled block not tracked */
	PROFD_HEAP_ERR_ALLOCS_FULL,	/* allocation not counted */
	PROFD_HEAP_ERR_PENDING_FULL,	/* entry could not be paired */
	PROFD_HEAP_ERR_STACK,		/* stack not recorded */
	PROFD_HEAP_ERR_READ,		/* user memory unreadable */
	PROFD_HEAP_ERR_EVENT,		/* DWARF event lost: FP stack used */
	PROFD_HEAP_ERR_MAX,
};

#endif /* PROFD_ABI_H */
