/* SPDX-License-Identifier: GPL-2.0 */
/*
 * agent: profd's in-process heap agent (libprofd_heap.so) in a target
 * process — load it (dlopen, called through ptrace), switch it on and off.
 * See include/profd_agent.h for the contract and agent/heap_agent.c for
 * what runs in the process.
 *
 * Calls into the process are made from a thread stopped outside the
 * allocator, the dynamic linker, fork and the agent itself (checked by
 * unwinding it), since the called code allocates and takes the loader
 * lock. Each call stops one thread for about a millisecond.
 */
#ifndef PROFD_AGENT_DAEMON_H
#define PROFD_AGENT_DAEMON_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolizer.h"

#define AGENT_MAX_UNSAFE 8

struct agent {
	pid_t pid;
	uint64_t start_time;		/* the process's identity */
	uint64_t lo, hi;		/* its code in the process */
	uint64_t on_addr, off_addr;
	struct {
		uint64_t lo, hi;
	} unsafe[AGENT_MAX_UNSAFE];	/* no calls from a thread in there */
	unsigned nunsafe;
	long slots;			/* GOT entries redirected (last on) */
	char allocator[256];		/* the library malloc comes from */
	struct agent *next;		/* the caller's list */
	unsigned tries;			/* the caller's: switch-off attempts */
	uint64_t next_try_ns;
};

/*
 * agent__probes() - where profd attaches in the agent at @lib: its real
 * path into @real, the file offsets of the alloc and free probe points
 * into @ret_offs. 0, or -errno with a sentence in @err.
 */
int agent__probes(const char *lib, char *real, size_t realsize,
		  uint64_t ret_offs[2], char *err, size_t errlen);

/*
 * agent__load() - make sure @pid has the agent at @lib loaded, and find
 * its entry points. @allocator: the library (path as mapped) that
 * provides malloc. On failure, a sentence for the user in @err.
 * -EXDEV: the process does not see @lib (a container); -EPERM: seccomp
 * or not traceable; -ESTALE: it holds an older, replaced agent;
 * -ENOTSUP: no glibc, or malloc in the executable; -ESRCH; -ENOEXEC:
 * dlopen failed; -EAGAIN: never stopped at a safe point; -EINTR: its
 * threads all slept where a stop would show (inject__call()); -errno.
 */
int agent__load(struct symbolizer *sym, pid_t pid, const char *lib,
		const char *allocator, struct agent *ret, char *err,
		size_t errlen);

/* Switch sampling on (see profd_heap_on). 0 or -errno; a->slots set. */
int agent__on(struct agent *a, struct symbolizer *sym, uint64_t sample_bytes,
	      uint32_t epoch, uint64_t max_live);

/* Switch it off and restore the GOT. 0 (also when the process is gone)
 * or -errno. */
int agent__off(struct agent *a, struct symbolizer *sym);

#endif /* PROFD_AGENT_DAEMON_H */
