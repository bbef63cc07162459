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

/* Pages of stack copied per DWARF sample at most (profd --stack-bytes):
 * set before load. */
const volatile __u32 stack_pages_max = PROFD_STACK_PAGES_MAX;

/*
 * Where each thread's stack mapping ends, by (tgid << 32 | tid): learnt
 * with bpf_find_vma() at a thread's first sample. That lookup takes
 * mmap_lock, which in the timer interrupt can only be released through an
 * irq_work: ~4 us a sample where the cache makes it one hash lookup. A
 * stale entry (a tid reused) is noticed when sp is not below it; one that
 * looks valid only makes the copy stop at a fault or at the limit.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} stack_ends SEC(".maps");

/* The sample's header, registers aside: the same with or without a stack
 * copy. */
static __always_inline void fill_sample(struct bpf_perf_event_data *ctx,
					struct profd_cpu_sample *s,
					struct profd_target_val *tv,
					__u64 id, __u32 tgid,
					struct profd_exec *ex, bool with_stack)
{
	long n;

	s->kind = with_stack ? PROFD_EV_CPU_SAMPLE_STACK : PROFD_EV_CPU_SAMPLE;
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
}

/*
 * No wakeup per sample: user space drains every 50 ms (and at each
 * window's end), which costs far less than a wakeup per sample at 99 Hz x
 * CPUs. Wake it early only when the buffer is filling up.
 */
static __always_inline __u64 wakeup_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
	    bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 4)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/*
 * A sample with the user registers and a copy of the stack, for DWARF
 * unwinding in user space. The registers are those saved at the top of
 * the task's kernel stack: where the timer interrupt left user code, or,
 * for a sample in the kernel (a syscall, a fault), where user code will
 * resume (ctx->regs are the interrupted kernel's then). The record is
 * reserved at its final size and the pages are read straight into it.
 */
static __always_inline int sample_with_stack(struct bpf_perf_event_data *ctx,
					     struct task_struct *task,
					     struct profd_target_val *tv,
					     __u64 id, __u32 tgid,
					     struct profd_exec *ex)
{
	struct profd_cpu_sample_stack *ss;
	struct bpf_dynptr dp;
	struct pt_regs *u;
	__u32 pages, got = 0, i;
	__u64 sp, base;

	u = (struct pt_regs *)bpf_task_pt_regs(task);
	sp = u ? u->sp : 0;
	pages = stack__pages(&stack_ends, task, id, sp, stack_pages_max);
	base = sp & ~4095ULL;

	if (bpf_ringbuf_reserve_dynptr(&events, sizeof(*ss) + pages * 4096, 0,
				       &dp) < 0) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		count_err(PROFD_ERR_RINGBUF_FULL);
		return 0;
	}
	ss = bpf_dynptr_data(&dp, 0, sizeof(*ss));
	if (!ss) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		return 0;
	}
	fill_sample(ctx, &ss->s, tv, id, tgid, ex, true);
	if (u)
		regs__dwarf(u, ss->regs);
	else
		__builtin_memset(ss->regs, 0, sizeof(ss->regs));

	for (i = 0; i < PROFD_STACK_PAGES_MAX; i++) {
		void *page;

		if (i >= pages)
			break;
		page = bpf_dynptr_data(&dp, sizeof(*ss) + i * 4096, 4096);
		if (!page)
			break;
		if (bpf_probe_read_user(page, 4096, (void *)(base + i * 4096)) < 0)
			break;
		got++;
	}
	ss->stack_skip = sp & 4095;
	ss->stack_len = got ? got * 4096 - ss->stack_skip : 0;
	bpf_ringbuf_submit_dynptr(&dp, wakeup_flags());
	return 0;
}

SEC("perf_event")
int profd_cpu_sample(struct bpf_perf_event_data *ctx)
{
	struct profd_target_key key = {};
	struct profd_target_val *tv;
	struct profd_cpu_sample *s;
	struct profd_exec *ex;
	struct task_struct *task;
	__u64 id = pidns__pid_tgid(true);
	__u32 tgid = id >> 32;

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

	if (tv->flags & PROFD_TARGET_STACK)
		return sample_with_stack(ctx, task, tv, id, tgid, ex);

	s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);
	if (!s) {
		count_err(PROFD_ERR_RINGBUF_FULL);
		return 0;
	}
	fill_sample(ctx, s, tv, id, tgid, ex, false);
	bpf_ringbuf_submit(s, wakeup_flags());
	return 0;
}
