/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sampler: the one CPU sampler shared by every session. Owns the BPF
 * skeleton, one cpu-clock perf event per online CPU per active sampling
 * period, the targets map (which process at which period) and the ring
 * buffer. Sessions never touch BPF; they declare what they want and the
 * session manager reconciles it here.
 */
#ifndef PROFD_SAMPLER_H
#define PROFD_SAMPLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profd_abi.h"

struct sampler;

typedef void (*sampler_cb)(void *ctx, const struct profd_cpu_sample *s);

/*
 * Load the BPF program, for profd's PID namespace @pidns_inum (pidns.h;
 * 0: the initial one), stamping each sample with its process's image
 * count from the execs map @execs_fd (execwatch.h). DWARF samples copy at
 * least @stack_bytes (4096..PROFD_STACK_COPY_MAX) of stack above sp when
 * the stack is that deep. 0 or -errno (-EPERM: not privileged; see
 * pidns__probe() for a namespace's).
 */
int sampler__new(sampler_cb cb, void *ctx, uint32_t pidns_inum, int execs_fd,
		 uint32_t stack_bytes, struct sampler **ret);
void sampler__free(struct sampler *s);

/* Ring buffer epoll fd, for the main loop. */
int sampler__fd(struct sampler *s);
/* Consume every pending record, calling cb. Returns records or -errno. */
int sampler__drain(struct sampler *s);

/*
 * sampler__set_periods() - make exactly these sampling periods active
 * (opening or closing perf events on every CPU). 0 or -errno.
 */
int sampler__set_periods(struct sampler *s, const uint64_t *periods, size_t n);

struct sampler_target {
	pid_t tgid;
	uint64_t period_ns;
	uint32_t flags;		/* PROFD_TARGET_* */
};

/* Make the targets map hold exactly these entries. 0 or -errno. */
int sampler__set_targets(struct sampler *s, const struct sampler_target *t,
			 size_t n);

/* BPF-side error counters summed over CPUs (enum profd_err). */
int sampler__errors(struct sampler *s, uint64_t out[PROFD_ERR_MAX]);

int sampler__ncpus(struct sampler *s);
/* The level of profd's PID namespace (0: the initial one). */
unsigned sampler__pidns_level(struct sampler *s);

#endif /* PROFD_SAMPLER_H */
