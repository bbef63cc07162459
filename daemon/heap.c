// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "access.h"
#include "agent.h"
#include "elfsyms.h"
#include "execwatch.h"
#include "heap.skel.h"
#include "heap.h"
#include "json.h"
#include "heap_int.h"
#include "pidns.h"
#include "proc.h"
#include "profd_abi.h"
#include "profd_agent.h"
#include "profile.h"
#include "strtab.h"
#include "target.h"
#include "unwind.h"

_Static_assert(sizeof(struct profd_heap_live_key) == 16, "live key");
_Static_assert(sizeof(struct profd_heap_stack) == 24, "heap stack");
_Static_assert(offsetof(struct profd_heap_event, stack) == PROFD_HEAP_EVENT_HDR,
	       "heap event header");

/* Distinct DWARF-unwound allocation stacks kept per process (the BPF
 * stacks map's size): beyond, allocations count under "[unknown]". */
#define MAX_DW_STACKS 16384
#define DW_UNKNOWN UINT32_MAX	/* rec.dw of a block whose stack is lost */


/* Allocator entry points, in enum profd_heap_fn order. */
static const char *const fn_names[PROFD_HEAP_FN_MAX] = {
	"malloc", "calloc", "realloc", "reallocarray", "posix_memalign",
	"aligned_alloc", "memalign", "valloc", "pvalloc", "free",
};

/*
 * C++ operator new forms in libstdc++ (all take the size first). They call
 * malloc, which is probed anyway; probing them too takes the stack where
 * the caller of new is still at [sp] — libstdc++ has no frame pointers, so
 * from inside malloc that caller would be lost.
 */
static const char *const cxx_names[] = {
	"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
	"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
	"_ZnwmSt11align_val_tRKSt9nothrow_t",
	"_ZnamSt11align_val_tRKSt9nothrow_t",
};
#define NCXX (sizeof(cxx_names) / sizeof(cxx_names[0]))

static size_t idtab__find(const struct idtab *t, uint64_t id)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;	/* first position with t->id[pos] >= id */
}

static uint32_t idtab__get(const struct idtab *t, uint64_t id)
{
	size_t i = idtab__find(t, id);

	return i < t->n && t->id[i] == id ? t->stack[i] : 0;
}

static int idtab__put(struct idtab *t, uint64_t id, uint32_t stack)
{
	size_t i = t->n && t->id[t->n - 1] < id ? t->n : idtab__find(t, id);

	if (i < t->n && t->id[i] == id) {
		t->stack[i] = stack;
		return 0;
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 1024;
		uint64_t *ni = realloc(t->id, nc * sizeof(*ni));
		uint32_t *ns;

		if (!ni)
			return -ENOMEM;
		t->id = ni;
		ns = realloc(t->stack, nc * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		t->stack = ns;
		t->cap = nc;
	}
	memmove(t->id + i + 1, t->id + i, (t->n - i) * sizeof(*t->id));
	memmove(t->stack + i + 1, t->stack + i, (t->n - i) * sizeof(*t->stack));
	t->id[i] = id;
	t->stack[i] = stack;
	t->n++;
	return 0;
}

static void idtab__fini(struct idtab *t)
{
	free(t->id);
	free(t->stack);
	memset(t, 0, sizeof(*t));
}

static void finals__expire(struct heap_tracker *h, pid_t pid, uint64_t now);
static void keep_final(struct heap_tracker *h, struct heap_proc *p,
		       uint64_t now, const char *why);

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int heap__new(const struct heap_limits *lim, struct symbolizer *sym,
	      struct execwatch *w, struct heap_tracker **ret)
{
	struct heap_tracker *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->rb_lock, NULL);
	pthread_mutex_init(&h->agent_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->agent_wake, &ca);
	pthread_condattr_destroy(&ca);
	h->lim = *lim;
	h->sym = sym;
	h->w = w;
	h->next_gen = 1;
	*ret = h;
	return 0;
}

#define ATTACH_UPROBE_SESSION 57	/* BPF_TRACE_UPROBE_SESSION, 6.13+ */

/* Open and load, with or without the uprobe-session program. */
static int load_skel(struct heap_tracker *h, bool sessions,
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

/* Load the BPF object on first use, sized by the limits. Under lock. */
static int load(struct heap_tracker *h)
{
	struct heap_bpf *skel;
	int fd, r;
	__u32 i;

	if (h->skel)
		return 0;
	/* Uprobe sessions let unsampled calls skip the return probe; older
	 * kernels reject the program, and uprobe + uretprobe take over. */
	h->sessions = !h->no_sessions && !getenv("PROFD_NO_UPROBE_SESSIONS");
	r = h->sessions ? load_skel(h, true, &skel) : -EOPNOTSUPP;
	if (r < 0) {
		h->sessions = false;
		r = load_skel(h, false, &skel);
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
	h->skel = skel;
	return 0;
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

static int session_link(int prog_fd, const char *path, const uint64_t *offs,
			const uint64_t *cookies, unsigned n, pid_t pid)
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

static void read_errors(struct heap_tracker *h, uint64_t out[PROFD_HEAP_ERR_MAX])
{
	int fd, ncpu = libbpf_num_possible_cpus(), c;
	uint64_t *vals;
	__u32 k;

	memset(out, 0, PROFD_HEAP_ERR_MAX * sizeof(*out));
	if (!h->skel || ncpu <= 0)
		return;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return;
	fd = bpf_map__fd(h->skel->maps.heap_errors);
	for (k = 0; k < PROFD_HEAP_ERR_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals) < 0)
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
}

struct heap_proc *heap__find(struct heap_tracker *h, pid_t pid)
{
	struct heap_proc *p;

	for (p = h->procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static int cmp_u64(const void *a, const void *b);

/*
 * DWARF-mode stacks. Each sampled allocation's entry sends registers and
 * stack (heap event); it is unwound here once, its stack interned per
 * process, and the allocation counted on it. The live table keeps the
 * event id, resolved to the stack at snapshot time.
 */
static int intern_stack(struct heap_proc *p, const uint64_t *ips, unsigned n,
			bool truncated, uint32_t *ret)
{
	uint64_t key = hash__u64(truncated, hash__bytes(ips, n * sizeof(*ips), 0));
	struct hstack *st;
	uint64_t v;
	int r;

	for (;;) {
		if (!key)
			key = 1;
		if (u64map__get(&p->stack_index, key, &v) < 0)
			break;
		st = &p->stacks[v - 1];
		if (st->n == n && st->truncated == truncated &&
		    !memcmp(st->ips, ips, n * sizeof(*ips))) {
			*ret = (uint32_t)(v - 1);
			return 0;
		}
		key = hash__u64(key, 1);	/* a collision: next slot */
	}
	if (p->nstacks >= MAX_DW_STACKS)
		return -ENOSPC;
	if (p->nstacks == p->capstacks) {
		size_t nc = p->capstacks ? p->capstacks * 2 : 64;
		struct hstack *ns = realloc(p->stacks, nc * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		p->stacks = ns;
		p->capstacks = nc;
	}
	st = &p->stacks[p->nstacks];
	memset(st, 0, sizeof(*st));
	st->ips = malloc((n ? n : 1) * sizeof(*ips));
	if (!st->ips)
		return -ENOMEM;
	memcpy(st->ips, ips, n * sizeof(*ips));
	st->n = n;
	st->truncated = truncated;
	r = u64map__put(&p->stack_index, key, p->nstacks + 1);
	if (r < 0) {
		free(st->ips);
		return r;
	}
	*ret = (uint32_t)p->nstacks++;
	return 0;
}

/* Is @ip in a frame profiles leave out (see heap__skip_frames())? */
static bool skipped(const struct heap_proc *p, uint64_t ip)
{
	unsigned k;

	for (k = 0; k < p->nskip; k++)
		if (ip >= p->skip[k].lo && ip < p->skip[k].hi)
			return true;
	return false;
}

/* Unwind one allocation's stack into p's table. Under lock. */
static int unwind_event(struct heap_tracker *h, struct heap_proc *p,
			const struct profd_heap_event *ev, size_t size,
			uint32_t *ret)
{
	uint64_t ips[PROFD_MAX_USER_FRAMES + 1];
	size_t len = ev->stack_len;
	bool trunc = true;
	int n, tries, skip;

	if (len > PROFD_STACK_COPY || PROFD_HEAP_EVENT_HDR + len > size)
		len = 0;
	for (tries = 0; tries < 2; tries++) {
		n = unwind__stack(p->proc, (const uint64_t *)ev->regs,
				  ev->stack, len, ips,
				  PROFD_MAX_USER_FRAMES + 1, &trunc);
		/* Frames in code we have no mapping for: a library loaded
		 * since tracking began? Read the maps again (at most every
		 * 100 ms), so that the snapshot can name them, and unwind
		 * once more if the walk was cut short there. */
		if (n <= 0 || proc__covers(p->proc, ips, (unsigned)n) ||
		    proc__refresh(p->proc, h->sym, now_ns(CLOCK_MONOTONIC),
				  100000000ULL) != 1 || !trunc)
			break;
	}
	h->dw_events++;
	if (n <= 0) {
		h->dw_failed++;
		n = 1;		/* no frames: shown as [unknown] */
		trunc = true;
	}
	if (trunc)
		h->dw_truncated++;
	/* Frame 0 is the allocator's entry itself (or the agent's probe
	 * point, then the agent's wrapper): profiles start at its caller,
	 * as frame-pointer stacks do. */
	for (skip = 1; skip < n && skipped(p, ips[skip]); skip++)
		;
	return intern_stack(p, ips + skip, (unsigned)(n - skip), trunc, ret);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct heap_tracker *h = ctx;
	const struct profd_heap_event *ev = data;
	struct heap_proc *p;
	uint32_t v;
	uint32_t idx;

	if (size < offsetof(struct profd_heap_event, regs))
		return 0;
	pthread_mutex_lock(&h->lock);
	p = heap__find(h, (pid_t)ev->tgid);
	if (!p || !(p->flags & PROFD_HEAP_F_DWARF) || ev->id < p->first_id)
		goto out;	/* not (or no longer) tracked */
	if (ev->kind == PROFD_HEAP_EV_CANCEL) {
		/* The allocation failed: uncount it. */
		v = idtab__get(&p->ids, ev->id);
		if (v && v <= p->nstacks) {
			p->stacks[v - 1].alloc_n--;
			p->stacks[v - 1].alloc_b -= (int64_t)ev->size;
			(void)idtab__put(&p->ids, ev->id, 0);
		}
		goto out;
	}
	if (ev->kind != PROFD_HEAP_EV_ALLOC || size < PROFD_HEAP_EVENT_HDR)
		goto out;
	if (ev->id > p->max_id)
		p->max_id = ev->id;
	if (unwind_event(h, p, ev, size, &idx) < 0) {
		p->dw_unknown++;
		goto out;
	}
	p->stacks[idx].alloc_n++;
	p->stacks[idx].alloc_b += (int64_t)ev->size;
	if (idtab__put(&p->ids, ev->id, idx + 1) < 0)
		p->dw_unknown++;	/* its live block shows as [unknown] */
out:
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/* Process every event in the buffer. Not under lock. */
static void drain(struct heap_tracker *h)
{
	pthread_mutex_lock(&h->rb_lock);
	if (h->rb)
		(void)ring_buffer__consume(h->rb);
	pthread_mutex_unlock(&h->rb_lock);
}

/*
 * The reader: wakes when the buffer fills past an eighth (the BPF side
 * asks for a wakeup then) and every 100 ms otherwise, so stacks are
 * unwound while the process's memory layout is current. It never waits
 * for a call into a process (agent_lock): that is the agent thread's.
 */
static void *reader_main(void *arg)
{
	struct heap_tracker *h = arg;
	struct epoll_event e;
	int efd = ring_buffer__epoll_fd(h->rb);

	while (!__atomic_load_n(&h->quit, __ATOMIC_ACQUIRE)) {
		(void)epoll_wait(efd, &e, 1, 100);
		drain(h);
	}
	return NULL;
}

/* Start the reader with the BPF object. Under lock. */
static int start_reader(struct heap_tracker *h)
{
	int r;

	if (h->reader_started)
		return 0;
	h->rb = ring_buffer__new(bpf_map__fd(h->skel->maps.heap_events),
				 on_event, h, NULL);
	if (!h->rb)
		return -errno;
	r = pthread_create(&h->reader, NULL, reader_main, h);
	if (!r)
		pthread_setname_np(h->reader, "heap-reader");
	if (r) {
		ring_buffer__free(h->rb);
		h->rb = NULL;
		return -r;
	}
	h->reader_started = true;
	return 0;
}

/*
 * Forget event ids whose blocks are gone. An id stays while the live table
 * has it, or while it is newer than the previous prune's newest id (its
 * allocation may not have returned yet when this one read the table).
 * @live: the DWARF ids in the live table for p, sorted. Under lock.
 */
static void prune_ids(struct heap_proc *p, const uint64_t *live, size_t nlive)
{
	struct idtab *t = &p->ids;
	size_t i, j = 0, out = 0;

	for (i = 0; i < t->n; i++) {
		uint64_t id = t->id[i];

		while (j < nlive && live[j] < id)
			j++;
		if (id <= p->prune_mark && !(j < nlive && live[j] == id))
			continue;
		t->id[out] = id;
		t->stack[out] = t->stack[i];
		out++;
	}
	t->n = out;
	p->nids_kept = out;
	p->prune_mark = p->max_id;
}

/*
 * Delete every key of @fd whose leading u32 is @tgid: collect them in one
 * pass, then delete (deleting while iterating a hash map restarts it).
 */
static void purge_tgid(int fd, size_t key_size, __u32 tgid)
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

static int cmp_u64(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* Drop stacks no remaining allocs entry refers to (every live block's
 * stack is also in allocs). */
static void purge_stacks(struct heap_tracker *h)
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
		qsort(used, n, sizeof(*used), cmp_u64);
	have = false;
	while (bpf_map_get_next_key(sfd, have ? &key : NULL, &next) == 0) {
		key = next;
		have = true;
		if (n && bsearch(&next, used, n, sizeof(*used), cmp_u64))
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

/* Detach and forget @p. Under lock. */
static void release(struct heap_tracker *h, struct heap_proc *p)
{
	struct heap_proc **pp;
	__u32 tgid = (__u32)p->pid;
	unsigned i;

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
		p->agent->next = h->offq;
		h->offq = p->agent;
		pthread_cond_signal(&h->agent_wake);
	}
	for (i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	for (i = 0; i < 2; i++)
		if (p->session_fds[i] >= 0)
			close(p->session_fds[i]);
	if (h->skel) {
		(void)bpf_map_delete_elem(bpf_map__fd(h->skel->maps.heap_procs),
					  &tgid);
		purge_tgid(bpf_map__fd(h->skel->maps.live),
			   sizeof(struct profd_heap_live_key), tgid);
		purge_tgid(bpf_map__fd(h->skel->maps.allocs),
			   sizeof(struct profd_heap_stack), tgid);
		purge_stacks(h);
	}
	for (i = 0; i < p->nstacks; i++)
		free(p->stacks[i].ips);
	free(p->stacks);
	u64map__fini(&p->stack_index);
	idtab__fini(&p->ids);
	proc__free(p->proc);
	target__release(&p->t);
	free(p);
}

/*
 * Which allocator does the process use? The one the dynamic linker binds
 * malloc to: the executable's own (static binaries, allocators linked in),
 * else a preloaded or linked allocator library (jemalloc, tcmalloc,
 * mimalloc, musl's libc), else glibc's libc.so.6.
 */
static int choose_allocator(struct proc *pr, char *path, size_t size,
			    uint64_t offs[PROFD_HEAP_FN_MAX])
{
	char libc[PATH_MAX] = "", best[PATH_MAX] = "";
	int rank_best = 0;
	size_t i;

	for (i = 0; i < pr->nmaps; i++) {
		const struct proc_map *m = &pr->maps[i];
		const char *base = strrchr(m->path, '/');
		uint64_t o[PROFD_HEAP_FN_MAX];
		int fd, rank;

		if (m->path[0] != '/')
			continue;
		base = base ? base + 1 : m->path;
		if (!strncmp(base, "ld-linux", 8))
			continue;
		if (!strcmp(best, m->path) || !strcmp(libc, m->path))
			continue;
		fd = proc__open_in_root(pr->dirfd, m->path);
		if (fd < 0)
			continue;
		if (m->is_main && elfsyms__is_go(fd)) {
			close(fd);
			return -EPROTONOSUPPORT;
		}
		if (elfsyms__find(fd, fn_names, PROFD_HEAP_FN_MAX, o) <= 0 ||
		    !o[PROFD_HEAP_MALLOC] || !o[PROFD_HEAP_FREE]) {
			close(fd);
			continue;
		}
		rank = m->is_main ? 3 : strncmp(base, "libc.so", 7) ? 2 : 1;
		if (rank > rank_best) {
			rank_best = rank;
			snprintf(best, sizeof(best), "%s", m->path);
			/* Where each probe goes (past an instruction the
			 * kernel would single-step, where that is safe). */
			offs[PROFD_HEAP_FREE] = elfsyms__probe_offset(
				fd, o[PROFD_HEAP_FREE]);
			memcpy(offs, o, PROFD_HEAP_FREE * sizeof(*o));
		}
		if (rank == 1)
			snprintf(libc, sizeof(libc), "%s", m->path);
		close(fd);
	}
	if (!rank_best)
		return -ENOENT;
	snprintf(path, size, "%s", best);
	return 0;
}

/* Aliases (glibc's aligned_alloc is memalign) are probed once: false
 * and @off recorded in @done the first time, true after. */
static bool seen_offset(uint64_t *done, unsigned *nd, uint64_t off)
{
	unsigned j;

	for (j = 0; j < *nd; j++)
		if (done[j] == off)
			return true;
	done[(*nd)++] = off;
	return false;
}

/* Probe operator new in libstdc++, when the process has it mapped. */
static int attach_cxx(struct heap_tracker *h, struct heap_proc *p)
{
	char path[64];
	uint64_t offs[NCXX], done[NCXX];
	unsigned nd = 0, i;
	struct bpf_link *l;
	size_t k;
	int fd, r = 0;

	for (k = 0; k < p->proc->nmaps; k++) {
		const char *base = strrchr(p->proc->maps[k].path, '/');

		if (base && !strncmp(base + 1, "libstdc++.so", 12)) {
			snprintf(p->cxx, sizeof(p->cxx), "%s",
				 p->proc->maps[k].path);
			break;
		}
	}
	if (!p->cxx[0])
		return 0;
	fd = proc__open_in_root(p->proc->dirfd, p->cxx);
	if (fd < 0)
		return 0;	/* not fatal: malloc still sees every block */
	if (elfsyms__find(fd, cxx_names, NCXX, offs) <= 0) {
		p->cxx[0] = 0;
		goto out;
	}
	/* The probes go on the file opened: the kernel resolves this path
	 * to it. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (i = 0; i < NCXX; i++) {
		if (!offs[i] || seen_offset(done, &nd, offs[i]) || h->sessions)
			continue;
		l = bpf_program__attach_uprobe(h->skel->progs.heap_cxx_new,
					       false, p->pid, path, offs[i]);
		if (!l) {
			r = -errno;
			goto out;
		}
		p->links[p->nlinks++] = l;
		l = bpf_program__attach_uprobe(h->skel->progs.heap_ret, true,
					       p->pid, path, offs[i]);
		if (!l) {
			r = -errno;
			goto out;
		}
		p->links[p->nlinks++] = l;
	}
	p->nfuncs += nd;
	if (h->sessions && nd) {
		uint64_t cookies[NCXX];
		int sfd;

		for (i = 0; i < nd; i++)
			cookies[i] = PROFD_HEAP_COOKIE(PROFD_HEAP_CXX_NEW,
						       p->flags, p->generation,
						       p->sample_bytes);
		sfd = session_link(bpf_program__fd(h->skel->progs.heap_session),
				   path, done, cookies, nd, p->pid);
		if (sfd < 0) {
			r = sfd;
			goto out;
		}
		p->session_fds[1] = sfd;
	}
out:
	close(fd);
	return r;
}

/* Probe the allocator's entry points, in its file at @path. */
static int attach_fns(struct heap_tracker *h, struct heap_proc *p,
		      const uint64_t offs[PROFD_HEAP_FN_MAX], const char *path,
		      struct bpf_program **entry, uint64_t *done, unsigned *pnd)
{
	struct bpf_link *l;
	unsigned nd = 0, i;

	if (h->sessions) {
		uint64_t so[PROFD_HEAP_FN_MAX], sc[PROFD_HEAP_FN_MAX];
		int fd;

		for (i = 0; i < PROFD_HEAP_FREE; i++) {
			if (!offs[i] || seen_offset(done, &nd, offs[i]))
				continue;
			so[nd - 1] = offs[i];
			sc[nd - 1] = PROFD_HEAP_COOKIE(i, p->flags,
						       p->generation,
						       p->sample_bytes);
		}
		fd = session_link(bpf_program__fd(h->skel->progs.heap_session),
				  path, so, sc, nd, p->pid);
		if (fd < 0)
			return fd;
		p->session_fds[0] = fd;
		l = bpf_program__attach_uprobe(entry[PROFD_HEAP_FREE], false,
					       p->pid, path,
					       offs[PROFD_HEAP_FREE]);
		if (!l)
			return -errno;
		p->links[p->nlinks++] = l;
		p->nfuncs = nd + 1;	/* + free */
		*pnd = nd;
		return 0;
	}
	for (i = 0; i < PROFD_HEAP_FN_MAX; i++) {
		if (!offs[i] || seen_offset(done, &nd, offs[i]))
			continue;
		l = bpf_program__attach_uprobe(entry[i], false, p->pid, path,
					       offs[i]);
		if (!l)
			return -errno;
		p->links[p->nlinks++] = l;
		if (i == PROFD_HEAP_FREE)
			continue;
		l = bpf_program__attach_uprobe(h->skel->progs.heap_ret, true,
					       p->pid, path, offs[i]);
		if (!l)
			return -errno;
		p->links[p->nlinks++] = l;
	}
	p->nfuncs = nd;
	*pnd = nd;
	return 0;
}

static int attach(struct heap_tracker *h, struct heap_proc *p,
		  const uint64_t offs[PROFD_HEAP_FN_MAX])
{
	struct bpf_program *entry[PROFD_HEAP_FN_MAX] = {
		h->skel->progs.heap_malloc, h->skel->progs.heap_calloc,
		h->skel->progs.heap_realloc, h->skel->progs.heap_reallocarray,
		h->skel->progs.heap_posix_memalign, h->skel->progs.heap_memalign,
		h->skel->progs.heap_memalign, h->skel->progs.heap_valloc,
		h->skel->progs.heap_valloc, h->skel->progs.heap_free,
	};
	char path[64];
	uint64_t done[PROFD_HEAP_FN_MAX];
	unsigned nd = 0;
	int fd, r;

	/* Through the process's root (its file, also in a container), the
	 * file opened here: the kernel resolves /proc/self/fd/N to it. */
	fd = proc__open_in_root(p->proc->dirfd, p->allocator);
	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = attach_fns(h, p, offs, path, entry, done, &nd);
	close(fd);
	if (r < 0)
		return r;
	return attach_cxx(h, p);
}

/*
 * jemalloc and tcmalloc define C++ operator new and delete themselves, and
 * do not go through their malloc and free there: such blocks are not seen
 * (in either mode). Profiles say so.
 */
static bool defines_new(struct heap_proc *p)
{
	static const char *const names[] = { "_Znwm" };
	const char *base = strrchr(p->allocator, '/');
	uint64_t off = 0;
	int fd;

	if (!base || !strncmp(base + 1, "libc.so", 7))
		return false;
	fd = proc__open_in_root(p->proc->dirfd, p->allocator);
	if (fd < 0)
		return false;
	(void)elfsyms__find(fd, names, 1, &off);
	close(fd);
	return off != 0;
}

/*
 * Leading frames profiles leave out. In-process mode takes stacks inside
 * the agent's wrapper, and for C++ inside operator new, which called
 * malloc: profiles start at the caller of new, as they do with uprobes
 * (which probe new itself). In uprobe mode, the agent's wrappers are on
 * the stack when a process still has its GOT pointed at them (a forked
 * child of a process tracked in-process, or profd was killed). Under lock.
 */
void heap__skip_frames(struct heap_proc *p)
{
	uint64_t lo, hi;
	const char *lib = NULL;
	unsigned i;
	size_t k;
	int fd;

	p->nskip = 0;
	for (k = 0; k < p->proc->nmaps; k++) {
		const struct proc_map *m = &p->proc->maps[k];
		const char *base = strrchr(m->path, '/');

		if (!base || strcmp(base + 1, PROFD_AGENT_LIB))
			continue;
		if (!p->nskip || m->start < p->skip[0].lo)
			p->skip[0].lo = m->start;
		if (!p->nskip || m->end > p->skip[0].hi)
			p->skip[0].hi = m->end;
		p->nskip = 1;
	}
	if (!p->inproc || !p->nskip)
		return;
	for (k = 0; k < p->proc->nmaps && !lib; k++) {
		const char *base = strrchr(p->proc->maps[k].path, '/');

		if (base && !strncmp(base + 1, "libstdc++.so", 12))
			lib = p->proc->maps[k].path;
	}
	if (!lib)
		return;
	fd = proc__open_in_root(p->proc->dirfd, lib);
	if (fd < 0)
		return;
	for (i = 0; i < NCXX && p->nskip < 9; i++) {
		if (elfsyms__span(fd, &cxx_names[i], 1, &lo, &hi) < 0)
			continue;
		p->skip[p->nskip].lo = proc__file_addr(p->proc, lib, lo);
		p->skip[p->nskip].hi = p->skip[p->nskip].lo + (hi - lo);
		if (p->skip[p->nskip].lo)
			p->nskip++;
	}
	close(fd);
}

/*
 * In-process mode, under lock: the uprobes on the agent's probe points,
 * attached by file before the agent is loaded (the kernel arms them when
 * the process maps it). The file is verified first (agent__verify()).
 */
static int attach_agent_probes(struct heap_tracker *h, struct heap_proc *p,
			       char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint64_t offs[2];
	struct bpf_link *l;
	int r;

	r = agent__probes(h->lim.agent_path, path, sizeof(path), offs, err,
			  errlen);
	if (r < 0)
		return r;
	l = bpf_program__attach_uprobe(h->skel->progs.heap_agent_alloc, false,
				       p->pid, path, offs[0]);
	if (!l)
		return -errno;
	p->links[p->nlinks++] = l;
	l = bpf_program__attach_uprobe(h->skel->progs.heap_free, false, p->pid,
				       path, offs[1]);
	if (!l)
		return -errno;
	p->links[p->nlinks++] = l;
	p->nfuncs = PROFD_HEAP_FN_MAX;
	return 0;
}

/*
 * @p's process ended or executed another program (@why: -ESRCH, -ESTALE):
 * keep the last snapshot of the image it tracked, and release it. Under
 * lock, after drain().
 */
static void retire(struct heap_tracker *h, struct heap_proc *p, int why,
		   uint64_t now)
{
	keep_final(h, p, now, why == -ESTALE ?
		   "the process executed another program: this is the heap the one it ran before held then" :
		   "the process exited: this is the heap it held at exit");
	release(h, p);
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

int heap__start(struct heap_tracker *h, pid_t pid, uid_t uid,
		uint64_t sample_bytes, unsigned flags,
		struct heap_start_info *ret, char *err, size_t errlen)
{
	struct heap_start_info info = {};
	uint64_t offs[PROFD_HEAP_FN_MAX] = {};
	const struct poisoned *pz;
	struct profd_heap_proc cfg;
	struct target t = TARGET_NONE;
	struct heap_proc *p;
	__u32 tgid = (__u32)pid;
	uid_t owner = 0;
	int r, cur;

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
	pthread_mutex_lock(&h->lock);
	p = heap__find(h, pid);
	cur = p ? target__current(&p->t) : 0;
	if (p && (cur < 0 || p->t.ids.start_time != t.ids.start_time ||
		  p->t.image != t.image)) {
		/* It ended (the pid was reused) or executed another
		 * program: the heap of what it ran is kept, as at exit. */
		pthread_mutex_unlock(&h->lock);
		drain(h);
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, pid);
		if (p && (cur = target__current(&p->t)) < 0)
			retire(h, p, cur, now_ns(CLOCK_MONOTONIC));
		else if (p)
			release(h, p);
		p = NULL;
	}
	if (p) {
		info.already = true;
		goto done;
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
	r = load(h);
	if (r < 0)
		goto out;
	r = start_reader(h);
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
	p->session_fds[0] = p->session_fds[1] = -1;
	p->t = t;
	t = TARGET_NONE;	/* p's now */
	finals__expire(h, pid, now_ns(CLOCK_MONOTONIC));	/* pid reused */
	p->generation = h->next_gen++;
	p->sample_bytes = sample_bytes ? sample_bytes : h->lim.default_sample_bytes;
	if (p->sample_bytes > PROFD_HEAP_MAX_SAMPLE_BYTES)
		p->sample_bytes = PROFD_HEAP_MAX_SAMPLE_BYTES;	/* cookie */
	p->flags = (flags & HEAP_FP_ONLY) ? 0 : PROFD_HEAP_F_DWARF;
	{
		__u32 zero = 0;
		__u64 next = 0;

		/* Events of an earlier tracking period of this pid may still
		 * be queued: only ids from here on are this period's. */
		(void)bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.event_ids),
					  &zero, &next);
		p->first_id = next + 1;
	}
	p->started_ns = p->last_pull_ns = now_ns(CLOCK_MONOTONIC);
	p->started_wall_ns = (int64_t)now_ns(CLOCK_REALTIME);
	r = proc__new_at(h->sym, pid, p->t.ref.dirfd, &p->proc);
	/* Its mappings are of the image checked? (proc.h) */
	if (r == 0 && target__current(&p->t) < 0)
		r = -EAGAIN;
	if (r < 0) {
		proc__free(p->proc);
		target__release(&p->t);
		free(p);
		goto out;
	}
	p->proc->image = p->t.image;
	/* No mappings: its main thread has exited (the others may run on,
	 * but /proc/PID/maps is then empty), or it is exiting. */
	r = p->proc->nmaps ? choose_allocator(p->proc, p->allocator,
					      sizeof(p->allocator), offs) : -ENODATA;
	if (r < 0) {
		proc__free(p->proc);
		target__release(&p->t);
		free(p);
		goto out;
	}
	heap__skip_frames(p);	/* an agent left in the process (uprobe mode) */
	p->own_new = defines_new(p);
	read_errors(h, p->errors_at_start);
	p->next = h->procs;
	h->procs = p;
	h->nprocs++;
	memset(&cfg, 0, sizeof(cfg));
	cfg.sample_bytes = p->sample_bytes;
	cfg.flags = p->flags;
	cfg.epoch = (__u32)p->generation & PROFD_HEAP_EPOCH_MASK;
	cfg.image = p->t.image;
	if (bpf_map_update_elem(bpf_map__fd(h->skel->maps.heap_procs), &tgid,
				&cfg, BPF_ANY) < 0) {
		r = -errno;
		release(h, p);
		goto out;
	}
	p->inproc = flags & HEAP_INPROC;
	if (p->inproc)
		r = attach_agent_probes(h, p, err, errlen);
	else
		r = attach(h, p, offs);
	/* The probes went on by pid: still the process, and the image? */
	if (r == 0 && target__current(&p->t) < 0)
		r = -EAGAIN;
	if (r < 0) {
		release(h, p);
		goto out;
	}
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
			release(h, p);
			goto out;
		}
	}
done:
	/* A caller besides the one who started it: checked against the
	 * image tracked (bound above to the image running now, the same). */
	snprintf(info.allocator, sizeof(info.allocator), "%s", p->allocator);
	info.sample_bytes = p->sample_bytes;
	info.probes = p->nlinks + (p->session_fds[0] >= 0) + (p->session_fds[1] >= 0);
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
	if (r == 0 && ret)
		*ret = info;
	return r;
}

/*
 * Stop tracking @pid; for a one-off pull (@pull) of period @gen, only when
 * it is the last pull and no start keeps it: 2 then when it goes on.
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
			r = 2;	/* goes on */
			p = NULL;
		}
	}
	if (p) {
		a = p->agent;	/* switched off here, not by the agent thread */
		p->agent = NULL;
		release(h, p);
		r = 0;
	}
	pthread_mutex_unlock(&h->lock);
	/*
	 * Stopped means the GOT is back. Calls into other processes may hold
	 * the agents for seconds: past STOP_WAIT_MS, the agent thread
	 * switches this one off when they are done.
	 */
	if (a && heap_agents__lock_within(h, STOP_WAIT_MS) == 0) {
		if (heap_agents__switch_off(h, a) < 0)
			r = 1;
		pthread_mutex_unlock(&h->agent_lock);
	} else if (a) {
		pthread_mutex_lock(&h->lock);
		a->next = h->offq;
		h->offq = a;
		pthread_cond_signal(&h->agent_wake);
		pthread_mutex_unlock(&h->lock);
		r = 1;
	}
	if (r == 0 || r == 1)
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
	if (r == 2) {
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, pid);
		kept = p && p->kept;
		pthread_mutex_unlock(&h->lock);
		return kept ? HEAP_PULL_KEPT : HEAP_PULL_OTHERS;
	}
	return r == 0 ? HEAP_PULL_STOPPED :
	       r == 1 ? HEAP_PULL_STOPPED_AGENT_ON : HEAP_PULL_ENDED;
}

static bool has_final(struct heap_tracker *h, pid_t pid, uint64_t gen);

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
	else if (has_final(h, pid, gen) || proc__read_ids(pid, &(struct proc_ids){}) < 0)
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
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		int timeout_ms;

		r = still_tracked(h, pid, generation);
		if (r < 0 || now >= end)
			break;
		timeout_ms = (int)((end - now) / 1000000) + 1;
		if (timeout_ms > 100)
			timeout_ms = 100;
		if (conn_fd >= 0) {
			struct pollfd pfd = { .fd = conn_fd, .events = POLLRDHUP };

			if (poll(&pfd, 1, timeout_ms) > 0 &&
			    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
				r = -ECONNRESET;
				break;
			}
		} else {
			usleep((useconds_t)timeout_ms * 1000);
		}
	}
	__atomic_fetch_sub(&h->waiters, 1, __ATOMIC_RELEASE);
	return r;
}

void heap__wait_idle(struct heap_tracker *h, unsigned timeout_ms)
{
	unsigned waited = 0;

	while (__atomic_load_n(&h->waiters, __ATOMIC_ACQUIRE) &&
	       waited < timeout_ms) {
		usleep(20 * 1000);
		waited += 20;
	}
	/* The answer is being sent: give the connection thread a moment. */
	if (waited)
		usleep(100 * 1000);
}

struct rec {
	uint32_t dw;			/* DWARF stack index + 1, DW_UNKNOWN, or 0 */
	__u64 stack_hash;
	__u64 caller;
	int64_t alloc_n, alloc_b, inuse_n, inuse_b;
};

static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->dw != y->dw)
		return x->dw < y->dw ? -1 : 1;
	if (x->stack_hash != y->stack_hash)
		return x->stack_hash < y->stack_hash ? -1 : 1;
	return x->caller < y->caller ? -1 : x->caller > y->caller;
}

static int push(struct rec **v, size_t *n, size_t *cap, const struct rec *r)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 1024;
		struct rec *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = *r;
	return 0;
}

/*
 * Read the live and allocs tables for @tgid into one record per stack.
 * One pass over each table: the live table holds at most max_live entries
 * (each a get_next_key and a lookup syscall). Under lock.
 */
/* Live blocks of one process, read from the live table. */
struct live_set {
	struct profd_heap_live_val *v;
	size_t n;
};

/*
 * Read @tgid's live blocks. Needs no lock (the maps live as long as the
 * tracker): a full table is two syscalls per entry, ~0.5 s, which the
 * stack reader should not wait out.
 */
static int read_live(struct heap_tracker *h, __u32 tgid, struct live_set *ret)
{
	int lfd = bpf_map__fd(h->skel->maps.live);
	struct profd_heap_live_key lk, lnk;
	struct profd_heap_live_val lv, *nv;
	size_t cap = 0;
	bool have = false;

	memset(ret, 0, sizeof(*ret));
	while (bpf_map_get_next_key(lfd, have ? &lk : NULL, &lnk) == 0) {
		lk = lnk;
		have = true;
		if (lk.tgid != tgid || bpf_map_lookup_elem(lfd, &lk, &lv) < 0)
			continue;
		if (ret->n == cap) {
			cap = cap ? cap * 2 : 1024;
			nv = realloc(ret->v, cap * sizeof(*nv));
			if (!nv) {
				free(ret->v);
				ret->v = NULL;
				return -ENOMEM;
			}
			ret->v = nv;
		}
		ret->v[ret->n++] = lv;
	}
	return 0;
}

/* Prune @p's event ids against its live blocks @ls. Under lock. */
static int prune_live(struct heap_proc *p, const struct live_set *ls)
{
	uint64_t *ids;
	size_t i, n = 0;

	ids = malloc((ls->n ? ls->n : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < ls->n; i++)
		if (ls->v[i].stack.kind == PROFD_HEAP_STACK_DWARF)
			ids[n++] = ls->v[i].stack.stack_hash;
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_u64);
	prune_ids(p, ids, n);
	free(ids);
	return 0;
}

/* @pre: @p's live blocks read beforehand, or NULL to read them here. */
static int collect(struct heap_tracker *h, struct heap_proc *p,
		   const struct live_set *pre, struct rec **ret, size_t *ret_n)
{
	__u32 tgid = (__u32)p->pid;
	uint32_t idx;
	size_t li;
	int afd = bpf_map__fd(h->skel->maps.allocs);
	struct profd_heap_live_val lv;
	struct profd_heap_stack ak, ank;
	struct profd_heap_allocs_val av;
	struct live_set own = {};
	struct rec *v = NULL, r;
	size_t n = 0, cap = 0, i, out;
	bool have = false;

	p->snap_inflight = 0;
	if (!pre) {
		if (read_live(h, tgid, &own) < 0)
			return -ENOMEM;
		pre = &own;
	}
	for (li = 0; li < pre->n; li++) {
		lv = pre->v[li];
		memset(&r, 0, sizeof(r));
		if (lv.stack.kind == PROFD_HEAP_STACK_DWARF) {
			/* Its event was processed (drained before this):
			 * the id names an unwound stack. An id newer than
			 * every event drained is an allocation made while
			 * this snapshot is taken: left for the next one. */
			idx = idtab__get(&p->ids, lv.stack.stack_hash);
			if (!idx && lv.stack.stack_hash > p->max_id) {
				p->snap_inflight++;
				continue;
			}
			r.dw = idx && idx <= p->nstacks ? (uint32_t)idx :
							  DW_UNKNOWN;
		} else {
			r.stack_hash = lv.stack.stack_hash;
			r.caller = lv.stack.caller;
		}
		r.inuse_n = 1;
		r.inuse_b = (int64_t)lv.size;
		if (push(&v, &n, &cap, &r) < 0)
			goto nomem;
	}
	have = false;
	while (bpf_map_get_next_key(afd, have ? &ak : NULL, &ank) == 0) {
		ak = ank;
		have = true;
		if (ak.tgid != tgid || bpf_map_lookup_elem(afd, &ak, &av) < 0)
			continue;
		memset(&r, 0, sizeof(r));
		r.stack_hash = ak.stack_hash;
		r.caller = ak.caller;
		r.alloc_n = (int64_t)av.count;
		r.alloc_b = (int64_t)av.bytes;
		if (push(&v, &n, &cap, &r) < 0)
			goto nomem;
	}
	for (i = 0; i < p->nstacks; i++) {
		if (!p->stacks[i].alloc_n)
			continue;
		memset(&r, 0, sizeof(r));
		r.dw = (uint32_t)i + 1;
		r.alloc_n = p->stacks[i].alloc_n;
		r.alloc_b = p->stacks[i].alloc_b;
		if (push(&v, &n, &cap, &r) < 0)
			goto nomem;
	}
	if ((p->flags & PROFD_HEAP_F_DWARF) && prune_live(p, pre) < 0)
		goto nomem;
	free(own.v);
	if (n)
		qsort(v, n, sizeof(*v), cmp_rec);
	for (i = 0, out = 0; i < n; i++) {
		if (out && !cmp_rec(&v[out - 1], &v[i])) {
			v[out - 1].alloc_n += v[i].alloc_n;
			v[out - 1].alloc_b += v[i].alloc_b;
			v[out - 1].inuse_n += v[i].inuse_n;
			v[out - 1].inuse_b += v[i].inuse_b;
		} else {
			v[out++] = v[i];
		}
	}
	*ret = v;
	*ret_n = out;
	return 0;
nomem:
	free(own.v);
	free(v);
	return -ENOMEM;
}

/* Build @p's snapshot. Under lock, after drain(). @note: an extra
 * comment, or NULL. */
static int snapshot_locked(struct heap_tracker *h, struct heap_proc *p,
			   const struct live_set *pre, bool allocs_default,
			   const char *note, void **ret_buf, size_t *ret_len)
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
	struct rec *v = NULL;
	size_t n = 0, i, nc = 0;
	uint64_t lost = 0, trunc = 0;
	int sfd, r;

	r = collect(h, p, pre, &v, &n);
	if (r < 0)
		goto out;
	e = calloc(n ? n : 1, sizeof(*e));
	ips = calloc((n ? n : 1) * (PROFD_MAX_USER_FRAMES + 1), sizeof(*ips));
	if (!e || !ips) {
		r = -ENOMEM;
		goto out;
	}
	sfd = bpf_map__fd(h->skel->maps.stacks);
	for (i = 0; i < n; i++) {
		uint64_t *s = ips + i * (PROFD_MAX_USER_FRAMES + 1);
		struct profd_heap_frames fr;
		unsigned k = 0, j;

		if (v[i].dw == DW_UNKNOWN) {
			lost += (uint64_t)v[i].inuse_n;	/* shown as [unknown] */
		} else if (v[i].dw) {
			const struct hstack *st = &p->stacks[v[i].dw - 1];

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
		 * less leading frames of the agent (heap__skip_frames()). */
		if (v[i].caller && !skipped(p, v[i].caller))
			s[k++] = v[i].caller;
		if (v[i].stack_hash &&
		    bpf_map_lookup_elem(sfd, &v[i].stack_hash, &fr) == 0) {
			for (j = 1; j < fr.n && j < PROFD_MAX_USER_FRAMES; j++)
				if (k || !skipped(p, fr.ips[j]))
					s[k++] = fr.ips[j];
		}
		e[i].ips = s;
		e[i].n = k;
		e[i].alloc_objects = v[i].alloc_n;
		e[i].alloc_bytes = v[i].alloc_b;
		e[i].inuse_objects = v[i].inuse_n;
		e[i].inuse_bytes = v[i].inuse_b;
	}
	read_errors(h, errs);
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
	if (p->agent && p->agent->errors)
		snprintf(comments[nc++], sizeof(comments[0]),
			 "in-process mode: %ld GOT entries could not be "
			 "redirected (their page could not be made writable): "
			 "calls through them are not seen", p->agent->errors);
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
	if (p->snap_inflight)
		snprintf(comments[nc++], sizeof(comments[0]),
			 "%" PRIu64 " blocks allocated while this snapshot was "
			 "taken are left for the next one", p->snap_inflight);
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

static void final__free(struct heap_final *f)
{
	free(f->buf[0]);
	free(f->buf[1]);
	free(f);
}

/* Drop finals of @pid (a new process has the pid), and those past the
 * idle timeout. Under lock. */
static void finals__expire(struct heap_tracker *h, pid_t pid, uint64_t now)
{
	struct heap_final **pp = &h->finals, *f;

	while ((f = *pp)) {
		if (f->pid == pid ||
		    now - f->exited_ns > h->lim.idle_timeout_ns) {
			*pp = f->next;
			final__free(f);
			h->nfinals--;
		} else {
			pp = &f->next;
		}
	}
}

static bool has_final(struct heap_tracker *h, pid_t pid, uint64_t gen)
{
	struct heap_final *f;

	for (f = h->finals; f; f = f->next)
		if (f->pid == pid && f->generation == gen)
			return true;
	return false;
}

/*
 * @p's process exited, or executed another program: keep the last
 * snapshot of the image tracked (the heap it held at exit, what a leak
 * hunt wants) for pulls until the idle timeout, by those who may see that
 * image. Both views are built now, while the maps still hold the data;
 * @why says what happened. Under lock, after drain().
 */
static void keep_final(struct heap_tracker *h, struct heap_proc *p,
		       uint64_t now, const char *why)
{
	struct heap_final *f, **pp;
	char note[200];
	int k;

	f = calloc(1, sizeof(*f));
	if (!f)
		return;
	f->pid = p->pid;
	f->ids = p->t.ids;
	f->generation = p->generation;
	f->exited_ns = now;
	snprintf(note, sizeof(note), "%s (tracking period %" PRIu64 ")", why,
		 p->generation);
	for (k = 0; k < 2; k++) {
		if (snapshot_locked(h, p, NULL, k == 1, note, &f->buf[k],
				    &f->len[k]) < 0) {
			final__free(f);
			return;
		}
	}
	finals__expire(h, p->pid, now);
	/* Bounded like tracked processes: the oldest goes. */
	while (h->nfinals >= h->lim.max_procs && h->finals) {
		for (pp = &h->finals; (*pp)->next; pp = &(*pp)->next)
			;
		final__free(*pp);
		*pp = NULL;
		h->nfinals--;
	}
	f->next = h->finals;
	h->finals = f;
	h->nfinals++;
}

int heap__final_check(struct heap_tracker *h, pid_t pid, uid_t uid)
{
	struct heap_final *f;
	struct heap_proc *p;
	int r = -ENOENT, cur = 0;

	/*
	 * Exited (or executed another program), still tracked: heap__gc()
	 * (once a second) has not kept its last snapshot yet. Keep it now,
	 * so that a pull just after the exit gets it rather than a 404.
	 */
	pthread_mutex_lock(&h->lock);
	p = heap__find(h, pid);
	if (p)
		cur = target__current(&p->t);
	pthread_mutex_unlock(&h->lock);
	if (cur < 0) {
		drain(h);	/* its queued stack events first */
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, pid);
		if (p && (cur = target__current(&p->t)) < 0)
			retire(h, p, cur, now_ns(CLOCK_MONOTONIC));
		pthread_mutex_unlock(&h->lock);
	}
	/* Whoever may see the image it was of (when it was checked). */
	pthread_mutex_lock(&h->lock);
	for (f = h->finals; f; f = f->next) {
		if (f->pid != pid)
			continue;
		r = access__check_image(uid, &f->ids, NULL) < 0 ? -EACCES : 0;
		break;
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

int heap__snapshot(struct heap_tracker *h, pid_t pid, bool allocs_default,
		   void **ret_buf, size_t *ret_len)
{
	struct heap_final *f;
	struct heap_proc *p;
	int r = -ENOENT, cur;

	struct live_set live = {};
	bool have_live = false;
	uint64_t gen = 0;

	drain(h);	/* stacks of allocations made up to now */
	pthread_mutex_lock(&h->lock);
	p = heap__find(h, pid);
	if (p)
		gen = p->generation;
	pthread_mutex_unlock(&h->lock);
	/* p exists, so the BPF object is loaded (and stays). */
	if (gen && read_live(h, (__u32)pid, &live) == 0)
		have_live = true;

	pthread_mutex_lock(&h->lock);
	p = heap__find(h, pid);
	if (p) {
		/* What BPF recorded is of the image tracked only; the
		 * mappings too (proc.h). */
		cur = target__current(&p->t);
		p->last_pull_ns = now_ns(CLOCK_MONOTONIC);
		/* Tracking restarted meanwhile: read again, under lock. */
		r = snapshot_locked(h, p,
				    have_live && p->generation == gen ? &live : NULL,
				    allocs_default,
				    cur == -ESTALE ? "the process executed another program: this is the heap the one it ran before held then" :
				    cur < 0 ? "the process exited: this is the heap it held at exit" :
					      NULL,
				    ret_buf, ret_len);
		goto out;
	}
	for (f = h->finals; f; f = f->next) {
		if (f->pid != pid)
			continue;
		*ret_buf = malloc(f->len[allocs_default]);
		if (!*ret_buf) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(*ret_buf, f->buf[allocs_default], f->len[allocs_default]);
		*ret_len = f->len[allocs_default];
		r = 0;
		break;
	}
out:
	pthread_mutex_unlock(&h->lock);
	free(live.v);
	return r;
}


void heap__gc(struct heap_tracker *h)
{
	struct heap_proc *p, *next;
	unsigned released = 0;
	bool exited = false;
	uint64_t now, prune_gen = 0;
	struct live_set live;
	pid_t prune_pid = 0;
	int cur;

	/* Exited processes keep a last snapshot: first make sure their
	 * queued stack events are in (drain() takes the lock itself). */
	pthread_mutex_lock(&h->lock);
	for (p = h->procs; p && !exited; p = p->next)
		exited = target__current(&p->t) < 0;
	pthread_mutex_unlock(&h->lock);
	if (exited)
		drain(h);

	pthread_mutex_lock(&h->lock);
	/* Read the clock under the lock: a start or pull that held it set
	 * last_pull_ns after any earlier reading. */
	now = now_ns(CLOCK_MONOTONIC);
	finals__expire(h, 0, now);
	for (p = h->procs; p; p = next) {
		next = p->next;
		/*
		 * Ended, or executed another program: its tracking ends
		 * with the image it was of (BPF recorded nothing since).
		 * An agent went with that image: dropped, never called.
		 */
		cur = target__current(&p->t);
		if (cur < 0) {
			retire(h, p, cur, now);
			released++;
		} else if (now > p->last_pull_ns &&
			   now - p->last_pull_ns > h->lim.idle_timeout_ns) {
			release(h, p);
			released++;
		} else if (!prune_pid && p->ids.n > 2 * p->nids_kept + 65536) {
			prune_pid = p->pid;	/* amortised: the list doubled */
			prune_gen = p->generation;
		}
	}
	/*
	 * In-process mode: libraries loaded since the agent last redirected
	 * call malloc through GOT entries it has not seen. The agent thread
	 * has it redirect them (a call, as for on and off). Once a second:
	 * a read of /proc/PID/maps per such process.
	 */
	for (p = h->procs; p; p = p->next) {
		if (!p->agent || p->starting)
			continue;
		(void)proc__refresh(p->proc, h->sym, now, 900000000ULL);
		if (p->proc->nmaps > p->rescan_nmaps && !p->want_rescan) {
			p->want_rescan = true;
			pthread_cond_signal(&h->agent_wake);
		}
	}
	pthread_mutex_unlock(&h->lock);
	/*
	 * Event ids of blocks since freed, pruned against the live table,
	 * read outside the lock. Ids processed meanwhile are newer than the
	 * last prune's mark, so prune_ids() keeps them.
	 */
	if (prune_pid && read_live(h, (__u32)prune_pid, &live) == 0) {
		pthread_mutex_lock(&h->lock);
		p = heap__find(h, prune_pid);
		if (p && p->generation == prune_gen)
			(void)prune_live(p, &live);
		pthread_mutex_unlock(&h->lock);
		free(live.v);
	}
	/* A tracked process's stacks and event ids were allocated by the
	 * reader thread, in its own malloc arena, which glibc does not trim
	 * by itself: hand the freed memory back. */
	if (released)
		malloc_trim(0);
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
	read_errors(h, errs);
	for (i = 0; i < PROFD_HEAP_ERR_MAX && i < 8; i++)
		ret->errors[i] = errs[i];
	ret->dw_events = h->dw_events;
	ret->dw_truncated = h->dw_truncated;
	ret->dw_failed = h->dw_failed;
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
		json__u64(j, "probes", p->nlinks + (p->session_fds[0] >= 0) +
					       (p->session_fds[1] >= 0));
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
	pthread_mutex_unlock(&h->lock);
	if (h->reader_started) {
		pthread_join(h->reader, NULL);
		ring_buffer__free(h->rb);
	}
	if (h->agent_thread_started)
		pthread_join(h->agent_thread, NULL);
	pthread_mutex_lock(&h->lock);
	while (h->procs)
		release(h, h->procs);
	pthread_mutex_unlock(&h->lock);
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
	while (h->finals) {
		struct heap_final *f = h->finals;

		h->finals = f->next;
		final__free(f);
	}
	pthread_mutex_unlock(&h->lock);
	heap_bpf__destroy(h->skel);
	pthread_cond_destroy(&h->agent_wake);
	pthread_mutex_destroy(&h->agent_lock);
	pthread_mutex_destroy(&h->rb_lock);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
