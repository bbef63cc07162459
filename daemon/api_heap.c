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

/* Heap tracking: start, stop, heap and allocs pulls (api_int.h). */

/* Common checks of the heap endpoints: parameters, pid, permission. */
static enum MHD_Result heap_args(struct api *a, struct MHD_Connection *c,
				 const struct peer *peer, bool with_window,
				 pid_t *ret_pid, uint64_t *ret_sample,
				 unsigned *ret_flags, unsigned *ret_seconds,
				 bool *ret_exited, bool *ret_sent)
{
	struct api_params q;
	struct api_heap_req hr;
	struct proc_ids ids;
	enum MHD_Result ret;
	char *err = NULL;
	uid_t owner = 0;
	int r;

	*ret_sent = true;
	api__get_params(c, &q);
	r = apiparse__heap(&q, with_window, session_mgr__limits(a->m)->max_seconds,
			   &hr, &err);
	if (r < 0)
		return api__send_bad_request(c, r, err);
	*ret_pid = hr.pid;
	*ret_sample = hr.sample_bytes;
	*ret_flags = (hr.fp_only ? HEAP_FP_ONLY : 0) |
		     (hr.inproc ? HEAP_INPROC : 0);
	*ret_seconds = hr.seconds;
	*ret_exited = false;
	r = access__check(peer->uid, *ret_pid, &owner, &ids);
	if (r == -ESRCH && with_window) {
		/* Gone, but tracked until it exited: its heap at exit. */
		r = heap__final_check(a->heap, *ret_pid, peer->uid);
		if (r == -EACCES)
			return api__send_text(c, 403, "permission denied: uid %u may not read the heap of exited pid %d\n",
					      (unsigned)peer->uid, *ret_pid);
		if (r == 0) {
			*ret_exited = true;
			*ret_sent = false;
			return MHD_YES;
		}
		r = -ESRCH;
	}
	if (r == -ESRCH)
		return api__send_text(c, 404, "no such process: pid %d\n", *ret_pid);
	if (r == 0 && api__not_a_process(c, *ret_pid, &ids, true))
		return MHD_YES;
	if (r == -EACCES)
		return api__send_text(c, 403, "permission denied: uid %u may not track pid %d (owned by uid %u); only root or the process's owner may\n",
				      (unsigned)peer->uid, *ret_pid,
				      (unsigned)owner);
	if (r < 0)
		return api__send_text(c, 500, "cannot inspect pid %d: %s\n", *ret_pid,
				      strerror(-r));
	if (api__unreadable(c, *ret_pid, &ret))
		return ret;
	*ret_sent = false;
	return MHD_YES;
}

/*
 * In-process mode writes into the target, as a debugger would: only on
 * the Unix socket, where the kernel vouches for the caller (SO_PEERCRED);
 * over TCP, a root process that fetches URLs for others (a proxy, a
 * webhook) would make any request root's. For users other than root, only
 * into processes they may debug — not those made non-dumpable
 * (PR_SET_DUMPABLE 0, setuid programs), the files of whose /proc/PID the
 * kernel gives to root. True when refused (the answer sent).
 */
static bool inproc_refused(struct MHD_Connection *c, const struct peer *peer,
			   pid_t pid, unsigned flags, enum MHD_Result *ret)
{
	char path[40];
	struct stat st;

	if (!(flags & HEAP_INPROC))
		return false;
	if (peer->tcp) {
		*ret = api__send_text(c, 403, "refused: mode=inproc loads code into the process, which profd does for requests on its Unix socket only (profctl heap --inproc, curl --unix-socket); over TCP use mode=uprobe\n");
		return true;
	}
	if (peer->uid == 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	if (stat(path, &st) == 0 && st.st_uid == peer->uid)
		return false;
	*ret = api__send_text(c, 403, "permission denied: pid %d is not dumpable (PR_SET_DUMPABLE 0), so uid %u may not have profd load its agent into it; mode=uprobe does not write into the process\n",
			      pid, (unsigned)peer->uid);
	return true;
}

static enum MHD_Result heap_start_error(struct MHD_Connection *c, pid_t pid,
					int r, const char *err)
{
	if (err[0])	/* the in-process agent's, already a sentence */
		return api__send_text(c, r == -EACCES ? 403 :
				      r == -EAGAIN || r == -ECANCELED ? 503 :
					 r == -ENOMEM || r == -EFAULT ? 500 : 400,
				      "%s\n", err);
	switch (r) {
	case -ESRCH:
		return api__send_text(c, 404, "no such process: pid %d\n", pid);
	case -EPROTONOSUPPORT:
		return api__send_text(c, 400, "pid %d is a Go program: Go allocates through its own runtime (not malloc) and uretprobes are unsafe on Go stacks; use its net/http/pprof heap profile instead\n",
				      pid);
	case -ENOENT:
		return api__send_text(c, 400, "pid %d: no malloc/free found in its executable or libraries; cannot track its heap\n",
				      pid);
	case -ENODATA:
		return api__send_text(c, 400, "pid %d shows no memory mappings: its main thread has exited (the process lives on in other threads) or it is exiting; cannot track its heap\n",
				      pid);
	case -EBUSY:
		return api__send_text(c, 503, "too many processes heap-tracked at once; stop one (profctl heap stop) or try later\n");
	case -EUSERS:
		return api__send_text(c, 429, "too many processes heap-tracked for one user (a quarter of --heap-max-procs); stop one (profctl heap stop) or try later\n");
	case -ECANCELED:
		return api__send_text(c, 503, "profd is shutting down\n");
	default:
		return api__send_text(c, 500, "cannot track the heap of pid %d: %s\n",
				      pid, strerror(-r));
	}
}

/*
 * A request for a tracked process whose settings (those it names) differ
 * from the ones in force: a profile cannot carry a warning profctl would
 * show before its table, and a start that keeps the old ones is no start,
 * so both are refused with 409, naming the settings in force and how to
 * change them. True when refused (the answer in *@ret).
 */
static bool settings_conflict(struct MHD_Connection *c, pid_t pid,
			      uint64_t sample, unsigned flags,
			      const struct heap_start_info *info,
			      enum MHD_Result *ret)
{
	bool fp = flags & HEAP_FP_ONLY, inproc = flags & HEAP_INPROC;
	char asked[160];
	int n = 0;

	if (!info->already)
		return false;
	asked[0] = 0;
	if (sample && sample != info->sample_bytes)
		n += snprintf(asked + n, sizeof(asked) - (size_t)n,
			      " sample_bytes %llu", (unsigned long long)sample);
	if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "unwind") &&
	    fp != info->fp_only)
		n += snprintf(asked + n, sizeof(asked) - (size_t)n,
			      " unwind=%s", fp ? "fp" : "dwarf");
	if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode") &&
	    inproc != info->inproc)
		n += snprintf(asked + n, sizeof(asked) - (size_t)n,
			      " mode=%s", inproc ? "inproc" : "uprobe");
	if (!n)
		return false;
	*ret = api__send_text(c, 409, "pid %d is already heap-tracked with other settings: sample_bytes %llu, %s stacks (unwind=%s), mode=%s (allocator %s); this request asks for%s, which a tracked process does not change. To change them, stop it first (profctl heap stop --pid %d) and start again; or leave those options out to use the settings in force\n",
			   pid, (unsigned long long)info->sample_bytes,
			   info->fp_only ? "frame-pointer" : "DWARF",
			   info->fp_only ? "fp" : "dwarf",
			   info->inproc ? "inproc" : "uprobe", info->allocator,
			   asked, pid);
	return true;
}

enum MHD_Result api__handle_heap_start(struct api *a, struct MHD_Connection *c,
				       const struct peer *peer, bool stop)
{
	struct heap_start_info info;
	uint64_t sample;
	unsigned seconds, flags;
	bool sent, exited;
	char err[512];
	pid_t pid;
	enum MHD_Result ret;
	int r;

	ret = heap_args(a, c, peer, false, &pid, &sample, &flags, &seconds,
			&exited, &sent);
	if (sent)
		return ret;
	if (!stop && inproc_refused(c, peer, pid, flags, &ret))
		return ret;
	if (stop) {
		r = heap__stop(a->heap, pid);
		if (r == -ENOENT)
			return api__send_text(c, 404, "pid %d is not heap-tracked\n", pid);
		if (r == -EINPROGRESS) {
			log_warn("heap: pid %d: could not switch off the in-process agent; retrying",
				 pid);
			return api__send_text(c, 202, "stopped heap tracking of pid %d, but its allocator calls still go through profd's in-process agent: it could not be switched off now (is a debugger or tracer attached?); profd retries for 30 s (see heap.agents_pending_off in /v1/status)\n",
					      pid);
		}
		return api__send_text(c, 200, "stopped heap tracking of pid %d\n", pid);
	}
	r = heap__start(a->heap, pid, peer->uid, sample, flags, &info, err,
			sizeof(err));
	if (r < 0)
		return heap_start_error(c, pid, r, err);
	if (settings_conflict(c, pid, sample, flags, &info, &ret))
		return ret;
	if (info.already)
		return api__send_text(c, 200, "pid %d already heap-tracked (%s mode, allocator %s, sample_bytes %llu, %s stacks); it stays on until profctl heap stop --pid %d\n",
				      pid, info.inproc ? "inproc" : "uprobe",
				      info.allocator,
				      (unsigned long long)info.sample_bytes,
				      info.fp_only ? "frame-pointer" : "DWARF", pid);
	log_debug("heap: tracking pid %d for uid %u (%s, %u probes)", pid,
		  (unsigned)peer->uid, info.allocator, info.probes);
	if (info.inproc)
		return api__send_text(c, 200, "heap tracking of pid %d started in-process (allocator %s; profd's agent sampling in the process through %ld GOT entries, %u probe links; sample_bytes %llu, %s stacks)\n",
				      pid, info.allocator, info.agent_slots,
				      info.probes,
				      (unsigned long long)info.sample_bytes,
				      info.fp_only ? "frame-pointer" : "DWARF");
	return api__send_text(c, 200, "heap tracking of pid %d started (allocator %s, %u entry points through %u probe links, sample_bytes %llu, %s stacks)\n",
			      pid, info.allocator, info.functions, info.probes,
			      (unsigned long long)info.sample_bytes,
			      info.fp_only ? "frame-pointer" : "DWARF");
}

/*
 * The line profctl prints after a pull: what became of the tracking it
 * used (@end from heap__pull_done(); @one_off false: kept by a start).
 */
static void heap_note(pid_t pid, const struct heap_start_info *info,
		      bool one_off, enum heap_pull_end end, char *buf,
		      size_t size)
{
	const char *cost = info->inproc ?
		"profd's agent samples each allocator call in the process, ~11 ns a call" :
		"a uprobe trap on every allocator call, ~0.8 us each: a malloc-heavy program runs many times slower";

	if (!one_off)
		end = HEAP_PULL_KEPT;
	switch (end) {
	case HEAP_PULL_STOPPED:
		snprintf(buf, size, "heap tracking of pid %d stopped after this snapshot (a one-off pull; profctl heap start --pid %d keeps it on between pulls)",
			 pid, pid);
		break;
	case HEAP_PULL_STOPPED_AGENT_ON:
		snprintf(buf, size, "heap tracking of pid %d stopped after this snapshot, but profd's in-process agent could not be switched off yet; profd retries for 30 s (heap.agents_pending_off in /v1/status)",
			 pid);
		break;
	case HEAP_PULL_KEPT:
		snprintf(buf, size, "heap tracking of pid %d continues (profctl heap start asked for it): %s; stop it with profctl heap stop --pid %d (else it stops %llu s after the last pull)",
			 pid, cost, pid,
			 (unsigned long long)(info->idle_timeout_ns / 1000000000ULL));
		break;
	case HEAP_PULL_OTHERS:
		snprintf(buf, size, "heap tracking of pid %d continues until the other one-off pulls of it are done (%s), then stops",
			 pid, cost);
		break;
	case HEAP_PULL_ENDED:
		snprintf(buf, size, "heap tracking of pid %d has ended (the process exited or executed another program, or tracking was stopped)",
			 pid);
		break;
	}
}

enum MHD_Result api__handle_heap(struct api *a, struct MHD_Connection *c,
				 const struct peer *peer, bool allocs)
{
	const union MHD_ConnectionInfo *ci;
	struct heap_start_info info = {};
	enum heap_pull_end end = HEAP_PULL_ENDED;
	uint64_t sample;
	unsigned seconds;
	void *buf = NULL;
	size_t len = 0;
	bool sent, exited, refused;
	unsigned flags;
	char err[512], note[400] = "";
	pid_t pid;
	enum MHD_Result ret;
	int r, fd = -1;

	ret = heap_args(a, c, peer, true, &pid, &sample, &flags, &seconds,
			&exited, &sent);
	if (sent)
		return ret;
	if (exited)
		goto snapshot;
	if (inproc_refused(c, peer, pid, flags, &ret))
		return ret;
	r = heap__start(a->heap, pid, peer->uid, sample, flags | HEAP_ONE_OFF,
			&info, err, sizeof(err));
	if (r < 0)
		return heap_start_error(c, pid, r, err);
	refused = settings_conflict(c, pid, sample, flags, &info, &ret);
	if (refused)
		goto done;
	if (!info.already)
		log_debug("heap: tracking pid %d for uid %u on a pull (%s, %u probes)",
			  pid, (unsigned)peer->uid, info.allocator, info.probes);
	if (!info.already && seconds) {
		/* Newly tracked: let allocations accumulate first. */
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			fd = ci->connect_fd;
		r = heap__wait(a->heap, pid, info.generation, seconds, fd);
		if (r == -ECONNRESET) {
			ret = MHD_NO;
			goto done;
		}
		if (r == -ECANCELED) {
			ret = api__send_text(c, 409, "heap tracking of pid %d was stopped while this request waited\n",
					     pid);
			goto done;
		}
		/* Shutting down releases every tracking: the answer must go
		 * before profd stops serving, with nothing to wait for. */
		if (r == -ESHUTDOWN)
			return api__send_text(c, 503, "profd is shutting down\n");
		/* -ESRCH: it exited while we waited; its heap at exit is
		 * what the snapshot below gives. */
	}
snapshot:
	r = heap__snapshot(a->heap, pid, allocs, &buf, &len);
	/* A one-off pull leaves nothing on: stopped before the answer, so
	 * that the answer can say so. */
	if (info.one_off)
		end = heap__pull_done(a->heap, pid, info.generation);
	if (r == -ENOENT)
		return api__send_text(c, 409, "heap tracking of pid %d ended before the snapshot\n",
				      pid);
	if (r < 0)
		return api__send_text(c, 500, "failed to build the heap profile: %s\n",
				      strerror(-r));
	if (!exited)
		heap_note(pid, &info, info.one_off, end, note, sizeof(note));
	return api__send_blob(c, buf, len, "application/octet-stream", "profile",
			      note);
done:
	if (info.one_off)
		(void)heap__pull_done(a->heap, pid, info.generation);
	return ret;
}

