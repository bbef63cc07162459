/* SPDX-License-Identifier: GPL-2.0 */
/* clock: the one now_ns() of the daemon, and deadlines for timed waits. */
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

/*
 * deadline_ts() - @ms from now on @clk, as pthread_cond_timedwait() wants
 * it (on a condition variable set to @clk, or CLOCK_REALTIME by default).
 */
static inline struct timespec deadline_ts(clockid_t clk, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

#endif /* PROFD_CLOCK_H */
