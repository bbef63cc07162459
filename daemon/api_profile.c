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

/* CPU, wait and thread profiles; ending windows early (api_int.h). */

/*
 * Users other than root together hold at most nonroot_sessions_max CPU
 * sessions (the session manager caps each uid and everyone): the rest is
 * kept for root. False when that share is full.
 */
static bool nonroot_session_get(struct api *a, uid_t uid)
{
	if (uid == 0)
		return true;
	if (__atomic_add_fetch(&a->nonroot_sessions, 1, __ATOMIC_RELAXED) <=
	    a->nonroot_sessions_max)
		return true;
	__atomic_sub_fetch(&a->nonroot_sessions, 1, __ATOMIC_RELAXED);
	return false;
}

static void nonroot_session_put(struct api *a, uid_t uid)
{
	if (uid != 0)
		__atomic_sub_fetch(&a->nonroot_sessions, 1, __ATOMIC_RELAXED);
}

/*
 * GET /debug/pprof/profile without pid: every process of the machine
 * (continuous.h), for Parca's and Alloy's scrapes and profctl cpu --all.
 * It names every function of every process: root's alone.
 */
static enum MHD_Result handle_machine(struct api *a, struct MHD_Connection *c,
				      const struct peer *peer,
				      const struct api_cpu_req *cr)
{
	const union MHD_ConnectionInfo *ci;
	void *buf = NULL;
	size_t len = 0;
	int r, fd = -1;

	if (access__check(peer->uid, 0, NULL, NULL) < 0)
		return api__send_text(c, 403, "permission denied: a profile without pid is of every process on the machine; only root may take one (uid %u may profile its own processes: add pid=PID)\n",
				      (unsigned)peer->uid);
	if (!a->cont)
		return api__send_text(c, 503, "machine-wide profiles are not available\n");
	if (cr->fp_only || cr->window[0])
		return api__send_text(c, 400, "unwind=fp and window are for one process's profile (pid=PID); a machine-wide one is DWARF-unwound\n");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		fd = ci->connect_fd;
	log_debug("machine-wide profile for uid %u, %us at %u Hz",
		  (unsigned)peer->uid, cr->seconds, cr->hz);
	r = continuous__pull(a->cont, cr->seconds, cr->hz, fd, &buf, &len);
	malloc_trim(0);
	switch (r) {
	case 0:
		break;
	case -ECONNRESET:
		return MHD_NO;	/* close the connection */
	case -EBUSY:
		return api__send_text(c, 503, "too many machine-wide profiles at once (limit %d); try again when one ends\n",
				      CONTINUOUS_MAX_PULLS);
	case -E2BIG:
		return api__send_text(c, 503, "too many distinct sampling frequencies in use (limit %d); retry with continuous-hz or the default hz\n",
				      PROFD_MAX_PERIODS);
	case -ECANCELED:
		return api__send_text(c, 503, "profd is shutting down\n");
	default:
		log_err_errno(r, "Failed to build the machine-wide profile: %m");
		return api__send_text(c, 500, "failed to build the profile: %s\n",
				      strerror(-r));
	}
	return api__send_blob(c, buf, len, "application/octet-stream", "profile",
			      "");
}

static enum MHD_Result handle_wait(struct api *a, struct MHD_Connection *c,
				   const struct session_req *sr, int what);
static enum MHD_Result handle_threads(struct api *a, struct MHD_Connection *c,
				      const struct session_req *sr,
				      unsigned debug);

/* @what: -1 for the CPU profile, API_THREADS, else the wait profile's
 * (offcpu.h). */
enum MHD_Result api__handle_profile(struct api *a, struct MHD_Connection *c,
				    const struct peer *peer, int what)
{
	const struct session_limits *lim;
	struct session_req req = { .uid = peer->uid, .hz = 99, .seconds = 30 };
	struct api_params q;
	struct api_cpu_req cr;
	struct api_threads_req tr = {};
	const union MHD_ConnectionInfo *ci;
	struct session *s = NULL;
	struct proc_ids ids;
	bool sent;
	char *err = NULL, note[200] = "";
	void *buf = NULL;
	size_t len = 0;
	uid_t owner = 0;
	enum session_end end;
	uint64_t took_ns;
	int r, fd = -1;
	enum MHD_Result ret;

	lim = session_mgr__limits(a->m);
	api__get_params(c, &q);
	if (what == API_THREADS) {
		r = apiparse__threads(&q, &tr, &err);
		cr = (struct api_cpu_req){ .pid = tr.pid, .seconds = 1, .hz = 1 };
	} else {
		r = apiparse__cpu(&q, lim->max_seconds, lim->max_hz, &cr, &err);
	}
	if (r < 0)
		return api__send_bad_request(c, r, err);
	/* No pid: every process, for CPU profiles only. */
	if (cr.pid == 0 && what == -1)
		return handle_machine(a, c, peer, &cr);
	if (cr.pid == 0)
		return api__send_text(c, 400, "missing parameter pid: which process to profile\n");
	req.pid = cr.pid;
	req.seconds = cr.seconds;
	req.hz = cr.hz;
	req.kernel = cr.kernel;
	req.fp_only = cr.fp_only;
	memcpy(req.window, cr.window, sizeof(req.window));

	r = access__check(peer->uid, req.pid, &owner, &ids);
	if (r == -ESRCH)
		return api__send_text(c, 404, "no such process: pid %d\n", req.pid);
	if (r == 0 && (sent = api__not_a_process(c, req.pid, &ids, false)))
		return MHD_YES;
	if (r == -EACCES)
		return api__send_text(c, 403, "permission denied: uid %u may not profile pid %d (owned by uid %u); only root or the process's owner may\n",
				      (unsigned)peer->uid, req.pid,
				      (unsigned)owner);
	if (r < 0)
		return api__send_text(c, 500, "cannot inspect pid %d: %s\n", req.pid,
				      strerror(-r));
	if (access__zombie(req.pid) == 1)
		return api__send_text(c, 404, "pid %d is a zombie: it has exited and its parent has not reaped it yet (wait()); nothing of it runs to profile\n",
				      req.pid);
	if (api__unreadable(c, req.pid, &ret))
		return ret;
	if (!nonroot_session_get(a, peer->uid))
		return api__send_text(c, 503, "too many concurrent profiling sessions of users other than root (limit %u; the rest of %u is kept for root); try again later\n",
				      a->nonroot_sessions_max,
				      lim->max_sessions);
	if (what == API_THREADS) {
		ret = handle_threads(a, c, &req, tr.debug);
		nonroot_session_put(a, peer->uid);
		return ret;
	}
	if (what >= 0) {
		/* Every wait is recorded: a rate would be ignored, so it is
		 * refused rather than taken. */
		if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "hz")) {
			nonroot_session_put(a, peer->uid);
			return api__send_text(c, 400, "hz does not apply to wait profiles (block, mutex, threadcreate): every wait in the window is recorded\n");
		}
		ret = handle_wait(a, c, &req, what);
		nonroot_session_put(a, peer->uid);
		return ret;
	}

	r = session__start(a->m, &req, &s);
	if (r < 0)
		nonroot_session_put(a, peer->uid);
	switch (r) {
	case 0:
		break;
	case -ESRCH:
		return api__send_text(c, 404, "no such process: pid %d\n", req.pid);
	case -EUSERS:
		return api__send_text(c, 429, "too many profiling sessions for uid %u (limit %u); try again when one ends\n",
				      (unsigned)peer->uid,
				      lim->max_sessions_per_uid);
	case -EBUSY:
		return api__send_text(c, 503, "too many concurrent profiling sessions (limit %u); try again later\n",
				      lim->max_sessions);
	case -E2BIG:
		return api__send_text(c, 503, "too many distinct sampling frequencies in use (limit %d); retry with the default hz\n",
				      PROFD_MAX_PERIODS);
	case -ECANCELED:
		return api__send_text(c, 503, "profd is shutting down\n");
	case -EACCES:
		return api__send_text(c, 403, "permission denied: uid %u may not profile pid %d: it now runs a program of another user, or a set-user-ID, set-group-ID or non-dumpable one; only root may\n",
				      (unsigned)peer->uid, req.pid);
	case -EPERM:
		/* The process's files were readable just now (above). */
		return api__send_text(c, 500, "profd lacks the privileges to sample (perf_event/BPF): %s\n",
				      strerror(-r));
	default:
		return api__send_text(c, 500, "cannot start profiling pid %d: %s\n",
				      req.pid, strerror(-r));
	}
	log_debug("session: pid %d for uid %u, %us at %u Hz", req.pid,
		  (unsigned)peer->uid, req.seconds, req.hz);

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		fd = ci->connect_fd;
	r = session__wait(a->m, s, fd);
	if (r == -ECONNRESET) {
		log_debug("session: client for pid %d went away; cancelled",
			  req.pid);
		session__free(a->m, s);
		nonroot_session_put(a, peer->uid);
		return MHD_NO;	/* close the connection */
	}
	if (r == -ECANCELED) {
		session__free(a->m, s);
		nonroot_session_put(a, peer->uid);
		return api__send_text(c, 503, "profd is shutting down\n");
	}
	end = session__ended(s, &took_ns);
	if (end != SESSION_END_FULL)
		snprintf(note, sizeof(note), "the window ended early, after %.2f s of the %u s asked: %s",
			 (double)took_ns / 1e9, req.seconds,
			 end == SESSION_END_EXITED ? "the process exited" :
			 "ended on request (Ctrl-C in profctl, POST /v1/profile/stop)");
	r = session__finish(a->m, s, &buf, &len);
	session__free(a->m, s);
	nonroot_session_put(a, peer->uid);
	/* Symbolizing frees a lot of short-lived memory: give it back to
	 * the system rather than let RSS keep its high-water mark. */
	malloc_trim(0);
	if (r < 0) {
		log_err_errno(r, "Failed to build the profile of pid %d: %m",
			      req.pid);
		return api__send_text(c, 500, "failed to build the profile: %s\n",
				      strerror(-r));
	}
	ret = api__send_blob(c, buf, len, "application/octet-stream", "profile",
			     note);
	return ret;
}

/*
 * A wait window (block, mutex, threadcreate) once the caller passed
 * api__handle_profile()'s checks: the same errors as a CPU window.
 */
static enum MHD_Result handle_wait(struct api *a, struct MHD_Connection *c,
				   const struct session_req *sr, int what)
{
	struct offcpu_req req = { .what = (enum profd_wait_what)what,
				  .pid = sr->pid, .seconds = sr->seconds,
				  .kernel = sr->kernel, .fp_only = sr->fp_only,
				  .uid = sr->uid };
	const union MHD_ConnectionInfo *ci;
	struct offcpu_window *w = NULL;
	char note[200] = "";
	void *buf = NULL;
	uint64_t took_ns;
	size_t len = 0;
	int r, fd = -1;

	_Static_assert(sizeof(req.window) == sizeof(sr->window),
		       "a window's name goes whole to the wait window");
	memcpy(req.window, sr->window, sizeof(req.window));

	r = offcpu__start(a->offcpu, &req, &w);
	switch (r) {
	case 0:
		break;
	case -ESRCH:
		return api__send_text(c, 404, "no such process: pid %d\n", req.pid);
	case -EBUSY:
		return api__send_text(c, 503, "too many concurrent wait profiles (block, mutex, threadcreate); try again later\n");
	case -ECANCELED:
		return api__send_text(c, 503, "profd is shutting down\n");
	case -EACCES:
		return api__send_text(c, 403, "permission denied: uid %u may not profile pid %d: it now runs a program of another user, or a set-user-ID, set-group-ID or non-dumpable one; only root may\n",
				      (unsigned)req.uid, req.pid);
	case -EPERM:
		return api__send_text(c, 500, "profd lacks the privileges to trace (BPF): %s\n",
				      strerror(-r));
	default:
		return api__send_text(c, 500, "cannot start profiling pid %d: %s\n",
				      req.pid, strerror(-r));
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		fd = ci->connect_fd;
	r = offcpu__wait(a->offcpu, w, fd);
	if (r == -ECONNRESET) {
		offcpu__close(a->offcpu, w);
		return MHD_NO;
	}
	if (r == -ECANCELED) {
		offcpu__close(a->offcpu, w);
		return api__send_text(c, 503, "profd is shutting down\n");
	}
	if (offcpu__ended_early(a->offcpu, w, &took_ns))
		snprintf(note, sizeof(note), "the window ended early, after %.2f s of the %u s asked: ended on request (Ctrl-C in profctl, POST /v1/profile/stop)",
			 (double)took_ns / 1e9, req.seconds);
	r = offcpu__finish(a->offcpu, w, &buf, &len);
	offcpu__close(a->offcpu, w);
	malloc_trim(0);
	if (r < 0) {
		log_err_errno(r, "Failed to build the wait profile of pid %d: %m",
			      req.pid);
		return api__send_text(c, 500, "failed to build the profile: %s\n",
				      strerror(-r));
	}
	return api__send_blob(c, buf, len, "application/octet-stream", "profile",
			      note[0] ? note : NULL);
}

/* A thread snapshot once the caller passed api__handle_profile()'s checks. */
static enum MHD_Result handle_threads(struct api *a, struct MHD_Connection *c,
				      const struct session_req *sr,
				      unsigned debug)
{
	struct threads_req req = { .pid = sr->pid, .uid = sr->uid,
				   .text = debug > 0 };
	void *buf = NULL;
	size_t len = 0;
	int r;

	r = threads__snapshot(a->threads, &req, &buf, &len);
	switch (r) {
	case 0:
		break;
	case -ESRCH:
		return api__send_text(c, 404, "no such process: pid %d\n", req.pid);
	case -EACCES:
		return api__send_text(c, 403, "permission denied: uid %u may not profile pid %d: it now runs a program of another user, or a set-user-ID, set-group-ID or non-dumpable one; only root may\n",
				      (unsigned)req.uid, req.pid);
	case -EAGAIN:
		return api__send_text(c, 503, "pid %d kept executing programs while its threads were read; try again\n",
				      req.pid);
	case -EPERM:
		return api__send_text(c, 500, "profd lacks the privileges to read threads (BPF): %s\n",
				      strerror(-r));
	default:
		log_err_errno(r, "Failed to read the threads of pid %d: %m",
			      req.pid);
		return api__send_text(c, 500, "cannot read the threads of pid %d: %s\n",
				      req.pid, strerror(-r));
	}
	malloc_trim(0);
	if (req.text)
		return api__send_blob(c, buf, len, "text/plain; charset=utf-8", NULL, NULL);
	return api__send_blob(c, buf, len, "application/octet-stream", "profile", NULL);
}

/*
 * POST /v1/profile/stop?pid=P[&window=NAME]: end the caller's open windows
 * of P early; each answers with what it collected. The caller must pass
 * the same check as for starting one (access__check()), and only windows
 * it started itself are ended: nobody ends another user's window, and
 * root ends only its own.
 */
enum MHD_Result api__handle_profile_stop(struct api *a,
					 struct MHD_Connection *c,
					 const struct peer *peer)
{
	struct api_stop_req sr;
	struct api_params q;
	struct proc_ids ids;
	char *err = NULL;
	uid_t owner = 0;
	unsigned n;
	int r;

	api__get_params(c, &q);
	r = apiparse__stop(&q, &sr, &err);
	if (r < 0)
		return api__send_bad_request(c, r, err);
	r = access__check(peer->uid, sr.pid, &owner, &ids);
	if (r == -ESRCH)
		return api__send_text(c, 404, "no such process: pid %d\n", sr.pid);
	if (r == -EACCES)
		return api__send_text(c, 403, "permission denied: uid %u may not profile pid %d (owned by uid %u), so may not end its windows; only root or the process's owner may\n",
				      (unsigned)peer->uid, sr.pid,
				      (unsigned)owner);
	if (r < 0)
		return api__send_text(c, 500, "cannot inspect pid %d: %s\n", sr.pid,
				      strerror(-r));
	n = session_mgr__end(a->m, sr.pid, peer->uid, sr.window);
	if (a->offcpu)
		n += offcpu__end(a->offcpu, sr.pid, peer->uid, sr.window);
	if (!n)
		return api__send_text(c, 404, "no open window of uid %u on pid %d%s%s%s: a caller ends only the windows it started\n",
				      (unsigned)peer->uid, sr.pid,
				      sr.window[0] ? " named \"" : "", sr.window,
				      sr.window[0] ? "\"" : "");
	log_debug("session: uid %u ended %u window(s) of pid %d early",
		  (unsigned)peer->uid, n, sr.pid);
	return api__send_text(c, 200, "ended %u window%s of pid %d early: each answers with what it collected\n",
			      n, n == 1 ? "" : "s", sr.pid);
}

