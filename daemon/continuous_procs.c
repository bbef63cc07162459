// SPDX-License-Identifier: GPL-2.0
/* continuous: the worker's process table, and one sample counted into
 * the open collections (continuous_int.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregate.h"
#include "cfilter.h"
#include "clock.h"
#include "continuous_int.h"
#include "jitmap_proc.h"
#include "proc.h"
#include "service.h"
#include "unwind.h"

void cont_proc__free(struct cproc *p)
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
	free(p->cgroup);
	free(p);
}

static bool cont_proc__holds(const struct cproc *p)
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
	p->id_checked_ns = s->time_ns;
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
		r = service__of_dir(p->ref.dirfd, p->svc, cgroup,
				    sizeof(cgroup));
	}
	if (r < 0) {
		/* Gone before profd saw it: nothing to symbolize with. */
		pidref__close(&p->ref);
		p->exited_ns = cont__now_ns(CLOCK_MONOTONIC);
		(void)service__from_cgroup(NULL, p->comm, false, p->svc);
	} else {
		if (cgroup[0])
			p->cgroup = strdup(cgroup);
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
 * Is @p still what it was when tracked? A process moved to another
 * cgroup is another service to the labels and the filters: systemd
 * moves a unit's process into its cgroup after the fork, so its first
 * samples may be of the parent's; container runtimes and `systemd-run
 * --scope` move processes at any time. One that executed another
 * program is a new process for profd: the maps held are of the program
 * before, and refreshes read nothing more (proc.h). Either is tracked
 * afresh from @s on; what it counted stays where it was. Compared every
 * ID_CHECK_NS of samples, or every MAPS_REFRESH_NS when @soon (@s has
 * user addresses outside the maps, even read again) or while @s's thread
 * is not named as the process is (an exec renames it; so does a thread
 * naming itself): an open and two reads of /proc, ~12 us here, so at
 * most one check a sample and 10 a second per process. Returns the
 * process to count in (NULL: the table is full).
 */
static struct cproc *check_identity(struct continuous *c, struct cproc *p,
				    const struct profd_cpu_sample *s, bool soon)
{
	uint64_t every = ID_CHECK_NS;
	bool moved, execd = false;
	char cgroup[1024];
	struct stat st;

	if (soon || strncmp(s->comm, p->comm, sizeof(p->comm)) != 0)
		every = MAPS_REFRESH_NS;
	if (p->ref.pidfd < 0 || s->time_ns < p->id_checked_ns + every)
		return p;
	p->id_checked_ns = s->time_ns;
	/* Its own directory, or none: reads through it fail once it has
	 * ended, never read a process given its pid since. */
	if (pidref__open_dir(&p->ref) < 0)
		return p;
	(void)service__cgroup_at(p->ref.dirfd, cgroup, sizeof(cgroup));
	if (p->exe_ino && fstatat(p->ref.dirfd, "exe", &st, 0) == 0)
		execd = st.st_dev != p->exe_dev || st.st_ino != p->exe_ino;
	close(p->ref.dirfd);
	p->ref.dirfd = -1;
	moved = p->cgroup && cgroup[0] && strcmp(cgroup, p->cgroup) != 0;
	if (!moved && !execd)
		return p;
	unlink_hash(c, p);
	p = track(c, s, execd);
	if (p && moved) {
		pthread_mutex_lock(&c->lock);
		c->st.procs_moved++;
		pthread_mutex_unlock(&c->lock);
	}
	return p;
}

/* One sample: count it in every open slot whose range holds it. */
void cont_procs__sample(struct continuous *c, const struct profd_cpu_sample *s)
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
		else if (i < IV_SLOTS && s->time_ns < c->iv_closed_end_ns)
			late = true;
	}
	/* Of an interval closed already (its drain pass came late). One
	 * before its slot's start but after the last close is of a rate a
	 * reload set, sampled before its first interval: in none, not
	 * lost. */
	if (!any && late)
		c->st.lost_late++;
	pthread_mutex_unlock(&c->lock);
	if (!any)
		return;

	p = lookup(c, (pid_t)s->tgid);
	p = p ? check_identity(c, p, s, false) : track(c, s, false);
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
			p = check_identity(c, p, s, true);
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
		k = unwind__fresh(p->proc, c->sym, s->time_ns, MAPS_REFRESH_NS,
				  (const uint64_t *)ss->regs, ss->stack,
				  ss->stack_len, c->dw, UNWIND_MAX_FRAMES,
				  &trunc, NULL);
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
	/* JIT names as of this sample, read while the process runs: one
	 * that exits before its interval closes keeps them (a stat of its
	 * JIT files at most every JIT_CHECK_NS, only for processes with
	 * code outside ELF files). */
	flags |= proc__jit_sample(p->proc, ips, n, s->time_ns,
				  now_ns(CLOCK_MONOTONIC)) << AGG_F_JIT_GEN_SHIFT;
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

/* Let go of processes that exited or went idle, once nothing holds
 * their samples. */
void cont_procs__sweep(struct continuous *c, uint64_t now)
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
		if (!p->linked && !cont_proc__holds(p)) {
			*pp = p->next;
			cont_proc__free(p);
			c->nprocs--;
			continue;
		}
		pp = &p->next;
	}
	pthread_mutex_lock(&c->lock);
	c->st.procs_tracked = c->nprocs;
	pthread_mutex_unlock(&c->lock);
}

/*
 * Take the filters a reload gave (continuous__reload()): every tracked
 * process is let go from the table, so its next sample tracks it afresh
 * under them (from the process cache: no second capture); what it
 * counted stays in its collections until they close.
 */
void cont_procs__refilter(struct continuous *c)
{
	struct cproc *p;

	pthread_mutex_lock(&c->lock);
	if (!c->pend_filters) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->include = c->pend_include;
	c->exclude = c->pend_exclude;
	c->pend_filters = false;
	pthread_mutex_unlock(&c->lock);
	for (p = c->all; p; p = p->next)
		if (p->linked)
			unlink_hash(c, p);
}
