/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The contract between profd and its in-process heap agent
 * (libprofd_heap.so, agent/heap_agent.c), which profd loads into a running
 * process for `mode=inproc` heap tracking. profd calls the agent's entry
 * points through ptrace and attaches uprobes to its two probe points; the
 * agent calls those only for sampled allocations and frees of sampled
 * blocks, so an unsampled allocator call costs a function call and a
 * countdown instead of a uprobe trap.
 */
#ifndef PROFD_AGENT_H
#define PROFD_AGENT_H

#ifndef __bpf__
#include <stdint.h>
#endif

#define PROFD_AGENT_LIB "libprofd_heap.so"

/*
 * The version of this contract. The agent exports it as a data symbol,
 * which profd reads from the file before it loads the file into anything
 * (a file of another version is refused), and checks again in every call.
 */
#define PROFD_AGENT_VERSION 2
#define PROFD_AGENT_VERSION_SYM "profd_heap_agent_version"	/* const uint64_t */

#ifndef __bpf__
/* Every entry point takes this, by address, in and out. */
struct profd_agent_args {
	uint64_t version;		/* in: PROFD_AGENT_VERSION */
	uint64_t sample_bytes;		/* in (on): mean interval, <= 1 every block */
	uint64_t gen;			/* in (on): the tracking generation */
	uint64_t max_live;		/* in (on): sampled blocks tracked at most */
	uint64_t slots;			/* out: GOT entries pointing at the agent
					 * (off: entries put back) */
	uint64_t errors;		/* out: entries that could not be written
					 * (mprotect failed): calls through them
					 * are not seen */
	char allocator[256];		/* in (on): the library malloc is
					 * called on in, a name dlopen finds
					 * with RTLD_NOLOAD (its soname) */
};
#endif

/*
 * long profd_heap_on(struct profd_agent_args *a)
 *	Start sampling, forgetting any earlier period's blocks, and point the
 *	GOT entries of every loaded module for the malloc family at the agent.
 *	Returns a->slots (>= 1), or -errno (-EPROTO: another version).
 * long profd_heap_rescan(struct profd_agent_args *a)
 *	While on: point the GOT entries of modules loaded since at the agent
 *	too (profd asks when the process has mapped new files). Returns how
 *	many entries point at it, or -errno.
 * long profd_heap_off(struct profd_agent_args *a)
 *	Stop, and restore the GOT entries. Returns how many were restored.
 *
 * profd calls these from a thread stopped outside the allocator and the
 * dynamic linker; they take the loader's lock (dl_iterate_phdr). Nothing
 * the agent runs inside an allocation takes it.
 */
#define PROFD_AGENT_ON "profd_heap_on"
#define PROFD_AGENT_RESCAN "profd_heap_rescan"
#define PROFD_AGENT_OFF "profd_heap_off"

/*
 * Probe points: 5-byte nops (the kernel optimises a uprobe there into a
 * call, 6.18+), called with the System V argument registers below.
 *	profd_heap_probe_alloc(addr, size, flags)	a sampled block
 *	profd_heap_probe_free(addr)			a sampled block freed
 */
#define PROFD_AGENT_PROBE_ALLOC "profd_heap_probe_alloc"
#define PROFD_AGENT_PROBE_FREE "profd_heap_probe_free"

/* profd_heap_probe_alloc() flags */
#define PROFD_AGENT_DROPPED 1	/* not tracked as live: the agent's set is full */
#define PROFD_AGENT_RELIVE 2	/* a failed realloc's block again: live, not a new allocation */

#endif /* PROFD_AGENT_H */
