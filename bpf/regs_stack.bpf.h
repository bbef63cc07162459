/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What DWARF unwinding in profd needs from a BPF program, shared by the CPU
 * sampler and the heap tracker: the user registers in DWARF order and a
 * copy of the user stack from sp up.
 */
#ifndef PROFD_REGS_STACK_BPF_H
#define PROFD_REGS_STACK_BPF_H

#include "profd_abi.h"

/* x86-64 DWARF registers 0..16: rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip. */
static __always_inline void regs__dwarf(const struct pt_regs *u, __u64 *r)
{
	r[0] = u->ax;
	r[1] = u->dx;
	r[2] = u->cx;
	r[3] = u->bx;
	r[4] = u->si;
	r[5] = u->di;
	r[6] = u->bp;
	r[7] = u->sp;
	r[8] = u->r8;
	r[9] = u->r9;
	r[10] = u->r10;
	r[11] = u->r11;
	r[12] = u->r12;
	r[13] = u->r13;
	r[14] = u->r14;
	r[15] = u->r15;
	r[16] = u->ip;
}

/*
 * Copy up to PROFD_STACK_COPY bytes of user stack from @sp into @dst;
 * returns how many. Page by page, so the copy stops exactly where the
 * stack mapping ends (a main thread's shallow stack has little above sp,
 * and a read crossing the end fails whole): first up to sp's page end,
 * then whole pages.
 */
static __always_inline __u32 stack__copy(__u8 *dst, __u64 sp)
{
	__u64 len = 4096 - (sp & 4095);
	int i;

	if (bpf_probe_read_user(dst, len, (void *)sp) < 0)
		return 0;
	for (i = 0; i < PROFD_STACK_COPY / 4096 - 1; i++) {
		if (len > PROFD_STACK_COPY - 4096)
			break;
		if (bpf_probe_read_user(dst + len, 4096, (void *)(sp + len)) < 0)
			break;
		len += 4096;
	}
	return (__u32)len;
}

#ifndef EBUSY
#define EBUSY 16
#endif

static __attribute__((unused)) long stack__vma_end(struct task_struct *task,
						   struct vm_area_struct *vma,
						   void *ctx)
{
	*(__u64 *)ctx = vma->vm_end;
	return 0;
}

/*
 * Whole pages to copy from sp's page, at most @max_pages: up to the end
 * of the mapping that holds sp, cached per thread (@id) in the LRU map
 * @ends, because bpf_find_vma() in an interrupt releases mmap_lock through
 * an irq_work (~4 us). A stale entry (a tid reused) is noticed when sp is
 * not below it; one that looks valid only makes the copy stop at a fault
 * or the limit. When the mm is busy, 16 KiB.
 */
static __always_inline __u32 stack__pages(void *ends, struct task_struct *task,
					  __u64 id, __u64 sp, __u32 max_pages)
{
	__u64 key = id, end = 0, pages, *e;
	long r;

	if (!sp)
		return 0;
	e = bpf_map_lookup_elem(ends, &key);
	if (e && *e > sp && *e - sp <= (1ULL << 24)) {
		end = *e;
	} else {
		r = bpf_find_vma(task, sp, stack__vma_end, &end, 0);
		if (r == -EBUSY)
			end = (sp & ~4095ULL) + PROFD_STACK_COPY;
		else if (r < 0 || end <= sp)
			return 0;
		else
			bpf_map_update_elem(ends, &key, &end, BPF_ANY);
	}
	pages = (end - (sp & ~4095ULL) + 4095) / 4096;
	if (pages > max_pages)
		pages = max_pages;
	if (pages > PROFD_STACK_PAGES_MAX)
		pages = PROFD_STACK_PAGES_MAX;
	return (__u32)pages;
}

#endif /* PROFD_REGS_STACK_BPF_H */
