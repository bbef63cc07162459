/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics: GET /metrics in the Prometheus text exposition format (0.0.4):
 * samples, intervals, pushes, the spool and profd's own CPU time and
 * memory. Counters only — no process, service or path names — so it is
 * shown to every caller, as /v1/status's counters are.
 * metrics__write() is pure; metrics__self() reads profd's own usage.
 */
#ifndef PROFD_METRICS_H
#define PROFD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "continuous.h"
#include "debuginfod.h"
#include "fleet.h"
#include "jitmap.h"

struct metrics_input {
	uint64_t samples_total, samples_lost, samples_dropped;
	uint64_t sessions_active;
	struct fleet_stats fleet;
	bool has_cont;
	struct continuous_stats cont;	/* continuous.h */
	bool debuginfod_on;		/* --debuginfod-urls / DEBUGINFOD_URLS */
	struct debuginfod_stats dbgd;
	struct jitmap_stats jit;		/* jitmap__stats() */
	double cpu_seconds;		/* profd's user + system time */
	uint64_t rss_bytes;
	double start_time_seconds;	/* since the epoch */
	int64_t now_ns;			/* wall clock, for the spool's age */
};

/* profd's CPU time and RSS into @in. 0 or -errno. */
int metrics__self(struct metrics_input *in);

/* The exposition into a malloc'd buffer. 0 or -ENOMEM. */
int metrics__write(const struct metrics_input *in, char **ret_buf,
		   size_t *ret_len);

#endif /* PROFD_METRICS_H */
