// SPDX-License-Identifier: GPL-2.0
/*
 * slice: sched_setattr(2)'s sched_runtime, which for a SCHED_OTHER thread
 * is its slice (0: the default). glibc 2.36 has no wrapper. A per-thread
 * note of what was set spares the two system calls (~1 us) when a
 * keep-alive connection's thread asks again for what it has.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "slice.h"

/* sched_attr as of Linux 5.3 (SCHED_ATTR_SIZE_VER1). */
struct slice_attr {
	uint32_t size;
	uint32_t policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime;
	uint64_t deadline;
	uint64_t period;
	uint32_t util_min;
	uint32_t util_max;
};

/* 0: not looked at yet; 1: default; 2: short. */
static __thread int current;

static int get_attr(struct slice_attr *a)
{
	memset(a, 0, sizeof(*a));
	if (syscall(SYS_sched_getattr, 0, a, sizeof(*a), 0) < 0)
		return -errno;
	return 0;
}

int slice__set(bool short_slice)
{
	struct slice_attr a;
	int want = short_slice ? 2 : 1, r;

	if (current == want)
		return 0;
	r = get_attr(&a);
	if (r < 0)
		return r;
	/* Only the fair policies have a slice of this kind. */
	if (a.policy != 0 /* SCHED_OTHER */ && a.policy != 3 /* SCHED_BATCH */)
		return -EINVAL;
	a.size = sizeof(a);
	a.flags = 0;
	a.runtime = short_slice ? SLICE_SHORT_NS : 0;
	a.deadline = a.period = 0;
	if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
		return -errno;
	current = want;
	return 0;
}
