/* SPDX-License-Identifier: GPL-2.0 */
/*
 * offcpu: windows on where a process's threads wait — off CPU (Go's
 * block profile), in futex waits (mutex) — and where it creates threads
 * (threadcreate). Owns the wait tracer (bpf/offcpu.bpf.c, loaded at the
 * first window), its ring buffer and the thread that drains it; pairs
 * each wait's begin (stack, DWARF-unwound here) with its end and charges
 * the windows of that process. Bound like CPU windows: a target held
 * since the access check, the program image checked (records of another
 * image are counted and left out).
 *
 * Lock order: offcpu's lock only; unwinding runs under it on the drain
 * thread (API threads take it for a start and a finish).
 */
#ifndef PROFD_OFFCPU_H
#define PROFD_OFFCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "execwatch.h"
#include "profd_wait.h"
#include "symbolizer.h"

struct offcpu;
struct offcpu_window;

struct offcpu_limits {
	unsigned max_windows;		/* open at once, all kinds */
	unsigned max_seconds;
	size_t max_stacks;		/* distinct stacks per window */
	unsigned max_pending;		/* waits begun, not ended yet */
};

#define OFFCPU_WINDOW_MAX 32	/* as SESSION_WINDOW_MAX */

struct offcpu_req {
	enum profd_wait_what what;
	pid_t pid;
	unsigned seconds;
	bool kernel;
	bool fp_only;
	uid_t uid;
	char window[OFFCPU_WINDOW_MAX + 1];	/* the caller's name, or "" */
};

struct offcpu_stats {
	bool loaded;
	unsigned windows_active;
	uint64_t begins, ends, unpaired, pending_full, left_out;
	uint64_t unwound, unwind_errors;
	uint64_t repeats;		/* begins with the last stack again */
	uint64_t repeat_misses;		/* ... which profd no longer had */
	uint64_t repeat_cut;		/* full records whose repeats' key
					 * holds only part of their stack */
	uint64_t keys_lengthened;	/* threads given a longer key */
	uint64_t storage_reads;		/* threads' kernel state read at ends */
	uint64_t storage_errors;	/* ... that could not be read */
	uint64_t seeded;		/* threads off CPU at a window's start */
	uint64_t errors[PROFD_WAIT_ERR_MAX];	/* BPF side */
};

/* No BPF yet: that is loaded by the first window. 0 or -errno. */
struct threads;
/* @t reads the threads already off CPU when a block window opens. */
struct proc_cache;
/* Processes come from the shared cache @pc (proc.h), as CPU windows'. */
int offcpu__new(const struct offcpu_limits *lim, struct proc_cache *pc,
		struct execwatch *w, struct threads *t, uint32_t pidns_inum,
		struct offcpu **ret);
/* Stops the drain thread (windows must be closed). NULL ok. */
void offcpu__free(struct offcpu *o);
/* Fail waiting windows: the daemon is stopping. */
void offcpu__shutdown(struct offcpu *o);

/*
 * offcpu__start() - hold @req->pid, check @req->uid against its image
 * (target__bind()) and begin recording. Errors as session__start():
 * -ESRCH, -EACCES, -EINVAL, -EBUSY (windows cap), -EAGAIN, -ECANCELED,
 * -EPERM (BPF privileges), others from BPF.
 */
int offcpu__start(struct offcpu *o, const struct offcpu_req *req,
		  struct offcpu_window **ret);
/* Block until the window ends: 0, -ECONNRESET (@conn_fd hung up),
 * -ECANCELED (stopping). */
int offcpu__wait(struct offcpu *o, struct offcpu_window *win, int conn_fd);
/*
 * offcpu__end() - end the open wait windows on @pid that caller @uid
 * started (named @window, unless it is ""), as if their seconds ran out
 * now (as session_mgr__end()): they answer with what they collected.
 * Returns how many it ended.
 */
unsigned offcpu__end(struct offcpu *o, pid_t pid, uid_t uid,
		     const char *window);
/* After offcpu__wait(): did offcpu__end() end @win, and after how long
 * (*@ret_ns)? */
bool offcpu__ended_early(struct offcpu *o, struct offcpu_window *win,
			 uint64_t *ret_ns);
/* Stop recording and build the gzip'd pprof. 0 or -errno. */
int offcpu__finish(struct offcpu *o, struct offcpu_window *win,
		   void **ret_buf, size_t *ret_len);
/* NULL ok. */
void offcpu__close(struct offcpu *o, struct offcpu_window *win);

void offcpu__stats(struct offcpu *o, struct offcpu_stats *ret);

#endif /* PROFD_OFFCPU_H */
