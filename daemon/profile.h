/* SPDX-License-Identifier: GPL-2.0 */
/*
 * profile: turn aggregated raw stacks of one process into a symbolized
 * pprof — the symbolize → pprof stages of the pipeline. Each unique
 * address is symbolized once per profile.
 */
#ifndef PROFD_PROFILE_H
#define PROFD_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "kallsyms.h"
#include "proc.h"

struct profile_cpu_desc {
	struct proc *proc;
	const struct aggregate *agg;
	const struct kallsyms *ksyms;	/* NULL: kernel frames unsymbolized */
	uint64_t period_ns;
	int64_t time_nanos, duration_nanos;
	uint64_t lost_samples;		/* system-wide, during the window */
	bool process_exited;
	const char *const *comments;	/* extra comments, may be NULL */
	size_t ncomments;
};

/* Build the gzip'd pprof into a malloc'd buffer. 0 or -errno. */
int profile__build_cpu(const struct profile_cpu_desc *d, void **ret_buf,
		       size_t *ret_len);

#endif /* PROFD_PROFILE_H */
