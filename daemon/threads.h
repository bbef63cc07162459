/* SPDX-License-Identifier: GPL-2.0 */
/*
 * threads: a snapshot of every thread of a process, now (Go's goroutine
 * profile): a sleepable BPF task iterator (bpf/threads.bpf.c) reads each
 * thread's saved user registers and the top of its user stack without
 * stopping it; the stacks are DWARF-unwound here and counted per
 * identical stack, as pprof (goroutine/count, labels tid, thread, state,
 * wchan) or as text like Go's goroutine?debug=2 dump. One snapshot at a
 * time (the iterator's per-CPU buffer), read as a stream: each thread's
 * record (PROFD_THREAD_STACK_PAGES of stack; PROFD_THREAD_STACK_MAX_PAGES
 * for PROFD_THREAD_DEEP threads whose walk needs more: further passes)
 * is unwound as it is read and its copy let go, so what a snapshot holds
 * is 1 MiB of buffer and its threads' unwound stacks and labels, at most
 * THREADS_MEM_MAX (~300 bytes a thread and 8 a frame: some 100,000
 * threads of 30 frames; building the profile or the text takes about
 * as much again); threads past that are counted and said.
 */
#ifndef PROFD_THREADS_H
#define PROFD_THREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "execwatch.h"
#include "symbolizer.h"

#define THREADS_MEM_MAX (64u << 20)	/* bytes a snapshot holds */

struct threads;

struct threads_req {
	pid_t pid;
	uid_t uid;
	bool text;		/* debug=1|2: the text dump */
};

/* The BPF program is loaded at the first snapshot; processes come from
 * the shared cache @pc (proc.h). 0 or -errno. */
struct proc_cache;
int threads__new(struct proc_cache *pc, struct execwatch *w,
		 uint32_t pidns_inum, struct threads **ret);
void threads__free(struct threads *t);

/*
 * threads__snapshot() - hold @req->pid, check @req->uid against its image
 * (target__bind()), read every thread. *@ret_buf: gzip'd pprof, or with
 * @req->text a NUL-free text (malloc'd). 0; -ESRCH, -EACCES, -EAGAIN as
 * target__bind(); -EPERM (BPF privileges); -errno.
 */
int threads__snapshot(struct threads *t, const struct threads_req *req,
		      void **ret_buf, size_t *ret_len);

/* One thread as threads__each() passes it (borrowed for the call). */
struct threads_thread {
	uint32_t tid;
	char state;			/* /proc's letter: R, S, D, ... */
	const char *comm;
	const uint64_t *ips;		/* leaf first (the pc, then returns) */
	unsigned n;			/* 0: the stack could not be read */
	bool truncated;
	const uint64_t *kips;		/* where it waits in the kernel */
	unsigned nk;			/* 0: not read (running) */
};

typedef void (*threads_cb)(void *ctx, const struct threads_thread *th);

struct proc;
/*
 * threads__each() - read every thread of process @pid (held by the
 * caller: /proc/PID is @dirfd, its mappings @p, checked already) and call
 * @cb for each. For other modules that need the stacks of now (offcpu:
 * the threads already waiting when a window opens). 0 or -errno.
 */
int threads__each(struct threads *t, pid_t pid, int dirfd, struct proc *p,
		  threads_cb cb, void *ctx);

#endif /* PROFD_THREADS_H */
