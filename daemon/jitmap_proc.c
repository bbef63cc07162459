// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "jitmap.h"
#include "json.h"
#include "jitmap_proc.h"
#include "proc.h"

/*
 * JIT maps are written by the profiled process, which may be hostile: a
 * /tmp/perf-PID.map that is a symbolic link to a file only root may read
 * must not put that file's lines into a profile. So: no symbolic link on
 * the way (openat2 RESOLVE_NO_SYMLINKS under the process's root), a
 * regular file, owned by the process's own user, at most 32 MiB read.
 */
#define JIT_FILE_MAX (32u << 20)

/* What was read of one file: a new file (inode) is read from its start;
 * one that has not changed (size, mtime) is not read at all. */
struct jit_file {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct proc_jit {
	struct jitmap jm;
	struct jit_file perf, dump;
	pid_t nspid;			/* 0: not known yet, -1: none */
	uint64_t checked_ns;		/* last look at the files */
	/* Whether the process has anonymous executable memory (JIT code)
	 * or maps a jitdump file, as of the maps' refresh maps_gen: a
	 * process with neither is never looked at (no I/O), so a window on
	 * many processes pays only for those that JIT. ([vsyscall], an
	 * unreadable binary: no ELF file, no JIT either.) */
	unsigned maps_gen;
	bool has_jit, maps_known;
};

void proc_jit__free(struct proc_jit *j)
{
	if (!j)
		return;
	jitmap__fini(&j->jm);
	free(j);
}

/* The process's pid in its own PID namespace (NSpid's last field). */
static pid_t ns_pid(int dirfd)
{
	char buf[4096], *line, *end;
	pid_t pid = -1;
	ssize_t n;
	int fd;

	fd = openat(dirfd, "status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* try again later */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	line = strstr(buf, "\nNSpid:");
	if (line) {
		line += 7;
		end = strchr(line, '\n');
		if (end)
			*end = 0;
		end = strrchr(line, '\t');
		pid = (pid_t)strtol(end ? end + 1 : line, NULL, 10);
	}
	return pid > 0 ? pid : -1;
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

/* A mapping of a jitdump file (jit-N.dump)? */
static bool is_jitdump(const struct proc_map *m)
{
	const char *b = strrchr(m->path, '/');
	int n = -1;

	return b && sscanf(b, "/jit-%*d.dump%n", &n) >= 0 && n > 0 && !b[n];
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
		if (is_jitdump(&p->maps[i])) {
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

/*
 * What follows *@pos in @fd, when the file changed since @f was taken:
 * a new buffer in *ret (NULL: nothing new). Resets *@pos for a new or
 * truncated file. 0 or -errno.
 */
static int read_new(int fd, const struct proc_ids *ids, struct jit_file *f,
		    size_t *pos, char **ret, size_t *ret_len)
{
	struct stat st;
	size_t want, len = 0;
	char *buf;
	ssize_t n;

	*ret = NULL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	if (st.st_uid != ids->euid && st.st_uid != ids->ruid)
		return -EPERM;
	if (st.st_dev == f->dev && st.st_ino == f->ino &&
	    st.st_size == f->size &&
	    st.st_mtim.tv_sec == f->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == f->mtime.tv_nsec)
		return 0;	/* unchanged: the usual case, no read */
	if (st.st_dev != f->dev || st.st_ino != f->ino ||
	    (off_t)*pos > st.st_size)
		*pos = 0;	/* another file, or cut: from its start */
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	if (st.st_size <= (off_t)*pos || *pos >= JIT_FILE_MAX)
		return 0;
	want = (size_t)st.st_size - *pos;
	if (want > JIT_FILE_MAX - *pos)
		want = JIT_FILE_MAX - *pos;	/* the first 32 MiB only */
	buf = malloc(want);
	if (!buf)
		return -ENOMEM;
	while (len < want) {
		n = pread(fd, buf + len, want - len, (off_t)(*pos + len));
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

/* Read what is new in both files; under p->jit_lock. */
static void jit_update(struct proc *p, uint64_t now_ns)
{
	struct proc_jit *j = p->jit;
	struct proc_ids ids;
	char *buf;
	size_t len;
	int fd;

	if (proc__read_ids_at(p->dirfd, &ids) < 0)
		return;	/* gone: keep what was read */
	jitmap__configure();
	if (!j->nspid)
		j->nspid = ns_pid(p->dirfd);
	fd = j->nspid > 0 ? open_perfmap(p->dirfd, j->nspid) : -ENOENT;
	if (fd >= 0) {
		if (read_new(fd, &ids, &j->perf, &j->jm.perf_pos, &buf,
			     &len) == 0 && buf) {
			(void)jitmap__parse_perfmap(&j->jm, buf, len, now_ns);
			free(buf);
		}
		close(fd);
	}
	fd = open_jitdump(p);
	if (fd >= 0) {
		size_t before = j->jm.dump_pos;

		if (read_new(fd, &ids, &j->dump, &j->jm.dump_pos, &buf,
			     &len) == 0 && buf) {
			/* A new file starts with its header again. */
			if (j->jm.dump_pos < before)
				j->jm.dump_arch_ts = false;
			(void)jitmap__parse_jitdump(&j->jm, buf, len, now_ns);
			free(buf);
		}
		close(fd);
	}
}

/* Under p->jit_lock; takes p->lock. */
static bool may_jit(struct proc *p, struct proc_jit *j)
{
	size_t i;

	pthread_mutex_lock(&p->lock);
	if (!j->maps_known || j->maps_gen != p->gen) {
		j->maps_known = true;
		j->maps_gen = p->gen;
		j->has_jit = false;
		for (i = 0; i < p->nmaps && !j->has_jit; i++)
			j->has_jit = p->maps[i].anon ||
				     (!p->maps[i].bin &&
				      is_jitdump(&p->maps[i]));
	}
	pthread_mutex_unlock(&p->lock);
	return j->has_jit;
}

static void jit_check(struct proc *p, uint64_t now_ns)
{
	struct proc_jit *j = p->jit;

	if (!j) {
		j = calloc(1, sizeof(*j));
		if (!j)
			return;
		p->jit = j;
	} else if (now_ns - j->checked_ns < JIT_CHECK_NS) {
		return;
	}
	j->checked_ns = now_ns;
	if (may_jit(p, j))
		jit_update(p, now_ns);
}

unsigned proc__jit_sample(struct proc *p, const uint64_t *ips, unsigned n,
			  uint64_t t_ns, uint64_t now_ns)
{
	unsigned gen = 0;

	pthread_mutex_lock(&p->jit_lock);
	jit_check(p, now_ns);
	if (p->jit && p->jit->jm.n)
		gen = jitmap__gen(&p->jit->jm, ips, n, t_ns);
	pthread_mutex_unlock(&p->jit_lock);
	return gen;
}

int proc__jit_name(struct proc *p, uint64_t addr, unsigned gen,
		   uint64_t now_ns, char *buf, size_t size, uint32_t *ret_seq)
{
	const char *name = NULL;
	int r = -ENOENT;

	pthread_mutex_lock(&p->jit_lock);
	if (p->jit)
		name = jitmap__find(&p->jit->jm, addr, gen, NULL, ret_seq);
	if (!name) {
		jit_check(p, now_ns);
		if (p->jit)
			name = jitmap__find(&p->jit->jm, addr, gen, NULL,
					    ret_seq);
	}
	if (name) {
		snprintf(buf, size, "%s", name);
		r = 0;
	}
	pthread_mutex_unlock(&p->jit_lock);
	return r;
}

size_t proc__jit_dropped(struct proc *p)
{
	size_t n;

	pthread_mutex_lock(&p->jit_lock);
	n = p->jit ? p->jit->jm.dropped : 0;
	pthread_mutex_unlock(&p->jit_lock);
	return n;
}

void jitmap__stats_json(struct json *j)
{
	struct jitmap_stats st;

	jitmap__configure();
	jitmap__stats(&st);
	json__obj_begin(j, "jit");
	json__u64(j, "bytes", st.bytes);
	json__u64(j, "max_bytes", st.max_bytes);
	json__u64(j, "dropped_total_bound", st.dropped_total);
	json__u64(j, "dropped_process_bound", st.dropped_process);
	json__obj_end(j);
}

static void configure_once(void)
{
	const char *v = getenv("PROFD_JIT_MAX_MB");
	char *end;
	unsigned long long mb;

	if (!v || !*v)
		return;
	errno = 0;
	mb = strtoull(v, &end, 10);
	/* Nonsense keeps the default: a bound is never lifted by a typo. */
	if (errno || *end || !mb || mb > (1ull << 20))
		return;
	jitmap__set_budget(mb << 20);
}

void jitmap__configure(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	(void)pthread_once(&once, configure_once);
}
