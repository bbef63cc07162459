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

/* Answers every endpoint shares (api_int.h). */

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

enum MHD_Result api__send_text(struct MHD_Connection *c, unsigned status,
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
enum MHD_Result api__send_405(struct MHD_Connection *c, const char *allow,
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
enum MHD_Result api__send_blob(struct MHD_Connection *c, void *buf,
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
enum MHD_Result api__send_bad_request(struct MHD_Connection *c, int r,
				      char *err)
{
	enum MHD_Result ret;

	if (r == -ENOMEM || !err)
		return MHD_NO;
	ret = api__send_text(c, 400, "%s", err);
	free(err);
	return ret;
}

/*
 * A thread id or a kernel thread would give an empty profile: say so.
 * Returns true when an error was sent.
 */
bool api__not_a_process(struct MHD_Connection *c, pid_t pid,
			const struct proc_ids *ids, bool heap)
{
	if (ids->kthread) {
		api__send_text(c, 400, "pid %d is a kernel thread (%s): it has no user space to %s\n",
			       pid, ids->comm,
			       heap ? "allocate from" :
				      "profile; to see kernel frames, profile a user process with --kernel (profctl) or kernel=1 (HTTP)");
		return true;
	}
	if (ids->tgid > 0 && ids->tgid != pid && heap) {
		api__send_text(c, 400, "pid %d is a thread of process %d: the heap is the process's; track pid %d\n",
			       pid, ids->tgid, ids->tgid);
		return true;
	}
	if (ids->tgid > 0 && ids->tgid != pid) {
		api__send_text(c, 400, "pid %d is a thread of process %d: profile pid %d (its samples carry tid=%d for -tagfocus)\n",
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
bool api__unreadable(struct MHD_Connection *c, pid_t pid,
		     enum MHD_Result *ret)
{
	const char *what;
	bool cap;
	int r;

	r = access__self_may_read(pid, &cap, &what);
	if (r != -EACCES && r != -EPERM)
		return false;	/* readable, or gone: later steps say so */
	if (!cap)
		*ret = api__send_text(c, 500, "profd may not read /proc/%d/%s (%s): profd runs without CAP_SYS_PTRACE, which the kernel requires for another user's or a non-dumpable process (profd.service grants it)\n",
				      pid, what, strerror(-r));
	else
		*ret = api__send_text(c, 500, "profd may not read /proc/%d/%s (%s) although it holds CAP_SYS_PTRACE: the kernel refuses profd access to pid %d (a security module such as Yama, AppArmor, SELinux or Landlock, a user-namespace boundary, or a process holding capabilities profd lacks)\n",
				      pid, what, strerror(-r), pid);
	return true;
}

