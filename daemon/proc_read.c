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

/* Reading /proc: files, ids, paths under its root, pidrefs (proc_int.h). */

/*
 * Read an open (proc) file from its start, up to @max bytes. 0 or -errno.
 */
int proc__read_fd(int fd, size_t max, char **ret, size_t *ret_len)
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
int proc__read_file_at(int dirfd, const char *name, size_t max, char **ret,
		       size_t *ret_len, struct stat *ret_st)
{
	int fd, r;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	r = ret_st && fstat(fd, ret_st) < 0 ? -errno : 0;
	if (r == 0)
		r = proc__read_fd(fd, max, ret, ret_len);
	close(fd);
	return r == -ENOENT ? -ESRCH : r;
}

int proc__read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	return proc__read_file_at(AT_FDCWD, path, max, ret, ret_len, NULL);
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

	r = proc__read_file_at(dirfd, "stat", 1 << 16, &buf, &len, NULL);
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

	r = proc__read_file_at(dirfd, "status", 1 << 16, &buf, &len, &st);
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

int pidref__open_dir(struct pidref *r)
{
	char path[64];
	int e;

	if (r->dirfd >= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d", (int)r->pid);
	r->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/*
	 * The pidfd names the process that had the pid when it was opened;
	 * if that one still lives, nobody else had the pid in between, and
	 * the directory is its.
	 */
	if (!pidref__alive(r)) {
		e = -ESRCH;
		close(r->dirfd);
		r->dirfd = -1;
		return e;
	}
	return 0;
}

int pidref__open(pid_t pid, struct pidref *ret)
{
	struct pidref r = PIDREF_NONE;
	int e;

	if (pid <= 0)
		return -ESRCH;
	r.pid = pid;
	r.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (r.pidfd < 0)	/* EINVAL: a thread, not a process */
		return errno == EINVAL ? -ESRCH : -errno;
	e = pidref__open_dir(&r);
	if (e < 0) {
		pidref__close(&r);
		return e;
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

