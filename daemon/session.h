/* SPDX-License-Identifier: GPL-2.0 */
/*
 * session: profiling windows. The manager owns every session, the shared
 * per-process state and the reconciliation of what the sampler does with
 * what the sessions want. Sample dispatch runs on the main thread; API
 * threads start, wait for and finish sessions. One lock guards it all:
 * the work under it is small (a table lookup and a counter per sample);
 * unwinding and map refreshes run outside it, on a held proc (lock
 * order: main.c).
 */
#ifndef PROFD_SESSION_H
#define PROFD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profd_abi.h"
#include "sampler.h"
#include "symbolizer.h"

struct session_mgr;
struct session;

/* Longest name a caller may give its window (apiparse checks it). */
#define SESSION_WINDOW_MAX 32

struct session_limits {
	unsigned max_sessions;		/* concurrent, all users */
	unsigned max_sessions_per_uid;
	unsigned max_seconds;
	unsigned max_hz;
	size_t max_stacks;		/* distinct stacks per session */
};

struct session_req {
	pid_t pid;
	unsigned seconds;
	unsigned hz;
	bool kernel;
	bool fp_only;			/* frame pointers only, no DWARF */
	uid_t uid;			/* the caller */
	char window[SESSION_WINDOW_MAX + 1];	/* the caller's name for the
					 * window (session_mgr__end()), or "" */
};

/* How a window ended. */
enum session_end {
	SESSION_END_FULL,		/* its seconds ran out */
	SESSION_END_EXITED,		/* early: the process exited */
	SESSION_END_ASKED,		/* early: session_mgr__end() */
	SESSION_END_MAX,
};

struct session_mgr_stats {
	uint64_t uptime_ns;
	unsigned sessions_active, sessions_total;
	uint64_t samples_total, samples_matched, samples_lost;
	uint64_t samples_dropped;	/* distinct-stack tables full */
	uint64_t windows_missing_samples;	/* CPU used, samples not seen */
	uint64_t user_stack_errors, kernel_stack_errors;
	uint64_t maps_refreshes;
	uint64_t unwound, unwind_truncated, unwind_no_copy, unwind_errors;
	unsigned periods_active, targets_active;
	struct symbolizer_stats sym;
};

struct execwatch;
struct proc_cache;
/* @w: which program image a process runs; windows are bound to one (or,
 * after an exec, to the images their caller may profile). @pc: the
 * process cache (proc.h), shared with the heap tracker. */
int session_mgr__new(const struct session_limits *lim, struct symbolizer *sym,
		     struct execwatch *w, struct proc_cache *pc,
		     struct session_mgr **ret);
void session_mgr__free(struct session_mgr *m);
/* The sampler callback. Main thread. */
void session_mgr__on_sample(void *ctx, const struct profd_cpu_sample *s);
/* @wake_fd: an eventfd the main loop polls; written to request a drain. */
void session_mgr__set_sampler(struct session_mgr *m, struct sampler *s,
			      int wake_fd);
/*
 * session_mgr__set_extra() - the every-process targets (tgid 0) of
 * continuous collection (continuous.h), sampled besides the windows'
 * (reconciled now and whenever windows open or close). At most
 * PROFD_MAX_PERIODS. 0 or -errno (the previous targets stay).
 */
int session_mgr__set_extra(struct session_mgr *m,
			   const struct sampler_target *t, size_t n);
/* /proc/kallsyms, read once and shared; lives as long as @m. NULL when
 * unreadable. */
struct kallsyms;
struct kallsyms *session_mgr__kallsyms(struct session_mgr *m);
/* Main loop: one drain pass is complete. */
void session_mgr__drained(struct session_mgr *m);
/* Wake and fail every waiting session: the daemon is stopping. */
void session_mgr__shutdown(struct session_mgr *m);
/* Wait (bounded) until no session is open, after a shutdown. */
void session_mgr__wait_idle(struct session_mgr *m, unsigned timeout_ms);
const struct session_limits *session_mgr__limits(struct session_mgr *m);
void session_mgr__stats(struct session_mgr *m, struct session_mgr_stats *ret);
struct json;
struct peer;
/* Member "sessions" of @j's open object: the active sessions @viewer may
 * see (access__may_see_session()). */
void session_mgr__sessions_json(struct session_mgr *m,
				const struct peer *viewer, struct json *j);

/*
 * session__start() - validate against limits, hold the process, check the
 * caller against the program image it runs (access__check_image()) and
 * begin sampling. Samples of an image an exec brings later are checked
 * against the caller again when they arrive, and left out when denied.
 * Errors: -ESRCH no such process, -EACCES the caller may not profile the
 * image it runs now, -EINVAL bad request, -EUSERS the caller's session
 * cap, -EBUSY the daemon's session cap, -E2BIG too many distinct
 * frequencies, -EAGAIN it kept executing programs while checked, others
 * from BPF/perf (-EPERM: profd's privileges).
 */
int session__start(struct session_mgr *m, const struct session_req *req,
		   struct session **ret);

/*
 * session__wait() - block until the window ends: its seconds run out, its
 * process exits, or session_mgr__end() ends it early (the profile then
 * covers, and its duration is, the time until then). Polls @conn_fd (if
 * >= 0) for the client hanging up. 0, -ECONNRESET (client gone) or
 * -ECANCELED (daemon stopping).
 */
int session__wait(struct session_mgr *m, struct session *s, int conn_fd);

/* How @s ended (after session__wait()), and its length in *@ret_ns. */
enum session_end session__ended(const struct session *s, uint64_t *ret_ns);

/*
 * session_mgr__end() - end the open windows of process @pid that caller
 * @uid started (named @window, unless it is ""), as if their seconds had
 * run out now: they answer with what they collected. Only windows @uid
 * started itself, whoever @uid is (root too): a window is its caller's.
 * Returns how many it ended.
 */
unsigned session_mgr__end(struct session_mgr *m, pid_t pid, uid_t uid,
			  const char *window);

/* Stop sampling and build the gzip'd pprof. 0 or -errno. */
int session__finish(struct session_mgr *m, struct session *s, void **ret_buf,
		    size_t *ret_len);

/* Release everything the session holds. NULL ok. */
void session__free(struct session_mgr *m, struct session *s);

#endif /* PROFD_SESSION_H */
