// SPDX-License-Identifier: GPL-2.0
/*
 * threads: a snapshot's threads read. The sleepable BPF task iterator
 * (bpf/threads.bpf.c) run over a process, its output read as a stream
 * and each thread's record unwound as it comes, within THREADS_MEM_MAX;
 * further passes for the threads whose walk ran out of the first copy.
 * What is shown of them (pprof, text) is threads_profile.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "aggregate.h"
#include "pidns.h"
#include "proc.h"
#include "profd_wait.h"
#include "profile.h"
#include "strtab.h"
#include "target.h"
#include "threads.h"
#include "threads.skel.h"
#include "threads_int.h"
#include "unwind.h"

_Static_assert(sizeof(struct profd_thread) == 184 + 8 * PROFD_MAX_KERNEL_FRAMES,
	       "profd_thread layout");

/*
 * The iterator's output is read READ_CHUNK bytes at a time and each
 * thread's record unwound as it comes (its stack copy, up to 28 KiB, is
 * not kept): what a snapshot holds grows with its threads' unwound
 * stacks only, bounded by THREADS_MEM_MAX (threads.h).
 */
#define READ_CHUNK ((size_t)1 << 20)
_Static_assert(READ_CHUNK >= 2 * (sizeof(struct profd_thread) +
				  2 * PROFD_THREAD_STACK_PAGES * 4096),
	       "a chunk holds a whole record");

int threads__new(struct proc_cache *pc, struct execwatch *w,
		 uint32_t pidns_inum, struct threads **ret)
{
	struct threads *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->pc = pc;
	t->sym = proc_cache__symbolizer(pc);
	t->w = w;
	t->pidns_inum = pidns_inum;
	*ret = t;
	return 0;
}

void threads__free(struct threads *t)
{
	if (!t)
		return;
	threads_bpf__destroy(t->skel);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Under t->lock. */
static int load(struct threads *t)
{
	int r;

	if (t->skel)
		return 0;
	t->skel = threads_bpf__open();
	if (!t->skel)
		return -errno;
	t->skel->rodata->pidns_inum = t->pidns_inum;
	if (!t->pidns_inum) {
		r = bpf_program__set_autoload(t->skel->progs.profd_pidns_probe,
					      false);
		if (r < 0)
			goto fail;
	}
	r = threads_bpf__load(t->skel);
	if (r < 0)
		goto fail;
	if (t->pidns_inum) {
		r = pidns__probe(bpf_program__fd(t->skel->progs.profd_pidns_probe));
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	threads_bpf__destroy(t->skel);
	t->skel = NULL;
	return r;
}

/* The next whole record of the iterator's output @fd (@buf: READ_CHUNK
 * bytes, *@len of them read, from *@off on not yet taken): its header in
 * *@h, its bytes after the header in *@rest, valid until the next call.
 * 1; 0 at the end (a record cut short there is dropped); -EBADMSG for a
 * record that is not one (the rest is not read); -errno. */
static int next_record(int fd, uint8_t *buf, size_t *len, size_t *off,
		       bool *eof, struct profd_thread *h, const uint8_t **rest)
{
	size_t avail, need;
	ssize_t n;

	for (;;) {
		avail = *len - *off;
		if (avail >= sizeof(*h)) {
			memcpy(h, buf + *off, sizeof(*h));
			if (h->magic != PROFD_THREAD_MAGIC ||
			    h->stack_skip >= 4096 ||
			    h->stack_len > PROFD_THREAD_STACK_PAGES * 4096)
				return -EBADMSG;
			need = sizeof(*h) + h->stack_skip + h->stack_len;
			if (avail >= need) {
				*rest = buf + *off + sizeof(*h);
				*off += need;
				return 1;
			}
		}
		if (*eof)
			return 0;
		/* Keep the part of a record read so far; read on. */
		memmove(buf, buf + *off, avail);
		*len = avail;
		*off = 0;
		n = read(fd, buf + *len, READ_CHUNK - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			*eof = true;
		*len += (size_t)n;
	}
}

typedef int (*record_cb)(void *ctx, const struct profd_thread *h,
			 const uint8_t *rest);

/*
 * Run the iterator over @pid's threads and give each record to @cb as it
 * is read (READ_CHUNK bytes of buffer, whatever the thread count). A
 * non-zero return of @cb ends it (and is returned). Under t->lock.
 */
static int iterate(struct threads *t, pid_t pid, record_cb cb, void *ctx)
{
	DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info li = {};
	const uint8_t *rest = NULL;
	struct profd_thread h;
	struct bpf_link *link;
	size_t len = 0, off = 0;
	uint8_t *buf = NULL;
	bool eof = false;
	int fd = -1, r = 0;

	li.task.pid = (uint32_t)pid;
	opts.link_info = &li;
	opts.link_info_len = sizeof(li);
	link = bpf_program__attach_iter(t->skel->progs.profd_threads, &opts);
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	buf = malloc(READ_CHUNK);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while ((r = next_record(fd, buf, &len, &off, &eof, &h, &rest)) == 1) {
		r = cb(ctx, &h, rest);
		if (r)
			break;
	}
	/* A record that is not one ends the output, as the end does. */
	if (r == -EBADMSG)
		r = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	return r;
}

/* State letter and wchan of thread @tid, from /proc/PID/task/TID. */
static void proc_state(int dirfd, uint32_t tid, struct thread *th)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	th->state = '?';
	snprintf(path, sizeof(path), "task/%u/stat", tid);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2])
				th->state = p[2];
		}
	}
	snprintf(path, sizeof(path), "task/%u/wchan", tid);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	th->wchan[0] = 0;
	if (fd >= 0) {
		n = read(fd, th->wchan, sizeof(th->wchan) - 1);
		close(fd);
		th->wchan[n > 0 ? n : 0] = 0;
		if (!strcmp(th->wchan, "0"))
			th->wchan[0] = 0;
	}
}

static void thread_hash(struct thread *th)
{
	unsigned k;

	th->hash = hash__u64(th->flags, 0);
	for (k = 0; k < th->n; k++)
		th->hash = hash__u64(th->ips[k], th->hash);
}

/* @th's walk from @k frames in @scratch (@trunc: cut short). */
static void thread_frames(struct thread *th, const uint64_t *scratch, int k,
			  bool trunc)
{
	uint64_t *ips;

	if (k <= 0)
		return;
	ips = malloc((size_t)k * sizeof(uint64_t));
	if (!ips)
		return;
	memcpy(ips, scratch, (size_t)k * sizeof(uint64_t));
	free(th->ips);
	th->ips = ips;
	th->n = (unsigned)k;
	th->unreadable = false;
	th->flags &= ~(AGG_F_USER_ERR | AGG_F_USER_TRUNC);
	if (trunc)
		th->flags |= AGG_F_USER_TRUNC;
	thread_hash(th);
}

/* Room for one more thread in @sn, within the bound. */
static bool snap_room(struct snap *sn)
{
	struct thread *nt;
	size_t nc;

	if (sn->n < sn->cap)
		return true;
	nc = sn->cap ? sn->cap * 2 : 64;
	if (sn->mem + (nc - sn->cap) * sizeof(*nt) > THREADS_MEM_MAX)
		return false;
	nt = realloc(sn->ths, nc * sizeof(*nt));
	if (!nt)
		return false;
	sn->mem += (nc - sn->cap) * sizeof(*nt);
	sn->ths = nt;
	sn->cap = nc;
	return true;
}

/* One thread's record (iterate()'s callback): unwind it into @ctx's
 * snap. Past the bound it is counted, not unwound. */
static int parse_one(void *ctx, const struct profd_thread *hp,
		     const uint8_t *stack)
{
	struct snap *sn = ctx;
	struct profd_thread h = *hp;
	struct thread *th;
	bool trunc = false;
	int k;

	/* A later pass's record (threads__deepen()): not the first's. */
	if (h.page_from)
		return -EBADMSG;
	if (sn->mem + (UNWIND_MAX_FRAMES + PROFD_MAX_KERNEL_FRAMES) *
	    sizeof(uint64_t) > THREADS_MEM_MAX || !snap_room(sn)) {
		sn->unread++;
		return 0;
	}
	th = &sn->ths[sn->n];
	memset(th, 0, sizeof(*th));
	th->tid = h.tid;
	memcpy(th->comm, h.comm, sizeof(th->comm));
	th->comm[sizeof(th->comm) - 1] = 0;
	th->running = h.flags & PROFD_THREAD_F_RUNNING;
	proc_state(sn->dirfd, h.tid, th);
	if (h.stack_len) {
		/* A snapshot is rare: the maps read whenever it needs them. */
		k = unwind__fresh(sn->p, sn->sym, 0, 0,
				  (const uint64_t *)h.regs,
				  stack + h.stack_skip, h.stack_len,
				  sn->scratch, UNWIND_MAX_FRAMES, &trunc, NULL);
	} else {
		k = 0;
	}
	if (k <= 0) {
		th->unreadable = true;
		th->flags = AGG_F_USER_ERR;
	} else {
		th->ips = malloc((size_t)k * sizeof(uint64_t));
		if (!th->ips) {
			th->unreadable = true;
			th->flags = AGG_F_USER_ERR;
		} else {
			memcpy(th->ips, sn->scratch, (size_t)k * sizeof(uint64_t));
			th->n = (unsigned)k;
			sn->mem += (size_t)k * sizeof(uint64_t);
			if (trunc)
				th->flags |= AGG_F_USER_TRUNC;
		}
	}
	if (h.n_kernel && h.n_kernel <= PROFD_MAX_KERNEL_FRAMES) {
		th->kips = malloc(h.n_kernel * sizeof(uint64_t));
		if (th->kips) {
			memcpy(th->kips, h.kernel_ips,
			       h.n_kernel * sizeof(uint64_t));
			th->nk = h.n_kernel;
			sn->mem += h.n_kernel * sizeof(uint64_t);
		}
	}
	thread_hash(th);
	/* Cut where the copy ends, asleep: read on later (PROFD_THREAD_DEEP
	 * threads at most: 84 KiB each, besides the bound). */
	if (trunc && !th->running && sn->ndeep < PROFD_THREAD_DEEP &&
	    h.stack_skip + h.stack_len == PROFD_THREAD_STACK_PAGES * 4096) {
		th->deep = malloc(PROFD_THREAD_STACK_MAX_PAGES * 4096);
		if (th->deep) {
			memcpy(th->deep, stack + h.stack_skip, h.stack_len);
			th->deep_len = h.stack_len;
			memcpy(th->regs, h.regs, sizeof(th->regs));
			sn->ndeep++;
		}
	}
	sn->n++;
	return 0;
}

/* Read and unwind every thread of @pid into @sn (@sn->p, dirfd, sym and
 * scratch set). Takes t->lock. 0 or -errno. */
int threads__collect(struct threads *t, pid_t pid, struct snap *sn)
{
	int r;

	pthread_mutex_lock(&t->lock);
	r = load(t);
	if (r == 0)
		r = iterate(t, pid, parse_one, sn);
	pthread_mutex_unlock(&t->lock);
	if (r == -EBADMSG)
		r = 0;
	return r == -EACCES ? -EPERM : r;
}

void threads__free_snap(struct snap *sn)
{
	size_t i;

	for (i = 0; sn->ths && i < sn->n; i++) {
		free(sn->ths[i].ips);
		free(sn->ths[i].kips);
		free(sn->ths[i].deep);
	}
	free(sn->ths);
	free(sn->scratch);
}

/*
 * Threads whose walk ran out of the first copy (th->deep): run the
 * iterator again for just them, PROFD_THREAD_STACK_PAGES further up each
 * time, and walk the longer copy, up to PROFD_THREAD_STACK_MAX_PAGES. A
 * thread asleep does not touch its stack, so the pages join; one whose
 * sp or pc moved in between ran, and keeps what it had. Costs an
 * iterator pass (~the first one's per thread read) per 28 KiB, for
 * PROFD_THREAD_DEEP threads at most.
 */
struct deepen_ctx {
	struct snap *sn;
	uint32_t from;
};

/* A further pass's record (iterate()'s callback). */
static int deepen_one(void *ctx, const struct profd_thread *hp,
		      const uint8_t *rest)
{
	struct deepen_ctx *dc = ctx;
	struct snap *sn = dc->sn;
	struct thread *th = NULL;
	bool trunc = false;
	size_t i, room;
	int k;

	if (hp->page_from != dc->from || hp->stack_skip)
		return -EBADMSG;
	for (i = 0; i < sn->n && !th; i++)
		if (sn->ths[i].deep && sn->ths[i].tid == hp->tid)
			th = &sn->ths[i];
	room = th ? PROFD_THREAD_STACK_MAX_PAGES * 4096 - th->deep_len : 0;
	if (th && hp->regs[7] == th->regs[7] && hp->regs[16] == th->regs[16] &&
	    th->deep_len + (th->regs[7] & 4095) == (size_t)dc->from * 4096 &&
	    hp->stack_len <= room) {
		memcpy(th->deep + th->deep_len, rest, hp->stack_len);
		th->deep_len += hp->stack_len;
		k = unwind__fresh(sn->p, sn->sym, 0, 0, th->regs, th->deep,
				  th->deep_len, sn->scratch, UNWIND_MAX_FRAMES,
				  &trunc, NULL);
		if (k > 0)
			sn->mem += (size_t)k * sizeof(uint64_t) -
				   (size_t)th->n * sizeof(uint64_t);
		thread_frames(th, sn->scratch, k, trunc);
		if (!trunc)
			th->deep_len = 0;	/* whole: done */
	}
	return 0;
}

void threads__deepen(struct threads *t, pid_t pid, struct snap *sn)
{
	struct deepen_ctx dc = { .sn = sn };
	uint32_t one = 1;
	size_t i, nwant;
	int fd, r;

	for (dc.from = PROFD_THREAD_STACK_PAGES;
	     dc.from < PROFD_THREAD_STACK_MAX_PAGES;
	     dc.from += PROFD_THREAD_STACK_PAGES) {
		nwant = 0;
		r = 0;
		pthread_mutex_lock(&t->lock);
		fd = bpf_map__fd(t->skel->maps.thread_want);
		for (i = 0; i < sn->n; i++)
			if (sn->ths[i].deep &&
			    bpf_map_update_elem(fd, &sn->ths[i].tid, &one,
						BPF_ANY) == 0)
				nwant++;
		if (nwant) {
			t->skel->bss->page_from = dc.from;
			r = iterate(t, pid, deepen_one, &dc);
			t->skel->bss->page_from = 0;
		}
		for (i = 0; i < sn->n; i++)
			if (sn->ths[i].deep)
				(void)bpf_map_delete_elem(fd, &sn->ths[i].tid);
		pthread_mutex_unlock(&t->lock);
		if (!nwant || (r < 0 && r != -EBADMSG))
			break;
		/* Those not read on this pass (ran, ended, whole) are done. */
		for (i = 0; i < sn->n; i++) {
			struct thread *th = &sn->ths[i];

			if (th->deep && th->deep_len + (th->regs[7] & 4095) !=
			    (size_t)(dc.from + PROFD_THREAD_STACK_PAGES) * 4096) {
				free(th->deep);
				th->deep = NULL;
			}
		}
	}
	for (i = 0; i < sn->n; i++) {
		free(sn->ths[i].deep);
		sn->ths[i].deep = NULL;
	}
}

int threads__each(struct threads *t, pid_t pid, int dirfd, struct proc *p,
		  threads_cb cb, void *ctx)
{
	struct snap sn = { .sym = t->sym, .p = p, .dirfd = dirfd };
	size_t i;
	int r;

	sn.scratch = malloc(UNWIND_MAX_FRAMES * sizeof(*sn.scratch));
	if (!sn.scratch)
		return -ENOMEM;
	r = threads__collect(t, pid, &sn);
	if (r < 0)
		goto out;
	threads__deepen(t, pid, &sn);
	for (i = 0; i < sn.n; i++) {
		const struct thread *th = &sn.ths[i];
		struct threads_thread tt = {
			.tid = th->tid, .state = th->state,
			.comm = th->comm, .ips = th->ips, .n = th->n,
			.truncated = th->flags & AGG_F_USER_TRUNC,
			.kips = th->kips, .nk = th->nk,
		};

		cb(ctx, &tt);
	}
out:
	threads__free_snap(&sn);
	return r;
}

