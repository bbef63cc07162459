// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <poll.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "clock.h"
#include "jitmap_proc.h"
#include "proc.h"
#include "procmaps.h"

/*
 * Read an open (proc) file from its start, up to @max bytes. 0 or -errno.
 */
static int read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap), *nb;
	int r = 0;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	if (lseek(fd, 0, SEEK_SET) < 0 && errno != ESPIPE) {
		r = -errno;
		goto out;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= max) {
				r = -EFBIG;
				goto out;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
out:
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/*
 * Read a whole (proc) file @name under @dirfd, and its attributes into
 * @ret_st (may be NULL). 0 or -errno (-ESRCH: the process is gone).
 */
static int read_file_at(int dirfd, const char *name, size_t max, char **ret,
			size_t *ret_len, struct stat *ret_st)
{
	int fd, r;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	r = ret_st && fstat(fd, ret_st) < 0 ? -errno : 0;
	if (r == 0)
		r = read_fd(fd, max, ret, ret_len);
	close(fd);
	return r == -ENOENT ? -ESRCH : r;
}

static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	return read_file_at(AT_FDCWD, path, max, ret, ret_len, NULL);
}

int proc__read_ids(pid_t pid, struct proc_ids *ret)
{
	char path[64];
	int fd, r;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	r = proc__read_ids_at(fd, ret);
	close(fd);
	return r;
}

int proc__read_ids_at(int dirfd, struct proc_ids *ret)
{
	struct proc_ids ids = {};
	char *buf = NULL, *p;
	struct stat st;
	size_t len;
	int r, field;

	r = read_file_at(dirfd, "stat", 1 << 16, &buf, &len, NULL);
	if (r < 0)
		return r;
	/* "pid (comm) state ..." — comm may hold spaces and parens. */
	p = strrchr(buf, ')');
	if (!p) {
		r = -EIO;
		goto out;
	}
	{
		char *lp = strchr(buf, '(');
		size_t cl = lp ? (size_t)(p - lp - 1) : 0;

		if (cl >= sizeof(ids.comm))
			cl = sizeof(ids.comm) - 1;
		if (lp)
			memcpy(ids.comm, lp + 1, cl);
	}
	/* field 3 (state) starts at p + 2; flags is field 9, starttime 22 */
	for (field = 2, p++; *p && field < 22; p++) {
		if (*p != ' ')
			continue;
		field++;
		if (field == 9)	/* PF_KTHREAD */
			ids.kthread = (strtoull(p + 1, NULL, 10) & 0x00200000) != 0;
	}
	ids.start_time = strtoull(p, NULL, 10);
	free(buf);
	buf = NULL;

	r = read_file_at(dirfd, "status", 1 << 16, &buf, &len, &st);
	if (r < 0)
		goto out;
	p = strstr(buf, "\nTgid:");
	ids.tgid = p ? (pid_t)strtol(p + 6, NULL, 10) : 0;
	p = strstr(buf, "\nUid:");
	if (!p || sscanf(p + 5, "%u %u %u", &ids.ruid, &ids.euid,
			 &ids.suid) != 3) {
		r = -EIO;
		goto out;
	}
	p = strstr(buf, "\nGid:");
	if (!p || sscanf(p + 5, "%u %u %u", &ids.rgid, &ids.egid,
			 &ids.sgid) != 3) {
		r = -EIO;
		goto out;
	}
	ids.dumpable = st.st_uid == ids.euid && st.st_gid == ids.egid;
	*ret = ids;
	r = 0;
out:
	free(buf);
	return r;
}

int proc__open_in_root(int dirfd, const char *path)
{
	char full[PATH_MAX + 8];

	snprintf(full, sizeof(full), "root%s", path);
	return openat(dirfd, full, O_RDONLY | O_CLOEXEC);
}

FILE *pidref__fopen(const struct pidref *r, const char *name)
{
	FILE *f;
	int fd;

	fd = openat(r->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "re");
	if (!f) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return f;
}

int pidref__open(pid_t pid, struct pidref *ret)
{
	struct pidref r = PIDREF_NONE;
	char path[64];
	int e;

	if (pid <= 0)
		return -ESRCH;
	r.pid = pid;
	r.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (r.pidfd < 0)	/* EINVAL: a thread, not a process */
		return errno == EINVAL ? -ESRCH : -errno;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	r.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r.dirfd < 0) {
		e = errno == ENOENT ? -ESRCH : -errno;
		pidref__close(&r);
		return e;
	}
	/*
	 * The pidfd names the process that had the pid when it was opened;
	 * if that one still lives, nobody else had the pid in between, and
	 * the directory is its.
	 */
	if (!pidref__alive(&r)) {
		pidref__close(&r);
		return -ESRCH;
	}
	*ret = r;
	return 0;
}

bool pidref__alive(const struct pidref *r)
{
	struct pollfd pfd = { .fd = r->pidfd, .events = POLLIN };

	if (r->pidfd < 0)
		return false;
	return poll(&pfd, 1, 0) == 0;
}

int pidref__dup(const struct pidref *r, struct pidref *ret)
{
	struct pidref d = PIDREF_NONE;
	int e;

	d.pid = r->pid;
	d.pidfd = fcntl(r->pidfd, F_DUPFD_CLOEXEC, 3);
	if (d.pidfd >= 0)
		d.dirfd = fcntl(r->dirfd, F_DUPFD_CLOEXEC, 3);
	if (d.pidfd < 0 || d.dirfd < 0) {
		e = -errno;
		pidref__close(&d);
		return e;
	}
	*ret = d;
	return 0;
}

void pidref__close(struct pidref *r)
{
	if (r->pidfd >= 0)
		close(r->pidfd);
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->pidfd = r->dirfd = -1;
}

/*
 * Open the file behind a mapping as the process sees it: through its root
 * (containers), checked against the mapping's inode so a binary replaced
 * on disk is never used to symbolize the old code; map_files as fallback.
 */
static int open_mapping(int dirfd, const struct procmaps_entry *e)
{
	char path[PATH_MAX + 64];
	struct stat st;
	int fd;

	if (e->path[0] == '/') {
		fd = proc__open_in_root(dirfd, e->path);
		if (fd >= 0) {
			if (fstat(fd, &st) == 0 && st.st_ino == e->inode)
				return fd;
			close(fd);
		}
	}
	/* By address, checked too: after an exec another image's file may
	 * be mapped there. */
	snprintf(path, sizeof(path), "map_files/%llx-%llx",
		 (unsigned long long)e->start, (unsigned long long)e->end);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_ino != e->inode) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static bool have_map(struct proc *p, const struct procmaps_entry *e)
{
	size_t i;

	for (i = 0; i < p->nmaps; i++) {
		const struct proc_map *m = &p->maps[i];

		if (m->start == e->start && m->end == e->end &&
		    m->offset == e->offset && m->inode == e->inode)
			return true;
	}
	return false;
}

/*
 * The vDSO has no file, but every process of one kernel and ABI maps the
 * same image: symbolize theirs from a copy of ours, kept in a memfd.
 */
static int vdso_memfd = -1;
static pthread_once_t vdso_once = PTHREAD_ONCE_INIT;

static void vdso_init(void)
{
	char *buf = NULL, *line, *save = NULL;
	unsigned long base = getauxval(AT_SYSINFO_EHDR), lo, hi;
	size_t len;
	int fd;

	if (!base || read_file("/proc/self/maps", 16 << 20, &buf, &len) < 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, "[vdso]") ||
		    sscanf(line, "%lx-%lx", &lo, &hi) != 2 || lo != base)
			continue;
		fd = memfd_create("vdso", MFD_CLOEXEC);
		if (fd >= 0 && write(fd, (void *)lo, hi - lo) == (ssize_t)(hi - lo))
			vdso_memfd = fd;
		else if (fd >= 0)
			close(fd);
		break;
	}
	free(buf);
}

/* Under p->lock. */
static int refresh_locked(struct proc *p, struct symbolizer *sym)
{
	char exe[PATH_MAX], *buf = NULL;
	struct procmaps pm = {};
	ssize_t exelen;
	size_t len, i;
	int r;

	/* Before the maps: were it after, an exec in between could name
	 * another image's executable. */
	exelen = readlinkat(p->dirfd, "exe", exe, sizeof(exe) - 1);
	exe[exelen > 0 ? exelen : 0] = 0;
	r = read_fd(p->maps_fd, 64 << 20, &buf, &len);
	if (r == 0 && len == 0 && p->nmaps)
		r = -ESRCH;	/* its image's memory is gone: exec or exit */
	if (r < 0)
		goto out;
	r = procmaps__parse(buf, len, &pm, NULL);
	if (r < 0)
		goto out;

	p->gen++;
	for (i = 0; i < pm.n; i++) {
		const struct procmaps_entry *e = &pm.e[i];
		struct proc_map *m, *nm;
		int fd;

		/* Anonymous executable memory is JIT code: kept, with no
		 * file, named from the process's perf map or jitdump. */
		if (!(e->perms & PROCMAPS_X) || have_map(p, e))
			continue;
		if (p->nmaps >= PROC_MAX_MAPS)
			break;
		nm = realloc(p->maps, (p->nmaps + 1) * sizeof(*nm));
		if (!nm) {
			r = -ENOMEM;
			goto out;
		}
		p->maps = nm;
		m = &p->maps[p->nmaps];
		memset(m, 0, sizeof(*m));
		m->anon = !e->path[0] || !strncmp(e->path, "[anon", 5);
		m->path = strdup(m->anon ? "[jit]" : e->path);
		if (!m->path) {
			r = -ENOMEM;
			goto out;
		}
		m->start = e->start;
		m->end = e->end;
		m->offset = e->offset;
		m->inode = e->inode;
		m->gen = p->gen;
		m->is_main = exe[0] && !strcmp(exe, e->path);
		/* Pseudo files have no file to open; the vDSO is ours. */
		if (!strcmp(e->path, "[vdso]")) {
			pthread_once(&vdso_once, vdso_init);
			if (vdso_memfd < 0 ||
			    symbolizer__get(sym, vdso_memfd, "[vdso]",
					    &m->bin) < 0)
				m->bin = NULL;
		} else if (e->path[0] == '/' && e->inode) {
			fd = open_mapping(p->dirfd, e);
			if (fd >= 0) {
				if (symbolizer__get(sym, fd, e->path, &m->bin) < 0)
					m->bin = NULL;
				close(fd);
			}
			if (!m->bin)
				p->open_failures++;
		}
		p->nmaps++;
	}
	p->refreshes++;
	r = 0;
out:
	procmaps__fini(&pm);
	free(buf);
	if (r == -ESRCH)
		p->gone = true;
	return r;
}

int proc__new(struct symbolizer *sym, pid_t pid, struct proc **ret)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	r = proc__new_at(sym, pid, fd, ret);
	close(fd);
	return r;
}

int proc__new_at(struct symbolizer *sym, pid_t pid, int dirfd,
		 struct proc **ret)
{
	struct proc_ids ids;
	struct proc *p;
	int r;

	r = proc__read_ids_at(dirfd, &ids);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->jit_lock, NULL);
	p->pid = pid;
	p->start_time = ids.start_time;
	memcpy(p->comm, ids.comm, sizeof(p->comm));
	p->refs = 1;
	p->maps_fd = -1;
	p->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (p->dirfd < 0) {
		r = -errno;
		goto fail;
	}
	p->maps_fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC);
	if (p->maps_fd < 0) {
		r = errno == ENOENT ? -ESRCH : -errno;
		goto fail;
	}
	r = refresh_locked(p, sym);
	if (r < 0)
		goto fail;
	*ret = p;
	return 0;
fail:
	proc__free(p);
	return r;
}

void proc__free(struct proc *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nmaps; i++) {
		sym_binary__put(p->maps[i].bin);
		free(p->maps[i].path);
	}
	free(p->maps);
	proc_jit__free(p->jit);
	pthread_mutex_destroy(&p->jit_lock);
	if (p->dirfd >= 0)
		close(p->dirfd);
	if (p->maps_fd >= 0)
		close(p->maps_fd);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int proc__refresh(struct proc *p, struct symbolizer *sym, uint64_t now_ns,
		  uint64_t min_interval_ns)
{
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (p->gone) {
		r = -ESRCH;
	} else if (now_ns - p->last_refresh_ns >= min_interval_ns) {
		p->last_refresh_ns = now_ns;
		r = refresh_locked(p, sym);
		if (r == 0)
			r = 1;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

/*
 * Linear scans: a process has tens to a few hundred executable mappings,
 * and these run once per unique address (resolve) or once per sampled
 * frame at ≤1 kHz (covers) — cheaper than keeping an interval tree.
 */
static const struct proc_map *find_locked(struct proc *p, uint64_t addr,
					  size_t *ret_idx)
{
	const struct proc_map *best = NULL;
	size_t i;

	for (i = 0; i < p->nmaps; i++) {
		const struct proc_map *m = &p->maps[i];

		if (addr >= m->start && addr < m->end &&
		    (!best || m->gen > best->gen)) {
			best = m;
			*ret_idx = i;
		}
	}
	return best;
}

size_t proc__nmaps(struct proc *p)
{
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->nmaps;
	pthread_mutex_unlock(&p->lock);
	return n;
}

bool proc__covers(struct proc *p, const uint64_t *ips, unsigned n)
{
	bool ok = true;
	size_t idx;
	unsigned i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < n && ok; i++)
		ok = find_locked(p, ips[i], &idx) != NULL;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

int proc__find_binary(struct proc *p, uint64_t addr, struct sym_binary **ret,
		      uint64_t *ret_offset)
{
	const struct proc_map *m;
	size_t idx = 0;
	int r = -ENOENT;

	pthread_mutex_lock(&p->lock);
	m = find_locked(p, addr, &idx);
	if (m && m->bin) {
		*ret = m->bin;
		*ret_offset = addr - m->start + m->offset;
		r = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

int proc__resolve(struct proc *p, uint64_t addr, struct proc_map *ret,
		  size_t *ret_idx)
{
	const struct proc_map *m;
	size_t idx = 0;
	int r = -ENOENT;

	pthread_mutex_lock(&p->lock);
	m = find_locked(p, addr, &idx);
	if (m) {
		*ret = *m;
		if (ret->bin)
			sym_binary__ref(ret->bin);
		*ret_idx = idx;
		r = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

uint64_t proc__file_addr(struct proc *p, const char *path, uint64_t off)
{
	uint64_t ret = 0;
	size_t i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->nmaps && !ret; i++) {
		const struct proc_map *m = &p->maps[i];

		if (!strcmp(m->path, path) && off >= m->offset &&
		    off < m->offset + (m->end - m->start))
			ret = m->start + (off - m->offset);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

struct proc_cache {
	pthread_mutex_t lock;
	struct symbolizer *sym;
	struct proc *head;
	unsigned n;
};

int proc_cache__new(struct symbolizer *sym, struct proc_cache **ret)
{
	struct proc_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->sym = sym;
	*ret = c;
	return 0;
}

void proc_cache__free(struct proc_cache *c)
{
	struct proc *p;

	if (!c)
		return;
	while ((p = c->head)) {	/* a user that never put it: a bug */
		c->head = p->cache_next;
		proc__free(p);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

struct symbolizer *proc_cache__symbolizer(struct proc_cache *c)
{
	return c->sym;
}

/* Under the cache's lock. */
static struct proc *proc_cache__find(struct proc_cache *c, pid_t pid,
				     uint64_t start_time, uint64_t image)
{
	struct proc *p;
	bool gone;

	for (p = c->head; p; p = p->cache_next) {
		if (p->pid != pid || p->start_time != start_time ||
		    p->image != image)
			continue;
		pthread_mutex_lock(&p->lock);
		gone = p->gone;
		pthread_mutex_unlock(&p->lock);
		if (!gone)
			return p;
	}
	return NULL;
}

int proc__get(struct proc_cache *c, pid_t pid, int dirfd, uint64_t start_time,
	      uint64_t image, struct proc **ret)
{
	struct proc *p, *fresh = NULL;
	int r;

	pthread_mutex_lock(&c->lock);
	p = proc_cache__find(c, pid, start_time, image);
	if (p)
		p->refs++;
	pthread_mutex_unlock(&c->lock);
	if (p) {
		*ret = p;
		return 0;
	}
	/* Reading maps and opening binaries takes a while: unlocked. */
	r = proc__new_at(c->sym, pid, dirfd, &fresh);
	if (r < 0)
		return r;
	if (fresh->start_time != start_time) {
		proc__free(fresh);	/* not the process asked for */
		return -ESRCH;
	}
	fresh->image = image;
	pthread_mutex_lock(&c->lock);
	p = proc_cache__find(c, pid, start_time, image);
	if (p) {
		p->refs++;	/* captured meanwhile by another user */
	} else {
		fresh->cache = c;
		fresh->cache_next = c->head;
		c->head = fresh;
		c->n++;
		p = fresh;
		fresh = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	proc__free(fresh);
	*ret = p;
	return 0;
}

struct proc *proc__hold(struct proc *p)
{
	if (p->cache)
		pthread_mutex_lock(&p->cache->lock);
	p->refs++;
	if (p->cache)
		pthread_mutex_unlock(&p->cache->lock);
	return p;
}

void proc__put(struct proc *p)
{
	struct proc_cache *c;
	struct proc **pp;
	int left;

	if (!p)
		return;
	c = p->cache;
	if (!c) {
		if (--p->refs <= 0)
			proc__free(p);
		return;
	}
	pthread_mutex_lock(&c->lock);
	left = --p->refs;
	if (left <= 0) {
		for (pp = &c->head; *pp; pp = &(*pp)->cache_next) {
			if (*pp == p) {
				*pp = p->cache_next;
				c->n--;
				break;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (left <= 0)
		proc__free(p);	/* out of the cache: nobody finds it */
}

int proc__get_current(struct proc_cache *c, pid_t pid, int dirfd,
		      uint64_t start_time, uint64_t image, struct proc **ret)
{
	struct proc *p;
	int r;

	r = proc__get(c, pid, dirfd, start_time, image, &p);
	if (r < 0)
		return r;
	if (proc__refresh(p, c->sym, now_ns(CLOCK_MONOTONIC), 0) == -ESRCH) {
		proc__put(p);
		return -ESRCH;
	}
	*ret = p;
	return 0;
}

