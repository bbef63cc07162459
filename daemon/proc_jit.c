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
#include "jitmap.h"
#include "proc.h"
#include "procmaps.h"

#include "proc_int.h"

/*
 * JIT maps are written by the profiled process, which may be hostile: a
 * /tmp/perf-PID.map that is a symbolic link to a file only root may read
 * must not put that file's lines into a profile. So: no symbolic link on
 * the way (openat2 RESOLVE_NO_SYMLINKS under the process's root), a
 * regular file, owned by the process's own user, at most 32 MiB read.
 */
#define JIT_FILE_MAX (32u << 20)

static int jit_file_ok(int fd, const struct proc_ids *ids)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	if (st.st_uid != ids->euid && st.st_uid != ids->ruid)
		return -EPERM;
	return 0;
}

static int read_jit_file(int fd, const struct proc_ids *ids, char **ret,
			 size_t *ret_len)
{
	size_t cap = 1 << 16, len = 0;
	char *buf, *nb;
	ssize_t n;
	int r;

	r = jit_file_ok(fd, ids);
	if (r < 0)
		return r;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= JIT_FILE_MAX)
				break;	/* the first 32 MiB only */
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* The process's pid in its own PID namespace (NSpid's last field). */
static pid_t ns_pid(int dirfd)
{
	char *buf = NULL, *line, *end;
	size_t len;
	pid_t pid = 0;

	if (proc__read_file_at(dirfd, "status", 1 << 16, &buf, &len, NULL) < 0)
		return 0;
	line = strstr(buf, "\nNSpid:");
	if (line) {
		line += 7;
		end = strchr(line, '\n');
		if (end)
			*end = 0;
		end = strrchr(line, '\t');
		pid = (pid_t)strtol(end ? end + 1 : line, NULL, 10);
	}
	free(buf);
	return pid;
}

static int open_perfmap(int dirfd, pid_t nspid)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_BENEATH,
	};
	char path[64];
	int root, fd;

	root = openat(dirfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	snprintf(path, sizeof(path), "tmp/perf-%d.map", nspid);
	fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	if (fd < 0)
		fd = -errno;
	close(root);
	return fd;
}

/* The mapping of a jitdump file (jit-N.dump), opened by address. */
static int open_jitdump(struct proc *p)
{
	char name[64];
	uint64_t start = 0, end = 0;
	size_t i;
	int fd;

	pthread_mutex_lock(&p->lock);
	for (i = p->nmaps; i-- > 0;) {
		const char *b = strrchr(p->maps[i].path, '/');
		int n = -1;

		if (b && sscanf(b, "/jit-%*d.dump%n", &n) >= 0 && n > 0 &&
		    !b[n]) {
			start = p->maps[i].start;
			end = p->maps[i].end;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (!end)
		return -ENOENT;
	snprintf(name, sizeof(name), "map_files/%llx-%llx",
		 (unsigned long long)start, (unsigned long long)end);
	fd = openat(p->dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/* Read both files into a new table; under p->jit_lock. */
static void jit_reload(struct proc *p)
{
	struct jitmap *jm;
	struct proc_ids ids;
	bool any = false;
	char *buf;
	size_t len;
	pid_t nspid;
	int fd;

	if (proc__read_ids_at(p->dirfd, &ids) < 0)
		return;	/* gone: keep what was read */
	jm = calloc(1, sizeof(*jm));
	if (!jm)
		return;
	nspid = ns_pid(p->dirfd);
	fd = nspid > 0 ? open_perfmap(p->dirfd, nspid) : -ENOENT;
	if (fd >= 0) {
		if (read_jit_file(fd, &ids, &buf, &len) == 0) {
			any |= jitmap__parse_perfmap(jm, buf, len) == 0;
			free(buf);
		}
		close(fd);
	}
	fd = open_jitdump(p);
	if (fd >= 0) {
		if (read_jit_file(fd, &ids, &buf, &len) == 0) {
			any |= jitmap__parse_jitdump(jm, buf, len) == 0;
			free(buf);
		}
		close(fd);
	}
	if (!any) {
		jitmap__fini(jm);
		free(jm);
		return;
	}
	if (p->jit)
		jitmap__fini(p->jit);
	free(p->jit);
	p->jit = jm;
}

int proc__jit_name(struct proc *p, uint64_t addr, uint64_t now_ns,
		   char *buf, size_t size)
{
	const char *name = NULL;
	int r = -ENOENT;

	pthread_mutex_lock(&p->jit_lock);
	if (p->jit)
		name = jitmap__find(p->jit, addr, NULL);
	if (!name && (!p->jit_read_ns ||
		      now_ns - p->jit_read_ns >= 1000000000ULL)) {
		p->jit_read_ns = now_ns ? now_ns : 1;
		jit_reload(p);
		if (p->jit)
			name = jitmap__find(p->jit, addr, NULL);
	}
	if (name) {
		snprintf(buf, size, "%s", name);
		r = 0;
	}
	pthread_mutex_unlock(&p->jit_lock);
	return r;
}
