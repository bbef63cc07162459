// SPDX-License-Identifier: GPL-2.0
/*
 * offcpu_pair: what the wait tracer's records mean. A begin record's
 * stack is unwound and kept as the thread's wait in progress (and as one
 * of its recent stacks, which the kernel's sums refer to); an end record
 * charges the wait to the windows of its process; a sum charges repeated
 * waits. Drain thread: each record's bookkeeping under offcpu's lock, a
 * begin record's unwinding (and the maps re-read, binaries opened and
 * key walks it may need) with the lock let go, on a hold of its own on
 * the process, so an API thread (a window's start, end or wait, status)
 * waits for a copy, never for a walk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include <bpf/bpf.h>

#include "clock.h"
#include "jitmap_proc.h"
#include "lockcheck.h"
#include "offcpu.skel.h"
#include "offcpu_int.h"
#include "profile.h"

static unsigned bucket(uint32_t what, uint32_t tid)
{
	return (tid * 2654435761u + what) & (PENDING_BUCKETS - 1);
}

static struct pending **find_pending(struct offcpu *o, uint32_t what,
				     uint32_t tid)
{
	struct pending **pp;

	for (pp = &o->pending[bucket(what, tid)]; *pp; pp = &(*pp)->next)
		if ((*pp)->what == what && (*pp)->tid == tid)
			return pp;
	return NULL;
}

void offcpu_pair__drop(struct offcpu *o, struct pending **pp)
{
	struct pending *p = *pp;

	*pp = p->next;
	free(p);
	o->npending--;
}

static struct pending *copy_pending(const struct pending *p)
{
	size_t sz = sizeof(*p) + (p->n_user + p->n_kernel) * sizeof(uint64_t);
	struct pending *c = malloc(sz);

	if (c) {
		memcpy(c, p, sz);
		c->next = NULL;
	}
	return c;
}

static struct pending **find_last(struct offcpu *o, uint32_t what,
				  uint32_t tid, uint32_t slot)
{
	struct pending **pp;

	for (pp = &o->last[bucket(what, tid)]; *pp; pp = &(*pp)->next)
		if ((*pp)->what == what && (*pp)->tid == tid &&
		    (*pp)->slot == slot)
			return pp;
	return NULL;
}

/* Keep @c (taken over) as its thread's stack in its slot of its kind. */
static void remember(struct offcpu *o, struct pending *c)
{
	struct pending **pp, *old;

	lock__assert_held(&o->lock);
	pp = find_last(o, c->what, c->tid, c->slot);
	if (pp) {
		old = *pp;
		*pp = old->next;
		free(old);
		o->nlast--;
	}
	if (o->nlast >= o->lim.max_pending) {
		free(c);
		return;		/* its repeats will miss: counted */
	}
	pp = &o->last[bucket(c->what, c->tid)];
	c->next = *pp;
	*pp = c;
	o->nlast++;
}

/* Forget every last stack; BPF sends full records again (new gen). */
void offcpu_pair__forget(struct offcpu *o)
{
	struct pending *p;
	unsigned i;

	for (i = 0; i < PENDING_BUCKETS; i++) {
		while ((p = o->last[i])) {
			o->last[i] = p->next;
			free(p);
		}
	}
	o->nlast = 0;
	if (o->skel)
		__atomic_add_fetch(&o->skel->data->gen, 1, __ATOMIC_RELAXED);
}

struct offcpu_part *offcpu_pair__part(struct offcpu_window *w,
				      uint64_t image)
{
	unsigned i;

	for (i = 0; i < w->nparts; i++)
		if (w->parts[i].image == image)
			return &w->parts[i];
	return NULL;
}

/* Where @n waits of @image go in window @w: its part's aggregate, or
 * NULL with them counted (denied image, or one it does not follow). */
static struct aggregate *agg_of(struct offcpu_window *w, uint64_t image,
				uint64_t n)
{
	struct offcpu_part *pt = offcpu_pair__part(w, image);

	if (!pt) {
		w->left_out += n;
		return NULL;
	}
	if (!pt->agg) {
		pt->denied += n;	/* never unwound, symbolized or shown */
		return NULL;
	}
	return pt->agg;
}

/*
 * Charge wait @p, from its beginning to @end_ns, to every open window on
 * its process and kind (@only: that window alone), for the part inside
 * the window, in the window's part of @p's image. Under lock.
 */
void offcpu_pair__charge(struct offcpu *o, const struct pending *p, uint64_t end_ns,
		   struct offcpu_window *only)
{
	struct offcpu_window *w;
	struct aggregate *agg;

	lock__assert_held(&o->lock);
	for (w = o->windows; w; w = w->next) {
		uint64_t lo, hi;

		if ((only && w != only) || w->closed ||
		    w->req.pid != (pid_t)p->tgid || w->req.what != p->what)
			continue;
		agg = agg_of(w, p->image, 1);
		if (!agg)
			continue;
		lo = p->begin_ns > w->start_ns ? p->begin_ns : w->start_ns;
		hi = end_ns < w->end_ns ? end_ns : w->end_ns;
		if (p->what != PROFD_WAIT_CLONE && hi <= lo)
			continue;
		if (p->what == PROFD_WAIT_CLONE &&
		    (p->begin_ns < w->start_ns || p->begin_ns >= w->end_ns))
			continue;
		(void)aggregate__add(agg, p->tid, p->comm, p->flags, p->ips,
				     p->n_user, p->ips + p->n_user,
				     w->req.kernel ? p->n_kernel : 0, 1,
				     p->what == PROFD_WAIT_CLONE ? 0 : hi - lo);
	}
}

/* The first open window on @tgid for @what allowed to see image @image,
 * and in *@ret_proc the process as of that image, whose mappings unwind
 * its records (windows on one process share it, proc.h). NULL: none is.
 * Under lock. */
static struct offcpu_window *window_of(struct offcpu *o, uint32_t tgid,
				       uint32_t what, uint64_t image,
				       struct proc **ret_proc)
{
	struct offcpu_window *w;
	struct offcpu_part *pt;

	lock__assert_held(&o->lock);
	for (w = o->windows; w; w = w->next) {
		if (w->closed || w->req.pid != (pid_t)tgid ||
		    w->req.what != what)
			continue;
		pt = offcpu_pair__part(w, image);
		/* Allowed: an aggregate, and a proc (none in unit tests). */
		if (pt && pt->agg) {
			*ret_proc = pt->proc;
			return w;
		}
	}
	return NULL;
}

/* @n waits of @tgid's image @image, for @what, that no window unwinds:
 * counted in every window on it (denied, or left out). */
static void left_out(struct offcpu *o, uint32_t tgid, uint32_t what,
		     uint64_t image, uint64_t n)
{
	struct offcpu_window *x;

	for (x = o->windows; x; x = x->next)
		if (x->req.pid == (pid_t)tgid && x->req.what == what)
			(void)agg_of(x, image, n);
}

/* Does @w follow @tgid into image @image and not know it yet? */
static bool wants_check(const struct offcpu_window *w, uint32_t tgid,
			uint32_t what, uint64_t image)
{
	unsigned i;

	if (w->closed || w->req.pid != (pid_t)tgid || w->req.what != what ||
	    w->start_ns == UINT64_MAX || w->nparts == 0 ||
	    w->nparts >= OFFCPU_PARTS || image == PROFD_IMAGE_NONE ||
	    image <= w->parts[0].image)
		return false;
	for (i = 0; i < w->nparts; i++)
		if (w->parts[i].image == image)
			return false;
	return true;
}

/*
 * A record of image @image, newer than some windows on @tgid began on
 * (the process executed a program): have each of them check it, once.
 * Every check adds a part to its window (or the window is gone), so this
 * ends; the lock is let go during each.
 */
static void follow(struct offcpu *o, uint32_t tgid, uint32_t what,
		   uint64_t image, uint64_t time_ns)
{
	struct offcpu_window *w;
	unsigned n;

	for (n = 0; n <= o->lim.max_windows; n++) {
		for (w = o->windows; w; w = w->next)
			if (wants_check(w, tgid, what, image))
				break;
		if (!w)
			return;
		offcpu__follow_exec(o, w, image, time_ns);
	}
}

static void place(struct offcpu *o, struct pending *p);

/*
 * Charge @count waits totalling @total_ns, between @first_ns and
 * @last_ns, with stack @p, to the windows of its process and kind (@only:
 * that one): whole when inside a window, else the share of the span
 * inside it. Under lock.
 */
void offcpu_pair__charge_sum(struct offcpu *o, const struct pending *p,
		       uint64_t first_ns, uint64_t last_ns, uint64_t count,
		       uint64_t total_ns, struct offcpu_window *only)
{
	struct offcpu_window *w;
	struct aggregate *agg;

	lock__assert_held(&o->lock);
	for (w = o->windows; w; w = w->next) {
		uint64_t lo, hi, n, v;

		if ((only && w != only) || w->closed ||
		    w->req.pid != (pid_t)p->tgid || w->req.what != p->what)
			continue;
		agg = agg_of(w, p->image, count);
		if (!agg)
			continue;
		lo = first_ns > w->start_ns ? first_ns : w->start_ns;
		hi = last_ns < w->end_ns ? last_ns : w->end_ns;
		if (hi <= lo)
			continue;
		n = count;
		v = total_ns;
		if (lo > first_ns || hi < last_ns) {
			double f = (double)(hi - lo) / (double)(last_ns - first_ns);

			n = (uint64_t)((double)count * f + 0.5);
			v = (uint64_t)((double)total_ns * f);
			if (!n)
				n = 1;
		}
		(void)aggregate__add(agg, p->tid, p->comm, p->flags, p->ips,
				     p->n_user, p->ips + p->n_user,
				     w->req.kernel ? p->n_kernel : 0, n, v);
	}
}

/* The stack of @tid's last full begin record of @what, if it is of
 * @tgid's image @image. */
struct pending *offcpu_pair__last_of(struct offcpu *o, uint32_t what, uint32_t tid,
			       uint32_t slot, uint32_t tgid, uint64_t image)
{
	struct pending **pp = find_last(o, what, tid, slot);

	if (!pp || (*pp)->tgid != tgid || (*pp)->image != image)
		return NULL;
	return *pp;
}

/* Waits where the thread's last recorded one began, summed in BPF. */
static void on_repeat(struct offcpu *o, const struct profd_wait_repeat *r)
{
	struct proc *proc;
	struct pending *p;
	uint32_t flags;

	o->st.begins += r->count;
	o->st.repeats += r->count;
	if (!window_of(o, r->tgid, r->what, r->image, &proc)) {
		left_out(o, r->tgid, r->what, r->image, r->count);
		return;
	}
	p = offcpu_pair__last_of(o, r->what, r->tid, r->slot, r->tgid, r->image);
	if (!p) {
		o->st.repeat_misses += r->count;
		return;
	}
	flags = p->flags;
	if (r->what == PROFD_WAIT_OFFCPU)
		p->flags = (p->flags & ~PROFILE_STATE_MASK) |
			   (r->state + 1) << PROFILE_STATE_SHIFT;
	offcpu_pair__charge_sum(o, p, r->first_ns, r->last_ns, r->count, r->total_ns, NULL);
	p->flags = flags;
}

/* Walk @b's stack knowing only bp, sp, ip and its first @len bytes:
 * frames in o->key_ips, their count; *@ret_trunc as unwind__stack. */
static int walk_known(struct offcpu *o, struct proc *proc,
		      const struct profd_wait_begin *b, size_t len,
		      bool *ret_trunc)
{
	const uint32_t known = 1u << 6 | 1u << 7 | 1u << 16;	/* bp sp ip */
	int n;

	*ret_trunc = false;
	n = unwind__stack_known(proc, (const uint64_t *)b->regs, known,
				b->stack + b->stack_skip,
				len < b->stack_len ? len : b->stack_len,
				o->key_ips, UNWIND_MAX_FRAMES, ret_trunc);
	return n < 0 ? 0 : n;
}

static bool same_walk(const struct offcpu *o, int n, bool trunc,
		      unsigned nu, bool full_trunc)
{
	return trunc == full_trunc && (unsigned)n == nu &&
	       !memcmp(o->key_ips, o->ips, nu * sizeof(uint64_t));
}

/*
 * The thread's key is too short for this stack: find the KiB (up to
 * PROFD_WAIT_KEY_KIB_MAX) that make the walk whole and tell BPF, so its
 * next records here key that much (their repeats then get the whole
 * stack). A few more walks, once per thread and depth.
 */
static bool lengthen_key(struct offcpu *o, struct proc *proc,
			 const struct profd_wait_begin *b, unsigned nu,
			 bool full_trunc)
{
	uint32_t lo = b->key_kib, hi, mid, tid = b->tid;
	bool t;
	int n;

	hi = (b->stack_len + 1023) / 1024;
	if (hi > PROFD_WAIT_KEY_KIB_MAX)
		hi = PROFD_WAIT_KEY_KIB_MAX;
	if (hi <= lo || !o->skel)
		return false;
	n = walk_known(o, proc, b, (size_t)hi * 1024, &t);
	if (!same_walk(o, n, t, nu, full_trunc))
		return false;	/* not from sp, ip and bp alone: stays cut */
	/* Whole at hi, cut at lo: the least KiB that is whole. */
	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		n = walk_known(o, proc, b, (size_t)mid * 1024, &t);
		if (same_walk(o, n, t, nu, full_trunc))
			hi = mid;
		else
			lo = mid;
	}
	/* (The skeleton lives as long as the drain thread.) */
	return bpf_map_update_elem(bpf_map__fd(o->skel->maps.wait_key_kib),
				   &tid, &hi, BPF_ANY) == 0;
}

/*
 * The kernel sums later waits of this thread into @b's slot when their
 * key is @b's: ip, sp, bp and the innermost b->key_kib KiB of stack
 * (bpf/offcpu.bpf.c), the rest of the stack unseen. Walk @b's stack
 * knowing just that: the walk's frames are then right for every wait
 * with that key. -1 when they are @b's whole stack (@nu frames in
 * o->ips, @trunc) and the slot may share @b's stack; else how many
 * frames in o->key_ips (cut short: [truncated]) — two paths that differ
 * deeper share those, never one another's — and the thread's key is
 * lengthened for its next records. Costs a second, shorter walk per
 * full record; repeats cost nothing more.
 */
static int key_walk(struct offcpu *o, struct proc *proc,
		    const struct profd_wait_begin *b, unsigned nu, bool trunc,
		    bool *ret_lengthened)
{
	bool ktrunc;
	int n;

	if (!proc || !b->stack_len || !b->key_kib ||
	    b->what >= PROFD_WAIT_CLONE)
		return -1;	/* never summed, or not unwound */
	n = walk_known(o, proc, b, (size_t)b->key_kib * 1024, &ktrunc);
	if (same_walk(o, n, ktrunc, nu, trunc))
		return -1;
	*ret_lengthened = lengthen_key(o, proc, b, nu, trunc);
	/* The lengthening walks used key_ips: this record's key again. */
	return walk_known(o, proc, b, (size_t)b->key_kib * 1024, &ktrunc);
}

/*
 * A wait begins: which window wants it (under lock), its stack unwound
 * (lock let go: o->ips and o->key_ips are the drain thread's alone, the
 * process held), then kept as the thread's wait and recent stack (under
 * lock again; windows opened or closed meanwhile are seen there, as
 * place() and remember() look at the windows of then).
 */
static void on_begin(struct offcpu *o, const struct profd_wait_begin *b)
{
	struct offcpu_window *w;
	unsigned nu = 0, nk = b->n_kernel, i, jit_gen;
	struct pending *p, *r = NULL;
	struct proc *proc = NULL;
	bool trunc = false, fp_only, lengthened = false, unwound = false;
	uint32_t flags = 0;
	int kn, n = 0;

	pthread_mutex_lock(&o->lock);
	o->st.begins++;
	/* The first record of an image an exec brought, for some window?
	 * (Each window checks its own caller: one may see it, another
	 * not.) A scan of the windows when none does. */
	follow(o, b->tgid, b->what, b->image, b->time_ns);
	w = window_of(o, b->tgid, b->what, b->image, &proc);
	if (!w) {
		/* Denied, another image's, or too late. */
		left_out(o, b->tgid, b->what, b->image, 1);
		pthread_mutex_unlock(&o->lock);
		return;
	}
	fp_only = w->req.fp_only;
	if (proc)
		proc = proc__hold(proc);	/* w may close meanwhile */
	pthread_mutex_unlock(&o->lock);

	if (nk > PROFD_MAX_KERNEL_FRAMES)
		nk = PROFD_MAX_KERNEL_FRAMES;
	if (b->stack_len && proc) {
		n = unwind__fresh(proc, o->sym, b->time_ns, MAPS_REFRESH_NS,
				  (const uint64_t *)b->regs,
				  b->stack + b->stack_skip, b->stack_len,
				  o->ips, UNWIND_MAX_FRAMES, &trunc, NULL);
		/*
		 * glibc's clone3 (and clone) end their CFI before the
		 * syscall (the child's unwind info would be wrong), so a
		 * walk from there stops at once. Nothing is pushed by then:
		 * the caller's return address is at [sp]; go on from it.
		 */
		if (n <= 1 && b->what == PROFD_WAIT_CLONE &&
		    b->stack_len > 8) {
			uint64_t regs[PROFD_NREGS];

			memcpy(regs, b->regs, sizeof(regs));
			memcpy(&regs[16], b->stack + b->stack_skip, 8);
			regs[7] += 8;
			o->ips[0] = b->regs[16];
			n = unwind__stack(proc, regs,
					  b->stack + b->stack_skip + 8,
					  b->stack_len - 8, o->ips + 1,
					  UNWIND_MAX_FRAMES - 1, &trunc);
			/* ips[1] is a return address now, not a pc: the
			 * walk's leaf is shown as a call site either way. */
			n = n > 0 ? n + 1 : 0;
		}
		if (n > 0) {
			nu = (unsigned)n;
			unwound = true;
		}
	}
	if (!nu) {
		nu = b->n_user > PROFD_MAX_USER_FRAMES ? PROFD_MAX_USER_FRAMES :
							 b->n_user;
		memcpy(o->ips, b->user_ips, nu * sizeof(uint64_t));
		/* No DWARF walk (or not asked): of unknown completeness. */
		if (nu && !fp_only)
			trunc = true;
		if (b->flags & PROFD_SF_USER_TRUNC)
			trunc = true;
		if (b->flags & PROFD_SF_USER_ERR)
			flags |= AGG_F_USER_ERR;
	}
	if (trunc)
		flags |= AGG_F_USER_TRUNC;
	/*
	 * JIT names as of this wait, read while the process runs (as CPU
	 * samples do): a process that exits before the window ends keeps
	 * them. At most one look at its files per JIT_CHECK_NS.
	 */
	jit_gen = proc ? proc__jit_sample(proc, o->ips, nu, b->time_ns,
					  now_ns(CLOCK_MONOTONIC)) : 0;
	flags |= jit_gen << AGG_F_JIT_GEN_SHIFT;
	if (b->what == PROFD_WAIT_OFFCPU)
		flags |= (b->state + 1) << PROFILE_STATE_SHIFT;
	memcpy(o->ips + nu, b->kernel_ips, nk * sizeof(uint64_t));
	kn = key_walk(o, proc, b, nu, trunc, &lengthened);

	p = malloc(sizeof(*p) + (nu + nk) * sizeof(uint64_t));
	if (p) {
		p->next = NULL;
		p->what = b->what;
		p->tid = b->tid;
		p->tgid = b->tgid;
		p->flags = flags;
		p->slot = b->slot;
		p->begin_ns = b->time_ns;
		p->image = b->image;
		memcpy(p->comm, b->comm, sizeof(p->comm));
		p->comm[sizeof(p->comm) - 1] = 0;
		p->n_user = (uint16_t)nu;
		p->n_kernel = (uint16_t)nk;
		for (i = 0; i < nu + nk; i++)
			p->ips[i] = o->ips[i];
	}
	/* Repeats of this slot: the frames their key determines, cut short
	 * where it does not determine the whole stack. */
	if (p && b->what < PROFD_WAIT_CLONE) {
		r = kn < 0 ? copy_pending(p) :
			     malloc(sizeof(*r) + (size_t)kn * sizeof(uint64_t));
		if (r && kn >= 0) {
			memcpy(r, p, sizeof(*r));
			r->flags |= AGG_F_USER_TRUNC;
			r->n_user = (uint16_t)kn;
			r->n_kernel = 0;
			memcpy(r->ips, o->key_ips, (size_t)kn * sizeof(uint64_t));
		}
	}

	pthread_mutex_lock(&o->lock);
	if (unwound)
		o->st.unwound++;
	else if (b->stack_len && proc)
		o->st.unwind_errors++;
	if (lengthened)
		o->st.keys_lengthened++;
	if (r && kn >= 0)
		o->st.repeat_cut++;
	if (r)
		remember(o, r);
	if (p)
		place(o, p);
	pthread_mutex_unlock(&o->lock);
	proc__put(proc);
}

/* A wait begun with the stack of @p (taken over). Under lock. */
static void place(struct offcpu *o, struct pending *p)
{
	struct pending **pp;

	lock__assert_held(&o->lock);
	if (p->what == PROFD_WAIT_CLONE) {
		/* Counted where it happens: no end to wait for. */
		offcpu_pair__charge(o, p, p->begin_ns, NULL);
		free(p);
		return;
	}
	/* A thread's previous wait of this kind that never ended (its end
	 * record lost): replaced. */
	pp = find_pending(o, p->what, p->tid);
	if (pp) {
		offcpu_pair__drop(o, pp);
		o->st.unpaired++;
	}
	if (o->npending >= o->lim.max_pending) {
		o->st.pending_full++;
		free(p);
		return;
	}
	pp = &o->pending[bucket(p->what, p->tid)];
	p->next = *pp;
	*pp = p;
	o->npending++;
}

struct pending *offcpu_pair__take_seed(struct offcpu_window *w, uint32_t tid)
{
	struct pending **pp, *p;

	for (pp = &w->seeds; *pp; pp = &(*pp)->next) {
		if ((*pp)->tid == tid) {
			p = *pp;
			*pp = p->next;
			w->nseeds--;
			return p;
		}
	}
	return NULL;
}

/* A thread off CPU since before its windows opened is back: charge the
 * windows that took its stack then. */
static void on_unseen(struct offcpu *o, const struct profd_wait_end *e)
{
	struct pending **pp = find_pending(o, e->what, e->tid);
	struct offcpu_window *w;
	struct pending *p;

	for (w = o->windows; w; w = w->next) {
		if (w->closed || w->req.pid != (pid_t)e->tgid ||
		    w->req.what != e->what)
			continue;
		p = offcpu_pair__take_seed(w, e->tid);
		if (p) {
			offcpu_pair__charge(o, p, e->end_ns, w);
			free(p);
		} else if (pp) {
			/* Recorded for an earlier window still open. */
			offcpu_pair__charge(o, *pp, e->end_ns, w);
		}
	}
	if (pp)
		offcpu_pair__drop(o, pp);
}

static void on_end(struct offcpu *o, const struct profd_wait_end *e)
{
	struct pending **pp;

	o->st.ends++;
	if (!e->begin_ns) {
		on_unseen(o, e);
		return;
	}
	pp = find_pending(o, e->what, e->tid);
	if (!pp)
		return;		/* began before any window wanted it */
	if ((*pp)->begin_ns != e->begin_ns) {
		o->st.unpaired++;
		offcpu_pair__drop(o, pp);
		return;
	}
	offcpu_pair__charge(o, *pp, e->end_ns, NULL);
	offcpu_pair__drop(o, pp);
}

/* Ring buffer callback, drain thread: takes offcpu's lock for each
 * record (on_begin lets it go while it unwinds). */
int offcpu_pair__record(void *ctx, void *data, size_t size)
{
	struct offcpu *o = ctx;
	const struct profd_wait_begin *b = data;
	const struct profd_wait_end *e = data;
	const struct profd_wait_repeat *rp = data;

	if (size >= sizeof(*rp) && rp->kind == PROFD_EV_WAIT_REPEAT &&
	    rp->what < PROFD_WAIT_CLONE && rp->state < PROFD_WAIT_STATE_MAX &&
	    rp->slot < PROFD_WAIT_SLOTS &&
	    rp->last_ns >= rp->first_ns) {
		pthread_mutex_lock(&o->lock);
		on_repeat(o, rp);
		pthread_mutex_unlock(&o->lock);
		return 0;
	}
	if (size >= sizeof(*e) && e->kind == PROFD_EV_WAIT_END &&
	    e->what < PROFD_WAIT_WHAT_MAX) {
		pthread_mutex_lock(&o->lock);
		on_end(o, e);
		pthread_mutex_unlock(&o->lock);
		return 0;
	}
	/* A begin record holds what it says it holds. */
	if (size < sizeof(*b) || b->kind != PROFD_EV_WAIT_BEGIN ||
	    b->what >= PROFD_WAIT_WHAT_MAX || b->stack_skip >= 4096 ||
	    b->slot >= PROFD_WAIT_SLOTS ||
	    b->key_kib > PROFD_WAIT_KEY_KIB_MAX ||
	    b->stack_len > PROFD_STACK_PAGES_MAX * 4096 ||
	    (size_t)b->stack_skip + b->stack_len > size - sizeof(*b)) {
		pthread_mutex_lock(&o->lock);
		o->st.unpaired++;
		pthread_mutex_unlock(&o->lock);
		return 0;
	}
	on_begin(o, b);
	return 0;
}

/*
 * Is the thread whose /proc/PID/task/TID/syscall reads @buf in a futex
 * wait (the ops bpf/offcpu.bpf.c counts: FUTEX_WAIT, LOCK_PI,
 * WAIT_BITSET, WAIT_REQUEUE_PI, LOCK_PI2; any futex_waitv)? The kernel
 * writes "NR ARG1 ARG2 ..." (hex arguments) for a thread blocked in a
 * syscall, "running" or "-1 SP PC" otherwise.
 */
bool offcpu_pair__futex_waiting(const char *buf)
{
	unsigned long nr, op, cmd;
	char *end;

	if (!buf || *buf < '0' || *buf > '9')
		return false;
	nr = strtoul(buf, &end, 10);
	if (end == buf || *end != ' ')
		return false;
	if (nr == SYS_futex_waitv)
		return true;
	if (nr != SYS_futex)
		return false;
	buf = end + 1;
	(void)strtoul(buf, &end, 16);		/* uaddr */
	if (end == buf || *end != ' ')
		return false;
	buf = end + 1;
	op = strtoul(buf, &end, 16);
	if (end == buf)
		return false;
	cmd = op & 0x7f;
	return cmd == 0 || cmd == 6 || cmd == 9 || cmd == 11 || cmd == 13;
}
