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

#include "proc_int.h"

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

	if (!base || proc__read_file("/proc/self/maps", 16 << 20, &buf, &len) < 0)
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
	r = proc__read_fd(p->maps_fd, 64 << 20, &buf, &len);
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

