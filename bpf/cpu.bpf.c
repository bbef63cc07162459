// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * profd's CPU sampler: attached to one cpu-clock perf event per CPU and per
 * sampling period. Keeps only samples of the processes (and periods) in the
 * targets map, records their stacks and sends them to user space through one
 * ring buffer shared by every CPU and every session.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "profd_abi.h"
#include "pidns.bpf.h"
#include "exec.bpf.h"
#include "regs_stack.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct profd_target_key);
	__type(value, struct profd_target_val);
} targets SEC(".maps");

/* Sized by user space before load (1 MiB per CPU): see sampler.c. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROFD_ERR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} errors SEC(".maps");

static __always_inline void count_err(__u32 err)
{
	__u64 *v = bpf_map_lookup_elem(&errors, &err);

	if (v)
		(*v)++;
}

/* Registers and stack for unwinding in user space. */
static __always_inline void copy_stack(struct bpf_perf_event_data *ctx,
				       struct profd_cpu_sample_stack *ss)
{
	struct pt_regs *u;

	/*
	 * The user registers saved at the top of the task's kernel stack:
	 * where the timer interrupt left user code, or, for a sample in the
	 * kernel (a syscall, a fault), where user code will resume. (ctx->regs
	 * are the interrupted kernel's in the second case.)
	 */
	u = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	ss->stack_len = 0;
	if (!u)
		return;
	regs__dwarf(u, ss->regs);
	ss->stack_len = stack__copy(ss->stack, ss->regs[7]);
}

SEC("perf_event")
int profd_cpu_sample(struct bpf_perf_event_data *ctx)
{
	struct profd_target_key key = {};
	struct profd_target_val *tv;
	struct profd_cpu_sample_stack *ss = NULL;
	struct profd_cpu_sample *s;
	struct profd_exec *ex;
	struct task_struct *task;
	__u64 id = pidns__pid_tgid(true);
	__u32 tgid = id >> 32;
	long n;

	/* The idle task, or a task not in profd's PID namespace. */
	if (tgid == 0)
		return 0;

	key.tgid = tgid;
	key.period_ns = ctx->sample_period;
	tv = bpf_map_lookup_elem(&targets, &key);
	if (!tv) {
		key.tgid = 0;	/* every process at this period? */
		tv = bpf_map_lookup_elem(&targets, &key);
		if (!tv)
			return 0;
	}
	/*
	 * A thread inside execve: its registers and memory may be the next
	 * image's already, while the count still names the old one (it moves
	 * at the exec's end). Such samples belong to no image: dropped.
	 */
	task = bpf_get_current_task_btf();
	if (bpf_core_field_exists(task->in_execve) &&
	    BPF_CORE_READ_BITFIELD(task, in_execve))
		return 0;
	ex = bpf_map_lookup_elem(&execs, &tgid);

	if (tv->flags & PROFD_TARGET_STACK) {
		ss = bpf_ringbuf_reserve(&events, sizeof(*ss), 0);
		s = ss ? &ss->s : NULL;
	} else {
		s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);
	}
	if (!s) {
		count_err(PROFD_ERR_RINGBUF_FULL);
		return 0;
	}

	s->kind = ss ? PROFD_EV_CPU_SAMPLE_STACK : PROFD_EV_CPU_SAMPLE;
	s->flags = 0;
	s->time_ns = bpf_ktime_get_ns();
	s->period_ns = ctx->sample_period;
	s->tgid = tgid;
	s->tid = (__u32)id;
	s->cpu = bpf_get_smp_processor_id();
	s->image = ex ? ex->image : PROFD_IMAGE_NONE;
	bpf_get_current_comm(s->comm, sizeof(s->comm));

	n = bpf_get_stack(ctx, s->user_ips, sizeof(s->user_ips),
			  BPF_F_USER_STACK);
	if (n < 0) {
		s->flags |= PROFD_SF_USER_ERR;
		count_err(PROFD_ERR_USER_STACK);
		n = 0;
	}
	s->n_user = n / sizeof(__u64);
	if (s->n_user == PROFD_MAX_USER_FRAMES)
		s->flags |= PROFD_SF_USER_TRUNC;

	s->n_kernel = 0;
	/* In user mode the kernel walk finds no frames and costs little. */
	if (tv->flags & PROFD_TARGET_KERNEL) {
		n = bpf_get_stack(ctx, s->kernel_ips, sizeof(s->kernel_ips), 0);
		if (n < 0) {
			s->flags |= PROFD_SF_KERNEL_ERR;
			count_err(PROFD_ERR_KERNEL_STACK);
			n = 0;
		}
		s->n_kernel = n / sizeof(__u64);
	}

	if (ss)
		copy_stack(ctx, ss);

	/*
	 * No wakeup per sample: user space drains every 50 ms (and at each
	 * window's end), which costs far less than a wakeup per sample at
	 * 99 Hz x CPUs. Wake it early only when the buffer is filling up.
	 */
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
	    bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 4)
		bpf_ringbuf_submit(s, BPF_RB_FORCE_WAKEUP);
	else
		bpf_ringbuf_submit(s, BPF_RB_NO_WAKEUP);
	return 0;
}
