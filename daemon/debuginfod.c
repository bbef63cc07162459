// SPDX-License-Identifier: GPL-2.0
/*
 * Background debuginfod client. Why libcurl and not libdebuginfod: the
 * library (0.188) takes its servers, cache directory and timeouts from the
 * environment only, bounds its cache by age and not by bytes, and keeps no
 * negative entries across restarts; the protocol is one GET per file
 * (GET $URL/buildid/$ID/debuginfo), so owning it costs less than working
 * around it.
 *
 * Lock order: d->lock only; no callback runs under it, no network I/O
 * either (a find() stats at most two files in the cache directory).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gelf.h>
#include <libelf.h>
#include <elfutils/libdwelf.h>

#include "debuginfod.h"
#include "json.h"

#define ID_MAX 64
#define MAX_WORKERS 16
#define SCAN_MAX_FILES 65536	/* cache files considered per trim */

struct entry {
	char id[ID_MAX + 1];		/* "" when the slot is free */
	int state;			/* enum debuginfod_state */
	bool in_flight;
	bool alt;			/* asked for as another's alternate */
	uint64_t seq;			/* queue order */
	uint64_t until_s;		/* MISSING/FAILED: believed until */
};

struct debuginfod {
	char *urls[DEBUGINFOD_MAX_URLS];
	size_t nurls;
	char *dir;
	int dirfd;
	uint64_t max_bytes;
	unsigned timeout_s;
	/* Whom HTTPS servers are trusted through: NULL, libcurl's default
	 * (Debian: /etc/ssl/certs/ca-certificates.crt). */
	char *ca_file, *ca_dir;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct entry *e;		/* DEBUGINFOD_MAX_ENTRIES */
	uint64_t seq, generation;
	struct debuginfod_stats st;
	pthread_t workers[MAX_WORKERS];
	unsigned nworkers;
};

static uint64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

int debuginfod__valid_build_id(const char *s)
{
	size_t n;

	for (n = 0; s[n]; n++)
		if (n >= ID_MAX || !isxdigit((unsigned char)s[n]) ||
		    isupper((unsigned char)s[n]))
			return 0;
	return n >= 2 && n % 2 == 0;
}

/* Under d->lock. */
static struct entry *entry_find(struct debuginfod *d, const char *id)
{
	size_t i;

	for (i = 0; i < DEBUGINFOD_MAX_ENTRIES; i++)
		if (d->e[i].id[0] && !strcmp(d->e[i].id, id))
			return &d->e[i];
	return NULL;
}

/*
 * A free slot, else one whose answer can be found again (READY: on disk;
 * an expired negative one), else one still believed but not pending.
 * Pending entries are never taken: at most the queue and the workers'
 * worth exist. Under d->lock.
 */
static struct entry *entry_new(struct debuginfod *d, const char *id)
{
	struct entry *victim = NULL;
	uint64_t now = mono_s();
	size_t i;

	for (i = 0; i < DEBUGINFOD_MAX_ENTRIES; i++) {
		struct entry *e = &d->e[i];

		if (!e->id[0] || e->state == DEBUGINFOD_READY ||
		    (e->state != DEBUGINFOD_PENDING && e->until_s <= now)) {
			victim = e;
			break;
		}
		if (!victim && e->state != DEBUGINFOD_PENDING)
			victim = e;
	}
	if (!victim)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->id, sizeof(victim->id), "%s", id);
	return victim;
}

/* Trim the cache directory to its bound, oldest use first. */
struct cfile {
	time_t mtime;
	off_t size;
	char name[ID_MAX + 16];
};

static int cfile_cmp(const void *a, const void *b)
{
	const struct cfile *x = a, *y = b;

	return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

static void cache_trim(struct debuginfod *d)
{
	struct cfile *files;
	size_t n = 0, i;
	uint64_t total = 0, evicted = 0;
	time_t now = time(NULL);
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(d->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	files = calloc(SCAN_MAX_FILES, sizeof(*files));
	while (files && (de = readdir(dir))) {
		const char *dot = strrchr(de->d_name, '.');
		struct stat st;

		if (de->d_name[0] == '.' && strncmp(de->d_name, ".tmp-", 5))
			continue;
		if (fstatat(d->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		/* Leftovers of a crash, expired negative entries. */
		if ((!strncmp(de->d_name, ".tmp-", 5) && st.st_mtime + 3600 < now) ||
		    (dot && !strcmp(dot, ".missing") &&
		     st.st_mtime + DEBUGINFOD_MISSING_S < now)) {
			(void)unlinkat(d->dirfd, de->d_name, 0);
			continue;
		}
		if (!dot || strcmp(dot, ".debug") || n >= SCAN_MAX_FILES ||
		    strlen(de->d_name) >= sizeof(files[0].name))
			continue;
		files[n].mtime = st.st_mtime;
		files[n].size = st.st_size;
		snprintf(files[n].name, sizeof(files[n].name), "%s", de->d_name);
		total += (uint64_t)st.st_size;
		n++;
	}
	closedir(dir);
	if (files) {
		qsort(files, n, sizeof(*files), cfile_cmp);
		for (i = 0; i < n && total > d->max_bytes; i++) {
			if (unlinkat(d->dirfd, files[i].name, 0) == 0) {
				total -= (uint64_t)files[i].size;
				evicted++;
			}
		}
		free(files);
	}
	pthread_mutex_lock(&d->lock);
	d->st.cache_bytes = total;
	d->st.cache_evictions += evicted;
	pthread_mutex_unlock(&d->lock);
}

struct xfer {
	struct debuginfod *d;
	int fd;
	uint64_t bytes;
	bool too_big;
};

static size_t xfer_write(char *p, size_t sz, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = sz * nmemb, off = 0;

	if (x->bytes + n > x->d->max_bytes) {
		x->too_big = true;
		return 0;	/* aborts the transfer */
	}
	while (off < n) {
		ssize_t w = write(x->fd, p + off, n - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		off += (size_t)w;
	}
	x->bytes += n;
	return n;
}

static int xfer_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			 curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = arg;
	bool stop;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	pthread_mutex_lock(&x->d->lock);
	stop = x->d->stop;
	pthread_mutex_unlock(&x->d->lock);
	return stop;	/* non-zero aborts */
}

/* The file at @fd is an ELF file whose GNU build-id is @id. */
static bool elf_has_id(int fd, const char *id)
{
	char hex[2 * ID_MAX + 1];
	const unsigned char *p;
	const void *bits;
	ssize_t n, i;
	bool ok = false;
	Elf *elf;

	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return false;
	if (elf_kind(elf) != ELF_K_ELF)
		goto out;
	n = dwelf_elf_gnu_build_id(elf, &bits);
	if (n <= 0 || 2 * (size_t)n != strlen(id))
		goto out;
	p = bits;
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", p[i]);
	ok = !strcmp(hex, id);
out:
	elf_end(elf);
	return ok;
}

enum fetch_result { FETCH_OK, FETCH_NOT_FOUND, FETCH_FAILED, FETCH_TIMEOUT,
		    FETCH_REJECTED, FETCH_TLS };

/* A server whose certificate was not trusted, or a TLS set-up that
 * failed: counted apart, as the fix is the operator's (CA file). */
static bool tls_error(CURLcode cr)
{
	return cr == CURLE_PEER_FAILED_VERIFICATION ||
	       cr == CURLE_SSL_CONNECT_ERROR ||
	       cr == CURLE_SSL_CACERT_BADFILE ||
	       cr == CURLE_SSL_CERTPROBLEM ||
	       cr == CURLE_SSL_ISSUER_ERROR ||
	       cr == CURLE_SSL_CRL_BADFILE;
}

static int fetch_one(struct debuginfod *d, const char *url, const char *id,
		     const char *tmp, uint64_t *ret_bytes)
{
	struct xfer x = { .d = d };
	char full[PATH_MAX];
	long code = 0;
	CURLcode cr;
	CURL *c;
	int r;

	snprintf(full, sizeof(full), "%s/buildid/%s/debuginfo", url, id);
	(void)unlinkat(d->dirfd, tmp, 0);
	x.fd = openat(d->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
		      O_NOFOLLOW, 0600);
	if (x.fd < 0)
		return FETCH_FAILED;
	c = curl_easy_init();
	if (!c) {
		r = FETCH_FAILED;
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)d->timeout_s);
	/* A stall timeout (no byte for timeout_s), as DEBUGINFOD_TIMEOUT is:
	 * a large file on a slow link is not cut short; a server that
	 * accepts and never answers is. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)d->timeout_s);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)d->max_bytes);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, xfer_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xfer_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "profd/" PROFD_VERSION);
	/* libcurl's defaults, said: a server's certificate is checked
	 * against the trusted CAs and its name. Never turned off: the files
	 * fetched name code in every profile. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (d->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, d->ca_file);
	if (d->ca_dir)
		curl_easy_setopt(c, CURLOPT_CAPATH, d->ca_dir);
	cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (cr == CURLE_OPERATION_TIMEDOUT) {
		r = FETCH_TIMEOUT;
	} else if (tls_error(cr)) {
		r = FETCH_TLS;
	} else if (cr == CURLE_OK && code == 404) {
		r = FETCH_NOT_FOUND;
	} else if (cr != CURLE_OK || code != 200) {
		r = x.too_big ? FETCH_REJECTED : FETCH_FAILED;
	} else if (!elf_has_id(x.fd, id)) {
		r = FETCH_REJECTED;
	} else {
		char name[ID_MAX + 16];

		snprintf(name, sizeof(name), "%s.debug", id);
		r = renameat(d->dirfd, tmp, d->dirfd, name) == 0 ?
			FETCH_OK : FETCH_FAILED;
		*ret_bytes = x.bytes;
	}
out:
	close(x.fd);
	if (r != FETCH_OK)
		(void)unlinkat(d->dirfd, tmp, 0);
	return r;
}

/* Try every server in turn; the first that has it wins. */
static int fetch(struct debuginfod *d, const char *id)
{
	char tmp[ID_MAX + 32], name[ID_MAX + 16];
	bool all_404 = true, timeout = false, rejected = false, tls = false;
	uint64_t bytes = 0;
	size_t i;
	int r, fd;

	snprintf(tmp, sizeof(tmp), ".tmp-%s-%d", id, gettid());
	for (i = 0; i < d->nurls; i++) {
		r = fetch_one(d, d->urls[i], id, tmp, &bytes);
		if (r == FETCH_OK) {
			pthread_mutex_lock(&d->lock);
			d->st.fetched++;
			d->st.fetched_bytes += bytes;
			pthread_mutex_unlock(&d->lock);
			cache_trim(d);
			return DEBUGINFOD_READY;
		}
		all_404 &= r == FETCH_NOT_FOUND;
		timeout |= r == FETCH_TIMEOUT;
		rejected |= r == FETCH_REJECTED;
		tls |= r == FETCH_TLS;
	}
	pthread_mutex_lock(&d->lock);
	if (all_404)
		d->st.not_found++;
	else
		d->st.failed++;
	d->st.timeouts += timeout;
	d->st.rejected += rejected;
	d->st.tls_failed += tls;
	pthread_mutex_unlock(&d->lock);
	if (!all_404)
		return DEBUGINFOD_FAILED;
	/* Remembered across restarts: its mtime is when it was asked. */
	snprintf(name, sizeof(name), "%s.missing", id);
	fd = openat(d->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	if (fd >= 0)
		close(fd);
	return DEBUGINFOD_MISSING;
}

static int find_locked(struct debuginfod *d, const char *build_id,
		       char *path, size_t size);

/* A file of this machine's that libdw would take as the alternate. */
static bool alt_local(const char *named, const char *id)
{
	char path[PATH_MAX];

	if (named[0] == '/' && access(named, R_OK) == 0)
		return true;
	snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug",
		 id, id + 2);
	return access(path, R_OK) == 0;
}

int debuginfod__altlink(Elf *elf, char *ret, size_t size, const char **path)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, n, i;
	const char *link;
	Elf_Data *data;
	GElf_Shdr sh;

	ret[0] = 0;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) < 0)
		return -ENOENT;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".gnu_debugaltlink"))
			break;
	}
	data = scn ? elf_getdata(scn, NULL) : NULL;
	if (!data || !data->d_buf || !data->d_size)
		return -ENOENT;
	/* A NUL-terminated path, then the alternate's build-id bytes. */
	link = data->d_buf;
	n = strnlen(link, data->d_size);
	if (n + 1 >= data->d_size || data->d_size - n - 1 > ID_MAX / 2 ||
	    2 * (data->d_size - n - 1) + 1 > size)
		return -EINVAL;
	for (i = 0; i < data->d_size - n - 1; i++)
		snprintf(ret + 2 * i, 3, "%02x",
			 ((const unsigned char *)link)[n + 1 + i]);
	if (!debuginfod__valid_build_id(ret)) {
		ret[0] = 0;
		return -EINVAL;
	}
	*path = link;
	return 0;
}

/*
 * A debug file compressed with dwz (Debian's -dbgsym packages mostly are)
 * names an alternate file that holds what it shares with others: without
 * it, no inline chains and few names. Its build-id, when the fetched
 * debug file @id names one this machine does not have, in @ret ("" if
 * none): fetched next, not when the symbolizer has opened the debug file
 * and found it missing (a profile later). Read with libelf from the
 * section headers (~25 us for Debian 12's libc debug file), not with
 * libdw's dwelf_dwarf_gnu_debugaltlink() as the symbolizer does: that
 * takes a Dwarf, and dwarf_begin_elf() decompresses every compressed
 * section first (33 ms for that file, measured), for a 60-byte section.
 */
static void alt_wanted(struct debuginfod *d, const char *id, char *ret,
		       size_t size)
{
	char name[ID_MAX + 16];
	const char *link;
	Elf *elf;
	int fd;

	ret[0] = 0;
	snprintf(name, sizeof(name), "%s.debug", id);
	fd = openat(d->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && debuginfod__altlink(elf, ret, size, &link) == 0 &&
	    alt_local(link, ret))
		ret[0] = 0;
	if (elf)
		elf_end(elf);
	close(fd);
}

/* The oldest queued entry not yet taken. Under d->lock. */
static struct entry *next_queued(struct debuginfod *d)
{
	struct entry *best = NULL;
	size_t i;

	for (i = 0; i < DEBUGINFOD_MAX_ENTRIES; i++) {
		struct entry *e = &d->e[i];

		if (e->id[0] && e->state == DEBUGINFOD_PENDING &&
		    !e->in_flight && (!best || e->seq < best->seq))
			best = e;
	}
	return best;
}

static void *worker(void *arg)
{
	struct debuginfod *d = arg;
	char id[ID_MAX + 1], alt[ID_MAX + 1];
	struct entry *e;
	bool is_alt;
	int state;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (!d->stop && !d->st.queued)
			pthread_cond_wait(&d->cond, &d->lock);
		if (d->stop)
			break;
		e = next_queued(d);
		if (!e) {
			d->st.queued = 0;	/* cannot happen: resync */
			continue;
		}
		e->in_flight = true;
		is_alt = e->alt;
		d->st.queued--;
		d->st.in_flight++;
		snprintf(id, sizeof(id), "%s", e->id);
		pthread_mutex_unlock(&d->lock);

		state = fetch(d, id);
		alt[0] = 0;
		/* Not an alternate's own alternate: dwz's name none, and a
		 * server's chain of them would be fetched without end. */
		if (state == DEBUGINFOD_READY && !is_alt)
			alt_wanted(d, id, alt, sizeof(alt));

		pthread_mutex_lock(&d->lock);
		/* Queued before this fetch stops counting as in flight: nobody
		 * sees the queue idle between the two. */
		if (alt[0] && find_locked(d, alt, NULL, 0) == DEBUGINFOD_PENDING) {
			e = entry_find(d, alt);
			if (e)
				e->alt = true;
		}
		/* Pending entries are never reused, so it is still ours. */
		e = entry_find(d, id);
		if (e) {
			e->state = state;
			e->in_flight = false;
			e->until_s = mono_s() + (state == DEBUGINFOD_MISSING ?
						 DEBUGINFOD_MISSING_S :
						 DEBUGINFOD_FAILED_S);
		}
		d->st.in_flight--;
		d->generation++;
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static int parse_urls(struct debuginfod *d, const char *urls)
{
	const char *p = urls;

	while (*p) {
		size_t n;
		char *u;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		n = strcspn(p, " \t\n");
		if (!n)
			break;
		if (d->nurls >= DEBUGINFOD_MAX_URLS)
			return -E2BIG;
		if (n > 2048 || (strncmp(p, "http://", 7) &&
				 strncmp(p, "https://", 8)))
			return -EINVAL;
		u = strndup(p, n);
		if (!u)
			return -ENOMEM;
		while (n > 0 && u[n - 1] == '/')
			u[--n] = 0;
		d->urls[d->nurls++] = u;
		p += strcspn(p, " \t\n");
	}
	return d->nurls ? 0 : -EINVAL;
}

/* mkdir -p, the last component 0700 and not a symlink. */
static int make_dir(const char *path)
{
	char buf[PATH_MAX], *s;

	if (strlen(path) >= sizeof(buf) || path[0] != '/')
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", path);
	for (s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The CAs trusted for HTTPS servers, as curl(1) takes them from its
 * environment: CURL_CA_BUNDLE, else SSL_CERT_FILE (a PEM file), and
 * SSL_CERT_DIR (a c_rehash'd directory). libcurl itself reads none of
 * them; a private debuginfod's CA is given to profd this way (README).
 */
static int ca_from_env(struct debuginfod *d)
{
	const char *f = getenv("CURL_CA_BUNDLE"), *dir = getenv("SSL_CERT_DIR");

	if (!f || !*f)
		f = getenv("SSL_CERT_FILE");
	if (f && *f && !(d->ca_file = strdup(f)))
		return -ENOMEM;
	if (dir && *dir && !(d->ca_dir = strdup(dir)))
		return -ENOMEM;
	return 0;
}

int debuginfod__new(const struct debuginfod_opts *o, struct debuginfod **ret)
{
	struct debuginfod *d;
	unsigned i;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dirfd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	r = parse_urls(d, o->urls ? o->urls : "");
	if (r < 0)
		goto fail;
	d->max_bytes = o->cache_max_bytes;
	d->timeout_s = o->timeout_s ? o->timeout_s : 1;
	d->st.cache_max_bytes = d->max_bytes;
	d->dir = strdup(o->cache_dir);
	d->e = calloc(DEBUGINFOD_MAX_ENTRIES, sizeof(*d->e));
	r = ca_from_env(d);
	if (!d->dir || !d->e || r < 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = make_dir(d->dir);
	if (r < 0)
		goto fail;
	d->dirfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
			O_NOFOLLOW);
	if (d->dirfd < 0) {
		r = -errno;
		goto fail;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	elf_version(EV_CURRENT);
	cache_trim(d);
	for (i = 0; i < o->max_fetches && i < MAX_WORKERS; i++) {
		r = -pthread_create(&d->workers[i], NULL, worker, d);
		if (r < 0)
			goto fail;
		d->nworkers++;
	}
	if (!d->nworkers) {
		r = -EINVAL;
		goto fail;
	}
	*ret = d;
	return 0;
fail:
	debuginfod__free(d);
	return r;
}

void debuginfod__free(struct debuginfod *d)
{
	unsigned i;
	size_t k;

	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	for (i = 0; i < d->nworkers; i++)
		pthread_join(d->workers[i], NULL);
	for (k = 0; k < d->nurls; k++)
		free(d->urls[k]);
	if (d->dirfd >= 0)
		close(d->dirfd);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d->dir);
	free(d->ca_file);
	free(d->ca_dir);
	free(d->e);
	free(d);
}

/* Under d->lock: the cached file, if there, marked as just used. */
static bool cached_file(struct debuginfod *d, const char *id, char *path,
			size_t size)
{
	char name[ID_MAX + 16];
	struct stat st;

	snprintf(name, sizeof(name), "%s.debug", id);
	if (fstatat(d->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return false;
	/* mtime orders the cache's eviction: least recently used first. */
	(void)utimensat(d->dirfd, name, NULL, AT_SYMLINK_NOFOLLOW);
	if (path)
		snprintf(path, size, "%s/%s", d->dir, name);
	return true;
}

/* debuginfod__find() under d->lock; @path may be NULL. */
static int find_locked(struct debuginfod *d, const char *build_id,
		       char *path, size_t size)
{
	uint64_t now = mono_s();
	char name[ID_MAX + 16];
	struct entry *e;
	struct stat st;

	e = entry_find(d, build_id);
	if (e && e->state == DEBUGINFOD_PENDING)
		return DEBUGINFOD_PENDING;
	if (e && e->state != DEBUGINFOD_READY && e->until_s > now) {
		d->st.negative_hits++;
		return e->state;
	}
	if (cached_file(d, build_id, path, size)) {
		if (!e)
			e = entry_new(d, build_id);
		if (e)
			e->state = DEBUGINFOD_READY;
		d->st.cache_hits++;
		return DEBUGINFOD_READY;
	}
	/* A 404 remembered on disk (by an earlier run, or evicted here). */
	snprintf(name, sizeof(name), "%s.missing", build_id);
	if (fstatat(d->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) &&
	    st.st_mtime + DEBUGINFOD_MISSING_S > time(NULL)) {
		if (!e)
			e = entry_new(d, build_id);
		if (e) {
			e->state = DEBUGINFOD_MISSING;
			e->until_s = now + (uint64_t)(st.st_mtime +
				DEBUGINFOD_MISSING_S - time(NULL));
		}
		d->st.negative_hits++;
		return DEBUGINFOD_MISSING;
	}
	if (d->st.queued >= DEBUGINFOD_MAX_QUEUE) {
		d->st.queue_full++;
		return DEBUGINFOD_FAILED;	/* not remembered: asked again */
	}
	if (!e)
		e = entry_new(d, build_id);
	if (!e) {
		d->st.queue_full++;
		return DEBUGINFOD_FAILED;
	}
	e->state = DEBUGINFOD_PENDING;
	e->in_flight = false;
	e->seq = ++d->seq;
	d->st.requests++;
	d->st.queued++;
	pthread_cond_signal(&d->cond);
	return DEBUGINFOD_PENDING;
}

int debuginfod__find(struct debuginfod *d, const char *build_id,
		     char *path, size_t size)
{
	int r;

	if (!debuginfod__valid_build_id(build_id))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	r = find_locked(d, build_id, path, size);
	pthread_mutex_unlock(&d->lock);
	return r;
}

uint64_t debuginfod__generation(struct debuginfod *d)
{
	uint64_t g;

	pthread_mutex_lock(&d->lock);
	g = d->generation;
	pthread_mutex_unlock(&d->lock);
	return g;
}

void debuginfod__stats(struct debuginfod *d, struct debuginfod_stats *ret)
{
	pthread_mutex_lock(&d->lock);
	*ret = d->st;
	pthread_mutex_unlock(&d->lock);
}

void debuginfod__stats_json(struct json *j, const struct debuginfod_stats *st,
			    uint64_t reloads)
{
	json__obj_begin(j, "debuginfod");
	json__raw(j, "enabled", st ? "true" : "false");
	if (st) {
		json__u64(j, "binaries_reloaded", reloads);
		json__u64(j, "requests", st->requests);
		json__u64(j, "queued", st->queued);
		json__u64(j, "in_flight", st->in_flight);
		json__u64(j, "fetched", st->fetched);
		json__u64(j, "fetched_bytes", st->fetched_bytes);
		json__u64(j, "not_found", st->not_found);
		json__u64(j, "failed", st->failed);
		json__u64(j, "timeouts", st->timeouts);
		json__u64(j, "rejected", st->rejected);
		json__u64(j, "tls_failed", st->tls_failed);
		json__u64(j, "queue_full", st->queue_full);
		json__u64(j, "cache_hits", st->cache_hits);
		json__u64(j, "negative_hits", st->negative_hits);
		json__u64(j, "cache_bytes", st->cache_bytes);
		json__u64(j, "cache_max_bytes", st->cache_max_bytes);
		json__u64(j, "cache_evictions", st->cache_evictions);
	}
	json__obj_end(j);
}
