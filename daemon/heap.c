// SPDX-License-Identifier: GPL-2.0
/*
 * The heap tracker's lifecycle (heap.h): start, stop, wait, stats and
 * teardown, and the lock that guards its processes (its upkeep threads,
 * gc and the reaper, are heap_gc.c's). The other jobs are in the heap_*.c
 * files listed in heap_int.h, with the lock order.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "heap.h"
#include "heap_int.h"
#include "lockcheck.h"
#include "json.h"
#include "proc.h"
#include "target.h"
#include "wait.h"

int heap__new(const struct heap_limits *lim, struct symbolizer *sym,
	      struct execwatch *w, struct proc_cache *pc,
	      struct heap_tracker **ret)
{
	struct heap_tracker *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->load_lock, NULL);
	pthread_mutex_init(&h->rb_lock, NULL);
	pthread_mutex_init(&h->agent_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->agent_wake, &ca);
	pthread_cond_init(&h->gc_wake, &ca);
	pthread_cond_init(&h->reaped, &ca);
	pthread_cond_init(&h->reap_wake, &ca);
	pthread_condattr_destroy(&ca);
	h->lim = *lim;
	h->sym = sym;
	h->pc = pc;
	h->w = w;
	h->next_gen = 1;
	*ret = h;
	return 0;
}

struct heap_proc *heap__find(struct heap_tracker *h, pid_t pid)
{
	struct heap_proc *p;

	lock__assert_held(&h->lock);
	for (p = h->procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

struct heap_proc *heap__find_dead(struct heap_tracker *h, pid_t pid)
{
	struct heap_proc *p;

	lock__assert_held(&h->lock);
	for (p = h->dead; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

void heap__release(struct heap_tracker *h, struct heap_proc *p)
{
	struct heap_proc **pp;

	lock__assert_held(&h->lock);
	for (pp = &h->procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			h->nprocs--;
			break;
		}
	}
	/*
	 * Switched off outside the lock (heap_agents.c). Until then it may
	 * still call its probe points: without probes, they are nops. An
	 * agent whose process executed a program (or ended) went with its
	 * image: heap_agents__switch_off() drops it, nothing of the new
	 * image is ever touched (agent__off() checks again once it has a
	 * thread stopped).
	 */
	if (p->agent) {
		p->agent_errors = p->agent->errors;
		p->agent->next = h->offq;
		h->offq = p->agent;
		pthread_cond_signal(&h->agent_wake);
		p->agent = NULL;
	}
	/* Not tracked from here (the reader drops its events); the rest is
	 * slow: heap__reap(), on the reaper thread (or by a stop, start or
	 * pull of the pid, which waits for it: heap__reap_wait()). */
	p->next = h->dead;
	h->dead = p;
	pthread_cond_signal(&h->reap_wake);
}

/*
 * @p, never listed (its start lost a race, or failed), and never given
 * to BPF: to h->dead, for heap__reap() to detach its probes, without
 * purging the pid's entries (which may be another start's). Under lock.
 */
static void heap__discard(struct heap_tracker *h, struct heap_proc *p)
{
	lock__assert_held(&h->lock);
	p->in_bpf = false;
	p->next = h->dead;
	h->dead = p;
	pthread_cond_signal(&h->reap_wake);
}

/*
 * Shares of the tracked processes, as for connections and CPU windows: no
 * user other than root may start tracking more than a quarter of
 * --heap-max-procs (at least one), and together they leave an eighth (at
 * least one) for root, so one local user cannot lock the others out.
 * -EUSERS over the caller's own share, -EBUSY over the users' total.
 * Called with h->lock held.
 */
static int share_check(struct heap_tracker *h, uid_t uid)
{
	unsigned per_uid = h->lim.max_procs / 4, root_room = h->lim.max_procs / 8;
	unsigned mine = 0, users = 0;
	struct heap_proc *p;

	lock__assert_held(&h->lock);
	if (uid == 0)
		return 0;
	for (p = h->procs; p; p = p->next) {
		mine += p->starter == uid;
		users += p->starter != 0;
	}
	if (mine >= (per_uid ? per_uid : 1))
		return -EUSERS;
	if (users + (root_room ? root_room : 1) >= h->lim.max_procs)
		return -EBUSY;
	return 0;
}

/* A process to track: its capture and its allocator. */
struct heap_capture {
	int r;				/* 0, or why it cannot be tracked */
	struct proc *proc;		/* held (proc__get) */
	char allocator[256];
	uint64_t offs[PROFD_HEAP_FN_MAX];
	bool own_new;
};

/*
 * Capture the process @t holds (or share the capture a CPU window made)
 * and choose its allocator: reads /proc and scans ELF files, so not under
 * the lock but in a rare race. The result, or the error, in @ret.
 */
static void heap__capture(struct heap_tracker *h, const struct target *t,
			  struct heap_capture *ret)
{
	struct proc *pr = NULL;
	int r;

	/* Current maps: libraries loaded since a CPU window captured it
	 * may hold the allocator. */
	r = proc__get_current(h->pc, t->ref.pid, t->ref.dirfd,
			      t->ids.start_time, t->image, &pr);
	/* Its mappings are of the image checked? (proc.h) */
	if (r == 0 && target__current(t) < 0)
		r = -EAGAIN;
	/* No mappings: its main thread has exited (the others may run on,
	 * but /proc/PID/maps is then empty), or it is exiting. */
	if (r == 0)
		r = proc__nmaps(pr) ?
			heap_probes__choose_allocator(pr, ret->allocator,
						      sizeof(ret->allocator),
						      ret->offs) :
			-ENODATA;
	if (r == 0)
		ret->own_new = heap_probes__defines_new(pr, ret->allocator);
	if (r < 0) {
		proc__put(pr);
		pr = NULL;
	}
	ret->r = r;
	ret->proc = pr;
}

int heap__start(struct heap_tracker *h, pid_t pid, uid_t uid,
		uint64_t sample_bytes, unsigned flags,
		struct heap_start_info *ret, char *err, size_t errlen)
{
	struct heap_start_info info = {};
	uint64_t offs[PROFD_HEAP_FN_MAX];
	const struct poisoned *pz;
	struct profd_heap_proc cfg;
	struct target t = TARGET_NONE;
	struct heap_capture cap = {};
	struct heap_proc *p;
	bool tracked;
	uid_t owner = 0;
	int r, cur, load_r;

	err[0] = 0;
	/*
	 * Held from here, checked against the image it runs: what is
	 * tracked is that image, whoever started it, and every caller
	 * (a later pull too) is checked against it.
	 */
	r = target__bind(h->w, pid, uid, &t, &owner);
	if (r == -EACCES || r == -EPERM) {
		if (r == -EACCES)
			snprintf(err, errlen, "permission denied: uid %u may not track pid %d (it runs a program of uid %u); only root or the process's owner may",
				 (unsigned)uid, pid, (unsigned)owner);
		else
			snprintf(err, errlen, "permission denied: pid %d runs a program uid %u may not track (set-user-ID, set-group-ID or not dumpable); only root may",
				 pid, (unsigned)uid);
		return -EACCES;
	}
	if (r < 0)
		return r;
	/* The BPF object, once (the verifier: up to seconds), without the
	 * lock; a failure is reported where it was before (after the
	 * limits). */
	load_r = heap_maps__load(h);
	/* Not tracked yet: capture it (shared with CPU windows) and choose
	 * its allocator now, without the lock. */
	pthread_mutex_lock(&h->lock);
	p = heap__find(h, pid);
	tracked = p && p->t.ids.start_time == t.ids.start_time &&
		  p->t.image == t.image;
	pthread_mutex_unlock(&h->lock);
	if (!tracked)
		heap__capture(h, &t, &cap);
	pthread_mutex_lock(&h->lock);
again:
	/* A released tracking of this pid first: its BPF entries are purged
	 * by pid, so a new one starts only after (heap__reap()). */
	heap__reap_wait(h, pid);
	p = heap__find(h, pid);
	cur = p ? target__current(&p->t) : 0;
	if (p && (cur < 0 || p->t.ids.start_time != t.ids.start_time ||
		  p->t.image != t.image)) {
		/* It ended (the pid was reused) or executed another
		 * program: the heap of what it ran is kept, as at exit. */
		pthread_mutex_unlock(&h->lock);
		heap_events__drain(h);
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, pid);
		if (p && (cur = target__current(&p->t)) < 0)
			heap_finals__retire(h, p, cur, now_ns(CLOCK_MONOTONIC));
		else if (p)
			heap__release(h, p);
		goto again;
	}
	if (p) {
		info.already = true;
		goto done;
	}
	if (!cap.proc && cap.r == 0) {
		/* Tracked when we looked, no longer: capture it now, without
		 * the lock, and look again. */
		pthread_mutex_unlock(&h->lock);
		heap__capture(h, &t, &cap);
		pthread_mutex_lock(&h->lock);
		goto again;
	}
	if (h->stopping) {
		r = -ECANCELED;
		goto out;
	}
	if (h->nprocs >= h->lim.max_procs) {
		r = -EBUSY;
		goto out;
	}
	r = share_check(h, uid);
	if (r < 0)
		goto out;
	if ((flags & HEAP_INPROC) && (pz = heap_agents__poisoned(h, &t))) {
		snprintf(err, errlen, "process %d is poisoned for the in-process agent: %s. profd does not call into it again; use mode=uprobe",
			 pid, pz->why);
		r = -EHOSTDOWN;
		goto out;
	}
	r = load_r;
	if (r < 0)
		goto out;
	r = heap_events__start(h);
	if (r == 0)
		r = heap_gc__start(h);
	if (r == 0 && (flags & HEAP_INPROC))
		r = heap_agents__start_thread(h);
	if (r < 0)
		goto out;
	p = calloc(1, sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	p->pid = pid;
	p->starter = uid;
	p->usession_fds[0] = p->usession_fds[1] = -1;
	p->t = t;
	t = TARGET_NONE;	/* p's now */
	heap_finals__expire(h, pid, now_ns(CLOCK_MONOTONIC));	/* pid reused */
	p->generation = h->next_gen++;
	p->sample_bytes = sample_bytes ? sample_bytes : h->lim.default_sample_bytes;
	if (p->sample_bytes > PROFD_HEAP_MAX_SAMPLE_BYTES)
		p->sample_bytes = PROFD_HEAP_MAX_SAMPLE_BYTES;	/* cookie */
	p->flags = (flags & HEAP_FP_ONLY) ? 0 : PROFD_HEAP_F_DWARF;
	/* Events of an earlier tracking generation of this pid may still be
	 * queued: only ids from here on are this generation's. */
	p->first_id = heap_maps__last_event_id(h) + 1;
	p->started_ns = p->last_pull_ns = now_ns(CLOCK_MONOTONIC);
	p->started_wall_ns = (int64_t)now_ns(CLOCK_REALTIME);
	r = cap.r;
	if (r < 0) {
		target__release(&p->t);
		free(p);
		goto out;
	}
	p->proc = cap.proc;
	cap.proc = NULL;
	memcpy(p->allocator, cap.allocator, sizeof(p->allocator));
	memcpy(offs, cap.offs, sizeof(offs));
	p->own_new = cap.own_new;
	p->inproc = flags & HEAP_INPROC;
	/*
	 * The uprobes go on without the lock: ELF scans (libstdc++'s
	 * operator new, the frames left out) and a link per entry point, a
	 * few ms each. p is not listed yet, so no one else sees it; BPF
	 * records nothing of the pid before heap_maps__track() below.
	 */
	pthread_mutex_unlock(&h->lock);
	heap_probes__skip_frames(p);	/* an agent left in the process (uprobe mode) */
	if (p->inproc)
		r = heap_probes__attach_agent(h, p, err, errlen);
	else
		r = heap_probes__attach(h, p, offs);
	pthread_mutex_lock(&h->lock);
	/* Meanwhile: a stop of a start of this pid (its purge first), or a
	 * start (then that one is the tracking), or the limits reached. */
	heap__reap_wait(h, pid);
	if (r == 0 && h->stopping)
		r = -ECANCELED;
	if (r == 0 && heap__find(h, pid))
		r = -EALREADY;
	if (r == 0 && h->nprocs >= h->lim.max_procs)
		r = -EBUSY;
	if (r == 0)
		r = share_check(h, uid);
	/* The probes went on by pid: still the process, and the image? */
	if (r == 0 && target__current(&p->t) < 0)
		r = -EAGAIN;
	if (r < 0) {
		heap__discard(h, p);	/* its probes off in heap__reap() */
		if (r != -EALREADY)
			goto out;
		p = heap__find(h, pid);
		info.already = true;
		goto done;
	}
	heap_maps__read_errors(h, p->errors_at_start);
	p->next = h->procs;
	h->procs = p;
	h->nprocs++;
	memset(&cfg, 0, sizeof(cfg));
	cfg.sample_bytes = p->sample_bytes;
	cfg.flags = p->flags;
	cfg.gen = (__u32)p->generation & PROFD_HEAP_GEN_MASK;
	cfg.image = p->t.image;
	r = heap_maps__track(h, (uint32_t)pid, &cfg);
	if (r < 0) {
		heap__release(h, p);
		goto out;
	}
	p->in_bpf = true;
	if (p->inproc) {
		uint64_t gen = p->generation, sb = p->sample_bytes;
		char alloc[sizeof(p->allocator)];

		memcpy(alloc, p->allocator, sizeof(alloc));
		p->starting = true;
		r = target__dup(&p->t, &t);
		pthread_mutex_unlock(&h->lock);
		if (r == 0)
			r = heap_agents__start(h, &t, gen, alloc, sb, err, errlen);
		target__release(&t);
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, pid);
		if (p && p->generation == gen)
			p->starting = false;
		if (!p || p->generation != gen) {
			if (!err[0])
				snprintf(err, errlen, "heap tracking of pid %d "
					 "was stopped while it started", pid);
			r = -ECANCELED;
			goto out;
		}
		if (r < 0) {
			heap__release(h, p);
			goto out;
		}
	}
done:
	/* A caller besides the one who started it: checked against the
	 * image tracked (bound above to the image running now, the same). */
	snprintf(info.allocator, sizeof(info.allocator), "%s", p->allocator);
	info.sample_bytes = p->sample_bytes;
	info.probes = p->nlinks + (p->usession_fds[0] >= 0) +
		      (p->usession_fds[1] >= 0);
	info.functions = p->nfuncs;
	info.generation = p->generation;
	info.fp_only = !(p->flags & PROFD_HEAP_F_DWARF);
	info.inproc = p->inproc;
	info.agent_slots = p->agent ? p->agent->slots : 0;
	/* A start keeps tracking on until stop (or the idle timeout); a
	 * pull of what no start asked for stops it when done. */
	if (!(flags & HEAP_ONE_OFF))
		p->kept = true;
	else if (!p->kept)
		p->pulls++;
	info.one_off = (flags & HEAP_ONE_OFF) && !p->kept;
	info.idle_timeout_ns = h->lim.idle_timeout_ns;
	p->last_pull_ns = now_ns(CLOCK_MONOTONIC);
	r = 0;
out:
	pthread_mutex_unlock(&h->lock);
	target__release(&t);
	proc__put(cap.proc);	/* not used: tracked already, or failed */
	if (r == 0 && ret)
		*ret = info;
	return r;
}

/*
 * Stop tracking @pid; for a one-off pull (@pull) of generation @gen, only when
 * it is the last pull and no start keeps it: -EBUSY then (it goes on).
 * heap__stop()'s returns otherwise.
 */
static int stop_tracking(struct heap_tracker *h, pid_t pid, bool pull,
			 uint64_t gen)
{
	struct heap_proc *p;
	struct agent *a = NULL;
	int r = -ENOENT;

	pthread_mutex_lock(&h->lock);
	p = heap__find(h, pid);
	if (p && pull) {
		if (p->generation != gen || !p->pulls) {
			p = NULL;
		} else if (--p->pulls || p->kept) {
			r = -EBUSY;	/* goes on */
			p = NULL;
		}
	}
	if (p) {
		a = p->agent;	/* switched off here, not by the agent thread */
		p->agent = NULL;
		heap__release(h, p);
		r = 0;
	}
	/* Stopped means detached and purged: a start may follow at once. */
	if (r == 0)
		heap__reap_wait(h, pid);
	pthread_mutex_unlock(&h->lock);
	/*
	 * Stopped means the GOT is back. Calls into other processes may hold
	 * the agents for seconds: past STOP_WAIT_MS, the agent thread
	 * switches this one off when they are done.
	 */
	if (a && heap_agents__lock_within(h, STOP_WAIT_MS) == 0) {
		if (heap_agents__switch_off(h, a) < 0)
			r = -EINPROGRESS;
		pthread_mutex_unlock(&h->agent_lock);
	} else if (a) {
		pthread_mutex_lock(&h->lock);
		a->next = h->offq;
		h->offq = a;
		pthread_cond_signal(&h->agent_wake);
		pthread_mutex_unlock(&h->lock);
		r = -EINPROGRESS;
	}
	if (r == 0 || r == -EINPROGRESS)
		malloc_trim(0);	/* see heap__gc() */
	return r;
}

int heap__stop(struct heap_tracker *h, pid_t pid)
{
	return stop_tracking(h, pid, false, 0);
}

enum heap_pull_end heap__pull_done(struct heap_tracker *h, pid_t pid,
				   uint64_t generation)
{
	struct heap_proc *p;
	bool kept;
	int r;

	r = stop_tracking(h, pid, true, generation);
	if (r == -EBUSY) {
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, pid);
		kept = p && p->kept;
		pthread_mutex_unlock(&h->lock);
		return kept ? HEAP_PULL_KEPT : HEAP_PULL_OTHERS;
	}
	return r == 0 ? HEAP_PULL_STOPPED :
	       r == -EINPROGRESS ? HEAP_PULL_STOPPED_AGENT_ON : HEAP_PULL_ENDED;
}

/*
 * Is generation @gen of @pid still tracked? 0; -ECANCELED (stopped while
 * the process lives on); -ESRCH (the process exited, or executed another
 * program: what it held then is its final snapshot).
 */
static int still_tracked(struct heap_tracker *h, pid_t pid, uint64_t gen)
{
	struct heap_proc *p;
	int r = 0;

	pthread_mutex_lock(&h->lock);
	p = heap__find(h, pid);
	if (h->stopping)
		r = -ESHUTDOWN;
	else if (p && p->generation == gen)
		r = target__current(&p->t) < 0 ? -ESRCH : 0;
	else if ((p = heap__find_dead(h, pid)) && p->generation == gen)
		r = p->final_why ? -ESRCH : -ECANCELED;	/* being reaped */
	else if (heap_finals__has(h, pid, gen) || proc__read_ids(pid, &(struct proc_ids){}) < 0)
		r = -ESRCH;
	else
		r = -ECANCELED;
	pthread_mutex_unlock(&h->lock);
	return r;
}

int heap__wait(struct heap_tracker *h, pid_t pid, uint64_t generation,
	       unsigned seconds, int conn_fd)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t)seconds * 1000000000ULL;
	int r;

	__atomic_fetch_add(&h->waiters, 1, __ATOMIC_RELAXED);
	for (;;) {
		r = still_tracked(h, pid, generation);
		if (r < 0 || now_ns(CLOCK_MONOTONIC) >= end)
			break;
		r = wait__step(end, conn_fd, -1);
		if (r < 0)
			break;
	}
	__atomic_fetch_sub(&h->waiters, 1, __ATOMIC_RELEASE);
	return r;
}

static bool heap__busy(void *ctx)
{
	struct heap_tracker *h = ctx;

	return __atomic_load_n(&h->waiters, __ATOMIC_ACQUIRE) > 0;
}

void heap__wait_idle(struct heap_tracker *h, unsigned timeout_ms)
{
	wait__idle(heap__busy, h, timeout_ms);
}

void heap__stats(struct heap_tracker *h, struct heap_stats *ret)
{
	uint64_t errs[PROFD_HEAP_ERR_MAX];
	struct agent *a;
	size_t i;

	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&h->lock);
	ret->procs = h->nprocs;
	ret->loaded = h->skel != NULL;
	ret->live_max = h->lim.max_live;
	heap_maps__read_errors(h, errs);
	for (i = 0; i < PROFD_HEAP_ERR_MAX && i < 8; i++)
		ret->errors[i] = errs[i];
	ret->dw_events = h->dw_events;
	ret->dw_truncated = h->dw_truncated;
	ret->dw_failed = h->dw_failed;
	ret->agents_pending_off = h->offs_running;
	for (a = h->offq; a; a = a->next)
		ret->agents_pending_off++;
	ret->agents_left_on = __atomic_load_n(&h->agents_left_on,
					      __ATOMIC_RELAXED);
	ret->agents_dropped_exec = __atomic_load_n(&h->agents_dropped_exec,
						   __ATOMIC_RELAXED);
	ret->agents_poisoned = h->agents_poisoned;
	pthread_mutex_unlock(&h->lock);
}

void heap__poisoned_json(struct heap_tracker *h, struct json *j)
{
	unsigned i;

	json__arr_begin(j, "poisoned");
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < h->npoisoned; i++) {
		json__obj_begin(j, NULL);
		json__i64(j, "pid", h->poisoned[i].pid);
		json__str(j, "why", h->poisoned[i].why);
		json__obj_end(j);
	}
	pthread_mutex_unlock(&h->lock);
	json__arr_end(j);
}

void heap__procs_json(struct heap_tracker *h, struct json *j)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	struct heap_proc *p;

	json__arr_begin(j, "procs");
	pthread_mutex_lock(&h->lock);
	for (p = h->procs; p; p = p->next) {
		json__obj_begin(j, NULL);
		json__i64(j, "pid", p->pid);
		/* A path from the process's maps: json__str escapes it. */
		json__str(j, "allocator", p->allocator);
		json__str(j, "mode", p->inproc ? "inproc" : "uprobe");
		json__str(j, "state", p->starting ? "starting" : "tracking");
		/* Until heap stop (a start asked), or until the one-off
		 * pulls under way are done. */
		json__str(j, "until", p->kept ? "stop" : "pulls_done");
		json__u64(j, "sample_bytes", p->sample_bytes);
		json__u64(j, "probes", p->nlinks + (p->usession_fds[0] >= 0) +
					       (p->usession_fds[1] >= 0));
		json__double(j, "tracked_seconds",
			     (double)(now - p->started_ns) / 1e9, 1);
		json__double(j, "idle_seconds",
			     (double)(now - p->last_pull_ns) / 1e9, 1);
		json__i64(j, "agent_slots", p->agent ? p->agent->slots : 0);
		json__i64(j, "agent_errors", p->agent ? p->agent->errors : 0);
		json__obj_end(j);
	}
	pthread_mutex_unlock(&h->lock);
	json__arr_end(j);
}

void heap__shutdown(struct heap_tracker *h)
{
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_mutex_unlock(&h->lock);
}

void heap__free(struct heap_tracker *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	__atomic_store_n(&h->quit, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&h->agent_wake);
	pthread_cond_broadcast(&h->gc_wake);
	pthread_cond_broadcast(&h->reap_wake);
	pthread_mutex_unlock(&h->lock);
	if (h->gc_started)
		pthread_join(h->gc_thread, NULL);
	if (h->reap_started)
		pthread_join(h->reap_thread, NULL);
	heap_events__stop(h);
	if (h->agent_thread_started)
		pthread_join(h->agent_thread, NULL);
	pthread_mutex_lock(&h->lock);
	while (h->procs)
		heap__release(h, h->procs);
	pthread_mutex_unlock(&h->lock);
	heap__reap(h);
	/* The GOT of processes tracked in-process back; each call has its
	 * deadlines (inject.h). */
	(void)heap_agents__flush(h, STOP_WAIT_MS);
	pthread_mutex_lock(&h->lock);
	while (h->offq) {	/* could not be switched off */
		struct agent *a = h->offq;

		h->offq = a->next;
		heap_agents__free(a);
	}
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_lock(&h->lock);
	heap_finals__free_all(h);
	pthread_mutex_unlock(&h->lock);
	heap_maps__unload(h);
	pthread_cond_destroy(&h->agent_wake);
	pthread_cond_destroy(&h->gc_wake);
	pthread_cond_destroy(&h->reaped);
	pthread_cond_destroy(&h->reap_wake);
	pthread_mutex_destroy(&h->agent_lock);
	pthread_mutex_destroy(&h->rb_lock);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->load_lock);
	free(h);
}
