// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * profd's wait tracer (include/profd_wait.h): where the threads of the
 * target processes wait. Off-CPU time from sched_switch, futex waits from
 * sys_enter/sys_exit, thread creation from sched_process_fork. Every
 * program first asks whether the thread is a target's, so other
 * processes cost one hash lookup (sched_switch, sched_process_fork) or a
 * compare of the syscall number (sys_enter) and a task-storage lookup
 * (sys_exit); user space attaches each program only while a window
 * wants it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "profd_wait.h"
#include "pidns.bpf.h"
#include "exec.bpf.h"
#include "regs_stack.bpf.h"

#define PF_KTHREAD 0x00200000
#define TASK_UNINTERRUPTIBLE 0x2
#define TASK_DEAD 0x80
#define NR_futex 202
#define NR_futex_waitv 449

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct profd_wait_target);
} wait_targets SEC(".maps");

/* Sized by user space before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} wait_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROFD_WAIT_ERR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} wait_errors SEC(".maps");

/* Per thread (include/profd_wait.h). Freed with the task. */
#define wait_task profd_wait_task

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wait_task);
} wait_tasks SEC(".maps");

/* Where each thread's stack mapping ends: as bpf/cpu.bpf.c's stack_ends
 * (a copy: the two objects load apart). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} wait_stack_ends SEC(".maps");

const volatile __u32 stack_pages_max = PROFD_STACK_PAGES_MAX;

/* Bumped by user space when it forgets the stacks sums refer to. */
__u64 gen = 1;

/*
 * Target processes, for the early filter: up to 8 tgids checked with a
 * few loads (a hash lookup per context switch costs every process on the
 * machine); more, or a PID namespace of profd's own, go through the
 * wait_targets map. Written by user space (bss).
 */
#define FAST_TGIDS 8
__u32 fast_tgids[FAST_TGIDS];
__u32 fast_n;		/* entries in fast_tgids; > FAST_TGIDS: use the map */

struct key_buf {
	__u64 w[PROFD_WAIT_KEY_KIB_MAX * 1024 / 8];
};

/* Threads whose key holds more than PROFD_WAIT_KEY_BYTES (profd_wait.h):
 * KiB, by tid. Bounded; an entry lost only costs full records. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} wait_key_kib SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct key_buf);
} wait_key_bufs SEC(".maps");

/* A frame-pointer walk, taken once per wait: its key and, when the wait
 * is not a repeat, its record's frames. */
struct fp_buf {
	__u64 ips[PROFD_MAX_USER_FRAMES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_buf);
} wait_fp_bufs SEC(".maps");

static __always_inline void count_err(__u32 err)
{
	__u64 *v = bpf_map_lookup_elem(&wait_errors, &err);

	if (v)
		(*v)++;
}

/* @t's ids in profd's namespace (as pidns__pid_tgid() for current). */
static __always_inline __u64 task_ids(struct task_struct *t)
{
	struct task_struct *leader;
	__u32 tgid, tid;

	if (!pidns_inum)
		return (__u64)BPF_CORE_READ(t, tgid) << 32 |
		       (__u32)BPF_CORE_READ(t, pid);
	leader = BPF_CORE_READ(t, group_leader);
	if (!pidns__nr(BPF_CORE_READ(leader, thread_pid), &tgid))
		return 0;
	if (leader == t)
		tid = tgid;
	else if (!pidns__nr(BPF_CORE_READ(t, thread_pid), &tid))
		return 0;
	return (__u64)tgid << 32 | tid;
}


/* The key of thread @tid's stack (see PROFD_WAIT_KEY_BYTES) and, in
 * *@ret_kib, how many KiB of it; 0 when it cannot be read. */
static __always_inline __u64 stack_key(struct pt_regs *u,
				       const struct wait_task *wt, __u64 mm,
				       __u32 *ret_kib)
{
	__u32 zero = 0, i, kib = PROFD_WAIT_KEY_BYTES / 1024;
	__u64 len;
	struct key_buf *kb;
	__u64 h, h0, h1, h2, h3;

	if (wt->key_kib > kib && wt->key_kib <= PROFD_WAIT_KEY_KIB_MAX)
		kib = wt->key_kib;
	kb = bpf_map_lookup_elem(&wait_key_bufs, &zero);
	len = (__u64)kib * 1024;
	barrier_var(len);	/* the verifier must see the bound checked */
	if (!kb || len < 1024 || len > sizeof(*kb) ||
	    bpf_probe_read_user(kb, len, (void *)u->sp) < 0)
		return 0;
	h = (gen ^ mm) * 0x9e3779b97f4a7c15ULL ^ u->ip;
	h = (h ^ u->sp) * 0xff51afd7ed558ccdULL;
	h = (h ^ u->bp) * 0xc4ceb9fe1a85ec53ULL;
	h = (h ^ kib) * 0x9e3779b97f4a7c15ULL;
	/*
	 * Four lanes, each a chain of multiplies over every fourth word,
	 * folded at the end: one chain over 128 words (a KiB) waited for
	 * each multiply in turn, about 0.1 us of a target's every switch
	 * (bench/offcpu); four run side by side.
	 */
	h0 = h;
	h1 = h ^ 0xff51afd7ed558ccdULL;
	h2 = h ^ 0xc4ceb9fe1a85ec53ULL;
	h3 = h ^ 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < PROFD_WAIT_KEY_KIB_MAX * 1024 / 32; i++) {
		if (i >= len / 32)
			break;
		h0 = (h0 ^ kb->w[4 * i]) * 0x100000001b3ULL;
		h1 = (h1 ^ kb->w[4 * i + 1]) * 0x100000001b3ULL;
		h2 = (h2 ^ kb->w[4 * i + 2]) * 0x100000001b3ULL;
		h3 = (h3 ^ kb->w[4 * i + 3]) * 0x100000001b3ULL;
	}
	h = (h0 ^ (h1 >> 29)) * 0x9e3779b97f4a7c15ULL;
	h = (h ^ h1 ^ (h2 >> 31)) * 0xff51afd7ed558ccdULL;
	h = (h ^ h2 ^ (h3 >> 33)) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h3;
	*ret_kib = kib;
	return h | 1;
}

/*
 * The key of a frame-pointer record: its frames themselves (walked into
 * *@ret_fb, *@ret_n bytes), so summed waits have exactly its stack.
 * Costs the walk a full record would take anyway, and a hash of it.
 */
static __always_inline __u64 fp_key(void *ctx, __u64 mm,
				    struct fp_buf **ret_fb, long *ret_n)
{
	struct fp_buf *fb;
	__u32 zero = 0, i;
	__u64 h;
	long n;

	fb = bpf_map_lookup_elem(&wait_fp_bufs, &zero);
	if (!fb)
		return 0;
	n = bpf_get_stack(ctx, fb->ips, sizeof(fb->ips), BPF_F_USER_STACK);
	if (n <= 0)
		return 0;
	*ret_fb = fb;
	*ret_n = n;
	h = (gen ^ mm) * 0x9e3779b97f4a7c15ULL ^ (__u64)n;
	for (i = 0; i < PROFD_MAX_USER_FRAMES; i++) {
		if (i >= n / 8)
			break;
		h = (h ^ fb->ips[i]) * 0x100000001b3ULL;
	}
	return h | 1;
}

/*
 * What profd wants of thread @tid's key now (wait_key_kib), into its task
 * storage: read when it sends a full record or a sum, not at every wait
 * (no hash lookup at every context switch of a busy target).
 */
static __always_inline void key_kib_refresh(struct wait_task *wt, __u32 tid)
{
	__u32 *k = bpf_map_lookup_elem(&wait_key_kib, &tid);

	wt->key_kib = k ? *k : 0;
}

/* Send the sum at @idx (what * 3 + state) of thread @id and clear it. */
static __always_inline void flush(struct wait_task *wt, __u64 id, __u32 idx)
{
	struct profd_wait_repeat *r;

	if (idx >= PROFD_WAIT_NSUMS || !wt->sum_n[idx])
		return;
	r = bpf_ringbuf_reserve(&wait_events, sizeof(*r), 0);
	if (!r) {
		count_err(PROFD_WAIT_ERR_END_LOST);
	} else {
		r->kind = PROFD_EV_WAIT_REPEAT;
		r->what = idx / (PROFD_WAIT_SLOTS * PROFD_WAIT_STATE_MAX);
		r->slot = idx / PROFD_WAIT_STATE_MAX % PROFD_WAIT_SLOTS;
		r->tgid = id >> 32;
		r->tid = (__u32)id;
		r->first_ns = wt->sum_first[idx];
		r->last_ns = wt->sum_last[idx];
		r->count = wt->sum_n[idx];
		r->total_ns = wt->sum_ns[idx];
		r->image = wt->image;
		r->state = idx % PROFD_WAIT_STATE_MAX;
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	}
	wt->sum_n[idx] = 0;
	wt->sum_ns[idx] = 0;
	wt->sum_first[idx] = 0;
	key_kib_refresh(wt, (__u32)id);
}

static __always_inline void flush_slot(struct wait_task *wt, __u64 id,
				       __u32 what, __u32 slot)
{
	__u32 s;

	for (s = 0; s < PROFD_WAIT_STATE_MAX; s++)
		flush(wt, id, PROFD_WAIT_SUM_IDX(what, slot, s));
}

/*
 * Record the beginning of a wait of the current thread (@task, ids @id):
 * its stacks as the target's flags @tf ask. Returns 0 when recorded.
 */
static __always_inline int begin(void *ctx, struct task_struct *task, __u64 id,
				 __u32 tf, __u32 what, __u32 state, __u64 now,
				 struct wait_task *wt)
{
	struct profd_wait_begin *b;
	struct bpf_dynptr dp;
	struct pt_regs *u;
	__u32 pages = 0, got = 0, i, tgid = id >> 32;
	struct profd_exec *ex;
	__u64 sp = 0, base;
	long n;

	struct fp_buf *fb = NULL;
	long fp_n = 0;
	__u64 key = 0, image;
	__u32 slot = 0, k, kib = 0;

	u = (struct pt_regs *)bpf_task_pt_regs(task);
	/* Thread creation is rare and counted exactly: always whole. */
	if (u && !(tf & PROFD_WAIT_F_KERNEL) && what < PROFD_WAIT_CLONE) {
		/*
		 * Where it waited recently? Then say just that. The key
		 * holds the address space too (one load): after an exec
		 * the same registers and bytes are another program's.
		 */
		__u64 mm = (__u64)BPF_CORE_READ(task, mm);

		if (tf & PROFD_WAIT_F_STACK)
			key = stack_key(u, wt, mm, &kib);
		else
			key = fp_key(ctx, mm, &fb, &fp_n);
		for (k = 0; k < PROFD_WAIT_SLOTS && key; k++) {
			if (key != wt->key[what][k])
				continue;
			/* Summed when it ends: nothing to send now. */
			wt->repeat[what] = 1;
			wt->slot[what] = k;
			wt->state[what] = state;
			return 0;
		}
	}
	/*
	 * A full record. The process executed a program since the thread's
	 * last one: what it summed is the old image's, sent as that now
	 * (each sum carries wt->image), and its keys are forgotten.
	 */
	ex = bpf_map_lookup_elem(&execs, &tgid);
	image = ex ? ex->image : PROFD_IMAGE_NONE;
	if (wt->image != image) {
		for (i = 0; i < PROFD_WAIT_NSUMS; i++)
			flush(wt, id, i);
		for (i = 0; i < PROFD_WAIT_SLOTS; i++) {
			wt->key[0][i] = 0;
			wt->key[1][i] = 0;
		}
		wt->image = image;
	}
	if (key) {
		/* The slot this stack takes: its sums go before it. */
		slot = wt->next_slot[what] % PROFD_WAIT_SLOTS;
		flush_slot(wt, id, what, slot);
	}
	if (what < PROFD_WAIT_CLONE)
		wt->repeat[what] = 0;
	if (u && (tf & PROFD_WAIT_F_STACK)) {
		sp = u->sp;
		pages = stack__pages(&wait_stack_ends, task, id, sp,
				     stack_pages_max);
	}
	base = sp & ~4095ULL;
	if (bpf_ringbuf_reserve_dynptr(&wait_events, sizeof(*b) + pages * 4096,
				       0, &dp) < 0) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		count_err(PROFD_WAIT_ERR_RINGBUF_FULL);
		return -1;
	}
	b = bpf_dynptr_data(&dp, 0, sizeof(*b));
	if (!b) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		return -1;
	}
	b->kind = PROFD_EV_WAIT_BEGIN;
	b->what = what;
	b->time_ns = now;
	b->tgid = tgid;
	b->tid = (__u32)id;
	b->state = state;
	b->flags = 0;
	b->image = image;
	bpf_get_current_comm(b->comm, sizeof(b->comm));
	b->slot = slot;
	b->key_kib = key ? kib : 0;
	b->n_user = 0;
	b->n_kernel = 0;
	if (!(tf & PROFD_WAIT_F_STACK)) {
		if (fb && fp_n > 0 && fp_n <= sizeof(b->user_ips))
			n = bpf_probe_read_kernel(b->user_ips, sizeof(b->user_ips),
						  fb->ips) < 0 ? -1 : fp_n;
		else
			n = bpf_get_stack(ctx, b->user_ips, sizeof(b->user_ips),
					  BPF_F_USER_STACK);
		if (n < 0) {
			b->flags |= PROFD_SF_USER_ERR;
			count_err(PROFD_WAIT_ERR_USER_STACK);
			n = 0;
		}
		b->n_user = n / sizeof(__u64);
		if (b->n_user == PROFD_MAX_USER_FRAMES)
			b->flags |= PROFD_SF_USER_TRUNC;
	}
	if (tf & PROFD_WAIT_F_KERNEL) {
		n = bpf_get_stack(ctx, b->kernel_ips, sizeof(b->kernel_ips), 0);
		if (n < 0) {
			b->flags |= PROFD_SF_KERNEL_ERR;
			count_err(PROFD_WAIT_ERR_KERNEL_STACK);
			n = 0;
		}
		b->n_kernel = n / sizeof(__u64);
	}
	if (u)
		regs__dwarf(u, b->regs);
	else
		__builtin_memset(b->regs, 0, sizeof(b->regs));
	for (i = 0; i < PROFD_STACK_PAGES_MAX; i++) {
		void *page;

		if (i >= pages)
			break;
		page = bpf_dynptr_data(&dp, sizeof(*b) + i * 4096, 4096);
		if (!page)
			break;
		if (bpf_probe_read_user(page, 4096, (void *)(base + i * 4096)) < 0)
			break;
		got++;
	}
	b->stack_skip = sp & 4095;
	b->stack_len = got ? got * 4096 - b->stack_skip : 0;
	/* No wakeup per record: user space drains every 50 ms. */
	bpf_ringbuf_submit_dynptr(&dp, BPF_RB_NO_WAKEUP);
	key_kib_refresh(wt, (__u32)id);
	if (what < PROFD_WAIT_CLONE && key) {
		/* A DWARF record without its stack would not unwind. */
		wt->key[what][slot] = got || !(tf & PROFD_WAIT_F_STACK) ? key : 0;
		wt->next_slot[what] = slot + 1;
	}
	return 0;
}

static __always_inline void end(struct task_struct *task, __u64 id,
				__u32 what, __u64 begin_ns, __u64 now)
{
	struct profd_wait_end *e;

	e = bpf_ringbuf_reserve(&wait_events, sizeof(*e), 0);
	if (!e) {
		count_err(PROFD_WAIT_ERR_END_LOST);
		return;
	}
	e->kind = PROFD_EV_WAIT_END;
	e->what = what;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->begin_ns = begin_ns;
	e->end_ns = now;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* Can @t be a target's? False for most threads at the cost of a few
 * loads: no target process has @t's tgid. */
static __always_inline bool maybe_target(struct task_struct *t)
{
	__u32 n = fast_n, tgid, i;

	if (pidns_inum || n > FAST_TGIDS)
		return true;
	tgid = t->tgid;
	for (i = 0; i < FAST_TGIDS; i++) {
		if (i >= n)
			break;
		if (fast_tgids[i] == tgid)
			return true;
	}
	return false;
}

/*
 * The wait of kind @what of thread @t (storage @wt) ends now: an end
 * record, or for a repeat, added to its sum (sent when full).
 */
static __always_inline void wait_end(struct task_struct *t,
				     struct wait_task *wt, __u32 what, __u64 now)
{
	__u64 b, id = task_ids(t);
	__u32 idx;

	if (what >= PROFD_WAIT_CLONE)
		return;
	b = wt->begin_ns[what];
	wt->begin_ns[what] = 0;
	if (!wt->repeat[what]) {
		end(t, id, what, b, now);
		return;
	}
	wt->repeat[what] = 0;
	if (wt->slot[what] >= PROFD_WAIT_SLOTS ||
	    wt->state[what] >= PROFD_WAIT_STATE_MAX)
		return;
	idx = PROFD_WAIT_SUM_IDX(what, wt->slot[what], wt->state[what]);
	if (idx >= PROFD_WAIT_NSUMS)
		return;
	if (!wt->sum_n[idx])
		wt->sum_first[idx] = b;
	wt->sum_n[idx]++;
	wt->sum_ns[idx] += now - b;
	wt->sum_last[idx] = now;
	if (wt->sum_n[idx] >= PROFD_WAIT_SUM_MAX ||
	    now - wt->sum_first[idx] >= PROFD_WAIT_SUM_NS)
		flush(wt, id, idx);
}

/* Is the thread @t a target's for @what? Its flags, 0 if not. */
static __always_inline __u32 target_flags(struct task_struct *t, __u64 *ret_id,
					  __u32 what)
{
	struct profd_wait_target *tv;
	__u32 tgid;
	__u64 id;

	if (!maybe_target(t))
		return 0;
	if (BPF_CORE_READ(t, flags) & PF_KTHREAD)
		return 0;
	id = task_ids(t);
	tgid = id >> 32;
	if (!tgid)
		return 0;
	tv = bpf_map_lookup_elem(&wait_targets, &tgid);
	if (!tv || !(tv->flags & (1u << what)))
		return 0;
	*ret_id = id;
	return tv->flags;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(profd_wait_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	struct wait_task *wt;
	__u64 now = 0, id = 0;
	__u32 tf, state;

	/* The thread coming back: was its leaving recorded? */
	bool may = maybe_target(next);

	wt = may ? bpf_task_storage_get(&wait_tasks, next, 0, 0) : NULL;
	if ((!wt || wt->seen_gen != gen) && may &&
	    target_flags(next, &id, PROFD_WAIT_OFFCPU)) {
		/*
		 * Off CPU since before a window opened (the first return in
		 * this generation): profd read its stack when the window
		 * opened and charges from then. A wait recorded before
		 * (for an earlier window) ends here too, said the same way.
		 */
		if (!wt)
			wt = bpf_task_storage_get(&wait_tasks, next, 0,
						  BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (wt) {
			wt->seen_gen = gen;
			wt->begin_ns[PROFD_WAIT_OFFCPU] = 0;
			wt->repeat[PROFD_WAIT_OFFCPU] = 0;
			now = bpf_ktime_get_ns();
			end(next, id, PROFD_WAIT_OFFCPU, 0, now);
		}
	} else if (wt && wt->begin_ns[PROFD_WAIT_OFFCPU]) {
		now = bpf_ktime_get_ns();
		wait_end(next, wt, PROFD_WAIT_OFFCPU, now);
		wt->seen_gen = gen;
	}

	id = 0;
	tf = target_flags(prev, &id, PROFD_WAIT_OFFCPU);
	if (!tf)
		return 0;
	/* A thread's last switch: it exits, it never comes back. */
	if (prev_state & TASK_DEAD)
		return 0;
	/* A thread inside execve: of no image yet (bpf/cpu.bpf.c). */
	if (bpf_core_field_exists(prev->in_execve) &&
	    BPF_CORE_READ_BITFIELD_PROBED(prev, in_execve))
		return 0;
	if (preempt || !(prev_state & 0xff))
		state = PROFD_WAIT_PREEMPTED;
	else if (prev_state & TASK_UNINTERRUPTIBLE)
		state = PROFD_WAIT_DISK;
	else
		state = PROFD_WAIT_SLEEPING;
	if (!now)
		now = bpf_ktime_get_ns();
	wt = bpf_task_storage_get(&wait_tasks, prev, 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!wt)
		return 0;
	wt->seen_gen = gen;
	if (begin(ctx, prev, id, tf, PROFD_WAIT_OFFCPU, state, now, wt) == 0)
		wt->begin_ns[PROFD_WAIT_OFFCPU] = now;
	return 0;
}

/* futex ops that wait: FUTEX_WAIT, LOCK_PI, WAIT_BITSET, WAIT_REQUEUE_PI,
 * LOCK_PI2 (the command without PRIVATE and CLOCK_REALTIME). */
static __always_inline bool futex_waits(__u64 op)
{
	__u32 cmd = op & 0x7f;

	return cmd == 0 || cmd == 6 || cmd == 9 || cmd == 11 || cmd == 13;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(profd_wait_futex_enter, struct pt_regs *regs, long nr)
{
	struct task_struct *task;
	struct wait_task *wt;
	__u64 id = 0, now;
	__u32 tf;

	if (nr != NR_futex && nr != NR_futex_waitv)
		return 0;
	if (nr == NR_futex && !futex_waits(BPF_CORE_READ(regs, si)))
		return 0;
	task = bpf_get_current_task_btf();
	tf = target_flags(task, &id, PROFD_WAIT_FUTEX);
	if (!tf)
		return 0;
	wt = bpf_task_storage_get(&wait_tasks, task, 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!wt)
		return 0;
	now = bpf_ktime_get_ns();
	wt->futex_gen = gen;
	if (begin(ctx, task, id, tf, PROFD_WAIT_FUTEX, 0, now, wt) == 0)
		wt->begin_ns[PROFD_WAIT_FUTEX] = now;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(profd_wait_futex_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct wait_task *wt;

	__u64 id = 0;
	long nr;

	/* Every syscall of every process passes here: a few loads. */
	if (!maybe_target(task))
		return 0;
	wt = bpf_task_storage_get(&wait_tasks, task, 0, 0);
	if (wt && wt->begin_ns[PROFD_WAIT_FUTEX] && wt->futex_gen == gen) {
		wait_end(task, wt, PROFD_WAIT_FUTEX, bpf_ktime_get_ns());
		return 0;
	}
	/*
	 * A futex wait that began before this generation (before a window
	 * opened: profd read the thread's stack then, as for off-CPU
	 * seeds), the first in it: say it ended, with begin 0. A target's
	 * threads only, and once per thread and generation.
	 */
	nr = BPF_CORE_READ(regs, orig_ax);
	if (nr != NR_futex && nr != NR_futex_waitv)
		return 0;
	if (nr == NR_futex && !futex_waits(BPF_CORE_READ(regs, si)))
		return 0;
	if (wt && wt->futex_gen == gen)
		return 0;
	if (!target_flags(task, &id, PROFD_WAIT_FUTEX))
		return 0;
	if (!wt)
		wt = bpf_task_storage_get(&wait_tasks, task, 0,
					  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!wt)
		return 0;
	wt->futex_gen = gen;
	wt->begin_ns[PROFD_WAIT_FUTEX] = 0;
	wt->repeat[PROFD_WAIT_FUTEX] = 0;
	end(task, id, PROFD_WAIT_FUTEX, 0, bpf_ktime_get_ns());
	return 0;
}

/* In the parent's context: its stack is where the thread was created. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(profd_wait_fork, struct task_struct *parent,
	     struct task_struct *child)
{
	struct wait_task *wt;
	__u64 id = 0;
	__u32 tf;

	/* A new process, not a thread of this one. */
	if (BPF_CORE_READ(parent, tgid) != BPF_CORE_READ(child, tgid))
		return 0;
	tf = target_flags(parent, &id, PROFD_WAIT_CLONE);
	if (!tf)
		return 0;
	wt = bpf_task_storage_get(&wait_tasks, parent, 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!wt)
		return 0;
	(void)begin(ctx, parent, id, tf, PROFD_WAIT_CLONE, 0,
		    bpf_ktime_get_ns(), wt);
	return 0;
}
