/* SPDX-License-Identifier: GPL-2.0 */
/*
 * agent: profd's in-process heap agent (libprofd_heap.so) in a target
 * process — verify the file, load it (dlopen, called through ptrace),
 * switch it on and off, have it redirect libraries loaded since. See
 * include/profd_agent.h for the contract and agent/heap_agent.c for what
 * runs in the process.
 *
 * Calls into the process are made from a thread stopped outside the
 * allocator, the dynamic linker, fork and the agent itself (checked by
 * unwinding it), since the called code allocates and takes the loader
 * lock; each stops one thread for about a millisecond, with deadlines
 * (inject.h). An agent is bound to the program image it was loaded into:
 * after an exec it is gone, and nothing is called (or ptraced) there.
 * A call that faulted or hung leaves the process poisoned: never called
 * into again.
 */
#ifndef PROFD_AGENT_DAEMON_H
#define PROFD_AGENT_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"
#include "target.h"

#define AGENT_MAX_UNSAFE 8

struct agent {
	struct target t;		/* the process, the image it is in */
	uint64_t lo, hi;		/* its code in the process */
	uint64_t on_addr, off_addr, rescan_addr;
	struct {
		uint64_t lo, hi;
	} unsafe[AGENT_MAX_UNSAFE];	/* no calls from a thread in there */
	unsigned nunsafe;
	long slots;			/* GOT entries redirected (last call) */
	long errors;			/* entries it could not write */
	char allocator[256];		/* the library malloc comes from */
	bool poisoned;			/* a call faulted or hung: no more */
	char why[256];			/* then why */
	struct agent *next;		/* the caller's list */
	unsigned tries;			/* the caller's: switch-off attempts */
	uint64_t next_try_ns;
	size_t nmaps_seen;		/* the caller's: mappings at the last
					 * (re)direction */
};

/*
 * agent__verify() - may @lib be loaded into processes? Its real path into
 * @real. It must be a regular file owned by root and writable by nobody
 * else, in directories nobody else may change (or sticky ones), and
 * profd's agent of PROFD_AGENT_VERSION (read from the file). 0, or -errno
 * with a sentence in @err (-EPERM: ownership or mode; -EPROTO: another
 * version or not the agent).
 */
int agent__verify(const char *lib, char *real, size_t realsize, char *err,
		  size_t errlen);

/*
 * agent__probes() - where profd attaches in the agent at @lib (verified
 * first): its real path into @real, the file offsets of the alloc and free
 * probe points into @ret_offs. 0, or -errno with a sentence in @err.
 */
int agent__probes(const char *lib, char *real, size_t realsize,
		  uint64_t ret_offs[2], char *err, size_t errlen);

/*
 * agent__load() - make sure the process @t holds (an image its caller was
 * checked against) has the agent at @lib loaded, and find its entry
 * points. @allocator: the library (path as mapped) that provides malloc.
 * *@ret holds a target of its own (agent__fini()). On failure, a sentence
 * for the user in @err. -EXDEV: the process does not see @lib (a
 * container); -EPERM: seccomp, or not traceable; -ESTALE: it holds an
 * older, replaced agent, or executed another program meanwhile;
 * -ENOTSUP: no glibc, or malloc in the executable; -ESRCH; -ENOEXEC:
 * dlopen failed; -EAGAIN: never stopped at a safe point; -EINTR: its
 * threads all slept where a stop would show; -EFAULT: the call faulted
 * or hung (the process is poisoned, ret->why says how); -errno.
 */
int agent__load(struct proc_cache *pc, const struct target *t,
		const char *lib, const char *allocator, struct agent *ret,
		char *err, size_t errlen);

/* Switch sampling on (see profd_heap_on). 0 or -errno (with @err);
 * a->slots, a->errors set. */
int agent__on(struct agent *a, struct proc_cache *pc, uint64_t sample_bytes,
	      uint32_t gen, uint64_t max_live, char *err, size_t errlen);

/* Redirect modules loaded since (see profd_heap_rescan). 0 or -errno. */
int agent__rescan(struct agent *a, struct proc_cache *pc);

/* Switch it off and restore the GOT. 0 (also when the process is gone or
 * runs another image: the agent went with it) or -errno. */
int agent__off(struct agent *a, struct proc_cache *pc);

/* Let go of what @a holds. */
void agent__fini(struct agent *a);

#endif /* PROFD_AGENT_DAEMON_H */
