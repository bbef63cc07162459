// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Which program image each watched process runs: counts, per process in
 * the execs map (entries made by user space, daemon/execwatch.c), the
 * execs that replace its image and its end. Three scheduler tracepoints,
 * which fire for every exec and process exit on the machine and cost one
 * hash lookup each for a process profd does not watch.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "profd_abi.h"
#include "pidns.bpf.h"
#include "exec.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline struct profd_exec *watched(void)
{
	__u32 tgid = pidns__pid_tgid(false) >> 32;

	return tgid ? bpf_map_lookup_elem(&execs, &tgid) : NULL;
}

/*
 * An exec passed its point of no return (6.10+; not loaded before): the
 * credentials and mappings about to change are the next image's. Until
 * sched_process_exec, starting is ahead of image, and user space does not
 * take what it reads of the process for either image.
 */
SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(profd_exec_prepare, struct task_struct *task,
	     struct linux_binprm *bprm)
{
	struct profd_exec *e = watched();

	/* Execs of one process are serialised (cred_guard_mutex). */
	if (e)
		e->starting = e->image + 1;
	return 0;
}

/*
 * The exec is done: the process runs the new image from its next return
 * to user space. Without sched_prepare_exec (kernels before 6.10) both
 * counts move here only, and a reader can, for the few microseconds of
 * the exec, see the new credentials with the old count.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(profd_exec_done, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct profd_exec *e = watched();

	if (!e)
		return 0;
	__sync_fetch_and_add(&e->execs, 1);
	e->starting = __sync_fetch_and_add(&e->image, 1) + 1;
	return 0;
}

/*
 * The last thread of a process exits: its pid may be given to another
 * process, which must not continue this one's count (a window or a
 * tracking period bound to an image of the old process would match the
 * new one). An exec that failed past its point of no return ends here
 * too, so starting is settled to the new count.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(profd_exec_exit, struct task_struct *task)
{
	struct profd_exec *e;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;	/* other threads live on */
	e = watched();
	if (!e)
		return 0;
	e->starting = __sync_fetch_and_add(&e->image, 1) + 1;
	return 0;
}
