/* SPDX-License-Identifier: GPL-2.0 */
/*
 * slice: how long the calling thread may run before the scheduler looks
 * at others (the EEVDF slice of Linux 6.12 and later). The threads that
 * answer requests ask for a short one: woken with a short slice, a thread
 * preempts a CPU-bound one (a heap snapshot being built, the profiled
 * program) instead of waiting for it to use up its own slice, and a
 * request goes through three of them (conns' accept thread,
 * libmicrohttpd's, the connection's; a CPU window's end also through the
 * event loop's drain). Its share of the CPU stays the same; what it costs
 * is more switches while such a thread runs, so the requests that build
 * big snapshots (heap, history, threads) or wait for waits go back to the
 * default first, and so do the threads they start. Older kernels accept
 * the value and ignore it. Nothing here fails a request.
 * bench/locks: /v1/status during a 1M-entry heap snapshot 0.70x at p99
 * and max (under 10 ms), a CPU window's end 0.63x at p50.
 */
#ifndef PROFD_SLICE_H
#define PROFD_SLICE_H

#include <stdbool.h>

/* The short slice: the kernel's least (0.1 ms). */
#define SLICE_SHORT_NS 100000ULL

/* The calling thread's slice: @short_slice: SLICE_SHORT_NS, else the
 * kernel's default. Its policy and nice value are kept. 0 or -errno. */
int slice__set(bool short_slice);

#endif /* PROFD_SLICE_H */
