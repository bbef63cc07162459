// SPDX-License-Identifier: GPL-2.0
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "elfsyms.h"
#include "inject.h"
#include "proc.h"
#include "profd_abi.h"
#include "profd_agent.h"
#include "unwind.h"

#define PATIENCE_MS 3000	/* to find a thread stopped at a safe point */
/* For the call to return: dlopen of the agent takes about a millisecond;
 * a second is a call that waits on something (a lock held elsewhere). */
#define DEADLINE_MS 2000
/* Stack the called code may use below the thread's: dlopen and the
 * agent's walks need a few KiB; threads with less free (small coroutine
 * stacks, alternate signal stacks) are not used. */
#define STACK_NEED (64 << 10)
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

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
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
static void add_unsafe_file(struct agent *a, struct proc *pr,
			    const char *path)
{
	size_t i;

	pthread_mutex_lock(&pr->lock);
	for (i = 0; i < pr->nmaps; i++)
		if (!strcmp(pr->maps[i].path, path))
			add_unsafe(a, pr->maps[i].start, pr->maps[i].end);
	pthread_mutex_unlock(&pr->lock);
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
static int check_stop(void *ctx, int memfd, const struct user_regs_struct *r)
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

		if (chunk > CHECK_STACK - len)
			chunk = CHECK_STACK - len;
		if (pread(memfd, c->stack + len, chunk, (off_t)at) !=
		    (ssize_t)chunk)
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

/* Is the process still the one, and the image, @a is bound to? */
static int still_there(void *ctx)
{
	const struct agent *a = ctx == NULL ? NULL : ((struct check_ctx *)ctx)->a;

	return target__current(&a->t);
}

/*
 * Call @fn in @a's process with @args. A call that faulted or hung marks
 * @a poisoned (and says why): the caller never calls into it again.
 */
static int agent__call(struct agent *a, struct proc *pr, uint64_t fn,
		       const uint64_t *args, unsigned nargs, void *data,
		       size_t dlen, int64_t *ret)
{
	struct check_ctx c = { a, pr, malloc(CHECK_STACK) };
	struct inject_opts o = {
		.check = check_stop, .verify = still_there, .ctx = &c,
		.patience_ms = PATIENCE_MS, .deadline_ms = DEADLINE_MS,
		.stack_need = STACK_NEED,
	};
	struct inject_call ic = { .fn = fn, .nargs = nargs, .data = data,
				  .dlen = dlen };
	char why[256];
	unsigned i;
	int r;

	if (!c.stack)
		return -ENOMEM;
	for (i = 0; i < nargs && i < 6; i++)
		ic.args[i] = args[i];
	r = inject__call(&a->t.ref, &o, &ic, ret, why, sizeof(why));
	free(c.stack);
	if (r == -EFAULT || r == -ETIMEDOUT || r == -EIO) {
		a->poisoned = true;
		snprintf(a->why, sizeof(a->why), "%s", why);
		return -EFAULT;
	}
	if (r < 0 && why[0])
		snprintf(a->why, sizeof(a->why), "%s", why);
	return r;
}

/*
 * Does @path, as the process sees it (through its root), name the file
 * profd sees? Under systemd profd has a mount namespace of its own
 * (PrivateTmp, ProtectSystem), but /usr is the same files; a container's
 * root is not.
 */
static bool same_file(const struct target *t, const char *path)
{
	struct stat a, b;
	int fd;

	fd = proc__open_in_root(t->ref.dirfd, path);
	if (fd < 0)
		return false;
	if (stat(path, &a) < 0 || fstat(fd, &b) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* 0: no filter, 1: strict, 2: a filter (as /proc/PID/status says). */
static int seccomp_mode(const struct target *t)
{
	char line[256];
	int mode = 0;
	FILE *f;

	f = pidref__fopen(&t->ref, "status");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

/* A capture of @a's process's mappings, if it still runs @a's image. */
static int bound_proc(const struct agent *a, struct proc_cache *pc,
		      struct proc **ret)
{
	struct proc *pr;
	int r;

	r = target__current(&a->t);
	if (r < 0)
		return r;
	/* The capture CPU windows and the heap tracker share, its maps
	 * read again: the layout now, not at its capture. */
	r = proc__get_current(pc, a->t.ref.pid, a->t.ref.dirfd,
			      a->t.ids.start_time, a->t.image, &pr);
	if (r < 0)
		return r;
	/* Read before an exec the check missed? Then not this image's. */
	r = target__current(&a->t);
	if (r < 0) {
		proc__put(pr);
		return r;
	}
	*ret = pr;
	return 0;
}

/* The string dlerror() returns in the process, into @buf. */
static void remote_dlerror(struct agent *a, struct proc *pr, uint64_t fn,
			   char *buf, size_t size)
{
	int64_t p = 0;
	ssize_t n;
	int fd;

	buf[0] = 0;
	if (!fn || agent__call(a, pr, fn, NULL, 0, NULL, 0, &p) < 0 || !p)
		return;
	fd = openat(a->t.ref.dirfd, "mem", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (target__current(&a->t) == 0) {
		n = pread(fd, buf, size - 1, (off_t)p);
		buf[n > 0 ? n : 0] = 0;
		buf[strnlen(buf, size - 1)] = 0;
	}
	close(fd);
}

/* Where the agent is mapped in @pr, and its entry points. */
static int find_agent(struct agent *a, struct proc *pr, const char *lib)
{
	static const char *const names[] = {
		PROFD_AGENT_ON, PROFD_AGENT_OFF, PROFD_AGENT_RESCAN,
	};
	uint64_t offs[3];
	size_t i;
	int fd;

	a->lo = a->hi = 0;
	pthread_mutex_lock(&pr->lock);
	for (i = 0; i < pr->nmaps; i++) {
		const struct proc_map *m = &pr->maps[i];

		if (strcmp(m->path, lib))
			continue;
		if (!a->lo || m->start < a->lo)
			a->lo = m->start;
		if (m->end > a->hi)
			a->hi = m->end;
	}
	pthread_mutex_unlock(&pr->lock);
	if (!a->lo)
		return -ENOENT;
	fd = proc__open_in_root(a->t.ref.dirfd, lib);
	if (fd < 0)
		return -errno;
	i = (size_t)elfsyms__find(fd, names, 3, offs);
	close(fd);
	if (i != 3)
		return -ENOEXEC;
	a->on_addr = proc__file_addr(pr, lib, offs[0]);
	a->off_addr = proc__file_addr(pr, lib, offs[1]);
	a->rescan_addr = proc__file_addr(pr, lib, offs[2]);
	return a->on_addr && a->off_addr && a->rescan_addr ? 0 : -ENOEXEC;
}

/* Root's, and nobody else may change it: a file or a directory. */
static bool root_only(const struct stat *st, bool dir)
{
	if (st->st_uid != 0)
		return false;
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return true;
	/* /tmp: others may add entries, not replace root's. */
	return dir && (st->st_mode & S_ISVTX);
}

int agent__verify(const char *lib, char *real, size_t realsize, char *err,
		  size_t errlen)
{
	char buf[PATH_MAX], *slash, *p;
	struct stat st, fst;
	uint64_t version = 0;
	int fd, r;

	if (!realpath(lib, buf)) {
		r = -errno;
		snprintf(err, errlen, "the in-process agent %s is missing: %s",
			 lib, strerror(-r));
		return r;
	}
	/*
	 * What profd loads runs inside other users' processes, root's
	 * included: a file anyone but root could change would be a way in.
	 * Its directories too (a rename replaces it), from / down.
	 */
	for (p = buf; ; p = slash + 1) {
		bool dir;

		slash = strchr(p, '/');
		dir = slash != NULL;
		if (slash)
			*slash = 0;
		r = stat(buf[0] ? buf : "/", &st) < 0 ? -errno : 0;
		if (r == 0 && !root_only(&st, dir))
			snprintf(err, errlen, "refusing to load the in-process agent %s: %s %s is %s (uid %u, mode %04o); it must be root's and writable by root only: install it (make install), or chown root and chmod go-w",
				 lib, dir ? "directory" : "file",
				 buf[0] ? buf : "/",
				 st.st_uid ? "not root's" : "writable by others",
				 (unsigned)st.st_uid,
				 (unsigned)(st.st_mode & 07777));
		else if (r < 0)
			snprintf(err, errlen, "cannot check the in-process agent %s: %s: %s",
				 lib, buf[0] ? buf : "/", strerror(-r));
		if (slash)
			*slash = '/';
		if (r == 0 && !root_only(&st, dir))
			return -EPERM;
		if (r < 0)
			return r;
		if (!dir)
			break;
	}
	fd = open(buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) ||
	    fst.st_ino != st.st_ino || fst.st_dev != st.st_dev) {
		r = fd < 0 ? -errno : -EPERM;
		snprintf(err, errlen, "cannot open the in-process agent %s as the file checked: %s",
			 buf, fd < 0 ? strerror(errno) : "not that regular file");
		if (fd >= 0)
			close(fd);
		return r;
	}
	r = elfsyms__object(fd, PROFD_AGENT_VERSION_SYM, &version,
			    sizeof(version));
	close(fd);
	if (r < 0 || version != PROFD_AGENT_VERSION) {
		if (r < 0)
			snprintf(err, errlen, "refusing to load %s: it is not profd's in-process agent of version %d (no %s)",
				 buf, PROFD_AGENT_VERSION,
				 PROFD_AGENT_VERSION_SYM);
		else
			snprintf(err, errlen, "refusing to load %s: it is the in-process agent of version %" PRIu64 ", this profd needs version %d",
				 buf, version, PROFD_AGENT_VERSION);
		return -EPROTO;
	}
	snprintf(real, realsize, "%s", buf);
	return 0;
}

int agent__probes(const char *lib, char *real, size_t realsize,
		  uint64_t ret_offs[2], char *err, size_t errlen)
{
	static const char *const names[] = {
		PROFD_AGENT_PROBE_ALLOC, PROFD_AGENT_PROBE_FREE,
	};
	char buf[PATH_MAX];
	int fd, r;

	r = agent__verify(lib, buf, sizeof(buf), err, errlen);
	if (r < 0)
		return r;
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

int agent__load(struct proc_cache *pc, const struct target *t,
		const char *lib, const char *allocator, struct agent *ret,
		char *err, size_t errlen)
{
	static const char *const dl_names[] = { "dlopen", "dlerror" };
	struct agent a = { .t = TARGET_NONE };
	struct proc *pr = NULL;
	char libc[PATH_MAX] = "", real[PATH_MAX], msg[256];
	uint64_t dl[2] = {}, lo, hi;
	pid_t pid = t->ref.pid;
	int64_t handle = 0;
	size_t i;
	int fd, r;

	err[0] = 0;
	r = agent__verify(lib, real, sizeof(real), err, errlen);
	if (r < 0)
		return r;
	r = target__dup(t, &a.t);
	if (r < 0)
		return r;
	if (!same_file(&a.t, real)) {
		snprintf(err, errlen, "process %d does not see profd's agent at "
			 "%s (a container?): in-process mode cannot load it there "
			 "yet; use mode=uprobe", pid, real);
		r = -EXDEV;
		goto out;
	}
	if (seccomp_mode(&a.t)) {
		snprintf(err, errlen, "process %d runs under a seccomp filter, "
			 "which loading the in-process agent could break; use "
			 "mode=uprobe", pid);
		r = -EPERM;
		goto out;
	}
	r = bound_proc(&a, pc, &pr);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&pr->lock);
	for (i = 0; i < pr->nmaps && r == 0; i++) {
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
		}
	}
	pthread_mutex_unlock(&pr->lock);
	if (r < 0)
		goto out;
	if (!libc[0]) {
		snprintf(err, errlen, "process %d does not use glibc's libc.so.6 "
			 "(static or another libc): use mode=uprobe", pid);
		r = -ENOTSUP;
		goto out;
	}
	fd = proc__open_in_root(a.t.ref.dirfd, libc);
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
	pthread_mutex_lock(&pr->lock);
	for (i = 0; i < pr->nmaps && r == 0; i++) {
		const char *mp = pr->maps[i].path;
		size_t rl = strlen(real);

		if (strncmp(mp, real, rl) || strcmp(mp + rl, " (deleted)"))
			continue;
		snprintf(err, errlen, "process %d holds an older copy of profd's "
			 "agent (%s was replaced since it was loaded): "
			 "in-process mode needs the process restarted; use "
			 "mode=uprobe", pid, real);
		r = -ESTALE;
	}
	pthread_mutex_unlock(&pr->lock);
	if (r < 0)
		goto out;
	if (find_agent(&a, pr, real) < 0) {
		uint64_t args[2] = { INJECT_DATA, RTLD_NOW };

		if (!dl[0]) {
			snprintf(err, errlen, "process %d's libc has no dlopen "
				 "(glibc before 2.34): use mode=uprobe", pid);
			r = -ENOTSUP;
			goto out;
		}
		r = agent__call(&a, pr, proc__file_addr(pr, libc, dl[0]),
				args, 2, real, strlen(real) + 1, &handle);
		if (r < 0)
			goto out;
		if (!handle) {
			remote_dlerror(&a, pr, proc__file_addr(pr, libc, dl[1]),
				       msg, sizeof(msg));
			if (a.poisoned) {
				r = -EFAULT;
				goto out;
			}
			snprintf(err, errlen, "dlopen of the in-process agent "
				 "failed in process %d: %s", pid,
				 msg[0] ? msg : "(no reason given)");
			r = -ENOEXEC;
			goto out;
		}
		(void)proc__refresh(pr, proc_cache__symbolizer(pc),
				    now_ns(CLOCK_MONOTONIC), 0);
		r = find_agent(&a, pr, real);
		if (r < 0)
			goto out;
	}
	add_unsafe(&a, a.lo, a.hi);
	/* By its file name: the soname, which the loader matches. */
	snprintf(a.allocator, sizeof(a.allocator), "%s", base_name(allocator));
	a.nmaps_seen = proc__nmaps(pr);
	*ret = a;
	a.t = TARGET_NONE;	/* now *ret's */
	r = 0;
out:
	if (r < 0 && !err[0]) {
		if (a.poisoned)
			snprintf(err, errlen, "loading the in-process agent into "
				 "process %d failed: %s. profd will not call into "
				 "process %d again (poisoned); use mode=uprobe",
				 pid, a.why, pid);
		else if (r == -EPERM)
			snprintf(err, errlen, "cannot trace process %d (is a "
				 "debugger or tracer attached?); use mode=uprobe",
				 pid);
		else if (r == -EAGAIN)
			snprintf(err, errlen, "process %d did not stop outside "
				 "its allocator within %d ms%s%s; try again",
				 pid, PATIENCE_MS, a.why[0] ? ": " : "", a.why);
		else if (r == -EINTR)
			snprintf(err, errlen, "process %d: %s (within %d ms); "
				 "try again while it is busy, or use mode=uprobe",
				 pid, a.why[0] ? a.why :
				 "its threads sleep in calls that an interruption "
				 "would make fail (epoll_wait, socket I/O with a "
				 "timeout...)", PATIENCE_MS);
		else if (r == -ESTALE)
			snprintf(err, errlen, "process %d executed another "
				 "program while the agent was being loaded; try "
				 "again", pid);
		else
			snprintf(err, errlen, "loading the in-process agent "
				 "into process %d failed: %s", pid, strerror(-r));
	}
	proc__put(pr);
	target__release(&a.t);
	return r;
}

/* Call entry point @fn of @a with @args in and out. */
static int call_agent(struct agent *a, struct proc_cache *pc, uint64_t fn,
		      struct profd_agent_args *args, int64_t *ret)
{
	uint64_t argv[1] = { INJECT_DATA };
	struct proc *pr;
	int r;

	if (a->poisoned)
		return -EFAULT;
	r = bound_proc(a, pc, &pr);
	if (r < 0)
		return r;
	args->version = PROFD_AGENT_VERSION;
	r = agent__call(a, pr, fn, argv, 1, args, sizeof(*args), ret);
	a->nmaps_seen = proc__nmaps(pr);
	proc__put(pr);
	return r;
}

int agent__on(struct agent *a, struct proc_cache *pc, uint64_t sample_bytes,
	      uint32_t gen, uint64_t max_live, char *err, size_t errlen)
{
	struct profd_agent_args args = {
		.sample_bytes = sample_bytes, .gen = gen,
		.max_live = max_live,
	};
	int64_t v = 0;
	int r;

	snprintf(args.allocator, sizeof(args.allocator), "%s", a->allocator);
	r = call_agent(a, pc, a->on_addr, &args, &v);
	if (r == 0 && v <= 0)
		r = v < 0 && v > -4096 ? (int)v : -ENOENT;
	if (r < 0) {
		if (a->poisoned)
			snprintf(err, errlen, "switching on the in-process agent "
				 "in process %d failed: %s. profd will not call "
				 "into process %d again (poisoned); use mode=uprobe",
				 a->t.ref.pid, a->why, a->t.ref.pid);
		else
			snprintf(err, errlen, "switching on the in-process agent "
				 "in process %d failed: %s", a->t.ref.pid,
				 a->why[0] ? a->why : strerror(-r));
		return r;
	}
	a->slots = (long)args.slots;
	a->errors = (long)args.errors;
	return 0;
}

int agent__rescan(struct agent *a, struct proc_cache *pc)
{
	struct profd_agent_args args = {};
	int64_t v = 0;
	int r;

	r = call_agent(a, pc, a->rescan_addr, &args, &v);
	if (r < 0)
		return r;
	if (v < 0)
		return v > -4096 ? (int)v : -EIO;
	a->slots = (long)args.slots;
	a->errors = (long)args.errors;
	return 0;
}

int agent__off(struct agent *a, struct proc_cache *pc)
{
	struct profd_agent_args args = {};
	int64_t v = 0;
	int r;

	r = call_agent(a, pc, a->off_addr, &args, &v);
	/* Gone, or another image: the agent went with its image. */
	if (r == -ESRCH || r == -ESTALE)
		return 0;
	return r;
}

void agent__fini(struct agent *a)
{
	target__release(&a->t);
}
