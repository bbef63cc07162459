/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Process and thread ids as profd's own PID namespace numbers them, for
 * the CPU sampler and the heap tracker. bpf_get_current_pid_tgid() gives
 * the initial namespace's ids, which mean nothing to a profd in a
 * container: its callers, its /proc and its profiles use its own.
 *
 * pidns_inum (rodata, set before load; daemon/pidns.h) is the inode of
 * profd's namespace, 0 when that is the initial one: then the ids are
 * bpf_get_current_pid_tgid()'s and the verifier drops the rest as dead
 * code, so the common case costs one load of that constant. Otherwise a
 * task's id is
 * thread_pid->numbers[pidns_level].nr, provided that entry's namespace is
 * profd's; a task profd's namespace cannot see (the host's, a sibling
 * container's) has no id there and is none of profd's business. That
 * costs a chain of six kernel reads per id (five more for the thread id
 * of a thread other than the main one).
 *
 * Not bpf_get_ns_current_pid_tgid(): it answers only for tasks whose own
 * namespace is exactly the given one, so it misses containers nested in
 * profd's (a task there has ids in both).
 *
 * The level is not known before load (in a container, /proc/self/status
 * lists only the levels from its own /proc's namespace down): the program
 * profd_pidns_probe, run once by profd itself, reads it from profd's own
 * task into pidns_level. Until it has run nothing matches.
 */
#ifndef PROFD_PIDNS_BPF_H
#define PROFD_PIDNS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

const volatile __u32 pidns_inum = 0;
__u32 pidns_level = 0;

/* &@pid->numbers[@level], the task's number in its level-@level namespace. */
static __always_inline struct upid *pidns__upid(struct pid *pid, __u32 level)
{
	return (struct upid *)((char *)pid +
			       bpf_core_field_offset(struct pid, numbers) +
			       (__u64)level * bpf_core_type_size(struct upid));
}

/* @pid's number at profd's level, if that level is profd's namespace. */
static __always_inline bool pidns__nr(struct pid *pid, __u32 *ret)
{
	__u32 level = pidns_level;
	struct upid *up;

	if (!pid || BPF_CORE_READ(pid, level) < level)
		return false;
	up = pidns__upid(pid, level);
	if (BPF_CORE_READ(up, ns, ns.inum) != pidns_inum)
		return false;
	*ret = (__u32)BPF_CORE_READ(up, nr);
	return true;
}

/*
 * The current thread's ids in profd's namespace, packed as
 * bpf_get_current_pid_tgid() packs them (process id in the upper half,
 * thread id in the lower); the thread id only if @want_tid, else 0. 0
 * when the thread is not visible there: pid 0 is the idle task's, never
 * a process of profd's, so callers skip both alike.
 */
static __always_inline __u64 pidns__pid_tgid(bool want_tid)
{
	struct task_struct *t, *leader;
	__u32 tgid, tid = 0;

	if (!pidns_inum)
		return bpf_get_current_pid_tgid();
	t = bpf_get_current_task_btf();
	leader = BPF_CORE_READ(t, group_leader);
	if (!pidns__nr(BPF_CORE_READ(leader, thread_pid), &tgid))
		return 0;
	/* A main thread's thread id is its process id: one walk. */
	if (want_tid && leader == t)
		tid = tgid;
	else if (want_tid && !pidns__nr(BPF_CORE_READ(t, thread_pid), &tid))
		return 0;
	return (__u64)tgid << 32 | tid;
}

/*
 * Run by profd (BPF_PROG_RUN) in its own context, once, when pidns_inum is
 * set: profd's namespace is its own task's innermost, so the level is its
 * struct pid's. Returns 0, or 1 when that namespace is not pidns_inum (then
 * pidns_level stays unset and nothing will match).
 */
SEC("syscall")
int profd_pidns_probe(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pid *pid = BPF_CORE_READ(t, thread_pid);
	__u32 level = BPF_CORE_READ(pid, level);

	if (BPF_CORE_READ(pidns__upid(pid, level), ns, ns.inum) != pidns_inum)
		return 1;
	pidns_level = level;
	return 0;
}

#endif /* PROFD_PIDNS_BPF_H */
