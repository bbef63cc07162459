// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>
#include <microhttpd.h>

#include "access.h"
#include "api.h"
#include "apiparse.h"
#include "conns.h"
#include "jitmap_proc.h"
#include "json.h"
#include "continuous.h"
#include "history.h"
#include "log.h"
#include "metrics.h"
#include "offcpu.h"
#include "threads.h"
#include "origin.h"
#include "proc.h"
#include "api_int.h"

/* /v1/status, /metrics, /v1/history (api_int.h). */

enum MHD_Result api__handle_status(struct api *a, struct MHD_Connection *c,
				   const struct peer *peer)
{
	struct session_mgr_stats st;
	struct conns_stats cst;
	struct heap_stats hs;
	char *body = NULL;
	struct json j;
	size_t len = 0;

	session_mgr__stats(a->m, &st);
	heap__stats(a->heap, &hs);
	conns__stats(a->conns, &cst);
	json__init(&j, 1 << 20);
	json__obj_begin(&j, NULL);
	json__str(&j, "version", PROFD_VERSION);
	json__double(&j, "uptime_seconds", (double)st.uptime_ns / 1e9, 3);
	json__u64(&j, "sessions_active", st.sessions_active);
	json__u64(&j, "sessions_total", st.sessions_total);
	json__u64(&j, "samples_total", st.samples_total);
	json__u64(&j, "samples_matched", st.samples_matched);
	json__u64(&j, "samples_lost", st.samples_lost);
	json__u64(&j, "samples_dropped", st.samples_dropped);
	json__u64(&j, "windows_missing_samples", st.windows_missing_samples);
	json__u64(&j, "user_stack_errors", st.user_stack_errors);
	json__u64(&j, "kernel_stack_errors", st.kernel_stack_errors);
	json__u64(&j, "maps_refreshes", st.maps_refreshes);
	json__obj_begin(&j, "unwind");
	json__u64(&j, "dwarf", st.unwound);
	json__u64(&j, "truncated", st.unwind_truncated);
	json__u64(&j, "no_stack_copy", st.unwind_no_copy);
	json__u64(&j, "errors", st.unwind_errors);
	json__u64(&j, "cfi_cache_hits", st.sym.cfi_hits);
	json__u64(&j, "cfi_cache_misses", st.sym.cfi_misses);
	json__obj_end(&j);
	json__obj_begin(&j, "sampler");
	json__u64(&j, "periods_active", st.periods_active);
	json__u64(&j, "targets_active", st.targets_active);
	json__obj_end(&j);
	json__obj_begin(&j, "symbolizer");
	json__u64(&j, "binaries", st.sym.binaries);
	json__u64(&j, "binaries_idle", st.sym.binaries_idle);
	json__u64(&j, "bytes_estimate", st.sym.bytes_estimate);
	json__u64(&j, "bytes_max", st.sym.bytes_max);
	json__u64(&j, "hits", st.sym.hits);
	json__u64(&j, "misses", st.sym.misses);
	json__u64(&j, "evictions", st.sym.evictions);
	json__obj_end(&j);
	debuginfod__stats_json(&j, st.sym.debuginfod ? &st.sym.dbgd : NULL,
			       st.sym.debug_reloads);
	jitmap__stats_json(&j);
	json__obj_begin(&j, "heap");
	json__u64(&j, "tracked", hs.procs);
	json__u64(&j, "live_max", hs.live_max);
	json__u64(&j, "dropped_live_full", hs.errors[PROFD_HEAP_ERR_LIVE_FULL]);
	json__u64(&j, "dropped_allocs_full",
		  hs.errors[PROFD_HEAP_ERR_ALLOCS_FULL]);
	json__u64(&j, "unpaired", hs.errors[PROFD_HEAP_ERR_PENDING_FULL]);
	json__u64(&j, "stack_errors", hs.errors[PROFD_HEAP_ERR_STACK]);
	json__u64(&j, "read_errors", hs.errors[PROFD_HEAP_ERR_READ]);
	json__u64(&j, "event_buffer_full", hs.errors[PROFD_HEAP_ERR_EVENT]);
	json__u64(&j, "dwarf_stacks", hs.dw_events);
	json__u64(&j, "dwarf_truncated", hs.dw_truncated);
	json__u64(&j, "dwarf_failed", hs.dw_failed);
	json__u64(&j, "agents_pending_off", hs.agents_pending_off);
	json__u64(&j, "agents_left_on", hs.agents_left_on);
	json__u64(&j, "agents_dropped_exec", hs.agents_dropped_exec);
	json__u64(&j, "agents_poisoned", hs.agents_poisoned);
	/* Which processes are heap-tracked is root's to see. */
	if (access__may_list_processes(peer) == 0) {
		heap__poisoned_json(a->heap, &j);
		heap__procs_json(a->heap, &j);
	} else {
		json__raw(&j, "poisoned", "[]");
		json__raw(&j, "procs", "[]");
	}
	json__obj_end(&j);
	if (a->offcpu) {
		struct offcpu_stats os;

		offcpu__stats(a->offcpu, &os);
		json__obj_begin(&j, "waits");
		json__u64(&j, "loaded", os.loaded);
		json__u64(&j, "windows_active", os.windows_active);
		json__u64(&j, "begins", os.begins);
		json__u64(&j, "ends", os.ends);
		json__u64(&j, "lost", os.errors[PROFD_WAIT_ERR_RINGBUF_FULL]);
		json__u64(&j, "ends_lost", os.errors[PROFD_WAIT_ERR_END_LOST]);
		json__u64(&j, "unpaired", os.unpaired);
		json__u64(&j, "pending_full", os.pending_full);
		json__u64(&j, "unwound", os.unwound);
		json__u64(&j, "unwind_errors", os.unwind_errors);
		json__u64(&j, "repeats", os.repeats);
		json__u64(&j, "repeat_misses", os.repeat_misses);
		json__u64(&j, "repeat_cut", os.repeat_cut);
		json__u64(&j, "keys_lengthened", os.keys_lengthened);
		json__u64(&j, "storage_reads", os.storage_reads);
		json__u64(&j, "storage_errors", os.storage_errors);
		json__u64(&j, "seeded", os.seeded);
		json__obj_end(&j);
	}
	json__obj_begin(&j, "http");
	json__u64(&j, "connections_open", cst.open);
	json__u64(&j, "connections_refused", cst.refused);
	json__u64(&j, "requests_expired", cst.expired);
	json__obj_end(&j);
	/* Whose windows: access__may_see_session(). */
	session_mgr__sessions_json(a->m, peer, &j);
	json__obj_end(&j);
	if (json__finish(&j, &body, &len) < 0)
		return api__send_text(c, 500, "cannot build the status\n");
	return api__send_blob(c, body, len, "application/json", NULL, NULL);
}

/* Counters only (metrics.h): every caller may read them, as /v1/status's. */
enum MHD_Result api__handle_metrics(struct api *a, struct MHD_Connection *c)
{
	struct metrics_input *in = calloc(1, sizeof(*in));
	struct session_mgr_stats st;
	struct timespec ts;
	char *body = NULL;
	size_t len = 0;
	int r;

	if (!in)
		return api__send_text(c, 500, "out of memory\n");
	session_mgr__stats(a->m, &st);
	in->samples_total = st.samples_total;
	in->samples_lost = st.samples_lost;
	in->samples_dropped = st.samples_dropped;
	in->sessions_active = st.sessions_active;
	in->debuginfod_on = st.sym.debuginfod;
	if (st.sym.debuginfod)
		in->dbgd = st.sym.dbgd;
	jitmap__configure();
	jitmap__stats(&in->jit);
	if (a->fleet)
		fleet__stats(a->fleet, &in->fleet);
	if (a->cont) {
		continuous__stats(a->cont, &in->cont);
		in->has_cont = true;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	in->now_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	in->start_time_seconds = (double)(in->now_ns - (int64_t)st.uptime_ns) / 1e9;
	(void)metrics__self(in);
	r = metrics__write(in, &body, &len);
	free(in);
	if (r < 0)
		return api__send_text(c, 500, "cannot build the metrics\n");
	return api__send_blob(c, body, len, "text/plain; version=0.0.4; charset=utf-8",
			      NULL, NULL);
}

/*
 * The spool's intervals of a window merged into one profile. Every
 * process of the machine is in them: root's alone.
 */
enum MHD_Result api__handle_history(struct api *a, struct MHD_Connection *c,
				    const struct peer *peer)
{
	struct spool *sp = a->fleet ? fleet__spool(a->fleet) : NULL;
	struct spool_query hq;
	struct api_params q;
	struct timespec ts;
	char *err = NULL, note[64];
	void *buf = NULL;
	size_t len = 0;
	unsigned n = 0;
	int r;

	if (access__may_read_history(peer) < 0)
		return api__send_text(c, 403, "refused: the history holds every process's profiles; only root may read it\n");
	clock_gettime(CLOCK_REALTIME, &ts);
	api__get_params(c, &q);
	r = history__parse(&q, (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec, &hq, &err);
	if (r < 0)
		return api__send_bad_request(c, r, err);
	if (!sp)
		return api__send_text(c, 404, "no history: profd keeps no spool (see README \"Fleet\": push-url, continuous)\n");
	/* Reads and merges files: this connection's own thread. */
	r = spool__query(sp, &hq, &buf, &len, &n);
	if (r == -ENOENT)
		return api__send_text(c, 404, "no spooled interval matches\n");
	if (r == -E2BIG)
		return api__send_text(c, 413, "the window's intervals exceed 256 MiB: ask for a shorter one\n");
	if (r < 0)
		return api__send_text(c, 500, "cannot merge the history: %s\n", strerror(-r));
	snprintf(note, sizeof(note), "%u spooled intervals merged", n);
	return api__send_blob(c, buf, len, "application/octet-stream", "profile", note);
}

