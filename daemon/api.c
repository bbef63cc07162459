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

_Static_assert(API_WINDOW_MAX == SESSION_WINDOW_MAX,
	       "a window's name goes from the request to the session whole");

struct api {
	struct session_mgr *m;
	struct heap_tracker *heap;
	struct offcpu *offcpu;		/* block, mutex, threadcreate */
	struct threads *threads;	/* goroutine */
	struct conns *conns;
	struct MHD_Daemon *d[CONNS_MAX_LISTENERS];
	struct origin_listener web[CONNS_MAX_LISTENERS];
	unsigned nonroot_sessions;	/* CPU sessions of users but root */
	unsigned nonroot_sessions_max;	/* the rest is kept for root */
	struct fleet *fleet;		/* NULL: no fleet counters */
	struct continuous *cont;	/* NULL: no machine-wide pulls */
};

/* Collects the decoded query parameters, in order, for apiparse. */
static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind,
				   const char *key, const char *value)
{
	return apiparse__add(cls, key, value) ? MHD_YES : MHD_NO;
}

static void get_params(struct MHD_Connection *c, struct api_params *q)
{
	memset(q, 0, sizeof(*q));
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, q);
}

/* Errors as Go's net/http/pprof sends them: pprof shows the body. @allow:
 * the Allow header of a 405, else NULL. */
static enum MHD_Result send_textv(struct MHD_Connection *c, unsigned status,
				  const char *allow, const char *fmt, va_list ap)
{
	struct MHD_Response *resp;
	enum MHD_Result r;
	char *body = NULL;
	int n;

	n = vasprintf(&body, fmt, ap);
	if (n < 0)
		return MHD_NO;
	resp = MHD_create_response_from_buffer((size_t)n, body,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (status >= 400)
		MHD_add_response_header(resp, "X-Go-Pprof", "1");
	if (allow)
		MHD_add_response_header(resp, "Allow", allow);
	r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status,
				 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status,
				 const char *fmt, ...)
{
	enum MHD_Result r;
	va_list ap;

	va_start(ap, fmt);
	r = send_textv(c, status, NULL, fmt, ap);
	va_end(ap);
	return r;
}

/* 405 with the Allow header RFC 9110 asks for. */
static enum MHD_Result send_405(struct MHD_Connection *c, const char *allow,
				const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum MHD_Result send_405(struct MHD_Connection *c, const char *allow,
				const char *fmt, ...)
{
	enum MHD_Result r;
	va_list ap;

	va_start(ap, fmt);
	r = send_textv(c, 405, allow, fmt, ap);
	va_end(ap);
	return r;
}

/*
 * @note: what the client should tell its user about the answer (a window
 * that ended early, heap tracking that stopped or goes on), one line in
 * the X-Profd-Note header, or NULL.
 */
static enum MHD_Result send_blob(struct MHD_Connection *c, void *buf,
				 size_t len, const char *type,
				 const char *filename, const char *note)
{
	struct MHD_Response *resp;
	enum MHD_Result r;
	char disp[128];

	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	if (filename) {
		snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"",
			 filename);
		MHD_add_response_header(resp, "Content-Disposition", disp);
	}
	if (note && note[0])
		MHD_add_response_header(resp, "X-Profd-Note", note);
	r = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

/* A request apiparse refused: 400 with its message (freed here). */
static enum MHD_Result send_bad_request(struct MHD_Connection *c, int r,
					char *err)
{
	enum MHD_Result ret;

	if (r == -ENOMEM || !err)
		return MHD_NO;
	ret = send_text(c, 400, "%s", err);
	free(err);
	return ret;
}

/*
 * A thread id or a kernel thread would give an empty profile: say so.
 * Returns true when an error was sent.
 */
static bool not_a_process(struct MHD_Connection *c, pid_t pid,
			  const struct proc_ids *ids, bool heap)
{
	if (ids->kthread) {
		send_text(c, 400, "pid %d is a kernel thread (%s): it has no user space to %s\n",
			  pid, ids->comm,
			  heap ? "allocate from" :
				 "profile; to see kernel frames, profile a user process with --kernel (profctl) or kernel=1 (HTTP)");
		return true;
	}
	if (ids->tgid > 0 && ids->tgid != pid && heap) {
		send_text(c, 400, "pid %d is a thread of process %d: the heap is the process's; track pid %d\n",
			  pid, ids->tgid, ids->tgid);
		return true;
	}
	if (ids->tgid > 0 && ids->tgid != pid) {
		send_text(c, 400, "pid %d is a thread of process %d: profile pid %d (its samples carry tid=%d for -tagfocus)\n",
			  pid, ids->tgid, ids->tgid, pid);
		return true;
	}
	return false;
}

/*
 * profd itself may not read @pid's memory map (the kernel's ptrace read
 * check on profd): every profile needs it, so say so before anything
 * starts, with the cause, rather than let a later step fail with EACCES
 * and be taken for a sampling (BPF) problem. True when an answer was sent.
 */
static bool unreadable(struct MHD_Connection *c, pid_t pid,
		       enum MHD_Result *ret)
{
	const char *what;
	bool cap;
	int r;

	r = access__self_may_read(pid, &cap, &what);
	if (r != -EACCES && r != -EPERM)
		return false;	/* readable, or gone: later steps say so */
	if (!cap)
		*ret = send_text(c, 500, "profd may not read /proc/%d/%s (%s): profd runs without CAP_SYS_PTRACE, which the kernel requires for another user's or a non-dumpable process (profd.service grants it)\n",
				 pid, what, strerror(-r));
	else
		*ret = send_text(c, 500, "profd may not read /proc/%d/%s (%s) although it holds CAP_SYS_PTRACE: the kernel refuses profd access to pid %d (a security module such as Yama, AppArmor, SELinux or Landlock, a user-namespace boundary, or a process holding capabilities profd lacks)\n",
				 pid, what, strerror(-r), pid);
	return true;
}

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
		return send_text(c, 403, "permission denied: a profile without pid is of every process on the machine; only root may take one (uid %u may profile its own processes: add pid=PID)\n",
				 (unsigned)peer->uid);
	if (!a->cont)
		return send_text(c, 503, "machine-wide profiles are not available\n");
	if (cr->fp_only || cr->window[0])
		return send_text(c, 400, "unwind=fp and window are for one process's profile (pid=PID); a machine-wide one is DWARF-unwound\n");
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
		return send_text(c, 503, "too many machine-wide profiles at once (limit %d); try again when one ends\n",
				 CONTINUOUS_MAX_PULLS);
	case -E2BIG:
		return send_text(c, 503, "too many distinct sampling frequencies in use (limit %d); retry with continuous-hz or the default hz\n",
				 PROFD_MAX_PERIODS);
	case -ECANCELED:
		return send_text(c, 503, "profd is shutting down\n");
	default:
		log_err_errno(r, "Failed to build the machine-wide profile: %m");
		return send_text(c, 500, "failed to build the profile: %s\n",
				 strerror(-r));
	}
	return send_blob(c, buf, len, "application/octet-stream", "profile",
			 "");
}

static enum MHD_Result handle_wait(struct api *a, struct MHD_Connection *c,
				   const struct session_req *sr, int what);
static enum MHD_Result handle_threads(struct api *a, struct MHD_Connection *c,
				      const struct session_req *sr,
				      unsigned debug);

#define API_THREADS 100	/* handle_profile()'s @what for goroutine */

/* @what: -1 for the CPU profile, API_THREADS, else the wait profile's
 * (offcpu.h). */
static enum MHD_Result handle_profile(struct api *a, struct MHD_Connection *c,
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
	get_params(c, &q);
	if (what == API_THREADS) {
		r = apiparse__threads(&q, &tr, &err);
		cr = (struct api_cpu_req){ .pid = tr.pid, .seconds = 1, .hz = 1 };
	} else {
		r = apiparse__cpu(&q, lim->max_seconds, lim->max_hz, &cr, &err);
	}
	if (r < 0)
		return send_bad_request(c, r, err);
	/* No pid: every process, for CPU profiles only. */
	if (cr.pid == 0 && what == -1)
		return handle_machine(a, c, peer, &cr);
	if (cr.pid == 0)
		return send_text(c, 400, "missing parameter pid: which process to profile\n");
	req.pid = cr.pid;
	req.seconds = cr.seconds;
	req.hz = cr.hz;
	req.kernel = cr.kernel;
	req.fp_only = cr.fp_only;
	memcpy(req.window, cr.window, sizeof(req.window));

	r = access__check(peer->uid, req.pid, &owner, &ids);
	if (r == -ESRCH)
		return send_text(c, 404, "no such process: pid %d\n", req.pid);
	if (r == 0 && (sent = not_a_process(c, req.pid, &ids, false)))
		return MHD_YES;
	if (r == -EACCES)
		return send_text(c, 403, "permission denied: uid %u may not profile pid %d (owned by uid %u); only root or the process's owner may\n",
				 (unsigned)peer->uid, req.pid, (unsigned)owner);
	if (r < 0)
		return send_text(c, 500, "cannot inspect pid %d: %s\n", req.pid,
				 strerror(-r));
	if (access__zombie(req.pid) == 1)
		return send_text(c, 404, "pid %d is a zombie: it has exited and its parent has not reaped it yet (wait()); nothing of it runs to profile\n",
				 req.pid);
	if (unreadable(c, req.pid, &ret))
		return ret;
	if (!nonroot_session_get(a, peer->uid))
		return send_text(c, 503, "too many concurrent profiling sessions of users other than root (limit %u; the rest of %u is kept for root); try again later\n",
				 a->nonroot_sessions_max, lim->max_sessions);
	if (what == API_THREADS) {
		ret = handle_threads(a, c, &req, tr.debug);
		nonroot_session_put(a, peer->uid);
		return ret;
	}
	if (what >= 0) {
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
		return send_text(c, 404, "no such process: pid %d\n", req.pid);
	case -EUSERS:
		return send_text(c, 429, "too many profiling sessions for uid %u (limit %u); try again when one ends\n",
				 (unsigned)peer->uid, lim->max_sessions_per_uid);
	case -EBUSY:
		return send_text(c, 503, "too many concurrent profiling sessions (limit %u); try again later\n",
				 lim->max_sessions);
	case -E2BIG:
		return send_text(c, 503, "too many distinct sampling frequencies in use (limit %d); retry with the default hz\n",
				 PROFD_MAX_PERIODS);
	case -ECANCELED:
		return send_text(c, 503, "profd is shutting down\n");
	case -EACCES:
		return send_text(c, 403, "permission denied: uid %u may not profile pid %d: it now runs a program of another user, or a set-user-ID, set-group-ID or non-dumpable one; only root may\n",
				 (unsigned)peer->uid, req.pid);
	case -EPERM:
		/* The process's files were readable just now (above). */
		return send_text(c, 500, "profd lacks the privileges to sample (perf_event/BPF): %s\n",
				 strerror(-r));
	default:
		return send_text(c, 500, "cannot start profiling pid %d: %s\n",
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
		return send_text(c, 503, "profd is shutting down\n");
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
		return send_text(c, 500, "failed to build the profile: %s\n",
				 strerror(-r));
	}
	ret = send_blob(c, buf, len, "application/octet-stream", "profile",
			note);
	return ret;
}

/*
 * A wait window (block, mutex, threadcreate) once the caller passed
 * handle_profile()'s checks: the same errors as a CPU window.
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
	void *buf = NULL;
	size_t len = 0;
	int r, fd = -1;

	r = offcpu__start(a->offcpu, &req, &w);
	switch (r) {
	case 0:
		break;
	case -ESRCH:
		return send_text(c, 404, "no such process: pid %d\n", req.pid);
	case -EBUSY:
		return send_text(c, 503, "too many concurrent wait profiles (block, mutex, threadcreate); try again later\n");
	case -ECANCELED:
		return send_text(c, 503, "profd is shutting down\n");
	case -EACCES:
		return send_text(c, 403, "permission denied: uid %u may not profile pid %d: it now runs a program of another user, or a set-user-ID, set-group-ID or non-dumpable one; only root may\n",
				 (unsigned)req.uid, req.pid);
	case -EPERM:
		return send_text(c, 500, "profd lacks the privileges to trace (BPF): %s\n",
				 strerror(-r));
	default:
		return send_text(c, 500, "cannot start profiling pid %d: %s\n",
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
		return send_text(c, 503, "profd is shutting down\n");
	}
	r = offcpu__finish(a->offcpu, w, &buf, &len);
	offcpu__close(a->offcpu, w);
	malloc_trim(0);
	if (r < 0) {
		log_err_errno(r, "Failed to build the wait profile of pid %d: %m",
			      req.pid);
		return send_text(c, 500, "failed to build the profile: %s\n",
				 strerror(-r));
	}
	return send_blob(c, buf, len, "application/octet-stream", "profile", NULL);
}

/* A thread snapshot once the caller passed handle_profile()'s checks. */
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
		return send_text(c, 404, "no such process: pid %d\n", req.pid);
	case -EACCES:
		return send_text(c, 403, "permission denied: uid %u may not profile pid %d: it now runs a program of another user, or a set-user-ID, set-group-ID or non-dumpable one; only root may\n",
				 (unsigned)req.uid, req.pid);
	case -EAGAIN:
		return send_text(c, 503, "pid %d kept executing programs while its threads were read; try again\n",
				 req.pid);
	case -EPERM:
		return send_text(c, 500, "profd lacks the privileges to read threads (BPF): %s\n",
				 strerror(-r));
	default:
		log_err_errno(r, "Failed to read the threads of pid %d: %m",
			      req.pid);
		return send_text(c, 500, "cannot read the threads of pid %d: %s\n",
				 req.pid, strerror(-r));
	}
	malloc_trim(0);
	if (req.text)
		return send_blob(c, buf, len, "text/plain; charset=utf-8", NULL, NULL);
	return send_blob(c, buf, len, "application/octet-stream", "profile", NULL);
}

/*
 * POST /v1/profile/stop?pid=P[&window=NAME]: end the caller's open windows
 * of P early; each answers with what it collected. The caller must pass
 * the same check as for starting one (access__check()), and only windows
 * it started itself are ended: nobody ends another user's window, and
 * root ends only its own.
 */
static enum MHD_Result handle_profile_stop(struct api *a,
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

	get_params(c, &q);
	r = apiparse__stop(&q, &sr, &err);
	if (r < 0)
		return send_bad_request(c, r, err);
	r = access__check(peer->uid, sr.pid, &owner, &ids);
	if (r == -ESRCH)
		return send_text(c, 404, "no such process: pid %d\n", sr.pid);
	if (r == -EACCES)
		return send_text(c, 403, "permission denied: uid %u may not profile pid %d (owned by uid %u), so may not end its windows; only root or the process's owner may\n",
				 (unsigned)peer->uid, sr.pid, (unsigned)owner);
	if (r < 0)
		return send_text(c, 500, "cannot inspect pid %d: %s\n", sr.pid,
				 strerror(-r));
	n = session_mgr__end(a->m, sr.pid, peer->uid, sr.window);
	if (!n)
		return send_text(c, 404, "no open CPU window of uid %u on pid %d%s%s%s: a caller ends only the windows it started\n",
				 (unsigned)peer->uid, sr.pid,
				 sr.window[0] ? " named \"" : "", sr.window,
				 sr.window[0] ? "\"" : "");
	log_debug("session: uid %u ended %u window(s) of pid %d early",
		  (unsigned)peer->uid, n, sr.pid);
	return send_text(c, 200, "ended %u window%s of pid %d early: each answers with what it collected\n",
			 n, n == 1 ? "" : "s", sr.pid);
}


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
	get_params(c, &q);
	r = apiparse__heap(&q, with_window, session_mgr__limits(a->m)->max_seconds,
			   &hr, &err);
	if (r < 0)
		return send_bad_request(c, r, err);
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
			return send_text(c, 403, "permission denied: uid %u may not read the heap of exited pid %d\n",
					 (unsigned)peer->uid, *ret_pid);
		if (r == 0) {
			*ret_exited = true;
			*ret_sent = false;
			return MHD_YES;
		}
		r = -ESRCH;
	}
	if (r == -ESRCH)
		return send_text(c, 404, "no such process: pid %d\n", *ret_pid);
	if (r == 0 && not_a_process(c, *ret_pid, &ids, true))
		return MHD_YES;
	if (r == -EACCES)
		return send_text(c, 403, "permission denied: uid %u may not track pid %d (owned by uid %u); only root or the process's owner may\n",
				 (unsigned)peer->uid, *ret_pid, (unsigned)owner);
	if (r < 0)
		return send_text(c, 500, "cannot inspect pid %d: %s\n", *ret_pid,
				 strerror(-r));
	if (unreadable(c, *ret_pid, &ret))
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
		*ret = send_text(c, 403, "refused: mode=inproc loads code into the process, which profd does for requests on its Unix socket only (profctl heap --inproc, curl --unix-socket); over TCP use mode=uprobe\n");
		return true;
	}
	if (peer->uid == 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	if (stat(path, &st) == 0 && st.st_uid == peer->uid)
		return false;
	*ret = send_text(c, 403, "permission denied: pid %d is not dumpable (PR_SET_DUMPABLE 0), so uid %u may not have profd load its agent into it; mode=uprobe does not write into the process\n",
			 pid, (unsigned)peer->uid);
	return true;
}

static enum MHD_Result heap_start_error(struct MHD_Connection *c, pid_t pid,
					int r, const char *err)
{
	if (err[0])	/* the in-process agent's, already a sentence */
		return send_text(c, r == -EACCES ? 403 :
				 r == -EAGAIN || r == -ECANCELED ? 503 :
				    r == -ENOMEM || r == -EFAULT ? 500 : 400,
				 "%s\n", err);
	switch (r) {
	case -ESRCH:
		return send_text(c, 404, "no such process: pid %d\n", pid);
	case -EPROTONOSUPPORT:
		return send_text(c, 400, "pid %d is a Go program: Go allocates through its own runtime (not malloc) and uretprobes are unsafe on Go stacks; use its net/http/pprof heap profile instead\n",
				 pid);
	case -ENOENT:
		return send_text(c, 400, "pid %d: no malloc/free found in its executable or libraries; cannot track its heap\n",
				 pid);
	case -ENODATA:
		return send_text(c, 400, "pid %d shows no memory mappings: its main thread has exited (the process lives on in other threads) or it is exiting; cannot track its heap\n",
				 pid);
	case -EBUSY:
		return send_text(c, 503, "too many processes heap-tracked at once; stop one (profctl heap stop) or try later\n");
	case -EUSERS:
		return send_text(c, 429, "too many processes heap-tracked for one user (a quarter of --heap-max-procs); stop one (profctl heap stop) or try later\n");
	case -ECANCELED:
		return send_text(c, 503, "profd is shutting down\n");
	default:
		return send_text(c, 500, "cannot track the heap of pid %d: %s\n",
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
	*ret = send_text(c, 409, "pid %d is already heap-tracked with other settings: sample_bytes %llu, %s stacks (unwind=%s), mode=%s (allocator %s); this request asks for%s, which a tracked process does not change. To change them, stop it first (profctl heap stop --pid %d) and start again; or leave those options out to use the settings in force\n",
			   pid, (unsigned long long)info->sample_bytes,
			   info->fp_only ? "frame-pointer" : "DWARF",
			   info->fp_only ? "fp" : "dwarf",
			   info->inproc ? "inproc" : "uprobe", info->allocator,
			   asked, pid);
	return true;
}

static enum MHD_Result handle_heap_start(struct api *a, struct MHD_Connection *c,
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
			return send_text(c, 404, "pid %d is not heap-tracked\n", pid);
		if (r == -EINPROGRESS) {
			log_warn("heap: pid %d: could not switch off the in-process agent; retrying",
				 pid);
			return send_text(c, 202, "stopped heap tracking of pid %d, but its allocator calls still go through profd's in-process agent: it could not be switched off now (is a debugger or tracer attached?); profd retries for 30 s (see heap.agents_pending_off in /v1/status)\n",
					 pid);
		}
		return send_text(c, 200, "stopped heap tracking of pid %d\n", pid);
	}
	r = heap__start(a->heap, pid, peer->uid, sample, flags, &info, err,
			sizeof(err));
	if (r < 0)
		return heap_start_error(c, pid, r, err);
	if (settings_conflict(c, pid, sample, flags, &info, &ret))
		return ret;
	if (info.already)
		return send_text(c, 200, "pid %d already heap-tracked (%s mode, allocator %s, sample_bytes %llu, %s stacks); it stays on until profctl heap stop --pid %d\n",
				 pid, info.inproc ? "inproc" : "uprobe",
				 info.allocator,
				 (unsigned long long)info.sample_bytes,
				 info.fp_only ? "frame-pointer" : "DWARF", pid);
	log_debug("heap: tracking pid %d for uid %u (%s, %u probes)", pid,
		  (unsigned)peer->uid, info.allocator, info.probes);
	if (info.inproc)
		return send_text(c, 200, "heap tracking of pid %d started in-process (allocator %s; profd's agent sampling in the process through %ld GOT entries, %u probe links; sample_bytes %llu, %s stacks)\n",
				 pid, info.allocator, info.agent_slots,
				 info.probes,
				 (unsigned long long)info.sample_bytes,
				 info.fp_only ? "frame-pointer" : "DWARF");
	return send_text(c, 200, "heap tracking of pid %d started (allocator %s, %u entry points through %u probe links, sample_bytes %llu, %s stacks)\n",
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

static enum MHD_Result handle_heap(struct api *a, struct MHD_Connection *c,
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
			ret = send_text(c, 409, "heap tracking of pid %d was stopped while this request waited\n",
					pid);
			goto done;
		}
		/* Shutting down releases every tracking: the answer must go
		 * before profd stops serving, with nothing to wait for. */
		if (r == -ESHUTDOWN)
			return send_text(c, 503, "profd is shutting down\n");
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
		return send_text(c, 409, "heap tracking of pid %d ended before the snapshot\n",
				 pid);
	if (r < 0)
		return send_text(c, 500, "failed to build the heap profile: %s\n",
				 strerror(-r));
	if (!exited)
		heap_note(pid, &info, info.one_off, end, note, sizeof(note));
	return send_blob(c, buf, len, "application/octet-stream", "profile",
			 note);
done:
	if (info.one_off)
		(void)heap__pull_done(a->heap, pid, info.generation);
	return ret;
}

static enum MHD_Result handle_status(struct api *a, struct MHD_Connection *c,
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
	if (peer->known && peer->uid == 0) {
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
	/* A user sees their own sessions (root: all; anonymous: none). */
	if (peer->known) {
		session_mgr__sessions_json(a->m, peer->uid, &j);
	} else {
		json__arr_begin(&j, "sessions");
		json__arr_end(&j);
	}
	json__obj_end(&j);
	if (json__finish(&j, &body, &len) < 0)
		return send_text(c, 500, "cannot build the status\n");
	return send_blob(c, body, len, "application/json", NULL, NULL);
}

/* Counters only (metrics.h): every caller may read them, as /v1/status's. */
static enum MHD_Result handle_metrics(struct api *a, struct MHD_Connection *c)
{
	struct metrics_input *in = calloc(1, sizeof(*in));
	struct session_mgr_stats st;
	struct timespec ts;
	char *body = NULL;
	size_t len = 0;
	int r;

	if (!in)
		return send_text(c, 500, "out of memory\n");
	session_mgr__stats(a->m, &st);
	in->samples_total = st.samples_total;
	in->samples_lost = st.samples_lost;
	in->samples_dropped = st.samples_dropped;
	in->sessions_active = st.sessions_active;
	in->debuginfod_on = st.sym.debuginfod;
	if (st.sym.debuginfod)
		in->dbgd = st.sym.dbgd;
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
		return send_text(c, 500, "cannot build the metrics\n");
	return send_blob(c, body, len, "text/plain; version=0.0.4; charset=utf-8",
			 NULL, NULL);
}

/*
 * The spool's intervals of a window merged into one profile. Every
 * process of the machine is in them: root's alone.
 */
static enum MHD_Result handle_history(struct api *a, struct MHD_Connection *c,
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

	if (peer->uid != 0)
		return send_text(c, 403, "refused: the history holds every process's profiles; only root may read it\n");
	clock_gettime(CLOCK_REALTIME, &ts);
	get_params(c, &q);
	r = history__parse(&q, (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec, &hq, &err);
	if (r < 0)
		return send_bad_request(c, r, err);
	if (!sp)
		return send_text(c, 404, "no history: profd keeps no spool (see README \"Fleet\": push-url, continuous)\n");
	/* Reads and merges files: this connection's own thread. */
	r = spool__query(sp, &hq, &buf, &len, &n);
	if (r == -ENOENT)
		return send_text(c, 404, "no spooled interval matches\n");
	if (r == -E2BIG)
		return send_text(c, 413, "the window's intervals exceed 256 MiB: ask for a shorter one\n");
	if (r < 0)
		return send_text(c, 500, "cannot merge the history: %s\n", strerror(-r));
	snprintf(note, sizeof(note), "%u spooled intervals merged", n);
	return send_blob(c, buf, len, "application/octet-stream", "profile", note);
}

static enum MHD_Result handle_index(struct MHD_Connection *c)
{
	return send_text(c, 200,
			 "profd %s\n\n"
			 "/debug/pprof/profile?pid=P&seconds=N[&hz=F][&kernel=1][&unwind=fp][&window=NAME]\n"
			 "    CPU profile (gzip pprof); unwind=fp: frame pointers walked in BPF\n"
			 "    instead of DWARF unwinding (unwind=dwarf, the default); ends early\n"
			 "    when P exits\n"
			 "POST /v1/profile/stop?pid=P[&window=NAME]\n"
			 "    end your open windows of P now; each answers with what it has\n"
			 "/debug/pprof/block?pid=P&seconds=N[&kernel=1][&unwind=fp]\n"
			 "    off-CPU time by stack (Go's block profile), state sleeping/disk/preempted\n"
			 "/debug/pprof/mutex?pid=P&seconds=N[&kernel=1][&unwind=fp]\n"
			 "    time in futex waits (contended mutexes, rwlocks, condvars) by stack\n"
			 "/debug/pprof/goroutine?pid=P[&debug=1]\n"
			 "    every thread's stack now (count per stack; debug=1: text, a thread each)\n"
			 "/debug/pprof/threadcreate?pid=P&seconds=N[&unwind=fp]\n"
			 "    threads created in the window, by the creating stack\n"
			 "/debug/pprof/heap?pid=P[&seconds=S][&sample_bytes=N][&unwind=fp][&mode=inproc]\n"
			 "    live heap (inuse_space); mode=inproc: sampled inside the process by\n"
			 "    profd's agent (Unix socket only), mode=uprobe the default\n"
			 "/debug/pprof/allocs?pid=P[&seconds=S][&sample_bytes=N][&unwind=fp][&mode=inproc]\n"
			 "    the same, default view alloc_space\n"
			 "POST /v1/heap/start?pid=P[&sample_bytes=N][&unwind=fp][&mode=inproc]\n"
			 "POST /v1/heap/stop?pid=P\n"
			 "    start or stop heap tracking\n"
			 "/v1/status\n"
			 "    daemon status (JSON)\n"
			 "/metrics\n"
			 "    counters in the Prometheus text format\n"
			 "/v1/history[?since=T][&until=T][&service=S][&unit=U][&pid=P]\n"
			 "    the spooled intervals of a window, merged (gzip pprof; root)\n",
			 PROFD_VERSION);
}

/* Why an anonymous caller is refused what needs a uid. */
static enum MHD_Result send_anonymous(struct MHD_Connection *c,
				      const struct peer *peer)
{
	if (peer->unknown_err == -ENOTCONN)
		return send_text(c, 403, "refused: profd cannot establish who is calling: the client's TCP socket is no longer an open, established connection owned by a process (closed before the answer?); an unidentified caller may read only /v1/status's counters\n");
	return send_text(c, 403, "refused: profd cannot establish who is calling (looking up the client's TCP socket: %s); an unidentified caller may read only /v1/status's counters\n",
			 strerror(-peer->unknown_err));
}

static bool is_profile(const char *url)
{
	return !strcmp(url, "/debug/pprof/heap") ||
	       !strcmp(url, "/debug/pprof/allocs") ||
	       !strcmp(url, "/debug/pprof/profile") ||
	       !strcmp(url, "/v1/history") ||	/* GET only, as a profile */
	       !strcmp(url, "/debug/pprof/block") ||
	       !strcmp(url, "/debug/pprof/mutex") ||
	       !strcmp(url, "/debug/pprof/threadcreate") ||
	       !strcmp(url, "/debug/pprof/goroutine");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	static int first_call_marker;
	struct api *a = cls;
	const union MHD_ConnectionInfo *ci;
	const struct conn *cn;
	struct peer peer = {};
	char why[320];
	bool head;
	int r;

	/* First call: headers only. Answer on the second. */
	if (!*con_cls) {
		*con_cls = &first_call_marker;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;	/* bodies are not used: discard */
		return MHD_YES;
	}
	/* Whole: the request deadline is over (a window may take minutes). */
	cn = conns__received(a->conns, c);
	if (!cn)
		return MHD_NO;
	/* Before anything else: a web page's request gets nothing. */
	r = origin__check(&a->web[cn->listener],
			  MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"),
			  MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"),
			  MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "Sec-Fetch-Site"),
			  why, sizeof(why));
	if (r < 0) {
		log_debug("http: %s %s: %s", method, url, why);
		return send_text(c, 403, "%s\n", why);
	}
	/* Who is asking, now that the request is acted on. */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	r = ci ? access__peer(ci->connect_fd, &peer) : -EBADF;
	if (r < 0)
		return send_text(c, 403, "cannot identify the caller: %s\n",
				 strerror(-r));

	if (!strcmp(url, "/v1/heap/start") || !strcmp(url, "/v1/heap/stop")) {
		if (strcmp(method, "POST"))
			return send_405(c, "POST", "method %s not allowed on %s (use POST)\n",
					method, url);
		if (!peer.known)
			return send_anonymous(c, &peer);
		return handle_heap_start(a, c, &peer, !strcmp(url, "/v1/heap/stop"));
	}
	if (!strcmp(url, "/v1/profile/stop")) {
		if (strcmp(method, "POST"))
			return send_405(c, "POST", "method %s not allowed on %s (use POST)\n",
					method, url);
		if (!peer.known)
			return send_anonymous(c, &peer);
		return handle_profile_stop(a, c, &peer);
	}
	head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head)
		return send_405(c, is_profile(url) ? "GET" : "GET, HEAD",
				"method %s not allowed on %s (use GET)\n", method, url);
	if (!strcmp(url, "/v1/status"))
		return handle_status(a, c, &peer);
	if (!strcmp(url, "/metrics"))
		return handle_metrics(a, c);
	if (!strcmp(url, "/debug/pprof/") || !strcmp(url, "/debug/pprof") ||
	    !strcmp(url, "/"))
		return handle_index(c);
	if (!is_profile(url))
		return send_text(c, 404, "unknown profile or path: %s\n", url);
	/* A profile starts a window, heap tracking or an injection: HEAD
	 * must have no side effects (RFC 9110), and answering it without
	 * them could not say what GET would. */
	if (head)
		return send_405(c, "GET", "HEAD not allowed on %s: the request starts profiling; use GET\n",
				url);
	if (!peer.known)
		return send_anonymous(c, &peer);
	if (!strcmp(url, "/v1/history"))
		return handle_history(a, c, &peer);
	if (!strcmp(url, "/debug/pprof/heap"))
		return handle_heap(a, c, &peer, false);
	if (!strcmp(url, "/debug/pprof/allocs"))
		return handle_heap(a, c, &peer, true);
	if (!strcmp(url, "/debug/pprof/block"))
		return handle_profile(a, c, &peer, PROFD_WAIT_OFFCPU);
	if (!strcmp(url, "/debug/pprof/mutex"))
		return handle_profile(a, c, &peer, PROFD_WAIT_FUTEX);
	if (!strcmp(url, "/debug/pprof/goroutine"))
		return handle_profile(a, c, &peer, API_THREADS);
	if (!strcmp(url, "/debug/pprof/threadcreate"))
		return handle_profile(a, c, &peer, PROFD_WAIT_CLONE);
	return handle_profile(a, c, &peer, -1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = 0;
	/* MHD_add_connection() cannot say a socket is not TCP: on the Unix
	 * socket libmicrohttpd tries TCP_NODELAY and TCP_CORK, fails
	 * harmlessly (nothing is held back) and says so on every answer. */
	if (strstr(buf, "TCP_NODELAY") || strstr(buf, "TCP_CORK") ||
	    strstr(buf, "push the data from buffers"))
		return;
	log_debug("http: %s", buf);
}

int api__start(const struct api_config *cfg, struct session_mgr *m,
	       struct heap_tracker *heap, struct api **ret)
{
	int fds[2] = { cfg->unix_fd, cfg->tcp_fd }, lfds[2], i, n = 0, r;
	const struct session_limits *lim = session_mgr__limits(m);
	struct api *a;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->m = m;
	a->heap = heap;
	a->fleet = cfg->fleet;
	a->offcpu = cfg->offcpu;
	a->threads = cfg->threads;
	a->cont = cfg->cont;
	/* An eighth of the sessions is root's alone. */
	a->nonroot_sessions_max = lim->max_sessions - lim->max_sessions / 8;
	r = conns__new(&cfg->conns, &a->conns);
	if (r < 0) {
		free(a);
		return r;
	}
	for (i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		a->web[n] = (struct origin_listener){ .tcp = i == 1,
						      .host = cfg->tcp_host,
						      .port = cfg->tcp_port };
		/* conns accepts and hands connections over: libmicrohttpd
		 * listens on nothing. ITC: a pipe that wakes its thread for
		 * each one, and on stop. Its connection limit is only a
		 * backstop behind conns' shares. poll(), not select():
		 * continuous mode holds descriptors of many processes, and
		 * select() refuses every connection whose fd is 1024 or
		 * more. */
		a->d[n] = MHD_start_daemon(
			MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_INTERNAL_POLLING_THREAD |
				MHD_USE_POLL |
				MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET |
				MHD_USE_ERROR_LOG,
			0, NULL, NULL, handler, a,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			MHD_OPTION_NOTIFY_CONNECTION, conns__notify, a->conns,
			MHD_OPTION_NOTIFY_COMPLETED, conns__completed, a->conns,
			MHD_OPTION_CONNECTION_LIMIT, cfg->conns.max_total + 16,
			/* A client that stops reading its answer; the
			 * request itself has conns' deadline. */
			MHD_OPTION_CONNECTION_TIMEOUT, 30u,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
			MHD_OPTION_END);
		if (!a->d[n]) {
			api__stop(a);
			return -EIO;
		}
		lfds[n++] = fds[i];
	}
	r = conns__start(a->conns, lfds, a->d, (unsigned)n);
	if (r < 0) {
		api__stop(a);
		return r;
	}
	*ret = a;
	return 0;
}

void api__stop(struct api *a)
{
	int i;

	if (!a)
		return;
	/* No new connections, then libmicrohttpd closes the open ones. */
	conns__stop(a->conns);
	for (i = 0; i < CONNS_MAX_LISTENERS; i++)
		if (a->d[i])
			MHD_stop_daemon(a->d[i]);
	conns__free(a->conns);
	free(a);
}
