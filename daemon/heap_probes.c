// SPDX-License-Identifier: GPL-2.0
/*
 * The heap tracker's probes (heap_int.h): which allocator a process uses,
 * the uprobes on its entry points (or on the in-process agent's probe
 * points), libstdc++'s operator new, and the leading frames profiles
 * leave out. Opens ELF files of the process (through its root).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "agent.h"
#include "elfsyms.h"
#include "heap.skel.h"
#include "heap_int.h"
#include "profd_agent.h"


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
/* Is @ip in a frame profiles leave out (see heap_probes__skip_frames())? */
bool heap_probes__skipped(const struct heap_proc *p, uint64_t ip)
{
	unsigned k;

	for (k = 0; k < p->nskip; k++)
		if (ip >= p->skip[k].lo && ip < p->skip[k].hi)
			return true;
	return false;
}

/*
 * Which allocator does the process use? The one the dynamic linker binds
 * malloc to: the executable's own (static binaries, allocators linked in),
 * else a preloaded or linked allocator library (jemalloc, tcmalloc,
 * mimalloc, musl's libc), else glibc's libc.so.6.
 */
int heap_probes__choose_allocator(struct proc *pr, char *path, size_t size,
				  uint64_t offs[PROFD_HEAP_FN_MAX])
{
	char libc[PATH_MAX] = "", best[PATH_MAX] = "";
	int rank_best = 0;
	bool go = false;
	size_t i;

	/* Opens and scans ELF files under the proc's own lock (not a
	 * manager's): the maps may not move meanwhile. */
	pthread_mutex_lock(&pr->lock);
	for (i = 0; i < pr->nmaps && !go; i++) {
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
			go = true;
			break;
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
	pthread_mutex_unlock(&pr->lock);
	if (go)
		return -EPROTONOSUPPORT;
	if (!rank_best)
		return -ENOENT;
	snprintf(path, size, "%s", best);
	return 0;
}

/* Aliases (glibc's aligned_alloc is memalign) are probed once: false
 * and @off recorded in @done the first time, true after. */
static bool heap_probes__seen_offset(uint64_t *done, unsigned *nd, uint64_t off)
{
	unsigned j;

	for (j = 0; j < *nd; j++)
		if (done[j] == off)
			return true;
	done[(*nd)++] = off;
	return false;
}

/* Probe operator new in libstdc++, when the process has it mapped. */
static int heap_probes__attach_cxx(struct heap_tracker *h, struct heap_proc *p)
{
	char path[64];
	uint64_t offs[NCXX], done[NCXX];
	unsigned nd = 0, i;
	struct bpf_link *l;
	size_t k;
	int fd, r = 0;

	pthread_mutex_lock(&p->proc->lock);
	for (k = 0; k < p->proc->nmaps; k++) {
		const char *base = strrchr(p->proc->maps[k].path, '/');

		if (base && !strncmp(base + 1, "libstdc++.so", 12)) {
			snprintf(p->cxx, sizeof(p->cxx), "%s",
				 p->proc->maps[k].path);
			break;
		}
	}
	pthread_mutex_unlock(&p->proc->lock);
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
		if (!offs[i] || heap_probes__seen_offset(done, &nd, offs[i]) ||
		    h->uprobe_sessions)
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
	if (h->uprobe_sessions && nd) {
		uint64_t cookies[NCXX];
		int sfd;

		for (i = 0; i < nd; i++)
			cookies[i] = PROFD_HEAP_COOKIE(PROFD_HEAP_CXX_NEW,
						       p->flags, p->generation,
						       p->sample_bytes);
		sfd = heap_maps__usession_link(
			bpf_program__fd(h->skel->progs.heap_session), path,
			done, cookies, nd, p->pid);
		if (sfd < 0) {
			r = sfd;
			goto out;
		}
		p->usession_fds[1] = sfd;
	}
out:
	close(fd);
	return r;
}

/* Probe the allocator's entry points, in its file at @path. */
static int heap_probes__attach_fns(struct heap_tracker *h, struct heap_proc *p,
				   const uint64_t offs[PROFD_HEAP_FN_MAX],
				   const char *path, struct bpf_program **entry,
				   uint64_t *done, unsigned *pnd)
{
	struct bpf_link *l;
	unsigned nd = 0, i;

	if (h->uprobe_sessions) {
		uint64_t so[PROFD_HEAP_FN_MAX], sc[PROFD_HEAP_FN_MAX];
		int fd;

		for (i = 0; i < PROFD_HEAP_FREE; i++) {
			if (!offs[i] || heap_probes__seen_offset(done, &nd, offs[i]))
				continue;
			so[nd - 1] = offs[i];
			sc[nd - 1] = PROFD_HEAP_COOKIE(i, p->flags,
						       p->generation,
						       p->sample_bytes);
		}
		fd = heap_maps__usession_link(
			bpf_program__fd(h->skel->progs.heap_session), path,
			so, sc, nd, p->pid);
		if (fd < 0)
			return fd;
		p->usession_fds[0] = fd;
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
		if (!offs[i] || heap_probes__seen_offset(done, &nd, offs[i]))
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

int heap_probes__attach(struct heap_tracker *h, struct heap_proc *p,
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
	r = heap_probes__attach_fns(h, p, offs, path, entry, done, &nd);
	close(fd);
	if (r < 0)
		return r;
	return heap_probes__attach_cxx(h, p);
}

/*
 * jemalloc and tcmalloc define C++ operator new and delete themselves, and
 * do not go through their malloc and free there: such blocks are not seen
 * (in either mode). Profiles say so.
 */
bool heap_probes__defines_new(struct proc *pr, const char *allocator)
{
	static const char *const names[] = { "_Znwm" };
	const char *base = strrchr(allocator, '/');
	uint64_t off = 0;
	int fd;

	if (!base || !strncmp(base + 1, "libc.so", 7))
		return false;
	fd = proc__open_in_root(pr->dirfd, allocator);
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
 * child of a process tracked in-process, or profd was killed). Not under
 * lock: @p is not listed yet (heap__start()).
 */
void heap_probes__skip_frames(struct heap_proc *p)
{
	char libpath[PATH_MAX];
	uint64_t lo, hi;
	const char *lib = NULL;
	unsigned i;
	size_t k;
	int fd;

	p->nskip = 0;
	pthread_mutex_lock(&p->proc->lock);
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
	for (k = 0; p->inproc && p->nskip && k < p->proc->nmaps && !lib; k++) {
		const char *base = strrchr(p->proc->maps[k].path, '/');

		if (base && !strncmp(base + 1, "libstdc++.so", 12)) {
			snprintf(libpath, sizeof(libpath), "%s",
				 p->proc->maps[k].path);
			lib = libpath;
		}
	}
	pthread_mutex_unlock(&p->proc->lock);
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
 * In-process mode, not under lock (@p is not listed yet): the uprobes on
 * the agent's probe points,
 * attached by file before the agent is loaded (the kernel arms them when
 * the process maps it). The file is verified first (agent__verify()).
 */
int heap_probes__attach_agent(struct heap_tracker *h, struct heap_proc *p,
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

void heap_probes__detach(struct heap_proc *p)
{
	unsigned i;

	for (i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	p->nlinks = 0;
	for (i = 0; i < 2; i++) {
		if (p->usession_fds[i] >= 0)
			close(p->usession_fds[i]);
		p->usession_fds[i] = -1;
	}
}
