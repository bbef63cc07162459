// SPDX-License-Identifier: GPL-2.0
/*
 * threads_profile: a snapshot shown (threads__snapshot()). The process
 * held and checked, its threads read (threads.c), then either grouped
 * per identical stack as Go's goroutine profile (labels tid, thread,
 * state, wchan per thread) or written out as Go's debug=2 text dump, a
 * thread per paragraph.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate.h"
#include "proc.h"
#include "profile.h"
#include "target.h"
#include "threads.h"
#include "unwind.h"

#include "threads_int.h"

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

static int cmp_tids(const void *a, const void *b)
{
	const struct thread *x = a, *y = b;

	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static bool same_stack(const struct thread *x, const struct thread *y)
{
	return x->hash == y->hash && x->n == y->n && x->flags == y->flags &&
	       (!x->n || !memcmp(x->ips, y->ips, x->n * sizeof(*x->ips)));
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
		fprintf(f, "(%zu more threads not shown: the first took the %u MiB a snapshot may hold)\n",
			unread, THREADS_MEM_MAX >> 20);
	if (fclose(f) != 0) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	*ret_len = len;
	return 0;
}

int threads__snapshot(struct threads *t, const struct threads_req *req,
		      void **ret_buf, size_t *ret_len)
{
	struct target tg = TARGET_NONE;
	struct proc *p = NULL;
	struct aggregate *agg = NULL;
	struct thread *ths = NULL;
	struct label_ctx lc = {};
	struct snap sn = { .sym = t->sym };
	size_t n = 0, i, ng = 0, unreadable = 0, running = 0;
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

	sn.p = p;
	sn.dirfd = tg.ref.dirfd;
	sn.scratch = malloc(UNWIND_MAX_FRAMES * sizeof(*sn.scratch));
	if (!sn.scratch) {
		r = -ENOMEM;
		goto out;
	}
	r = threads__collect(t, req->pid, &sn);
	if (r < 0)
		goto out;
	/* The image read is the one checked? */
	if (target__current(&tg) == -ESTALE) {
		r = -EAGAIN;
		goto out;
	}
	threads__deepen(t, req->pid, &sn);
	ths = sn.ths;
	n = sn.n;
	qsort(ths, n, sizeof(*ths), cmp_threads);
	for (i = 0; i < n; i++) {
		unreadable += ths[i].unreadable;
		running += ths[i].running;
	}

	if (req->text) {
		/* Go's order: by thread id. */
		struct thread *by_tid = malloc(n * sizeof(*by_tid) + 1);

		if (!by_tid) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(by_tid, ths, n * sizeof(*ths));
		qsort(by_tid, n, sizeof(*by_tid), cmp_tids);
		r = text_dump(p, by_tid, n, sn.unread, (char **)ret_buf,
			      ret_len);
		free(by_tid);
		goto out;
	}

	/* Groups of identical stacks, in the aggregate's order. */
	r = aggregate__new(n, &agg);
	if (r < 0)
		goto out;
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
	if (sn.unread) {
		snprintf(line[1], sizeof(line[1]),
			 "%zu threads are not shown: the first %zu took the %u MiB a snapshot may hold",
			 sn.unread, n, THREADS_MEM_MAX >> 20);
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
	threads__free_snap(&sn);
	free(lc.group_start);
	free(lc.group_len);
	free(lc.buf);
	aggregate__free(agg);
	proc__put(p);
	target__release(&tg);
	return r;
}
