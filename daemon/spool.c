// SPDX-License-Identifier: GPL-2.0
/*
 * spool: intervals on disk (spool.h). The index (name, size, end time of
 * every entry, oldest first) lives in memory, rebuilt from the directory
 * at open; files are written and read outside the lock, which guards only
 * the index and the counters.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "pmerge.h"
#include "pprof_read.h"
#include "spool.h"

#define SPOOL_MAGIC		"profd-spool 1\n"
#define SPOOL_TMP_PREFIX	".tmp-"
#define SPOOL_SUFFIX		".iv"
/* "<20 digits>-<36>.iv" */
#define SPOOL_NAME_LEN		(20 + 1 + SPOOL_UUID_LEN + 3)
#define SPOOL_QUERY_DEFAULT_MAX	(256ULL << 20)

struct spool_ent {
	char name[SPOOL_NAME_MAX];
	uint64_t bytes;
	int64_t end_ns;
};

struct spool {
	int dirfd;
	char *dir;
	pthread_mutex_t lock;	/* guards all below */
	struct spool_limits lim;
	struct spool_ent *ents;	/* sorted by name: oldest first */
	size_t n, cap;
	struct spool_stats st;
};

int spool__uuid(char ret[SPOOL_UUID_LEN + 1])
{
	unsigned char b[16];
	ssize_t n;

	do
		n = getrandom(b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return n < 0 ? -errno : -EIO;
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(ret, SPOOL_UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

static bool valid_uuid(const char *u)
{
	size_t i;

	if (strlen(u) != SPOOL_UUID_LEN)
		return false;
	for (i = 0; i < SPOOL_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? u[i] != '-' :
		    !((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f')))
			return false;
	}
	return true;
}

/* Printable ASCII, no newline; @space: spaces allowed. Not empty. */
static bool valid_text(const char *s, bool space)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < (space ? 0x20 : 0x21) || *s > 0x7e)
			return false;
	return true;
}

/* Parse an entry's name: its end time; false when not an entry's. */
static bool parse_name(const char *name, int64_t *ret_end)
{
	char uuid[SPOOL_UUID_LEN + 1];
	size_t i;

	if (strlen(name) != SPOOL_NAME_LEN || name[20] != '-' ||
	    strcmp(name + 20 + 1 + SPOOL_UUID_LEN, SPOOL_SUFFIX))
		return false;
	for (i = 0; i < 20; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	memcpy(uuid, name + 21, SPOOL_UUID_LEN);
	uuid[SPOOL_UUID_LEN] = 0;
	if (!valid_uuid(uuid))
		return false;
	*ret_end = (int64_t)strtoull(name, NULL, 10);
	return true;
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct spool_ent *)a)->name,
		      ((const struct spool_ent *)b)->name);
}

/* Insert keeping name order (new entries are nearly always last). Locked. */
static int index_add(struct spool *s, const struct spool_ent *e)
{
	size_t i;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct spool_ent *n = realloc(s->ents, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->ents = n;
		s->cap = cap;
	}
	for (i = s->n; i > 0 && strcmp(s->ents[i - 1].name, e->name) > 0; i--)
		;
	memmove(&s->ents[i + 1], &s->ents[i], (s->n - i) * sizeof(*e));
	s->ents[i] = *e;
	s->n++;
	s->st.bytes += e->bytes;
	return 0;
}

/* Remove index entry @i and its file, counting why. Locked. */
static void index_drop(struct spool *s, size_t i, int why)
{
	(void)unlinkat(s->dirfd, s->ents[i].name, 0);
	s->st.bytes -= s->ents[i].bytes;
	if (why >= 0 && why < SPOOL_DROP_MAX) {
		s->st.dropped[why]++;
		s->st.dropped_bytes += s->ents[i].bytes;
	} else {
		s->st.removed++;
	}
	memmove(&s->ents[i], &s->ents[i + 1], (s->n - i - 1) * sizeof(*s->ents));
	s->n--;
}

/* Apply the bounds, oldest first. Locked. Number dropped. */
static unsigned enforce(struct spool *s, int64_t now_ns)
{
	uint32_t max_files = s->lim.max_files ? s->lim.max_files :
			     SPOOL_DEFAULT_MAX_FILES;
	unsigned dropped = 0;

	while (s->n) {
		if (s->lim.max_age_ns && s->ents[0].end_ns < now_ns &&
		    (uint64_t)(now_ns - s->ents[0].end_ns) > s->lim.max_age_ns)
			index_drop(s, 0, SPOOL_DROP_AGE);
		else if (s->lim.max_bytes && s->st.bytes > s->lim.max_bytes)
			index_drop(s, 0, SPOOL_DROP_BYTES);
		else if (s->n > max_files)
			index_drop(s, 0, SPOOL_DROP_FILES);
		else
			break;
		dropped++;
	}
	return dropped;
}

int spool__open(const char *dir, const struct spool_limits *lim,
		struct spool **ret)
{
	struct spool *s;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int r, fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->lim = *lim;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->dir = strdup(dir);
	if (s->dirfd < 0 || !s->dir) {
		r = s->dirfd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	/* Others who could write here could plant intervals to be pushed. */
	if (fstat(s->dirfd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		r = -EPERM;
		goto fail;
	}
	fd = dup(s->dirfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	while ((de = readdir(d))) {
		struct spool_ent e = {};

		/* A write that a crash cut short: never renamed, not sent. */
		if (!strncmp(de->d_name, SPOOL_TMP_PREFIX, strlen(SPOOL_TMP_PREFIX))) {
			(void)unlinkat(s->dirfd, de->d_name, 0);
			continue;
		}
		if (!parse_name(de->d_name, &e.end_ns))
			continue;
		if (fstatat(s->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		strcpy(e.name, de->d_name);
		e.bytes = (uint64_t)st.st_size;
		r = index_add(s, &e);
		if (r < 0)
			goto fail;
	}
	closedir(d);
	d = NULL;
	if (s->n > 1)
		qsort(s->ents, s->n, sizeof(*s->ents), ent_cmp);
	(void)enforce(s, (int64_t)now_ns(CLOCK_REALTIME));
	*ret = s;
	return 0;
fail:
	if (d)
		closedir(d);
	spool__free(s);
	return r;
}

void spool__free(struct spool *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		close(s->dirfd);
	pthread_mutex_destroy(&s->lock);
	free(s->ents);
	free(s->dir);
	free(s);
}

void spool__set_limits(struct spool *s, const struct spool_limits *lim)
{
	pthread_mutex_lock(&s->lock);
	s->lim = *lim;
	pthread_mutex_unlock(&s->lock);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The header, into @buf (SPOOL_HEADER_MAX). Length or -EINVAL. */
static int format_header(const struct spool_meta *m, size_t len, char *buf)
{
	size_t off;
	uint32_t i;
	int n;

	n = snprintf(buf, SPOOL_HEADER_MAX,
		     SPOOL_MAGIC "uuid %s\nservice %s\nstart_ns %" PRId64
		     "\nend_ns %" PRId64 "\n", m->uuid, m->service,
		     m->start_ns, m->end_ns);
	if (n < 0 || n >= SPOOL_HEADER_MAX)
		return -EINVAL;
	off = (size_t)n;
	for (i = 0; i < m->nlabels; i++) {
		n = snprintf(buf + off, SPOOL_HEADER_MAX - off, "label %s %s\n",
			     m->labels[i].name, m->labels[i].value);
		if (n < 0 || (size_t)n >= SPOOL_HEADER_MAX - off)
			return -EINVAL;
		off += (size_t)n;
	}
	n = snprintf(buf + off, SPOOL_HEADER_MAX - off, "bytes %zu\n\n", len);
	if (n < 0 || (size_t)n >= SPOOL_HEADER_MAX - off)
		return -EINVAL;
	return (int)(off + (size_t)n);
}

/* tmp, write, fsync, rename; the tmp file removed on failure. */
static int write_file(int dirfd, const char *tmp, const char *name,
		      const void *hdr, size_t hl, const void *buf, size_t len)
{
	int fd, r;

	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, hdr, hl);
	if (!r)
		r = write_all(fd, buf, len);
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dirfd, tmp, 0);
	return r;
}

int spool__put(struct spool *s, const struct spool_meta *meta,
	       const void *buf, size_t len, unsigned *ret_dropped)
{
	char tmp[64], hdr[SPOOL_HEADER_MAX];
	struct spool_ent e = {};
	unsigned dropped = 0;
	bool empty;
	int r, hl;
	uint32_t i;

	if (!valid_uuid(meta->uuid) || !valid_text(meta->service, true) ||
	    meta->nlabels > SPOOL_MAX_LABELS || !len || meta->end_ns < 0 ||
	    meta->start_ns > meta->end_ns)
		return -EINVAL;
	for (i = 0; i < meta->nlabels; i++)
		if (!valid_text(meta->labels[i].name, false) ||
		    !valid_text(meta->labels[i].value, true))
			return -EINVAL;
	if (len > SPOOL_ENTRY_MAX_BYTES)
		return -EFBIG;
	hl = format_header(meta, len, hdr);
	if (hl < 0)
		return hl;
	pthread_mutex_lock(&s->lock);
	r = s->lim.max_bytes && (uint64_t)hl + len > s->lim.max_bytes ? -EFBIG : 0;
	if (r < 0)
		s->st.write_errors++;
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	snprintf(e.name, sizeof(e.name), "%020" PRId64 "-%s" SPOOL_SUFFIX,
		 meta->end_ns, meta->uuid);
	snprintf(tmp, sizeof(tmp), SPOOL_TMP_PREFIX "%s", meta->uuid);
	e.end_ns = meta->end_ns;
	e.bytes = (uint64_t)hl + len;
	if (faccessat(s->dirfd, e.name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		r = -EEXIST;
		goto out;
	}
	for (;;) {
		r = write_file(s->dirfd, tmp, e.name, hdr, (size_t)hl, buf, len);
		if (r != -ENOSPC && r != -EDQUOT)
			break;
		/* Full: the oldest make room for the newest. */
		pthread_mutex_lock(&s->lock);
		empty = !s->n;
		if (!empty) {
			index_drop(s, 0, SPOOL_DROP_NO_SPACE);
			dropped++;
		}
		pthread_mutex_unlock(&s->lock);
		if (empty)
			break;
	}
	if (r < 0)
		goto out;
	/* The rename itself must survive a crash. */
	(void)fsync(s->dirfd);
	pthread_mutex_lock(&s->lock);
	r = index_add(s, &e);
	if (r < 0) {
		(void)unlinkat(s->dirfd, e.name, 0);
	} else {
		s->st.written++;
		dropped += enforce(s, (int64_t)now_ns(CLOCK_REALTIME));
	}
	pthread_mutex_unlock(&s->lock);
out:
	if (r < 0) {
		pthread_mutex_lock(&s->lock);
		s->st.write_errors++;
		pthread_mutex_unlock(&s->lock);
	}
	if (ret_dropped)
		*ret_dropped = dropped;
	return r;
}

unsigned spool__expire(struct spool *s, int64_t now_ns)
{
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = enforce(s, now_ns);
	pthread_mutex_unlock(&s->lock);
	return n;
}

int spool__oldest(struct spool *s, const char *after,
		  char ret_name[SPOOL_NAME_MAX])
{
	int r = -ENOENT;
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->n; i++) {
		if (after && after[0] && strcmp(s->ents[i].name, after) <= 0)
			continue;
		strcpy(ret_name, s->ents[i].name);
		r = 0;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Parse the header in @buf (@n bytes read); its length in *ret_hl. */
static int parse_header(const char *buf, size_t n, struct spool_meta *m,
			size_t *ret_hl, uint64_t *ret_len)
{
	const char *p = buf, *end = buf + n, *nl, *v;
	bool have_len = false;
	char line[SPOOL_LABEL_NAME_MAX + SPOOL_LABEL_VALUE_MAX + 16];
	size_t l;

	memset(m, 0, sizeof(*m));
	l = strlen(SPOOL_MAGIC);
	if (n < l || memcmp(buf, SPOOL_MAGIC, l))
		return -EBADMSG;
	for (p += l; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return -EBADMSG;
		l = (size_t)(nl - p);
		if (!l) {
			if (!have_len || !valid_uuid(m->uuid) || !m->service[0])
				return -EBADMSG;
			*ret_hl = (size_t)(nl + 1 - buf);
			return 0;
		}
		if (l >= sizeof(line))
			return -EBADMSG;
		memcpy(line, p, l);
		line[l] = 0;
		v = strchr(line, ' ');
		if (!v)
			return -EBADMSG;
		v++;
#define KEY(k) (!strncmp(line, k " ", strlen(k) + 1))
		if (KEY("uuid") && strlen(v) == SPOOL_UUID_LEN) {
			strcpy(m->uuid, v);
		} else if (KEY("service") && strlen(v) < sizeof(m->service)) {
			strcpy(m->service, v);
		} else if (KEY("start_ns")) {
			m->start_ns = strtoll(v, NULL, 10);
		} else if (KEY("end_ns")) {
			m->end_ns = strtoll(v, NULL, 10);
		} else if (KEY("bytes")) {
			*ret_len = strtoull(v, NULL, 10);
			have_len = true;
		} else if (KEY("label") && m->nlabels < SPOOL_MAX_LABELS) {
			struct spool_label *lb = &m->labels[m->nlabels];
			const char *sp = strchr(v, ' ');

			if (!sp || (size_t)(sp - v) >= sizeof(lb->name) ||
			    strlen(sp + 1) >= sizeof(lb->value))
				return -EBADMSG;
			memcpy(lb->name, v, (size_t)(sp - v));
			lb->name[sp - v] = 0;
			strcpy(lb->value, sp + 1);
			m->nlabels++;
		} else {
			return -EBADMSG;
		}
#undef KEY
	}
	return -EBADMSG;
}

int spool__read(struct spool *s, const char *name, struct spool_meta *ret_meta,
		void **ret_buf, size_t *ret_len)
{
	char *hdr = NULL, *buf = NULL;
	struct spool_meta m;
	uint64_t len = 0;
	struct stat st;
	size_t hl = 0;
	ssize_t n;
	int fd, r;

	fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	hdr = malloc(SPOOL_HEADER_MAX);
	if (!hdr) {
		r = -ENOMEM;
		goto out;
	}
	n = pread(fd, hdr, SPOOL_HEADER_MAX, 0);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	r = parse_header(hdr, (size_t)n, &m, &hl, &len);
	if (r < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	/* Whole: exactly header + payload, as spool__put() wrote it. */
	if (!len || len > SPOOL_ENTRY_MAX_BYTES || (uint64_t)st.st_size != hl + len) {
		r = -EBADMSG;
		goto out;
	}
	if (ret_buf) {
		buf = malloc(len);
		if (!buf) {
			r = -ENOMEM;
			goto out;
		}
		n = pread(fd, buf, len, (off_t)hl);
		if (n != (ssize_t)len) {
			r = n < 0 ? -errno : -EBADMSG;
			goto out;
		}
		*ret_buf = buf;
		*ret_len = len;
		buf = NULL;
	}
	*ret_meta = m;
	r = 0;
out:
	free(buf);
	free(hdr);
	close(fd);
	return r;
}

int spool__remove(struct spool *s, const char *name, int why)
{
	int r = -ENOENT;
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->n; i++)
		if (!strcmp(s->ents[i].name, name)) {
			index_drop(s, i, why);
			r = 0;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void spool__stats(struct spool *s, struct spool_stats *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->st;
	ret->files = s->n;
	ret->oldest_end_ns = s->n ? s->ents[0].end_ns : 0;
	pthread_mutex_unlock(&s->lock);
}

static const char *meta_label(const struct spool_meta *m, const char *name)
{
	uint32_t i;

	for (i = 0; i < m->nlabels; i++)
		if (!strcmp(m->labels[i].name, name))
			return m->labels[i].value;
	return NULL;
}

int spool__query(struct spool *s, const struct spool_query *q,
		 void **ret_buf, size_t *ret_len, unsigned *ret_n)
{
	uint64_t max = q->max_input_bytes ? q->max_input_bytes :
		       SPOOL_QUERY_DEFAULT_MAX, total = 0;
	char (*names)[SPOOL_NAME_MAX] = NULL;
	struct pmerge *pm = NULL;
	size_t i, n = 0;
	int r;

	/* A snapshot of the names: the files are read without the lock. */
	pthread_mutex_lock(&s->lock);
	names = calloc(s->n + 1, sizeof(*names));
	if (names) {
		for (i = 0; i < s->n; i++) {
			/* Entries end after @since: the name tells. */
			if (q->since_ns && s->ents[i].end_ns < q->since_ns)
				continue;
			strcpy(names[n++], s->ents[i].name);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!names)
		return -ENOMEM;
	r = pmerge__new(&pm);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++) {
		Perftools__Profiles__Profile *p = NULL;
		struct spool_meta m;
		const char *unit;
		void *buf = NULL;
		size_t len = 0;

		if (spool__read(s, names[i], &m, NULL, NULL) < 0)
			continue;	/* removed meanwhile, or corrupt */
		if (q->until_ns && m.start_ns > q->until_ns)
			continue;
		if (q->service && strcmp(q->service, m.service))
			continue;
		unit = meta_label(&m, "unit");
		if (q->unit && (!unit || strcmp(q->unit, unit)))
			continue;
		if (spool__read(s, names[i], &m, &buf, &len) < 0)
			continue;
		total += len;
		if (total > max) {
			free(buf);
			r = -E2BIG;
			goto out;
		}
		r = pprof_read__decode(buf, len, &p);
		free(buf);
		if (r < 0)
			continue;	/* not a profile: nothing to merge */
		r = pmerge__add(pm, p, q->pid);
		pprof_read__free(p);
		if (r < 0)
			goto out;
	}
	if (!pmerge__count(pm)) {
		r = -ENOENT;
		goto out;
	}
	r = pmerge__write(pm, ret_buf, ret_len);
	if (!r && ret_n)
		*ret_n = pmerge__count(pm);
out:
	pmerge__free(pm);
	free(names);
	return r;
}
