/* SPDX-License-Identifier: GPL-2.0 */
/*
 * profile: turn aggregated raw stacks of one process into a symbolized
 * pprof — the symbolize → pprof stages of the pipeline. Each unique
 * address is symbolized once per profile.
 */
#ifndef PROFD_PROFILE_H
#define PROFD_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "kallsyms.h"
#include "pprof.h"
#include "proc.h"
#include "profd_abi.h"

/* The samples of one program image of the process (an exec starts
 * another), with the mappings they are symbolized against. */
struct profile_cpu_part {
	struct proc *proc;
	const struct aggregate *agg;
	/* Profiles of several processes (continuous.h) label each sample
	 * with its process: pid (0: the desc's), comm and service_name
	 * (NULL: no such label). */
	pid_t pid;
	const char *comm;
	const char *service;
};

/*
 * Symbolized addresses kept from one profile to the next, for a producer
 * that builds many (continuous.c): at most @max_entries, each holding a
 * reference on its binary (so clear it now and then: it keeps binaries
 * the symbolizer would have let go). Not thread-safe: one builder.
 */
struct profile_symcache;
/* 0 and *ret set, or -ENOMEM (*ret untouched). */
int profile_symcache__new(size_t max_entries, struct profile_symcache **ret);
void profile_symcache__clear(struct profile_symcache *c);
void profile_symcache__free(struct profile_symcache *c);	/* NULL ok */
struct sym_binary;
struct sym_frame;
/*
 * profile_symcache__lookup() - sym_binary__lookup() of @off in @bin
 * through @c (NULL: no cache): @c's copy when it has one of @bin's
 * current debug state, else a lookup that it keeps. Returns as
 * sym_binary__lookup(): frames written to @frames (at most @max), or
 * -errno.
 */
int profile_symcache__lookup(struct profile_symcache *c,
			     struct sym_binary *bin, uint64_t off,
			     struct sym_frame *frames, int max);

/*
 * What a profile built by profile__build_cpu() counts: CPU samples, or,
 * in Go's conventions (runtime/pprof), waits (block: off CPU; mutex:
 * futex waits: contentions/count, delay/nanoseconds, a stack's count and
 * value) and created threads (threadcreate/count).
 */
enum profile_type {
	PROFILE_CPU = 0,
	PROFILE_BLOCK,
	PROFILE_MUTEX,
	PROFILE_THREADCREATE,
	PROFILE_GOROUTINE,		/* threads now, count per stack */
	PROFILE_TYPE_MAX,
};

/* Block profiles: the thread's state (enum profd_wait_state) + 1 in
 * these bits of a stack's aggregate flags, for the state label. */
#define PROFILE_STATE_SHIFT 8
#define PROFILE_STATE_MASK (3u << PROFILE_STATE_SHIFT)

struct profile_cpu_desc {
	enum profile_type type;		/* 0: CPU */
	struct profile_symcache *symcache;	/* NULL: none */
	pid_t pid;
	const char *comm;		/* the process's name at the start */
	const char *what;		/* NULL: "pid PID (COMM)" in the title */
	const struct profile_cpu_part *parts;	/* in the order they ran */
	size_t nparts;
	const struct kallsyms *ksyms;	/* NULL: kernel frames unsymbolized */
	uint64_t period_ns;
	int64_t time_nanos, duration_nanos;
	uint64_t lost_samples;		/* system-wide, during the window */
	bool process_exited;
	const char *const *comments;	/* extra comments, may be NULL */
	size_t ncomments;
	/* Goroutine profiles: the labels of the @i-th stack of the (one)
	 * part, in place of tid/thread (a key may repeat: one per thread).
	 * Borrowed until the next call. */
	size_t (*labels)(void *ctx, size_t i, const struct pprof_label **ret);
	void *labels_ctx;
};

/* Build the gzip'd pprof into a malloc'd buffer. 0 or -errno. */
int profile__build_cpu(const struct profile_cpu_desc *d, void **ret_buf,
		       size_t *ret_len);

struct profile_heap_entry {
	const uint64_t *ips;		/* return addresses, innermost first */
	unsigned n;
	bool truncated;			/* the walk ended early */
	int64_t alloc_objects, alloc_bytes;	/* sampled, unscaled */
	int64_t inuse_objects, inuse_bytes;
};

struct profile_heap_desc {
	struct proc *proc;
	const struct profile_heap_entry *e;
	size_t n;
	uint64_t sample_bytes;		/* <= 1: every allocation, no scaling */
	bool allocs_default;		/* /allocs: default to alloc_space */
	int64_t time_nanos;
	const char *const *comments;
	size_t ncomments;
};

/* Heap profile in Go's conventions, values scaled as Go scales them. */
int profile__build_heap(const struct profile_heap_desc *d, void **ret_buf,
			size_t *ret_len);

#endif /* PROFD_PROFILE_H */
