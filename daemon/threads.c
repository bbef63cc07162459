// SPDX-License-Identifier: GPL-2.0
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
#include "unwind.h"

_Static_assert(sizeof(struct profd_thread) == 184 + 8 * PROFD_MAX_KERNEL_FRAMES,
	       "profd_thread layout");

/* Bytes read from the iterator at most: every thread's record whole. */
#define READ_MAX ((size_t)THREADS_MAX * \
		  (sizeof(struct profd_thread) + PROFD_THREAD_STACK_PAGES * 4096))

struct threads {
	pthread_mutex_t lock;		/* one snapshot at a time */
	struct proc_cache *pc;		/* processes, shared (proc.h) */
	struct symbolizer *sym;
	struct execwatch *w;
	uint32_t pidns_inum;
	struct threads_bpf *skel;	/* NULL until the first snapshot */
};

/* One thread as shown. */
struct thread {
	uint32_t tid;
	uint32_t flags;			/* AGG_F_* */
	char state;			/* /proc's letter */
	char comm[16];
	char wchan[64];
	uint64_t hash;
	uint64_t *ips;			/* leaf first */
	unsigned n;
	uint64_t *kips;			/* kernel frames, leaf first */
	unsigned nk;
	bool unreadable;		/* no registers or stack */
	bool running;
	/* Its walk ran out of the first copy: read on (deepen()). */
	uint8_t *deep;			/* the stack from sp, so far */
	size_t deep_len;
	uint64_t regs[PROFD_NREGS];
};

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

/* Run the iterator over @pid's threads: all it wrote, malloc'd. */
static int iterate(struct threads *t, pid_t pid, uint8_t **ret, size_t *ret_len)
{
	DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info li = {};
	struct bpf_link *link;
	size_t cap = 1 << 20, len = 0;
	uint8_t *buf = NULL, *nb;
	int fd = -1, r = 0;
	ssize_t n;

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
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= READ_MAX)
				break;	/* THREADS_MAX reached: the rest unread */
			nb = realloc(buf, cap * 2);
			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret = buf;
	*ret_len = len;
	buf = NULL;
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

static const char *state_name(char c)
{
	switch (c) {
	case 'R': return "running";
	case 'S': return "sleeping";
	case 'D': return "disk";
	case 'T': return "stopped";
	case 't': return "traced";
	case 'Z': return "zombie";
	case 'X': return "dead";
	case 'I': return "idle";
	default: return "unknown";
	}
}

static int cmp_threads(const void *a, const void *b)
{
	const struct thread *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	if (x->flags != y->flags)
		return x->flags < y->flags ? -1 : 1;
	if (x->n) {
		int c = memcmp(x->ips, y->ips, x->n * sizeof(*x->ips));

		if (c)
			return c;
	}
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static bool same_stack(const struct thread *x, const struct thread *y)
{
	return x->hash == y->hash && x->n == y->n && x->flags == y->flags &&
	       (!x->n || !memcmp(x->ips, y->ips, x->n * sizeof(*x->ips)));
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

/* Parse the iterator's output into @ths and unwind each. */
static size_t parse(struct symbolizer *sym, struct proc *p, int dirfd, const uint8_t *buf, size_t len,
		    struct thread *ths, size_t max, uint64_t *scratch)
{
	size_t off = 0, n = 0, ndeep = 0;

	while (n < max && off + sizeof(struct profd_thread) <= len) {
		struct profd_thread h;
		struct thread *th = &ths[n];
		const uint8_t *stack;
		bool trunc = false;
		int k;

		memcpy(&h, buf + off, sizeof(h));
		if (h.magic != PROFD_THREAD_MAGIC || h.stack_skip >= 4096 ||
		    h.stack_len > PROFD_THREAD_STACK_PAGES * 4096 ||
		    h.page_from)
			break;
		off += sizeof(h);
		stack = buf + off;
		if (h.stack_len) {
			if (off + h.stack_skip + h.stack_len > len)
				break;
			off += h.stack_skip + h.stack_len;
		}
		memset(th, 0, sizeof(*th));
		th->tid = h.tid;
		memcpy(th->comm, h.comm, sizeof(th->comm));
		th->comm[sizeof(th->comm) - 1] = 0;
		th->running = h.flags & PROFD_THREAD_F_RUNNING;
		proc_state(dirfd, h.tid, th);
		if (h.stack_len) {
			if (!proc__covers(p, (const uint64_t *)&h.regs[16], 1))
				(void)proc__refresh(p, sym, 0, 0);
			k = unwind__stack(p, (const uint64_t *)h.regs,
					  stack + h.stack_skip, h.stack_len,
					  scratch, UNWIND_MAX_FRAMES, &trunc);
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
				memcpy(th->ips, scratch, (size_t)k * sizeof(uint64_t));
				th->n = (unsigned)k;
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
			}
		}
		thread_hash(th);
		/* Cut where the copy ends, asleep: read on later. */
		if (trunc && !th->running && ndeep < PROFD_THREAD_DEEP &&
		    h.stack_skip + h.stack_len == PROFD_THREAD_STACK_PAGES * 4096) {
			th->deep = malloc(PROFD_THREAD_STACK_MAX_PAGES * 4096);
			if (th->deep) {
				memcpy(th->deep, stack + h.stack_skip, h.stack_len);
				th->deep_len = h.stack_len;
				memcpy(th->regs, h.regs, sizeof(th->regs));
				ndeep++;
			}
		}
		n++;
	}
	return n;
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
static void deepen(struct threads *t, pid_t pid, struct proc *p,
		   struct thread *ths, size_t n, uint64_t *scratch)
{
	uint32_t from, one = 1;
	size_t i, len, off;
	uint8_t *raw;
	int fd, r;

	for (from = PROFD_THREAD_STACK_PAGES; from < PROFD_THREAD_STACK_MAX_PAGES;
	     from += PROFD_THREAD_STACK_PAGES) {
		size_t nwant = 0;

		raw = NULL;
		len = 0;
		r = 0;
		pthread_mutex_lock(&t->lock);
		fd = bpf_map__fd(t->skel->maps.thread_want);
		for (i = 0; i < n; i++)
			if (ths[i].deep &&
			    bpf_map_update_elem(fd, &ths[i].tid, &one, BPF_ANY) == 0)
				nwant++;
		if (nwant) {
			t->skel->bss->page_from = from;
			r = iterate(t, pid, &raw, &len);
			t->skel->bss->page_from = 0;
		}
		for (i = 0; i < n; i++)
			if (ths[i].deep)
				(void)bpf_map_delete_elem(fd, &ths[i].tid);
		pthread_mutex_unlock(&t->lock);
		if (!nwant || r < 0) {
			free(raw);
			break;
		}
		for (off = 0; off + sizeof(struct profd_thread) <= len;) {
			struct profd_thread h;
			struct thread *th = NULL;
			bool trunc = false;
			size_t room;
			int k;

			memcpy(&h, raw + off, sizeof(h));
			if (h.magic != PROFD_THREAD_MAGIC || h.page_from != from ||
			    h.stack_skip ||
			    h.stack_len > PROFD_THREAD_STACK_PAGES * 4096 ||
			    off + sizeof(h) + h.stack_len > len)
				break;
			off += sizeof(h);
			for (i = 0; i < n && !th; i++)
				if (ths[i].deep && ths[i].tid == h.tid)
					th = &ths[i];
			room = th ? PROFD_THREAD_STACK_MAX_PAGES * 4096 - th->deep_len : 0;
			if (th && h.regs[7] == th->regs[7] &&
			    h.regs[16] == th->regs[16] &&
			    th->deep_len + (th->regs[7] & 4095) == (size_t)from * 4096 &&
			    h.stack_len <= room) {
				memcpy(th->deep + th->deep_len, raw + off, h.stack_len);
				th->deep_len += h.stack_len;
				k = unwind__stack(p, th->regs, th->deep, th->deep_len,
						  scratch, UNWIND_MAX_FRAMES, &trunc);
				thread_frames(th, scratch, k, trunc);
				if (!trunc)
					th->deep_len = 0;	/* whole: done */
			}
			off += h.stack_len;
		}
		free(raw);
		/* Those not read on this pass (ran, ended, whole) are done. */
		for (i = 0; i < n; i++) {
			if (ths[i].deep &&
			    ths[i].deep_len + (ths[i].regs[7] & 4095) !=
			    (size_t)(from + PROFD_THREAD_STACK_PAGES) * 4096) {
				free(ths[i].deep);
				ths[i].deep = NULL;
			}
		}
	}
	for (i = 0; i < n; i++) {
		free(ths[i].deep);
		ths[i].deep = NULL;
	}
}

/* The goroutine profile's labels, per stack (profile.h's callback). */
struct label_ctx {
	struct thread *ths;
	size_t *group_start, *group_len;
	struct pprof_label *buf;
	char (*tids)[16];
};

static size_t group_labels(void *ctx, size_t i, const struct pprof_label **ret)
{
	struct label_ctx *c = ctx;
	size_t j, n = 0, s = c->group_start[i];

	for (j = 0; j < c->group_len[i]; j++) {
		struct thread *th = &c->ths[s + j];

		c->buf[n++] = (struct pprof_label){ .key = "tid", .num = th->tid };
		c->buf[n++] = (struct pprof_label){ .key = "thread", .str = th->comm };
		c->buf[n++] = (struct pprof_label){ .key = "state",
						    .str = state_name(th->state) };
		if (th->wchan[0])
			c->buf[n++] = (struct pprof_label){ .key = "wchan",
							    .str = th->wchan };
	}
	*ret = c->buf;
	return n;
}

/* Go's debug=2 dump, a thread per paragraph. */
static int text_dump(struct proc *p, const struct thread *ths, size_t n,
		     size_t unread, char **ret, size_t *ret_len)
{
	struct sym_frame frames[SYM_MAX_INLINE];
	char *out = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&out, &len);
	unsigned j;
	int k, m;

	if (!f)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct thread *th = &ths[i];

		fprintf(f, "thread %u [%s%s%s]: %s\n", th->tid,
			state_name(th->state), th->wchan[0] ? ", " : "",
			th->wchan, th->comm);
		if (th->unreadable)
			fprintf(f, "\t(stack not readable%s)\n",
				th->running ? ": running on a CPU" : "");
		for (j = 0; j < th->n; j++) {
			uint64_t a = j ? th->ips[j] - 1 : th->ips[j], symoff;
			struct proc_map pm;
			size_t idx;

			k = 0;
			if (proc__resolve(p, a, &pm, &idx) == 0) {
				if (pm.bin)
					k = sym_binary__lookup(pm.bin,
							       a - pm.start + pm.offset,
							       frames, SYM_MAX_INLINE);
				/* Go's "+0x1d": the pc (a return address as
				 * it is) from the function's entry, on the
				 * frame that is not inlined (the last). */
				if (k <= 0 || !pm.bin ||
				    sym_binary__symoff(pm.bin, a - pm.start + pm.offset,
						       &symoff) < 0)
					symoff = UINT64_MAX;
				else
					symoff += th->ips[j] - a;
				for (m = 0; m < k; m++) {
					const char *fn = frames[m].func ?
						frames[m].func : "?";
					const char *at = strchr(fn, '@');

					/* No symbol version ("@GLIBC_2.2.5"),
					 * as in the profile's names. */
					if (at && !strcmp(at, "@plt"))
						at = NULL;
					fprintf(f, "%.*s(...)\n\t%s:%d",
						at ? (int)(at - fn) : (int)strlen(fn),
						fn,
						frames[m].file ? frames[m].file : "?",
						frames[m].line);
					if (m == k - 1 && symoff != UINT64_MAX)
						fprintf(f, " +0x%" PRIx64, symoff);
					fputc('\n', f);
				}
				if (k <= 0)
					fprintf(f, "?(...)\n\t%s +0x%" PRIx64 "\n",
						pm.path, a - pm.start + pm.offset);
				sym_binary__put(pm.bin);
			} else {
				fprintf(f, "?(...)\n\t0x%" PRIx64 "\n", a);
			}
		}
		if (th->flags & AGG_F_USER_TRUNC)
			fprintf(f, "...additional frames elided...\n");
		fputc('\n', f);
	}
	if (unread)
		fprintf(f, "(%zu more threads not shown: at most %d)\n", unread,
			THREADS_MAX);
	if (fclose(f) != 0) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	*ret_len = len;
	return 0;
}

int threads__each(struct threads *t, pid_t pid, int dirfd, struct proc *p,
		  threads_cb cb, void *ctx)
{
	struct thread *ths = NULL;
	uint64_t *scratch = NULL;
	uint8_t *raw = NULL;
	size_t rawlen = 0, n = 0, i;
	int r;

	pthread_mutex_lock(&t->lock);
	r = load(t);
	if (r == 0)
		r = iterate(t, pid, &raw, &rawlen);
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		return r == -EACCES ? -EPERM : r;
	ths = calloc(THREADS_MAX, sizeof(*ths));
	scratch = malloc(UNWIND_MAX_FRAMES * sizeof(*scratch));
	if (!ths || !scratch) {
		r = -ENOMEM;
		goto out;
	}
	n = parse(t->sym, p, dirfd, raw, rawlen, ths, THREADS_MAX, scratch);
	deepen(t, pid, p, ths, n, scratch);
	for (i = 0; i < n; i++) {
		struct threads_thread tt = {
			.tid = ths[i].tid, .state = ths[i].state,
			.comm = ths[i].comm, .ips = ths[i].ips,
			.n = ths[i].n,
			.truncated = ths[i].flags & AGG_F_USER_TRUNC,
			.kips = ths[i].kips, .nk = ths[i].nk,
		};

		cb(ctx, &tt);
	}
out:
	for (i = 0; ths && i < n; i++) {
		free(ths[i].ips);
		free(ths[i].kips);
	}
	free(ths);
	free(scratch);
	free(raw);
	return r;
}

int threads__snapshot(struct threads *t, const struct threads_req *req,
		      void **ret_buf, size_t *ret_len)
{
	struct target tg = TARGET_NONE;
	struct proc *p = NULL;
	struct aggregate *agg = NULL;
	struct thread *ths = NULL;
	struct label_ctx lc = {};
	uint64_t *scratch = NULL;
	uint8_t *raw = NULL;
	size_t rawlen = 0, n = 0, i, ng = 0, unreadable = 0, running = 0;
	struct profile_cpu_part part = {};
	struct profile_cpu_desc d = {};
	const char *comments[4];
	char line[2][200];
	struct timespec ts;
	uid_t owner;
	int r, tries;

	r = -EAGAIN;
	for (tries = 0; tries < 3 && r == -EAGAIN; tries++) {
		r = target__bind(t->w, req->pid, req->uid, &tg, &owner);
		if (r == -EPERM)
			r = -EACCES;
		if (r < 0)
			break;
		/* The layout of now: a snapshot is of now. */
		r = proc__get_current(t->pc, req->pid, tg.ref.dirfd,
				      tg.ids.start_time, tg.image, &p);
		if (r == 0 && target__current(&tg) == -ESTALE)
			r = -EAGAIN;
		if (r < 0) {
			proc__put(p);
			p = NULL;
			target__release(&tg);
		}
	}
	if (r < 0)
		return r;
	p->image = tg.image;

	pthread_mutex_lock(&t->lock);
	r = load(t);
	if (r == 0)
		r = iterate(t, req->pid, &raw, &rawlen);
	pthread_mutex_unlock(&t->lock);
	if (r < 0) {
		if (r == -EACCES)
			r = -EPERM;
		goto out;
	}
	/* The image read is the one checked? */
	if (target__current(&tg) == -ESTALE) {
		r = -EAGAIN;
		goto out;
	}

	ths = calloc(THREADS_MAX, sizeof(*ths));
	scratch = malloc(UNWIND_MAX_FRAMES * sizeof(*scratch));
	if (!ths || !scratch) {
		r = -ENOMEM;
		goto out;
	}
	n = parse(t->sym, p, tg.ref.dirfd, raw, rawlen, ths, THREADS_MAX, scratch);
	deepen(t, req->pid, p, ths, n, scratch);
	qsort(ths, n, sizeof(*ths), cmp_threads);
	for (i = 0; i < n; i++) {
		unreadable += ths[i].unreadable;
		running += ths[i].running;
	}

	if (req->text) {
		/* Go's order: by thread id. */
		struct thread *by_tid = malloc(n * sizeof(*by_tid) + 1);
		size_t a, b;

		if (!by_tid) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(by_tid, ths, n * sizeof(*ths));
		for (a = 1; a < n; a++)
			for (b = a; b > 0 && by_tid[b - 1].tid > by_tid[b].tid; b--) {
				struct thread x = by_tid[b];

				by_tid[b] = by_tid[b - 1];
				by_tid[b - 1] = x;
			}
		r = text_dump(p, by_tid, n, rawlen >= READ_MAX, (char **)ret_buf,
			      ret_len);
		free(by_tid);
		goto out;
	}

	/* Groups of identical stacks, in the aggregate's order. */
	agg = aggregate__new(THREADS_MAX);
	lc.group_start = calloc(n + 1, sizeof(size_t));
	lc.group_len = calloc(n + 1, sizeof(size_t));
	lc.buf = calloc(4 * n + 1, sizeof(*lc.buf));
	if (!agg || !lc.group_start || !lc.group_len || !lc.buf) {
		r = -ENOMEM;
		goto out;
	}
	lc.ths = ths;
	for (i = 0; i < n; i++) {
		if (i == 0 || !same_stack(&ths[i - 1], &ths[i])) {
			lc.group_start[ng] = i;
			ng++;
		}
		lc.group_len[ng - 1]++;
	}
	for (i = 0; i < ng; i++) {
		const struct thread *th = &ths[lc.group_start[i]];

		/* One entry per group, so the aggregate's i-th is group i
		 * (the key differs: distinct stacks, or the index). */
		r = aggregate__add(agg, (uint32_t)i, "", th->flags, th->ips,
				   (uint16_t)th->n, NULL, 0, lc.group_len[i],
				   0);
		if (r < 0)
			goto out;
	}
	comments[0] = "threads: every thread's stack now, read without stopping the process (a BPF task iterator: the registers each thread saved on entering the kernel and a copy of its user stack); labels tid, thread, state, wchan per thread";
	d.ncomments = 1;
	if (unreadable || running) {
		snprintf(line[0], sizeof(line[0]),
			 "%zu threads' stacks could not be read ([unknown]); %zu were running on a CPU, whose copy may be torn",
			 unreadable, running);
		comments[d.ncomments++] = line[0];
	}
	if (rawlen >= READ_MAX) {
		snprintf(line[1], sizeof(line[1]),
			 "more than %d threads: the rest are not shown",
			 THREADS_MAX);
		comments[d.ncomments++] = line[1];
	}
	part.proc = p;
	part.agg = agg;
	clock_gettime(CLOCK_REALTIME, &ts);
	d.type = PROFILE_GOROUTINE;
	d.pid = req->pid;
	d.comm = tg.ids.comm;
	d.parts = &part;
	d.nparts = 1;
	d.period_ns = 1;
	d.time_nanos = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	d.comments = comments;
	d.labels = group_labels;
	d.labels_ctx = &lc;
	r = profile__build_cpu(&d, ret_buf, ret_len);
out:
	for (i = 0; ths && i < n; i++) {
		free(ths[i].ips);
		free(ths[i].kips);
	}
	free(ths);
	free(scratch);
	free(raw);
	free(lc.group_start);
	free(lc.group_len);
	free(lc.buf);
	aggregate__free(agg);
	proc__put(p);
	target__release(&tg);
	return r;
}
