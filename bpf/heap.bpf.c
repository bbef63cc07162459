// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * profd's heap tracker: uprobes on the allocator a target process uses,
 * attached for that process only (other processes sharing the library pay
 * nothing). Entry probes decide whether to sample the allocation (geometric
 * intervals with a per-process mean, or every block) and record its size
 * and stack per thread; return probes pair that with the returned address.
 * free() removes blocks from the live table; unknown addresses (allocated
 * before tracking, or unsampled) are ignored.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "profd_abi.h"
#include "profd_agent.h"
#include "pidns.bpf.h"
#include "exec.bpf.h"
#include "regs_stack.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Per-thread state between an allocator's entry and return. */
struct pending {
	__u32 depth;		/* nested allocator calls (realloc -> malloc) */
	__u32 fn;
	__u64 size;
	__u64 old_ptr;		/* realloc's block */
	__u64 memptr;		/* posix_memalign's out parameter */
	__u32 sampled;
	__u32 pad;
	struct profd_heap_stack stack;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);			/* tgid */
	__type(value, struct profd_heap_proc);
} heap_procs SEC(".maps");

/*
 * Per-thread state in task-local storage: the sampling countdown and the
 * call in flight. A task storage lookup is a pointer chase from the task,
 * not a hash lookup, and the kernel frees it when the thread exits (so a
 * thread that dies inside malloc leaks nothing).
 */
struct thread_state {
	__s64 left;		/* bytes until the next sample; 0: not set */
	__u32 busy;		/* a call is in flight (p is valid) */
	__u32 gen;		/* the tracking generation that set busy */
	struct pending p;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} tstate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROFD_HEAP_SAMPLE_TABLE);
	__type(key, __u32);
	__type(value, __u32);			/* -ln(u) << 16 */
} sample_table SEC(".maps");

/* Not LRU: evicting live blocks would make wrong profiles. Full means
 * counted drops. Sizes set by user space before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 18);
	__type(key, struct profd_heap_live_key);
	__type(value, struct profd_heap_live_val);
} live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, struct profd_heap_stack);
	__type(value, struct profd_heap_allocs_val);
} allocs SEC(".maps");

/*
 * Allocation stacks by content hash. Not a STACK_TRACE map: that one is a
 * fixed bucket array whose bpf_get_stackid fails when two stacks share a
 * bucket (~1 in 8 with 2k stacks in 8k buckets). A real hash table only
 * fills; entries are allocated as used (no preallocation).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct profd_heap_frames);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct profd_heap_frames);
} stack_scratch SEC(".maps");

/*
 * DWARF mode: a sampled allocation's registers and stack go to the daemon,
 * which unwinds them (frame pointers are absent in most native code, so a
 * frame-pointer walk from inside malloc blames the wrong callers). Events
 * are variable-length (only the stack there is), staged per CPU. Default
 * 4 MiB: a few thousand main-thread events (~1-4 KiB each), 256 full
 * 16 KiB copies. The reader unwound all but 0-0.7% of a burst of 600k
 * exactly tracked allocations (four runs). The mapping costs profd twice
 * its size in RSS once touched (the kernel maps the data pages twice).
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);	/* --heap-event-buffer, set before load */
} heap_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct profd_heap_event);
} event_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} event_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROFD_HEAP_ERR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} heap_errors SEC(".maps");

static __always_inline void count_err(__u32 err)
{
	__u64 *v = bpf_map_lookup_elem(&heap_errors, &err);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/*
 * Does @tgid still run the program image its tracking began on? After an
 * exec (or a pid given to another process) the probes, attached to the
 * pid and to files, would record the new image into the old one's tables
 * — for callers checked against the old one. Asked only where something
 * is recorded (sampled calls, frees of tracked blocks): two lookups.
 */
static __always_inline bool same_image(__u32 tgid,
				       const struct profd_heap_proc *cfg)
{
	struct profd_exec *e = bpf_map_lookup_elem(&execs, &tgid);

	if (!cfg)
		cfg = bpf_map_lookup_elem(&heap_procs, &tgid);
	return cfg && e && e->image == cfg->image;
}

static __always_inline __s64 next_interval(__u64 mean)
{
	__u32 idx = bpf_get_prandom_u32() % PROFD_HEAP_SAMPLE_TABLE;
	__u32 *q = bpf_map_lookup_elem(&sample_table, &idx);
	__u64 v = q ? ((__u64)*q * mean) >> 16 : mean;

	return v ? (__s64)v : 1;
}

/* Geometric sampling by bytes, as tcmalloc and Go do: each thread counts
 * down a random interval; the allocation that crosses zero is sampled. */
static __always_inline bool should_sample(struct thread_state *ts, __u64 mean,
					  __u64 size)
{
	if (mean <= 1)
		return true;
	if (!ts->left)
		ts->left = next_interval(mean);
	ts->left -= (__s64)size;
	if (ts->left > 0)
		return false;
	ts->left = next_interval(mean);
	return true;
}

/* Walk the user stack into the stacks map; its key (0 on failure). */
static __always_inline __u64 record_stack(struct pt_regs *ctx)
{
	struct profd_heap_frames *f;
	__u32 zero = 0;
	__u64 h = 1469598103934665603ULL;
	long n;
	int i;

	f = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!f)
		return 0;
	n = bpf_get_stack(ctx, f->ips, sizeof(f->ips), BPF_F_USER_STACK);
	if (n <= 0)
		return 0;
	f->n = (__u64)n / sizeof(__u64);
	for (i = 0; i < PROFD_MAX_USER_FRAMES; i++) {
		if (i >= f->n)
			break;
		h = (h ^ f->ips[i]) * 1099511628211ULL;
	}
	h = (h ^ f->n) * 1099511628211ULL;
	if (!h)
		h = 1;
	/* -EEXIST: the same stack is there already. */
	if (bpf_map_update_elem(&stacks, &h, f, BPF_NOEXIST) < 0 &&
	    !bpf_map_lookup_elem(&stacks, &h))
		return 0;
	return h;
}

/* Wake the reader only when the buffer is filling: it also polls. */
static __always_inline __u64 ring_flags(void)
{
	return bpf_ringbuf_query(&heap_events, BPF_RB_AVAIL_DATA) >
		       bpf_ringbuf_query(&heap_events, BPF_RB_RING_SIZE) / 8 ?
		       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Send registers and stack for the daemon to unwind; the event id, or 0
 * when the buffer is full. */
static __always_inline __u64 send_stack(struct pt_regs *ctx, __u32 tgid,
					__u64 size)
{
	struct profd_heap_event *ev;
	__u32 zero = 0;
	__u64 *next, len, total;

	ev = bpf_map_lookup_elem(&event_scratch, &zero);
	next = bpf_map_lookup_elem(&event_ids, &zero);
	if (!ev || !next)
		return 0;
	ev->kind = PROFD_HEAP_EV_ALLOC;
	ev->tgid = tgid;
	ev->tid = (__u32)pidns__pid_tgid(true);
	ev->id = __sync_fetch_and_add(next, 1) + 1;
	ev->size = size;
	regs__dwarf(ctx, ev->regs);
	len = stack__copy(ev->stack, ctx->sp);
	ev->stack_len = (__u32)len;
	total = PROFD_HEAP_EVENT_HDR + len;
	if (total > sizeof(*ev))
		total = sizeof(*ev);
	if (bpf_ringbuf_output(&heap_events, ev, total, ring_flags()) < 0)
		return 0;
	return ev->id;
}

/* A sampled DWARF-mode allocation failed: uncount it. */
static __always_inline void send_cancel(__u32 tgid, __u64 id, __u64 size)
{
	struct {
		__u32 kind, tgid, tid, stack_len;
		__u64 id, size;
	} ev = { PROFD_HEAP_EV_CANCEL, tgid, 0, 0, id, size };

	if (bpf_ringbuf_output(&heap_events, &ev, sizeof(ev), ring_flags()) < 0)
		count_err(PROFD_HEAP_ERR_EVENT);
}

/*
 * A sampled block at @addr: into the live table (unless @in_live is false),
 * and counted on its stack (frame-pointer stacks here; DWARF stacks are
 * counted by the daemon, per true stack).
 */
static __always_inline void record(__u32 tgid, __u64 addr, __u64 size,
				   const struct profd_heap_stack *st, bool in_live)
{
	struct profd_heap_live_key k = { .tgid = tgid, .addr = addr };
	struct profd_heap_live_val v = { .size = size, .stack = *st };
	struct profd_heap_allocs_val *a, na = { 1, size };

	if (in_live && bpf_map_update_elem(&live, &k, &v, BPF_ANY) < 0)
		count_err(PROFD_HEAP_ERR_LIVE_FULL);
	if (st->kind == PROFD_HEAP_STACK_DWARF)
		return;
	a = bpf_map_lookup_elem(&allocs, &v.stack);
	if (!a) {
		if (bpf_map_update_elem(&allocs, &v.stack, &na, BPF_NOEXIST) == 0)
			return;
		a = bpf_map_lookup_elem(&allocs, &v.stack);	/* lost a race */
	}
	if (a) {
		__sync_fetch_and_add(&a->count, 1);
		__sync_fetch_and_add(&a->bytes, size);
	} else {
		count_err(PROFD_HEAP_ERR_ALLOCS_FULL);
	}
}

/*
 * A call of the process @tgid (in profd's PID namespace, as every tgid
 * here). Returns 0 when the return probe has work (a record or a nesting
 * level was left), 1 when it has none: a uprobe session then skips it.
 */
static __always_inline int on_entry(struct pt_regs *ctx, __u32 tgid, __u32 fn,
				    __u64 size, __u64 old_ptr, __u64 memptr,
				    __u64 sample_bytes, __u32 flags, __u32 gen)
{
	struct thread_state *ts;
	struct pending *p;
	bool sampled, track_old = false;

	ts = bpf_task_storage_get(&tstate, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts) {
		count_err(PROFD_HEAP_ERR_PENDING_FULL);
		return 1;
	}
	p = &ts->p;
	/*
	 * Inside another allocator call (realloc -> malloc, new[] -> new).
	 * A record from an earlier tracking generation is stale — its return
	 * probe never ran (tracking stopped mid-call): start afresh.
	 */
	if (ts->busy && ts->gen == gen) {
		p->depth++;
		return 0;
	}
	sampled = should_sample(ts, sample_bytes, size);
	if (old_ptr) {
		struct profd_heap_live_key k = { .tgid = tgid, .addr = old_ptr };

		track_old = bpf_map_lookup_elem(&live, &k) != NULL;
	}
	/*
	 * Unsampled and nothing to move: the return probe finds nothing,
	 * cheap. operator new always leaves a record, so the malloc it calls
	 * counts as nested (one sampling decision per allocation) and the
	 * stack is taken here, where [sp] is the caller of new.
	 */
	if (!sampled && !track_old && fn != PROFD_HEAP_CXX_NEW)
		return 1;	/* nothing for the return probe: skip it */
	if (!same_image(tgid, NULL))
		return 1;

	p->depth = 0;
	p->fn = fn;
	p->size = size;
	p->old_ptr = track_old ? old_ptr : 0;
	p->memptr = memptr;
	p->sampled = sampled;
	p->stack.tgid = tgid;
	p->stack.kind = PROFD_HEAP_STACK_FP;
	p->stack.stack_hash = 0;
	p->stack.caller = 0;
	if (sampled && (flags & PROFD_HEAP_F_DWARF)) {
		p->stack.stack_hash = send_stack(ctx, tgid, size);
		if (p->stack.stack_hash)
			p->stack.kind = PROFD_HEAP_STACK_DWARF;
		else
			count_err(PROFD_HEAP_ERR_EVENT);
	}
	if (sampled && p->stack.kind == PROFD_HEAP_STACK_FP) {
		/* At entry the frame-pointer walk starts in the caller's
		 * caller: the caller's return address is at [sp]. */
		if (bpf_probe_read_user(&p->stack.caller, sizeof(__u64),
					(void *)PT_REGS_SP(ctx)) < 0)
			count_err(PROFD_HEAP_ERR_READ);
		p->stack.stack_hash = record_stack(ctx);
		if (!p->stack.stack_hash)
			count_err(PROFD_HEAP_ERR_STACK);
	}
	ts->busy = 1;
	ts->gen = gen;
	return 0;
}

static __always_inline int on_return(struct pt_regs *ctx, __u32 gen)
{
	struct profd_heap_live_key k = {};
	struct thread_state *ts;
	struct pending *p;
	__u64 addr = PT_REGS_RC(ctx);

	ts = bpf_task_storage_get(&tstate, bpf_get_current_task_btf(), 0, 0);
	if (!ts || !ts->busy)
		return 0;
	p = &ts->p;
	k.tgid = p->stack.tgid;		/* the entry's, same thread */
	if (ts->gen != gen) {	/* stale (see on_entry) */
		ts->busy = 0;
		return 0;
	}
	if (p->depth) {
		p->depth--;
		return 0;
	}
	ts->busy = 0;
	if (p->fn == PROFD_HEAP_POSIX_MEMALIGN) {
		/* Returns an error number; the block goes to *memptr. */
		if (addr != 0 ||
		    bpf_probe_read_user(&addr, sizeof(addr),
					(void *)p->memptr) < 0)
			addr = 0;
	}
	if (p->old_ptr && (addr || p->size == 0)) {
		/* realloc moved or freed the block (on failure it stays). */
		k.addr = p->old_ptr;
		bpf_map_delete_elem(&live, &k);
	}
	if (!addr && p->sampled && p->stack.kind == PROFD_HEAP_STACK_DWARF)
		send_cancel(k.tgid, p->stack.stack_hash, p->size);
	if (addr && p->sampled)
		record(k.tgid, addr, p->size, &p->stack, true);
	return 0;
}

/* The uprobe + uretprobe fallback: settings from the heap_procs map. */
static __always_inline int entry_cfg(struct pt_regs *ctx, __u32 fn, __u64 size,
				     __u64 old_ptr, __u64 memptr)
{
	__u32 tgid = pidns__pid_tgid(false) >> 32;
	struct profd_heap_proc *cfg = bpf_map_lookup_elem(&heap_procs, &tgid);

	/* (tgid 0, a process outside profd's namespace, is never there.) */
	if (!cfg)
		return 1;
	return on_entry(ctx, tgid, fn, size, old_ptr, memptr, cfg->sample_bytes,
			cfg->flags, cfg->gen);
}

/* n * size, or 0 when it overflows (the call then fails). The barrier
 * keeps clang from turning the check into a 128-bit multiply BPF lacks. */
static __always_inline __u64 mul_or_zero(__u64 n, __u64 size)
{
	__u64 limit;

	if (!n || !size)
		return 0;
	limit = ~0ULL / n;
	asm volatile("" : "+r"(limit));
	return size > limit ? 0 : n * size;
}

SEC("uprobe")
int BPF_KPROBE(heap_malloc, __u64 size)
{
	return entry_cfg(ctx, PROFD_HEAP_MALLOC, size, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(heap_calloc, __u64 n, __u64 size)
{
	return entry_cfg(ctx, PROFD_HEAP_CALLOC, mul_or_zero(n, size), 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(heap_realloc, __u64 ptr, __u64 size)
{
	return entry_cfg(ctx, PROFD_HEAP_REALLOC, size, ptr, 0);
}

SEC("uprobe")
int BPF_KPROBE(heap_reallocarray, __u64 ptr, __u64 n, __u64 size)
{
	return entry_cfg(ctx, PROFD_HEAP_REALLOCARRAY, mul_or_zero(n, size), ptr,
			0);
}

SEC("uprobe")
int BPF_KPROBE(heap_posix_memalign, __u64 memptr, __u64 align, __u64 size)
{
	return entry_cfg(ctx, PROFD_HEAP_POSIX_MEMALIGN, size, 0, memptr);
}

/* aligned_alloc and memalign: (alignment, size). */
SEC("uprobe")
int BPF_KPROBE(heap_memalign, __u64 align, __u64 size)
{
	return entry_cfg(ctx, PROFD_HEAP_MEMALIGN, size, 0, 0);
}

/* valloc and pvalloc: (size). pvalloc rounds up to pages; we count what
 * was asked for, like every other entry point. */
SEC("uprobe")
int BPF_KPROBE(heap_valloc, __u64 size)
{
	return entry_cfg(ctx, PROFD_HEAP_VALLOC, size, 0, 0);
}

/* C++ operator new, new[], and their nothrow/aligned forms: (size, ...). */
SEC("uprobe")
int BPF_KPROBE(heap_cxx_new, __u64 size)
{
	return entry_cfg(ctx, PROFD_HEAP_CXX_NEW, size, 0, 0);
}

/*
 * One program for every allocator entry point as a uprobe session
 * (kernel 6.13+): it runs at entry and, only when the entry asks for it,
 * at return — unsampled calls then pay no return probe. Which function it
 * is, and the process's settings, come from the attach cookie
 * (PROFD_HEAP_COOKIE). Loaded only where
 * the kernel supports sessions; the uprobe + uretprobe programs above are
 * the fallback.
 */
extern bool bpf_session_is_return(void) __ksym __weak;

SEC("uprobe")
int heap_session(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 a1 = PT_REGS_PARM1(ctx), a2 = PT_REGS_PARM2(ctx);
	__u64 a3 = PT_REGS_PARM3(ctx), sb = cookie >> 24;
	__u32 fn = cookie & 0xff, fl = (cookie >> 8) & 0xf;
	__u32 ep = (cookie >> 12) & PROFD_HEAP_GEN_MASK, tgid;

	if (bpf_session_is_return())
		return on_return(ctx, ep);
	/* The link is this process's only (its pid filter, a pid of
	 * profd's namespace: its threads all have ids there): no lookup. */
	tgid = pidns__pid_tgid(false) >> 32;
	switch (fn) {
	case PROFD_HEAP_MALLOC:
	case PROFD_HEAP_VALLOC:
	case PROFD_HEAP_PVALLOC:
	case PROFD_HEAP_CXX_NEW:
		return on_entry(ctx, tgid, fn, a1, 0, 0, sb, fl, ep);
	case PROFD_HEAP_CALLOC:
		return on_entry(ctx, tgid, fn, mul_or_zero(a1, a2), 0, 0, sb,
				fl, ep);
	case PROFD_HEAP_REALLOC:
		return on_entry(ctx, tgid, fn, a2, a1, 0, sb, fl, ep);
	case PROFD_HEAP_REALLOCARRAY:
		return on_entry(ctx, tgid, PROFD_HEAP_REALLOC,
				mul_or_zero(a2, a3), a1, 0, sb, fl, ep);
	case PROFD_HEAP_POSIX_MEMALIGN:
		return on_entry(ctx, tgid, fn, a3, 0, a1, sb, fl, ep);
	case PROFD_HEAP_ALIGNED_ALLOC:
	case PROFD_HEAP_MEMALIGN:
		return on_entry(ctx, tgid, fn, a2, 0, 0, sb, fl, ep);
	}
	return 1;
}

SEC("uretprobe")
int BPF_KRETPROBE(heap_ret)
{
	__u32 tgid = pidns__pid_tgid(false) >> 32;
	struct profd_heap_proc *cfg = bpf_map_lookup_elem(&heap_procs, &tgid);

	/* ~0: no longer tracked, any record is stale. */
	return on_return(ctx, cfg ? cfg->gen : ~0u);
}

SEC("uprobe")
int BPF_KPROBE(heap_free, __u64 ptr)
{
	struct profd_heap_live_key k = {
		.tgid = pidns__pid_tgid(false) >> 32,
		.addr = ptr,
	};

	/* Most frees are of blocks never sampled: a lookup is lock-free,
	 * a delete takes the bucket lock even when the key is absent. */
	if (ptr && bpf_map_lookup_elem(&live, &k) && same_image(k.tgid, NULL))
		bpf_map_delete_elem(&live, &k);
	return 0;
}

/*
 * In-process mode (agent/heap_agent.c): the agent in the process samples,
 * and calls these probe points only for sampled blocks and their frees
 * (heap_free above serves the latter). The stack is taken inside the
 * agent, whose frames the daemon strips; its wrappers keep frame pointers,
 * so a frame-pointer walk reaches the caller without reading [sp].
 */
SEC("uprobe")
int BPF_KPROBE(heap_agent_alloc, __u64 addr, __u64 size, __u64 flags)
{
	__u32 tgid = pidns__pid_tgid(false) >> 32;
	struct profd_heap_proc *cfg = bpf_map_lookup_elem(&heap_procs, &tgid);
	struct profd_heap_stack st = { .tgid = tgid };

	if (!cfg || !addr || !same_image(tgid, cfg))
		return 0;
	if (flags & PROFD_AGENT_DROPPED)
		count_err(PROFD_HEAP_ERR_LIVE_FULL);
	/* A failed realloc's block, live again: not a new allocation, so
	 * no event (the daemon would count one). */
	if ((cfg->flags & PROFD_HEAP_F_DWARF) && !(flags & PROFD_AGENT_RELIVE)) {
		st.stack_hash = send_stack(ctx, tgid, size);
		if (st.stack_hash)
			st.kind = PROFD_HEAP_STACK_DWARF;
		else
			count_err(PROFD_HEAP_ERR_EVENT);
	}
	if (st.kind == PROFD_HEAP_STACK_FP) {
		st.stack_hash = record_stack(ctx);
		if (!st.stack_hash)
			count_err(PROFD_HEAP_ERR_STACK);
	}
	if (flags & PROFD_AGENT_RELIVE) {
		struct profd_heap_live_key k = { .tgid = tgid, .addr = addr };
		struct profd_heap_live_val v = { .size = size, .stack = st };

		if (bpf_map_update_elem(&live, &k, &v, BPF_ANY) < 0)
			count_err(PROFD_HEAP_ERR_LIVE_FULL);
		return 0;
	}
	record(tgid, addr, size, &st, !(flags & PROFD_AGENT_DROPPED));
	return 0;
}
