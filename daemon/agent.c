// SPDX-License-Identifier: GPL-2.0
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent.h"
#include "elfsyms.h"
#include "inject.h"
#include "proc.h"
#include "profd_abi.h"
#include "profd_agent.h"
#include "unwind.h"

#define PATIENCE_MS 3000	/* to find a thread stopped at a safe point */
#define CHECK_STACK (32 << 10)	/* bytes of stack read to unwind it */
#define CHECK_FRAMES 64

/* glibc's allocator and what else holds its locks or the loader's. */
static const char *const malloc_names[] = {
	"malloc", "free", "calloc", "realloc", "reallocarray",
	"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
	"malloc_trim", "malloc_usable_size", "mallinfo", "mallinfo2",
	"malloc_stats", "malloc_info", "mallopt",
};
static const char *const locked_names[] = {
	"fork", "_Fork", "vfork", "dl_iterate_phdr",
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

static int open_in(pid_t pid, const char *path)
{
	char full[PATH_MAX + 64];

	snprintf(full, sizeof(full), "/proc/%d/root%s", pid, path);
	return open(full, O_RDONLY | O_CLOEXEC);
}

/* [lo, hi) is unsafe; an end not mapped (0) adds nothing. */
static void add_unsafe(struct agent *a, uint64_t lo, uint64_t hi)
{
	if (lo && hi > lo && a->nunsafe < AGENT_MAX_UNSAFE) {
		a->unsafe[a->nunsafe].lo = lo;
		a->unsafe[a->nunsafe].hi = hi;
		a->nunsafe++;
	}
}

/* File offsets [lo, hi) of mapped @path are unsafe. */
static void add_unsafe_offs(struct agent *a, struct proc *pr, const char *path,
			    uint64_t lo, uint64_t hi)
{
	uint64_t end = proc__file_addr(pr, path, hi - 1);

	add_unsafe(a, proc__file_addr(pr, path, lo), end ? end + 1 : 0);
}

/* Every executable mapping of @path is unsafe. */
static void add_unsafe_file(struct agent *a, const struct proc *pr,
			    const char *path)
{
	size_t i;

	for (i = 0; i < pr->nmaps; i++)
		if (!strcmp(pr->maps[i].path, path))
			add_unsafe(a, pr->maps[i].start, pr->maps[i].end);
}

struct check_ctx {
	const struct agent *a;
	struct proc *pr;
	uint8_t *stack;
};

/*
 * A thread is a safe place to call from when no frame of its stack is in
 * an unsafe range. Unsafe code is near the leaf (the allocator calls no
 * user code), so a stack cut short after CHECK_FRAMES/4 frames still
 * tells.
 */
static int check_stop(void *ctx, pid_t tid, const struct user_regs_struct *r)
{
	struct check_ctx *c = ctx;
	uint64_t regs[PROFD_NREGS] = {
		r->rax, r->rdx, r->rcx, r->rbx, r->rsi, r->rdi, r->rbp, r->rsp,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
		r->rip,
	};
	uint64_t ips[CHECK_FRAMES];
	size_t len = 0;
	bool trunc = true;
	int n, i;
	unsigned k;

	/* Page by page: the stack may end before CHECK_STACK. */
	while (len < CHECK_STACK) {
		uint64_t at = r->rsp + len;
		size_t chunk = 4096 - (at & 4095);
		struct iovec l, rm;

		if (chunk > CHECK_STACK - len)
			chunk = CHECK_STACK - len;
		l.iov_base = c->stack + len;
		l.iov_len = chunk;
		rm.iov_base = (void *)(uintptr_t)at;
		rm.iov_len = chunk;
		if (process_vm_readv(tid, &l, 1, &rm, 1, 0) != (ssize_t)chunk)
			break;
		len += chunk;
	}
	n = unwind__stack(c->pr, regs, c->stack, len, ips, CHECK_FRAMES, &trunc);
	if (n <= 0 || (trunc && n < CHECK_FRAMES / 4))
		return -EAGAIN;
	for (i = 0; i < n; i++)
		for (k = 0; k < c->a->nunsafe; k++)
			if (ips[i] >= c->a->unsafe[k].lo &&
			    ips[i] < c->a->unsafe[k].hi)
				return -EAGAIN;
	return 0;
}

static int call(const struct agent *a, struct proc *pr, uint64_t fn,
		const uint64_t *args, unsigned nargs, const void *data,
		size_t dlen, int64_t *ret)
{
	struct check_ctx c = { a, pr, malloc(CHECK_STACK) };
	int r;

	if (!c.stack)
		return -ENOMEM;
	r = inject__call(a->pid, check_stop, &c, fn, args, nargs, data, dlen,
			 PATIENCE_MS, ret);
	free(c.stack);
	return r;
}

/*
 * Does @path, as process @pid sees it (through its root), name the file
 * profd sees? Under systemd profd has a mount namespace of its own
 * (PrivateTmp, ProtectSystem), but /usr is the same files; a container's
 * root is not.
 */
static bool same_file(pid_t pid, const char *path)
{
	char there[PATH_MAX + 64];
	struct stat a, b;

	snprintf(there, sizeof(there), "/proc/%d/root%s", pid, path);
	if (stat(path, &a) < 0 || stat(there, &b) < 0)
		return false;
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* 0: no filter, 1: strict, 2: a filter (as /proc/PID/status says). */
static int seccomp_mode(pid_t pid)
{
	char path[64], line[256];
	int mode = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

/* The string dlerror() returns in the process, into @buf. */
static void remote_dlerror(struct agent *a, struct proc *pr, uint64_t fn,
			   char *buf, size_t size)
{
	int64_t p = 0;
	struct iovec l = { buf, size - 1 }, rm;

	buf[0] = 0;
	if (!fn || call(a, pr, fn, NULL, 0, NULL, 0, &p) < 0 || !p)
		return;
	rm.iov_base = (void *)(uintptr_t)p;
	rm.iov_len = size - 1;
	memset(buf, 0, size);
	(void)process_vm_readv(a->pid, &l, 1, &rm, 1, 0);
	buf[size - 1] = 0;
}

/* Where the agent is mapped in @pr, and its entry points. */
static int find_agent(struct agent *a, struct proc *pr, const char *lib)
{
	static const char *const names[] = { PROFD_AGENT_ON, PROFD_AGENT_OFF };
	uint64_t offs[2];
	size_t i;
	int fd;

	a->lo = a->hi = 0;
	for (i = 0; i < pr->nmaps; i++) {
		const struct proc_map *m = &pr->maps[i];

		if (strcmp(m->path, lib))
			continue;
		if (!a->lo || m->start < a->lo)
			a->lo = m->start;
		if (m->end > a->hi)
			a->hi = m->end;
	}
	if (!a->lo)
		return -ENOENT;
	fd = open_in(a->pid, lib);
	if (fd < 0)
		return -errno;
	i = (size_t)elfsyms__find(fd, names, 2, offs);
	close(fd);
	if (i != 2)
		return -ENOEXEC;
	a->on_addr = proc__file_addr(pr, lib, offs[0]);
	a->off_addr = proc__file_addr(pr, lib, offs[1]);
	return a->on_addr && a->off_addr ? 0 : -ENOEXEC;
}

int agent__probes(const char *lib, char *real, size_t realsize,
		  uint64_t ret_offs[2], char *err, size_t errlen)
{
	static const char *const names[] = {
		PROFD_AGENT_PROBE_ALLOC, PROFD_AGENT_PROBE_FREE,
	};
	char buf[PATH_MAX];
	int fd, r;

	if (!realpath(lib, buf)) {
		r = -errno;
		snprintf(err, errlen, "the in-process agent %s is missing: %s",
			 lib, strerror(-r));
		return r;
	}
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open the in-process agent %s: %s",
			 buf, strerror(-r));
		return r;
	}
	r = elfsyms__find(fd, names, 2, ret_offs);
	close(fd);
	if (r != 2) {
		snprintf(err, errlen, "%s is not profd's in-process agent "
			 "(no probe points)", buf);
		return -ENOEXEC;
	}
	snprintf(real, realsize, "%s", buf);
	return 0;
}

int agent__load(struct symbolizer *sym, pid_t pid, const char *lib,
		const char *allocator, struct agent *ret, char *err,
		size_t errlen)
{
	static const char *const dl_names[] = { "dlopen", "dlerror" };
	struct agent a = { .pid = pid };
	struct proc *pr = NULL;
	struct proc_ids ids;
	char libc[PATH_MAX] = "", real[PATH_MAX], msg[256];
	uint64_t dl[2] = {}, lo, hi;
	int64_t handle = 0;
	size_t i;
	int fd, r;

	err[0] = 0;
	if (!realpath(lib, real)) {
		r = -errno;
		snprintf(err, errlen, "the in-process agent %s is missing: %s",
			 lib, strerror(errno));
		return r;
	}
	r = proc__read_ids(pid, &ids);
	if (r < 0)
		return r;
	a.start_time = ids.start_time;
	if (!same_file(pid, real)) {
		snprintf(err, errlen, "process %d does not see profd's agent at "
			 "%s (a container?): in-process mode cannot load it there "
			 "yet; use mode=uprobe", pid, real);
		return -EXDEV;
	}
	if (seccomp_mode(pid)) {
		snprintf(err, errlen, "process %d runs under a seccomp filter, "
			 "which loading the in-process agent could break; use "
			 "mode=uprobe", pid);
		return -EPERM;
	}
	r = proc__new(sym, pid, &pr);
	if (r < 0)
		return r;
	for (i = 0; i < pr->nmaps; i++) {
		const struct proc_map *m = &pr->maps[i];

		if (!strncmp(base_name(m->path), "libc.so", 7))
			snprintf(libc, sizeof(libc), "%s", m->path);
		if (!strncmp(base_name(m->path), "ld-linux", 8))
			add_unsafe(&a, m->start, m->end);
		if (m->is_main && !strcmp(m->path, allocator)) {
			snprintf(err, errlen, "process %d has its allocator "
				 "linked into the executable; in-process mode "
				 "redirects calls to a shared library's malloc "
				 "only: use mode=uprobe", pid);
			r = -ENOTSUP;
			goto out;
		}
	}
	if (!libc[0]) {
		snprintf(err, errlen, "process %d does not use glibc's libc.so.6 "
			 "(static or another libc): use mode=uprobe", pid);
		r = -ENOTSUP;
		goto out;
	}
	fd = open_in(pid, libc);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	(void)elfsyms__find(fd, dl_names, 2, dl);
	if (elfsyms__span(fd, malloc_names, sizeof(malloc_names) /
				 sizeof(malloc_names[0]), &lo, &hi) == 0)
		add_unsafe_offs(&a, pr, libc, lo, hi);
	for (i = 0; i < sizeof(locked_names) / sizeof(locked_names[0]); i++)
		if (elfsyms__span(fd, &locked_names[i], 1, &lo, &hi) == 0)
			add_unsafe_offs(&a, pr, libc, lo, hi);
	close(fd);
	if (strcmp(allocator, libc))
		add_unsafe_file(&a, pr, allocator);	/* jemalloc, tcmalloc... */
	/* An agent whose file was replaced since (an upgrade): dlopen would
	 * hand back that copy, and the probes are on the new file. */
	for (i = 0; i < pr->nmaps; i++) {
		const char *mp = pr->maps[i].path;
		size_t rl = strlen(real);

		if (strncmp(mp, real, rl) || strcmp(mp + rl, " (deleted)"))
			continue;
		snprintf(err, errlen, "process %d holds an older copy of profd's "
			 "agent (%s was replaced since it was loaded): "
			 "in-process mode needs the process restarted; use "
			 "mode=uprobe", pid, real);
		r = -ESTALE;
		goto out;
	}
	if (find_agent(&a, pr, real) < 0) {
		uint64_t args[2] = { INJECT_DATA, RTLD_NOW };

		if (!dl[0]) {
			snprintf(err, errlen, "process %d's libc has no dlopen "
				 "(glibc before 2.34): use mode=uprobe", pid);
			r = -ENOTSUP;
			goto out;
		}
		r = call(&a, pr, proc__file_addr(pr, libc, dl[0]), args, 2,
			 real, strlen(real) + 1, &handle);
		if (r < 0)
			goto out;
		if (!handle) {
			remote_dlerror(&a, pr, proc__file_addr(pr, libc, dl[1]), msg,
				       sizeof(msg));
			snprintf(err, errlen, "dlopen of the in-process agent "
				 "failed in process %d: %s", pid,
				 msg[0] ? msg : "(no reason given)");
			r = -ENOEXEC;
			goto out;
		}
		(void)proc__refresh(pr, sym, now_ns(), 0);
		r = find_agent(&a, pr, real);
		if (r < 0)
			goto out;
	}
	add_unsafe(&a, a.lo, a.hi);
	/* By its file name: the soname, which the loader matches. */
	snprintf(a.allocator, sizeof(a.allocator), "%s", base_name(allocator));
	*ret = a;
	r = 0;
out:
	if (r < 0 && !err[0]) {
		if (r == -EPERM)
			snprintf(err, errlen, "cannot trace process %d (is a "
				 "debugger or tracer attached?); use mode=uprobe",
				 pid);
		else if (r == -EAGAIN)
			snprintf(err, errlen, "process %d did not stop outside "
				 "its allocator within %d ms; try again",
				 pid, PATIENCE_MS);
		else if (r == -EINTR)
			snprintf(err, errlen, "process %d: its threads sleep in "
				 "calls that an interruption would make fail "
				 "(epoll_wait, socket I/O with a timeout...), and "
				 "none ran within %d ms; try again while it is busy, "
				 "or use mode=uprobe", pid, PATIENCE_MS);
		else
			snprintf(err, errlen, "loading the in-process agent "
				 "into process %d failed: %s", pid, strerror(-r));
	}
	proc__free(pr);
	return r;
}

/* A fresh view of the process, if it is still the one @a was loaded in. */
static int reopen(const struct agent *a, struct symbolizer *sym,
		  struct proc **ret)
{
	struct proc_ids ids;
	int r = proc__read_ids(a->pid, &ids);

	if (r < 0)
		return r;
	if (ids.start_time != a->start_time)
		return -ESRCH;
	return proc__new(sym, a->pid, ret);
}

int agent__on(struct agent *a, struct symbolizer *sym, uint64_t sample_bytes,
	      uint32_t epoch, uint64_t max_live)
{
	uint64_t args[4] = { sample_bytes, epoch, max_live, INJECT_DATA };
	struct proc *pr;
	int64_t v = 0;
	int r;

	r = reopen(a, sym, &pr);
	if (r < 0)
		return r;
	r = call(a, pr, a->on_addr, args, 4, a->allocator,
		 strlen(a->allocator) + 1, &v);
	proc__free(pr);
	if (r < 0)
		return r;
	if (v <= 0)
		return v < 0 && v > -4096 ? (int)v : -ENOENT;
	a->slots = (long)v;
	return 0;
}

int agent__off(struct agent *a, struct symbolizer *sym)
{
	struct proc *pr;
	int64_t v = 0;
	int r;

	r = reopen(a, sym, &pr);
	if (r < 0)
		return r == -ESRCH ? 0 : r;
	r = call(a, pr, a->off_addr, NULL, 0, NULL, 0, &v);
	proc__free(pr);
	if (r == -ESRCH)
		return 0;
	return r;
}
