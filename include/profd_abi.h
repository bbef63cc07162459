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

struct profd_target_val {
	__u32 flags;
	__u32 pad;
};

enum profd_event_kind {
	PROFD_EV_CPU_SAMPLE = 1,
	PROFD_EV_KIND_MAX,
};

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
	__u64 user_ips[PROFD_MAX_USER_FRAMES];
	__u64 kernel_ips[PROFD_MAX_KERNEL_FRAMES];
};

/* Per-CPU error counters, indexed by enum profd_err. */
enum profd_err {
	PROFD_ERR_RINGBUF_FULL = 0,	/* sample lost: ring buffer full */
	PROFD_ERR_USER_STACK,		/* user stack could not be read */
	PROFD_ERR_KERNEL_STACK,		/* kernel stack could not be read */
	PROFD_ERR_MAX,
};

#endif /* PROFD_ABI_H */
