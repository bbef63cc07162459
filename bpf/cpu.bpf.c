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
	__u64 sp, len;
	int i;

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
	ss->regs[0] = u->ax;
	ss->regs[1] = u->dx;
	ss->regs[2] = u->cx;
	ss->regs[3] = u->bx;
	ss->regs[4] = u->si;
	ss->regs[5] = u->di;
	ss->regs[6] = u->bp;
	ss->regs[7] = u->sp;
	ss->regs[8] = u->r8;
	ss->regs[9] = u->r9;
	ss->regs[10] = u->r10;
	ss->regs[11] = u->r11;
	ss->regs[12] = u->r12;
	ss->regs[13] = u->r13;
	ss->regs[14] = u->r14;
	ss->regs[15] = u->r15;
	ss->regs[16] = u->ip;
	sp = ss->regs[7];

	/*
	 * Page by page, so the copy stops exactly where the stack mapping
	 * ends (a main thread's shallow stack has little above sp, and a
	 * read crossing the end fails whole): first up to sp's page end,
	 * then whole pages up to PROFD_STACK_COPY.
	 */
	len = 4096 - (sp & 4095);
	if (bpf_probe_read_user(ss->stack, len, (void *)sp) < 0)
		return;
	for (i = 0; i < PROFD_STACK_COPY / 4096 - 1; i++) {
		if (len > PROFD_STACK_COPY - 4096)
			break;
		if (bpf_probe_read_user(ss->stack + len, 4096,
					(void *)(sp + len)) < 0)
			break;
		len += 4096;
	}
	ss->stack_len = len;
}

SEC("perf_event")
int profd_cpu_sample(struct bpf_perf_event_data *ctx)
{
	struct profd_target_key key = {};
	struct profd_target_val *tv;
	struct profd_cpu_sample_stack *ss = NULL;
	struct profd_cpu_sample *s;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	long n;

	if (tgid == 0)		/* idle task */
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
