// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * profd's thread snapshot: a sleepable task iterator, attached to one
 * process at a time (bpf_iter_link_info.task.pid), writing each thread's
 * saved user registers and the top of its user stack to the seq file
 * (struct profd_thread in include/profd_wait.h). A thread blocked in the
 * kernel keeps its user registers at the top of its kernel stack and does
 * not touch its user stack, so both are a consistent picture without
 * stopping it; a thread on a CPU is marked RUNNING (its copy may be torn).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "profd_wait.h"
#include "regs_stack.bpf.h"
#include "pidns.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct thread_buf {
	struct profd_thread t;
	__u8 stack[PROFD_THREAD_STACK_PAGES * 4096];
};

/* The record under construction: too big for the BPF stack. profd runs
 * one snapshot at a time (daemon/threads.c), so one slot per CPU holds. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct thread_buf);
} thread_bufs SEC(".maps");

/* Later passes (profd sets page_from): the threads whose stacks ran past
 * the copies before, and the pages from there. */
__u32 page_from;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROFD_THREAD_DEEP);
	__type(key, __u32);
	__type(value, __u32);
} thread_want SEC(".maps");

SEC("iter.s/task")
int profd_threads(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct thread_buf *b;
	struct pt_regs *u;
	__u32 zero = 0, i, got = 0, from;
	__u64 sp, base;
	long n;

	if (!task)
		return 0;
	b = bpf_map_lookup_elem(&thread_bufs, &zero);
	if (!b)
		return 0;
	b->t.magic = PROFD_THREAD_MAGIC;
	b->t.tid = task->pid;
	/* The thread id as profd's PID namespace numbers it. */
	if (pidns_inum && !pidns__nr(BPF_CORE_READ(task, thread_pid), &b->t.tid))
		return 0;
	b->t.state = task->__state;
	b->t.flags = task->on_cpu ? PROFD_THREAD_F_RUNNING : 0;
	__builtin_memcpy(b->t.comm, task->comm, sizeof(b->t.comm));
	from = page_from;
	if (from && !bpf_map_lookup_elem(&thread_want, &b->t.tid))
		return 0;
	b->t.stack_len = 0;
	b->t.stack_skip = 0;
	b->t.page_from = from;
	/* Where it waits in the kernel (a wait window's threads already
	 * waiting when it opens, with kernel=1); a running thread's would be
	 * stale at once. */
	n = b->t.flags & PROFD_THREAD_F_RUNNING ? 0 :
		bpf_get_task_stack(task, b->t.kernel_ips,
				   sizeof(b->t.kernel_ips), 0);
	b->t.n_kernel = n > 0 ? n / sizeof(__u64) : 0;
	u = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!u || (task->flags & 0x00200000 /* PF_KTHREAD */)) {
		b->t.flags |= PROFD_THREAD_F_NO_REGS;
		__builtin_memset(b->t.regs, 0, sizeof(b->t.regs));
		bpf_seq_write(seq, &b->t, sizeof(b->t));
		return 0;
	}
	regs__dwarf(u, b->t.regs);
	sp = b->t.regs[7];
	base = (sp & ~4095ULL) + (__u64)from * 4096;
	for (i = 0; i < PROFD_THREAD_STACK_PAGES; i++) {
		if (bpf_copy_from_user_task(b->stack + i * 4096, 4096,
					    (void *)(base + i * 4096), task,
					    0) < 0)
			break;
		got++;
	}
	if (got) {
		b->t.stack_skip = from ? 0 : sp & 4095;
		b->t.stack_len = got * 4096 - b->t.stack_skip;
	}
	bpf_seq_write(seq, &b->t, sizeof(b->t));
	if (got)
		bpf_seq_write(seq, b->stack,
			      got * 4096 <= sizeof(b->stack) ? got * 4096 : 0);
	return 0;
}
