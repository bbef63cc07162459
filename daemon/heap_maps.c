// SPDX-License-Identifier: GPL-2.0
/*
 * The heap tracker's BPF object (heap_int.h): loaded on first use, so
 * CPU-only users pay nothing; sized by the limits. Reads of its maps (live
 * blocks, allocation-site counts, frame-pointer stacks, error counters)
 * and the purges of a released process's entries. No locks of its own:
 * the maps live as long as the tracker.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfmap.h"
#include "execwatch.h"
#include "heap.skel.h"
#include "heap_int.h"
#include "pidns.h"

_Static_assert(sizeof(struct profd_heap_live_key) == 16, "live key");
_Static_assert(sizeof(struct profd_heap_stack) == 24, "heap stack");
_Static_assert(offsetof(struct profd_heap_event, stack) == PROFD_HEAP_EVENT_HDR,
	       "heap event header");

#define ATTACH_UPROBE_SESSION 57	/* BPF_TRACE_UPROBE_SESSION, 6.13+ */

/* Open and load, with or without the uprobe-session program. */
static int heap_maps__open_load(struct heap_tracker *h, bool sessions,
		     struct heap_bpf **ret)
{
	struct heap_bpf *skel;
	int r;

	skel = heap_bpf__open();
	if (!skel)
		return -errno;
	if (sessions)
		r = bpf_program__set_expected_attach_type(
			skel->progs.heap_session,
			(enum bpf_attach_type)ATTACH_UPROBE_SESSION);
	else
		r = bpf_program__set_autoload(skel->progs.heap_session, false);
	if (r < 0)
		goto fail;
	/* As in the sampler: the probe only where it is needed. */
	skel->rodata->pidns_inum = h->lim.pidns_inum;
	if (!h->lim.pidns_inum) {
		r = bpf_program__set_autoload(skel->progs.profd_pidns_probe,
					      false);
		if (r < 0)
			goto fail;
	}
	r = bpf_map__set_max_entries(skel->maps.live, (__u32)h->lim.max_live);
	if (r < 0)
		goto fail;
	if (h->lim.event_buffer_bytes) {
		r = bpf_map__set_max_entries(skel->maps.heap_events,
					     h->lim.event_buffer_bytes);
		if (r < 0)
			goto fail;
	}
	/* One execs map for every object (execwatch.h). */
	r = bpf_map__reuse_fd(skel->maps.execs, execwatch__map_fd(h->w));
	if (r < 0)
		goto fail;
	r = heap_bpf__load(skel);
	if (r < 0)
		goto fail;
	if (h->lim.pidns_inum) {
		r = pidns__probe(bpf_program__fd(skel->progs.profd_pidns_probe));
		if (r < 0)
			goto fail;
	}
	*ret = skel;
	return 0;
fail:
	heap_bpf__destroy(skel);
	return r;
}

static int heap_maps__load_once(struct heap_tracker *h)
{
	struct heap_bpf *skel;
	bool sessions;
	int fd, r;
	__u32 i;

	if (h->skel)
		return 0;
	/* Uprobe sessions let unsampled calls skip the return probe; older
	 * kernels reject the program, and uprobe + uretprobe take over. */
	sessions = !h->no_uprobe_sessions &&
		   !getenv("PROFD_NO_UPROBE_SESSIONS");
	r = sessions ? heap_maps__open_load(h, true, &skel) : -EOPNOTSUPP;
	if (r < 0) {
		sessions = false;
		r = heap_maps__open_load(h, false, &skel);
		if (r < 0)
			return r;
	}
	/* Quantiles of the exponential distribution (mean 1 << 16): the BPF
	 * side picks one at random and scales it by the mean interval. */
	fd = bpf_map__fd(skel->maps.sample_table);
	for (i = 0; i < PROFD_HEAP_SAMPLE_TABLE; i++) {
		double u = (i + 0.5) / PROFD_HEAP_SAMPLE_TABLE;
		__u32 v = (__u32)(-log(u) * 65536.0);

		if (bpf_map_update_elem(fd, &i, &v, BPF_ANY) < 0) {
			r = -errno;
			heap_bpf__destroy(skel);
			return r;
		}
	}
	/* Published under lock: heap__stats() and starts read it there. */
	pthread_mutex_lock(&h->lock);
	h->uprobe_sessions = sessions;
	h->skel = skel;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

int heap_maps__load(struct heap_tracker *h)
{
	int r;

	pthread_mutex_lock(&h->load_lock);
	r = heap_maps__load_once(h);
	pthread_mutex_unlock(&h->load_lock);
	return r;
}

/*
 * BPF_LINK_CREATE for a uprobe session: Debian's libbpf 1.1 and uapi
 * headers predate uprobe_multi, so the attr is laid out here as the
 * kernel's union bpf_attr has it (link_create, uprobe_multi member).
 */
struct link_create_uprobe_multi {
	__u32 prog_fd, target_fd, attach_type, flags;
	__u64 path, offsets, ref_ctr_offsets, cookies;
	__u32 cnt, um_flags, pid, pad;
};

int heap_maps__usession_link(int prog_fd, const char *path,
			    const uint64_t *offs, const uint64_t *cookies,
			    unsigned n, pid_t pid)
{
	struct link_create_uprobe_multi a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_fd = (__u32)prog_fd;
	a.attach_type = ATTACH_UPROBE_SESSION;
	a.path = (__u64)(uintptr_t)path;
	a.offsets = (__u64)(uintptr_t)offs;
	a.cookies = (__u64)(uintptr_t)cookies;
	a.cnt = n;
	a.pid = (__u32)pid;
	fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	return fd < 0 ? -errno : fd;
}

void heap_maps__read_errors(struct heap_tracker *h,
			    uint64_t out[PROFD_HEAP_ERR_MAX])
{
	memset(out, 0, PROFD_HEAP_ERR_MAX * sizeof(*out));
	if (h->skel)
		(void)bpfmap__sum_percpu(bpf_map__fd(h->skel->maps.heap_errors),
					 PROFD_HEAP_ERR_MAX, out);
}

/*
 * Delete every key of @fd whose leading u32 is @tgid: collect them in one
 * pass, then delete (deleting while iterating a hash map restarts it).
 */
static void heap_maps__purge_tgid(int fd, size_t key_size, __u32 tgid)
{
	unsigned char key[64], next[64], *del = NULL, *nd;
	size_t n = 0, cap = 0, i;
	bool have = false;

	if (key_size > sizeof(key))
		return;
	while (bpf_map_get_next_key(fd, have ? key : NULL, next) == 0) {
		__u32 t;

		memcpy(key, next, key_size);
		have = true;
		memcpy(&t, next, sizeof(t));
		if (t != tgid)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			nd = realloc(del, cap * key_size);
			if (!nd)
				break;
			del = nd;
		}
		memcpy(del + n++ * key_size, next, key_size);
	}
	for (i = 0; i < n; i++)
		(void)bpf_map_delete_elem(fd, del + i * key_size);
	free(del);
}

static int heap_maps__cmp_u64(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* Drop stacks no remaining allocs entry refers to (every live block's
 * stack is also in allocs). */
static void heap_maps__purge_stacks(struct heap_tracker *h)
{
	int afd = bpf_map__fd(h->skel->maps.allocs);
	int sfd = bpf_map__fd(h->skel->maps.stacks);
	struct profd_heap_stack k, nk;
	uint64_t *used = NULL, *nu, *del = NULL, key, next;
	size_t n = 0, cap = 0, nd = 0, dcap = 0, i;
	bool have = false;

	while (bpf_map_get_next_key(afd, have ? &k : NULL, &nk) == 0) {
		k = nk;
		have = true;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			nu = realloc(used, cap * sizeof(*used));
			if (!nu)
				goto out;
			used = nu;
		}
		used[n++] = nk.stack_hash;
	}
	if (n)
		qsort(used, n, sizeof(*used), heap_maps__cmp_u64);
	have = false;
	while (bpf_map_get_next_key(sfd, have ? &key : NULL, &next) == 0) {
		key = next;
		have = true;
		if (n && bsearch(&next, used, n, sizeof(*used), heap_maps__cmp_u64))
			continue;
		if (nd == dcap) {
			dcap = dcap ? dcap * 2 : 256;
			nu = realloc(del, dcap * sizeof(*del));
			if (!nu)
				goto out;
			del = nu;
		}
		del[nd++] = next;
	}
	for (i = 0; i < nd; i++)
		(void)bpf_map_delete_elem(sfd, &del[i]);
out:
	free(used);
	free(del);
}

/*
 * Call @fn on every (key, value) of hash map @fd, read in batches by
 * bucket. A get_next_key walk restarts from the first key when the entry
 * it stands on is deleted (a free in the process, or a purge of another
 * process, heap__reap(): both run while snapshots read), and then reads
 * entries twice; a batch's cursor is a bucket index, which deletes do not
 * move. Also ~100 times fewer syscalls. 0 or -errno.
 */
static int heap_maps__walk(int fd, size_t ksz, size_t vsz,
			   int (*fn)(const void *k, const void *v, void *ctx),
			   void *ctx)
{
	__u32 in = 0, out = 0, n, cap = 1024, i;
	char *keys = NULL, *vals = NULL, *nk, *nv;
	bool first = true;
	int r = 0;

	for (;;) {
		if (!keys) {
			keys = malloc((size_t)cap * ksz);
			vals = malloc((size_t)cap * vsz);
			if (!keys || !vals) {
				r = -ENOMEM;
				break;
			}
		}
		n = cap;
		r = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys,
					 vals, &n, NULL);
		if (r < 0)
			r = -errno;
		if (r == -ENOSPC && cap < (1u << 16)) {
			/* One bucket holds more than cap: a bigger batch. */
			cap *= 4;
			nk = keys;
			nv = vals;
			keys = vals = NULL;
			free(nk);
			free(nv);
			continue;
		}
		if (r < 0 && r != -ENOENT)
			break;
		for (i = 0; i < n; i++) {
			int e = fn(keys + (size_t)i * ksz, vals + (size_t)i * vsz,
				   ctx);

			if (e < 0) {
				r = e;
				goto out;
			}
		}
		if (r == -ENOENT) {	/* the last batch */
			r = 0;
			break;
		}
		in = out;
		first = false;
	}
out:
	free(keys);
	free(vals);
	return r;
}

struct heap_live_walk {
	uint32_t tgid;
	struct heap_live_set *set;
	size_t cap;
};

static int heap_maps__live_one(const void *k, const void *v, void *ctx)
{
	const struct profd_heap_live_key *lk = k;
	struct heap_live_walk *w = ctx;
	struct heap_live_set *ret = w->set;
	struct profd_heap_live_val *nv;

	if (lk->tgid != w->tgid)
		return 0;
	if (ret->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 1024;
		nv = realloc(ret->v, w->cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		ret->v = nv;
	}
	memcpy(&ret->v[ret->n++], v, sizeof(*nv));
	return 0;
}

int heap_maps__read_live(struct heap_tracker *h, uint32_t tgid,
			 struct heap_live_set *ret)
{
	struct heap_live_walk w = { .tgid = tgid, .set = ret };
	int r;

	memset(ret, 0, sizeof(*ret));
	r = heap_maps__walk(bpf_map__fd(h->skel->maps.live),
			    sizeof(struct profd_heap_live_key),
			    sizeof(struct profd_heap_live_val),
			    heap_maps__live_one, &w);
	if (r < 0) {
		free(ret->v);
		memset(ret, 0, sizeof(*ret));
	}
	return r;
}

struct heap_allocs_walk {
	uint32_t tgid;
	struct heap_rec *v;
	size_t n, cap;
};

static int heap_maps__allocs_one(const void *k, const void *v, void *ctx)
{
	const struct profd_heap_stack *ak = k;
	const struct profd_heap_allocs_val *av = v;
	struct heap_allocs_walk *w = ctx;
	struct heap_rec r;

	if (ak->tgid != w->tgid)
		return 0;
	memset(&r, 0, sizeof(r));
	r.stack_hash = ak->stack_hash;
	r.caller = ak->caller;
	r.alloc_n = (int64_t)av->count;
	r.alloc_b = (int64_t)av->bytes;
	return heap_recs__push(&w->v, &w->n, &w->cap, &r);
}

int heap_maps__read_allocs(struct heap_tracker *h, uint32_t tgid,
			   struct heap_rec **ret, size_t *ret_n)
{
	struct heap_allocs_walk w = { .tgid = tgid };
	int r;

	r = heap_maps__walk(bpf_map__fd(h->skel->maps.allocs),
			    sizeof(struct profd_heap_stack),
			    sizeof(struct profd_heap_allocs_val),
			    heap_maps__allocs_one, &w);
	if (r < 0) {
		free(w.v);
		return r;
	}
	*ret = w.v;
	*ret_n = w.n;
	return 0;
}

int heap_maps__frames(struct heap_tracker *h, uint64_t stack_hash,
		      struct profd_heap_frames *ret)
{
	__u64 key = stack_hash;

	if (bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.stacks), &key,
				ret) < 0)
		return -errno;
	return 0;
}

uint64_t heap_maps__last_event_id(struct heap_tracker *h)
{
	__u32 zero = 0;
	__u64 next = 0;

	(void)bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.event_ids), &zero,
				  &next);
	return next;
}

int heap_maps__track(struct heap_tracker *h, uint32_t tgid,
		     const struct profd_heap_proc *cfg)
{
	__u32 k = tgid;

	if (bpf_map_update_elem(bpf_map__fd(h->skel->maps.heap_procs), &k,
				cfg, BPF_ANY) < 0)
		return -errno;
	return 0;
}

void heap_maps__forget(struct heap_tracker *h, uint32_t tgid)
{
	__u32 k = tgid;

	if (!h->skel)
		return;
	(void)bpf_map_delete_elem(bpf_map__fd(h->skel->maps.heap_procs), &k);
	heap_maps__purge_tgid(bpf_map__fd(h->skel->maps.live),
			      sizeof(struct profd_heap_live_key), k);
	heap_maps__purge_tgid(bpf_map__fd(h->skel->maps.allocs),
			      sizeof(struct profd_heap_stack), k);
	heap_maps__purge_stacks(h);
}

void heap_maps__unload(struct heap_tracker *h)
{
	heap_bpf__destroy(h->skel);
	h->skel = NULL;
}
