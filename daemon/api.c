// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <microhttpd.h>

#include "access.h"
#include "api.h"
#include "log.h"
#include "proc.h"

struct api {
	struct session_mgr *m;
	struct heap_tracker *heap;
	struct MHD_Daemon *d[2];
};

struct query {
	const char *allowed[8];
	const char *bad;		/* first unknown parameter */
	const char *dup;		/* first parameter given twice */
	unsigned seen;			/* bit per allowed[] entry */
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind,
				 const char *key, const char *value)
{
	struct query *q = cls;
	size_t i;

	for (i = 0; i < 8 && q->allowed[i]; i++) {
		if (strcmp(key, q->allowed[i]))
			continue;
		/* pid=1&pid=2: which one was meant? */
		if (q->seen & (1u << i)) {
			q->dup = key;
			return MHD_NO;
		}
		q->seen |= 1u << i;
		return MHD_YES;
	}
	q->bad = key;
	return MHD_NO;
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

static enum MHD_Result send_blob(struct MHD_Connection *c, void *buf,
				 size_t len, const char *type,
				 const char *filename)
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
	r = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

/* A decimal in [min, max], digits only (no sign, space or suffix). */
static int parse_uint(const char *s, unsigned long long min,
		      unsigned long long max, unsigned long long *ret)
{
	unsigned long long v = 0;
	const char *p;

	if (!s || !*s || strlen(s) > 19)
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (!s || !strcmp(s, "1") || !strcmp(s, "true") || !*s) {
		*ret = true;
		return 0;
	}
	if (!strcmp(s, "0") || !strcmp(s, "false")) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
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
				 "profile; profile a user process with kernel=1 to see kernel frames");
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

/* The unwind parameter: true (and *ret_fp set) unless it is bad. */
static bool unwind_arg(struct MHD_Connection *c, const char **ret_arg,
		       bool *ret_fp)
{
	const char *arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						      "unwind");

	*ret_arg = arg;
	*ret_fp = arg && !strcmp(arg, "fp");
	return !arg || *ret_fp || !strcmp(arg, "dwarf");
}

static enum MHD_Result handle_profile(struct api *a, struct MHD_Connection *c,
				      const struct peer *peer)
{
	const struct session_limits *lim;
	struct session_req req = { .uid = peer->uid, .hz = 99, .seconds = 30 };
	struct query q = { .allowed = { "pid", "seconds", "hz", "kernel",
					"debug", "unwind" } };
	const union MHD_ConnectionInfo *ci;
	struct session *s = NULL;
	struct proc_ids ids;
	bool sent;
	unsigned long long v;
	const char *arg;
	void *buf = NULL;
	size_t len = 0;
	uid_t owner = 0;
	int r, fd = -1;
	enum MHD_Result ret;

	lim = session_mgr__limits(a->m);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_arg, &q);
	if (q.bad)
		return send_text(c, 400, "unknown parameter \"%s\" (allowed: pid, seconds, hz, kernel, unwind)\n",
				 q.bad);
	if (q.dup)
		return send_text(c, 400, "parameter \"%s\" given more than once\n", q.dup);
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pid");
	if (!arg)
		return send_text(c, 400, "missing parameter pid: which process to profile\n");
	if (parse_uint(arg, 1, 0x7fffffff, &v) < 0)
		return send_text(c, 400, "bad pid \"%s\": want a positive integer\n", arg);
	req.pid = (pid_t)v;
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seconds");
	if (arg && parse_uint(arg, 1, lim->max_seconds, &v) < 0)
		return send_text(c, 400, "bad seconds \"%s\": want an integer from 1 to %u\n",
				 arg, lim->max_seconds);
	if (arg)
		req.seconds = (unsigned)v;
	else if (req.seconds > lim->max_seconds)
		req.seconds = lim->max_seconds;
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "hz");
	if (arg && parse_uint(arg, 1, lim->max_hz, &v) < 0)
		return send_text(c, 400, "bad hz \"%s\": want an integer from 1 to %u\n",
				 arg, lim->max_hz);
	if (arg)
		req.hz = (unsigned)v;
	if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, "kernel",
					  6, &arg, NULL) == MHD_YES &&
	    parse_bool(arg, &req.kernel) < 0)
		return send_text(c, 400, "bad kernel \"%s\": want 1 or 0\n", arg);
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "debug");
	if (arg && strcmp(arg, "0"))
		return send_text(c, 400, "debug=%s: only the protobuf format (debug=0) is served\n",
				 arg);
	if (!unwind_arg(c, &arg, &req.fp_only))
		return send_text(c, 400, "bad unwind \"%s\": want dwarf (default) or fp\n",
				 arg);

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

	r = session__start(a->m, &req, &s);
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
		return MHD_NO;	/* close the connection */
	}
	if (r == -ECANCELED) {
		session__free(a->m, s);
		return send_text(c, 503, "profd is shutting down\n");
	}
	r = session__finish(a->m, s, &buf, &len);
	session__free(a->m, s);
	/* Symbolizing frees a lot of short-lived memory: give it back to
	 * the system rather than let RSS keep its high-water mark. */
	malloc_trim(0);
	if (r < 0) {
		log_err_errno(r, "Failed to build the profile of pid %d: %m",
			      req.pid);
		return send_text(c, 500, "failed to build the profile: %s\n",
				 strerror(-r));
	}
	ret = send_blob(c, buf, len, "application/octet-stream", "profile");
	return ret;
}


/* Common checks of the heap endpoints: parameters, pid, permission. */
static enum MHD_Result heap_args(struct api *a, struct MHD_Connection *c,
				 const struct peer *peer, bool with_window,
				 pid_t *ret_pid, uint64_t *ret_sample,
				 unsigned *ret_flags, unsigned *ret_seconds,
				 bool *ret_exited, bool *ret_sent)
{
	struct query q = { .allowed = { "pid", "sample_bytes", "unwind", "mode",
					"seconds", "debug", "gc" } };
	unsigned long long v;
	const char *arg;
	struct proc_ids ids;
	bool fp;
	uid_t owner = 0;
	int r;

	*ret_sent = true;
	if (!with_window)
		q.allowed[4] = q.allowed[5] = q.allowed[6] = NULL;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_arg, &q);
	if (q.bad)
		return send_text(c, 400, "unknown parameter \"%s\" (allowed: pid, sample_bytes, unwind, mode%s)\n",
				 q.bad, with_window ? ", seconds" : "");
	if (q.dup)
		return send_text(c, 400, "parameter \"%s\" given more than once\n", q.dup);
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pid");
	if (!arg)
		return send_text(c, 400, "missing parameter pid: which process\n");
	if (parse_uint(arg, 1, 0x7fffffff, &v) < 0)
		return send_text(c, 400, "bad pid \"%s\": want a positive integer\n", arg);
	*ret_pid = (pid_t)v;
	*ret_sample = 0;
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sample_bytes");
	if (arg && parse_uint(arg, 1, 1ULL << 40, &v) < 0)
		return send_text(c, 400, "bad sample_bytes \"%s\": want an integer from 1 (every allocation) up\n",
				 arg);
	if (arg)
		*ret_sample = v;
	if (!unwind_arg(c, &arg, &fp))
		return send_text(c, 400, "bad unwind \"%s\": want dwarf (default) or fp\n",
				 arg);
	*ret_flags = fp ? HEAP_FP_ONLY : 0;
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode");
	if (arg && strcmp(arg, "uprobe") && strcmp(arg, "inproc"))
		return send_text(c, 400, "bad mode \"%s\": want uprobe (default: a uprobe on each allocator call) or inproc (sampled inside the process by profd's agent)\n",
				 arg);
	if (arg && !strcmp(arg, "inproc"))
		*ret_flags |= HEAP_INPROC;
	*ret_seconds = 10;
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seconds");
	if (arg && parse_uint(arg, 0, session_mgr__limits(a->m)->max_seconds, &v) < 0)
		return send_text(c, 400, "bad seconds \"%s\": want an integer from 0 to %u\n",
				 arg, session_mgr__limits(a->m)->max_seconds);
	if (arg)
		*ret_seconds = (unsigned)v;
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "debug");
	if (arg && strcmp(arg, "0"))
		return send_text(c, 400, "debug=%s: only the protobuf format (debug=0) is served\n",
				 arg);
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
	*ret_sent = false;
	return MHD_YES;
}

/*
 * In-process mode writes into the target, as a debugger would: for users
 * other than root, only into processes they may debug — not those made
 * non-dumpable (PR_SET_DUMPABLE 0, setuid programs), the files of whose
 * /proc/PID the kernel gives to root. True when refused (the answer sent).
 */
static bool inproc_refused(struct MHD_Connection *c, const struct peer *peer,
			   pid_t pid, unsigned flags, enum MHD_Result *ret)
{
	char path[40];
	struct stat st;

	if (!(flags & HEAP_INPROC) || peer->uid == 0)
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
		return send_text(c, r == -EACCES ? 403 : r == -EAGAIN ? 503 :
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
	case -ECANCELED:
		return send_text(c, 503, "profd is shutting down\n");
	default:
		return send_text(c, 500, "cannot track the heap of pid %d: %s\n",
				 pid, strerror(-r));
	}
}

static enum MHD_Result handle_heap_start(struct api *a, struct MHD_Connection *c,
					 const struct peer *peer, bool stop)
{
	struct heap_start_info info;
	uint64_t sample;
	unsigned seconds, flags;
	bool sent, exited, fp;
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
		if (r == 1) {
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
	fp = flags & HEAP_FP_ONLY;
	if (info.already && sample && sample != info.sample_bytes)
		return send_text(c, 200, "pid %d already heap-tracked with sample_bytes %llu (allocator %s); the requested %llu is not applied: stop and start again to change it\n",
				 pid, (unsigned long long)info.sample_bytes,
				 info.allocator, (unsigned long long)sample);
	if (info.already && MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "unwind") &&
	    fp != info.fp_only)
		return send_text(c, 200, "pid %d already heap-tracked with %s stacks (allocator %s); the requested unwind=%s is not applied: stop and start again to change it\n",
				 pid, info.fp_only ? "frame-pointer" : "DWARF",
				 info.allocator, fp ? "fp" : "dwarf");
	if (info.already && MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode") &&
	    !!(flags & HEAP_INPROC) != info.inproc)
		return send_text(c, 200, "pid %d already heap-tracked in %s mode (allocator %s); the requested mode is not applied: stop and start again to change it\n",
				 pid, info.inproc ? "inproc" : "uprobe",
				 info.allocator);
	if (info.already)
		return send_text(c, 200, "pid %d already heap-tracked (%s mode, allocator %s, sample_bytes %llu)\n",
				 pid, info.inproc ? "inproc" : "uprobe",
				 info.allocator,
				 (unsigned long long)info.sample_bytes);
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

static enum MHD_Result handle_heap(struct api *a, struct MHD_Connection *c,
				   const struct peer *peer, bool allocs)
{
	const union MHD_ConnectionInfo *ci;
	struct heap_start_info info;
	uint64_t sample;
	unsigned seconds;
	void *buf = NULL;
	size_t len = 0;
	bool sent, exited;
	unsigned flags;
	char err[512];
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
	r = heap__start(a->heap, pid, peer->uid, sample, flags, &info, err,
			sizeof(err));
	if (r < 0)
		return heap_start_error(c, pid, r, err);
	/* A profile cannot carry a warning: a mode asked for and not in
	 * force is an error, not a quiet surprise. */
	if (info.already && MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode") &&
	    !!(flags & HEAP_INPROC) != info.inproc)
		return send_text(c, 409, "pid %d is heap-tracked in %s mode; the requested mode=%s does not apply to a tracked process: stop it first (profctl heap stop --pid %d)\n",
				 pid, info.inproc ? "inproc" : "uprobe",
				 flags & HEAP_INPROC ? "inproc" : "uprobe", pid);
	if (!info.already)
		log_debug("heap: tracking pid %d for uid %u on a pull (%s, %u probes)",
			  pid, (unsigned)peer->uid, info.allocator, info.probes);
	if (!info.already && seconds) {
		/* Newly tracked: let allocations accumulate first. */
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			fd = ci->connect_fd;
		r = heap__wait(a->heap, pid, info.generation, seconds, fd);
		if (r == -ECONNRESET)
			return MHD_NO;
		if (r == -ECANCELED)
			return send_text(c, 409, "heap tracking of pid %d was stopped while this request waited\n",
					 pid);
		if (r == -ESHUTDOWN)
			return send_text(c, 503, "profd is shutting down\n");
		/* -ESRCH: it exited while we waited; its heap at exit is
		 * what the snapshot below gives. */
	}
snapshot:
	r = heap__snapshot(a->heap, pid, allocs, &buf, &len);
	if (r == -ENOENT)
		return send_text(c, 409, "heap tracking of pid %d ended before the snapshot\n",
				 pid);
	if (r < 0)
		return send_text(c, 500, "failed to build the heap profile: %s\n",
				 strerror(-r));
	return send_blob(c, buf, len, "application/octet-stream", "profile");
}

static enum MHD_Result handle_status(struct api *a, struct MHD_Connection *c,
				     const struct peer *peer)
{
	struct session_mgr_stats st;
	struct heap_stats hs;
	char *body = NULL, sessions[16384], heapprocs[16384], poisoned[8192];
	int n;

	session_mgr__stats(a->m, &st);
	session_mgr__sessions_json(a->m, peer->uid, sessions, sizeof(sessions));
	heap__stats(a->heap, &hs);
	/* Which processes are heap-tracked is root's to see. */
	if (peer->uid == 0) {
		heap__procs_json(a->heap, heapprocs, sizeof(heapprocs));
		heap__poisoned_json(a->heap, poisoned, sizeof(poisoned));
	} else {
		strcpy(heapprocs, "[]");
		strcpy(poisoned, "[]");
	}
	n = asprintf(&body,
		     "{\"version\":\"%s\",\"uptime_seconds\":%.3f,"
		     "\"sessions_active\":%u,\"sessions_total\":%u,"
		     "\"samples_total\":%" PRIu64 ",\"samples_matched\":%" PRIu64
		     ",\"samples_lost\":%" PRIu64 ",\"samples_dropped\":%" PRIu64
		     ",\"windows_missing_samples\":%" PRIu64
		     ",\"user_stack_errors\":%" PRIu64
		     ",\"kernel_stack_errors\":%" PRIu64
		     ",\"maps_refreshes\":%" PRIu64
		     ",\"unwind\":{\"dwarf\":%" PRIu64 ",\"truncated\":%" PRIu64
		     ",\"no_stack_copy\":%" PRIu64 ",\"errors\":%" PRIu64
		     ",\"cfi_cache_hits\":%" PRIu64 ",\"cfi_cache_misses\":%" PRIu64 "}"
		     ",\"sampler\":{\"periods_active\":%u,\"targets_active\":%u}"
		     ",\"symbolizer\":{\"binaries\":%" PRIu64
		     ",\"binaries_idle\":%" PRIu64 ",\"bytes_estimate\":%" PRIu64
		     ",\"bytes_max\":%" PRIu64 ",\"hits\":%" PRIu64
		     ",\"misses\":%" PRIu64 ",\"evictions\":%" PRIu64 "}"
		     ",\"heap\":{\"tracked\":%u,\"live_max\":%" PRIu64
		     ",\"dropped_live_full\":%" PRIu64
		     ",\"dropped_allocs_full\":%" PRIu64
		     ",\"unpaired\":%" PRIu64 ",\"stack_errors\":%" PRIu64
		     ",\"read_errors\":%" PRIu64 ",\"event_buffer_full\":%" PRIu64
		     ",\"dwarf_stacks\":%" PRIu64 ",\"dwarf_truncated\":%" PRIu64
		     ",\"dwarf_failed\":%" PRIu64
		     ",\"agents_pending_off\":%" PRIu64
		     ",\"agents_left_on\":%" PRIu64
		     ",\"agents_dropped_exec\":%" PRIu64
		     ",\"agents_poisoned\":%" PRIu64 ",\"poisoned\":%s"
		     ",\"procs\":%s}"
		     ",\"sessions\":%s}\n",
		     PROFD_VERSION, (double)st.uptime_ns / 1e9,
		     st.sessions_active, st.sessions_total, st.samples_total,
		     st.samples_matched, st.samples_lost, st.samples_dropped,
		     st.windows_missing_samples, st.user_stack_errors, st.kernel_stack_errors,
		     st.maps_refreshes, st.unwound, st.unwind_truncated,
		     st.unwind_no_copy, st.unwind_errors, st.sym.cfi_hits,
		     st.sym.cfi_misses, st.periods_active, st.targets_active,
		     st.sym.binaries, st.sym.binaries_idle,
		     st.sym.bytes_estimate, st.sym.bytes_max, st.sym.hits,
		     st.sym.misses, st.sym.evictions, hs.procs, hs.live_max,
		     hs.errors[PROFD_HEAP_ERR_LIVE_FULL],
		     hs.errors[PROFD_HEAP_ERR_ALLOCS_FULL],
		     hs.errors[PROFD_HEAP_ERR_PENDING_FULL],
		     hs.errors[PROFD_HEAP_ERR_STACK],
		     hs.errors[PROFD_HEAP_ERR_READ],
		     hs.errors[PROFD_HEAP_ERR_EVENT], hs.dw_events,
		     hs.dw_truncated, hs.dw_failed, hs.agents_pending_off,
		     hs.agents_left_on, hs.agents_dropped_exec,
		     hs.agents_poisoned, poisoned, heapprocs, sessions);
	if (n < 0)
		return MHD_NO;
	return send_blob(c, body, (size_t)n, "application/json", NULL);
}

static enum MHD_Result handle_index(struct MHD_Connection *c)
{
	return send_text(c, 200,
			 "profd %s\n\n"
			 "/debug/pprof/profile?pid=P&seconds=N[&hz=F][&kernel=1]  CPU profile (gzip pprof)\n"
			 "/debug/pprof/heap?pid=P[&seconds=S][&sample_bytes=N][&unwind=fp]   live heap (inuse_space)\n"
			 "/debug/pprof/allocs?pid=P[&seconds=S][&sample_bytes=N][&unwind=fp] allocations (alloc_space)\n"
			 "POST /v1/heap/start?pid=P[&sample_bytes=N][&unwind=fp], /v1/heap/stop?pid=P\n"
			 "/v1/status                                             daemon status (JSON)\n",
			 PROFD_VERSION);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	static int first_call_marker;
	struct api *a = cls;
	const union MHD_ConnectionInfo *ci;
	struct peer peer = {};
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
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	r = ci ? access__peer(ci->connect_fd, &peer) : -EBADF;
	if (r < 0)
		return send_text(c, 403, "cannot identify the caller: %s\n",
				 strerror(-r));

	if (!strcmp(url, "/v1/heap/start") || !strcmp(url, "/v1/heap/stop")) {
		if (strcmp(method, "POST"))
			return send_405(c, "POST", "method %s not allowed on %s (use POST)\n",
					method, url);
		return handle_heap_start(a, c, &peer, !strcmp(url, "/v1/heap/stop"));
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return send_405(c, "GET, HEAD",
				"method %s not allowed on %s (use GET)\n", method, url);
	if (!strcmp(url, "/debug/pprof/heap"))
		return handle_heap(a, c, &peer, false);
	if (!strcmp(url, "/debug/pprof/allocs"))
		return handle_heap(a, c, &peer, true);
	if (!strcmp(url, "/debug/pprof/profile"))
		return handle_profile(a, c, &peer);
	if (!strcmp(url, "/v1/status"))
		return handle_status(a, c, &peer);
	if (!strcmp(url, "/debug/pprof/") || !strcmp(url, "/debug/pprof") ||
	    !strcmp(url, "/"))
		return handle_index(c);
	return send_text(c, 404, "unknown profile or path: %s\n", url);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = 0;
	log_debug("http: %s", buf);
}

int api__start(const struct api_config *cfg, struct session_mgr *m,
	       struct heap_tracker *heap, struct api **ret)
{
	int fds[2] = { cfg->unix_fd, cfg->tcp_fd }, i, n = 0;
	struct api *a;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->m = m;
	a->heap = heap;
	for (i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		a->d[n] = MHD_start_daemon(
			/* ITC: a pipe to wake the listening thread, so
			 * quiesce and stop act at once on SIGTERM. */
			MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_INTERNAL_POLLING_THREAD |
				MHD_USE_ITC | MHD_USE_ERROR_LOG,
			0, NULL, NULL, handler, a,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			MHD_OPTION_LISTEN_SOCKET, fds[i],
			MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
			/* Idle clients (slowloris) are dropped; a request
			 * waiting out its window is not idle. */
			MHD_OPTION_CONNECTION_TIMEOUT, 30u,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
			MHD_OPTION_END);
		if (!a->d[n]) {
			api__stop(a);
			return -EIO;
		}
		n++;
	}
	*ret = a;
	return 0;
}

void api__stop(struct api *a)
{
	int i;

	if (!a)
		return;
	for (i = 0; i < 2; i++) {
		if (!a->d[i])
			continue;
		(void)MHD_quiesce_daemon(a->d[i]);
		MHD_stop_daemon(a->d[i]);
	}
	free(a);
}
