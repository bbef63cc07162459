/* SPDX-License-Identifier: GPL-2.0 */
/*
 * threads' insides, shared by its two files: threads.c (the snapshot
 * read: BPF task iterator, streaming parse, unwinding, deeper passes)
 * and threads_profile.c (what is shown: pprof per stack, or text).
 */
#ifndef PROFD_THREADS_INT_H
#define PROFD_THREADS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profd_abi.h"
#include "threads.h"

struct threads {
	pthread_mutex_t lock;		/* one snapshot at a time */
	struct proc_cache *pc;		/* processes, shared (proc.h) */
	struct symbolizer *sym;
	struct execwatch *w;
	uint32_t pidns_inum;
	struct threads_bpf *skel;	/* NULL until the first snapshot */
};

/* One thread as shown. */
struct thread {
	uint32_t tid;
	uint32_t flags;			/* AGG_F_* */
	char state;			/* /proc's letter */
	char comm[16];
	char wchan[64];
	uint64_t hash;
	uint64_t *ips;			/* leaf first */
	unsigned n;
	uint64_t *kips;			/* kernel frames, leaf first */
	unsigned nk;
	bool unreadable;		/* no registers or stack */
	bool running;
	/* Its walk ran out of the first copy: read on (threads__deepen()). */
	uint8_t *deep;			/* the stack from sp, so far */
	size_t deep_len;
	uint64_t regs[PROFD_NREGS];
};

/* A snapshot's threads as they are read. */
struct snap {
	struct symbolizer *sym;
	struct proc *p;
	int dirfd;
	uint64_t *scratch;		/* UNWIND_MAX_FRAMES */
	struct thread *ths;
	size_t n, cap;
	size_t mem;			/* bytes held for them */
	size_t unread;			/* threads past THREADS_MEM_MAX */
	size_t ndeep;
};

/* threads.c */
/* Read and unwind every thread of @pid into @sn (@sn->p, dirfd, sym and
 * scratch set). Takes t->lock. 0 or -errno. */
int threads__collect(struct threads *t, pid_t pid, struct snap *sn);
/* Read on the stacks of @sn's threads whose walk ran out of the first
 * copy (th->deep), up to PROFD_THREAD_STACK_MAX_PAGES. Takes t->lock. */
void threads__deepen(struct threads *t, pid_t pid, struct snap *sn);
/* What @sn holds (not @sn itself). */
void threads__free_snap(struct snap *sn);

#endif /* PROFD_THREADS_INT_H */
