// SPDX-License-Identifier: GPL-2.0
/*
 * Heap snapshots (heap_int.h): the live and allocs tables read from BPF
 * (heap_maps.c), assembled into one record per stack (heap_stacks.c),
 * stacks filled in, the profile's comments written, and the profile built
 * and gzip'd (profile.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "heap_int.h"
#include "profile.h"

/*
 * What a snapshot needs of a tracked process, copied under the lock, so
 * that the slow part (map lookups, symbolizing, gzip) runs without it:
 * its settings, its stacks and ids (heap_stacks__copy()), a reference on
 * its proc (its mappings, for symbolizing).
 */
struct heap_snap {
	struct heap_proc pc;		/* a copy: settings; st deep-copied */
	long agent_errors;		/* GOT entries not redirected */
	uint64_t inflight;		/* blocks left for the next one */
};

/* Under lock, or on a released process (its reaper owns it). 0 or
 * -ENOMEM. */
static int heap_snap__take(struct heap_proc *p, struct heap_snap *sn)
{
	int r;

	memset(sn, 0, sizeof(*sn));
	sn->pc = *p;
	sn->pc.next = NULL;
	sn->pc.agent = NULL;
	sn->agent_errors = p->agent ? p->agent->errors : p->agent_errors;
	r = heap_stacks__copy(&p->st, &sn->pc.st);
	if (r < 0)
		return r;
	proc__hold(p->proc);	/* put by heap_snap__drop() */
	return 0;
}

/* Under lock, or on a released process (as heap_snap__take()). */
static void heap_snap__drop(struct heap_snap *sn)
{
	heap_stacks__fini(&sn->pc.st);
	proc__put(sn->pc.proc);
	sn->pc.proc = NULL;
}

/* One record per stack, from the tables read (@live, @allocs) and the
 * copied stacks. Not under lock. */
static int heap_snapshot__collect(struct heap_snap *sn,
				  const struct heap_live_set *live,
				  const struct heap_rec *allocs, size_t nallocs,
				  struct heap_rec **ret, size_t *ret_n)
{
	return heap_recs__build(&sn->pc.st, live->v, live->n, allocs, nallocs,
				ret, ret_n, &sn->inflight);
}

/* Build @sn's profile. Not under lock (reads BPF maps, symbolizes,
 * gzips). @note: an extra comment, or NULL. */
static int heap_snap__build(struct heap_tracker *h, struct heap_snap *sn,
			    const struct heap_live_set *live,
			    const struct heap_rec *allocs, size_t nallocs,
			    bool allocs_default, const char *note,
			    void **ret_buf, size_t *ret_len)
{
	static const char *const err_text[PROFD_HEAP_ERR_MAX] = {
		"sampled allocations not tracked: live table full (--heap-max-live)",
		"allocations not counted: allocation-site table full",
		"allocator calls not paired: per-thread table full",
		"allocation stacks not recorded (stack table full or unreadable)",
		"user memory reads failed",
		"allocation stacks taken by frame-pointer walk: DWARF event buffer full",
	};
	struct profile_heap_entry *e = NULL;
	struct profile_heap_desc d = {};
	uint64_t errs[PROFD_HEAP_ERR_MAX], *ips = NULL;
	char comments[PROFD_HEAP_ERR_MAX + 8][400];
	const char *cptr[PROFD_HEAP_ERR_MAX + 8];
	struct heap_rec *v = NULL;
	size_t n = 0, i, nc = 0;
	uint64_t lost = 0, trunc = 0;
	const struct heap_proc *p = &sn->pc;
	int r;

	r = heap_snapshot__collect(sn, live, allocs, nallocs, &v, &n);
	if (r < 0)
		goto out;
	e = calloc(n ? n : 1, sizeof(*e));
	ips = calloc((n ? n : 1) * (PROFD_MAX_USER_FRAMES + 1), sizeof(*ips));
	if (!e || !ips) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		uint64_t *s = ips + i * (PROFD_MAX_USER_FRAMES + 1);
		struct profd_heap_frames fr;
		unsigned k = 0, j;

		if (v[i].dw == HEAP_REC_UNKNOWN) {
			lost += (uint64_t)v[i].inuse_n;	/* shown as [unknown] */
		} else if (v[i].dw) {
			const struct hstack *st = &p->st.v[v[i].dw - 1];

			for (j = 0; j < st->n && j < PROFD_MAX_USER_FRAMES; j++)
				s[k++] = st->ips[j];
			e[i].truncated = st->truncated;
			if (st->truncated)
				trunc += (uint64_t)(v[i].alloc_n + v[i].inuse_n);
		}
		/* A frame-pointer stack in DWARF mode is a fallback (the
		 * event buffer was full): of unknown completeness. */
		if (!v[i].dw && (p->flags & PROFD_HEAP_F_DWARF)) {
			e[i].truncated = true;
			trunc += (uint64_t)(v[i].alloc_n + v[i].inuse_n);
		}
		/* [caller from [sp], then the walk past the allocator],
		 * less leading frames of the agent (heap_probes__skip_frames()). */
		if (v[i].caller && !heap_probes__skipped(p, v[i].caller))
			s[k++] = v[i].caller;
		if (v[i].stack_hash &&
		    heap_maps__frames(h, v[i].stack_hash, &fr) == 0) {
			for (j = 1; j < fr.n && j < PROFD_MAX_USER_FRAMES; j++)
				if (k || !heap_probes__skipped(p, fr.ips[j]))
					s[k++] = fr.ips[j];
		}
		e[i].ips = s;
		e[i].n = k;
		e[i].alloc_objects = v[i].alloc_n;
		e[i].alloc_bytes = v[i].alloc_b;
		e[i].inuse_objects = v[i].inuse_n;
		e[i].inuse_bytes = v[i].inuse_b;
	}
	heap_maps__read_errors(h, errs);
	snprintf(comments[nc], sizeof(comments[nc]),
		 "allocator %s%s; tracked for %.1f s; %s %" PRIu64 " bytes",
		 p->allocator,
		 p->inproc ? " (sampled in the process by profd's agent)" : "",
		 (double)(now_ns(CLOCK_MONOTONIC) - p->started_ns) / 1e9,
		 p->sample_bytes <= 1 ? "every allocation (sample interval" :
					"sampled every ~",
		 p->sample_bytes);
	if (p->sample_bytes <= 1)
		strncat(comments[nc], ")", sizeof(comments[nc]) - strlen(comments[nc]) - 1);
	nc++;
	if (p->own_new)
		snprintf(comments[nc++], sizeof(comments[0]),
			 "%s defines C++ operator new and delete itself: "
			 "blocks allocated by new are not tracked",
			 p->allocator);
	if (sn->agent_errors)
		snprintf(comments[nc++], sizeof(comments[0]),
			 "in-process mode: %ld GOT entries could not be "
			 "redirected (their page could not be made writable): "
			 "calls through them are not seen", sn->agent_errors);
	if (p->inproc)
		snprintf(comments[nc++], sizeof(comments[0]),
			 "in-process mode: frees through a pointer to free "
			 "stored before tracking began are not seen (such "
			 "blocks stay in use here), nor are a library's calls "
			 "between its dlopen and profd's next look (about a "
			 "second)");
	snprintf(comments[nc++], sizeof(comments[0]),
		 "allocation stacks: %s",
		 p->flags & PROFD_HEAP_F_DWARF ?
			 "DWARF-unwound in profd (frame pointers not needed)" :
			 "frame-pointer walk (unwind=fp)");
	if (lost || p->dw_unknown || trunc)
		snprintf(comments[nc++], sizeof(comments[0]),
			 "%" PRIu64 " live blocks and %" PRIu64
			 " allocations without a stack ([unknown]: event lost or "
			 "stack table full); %" PRIu64
			 " allocations and live blocks with a [truncated] stack "
			 "(deeper than the copy, or a frame-pointer fallback)",
			 lost, p->dw_unknown, trunc);
	if (sn->inflight)
		snprintf(comments[nc++], sizeof(comments[0]),
			 "%" PRIu64 " blocks allocated while this snapshot was "
			 "taken are left for the next one", sn->inflight);
	for (i = 0; i < PROFD_HEAP_ERR_MAX; i++) {
		uint64_t dlt = errs[i] - p->errors_at_start[i];

		if (!dlt)
			continue;
		/* Counters are shared by all tracked processes. */
		snprintf(comments[nc], sizeof(comments[nc]),
			 "%" PRIu64 " %s (all tracked processes)", dlt,
			 err_text[i]);
		nc++;
	}
	if (note)
		snprintf(comments[nc++], sizeof(comments[0]), "%s", note);
	for (i = 0; i < nc; i++)
		cptr[i] = comments[i];
	d.proc = p->proc;
	d.e = e;
	d.n = n;
	d.sample_bytes = p->sample_bytes;
	d.allocs_default = allocs_default;
	d.time_nanos = (int64_t)now_ns(CLOCK_REALTIME);
	d.comments = cptr;
	d.ncomments = nc;
	r = profile__build_heap(&d, ret_buf, ret_len);
out:
	free(ips);
	free(e);
	free(v);
	return r;
}

int heap_snapshot__build(struct heap_tracker *h, struct heap_proc *p,
			 bool allocs_default, const char *note,
			 void **ret_buf, size_t *ret_len)
{
	struct heap_live_set live = {};
	struct heap_rec *allocs = NULL;
	size_t nallocs = 0;
	struct heap_snap sn;
	int r;

	r = heap_maps__read_live(h, (uint32_t)p->pid, &live);
	if (r == 0)
		r = heap_maps__read_allocs(h, (uint32_t)p->pid, &allocs,
					   &nallocs);
	if (r == 0)
		r = heap_snap__take(p, &sn);
	if (r == 0) {
		r = heap_snap__build(h, &sn, &live, allocs, nallocs,
				     allocs_default, note, ret_buf, ret_len);
		heap_snap__drop(&sn);
	}
	free(allocs);
	free(live.v);
	return r;
}

/*
 * A pull: the tables are read and the profile built without the lock,
 * which is taken twice, briefly: to copy what the snapshot needs of the
 * process (heap_snap__take()), and to prune its ids against the live
 * blocks read. A status request or a CPU window never waits for a
 * snapshot being built.
 */
int heap__snapshot(struct heap_tracker *h, pid_t pid, bool allocs_default,
		   void **ret_buf, size_t *ret_len)
{
	struct heap_live_set live = {};
	struct heap_rec *allocs = NULL;
	uint64_t gen = 0, *ids = NULL;
	size_t nallocs = 0, nids = 0;
	const char *note = NULL;
	struct heap_snap sn;
	struct heap_proc *p;
	bool dwarf = false;
	int r, cur;

	heap_events__drain(h);	/* stacks of allocations made up to now */
	pthread_mutex_lock(&h->lock);
	p = heap__find(h, pid);
	if (p)
		gen = p->generation;
	pthread_mutex_unlock(&h->lock);
	/* p exists, so the BPF object is loaded (and stays). */
	if (gen) {
		r = heap_maps__read_live(h, (uint32_t)pid, &live);
		if (r == 0)
			r = heap_maps__read_allocs(h, (uint32_t)pid, &allocs,
						   &nallocs);
		if (r == 0)
			r = heap_stacks__live_ids(live.v, live.n, &ids, &nids);
		if (r < 0)
			goto out;
	}

	pthread_mutex_lock(&h->lock);
	p = heap__find(h, pid);
	if (p && p->generation != gen) {
		/* Tracking restarted meanwhile: read again, under lock. */
		pthread_mutex_unlock(&h->lock);
		free(live.v);
		free(allocs);
		free(ids);
		return heap__snapshot(h, pid, allocs_default, ret_buf, ret_len);
	}
	if (!p) {
		/* Released meanwhile: its last snapshot, once kept. */
		heap__reap_wait(h, pid);
		r = heap_finals__copy(h, pid, allocs_default, ret_buf, ret_len);
		pthread_mutex_unlock(&h->lock);
		goto out;
	}
	/* What BPF recorded is of the image tracked only; the mappings too
	 * (proc.h). */
	cur = target__current(&p->t);
	if (cur == -ESTALE)
		note = "the process executed another program: this is the heap the one it ran before held then";
	else if (cur < 0)
		note = "the process exited: this is the heap it held at exit";
	p->last_pull_ns = now_ns(CLOCK_MONOTONIC);
	dwarf = p->flags & PROFD_HEAP_F_DWARF;
	r = heap_snap__take(p, &sn);
	pthread_mutex_unlock(&h->lock);
	if (r < 0)
		goto out;

	r = heap_snap__build(h, &sn, &live, allocs, nallocs, allocs_default,
			     note, ret_buf, ret_len);

	pthread_mutex_lock(&h->lock);
	/* Event ids of blocks since freed (see heap_stacks__prune()). */
	p = heap__find(h, pid);
	if (dwarf && p && p->generation == gen)
		heap_stacks__prune(&p->st, ids, nids);
	heap_snap__drop(&sn);
	pthread_mutex_unlock(&h->lock);
out:
	free(ids);
	free(allocs);
	free(live.v);
	return r;
}
