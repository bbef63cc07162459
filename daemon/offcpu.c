// SPDX-License-Identifier: GPL-2.0
/*
 * offcpu: a wait window's life (block, mutex, threadcreate): the wait
 * tracer loaded, and attached for what the open windows want, with its
 * drain thread; a window opened with the threads already waiting seeded,
 * an exec followed, ended early, waited for, closed. Its records are
 * offcpu_pair.c's, its end and profile offcpu_finish.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "aggregate.h"
#include "clock.h"
#include "execfollow.h"
#include "jitmap_proc.h"
#include "kallsyms.h"
#include "offcpu.h"
#include "offcpu.skel.h"
#include "pidns.h"
#include "proc.h"
#include "profile.h"
#include "target.h"
#include "unwind.h"

#include "offcpu_int.h"
_Static_assert(sizeof(struct profd_wait_begin) ==
	       208 + 8 * (PROFD_MAX_USER_FRAMES + PROFD_MAX_KERNEL_FRAMES),
	       "profd_wait_begin layout changed");
_Static_assert(sizeof(struct profd_wait_end) == 32, "profd_wait_end");



int offcpu__new(const struct offcpu_limits *lim, struct proc_cache *pc,
		struct execwatch *w, struct threads *t, uint32_t pidns_inum,
		struct offcpu **ret)
{
	struct offcpu *o = calloc(1, sizeof(*o));
	pthread_condattr_t ca;

	if (!o)
		return -ENOMEM;
	pthread_mutex_init(&o->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cond, &ca);
	pthread_condattr_destroy(&ca);
	o->lim = *lim;
	o->pc = pc;
	o->sym = proc_cache__symbolizer(pc);
	o->w = w;
	o->pidns_inum = pidns_inum;
	o->threads = t;
	*ret = o;
	return 0;
}


static void *drain_thread(void *arg)
{
	struct offcpu *o = arg;

	for (;;) {
		bool stop;

		pthread_mutex_lock(&o->lock);
		stop = o->stopping;
		pthread_mutex_unlock(&o->lock);
		if (stop)
			break;
		/* Each record takes the lock itself (offcpu_pair.c): not
		 * held across the pass, which unwinds. */
		(void)ring_buffer__consume(o->rb);
		pthread_mutex_lock(&o->lock);
		o->drain_pass++;
		pthread_cond_broadcast(&o->cond);
		pthread_mutex_unlock(&o->lock);
		/* Records are submitted without wakeups: every 50 ms. */
		usleep(50 * 1000);
	}
	return NULL;
}

/* Load the wait tracer (first window). Under lock. */
static int load(struct offcpu *o)
{
	int r;

	if (o->skel)
		return 0;
	o->skel = offcpu_bpf__open();
	if (!o->skel)
		return -errno;
	/* 8 MiB: 100k waits/s of a shallow thread (~6 KiB each) fill it
	 * in ~15 ms between drains only past that rate; lost ones are
	 * counted and stated. */
	r = bpf_map__set_max_entries(o->skel->maps.wait_events, 8u << 20);
	if (r < 0)
		goto fail;
	o->skel->rodata->pidns_inum = o->pidns_inum;
	if (!o->pidns_inum) {
		r = bpf_program__set_autoload(o->skel->progs.profd_pidns_probe,
					      false);
		if (r < 0)
			goto fail;
	}
	r = bpf_map__reuse_fd(o->skel->maps.execs, execwatch__map_fd(o->w));
	if (r < 0)
		goto fail;
	r = offcpu_bpf__load(o->skel);
	if (r < 0)
		goto fail;
	if (o->pidns_inum) {
		r = pidns__probe(bpf_program__fd(o->skel->progs.profd_pidns_probe));
		if (r < 0)
			goto fail;
	}
	o->rb = ring_buffer__new(bpf_map__fd(o->skel->maps.wait_events),
				 offcpu_pair__record, o, NULL);
	if (!o->rb) {
		r = -errno;
		goto fail;
	}
	r = -pthread_create(&o->drainer, NULL, drain_thread, o);
	if (r < 0)
		goto fail;
	o->drainer_started = true;
	o->st.loaded = true;
	return 0;
fail:
	ring_buffer__free(o->rb);
	o->rb = NULL;
	offcpu_bpf__destroy(o->skel);
	o->skel = NULL;
	return r;
}

/*
 * Make the targets map and the attached programs what the open windows
 * want: a program is attached only while a window needs it, so the cost
 * for every other process is nil between windows. Under lock.
 */
int offcpu__reconcile(struct offcpu *o)
{
	struct bpf_program *progs[PROFD_WAIT_WHAT_MAX + 1];
	uint32_t want = 0, keys[64], tgid, next;
	struct profd_wait_target v[64];
	struct offcpu_window *w;
	size_t n = 0, i;
	int fd, r = 0;

	if (!o->skel)
		return 0;
	for (w = o->windows; w; w = w->next) {
		uint32_t f = 1u << w->req.what;

		if (w->closed)
			continue;
		if (w->req.kernel)
			f |= PROFD_WAIT_F_KERNEL;
		if (!w->req.fp_only)
			f |= PROFD_WAIT_F_STACK;
		want |= 1u << w->req.what;
		for (i = 0; i < n && keys[i] != (uint32_t)w->req.pid; i++)
			;
		if (i == n) {
			if (n == 64)
				return -E2BIG;
			keys[n] = (uint32_t)w->req.pid;
			v[n].flags = 0;
			v[n].pad = 0;
			n++;
		}
		v[i].flags |= f;
	}
	/* The early filter: the map's tgids, or "look in the map". */
	if (n > 8) {
		o->skel->bss->fast_n = 9;
	} else {
		o->skel->bss->fast_n = 0;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		for (i = 0; i < n; i++)
			o->skel->bss->fast_tgids[i] = keys[i];
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		o->skel->bss->fast_n = (uint32_t)n;
	}
	fd = bpf_map__fd(o->skel->maps.wait_targets);
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, &keys[i], &v[i], BPF_ANY) < 0)
			return -errno;
	/* Delete the others: collect first, the walk breaks on deletes. */
	{
		uint32_t del[64];
		size_t nd = 0, j;
		void *prev = NULL;

		while (nd < 64 && bpf_map_get_next_key(fd, prev, &next) == 0) {
			for (j = 0; j < n && keys[j] != next; j++)
				;
			if (j == n)
				del[nd++] = next;
			tgid = next;
			prev = &tgid;
		}
		for (j = 0; j < nd; j++)
			(void)bpf_map_delete_elem(fd, &del[j]);
	}
	progs[PROFD_WAIT_OFFCPU] = o->skel->progs.profd_wait_switch;
	progs[PROFD_WAIT_FUTEX] = o->skel->progs.profd_wait_futex_enter;
	progs[PROFD_WAIT_CLONE] = o->skel->progs.profd_wait_fork;
	progs[PROFD_WAIT_WHAT_MAX] = o->skel->progs.profd_wait_futex_exit;
	for (i = 0; i <= PROFD_WAIT_WHAT_MAX; i++) {
		size_t k = i == PROFD_WAIT_WHAT_MAX ? PROFD_WAIT_FUTEX : i;
		bool on = want & (1u << k);

		if (on && !o->links[i]) {
			o->links[i] = bpf_program__attach(progs[i]);
			if (!o->links[i] && !r)
				r = -errno;
		} else if (!on && o->links[i]) {
			bpf_link__destroy(o->links[i]);
			o->links[i] = NULL;
		}
	}
	return r;
}

void offcpu__read_errors(struct offcpu *o, uint64_t out[PROFD_WAIT_ERR_MAX])
{
	int ncpus = libbpf_num_possible_cpus(), c, fd;
	uint64_t *vals;
	__u32 k;

	memset(out, 0, PROFD_WAIT_ERR_MAX * sizeof(*out));
	if (!o->skel || ncpus <= 0)
		return;
	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (!vals)
		return;
	fd = bpf_map__fd(o->skel->maps.wait_errors);
	for (k = 0; k < PROFD_WAIT_ERR_MAX; k++)
		if (bpf_map_lookup_elem(fd, &k, vals) == 0)
			for (c = 0; c < ncpus; c++)
				out[k] += vals[c];
	free(vals);
}

/* Drop every begun wait and every thread's recent stacks (BPF sends
 * them again: a new generation). Under lock, or at the end. */
static void forget_waits(struct offcpu *o)
{
	unsigned i;

	for (i = 0; i < PENDING_BUCKETS; i++)
		while (o->pending[i])
			offcpu_pair__drop(o, &o->pending[i]);
	offcpu_pair__forget(o);
}

/* A window's own resources (it is out of o->windows). */
static void window_free(struct offcpu_window *w)
{
	struct pending *p;
	unsigned i;

	while ((p = w->seeds)) {
		w->seeds = p->next;
		free(p);
	}
	for (i = 0; i < w->nparts; i++) {
		proc__put(w->parts[i].proc);
		aggregate__free(w->parts[i].agg);
	}
	target__release(&w->t);
	free(w);
}

void offcpu__shutdown(struct offcpu *o)
{
	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

void offcpu__free(struct offcpu *o)
{
	unsigned i;

	if (!o)
		return;
	offcpu__shutdown(o);
	if (o->drainer_started)
		pthread_join(o->drainer, NULL);
	for (i = 0; i <= PROFD_WAIT_WHAT_MAX; i++)
		bpf_link__destroy(o->links[i]);
	ring_buffer__free(o->rb);
	/* Before the skeleton goes: forgetting bumps its generation. */
	forget_waits(o);
	offcpu_bpf__destroy(o->skel);
	kallsyms__free(o->ksyms);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

struct seed_ctx {
	struct offcpu *o;
	struct offcpu_window *w;
};

/* Is thread @tid of the process at /proc dirfd @dirfd in a futex wait
 * now? Reads /proc/PID/task/TID/syscall. */
bool offcpu__in_futex_wait(int dirfd, uint32_t tid)
{
	char path[48], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "task/%u/syscall", tid);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return offcpu_pair__futex_waiting(buf);
}

/*
 * A thread of a block or mutex window's process as it was when the
 * window opened. Block: asleep (S) or in the kernel uninterruptibly (D),
 * it is off CPU since before the window. Mutex: in a futex wait
 * (/proc/PID/task/TID/syscall), since before the window. Either way its
 * stacks (user, and kernel with kernel=1) are where it waits. Kept as a seed until the wait ends (an end
 * record with begin 0) or the window does.
 */
static void seed(void *ctx, const struct threads_thread *th)
{
	struct seed_ctx *sc = ctx;
	struct offcpu_window *w = sc->w;
	struct pending *p;
	unsigned n = th->n, nk;

	if (w->req.what == PROFD_WAIT_FUTEX ?
		    !offcpu__in_futex_wait(w->t.ref.dirfd, th->tid) :
		    th->state != 'S' && th->state != 'D')
		return;
	nk = w->req.kernel ? th->nk : 0;
	if (nk > PROFD_MAX_KERNEL_FRAMES)
		nk = PROFD_MAX_KERNEL_FRAMES;
	p = w->nseeds < SEEDS_MAX ?
		calloc(1, sizeof(*p) + (n + nk ? n + nk : 1) * sizeof(uint64_t)) :
		NULL;
	if (!p) {
		w->seeds_dropped++;	/* (the window is not open yet) */
		return;
	}
	p->what = w->req.what;
	p->tid = th->tid;
	p->tgid = (uint32_t)w->req.pid;
	p->image = w->t.image;
	p->begin_ns = w->start_ns;
	if (w->req.what == PROFD_WAIT_OFFCPU)
		p->flags = ((th->state == 'D' ? PROFD_WAIT_DISK :
						PROFD_WAIT_SLEEPING) + 1)
			   << PROFILE_STATE_SHIFT;
	if (!n)
		p->flags |= AGG_F_USER_ERR;
	if (th->truncated)
		p->flags |= AGG_F_USER_TRUNC;
	/* JIT names of now (jitmap_proc.h), kept if the process exits. */
	if (n && w->parts[0].proc) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);

		p->flags |= proc__jit_sample(w->parts[0].proc, th->ips, n,
					     now, now) << AGG_F_JIT_GEN_SHIFT;
	}
	snprintf(p->comm, sizeof(p->comm), "%s", th->comm);
	p->n_user = (uint16_t)n;
	if (n)
		memcpy(p->ips, th->ips, n * sizeof(uint64_t));
	p->n_kernel = (uint16_t)nk;
	if (nk)
		memcpy(p->ips + n, th->kips, nk * sizeof(uint64_t));
	pthread_mutex_lock(&sc->o->lock);
	p->next = w->seeds;
	w->seeds = p;
	w->nseeds++;
	sc->o->st.seeded++;
	pthread_mutex_unlock(&sc->o->lock);
}

int offcpu__start(struct offcpu *o, const struct offcpu_req *req,
		  struct offcpu_window **ret)
{
	struct offcpu_window *w;
	struct pending *p;
	uid_t owner;
	int r, tries;

	if (req->seconds == 0 || req->seconds > o->lim.max_seconds ||
	    req->what >= PROFD_WAIT_WHAT_MAX)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->req = *req;
	w->t = TARGET_NONE;
	w->nparts = 1;
	r = aggregate__new(o->lim.max_stacks, &w->parts[0].agg);
	if (r < 0) {
		free(w);
		return r;
	}
	/* The process and the image checked, its mappings read from it. */
	r = -EAGAIN;
	for (tries = 0; tries < 3 && r == -EAGAIN; tries++) {
		r = target__bind(o->w, req->pid, req->uid, &w->t, &owner);
		if (r == -EPERM)
			r = -EACCES;
		if (r < 0)
			break;
		/* Shared with CPU windows and the heap tracker. */
		r = proc__get(o->pc, req->pid, w->t.ref.dirfd,
			      w->t.ids.start_time, w->t.image,
			      &w->parts[0].proc);
		if (r == 0 && target__current(&w->t) == -ESTALE)
			r = -EAGAIN;
		if (r < 0) {
			proc__put(w->parts[0].proc);
			w->parts[0].proc = NULL;
			target__release(&w->t);
		}
	}
	if (r < 0)
		goto fail_unlocked;
	w->parts[0].image = w->t.image;

	/*
	 * The threads off CPU now, before the programs attach: without them
	 * waits begun before the window would go unseen. One that runs
	 * before the attach and waits again is recorded leaving (its seed
	 * is dropped at the end); one that comes back later says so.
	 */
	if (req->what != PROFD_WAIT_CLONE && o->threads) {
		struct seed_ctx sc = { .o = o, .w = w };

		(void)threads__each(o->threads, req->pid, w->t.ref.dirfd,
				    w->parts[0].proc, seed, &sc);
	}
	pthread_mutex_lock(&o->lock);
	if (o->stopping) {
		r = -ECANCELED;
		goto fail;
	}
	if (o->nwindows >= o->lim.max_windows) {
		r = -EBUSY;
		goto fail;
	}
	r = load(o);
	if (r < 0) {
		if (r == -EACCES)
			r = -EPERM;
		goto fail;
	}
	offcpu__read_errors(o, w->errs_at_start);
	w->unpaired_at_start = o->st.unpaired;
	w->pending_full_at_start = o->st.pending_full;
	/* Open while the programs attach (the first attach takes ~0.1 s):
	 * nothing is charged before start_ns, set once they are. */
	w->start_ns = w->end_ns = UINT64_MAX;
	/* A new generation: every target thread's first return to a CPU
	 * that was not recorded leaving says so (seeds), and every thread
	 * sends its stack again before repeats. */
	w->gen = __atomic_add_fetch(&o->skel->data->gen, 1, __ATOMIC_RELAXED);
	w->id = ++o->next_id;
	w->next = o->windows;
	o->windows = w;
	o->nwindows++;
	r = offcpu__reconcile(o);
	if (r < 0) {
		o->windows = w->next;
		o->nwindows--;
		(void)offcpu__reconcile(o);
		if (r == -EACCES)
			r = -EPERM;
		goto fail;
	}
	w->start_ns = now_ns(CLOCK_MONOTONIC);
	w->end_ns = w->start_ns + (uint64_t)req->seconds * 1000000000ULL;
	w->start_wall_ns = (int64_t)now_ns(CLOCK_REALTIME);
	for (p = w->seeds; p; p = p->next)
		p->begin_ns = w->start_ns;
	pthread_mutex_unlock(&o->lock);
	*ret = w;
	return 0;
fail:
	pthread_mutex_unlock(&o->lock);
fail_unlocked:
	window_free(w);
	return r;
}

static struct offcpu_window *window_by_id(struct offcpu *o, uint64_t id)
{
	struct offcpu_window *w;

	for (w = o->windows; w && w->id != id; w = w->next)
		;
	return w;
}

/*
 * (offcpu_int.h) As CPU windows do (session_sample.c's check_exec): the
 * caller checked again against the image the exec brought, its mappings
 * captured if they may see it. The answer holds for the rest of the
 * window. The slow part (reading /proc, opening binaries) runs without
 * offcpu's lock, on a hold of our own on the process; records wait for it
 * (once per exec and window).
 */
void offcpu__follow_exec(struct offcpu *o, struct offcpu_window *w,
			 uint64_t image, uint64_t time_ns)
{
	struct target t = TARGET_NONE;
	struct proc *fresh = NULL;
	struct aggregate *agg = NULL;
	struct offcpu_part *pt;
	char why[sizeof(pt->why)];
	uint64_t id = w->id;
	uid_t uid = w->req.uid;
	int r;

	r = target__dup(&w->t, &t);
	pthread_mutex_unlock(&o->lock);
	if (r == 0)
		r = execfollow__check(&t, uid, image, o->pc, o->w, &fresh,
				      why, sizeof(why));
	else
		r = execfollow__unchecked(r, why, sizeof(why));
	if (r == 0)
		r = aggregate__new(o->lim.max_stacks, &agg);
	pthread_mutex_lock(&o->lock);
	w = window_by_id(o, id);
	/* Gone, or checked meanwhile: nothing to add. */
	if (!w || w->closed || w->nparts >= OFFCPU_PARTS ||
	    offcpu_pair__part(w, image))
		goto out;
	pt = &w->parts[w->nparts++];
	memset(pt, 0, sizeof(*pt));
	pt->image = image;
	pt->first_ns = time_ns;
	snprintf(pt->why, sizeof(pt->why), "%s", why);
	if (r == 0) {
		pt->proc = fresh;
		pt->agg = agg;
		fresh = NULL;
		agg = NULL;
	}
out:
	proc__put(fresh);
	aggregate__free(agg);
	target__release(&t);
}

unsigned offcpu__end(struct offcpu *o, pid_t pid, uid_t uid,
		     const char *window)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	struct offcpu_window *w;
	unsigned n = 0;

	pthread_mutex_lock(&o->lock);
	for (w = o->windows; w; w = w->next) {
		if (w->closed || w->req.pid != pid || w->req.uid != uid ||
		    (window[0] && strcmp(window, w->req.window)) ||
		    w->start_ns == UINT64_MAX || now >= w->end_ns)
			continue;	/* (still attaching: not open yet) */
		w->end_ns = now > w->start_ns ? now : w->start_ns + 1;
		w->end_asked = true;
		n++;
	}
	pthread_mutex_unlock(&o->lock);
	return n;
}

bool offcpu__ended_early(struct offcpu *o, struct offcpu_window *w,
			 uint64_t *ret_ns)
{
	bool early;

	pthread_mutex_lock(&o->lock);
	early = w->end_asked;
	*ret_ns = w->end_ns - w->start_ns;
	pthread_mutex_unlock(&o->lock);
	return early;
}

int offcpu__wait(struct offcpu *o, struct offcpu_window *w, int conn_fd)
{
	for (;;) {
		uint64_t now = now_ns(CLOCK_MONOTONIC), end;
		bool stop;
		int timeout_ms;

		pthread_mutex_lock(&o->lock);
		stop = o->stopping;
		end = w->end_ns;	/* offcpu__end() may bring it closer */
		pthread_mutex_unlock(&o->lock);
		if (stop)
			return -ECANCELED;
		if (now >= end)
			return 0;
		/* The process exited: nothing more will wait; end here (as
		 * CPU windows do), so no wait is charged past its end. */
		if (!pidref__alive(&w->t.ref)) {
			pthread_mutex_lock(&o->lock);
			w->end_ns = now;
			pthread_mutex_unlock(&o->lock);
			return 0;
		}
		/* 100 ms at most: an early end is seen within that. */
		timeout_ms = (int)((end - now) / 1000000) + 1;
		if (timeout_ms > 100)
			timeout_ms = 100;
		if (conn_fd >= 0) {
			struct pollfd pfd = { .fd = conn_fd,
					      .events = POLLRDHUP };

			if (poll(&pfd, 1, timeout_ms) > 0 &&
			    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
				return -ECONNRESET;
		} else {
			usleep((useconds_t)timeout_ms * 1000);
		}
	}
}

void offcpu__close(struct offcpu *o, struct offcpu_window *w)
{
	struct offcpu_window **pp;

	if (!w)
		return;
	pthread_mutex_lock(&o->lock);
	for (pp = &o->windows; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			o->nwindows--;
			break;
		}
	}
	w->closed = true;
	(void)offcpu__reconcile(o);
	/* No window left: waits begun for them (threads that exited keep
	 * theirs forever) are nobody's. */
	if (!o->windows)
		forget_waits(o);
	pthread_mutex_unlock(&o->lock);
	window_free(w);
}

void offcpu__stats(struct offcpu *o, struct offcpu_stats *ret)
{
	pthread_mutex_lock(&o->lock);
	*ret = o->st;
	ret->windows_active = o->nwindows;
	offcpu__read_errors(o, ret->errors);
	pthread_mutex_unlock(&o->lock);
}
