// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <inttypes.h>
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
		pthread_mutex_lock(&o->lock);
		if (o->stopping) {
			pthread_mutex_unlock(&o->lock);
			break;
		}
		(void)ring_buffer__consume(o->rb);
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
static int reconcile(struct offcpu *o)
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

static void errors(struct offcpu *o, uint64_t out[PROFD_WAIT_ERR_MAX])
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
static bool in_futex_wait(int dirfd, uint32_t tid)
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
		    !in_futex_wait(w->t.ref.dirfd, th->tid) :
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
	errors(o, w->errs_at_start);
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
	r = reconcile(o);
	if (r < 0) {
		o->windows = w->next;
		o->nwindows--;
		(void)reconcile(o);
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
		snprintf(why, sizeof(why),
			 "the process executed a program that could not be checked (%s)",
			 strerror(-r));
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

/* Two drain passes begun after now: every record of the window is in.
 * Under lock; false on timeout or shutdown. */
static bool wait_drained(struct offcpu *o)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + DRAIN_TIMEOUT_NS;
	uint64_t target = o->drain_pass + 2;
	struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000000ULL),
			       .tv_nsec = (long)(deadline % 1000000000ULL) };

	while (o->drain_pass < target && !o->stopping)
		if (pthread_cond_timedwait(&o->cond, &o->lock, &ts) == ETIMEDOUT)
			break;
	return o->drain_pass >= target;
}

static struct kallsyms *get_kallsyms(struct offcpu *o)
{
	size_t cap = 16u << 20, len = 0;
	struct kallsyms *k = NULL;
	char *buf;
	ssize_t n;
	int fd;

	if (o->ksyms)
		return o->ksyms;
	fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf && len < cap &&
	       (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (buf && kallsyms__parse(buf, len, &k) == 0)
		o->ksyms = k;
	free(buf);
	return o->ksyms;
}

/*
 * What the kernel holds for @w's threads at its end: sums not sent yet and
 * repeated waits still open (their beginning was never sent), read from
 * the task storage through a pidfd per thread. Under lock.
 */
static void open_sums(struct offcpu *o, struct offcpu_window *w)
{
	int map_fd = bpf_map__fd(o->skel->maps.wait_tasks), dfd;
	uint32_t what = w->req.what, s, k;
	struct profd_wait_task wt;
	struct dirent *de;
	struct pending *p;
	DIR *d;

	if (what >= PROFD_WAIT_CLONE)
		return;
	dfd = openat(w->t.ref.dirfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		uint32_t tid = (uint32_t)strtoul(de->d_name, NULL, 10);
		int pfd;

		if (!tid)
			continue;
		/* PIDFD_THREAD (6.9+): this thread, not its process. */
		pfd = (int)syscall(SYS_pidfd_open, tid, O_EXCL);
		if (pfd < 0) {
			o->st.storage_errors++;
			continue;
		}
		if (bpf_map_lookup_elem(map_fd, &pfd, &wt) < 0) {
			bool none = errno == ENOENT;

			if (!none)
				o->st.storage_errors++;
			close(pfd);
			/* Never on a CPU since the window opened: off CPU
			 * all along, if it was then (a futex wait: if it is
			 * still in one, it left none the programs saw). */
			p = none ? offcpu_pair__take_seed(w, tid) : NULL;
			if (p && (what == PROFD_WAIT_OFFCPU ||
				  in_futex_wait(w->t.ref.dirfd, tid)))
				offcpu_pair__charge(o, p, w->end_ns, w);
			free(p);
			continue;
		}
		close(pfd);
		o->st.storage_reads++;
		/* A seed still here: back on a CPU since (its end record
		 * lost, or it ran before its stack was read) it is stale;
		 * else off CPU for the whole window. A futex seed: waiting
		 * all window if no futex wait of it began or ended since it
		 * opened and it is in one still. */
		p = offcpu_pair__take_seed(w, tid);
		if (p) {
			if (what == PROFD_WAIT_OFFCPU ? wt.seen_gen < w->gen :
			    wt.futex_gen < w->gen &&
			    in_futex_wait(w->t.ref.dirfd, tid))
				offcpu_pair__charge(o, p, w->end_ns, w);
			free(p);
		}
		for (k = 0; k < PROFD_WAIT_SLOTS; k++) {
			/* Of the image the thread last sent a stack of
			 * (the sums are of that one): charged to that
			 * image's part, or counted as left out. */
			p = offcpu_pair__last_of(o, what, tid, k,
						 (uint32_t)w->req.pid, wt.image);
			if (!p)
				continue;
			for (s = 0; s < PROFD_WAIT_STATE_MAX; s++) {
				uint32_t idx = PROFD_WAIT_SUM_IDX(what, k, s);
				uint32_t flags = p->flags;

				if (what == PROFD_WAIT_OFFCPU)
					p->flags = (p->flags & ~PROFILE_STATE_MASK) |
						   (s + 1) << PROFILE_STATE_SHIFT;
				if (wt.sum_n[idx] &&
				    wt.sum_last[idx] >= wt.sum_first[idx])
					offcpu_pair__charge_sum(o, p, wt.sum_first[idx],
						   wt.sum_last[idx], wt.sum_n[idx],
						   wt.sum_ns[idx], w);
				/* Off CPU (or waiting) still: up to the end. */
				if (wt.repeat[what] && wt.slot[what] == k &&
				    wt.state[what] == s && wt.begin_ns[what] &&
				    wt.begin_ns[what] < w->end_ns)
					offcpu_pair__charge_sum(o, p, wt.begin_ns[what],
						   w->end_ns, 1,
						   w->end_ns - wt.begin_ns[what], w);
				p->flags = flags;
			}
		}
	}
	closedir(d);
}

static const char *const what_notes[PROFD_WAIT_WHAT_MAX] = {
	[PROFD_WAIT_OFFCPU] = "off-CPU: each time a thread left the CPU (sched_switch), the time until it ran again, charged to its stack when it left; state: sleeping (waiting for an event), disk (uninterruptible: I/O, kernel locks), preempted (runnable, descheduled); threads off CPU when the window opened are charged from then, to their stack then (read without stopping them), and threads still off CPU at its end up to the end",
	[PROFD_WAIT_FUTEX] = "mutex: time in futex waits (FUTEX_WAIT*, FUTEX_LOCK_PI*, futex_waitv) charged to the waiter's stack: contended pthread mutexes, rwlocks, condition variables, semaphores, joins and raw futexes alike; not seen: spinning before the wait (glibc's adaptive mutexes), uncontended locks (no syscall); threads already in a futex wait when the window opened are charged from then, to their stack then (read without stopping them), until it ends",
	[PROFD_WAIT_CLONE] = "threadcreate: threads created in the window (clone/clone3 with CLONE_THREAD, seen at sched_process_fork), counted by the creating thread's stack; new processes (fork) are not counted",
};

int offcpu__finish(struct offcpu *o, struct offcpu_window *w, void **ret_buf,
		   size_t *ret_len)
{
	static const enum profile_type types[PROFD_WAIT_WHAT_MAX] = {
		[PROFD_WAIT_OFFCPU] = PROFILE_BLOCK,
		[PROFD_WAIT_FUTEX] = PROFILE_MUTEX,
		[PROFD_WAIT_CLONE] = PROFILE_THREADCREATE,
	};
	uint64_t errs[PROFD_WAIT_ERR_MAX], lost, unpaired, full;
	char lines[4][256], execs[OFFCPU_PARTS][400];
	const char *comments[9 + OFFCPU_PARTS];
	struct profile_cpu_part parts[OFFCPU_PARTS] = {};
	struct profile_cpu_desc d = {};
	size_t nc = 0, i, np = 0;
	bool drained;

	pthread_mutex_lock(&o->lock);
	drained = wait_drained(o);
	/* Still waiting at the end: charged up to it. */
	for (i = 0; i < PENDING_BUCKETS; i++) {
		struct pending *p;

		for (p = o->pending[i]; p; p = p->next)
			if (p->begin_ns < w->end_ns)
				offcpu_pair__charge(o, p, w->end_ns, w);
	}
	open_sums(o, w);
	w->closed = true;
	(void)reconcile(o);
	errors(o, errs);
	lost = errs[PROFD_WAIT_ERR_RINGBUF_FULL] -
	       w->errs_at_start[PROFD_WAIT_ERR_RINGBUF_FULL];
	unpaired = o->st.unpaired - w->unpaired_at_start +
		   errs[PROFD_WAIT_ERR_END_LOST] -
		   w->errs_at_start[PROFD_WAIT_ERR_END_LOST];
	full = o->st.pending_full - w->pending_full_at_start;
	if (w->req.kernel)
		d.ksyms = get_kallsyms(o);
	pthread_mutex_unlock(&o->lock);

	comments[nc++] = what_notes[w->req.what];
	comments[nc++] = w->req.fp_only ?
		"user stacks: frame-pointer walk (unwind=fp)" :
		"user stacks: DWARF-unwound in profd ([truncated] where the copy or CFI ran out)";
	if (!w->req.kernel && w->req.what != PROFD_WAIT_CLONE && w->req.fp_only)
		comments[nc++] = "a thread that waits again with the same frame-pointer stack as one of its 4 recent recorded waits is summed in the kernel, without sending the stack again";
	else if (!w->req.kernel && w->req.what != PROFD_WAIT_CLONE)
		comments[nc++] = "a thread that waits again with the same registers (ip, sp, bp) and innermost stack bytes (1 KiB, more for a thread whose stacks need it, up to 16) as one of its 4 recent recorded waits is summed in the kernel, without a new stack, and charged to the frames those determine (an unwind from them alone): where they do not determine the whole stack, it is cut there ([truncated]) rather than taken for another path's";
	if (lost) {
		snprintf(lines[0], sizeof(lines[0]),
			 "%" PRIu64 " waits lost system-wide during the window (ring buffer full): not in this profile",
			 lost);
		comments[nc++] = lines[0];
	}
	if (unpaired || full) {
		snprintf(lines[1], sizeof(lines[1]),
			 "%" PRIu64 " waits whose end was lost and %" PRIu64 " not tracked (pending table full) system-wide during the window: not in this profile",
			 unpaired, full);
		comments[nc++] = lines[1];
	}
	/* What an exec did to the window, and when. The parts are ours
	 * alone once closed: no lock needed. */
	for (i = 0; i < w->nparts; i++) {
		const struct offcpu_part *pt = &w->parts[i];

		if (pt->agg) {
			parts[np].proc = pt->proc;
			parts[np].agg = pt->agg;
			np++;
		}
		if (i == 0)
			continue;
		if (pt->agg)
			snprintf(execs[i], sizeof(execs[i]),
				 "%s about %.1f s into the window: waits from then on are of that program",
				 pt->why, pt->first_ns > w->start_ns ?
				 (double)(pt->first_ns - w->start_ns) / 1e9 : 0.0);
		else
			snprintf(execs[i], sizeof(execs[i]),
				 "%s about %.1f s into the window: its %" PRIu64 " waits are left out of this profile",
				 pt->why, pt->first_ns > w->start_ns ?
				 (double)(pt->first_ns - w->start_ns) / 1e9 : 0.0,
				 pt->denied);
		comments[nc++] = execs[i];
	}
	if (w->left_out) {
		snprintf(lines[2], sizeof(lines[2]),
			 "%" PRIu64 " waits of program images this window did not check (run before it opened, or more execs than it follows) are left out",
			 w->left_out);
		comments[nc++] = lines[2];
	}
	if (w->seeds_dropped) {
		snprintf(lines[3], sizeof(lines[3]),
			 "%u threads waiting when the window opened were not kept (more than %d): their waits begun before it are not in this profile",
			 w->seeds_dropped, SEEDS_MAX);
		comments[nc++] = lines[3];
	}
	if (!drained)
		comments[nc++] = "record dispatch fell behind at the window's end: waits from its last moments may be missing";
	if (w->end_asked)
		comments[nc++] = "ended on request (Ctrl-C in profctl, POST /v1/profile/stop)";

	d.type = types[w->req.what];
	d.pid = w->req.pid;
	d.comm = w->t.ids.comm;
	d.parts = parts;
	d.nparts = np;
	d.period_ns = 1;
	d.time_nanos = w->start_wall_ns;
	d.duration_nanos = (int64_t)(w->end_ns - w->start_ns);
	d.process_exited = !pidref__alive(&w->t.ref);
	d.comments = comments;
	d.ncomments = nc;
	return profile__build_cpu(&d, ret_buf, ret_len);
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
	(void)reconcile(o);
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
	errors(o, ret->errors);
	pthread_mutex_unlock(&o->lock);
}
