// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "procmaps.h"

/* Read a whole (proc) file, up to @max bytes. 0 or -errno. */
static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap), *nb;
	int fd, r = 0;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
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
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		free(buf);
		return r == -ENOENT ? -ESRCH : r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int proc__read_ids(pid_t pid, struct proc_ids *ret)
{
	struct proc_ids ids = {};
	char path[64], *buf = NULL, *p;
	size_t len;
	int r, field;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	r = read_file(path, 1 << 16, &buf, &len);
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

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	r = read_file(path, 1 << 16, &buf, &len);
	if (r < 0)
		goto out;
	p = strstr(buf, "\nTgid:");
	ids.tgid = p ? (pid_t)strtol(p + 6, NULL, 10) : pid;
	p = strstr(buf, "\nUid:");
	if (!p || sscanf(p + 5, "%u %u %u", &ids.ruid, &ids.euid,
			 &ids.suid) != 3) {
		r = -EIO;
		goto out;
	}
	*ret = ids;
	r = 0;
out:
	free(buf);
	return r;
}

/*
 * Open the file behind a mapping as the process sees it: through its root
 * (containers), checked against the mapping's inode so a binary replaced
 * on disk is never used to symbolize the old code; map_files as fallback.
 */
static int open_mapping(pid_t pid, const struct procmaps_entry *e)
{
	char path[PATH_MAX + 64];
	struct stat st;
	int fd;

	if (e->path[0] == '/') {
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, e->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (fstat(fd, &st) == 0 && st.st_ino == e->inode)
				return fd;
			close(fd);
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)e->start, (unsigned long long)e->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
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
	char path[64], exe[PATH_MAX], *buf = NULL;
	struct procmaps pm = {};
	ssize_t exelen;
	size_t len, i;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	r = read_file(path, 64 << 20, &buf, &len);
	if (r < 0)
		goto out;
	r = procmaps__parse(buf, len, &pm, NULL);
	if (r < 0)
		goto out;
	snprintf(path, sizeof(path), "/proc/%d/exe", p->pid);
	exelen = readlink(path, exe, sizeof(exe) - 1);
	exe[exelen > 0 ? exelen : 0] = 0;

	p->gen++;
	for (i = 0; i < pm.n; i++) {
		const struct procmaps_entry *e = &pm.e[i];
		struct proc_map *m, *nm;
		int fd;

		if (!(e->perms & PROCMAPS_X) || !e->path[0] ||
		    have_map(p, e))
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
		m->path = strdup(e->path);
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
			fd = open_mapping(p->pid, e);
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
	struct proc_ids ids;
	struct proc *p;
	int r;

	r = proc__read_ids(pid, &ids);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->pid = pid;
	p->start_time = ids.start_time;
	memcpy(p->comm, ids.comm, sizeof(p->comm));
	p->refs = 1;
	r = refresh_locked(p, sym);
	if (r < 0) {
		proc__free(p);
		return r;
	}
	*ret = p;
	return 0;
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
