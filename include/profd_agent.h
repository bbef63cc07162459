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

#define PROFD_AGENT_LIB "libprofd_heap.so"
#define PROFD_AGENT_VERSION 1

/*
 * long profd_heap_on(unsigned long sample_bytes, unsigned long epoch,
 *		      unsigned long max_live, const char *allocator)
 *	Start sampling (mean interval @sample_bytes, <= 1: every block) with
 *	at most @max_live sampled blocks tracked, forgetting any earlier
 *	period's blocks, and point the GOT entries of every loaded module for
 *	the malloc family at the agent, which calls on to the functions of
 *	library @allocator (a name dlopen(RTLD_NOLOAD) finds, its soname).
 *	Returns how many entries point at it (>= 1), or -errno.
 * long profd_heap_off(void)
 *	Stop, and restore the GOT entries. Returns how many were restored.
 */
#define PROFD_AGENT_ON "profd_heap_on"
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
