/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cputime: the CPU time a process has used, from /proc/PID/stat, and
 * whether a CPU window's samples account for it — so that a profile the
 * sampler did not see is never returned as if it were complete.
 */
#ifndef PROFD_CPUTIME_H
#define PROFD_CPUTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * cputime__parse() - utime + stime (fields 14 and 15, clock ticks) of the
 * text of a /proc/PID/stat: every thread's, those that exited included.
 * 0 or -EINVAL.
 */
int cputime__parse(const char *stat, uint64_t *ret_ticks);

/*
 * cputime__read() - the CPU time of the process whose /proc/PID/stat is
 * open as @fd, in ns (10 ms granularity: USER_HZ ticks). An open file
 * stays with its process: a reused pid never answers. 0, -ESRCH once the
 * process is reaped, or -errno.
 */
int cputime__read(int fd, uint64_t *ret_ns);

/* Below this much CPU time in a window nothing is concluded. */
#define CPUTIME_MIN_NS (250ULL * 1000 * 1000)

/*
 * cputime__samples_missing() - true when a window whose process used
 * @cpu_ns of CPU time got far fewer than the @cpu_ns / @period_ns samples
 * that implies: @samples (all that reached the window, counted or
 * dropped) below a tenth of that, for at least CPUTIME_MIN_NS and 10
 * expected samples. Pure.
 */
bool cputime__samples_missing(uint64_t cpu_ns, uint64_t period_ns,
			      uint64_t samples);

#endif /* PROFD_CPUTIME_H */
