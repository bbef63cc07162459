// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "cfilter.h"
#include "continuous.h"
#include "fleet.h"
#include "proc.h"
#include "profile.h"
#include "sampler.h"
#include "service.h"
#include "session.h"
#include "unwind.h"

/* Collections: two interval slots (the one open and the next, which
 * samples reach before the open one is closed), then the pulls. */
#define IV_SLOTS 2
#define NSLOTS (IV_SLOTS + CONTINUOUS_MAX_PULLS)
#define HASH_BUCKETS 1024
#define MAPS_REFRESH_NS (100ULL * 1000 * 1000)
/* A process without samples this long is let go (seen again: captured
 * again). */
#define IDLE_NS (60ULL * 1000000000ULL)
/* Samples of a drain pass's last microseconds may still be uncommitted
 * in the ring buffer when it ends: close a collection only after a pass
 * that began this much after its end. */
#define WATERMARK_SLACK_NS (5ULL * 1000 * 1000)
#define PULL_TIMEOUT_NS (10ULL * 1000000000ULL)
#define SYMCACHE_ENTRIES 65536
#define SYMCACHE_CLEAR_NS (120ULL * 1000000000ULL)

enum slot_state { SLOT_FREE, SLOT_OPEN, SLOT_DONE };

struct slot {
	enum slot_state state;
	uint64_t period_ns;
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC, [start, end) */
	int64_t start_wall_ns;
	bool abandoned;			/* the pull's caller went away */
	int result;			/* pull: the build's 0 or -errno */
	void *buf;
	size_t len;
	uint64_t lost_at_start;		/* ring buffer counter */
};

struct cproc {
	struct cproc *hnext, *next;
	pid_t pid;
	uint64_t start_time;
	uid_t uid;
	struct pidref ref;
	struct proc *proc;		/* NULL: excluded, or unreadable */
	bool own_proc;			/* not from the process cache */
	struct service_id *svc;
	char comm[16];
	bool excluded, linked;
	uint64_t exited_ns;		/* 0: alive when last looked */
	dev_t exe_dev;			/* its executable when first seen: */
	ino_t exe_ino;			/* an exec changes it */
	uint64_t exe_checked_ns;
	uint64_t last_sample_ns;
	struct aggregate *agg[NSLOTS];
};

struct qitem {
	struct qitem *next;
	size_t len;			/* 0: a watermark */
	uint64_t watermark_ns;
	_Alignas(16) unsigned char data[];
};

struct continuous {
	struct continuous_config cfg;
	struct cfilter include, exclude;
	struct symbolizer *sym;
	struct proc_cache *pc;
	struct session_mgr *m;
	struct fleet *fleet;
	struct sampler *sampler;
	int wake_fd;
	uint64_t iv_period_ns, iv_ns;

	/* The queue, and which periods it takes. */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct qitem *qhead, *qtail;
	size_t qbytes;
	uint64_t periods[NSLOTS];	/* of open slots; 0: none */
	bool stop;
	pthread_t worker;
	bool worker_started;

	/* Slots' control and the stats. */
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a pull is done, or stopping */
	pthread_mutex_t tlock;		/* serializes target updates */
	struct slot slots[NSLOTS];
	struct continuous_stats st;

	/* The worker's alone. */
	struct cproc *hash[HASH_BUCKETS];
	struct cproc *all;
	size_t nprocs, max_procs;
	uint64_t iv_lost_mark[4];	/* lost counters at the last close */
	uint64_t rb_lost_mark;
	uint64_t dw[UNWIND_MAX_FRAMES];
	/* Symbolized addresses across intervals, cleared every
	 * SYMCACHE_CLEAR_NS (it pins the binaries it names). */
	struct profile_symcache *symcache;
	uint64_t symcache_cleared_ns;
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t ringbuf_lost(struct continuous *c)
{
	uint64_t errs[PROFD_ERR_MAX] = {};

	if (c->sampler)
		(void)sampler__errors(c->sampler, errs);
	return errs[PROFD_ERR_RINGBUF_FULL];
}

int continuous__new(const struct continuous_config *cfg,
		    struct proc_cache *pc, struct session_mgr *m,
		    struct fleet *f, struct continuous **ret)
{
	struct continuous *c;
	pthread_condattr_t ca;
	char err[256];
	int r;

	if (cfg->on && (!cfg->hz || !cfg->interval_s))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->cfg.include = c->cfg.exclude = NULL;
	r = cfilter__parse(cfg->include, &c->include, err, sizeof(err));
	if (r == 0)
		r = cfilter__parse(cfg->exclude, &c->exclude, err, sizeof(err));
	if (r < 0) {
		free(c);
		return r;
	}
	r = profile_symcache__new(SYMCACHE_ENTRIES, &c->symcache);
	if (r < 0) {
		free(c);
		return r;
	}
	c->pc = pc;
	c->sym = proc_cache__symbolizer(pc);
	c->m = m;
	c->fleet = f;
	c->wake_fd = -1;
	if (cfg->on) {
		c->iv_period_ns = 1000000000ULL / cfg->hz;
		c->iv_ns = (uint64_t)cfg->interval_s * 1000000000ULL;
	}
	pthread_mutex_init(&c->qlock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->tlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->qcond, &ca);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->st.on = cfg->on;
	c->st.hz = cfg->on ? cfg->hz : 0;
	c->st.interval_s = cfg->on ? cfg->interval_s : 0;
	*ret = c;
	return 0;
}

/*
 * Make the sampler's every-process targets those of the open slots, and
 * the queue take their periods. Kernel stacks and stack copies always:
 * continuous profiles are whole-system ones.
 */
static int update_targets(struct continuous *c)
{
	struct sampler_target t[NSLOTS];
	uint64_t periods[NSLOTS] = {};
	size_t n = 0, i, j;
	int r;

	pthread_mutex_lock(&c->tlock);
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < NSLOTS; i++) {
		if (c->slots[i].state != SLOT_OPEN)
			continue;
		periods[i] = c->slots[i].period_ns;
		for (j = 0; j < n && t[j].period_ns != c->slots[i].period_ns; j++)
			;
		if (j < n)
			continue;
		t[n].tgid = 0;
		t[n].period_ns = c->slots[i].period_ns;
		t[n].flags = PROFD_TARGET_KERNEL | PROFD_TARGET_STACK;
		n++;
	}
	pthread_mutex_unlock(&c->lock);
	/* The queue takes a new period before its samples come, and lets
	 * an old one go after they stop: none is refused in between. */
	pthread_mutex_lock(&c->qlock);
	for (i = 0; i < NSLOTS; i++)
		if (periods[i])
			c->periods[i] = periods[i];
	pthread_mutex_unlock(&c->qlock);
	r = session_mgr__set_extra(c->m, t, n);
	pthread_mutex_lock(&c->qlock);
	memcpy(c->periods, periods, sizeof(periods));
	pthread_mutex_unlock(&c->qlock);
	pthread_mutex_unlock(&c->tlock);
	return r;
}

/* ---- main thread ---- */

void continuous__on_sample(struct continuous *c,
			   const struct profd_cpu_sample *s)
{
	const struct profd_cpu_sample_stack *ss = (const void *)s;
	size_t len = sizeof(*s), stack = 0, i;
	struct profd_cpu_sample_stack *cp;
	struct qitem *q;
	bool want = false;

	if (s->kind == PROFD_EV_CPU_SAMPLE_STACK) {
		/* Only the bytes from sp up (sampler.c checked the sizes). */
		stack = ss->stack_len;
		len = offsetof(struct profd_cpu_sample_stack, stack) + stack;
	}
	pthread_mutex_lock(&c->qlock);
	for (i = 0; i < NSLOTS && !want; i++)
		want = c->periods[i] == s->period_ns;
	if (!want || c->stop) {
		pthread_mutex_unlock(&c->qlock);
		return;
	}
	if (c->qbytes + len > CONTINUOUS_QUEUE_BYTES) {
		pthread_mutex_unlock(&c->qlock);
		pthread_mutex_lock(&c->lock);
		c->st.lost_queue_full++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->qbytes += len;
	pthread_mutex_unlock(&c->qlock);

	q = malloc(sizeof(*q) + len);
	if (!q) {
		pthread_mutex_lock(&c->qlock);
		c->qbytes -= len;
		pthread_mutex_unlock(&c->qlock);
		pthread_mutex_lock(&c->lock);
		c->st.lost_queue_full++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	q->next = NULL;
	q->len = len;
	q->watermark_ns = 0;
	if (s->kind == PROFD_EV_CPU_SAMPLE_STACK) {
		cp = (void *)q->data;
		memcpy(cp, ss, offsetof(struct profd_cpu_sample_stack, stack));
		memcpy(cp->stack, ss->stack + ss->stack_skip, stack);
		cp->stack_skip = 0;
	} else {
		memcpy(q->data, s, sizeof(*s));
	}
	pthread_mutex_lock(&c->qlock);
	if (c->qtail)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	pthread_mutex_unlock(&c->qlock);
}

void continuous__drained(struct continuous *c, uint64_t began_ns)
{
	struct qitem *q = malloc(sizeof(*q));

	if (!q)
		return;		/* the next pass's will do */
	q->next = NULL;
	q->len = 0;
	q->watermark_ns = began_ns > WATERMARK_SLACK_NS ?
			  began_ns - WATERMARK_SLACK_NS : 0;
	pthread_mutex_lock(&c->qlock);
	if (c->qtail)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	pthread_cond_signal(&c->qcond);
	pthread_mutex_unlock(&c->qlock);
}

/* ---- the worker ---- */

static void cproc__free(struct cproc *p)
{
	unsigned i;

	if (p->own_proc)
		proc__free(p->proc);
	else
		proc__put(p->proc);
	pidref__close(&p->ref);
	for (i = 0; i < NSLOTS; i++)
		aggregate__free(p->agg[i]);
	free(p->svc);
	free(p);
}

static bool cproc__holds(const struct cproc *p)
{
	unsigned i;

	for (i = 0; i < NSLOTS; i++)
		if (p->agg[i])
			return true;
	return false;
}

static void unlink_hash(struct continuous *c, struct cproc *p)
{
	struct cproc **pp;

	for (pp = &c->hash[p->pid % HASH_BUCKETS]; *pp; pp = &(*pp)->hnext) {
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	}
	p->linked = false;
}

/* The cgroup v2 path of @dirfd's process into @buf ("" when unknown). */
static void read_cgroup(int dirfd, char *buf, size_t size)
{
	char raw[4096];
	ssize_t n;
	int fd;

	buf[0] = 0;
	fd = openat(dirfd, "cgroup", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, raw, sizeof(raw));
	close(fd);
	if (n > 0)
		(void)service__cgroup_path(raw, (size_t)n, buf, size);
}

/*
 * The first sample of process @pid: who it is, whether the filters want
 * it, and (if so) its mappings and binaries. Slow (reads /proc, opens
 * binaries): the worker's, never the main thread's.
 */
static struct cproc *track(struct continuous *c,
			   const struct profd_cpu_sample *s, bool after_exec)
{
	struct cfilter_proc fp = {};
	struct proc_ids ids;
	struct stat st;
	struct cproc *p;
	char cgroup[1024];
	int r;

	if (c->nprocs >= c->max_procs) {
		pthread_mutex_lock(&c->lock);
		c->st.procs_dropped++;
		pthread_mutex_unlock(&c->lock);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->svc = calloc(1, sizeof(*p->svc));
	if (!p->svc) {
		free(p);
		return NULL;
	}
	p->pid = (pid_t)s->tgid;
	p->ref = PIDREF_NONE;
	memcpy(p->comm, s->comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = 0;
	r = pidref__open(p->pid, &p->ref);
	if (r == 0)
		r = proc__read_ids_at(p->ref.dirfd, &ids);
	if (r == 0) {
		p->start_time = ids.start_time;
		p->uid = ids.ruid;
		memcpy(p->comm, ids.comm, sizeof(p->comm));
		p->comm[sizeof(p->comm) - 1] = 0;
		r = service__of_pid(p->pid, p->svc);
	}
	if (r < 0) {
		/* Gone before profd saw it: nothing to symbolize with. */
		pidref__close(&p->ref);
		p->exited_ns = now_ns(CLOCK_MONOTONIC);
		(void)service__from_cgroup(NULL, p->comm, false, p->svc);
	} else {
		read_cgroup(p->ref.dirfd, cgroup, sizeof(cgroup));
		/* The pidfd alone tells its exit; proc keeps /proc/PID. */
		fp.unit = p->svc->unit;
		fp.service = p->svc->service_name;
		fp.cgroup = cgroup;
		fp.comm = p->comm;
		fp.uid = p->uid;
		p->excluded = !cfilter__wanted(&c->include, &c->exclude, &fp);
		/* From the process cache windows and the heap tracker share
		 * (keyed by pid, start time and program image), except after
		 * an exec of a process execwatch does not follow: its image
		 * count does not move, and the cache would give back the
		 * capture of the program before. */
		p->own_proc = after_exec && s->image == PROFD_IMAGE_NONE;
		if (!p->excluded &&
		    (p->own_proc ?
		     proc__new_at(c->sym, p->pid, p->ref.dirfd, &p->proc) :
		     proc__get(c->pc, p->pid, p->ref.dirfd, ids.start_time,
			       s->image, &p->proc)) < 0)
			p->proc = NULL;
		if (fstatat(p->ref.dirfd, "exe", &st, 0) == 0) {
			p->exe_dev = st.st_dev;
			p->exe_ino = st.st_ino;
		}
		close(p->ref.dirfd);
		p->ref.dirfd = -1;
	}
	p->hnext = c->hash[p->pid % HASH_BUCKETS];
	c->hash[p->pid % HASH_BUCKETS] = p;
	p->linked = true;
	p->next = c->all;
	c->all = p;
	c->nprocs++;
	pthread_mutex_lock(&c->lock);
	c->st.procs_seen++;
	if (p->excluded)
		c->st.procs_excluded++;
	pthread_mutex_unlock(&c->lock);
	return p;
}

static struct cproc *lookup(struct continuous *c, pid_t pid)
{
	struct cproc *p;

	for (p = c->hash[pid % HASH_BUCKETS]; p; p = p->hnext)
		if (p->pid == pid)
			return p;
	return NULL;
}

/*
 * @p's sample has user addresses outside the mappings read: a library
 * loaded since (a refresh reads it), or an exec — the maps profd holds
 * are of the program before, and refreshes read nothing more (proc.h).
 * An exec makes it a new process for profd: the old one keeps the
 * samples it has, later ones go to the one captured now. Checked at most
 * every MAPS_REFRESH_NS per process. Returns the process to count in.
 */
static struct cproc *check_exec(struct continuous *c, struct cproc *p,
				const struct profd_cpu_sample *s)
{
	struct stat st;

	if (!p->proc || s->time_ns < p->exe_checked_ns + MAPS_REFRESH_NS)
		return p;
	p->exe_checked_ns = s->time_ns;
	if (fstatat(p->proc->dirfd, "exe", &st, 0) < 0 ||
	    (st.st_dev == p->exe_dev && st.st_ino == p->exe_ino))
		return p;
	unlink_hash(c, p);
	return track(c, s, true);
}

/* One sample: count it in every open slot whose range holds it. */
static void take_sample(struct continuous *c, const struct profd_cpu_sample *s)
{
	const struct profd_cpu_sample_stack *ss = (const void *)s;
	const uint64_t *ips = (const uint64_t *)s->user_ips;
	bool in[NSLOTS] = {}, any = false, late = false, trunc = false;
	uint16_t nu = s->n_user, nk = s->n_kernel, n;
	uint32_t flags = 0;
	struct cproc *p;
	unsigned i;
	int k;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < NSLOTS; i++) {
		const struct slot *sl = &c->slots[i];

		if (sl->state != SLOT_OPEN || sl->period_ns != s->period_ns)
			continue;
		if (s->time_ns >= sl->start_ns && s->time_ns < sl->end_ns)
			in[i] = any = true;
		else if (i < IV_SLOTS && s->time_ns < sl->start_ns)
			late = true;
	}
	/* Of an interval closed already (its drain pass came late). */
	if (!any && late)
		c->st.lost_late++;
	pthread_mutex_unlock(&c->lock);
	if (!any)
		return;

	p = lookup(c, (pid_t)s->tgid);
	if (!p)
		p = track(c, s, false);
	if (!p) {
		pthread_mutex_lock(&c->lock);
		c->st.lost_procs_full++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	p->last_sample_ns = s->time_ns;
	if (p->excluded || !p->proc) {
		pthread_mutex_lock(&c->lock);
		if (p->excluded)
			c->st.excluded++;
		else
			c->st.lost_unresolved++;
		pthread_mutex_unlock(&c->lock);
		return;
	}

	if (nu > PROFD_MAX_USER_FRAMES)
		nu = PROFD_MAX_USER_FRAMES;
	if (nk > PROFD_MAX_KERNEL_FRAMES)
		nk = PROFD_MAX_KERNEL_FRAMES;
	if (s->flags & PROFD_SF_USER_ERR)
		flags |= AGG_F_USER_ERR;
	/* The sampled pc alone: a frame-pointer walk through code built
	 * without them reads junk past it, which would re-read the maps
	 * every MAPS_REFRESH_NS for nothing. Code of a library loaded
	 * since shows up as a pc soon enough. */
	if (nu && !proc__covers(p->proc, ips, 1)) {
		(void)proc__refresh(p->proc, c->sym, s->time_ns,
				    MAPS_REFRESH_NS);
		if (!proc__covers(p->proc, ips, 1)) {
			p = check_exec(c, p, s);
			if (!p || p->excluded || !p->proc) {
				pthread_mutex_lock(&c->lock);
				c->st.lost_procs_full += !p;
				c->st.excluded += p && p->excluded;
				c->st.lost_unresolved += p && !p->excluded;
				pthread_mutex_unlock(&c->lock);
				return;
			}
			p->last_sample_ns = s->time_ns;
		}
	}
	n = nu;
	if (nu && s->kind == PROFD_EV_CPU_SAMPLE_STACK && ss->stack_len) {
		k = unwind__stack(p->proc, (const uint64_t *)ss->regs,
				  ss->stack, ss->stack_len, c->dw,
				  UNWIND_MAX_FRAMES, &trunc);
		if (k > 0) {
			ips = c->dw;
			n = (uint16_t)k;
			if (trunc)
				flags |= AGG_F_USER_TRUNC;
		} else {
			flags |= AGG_F_USER_TRUNC;
		}
	} else if (nu) {
		/* The frame-pointer stack, of unknown completeness. */
		flags |= AGG_F_USER_TRUNC;
	}
	for (i = 0; i < NSLOTS; i++) {
		if (!in[i])
			continue;
		if (!p->agg[i] &&
		    aggregate__new(c->cfg.max_stacks, &p->agg[i]) < 0)
			continue;
		if (aggregate__add(p->agg[i], s->tid, s->comm, flags, ips, n,
				   (const uint64_t *)s->kernel_ips, nk, 1,
				   s->period_ns) == -ENOSPC) {
			pthread_mutex_lock(&c->lock);
			c->st.dropped_stacks++;
			pthread_mutex_unlock(&c->lock);
		}
	}
	pthread_mutex_lock(&c->lock);
	c->st.samples++;
	pthread_mutex_unlock(&c->lock);
}

static int by_service(const void *a, const void *b)
{
	const struct cproc *x = *(struct cproc *const *)a;
	const struct cproc *y = *(struct cproc *const *)b;
	int r = strcmp(x->svc->service_name, y->svc->service_name);

	if (r)
		return r;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The tracked processes with samples in slot @i, by service. Malloc'd. */
static struct cproc **holders(struct continuous *c, unsigned i, size_t *ret_n)
{
	struct cproc **v, *p;
	size_t n = 0;

	v = malloc((c->nprocs + 1) * sizeof(*v));
	if (!v) {
		*ret_n = 0;
		return NULL;
	}
	for (p = c->all; p; p = p->next)
		if (p->agg[i] && p->proc)
			v[n++] = p;
	qsort(v, n, sizeof(*v), by_service);
	*ret_n = n;
	return v;
}

static int build(struct continuous *c, struct cproc **v, size_t n,
		 unsigned slot, const struct slot *sl, uint64_t end_ns,
		 const char *what, const char *const *comments, size_t nc,
		 uint64_t lost, void **ret_buf, size_t *ret_len)
{
	struct profile_cpu_part *parts;
	struct profile_cpu_desc d = {};
	uint64_t now;
	size_t i;
	int r;

	parts = calloc(n ? n : 1, sizeof(*parts));
	if (!parts)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		parts[i].proc = v[i]->proc;
		parts[i].agg = v[i]->agg[slot];
		parts[i].pid = v[i]->pid;
		parts[i].comm = v[i]->comm;
		parts[i].service = v[i]->svc->service_name;
	}
	now = now_ns(CLOCK_MONOTONIC);
	if (now > c->symcache_cleared_ns + SYMCACHE_CLEAR_NS) {
		profile_symcache__clear(c->symcache);
		c->symcache_cleared_ns = now;
	}
	d.symcache = c->symcache;
	d.what = what;
	d.comm = "";
	d.parts = parts;
	d.nparts = n;
	d.ksyms = session_mgr__kallsyms(c->m);
	d.period_ns = sl->period_ns;
	d.time_nanos = sl->start_wall_ns;
	d.duration_nanos = (int64_t)(end_ns - sl->start_ns);
	d.lost_samples = lost;
	d.comments = comments;
	d.ncomments = nc;
	r = profile__build_cpu(&d, ret_buf, ret_len);
	free(parts);
	return r;
}

static void free_slot_aggs(struct continuous *c, unsigned i)
{
	struct cproc *p;

	for (p = c->all; p; p = p->next) {
		aggregate__free(p->agg[i]);
		p->agg[i] = NULL;
	}
}

/*
 * Close interval slot @i: one profile per service to the fleet. The
 * samples lost since the last close are said in every profile of it.
 */
static void close_interval(struct continuous *c, unsigned i)
{
	struct slot sl;
	struct cproc **v;
	size_t n, a, b;
	uint64_t cur[4], lost[4], rb, rbd;
	char what[SERVICE_NAME_MAX + 64], lostline[300];
	const char *comments[2];
	size_t nc = 0;
	void *buf;
	size_t len;
	unsigned nprof = 0, nfail = 0;
	int r;

	pthread_mutex_lock(&c->lock);
	sl = c->slots[i];
	cur[0] = c->st.lost_queue_full;
	cur[1] = c->st.lost_procs_full;
	cur[2] = c->st.lost_late;
	cur[3] = c->st.lost_unresolved;
	pthread_mutex_unlock(&c->lock);
	for (a = 0; a < 4; a++) {
		lost[a] = cur[a] - c->iv_lost_mark[a];
		c->iv_lost_mark[a] = cur[a];
	}
	rb = ringbuf_lost(c);
	rbd = rb - c->rb_lost_mark;
	c->rb_lost_mark = rb;
	comments[nc++] = "continuous interval: every process of the service, DWARF-unwound user stacks ([truncated] where the copy or CFI ran out) and kernel stacks";
	if (lost[0] || lost[1] || lost[2] || lost[3]) {
		snprintf(lostline, sizeof(lostline),
			 "samples lost machine-wide since the previous interval: %" PRIu64
			 " profd's queue full, %" PRIu64 " process table full, %" PRIu64
			 " arrived after their interval closed, %" PRIu64
			 " of processes gone before profd saw them",
			 lost[0], lost[1], lost[2], lost[3]);
		comments[nc++] = lostline;
	}

	v = holders(c, i, &n);
	for (a = 0; v && a < n; a = b) {
		for (b = a + 1; b < n && !strcmp(v[b]->svc->service_name,
						 v[a]->svc->service_name); b++)
			;
		snprintf(what, sizeof(what), "service %s (%zu process%s)",
			 v[a]->svc->service_name, b - a, b - a == 1 ? "" : "es");
		buf = NULL;
		r = build(c, v + a, b - a, i, &sl, sl.end_ns, what, comments,
			  nc, rbd, &buf, &len);
		if (r == 0 && c->fleet)
			r = fleet__interval_closed(c->fleet, v[a]->svc,
						   sl.start_wall_ns,
						   sl.start_wall_ns +
						   (int64_t)(sl.end_ns - sl.start_ns),
						   buf, len);
		free(buf);
		if (r < 0)
			nfail++;
		else
			nprof++;
	}
	free(v);
	free_slot_aggs(c, i);
	malloc_trim(0);

	pthread_mutex_lock(&c->lock);
	c->st.lost_ringbuf += rbd;
	c->st.intervals_closed++;
	c->st.profiles_closed += nprof;
	c->st.profiles_failed += nfail;
	/* The next interval after the one that follows this. */
	c->slots[i].start_ns = c->slots[(i + 1) % IV_SLOTS].end_ns;
	c->slots[i].end_ns = c->slots[i].start_ns + c->iv_ns;
	c->slots[i].start_wall_ns = c->slots[(i + 1) % IV_SLOTS].start_wall_ns +
		(int64_t)(c->slots[i].start_ns -
			  c->slots[(i + 1) % IV_SLOTS].start_ns);
	pthread_mutex_unlock(&c->lock);
}

/* Build a pull's profile: every process. */
static void close_pull(struct continuous *c, unsigned i)
{
	struct slot sl;
	struct cproc **v;
	size_t n;
	char what[80];
	uint64_t rbd;
	void *buf = NULL;
	size_t len = 0;
	bool abandoned;
	int r;
	const char *comments[1] = {
		"every process: samples labelled service_name, pid, comm, tid, thread; DWARF-unwound user stacks and kernel stacks",
	};

	pthread_mutex_lock(&c->lock);
	sl = c->slots[i];
	pthread_mutex_unlock(&c->lock);
	if (sl.abandoned) {
		/* Its caller went away: nobody to build it for. */
		free_slot_aggs(c, i);
		pthread_mutex_lock(&c->lock);
		memset(&c->slots[i], 0, sizeof(c->slots[i]));
		pthread_mutex_unlock(&c->lock);
		(void)update_targets(c);
		return;
	}
	rbd = ringbuf_lost(c) - sl.lost_at_start;
	v = holders(c, i, &n);
	snprintf(what, sizeof(what), "every process (%zu with samples)", n);
	r = v ? build(c, v, n, i, &sl, sl.end_ns, what, comments, 1, rbd,
		      &buf, &len) : -ENOMEM;
	free(v);
	free_slot_aggs(c, i);
	pthread_mutex_lock(&c->lock);
	c->slots[i].result = r;
	c->slots[i].buf = buf;
	c->slots[i].len = len;
	c->slots[i].state = SLOT_DONE;
	abandoned = c->slots[i].abandoned;
	if (abandoned) {
		free(buf);
		memset(&c->slots[i], 0, sizeof(c->slots[i]));
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (abandoned)
		(void)update_targets(c);
}

/* Let go of processes that exited or went idle, once nothing holds
 * their samples. */
static void sweep(struct continuous *c, uint64_t now)
{
	struct cproc **pp, *p;

	for (pp = &c->all; (p = *pp);) {
		if (p->linked && !p->exited_ns &&
		    (p->ref.pidfd < 0 || !pidref__alive(&p->ref)))
			p->exited_ns = now;
		/* A second after the exit was seen, the pid's samples are
		 * of whoever has it next. */
		if (p->linked &&
		    ((p->exited_ns && now - p->exited_ns > 1000000000ULL) ||
		     (p->last_sample_ns && now > p->last_sample_ns + IDLE_NS)))
			unlink_hash(c, p);
		if (!p->linked && !cproc__holds(p)) {
			*pp = p->next;
			cproc__free(p);
			c->nprocs--;
			continue;
		}
		pp = &p->next;
	}
	pthread_mutex_lock(&c->lock);
	c->st.procs_tracked = c->nprocs;
	pthread_mutex_unlock(&c->lock);
}

static void on_watermark(struct continuous *c, uint64_t wm)
{
	uint64_t end;
	unsigned i;
	bool closed = false;

	for (;;) {
		/* The interval slot that ends first. */
		pthread_mutex_lock(&c->lock);
		i = c->slots[0].end_ns <= c->slots[1].end_ns ? 0 : 1;
		end = c->slots[i].end_ns;
		if (c->slots[i].state != SLOT_OPEN || end > wm) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		pthread_mutex_unlock(&c->lock);
		close_interval(c, i);
		closed = true;
	}
	for (i = IV_SLOTS; i < NSLOTS; i++) {
		pthread_mutex_lock(&c->lock);
		end = c->slots[i].end_ns;
		if (c->slots[i].state != SLOT_OPEN || end > wm) {
			pthread_mutex_unlock(&c->lock);
			continue;
		}
		pthread_mutex_unlock(&c->lock);
		close_pull(c, i);
		closed = true;
	}
	if (closed)
		sweep(c, now_ns(CLOCK_MONOTONIC));
}

static void *worker(void *arg)
{
	struct continuous *c = arg;
	struct qitem *q;
	uint64_t last_sweep = 0, now;

	for (;;) {
		pthread_mutex_lock(&c->qlock);
		while (!c->qhead && !c->stop)
			pthread_cond_wait(&c->qcond, &c->qlock);
		if (c->stop) {
			pthread_mutex_unlock(&c->qlock);
			break;
		}
		q = c->qhead;
		c->qhead = q->next;
		if (!c->qhead)
			c->qtail = NULL;
		c->qbytes -= q->len;
		pthread_mutex_unlock(&c->qlock);
		if (q->len) {
			take_sample(c, (const void *)q->data);
		} else {
			on_watermark(c, q->watermark_ns);
			now = now_ns(CLOCK_MONOTONIC);
			if (now - last_sweep > 5000000000ULL) {
				last_sweep = now;
				sweep(c, now);
			}
		}
		free(q);
	}
	return NULL;
}

int continuous__start(struct continuous *c, struct sampler *s, int wake_fd)
{
	uint64_t mono, wall, first;
	struct rlimit rl;
	int r;

	c->sampler = s;
	c->wake_fd = wake_fd;
	/* Three descriptors a process (pidfd, /proc/PID, its maps), besides
	 * the binaries the symbolizer keeps: raise the soft limit to the
	 * hard one and track no more than it allows. */
	c->max_procs = CONTINUOUS_MAX_PROCS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur != RLIM_INFINITY &&
		    (rl.rlim_cur < 1024 ||
		     (rl.rlim_cur - 512) / 3 < c->max_procs))
			c->max_procs = rl.rlim_cur < 1024 ? 128 :
				       (size_t)(rl.rlim_cur - 512) / 3;
	}
	c->rb_lost_mark = ringbuf_lost(c);
	r = pthread_create(&c->worker, NULL, worker, c);
	if (r)
		return -r;
	c->worker_started = true;
	if (!c->cfg.on)
		return 0;
	/* Intervals end on multiples of the interval on the wall clock;
	 * the first one is shorter (its duration says so). */
	mono = now_ns(CLOCK_MONOTONIC);
	wall = now_ns(CLOCK_REALTIME);
	first = (wall / c->iv_ns + 1) * c->iv_ns - wall;
	pthread_mutex_lock(&c->lock);
	c->slots[0] = (struct slot){
		.state = SLOT_OPEN, .period_ns = c->iv_period_ns,
		.start_ns = mono, .end_ns = mono + first,
		.start_wall_ns = (int64_t)wall,
	};
	c->slots[1] = (struct slot){
		.state = SLOT_OPEN, .period_ns = c->iv_period_ns,
		.start_ns = mono + first, .end_ns = mono + first + c->iv_ns,
		.start_wall_ns = (int64_t)(wall + first),
	};
	pthread_mutex_unlock(&c->lock);
	return update_targets(c);
}

void continuous__shutdown(struct continuous *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->qlock);
	c->stop = true;
	pthread_cond_broadcast(&c->qcond);
	pthread_mutex_unlock(&c->qlock);
	pthread_mutex_lock(&c->lock);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static bool stopping(struct continuous *c)
{
	bool r;

	pthread_mutex_lock(&c->qlock);
	r = c->stop;
	pthread_mutex_unlock(&c->qlock);
	return r;
}

int continuous__pull(struct continuous *c, unsigned seconds, unsigned hz,
		     int conn_fd, void **ret_buf, size_t *ret_len)
{
	struct timespec ts;
	uint64_t now, deadline, one = 1;
	unsigned i;
	int r;

	if (!hz || !seconds)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	for (i = IV_SLOTS; i < NSLOTS && c->slots[i].state != SLOT_FREE; i++)
		;
	if (i == NSLOTS) {
		pthread_mutex_unlock(&c->lock);
		return -EBUSY;
	}
	now = now_ns(CLOCK_MONOTONIC);
	c->slots[i] = (struct slot){
		.state = SLOT_OPEN, .period_ns = 1000000000ULL / hz,
		.start_ns = now, .end_ns = now + (uint64_t)seconds * 1000000000ULL,
		.start_wall_ns = (int64_t)now_ns(CLOCK_REALTIME),
		.lost_at_start = ringbuf_lost(c),
	};
	c->st.pulls++;
	pthread_mutex_unlock(&c->lock);
	r = update_targets(c);
	if (r < 0) {
		pthread_mutex_lock(&c->lock);
		/* The worker may have seen it open: it holds no samples
		 * (none came at that period), but it may be closing it. */
		c->slots[i].abandoned = true;
		c->slots[i].end_ns = now;
		pthread_mutex_unlock(&c->lock);
		return r;
	}

	for (;;) {
		struct pollfd pfd = { .fd = conn_fd, .events = POLLRDHUP };
		uint64_t end;

		now = now_ns(CLOCK_MONOTONIC);
		pthread_mutex_lock(&c->lock);
		end = c->slots[i].end_ns;
		pthread_mutex_unlock(&c->lock);
		if (now >= end)
			break;
		if (stopping(c)) {
			r = -ECANCELED;
			goto abandon;
		}
		if (poll(&pfd, 1, (int)((end - now) / 1000000 > 100 ? 100 :
					(end - now) / 1000000 + 1)) > 0 &&
		    conn_fd >= 0 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			r = -ECONNRESET;
			goto abandon;
		}
	}
	/* Ask for a drain now rather than at the loop's next 50 ms. */
	if (c->wake_fd >= 0)
		(void)!write(c->wake_fd, &one, sizeof(one));
	deadline = now_ns(CLOCK_MONOTONIC) + PULL_TIMEOUT_NS;
	ts.tv_sec = (time_t)(deadline / 1000000000ULL);
	ts.tv_nsec = (long)(deadline % 1000000000ULL);
	pthread_mutex_lock(&c->lock);
	while (c->slots[i].state != SLOT_DONE) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0 ||
		    c->stop) {
			/* The worker frees it when it is built. */
			c->slots[i].abandoned = true;
			pthread_mutex_unlock(&c->lock);
			return -ECANCELED;
		}
	}
	r = c->slots[i].result;
	*ret_buf = c->slots[i].buf;
	*ret_len = c->slots[i].len;
	memset(&c->slots[i], 0, sizeof(c->slots[i]));
	pthread_mutex_unlock(&c->lock);
	(void)update_targets(c);
	if (r < 0)
		free(*ret_buf);
	return r;

abandon:
	pthread_mutex_lock(&c->lock);
	if (c->slots[i].state == SLOT_DONE) {
		free(c->slots[i].buf);
		memset(&c->slots[i], 0, sizeof(c->slots[i]));
		pthread_mutex_unlock(&c->lock);
		(void)update_targets(c);
		return r;
	}
	/* The worker closes it at the next drain and lets its period go. */
	c->slots[i].abandoned = true;
	c->slots[i].end_ns = now;
	pthread_mutex_unlock(&c->lock);
	return r;
}

void continuous__stats(struct continuous *c, struct continuous_stats *ret)
{
	pthread_mutex_lock(&c->lock);
	*ret = c->st;
	pthread_mutex_unlock(&c->lock);
}

void continuous__free(struct continuous *c)
{
	struct cproc *p, *n;
	struct qitem *q, *qn;
	unsigned i;

	if (!c)
		return;
	continuous__shutdown(c);
	if (c->worker_started)
		pthread_join(c->worker, NULL);
	for (q = c->qhead; q; q = qn) {
		qn = q->next;
		free(q);
	}
	for (p = c->all; p; p = n) {
		n = p->next;
		cproc__free(p);
	}
	for (i = 0; i < NSLOTS; i++)
		free(c->slots[i].buf);
	profile_symcache__free(c->symcache);
	pthread_cond_destroy(&c->qcond);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->qlock);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->tlock);
	free(c);
}
