/* SPDX-License-Identifier: GPL-2.0 */
/* clock: the one now_ns() of the daemon. */
#ifndef PROFD_CLOCK_H
#define PROFD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Now on @clk (CLOCK_MONOTONIC, CLOCK_REALTIME, ...) in nanoseconds. */
static inline uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif /* PROFD_CLOCK_H */
