// SPDX-License-Identifier: GPL-2.0
/*
 * spool and pmerge: intervals written, listed oldest first, read back,
 * removed; bounds (bytes, files, age) drop the oldest and count them; a
 * reopened spool (a restart, kill -9) has what the last one wrote; a crash
 * in the middle of a write leaves a .tmp- file that is ignored and cleaned,
 * and a cut entry is reported, not sent; the history query merges as
 * pprof merges (same stacks add up, filters by service, unit and pid).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "pmerge.h"
#include "pprof.h"
#include "pprof_read.h"
#include "spool.h"

/* A CPU profile: @n samples of stack main->work (leaf first), label pid. */
static int make_profile(int64_t t0, int64_t pid, int64_t n, const char *leaf,
			void **buf, size_t *len)
{
	struct pprof *p = NULL;
	struct pprof_mapping_desc md = { .start = 0x1000, .limit = 0x2000,
					 .filename = "/bin/app", .build_id = "ab" };
	struct pprof_line ln;
	struct pprof_label lb = { .key = "pid", .num = pid };
	uint64_t locs[2];
	int64_t mid, v[2] = { n, n * 10000000 };
	int r;

	r = pprof__new(&p);
	if (r < 0)
		return r;
	pprof__add_sample_type(p, "samples", "count");
	pprof__add_sample_type(p, "cpu", "nanoseconds");
	pprof__set_period(p, "cpu", "nanoseconds", 10000000);
	pprof__set_time(p, t0, 10000000000LL);
	mid = pprof__add_mapping(p, &md);
	ln.function_id = (uint64_t)pprof__add_function(p, leaf, leaf, "app.c", 1);
	ln.line = 10;
	locs[0] = (uint64_t)pprof__add_location(p, (uint64_t)mid, 0x1100, &ln, 1);
	ln.function_id = (uint64_t)pprof__add_function(p, "main", "main", "app.c", 1);
	ln.line = 20;
	locs[1] = (uint64_t)pprof__add_location(p, (uint64_t)mid, 0x1200, &ln, 1);
	r = pprof__add_sample(p, locs, 2, v, 2, &lb, 1);
	if (!r)
		r = pprof__write(p, true, buf, len);
	pprof__free(p);
	return r;
}

static void meta_init(struct spool_meta *m, const char *service, int64_t end)
{
	memset(m, 0, sizeof(*m));
	spool__uuid(m->uuid);
	snprintf(m->service, sizeof(m->service), "%s", service);
	m->start_ns = end - 10000000000LL;
	m->end_ns = end;
	m->nlabels = 2;
	strcpy(m->labels[0].name, "host");
	strcpy(m->labels[0].value, "web-17");
	strcpy(m->labels[1].name, "unit");
	snprintf(m->labels[1].value, sizeof(m->labels[1].value), "%s", service);
}

static int put(struct spool *s, const char *service, int64_t end, int64_t pid,
	       int64_t n, const char *leaf, char *ret_uuid)
{
	struct spool_meta m;
	void *buf;
	size_t len;
	int r;

	meta_init(&m, service, end);
	if (ret_uuid)
		strcpy(ret_uuid, m.uuid);
	r = make_profile(end - 10000000000LL, pid, n, leaf, &buf, &len);
	if (r < 0)
		return r;
	r = spool__put(s, &m, buf, len, NULL);
	free(buf);
	return r;
}

static char dir[] = "/tmp/profd-test-spool-XXXXXX";
static const int64_t T = 1764300000000000000LL;	/* Nov 2025, ns */

static void test_uuid(void)
{
	char a[37], b[37];

	CHECK(spool__uuid(a) == 0 && spool__uuid(b) == 0, "");
	CHECK(strlen(a) == 36 && a[14] == '4' && strchr("89ab", a[19]), "%s", a);
	CHECK(strcmp(a, b), "two uuids equal");
}

static void test_order_read_remove(void)
{
	struct spool_limits lim = {};
	struct spool_stats st;
	struct spool_meta m;
	struct spool *s;
	char u1[37], u2[37], u3[37], name[SPOOL_NAME_MAX], first[SPOOL_NAME_MAX];
	void *buf = NULL;
	size_t len = 0;

	CHECK(spool__open(dir, &lim, &s) == 0, "");
	/* Put out of order: listed by end time. */
	CHECK(put(s, "b.service", T + 2000000000LL, 1, 5, "work", u2) == 0, "");
	CHECK(put(s, "a.service", T + 1000000000LL, 1, 5, "work", u1) == 0, "");
	CHECK(put(s, "c.service", T + 3000000000LL, 1, 5, "work", u3) == 0, "");
	CHECK(spool__oldest(s, NULL, name) == 0 && strstr(name, u1), "%s", name);
	strcpy(first, name);
	CHECK(spool__oldest(s, first, name) == 0 && strstr(name, u2), "%s", name);
	CHECK(spool__read(s, first, &m, &buf, &len) == 0, "");
	CHECK(!strcmp(m.uuid, u1) && !strcmp(m.service, "a.service") &&
	      m.end_ns == T + 1000000000LL && m.nlabels == 2 &&
	      !strcmp(m.labels[0].value, "web-17"), "%s %s", m.uuid, m.service);
	{
		Perftools__Profiles__Profile *p = NULL;

		CHECK(buf && pprof_read__decode(buf, len, &p) == 0 && p->n_sample == 1,
		      "payload");
		pprof_read__free(p);
	}
	free(buf);
	spool__stats(s, &st);
	CHECK(st.files == 3 && st.written == 3 && st.oldest_end_ns == T + 1000000000LL,
	      "%llu", (unsigned long long)st.files);
	/* The same uuid twice: refused (a retry is no duplicate). */
	{
		struct spool_meta d;

		meta_init(&d, "a.service", T + 1000000000LL);
		strcpy(d.uuid, u1);
		CHECK(spool__put(s, &d, "x", 1, NULL) == -EEXIST, "");
	}
	/* Bad metadata */
	{
		struct spool_meta d;

		meta_init(&d, "a\nb", T);
		CHECK(spool__put(s, &d, "x", 1, NULL) == -EINVAL, "newline");
		meta_init(&d, "a", T);
		strcpy(d.uuid, "../../etc/passwd");
		CHECK(spool__put(s, &d, "x", 1, NULL) == -EINVAL, "uuid");
	}
	CHECK(spool__remove(s, first, -1) == 0, "");
	CHECK(spool__remove(s, first, -1) == -ENOENT, "");
	spool__stats(s, &st);
	CHECK(st.files == 2 && st.removed == 1, "");
	spool__free(s);

	/* A restart: the same two, oldest first. */
	CHECK(spool__open(dir, &lim, &s) == 0, "");
	CHECK(spool__oldest(s, NULL, name) == 0 && strstr(name, u2), "%s", name);
	spool__stats(s, &st);
	CHECK(st.files == 2, "%llu", (unsigned long long)st.files);
	while (spool__oldest(s, NULL, name) == 0)
		spool__remove(s, name, -1);
	spool__free(s);
}

static void test_crash(void)
{
	struct spool_limits lim = {};
	struct spool_stats st;
	struct spool_meta m;
	struct spool *s;
	char path[256], name[SPOOL_NAME_MAX], u[37];
	int fd;

	/* A write killed before its rename, and an entry cut short. */
	snprintf(path, sizeof(path), "%s/.tmp-0b4e28ba-2fa1-41d2-883f-0016d3cca427", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "profd-spool 1\nuuid", 18) == 18, "");
	close(fd);
	snprintf(path, sizeof(path), "%s/%020lld-1b4e28ba-2fa1-41d2-883f-0016d3cca427.iv",
		 dir, (long long)T);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "profd-spool 1\nuuid 1b4e28ba-2fa1-41d2-883f-0016d3cca427\nservice x\nbytes 100\n\nabc", 81) == 81, "");
	close(fd);
	/* Not ours: left alone. */
	snprintf(path, sizeof(path), "%s/README", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);

	CHECK(spool__open(dir, &lim, &s) == 0, "");
	snprintf(path, sizeof(path), "%s/.tmp-0b4e28ba-2fa1-41d2-883f-0016d3cca427", dir);
	CHECK(access(path, F_OK) < 0, "tmp file left");
	spool__stats(s, &st);
	CHECK(st.files == 1, "%llu", (unsigned long long)st.files);
	CHECK(spool__oldest(s, NULL, name) == 0, "");
	CHECK(spool__read(s, name, &m, NULL, NULL) == -EBADMSG, "cut entry read");
	CHECK(spool__remove(s, name, SPOOL_DROP_CORRUPT) == 0, "");
	CHECK(put(s, "x.service", T, 1, 1, "work", u) == 0, "");
	spool__stats(s, &st);
	CHECK(st.files == 1 && st.dropped[SPOOL_DROP_CORRUPT] == 1, "");
	CHECK(spool__oldest(s, NULL, name) == 0 && strstr(name, u), "");
	spool__remove(s, name, -1);
	spool__free(s);
	snprintf(path, sizeof(path), "%s/README", dir);
	CHECK(access(path, F_OK) == 0, "README removed");
	unlink(path);
}

static void test_bounds(void)
{
	struct spool_limits lim = {};
	struct spool_stats st;
	struct spool *s;
	char name[SPOOL_NAME_MAX], u[8][37];
	uint64_t one;
	int i;

	CHECK(spool__open(dir, &lim, &s) == 0, "");
	CHECK(put(s, "a", T, 1, 1, "work", u[0]) == 0, "");
	spool__stats(s, &st);
	one = st.bytes;
	spool__remove(s, u[0], -1);
	while (spool__oldest(s, NULL, name) == 0)
		spool__remove(s, name, -1);
	/* Room for three: the fourth and fifth push the oldest out. */
	lim.max_bytes = one * 3 + one / 2;
	spool__set_limits(s, &lim);
	for (i = 0; i < 5; i++)
		CHECK(put(s, "a", T + i, 1, 1, "work", u[i]) == 0, "%d", i);
	spool__stats(s, &st);
	CHECK(st.files == 3 && st.dropped[SPOOL_DROP_BYTES] == 2 &&
	      st.bytes <= lim.max_bytes, "%llu files", (unsigned long long)st.files);
	CHECK(spool__oldest(s, NULL, name) == 0 && strstr(name, u[2]), "%s", name);
	/* One larger than the whole bound: refused, nothing dropped. */
	lim.max_bytes = one / 2;
	spool__set_limits(s, &lim);
	CHECK(put(s, "a", T + 9, 1, 1, "work", NULL) == -EFBIG, "");
	/* Files */
	lim.max_bytes = 0;
	lim.max_files = 2;
	spool__set_limits(s, &lim);
	CHECK(spool__expire(s, T) == 1, "");
	spool__stats(s, &st);
	CHECK(st.files == 2 && st.dropped[SPOOL_DROP_FILES] == 1, "");
	/* Age: 10 s; at T + 10 s + 4 ns the entry of T + 3 ns is past it, T + 4 ns not. */
	lim.max_files = 0;
	lim.max_age_ns = 10000000000ULL;
	spool__set_limits(s, &lim);
	CHECK(spool__expire(s, T + 10000000004LL) == 1, "");
	spool__stats(s, &st);
	CHECK(st.files == 1 && st.dropped[SPOOL_DROP_AGE] == 1, "");
	/* At open too. */
	spool__free(s);
	lim.max_age_ns = 1;
	CHECK(spool__open(dir, &lim, &s) == 0, "");
	spool__stats(s, &st);
	CHECK(st.files == 0 && st.dropped[SPOOL_DROP_AGE] == 1, "");
	spool__free(s);
}

static int64_t total_cpu(const void *buf, size_t len, int64_t *ret_samples)
{
	Perftools__Profiles__Profile *p = NULL;
	int64_t t = 0;
	size_t i;

	*ret_samples = -1;
	if (pprof_read__decode(buf, len, &p) < 0)
		return -1;
	for (i = 0; i < p->n_sample; i++)
		t += p->sample[i]->value[0];
	*ret_samples = (int64_t)p->n_sample;
	pprof_read__free(p);
	return t;
}

static void test_query(void)
{
	struct spool_limits lim = {};
	struct spool_query q = {};
	struct spool *s;
	void *buf = NULL;
	size_t len = 0;
	unsigned n = 0;
	int64_t ns;

	CHECK(spool__open(dir, &lim, &s) == 0, "");
	CHECK(put(s, "a.service", T + 10000000000LL, 100, 3, "work", NULL) == 0, "");
	CHECK(put(s, "a.service", T + 20000000000LL, 100, 4, "work", NULL) == 0, "");
	CHECK(put(s, "a.service", T + 30000000000LL, 200, 5, "work", NULL) == 0, "");
	CHECK(put(s, "a.service", T + 30000000000LL, 100, 6, "idle", NULL) == 0, "");
	CHECK(put(s, "b.service", T + 20000000000LL, 300, 7, "work", NULL) == 0, "");

	CHECK(spool__query(s, &q, &buf, &len, &n) == 0 && n == 5, "%u", n);
	CHECK(total_cpu(buf, len, &ns) == 25 && ns == 4, "samples %lld", (long long)ns);
	free(buf);

	q.service = "a.service";
	CHECK(spool__query(s, &q, &buf, &len, &n) == 0 && n == 4, "%u", n);
	/* pid 100's work stacks add up (3 + 4); pid 200 and idle apart. */
	CHECK(total_cpu(buf, len, &ns) == 18 && ns == 3, "samples %lld", (long long)ns);
	free(buf);

	q.pid = 100;
	CHECK(spool__query(s, &q, &buf, &len, &n) == 0, "");
	CHECK(total_cpu(buf, len, &ns) == 13 && ns == 2, "");
	free(buf);

	/* A window: the intervals ending T+10s..T+20s overlap [T+5s, T+15s]. */
	q.pid = 0;
	q.since_ns = T + 5000000000LL;
	q.until_ns = T + 15000000000LL;
	CHECK(spool__query(s, &q, &buf, &len, &n) == 0 && n == 2, "%u", n);
	free(buf);

	q.since_ns = q.until_ns = 0;
	q.service = NULL;
	q.unit = "b.service";
	CHECK(spool__query(s, &q, &buf, &len, &n) == 0 && n == 1, "");
	free(buf);
	q.unit = "nope.service";
	CHECK(spool__query(s, &q, &buf, &len, &n) == -ENOENT, "");
	q.unit = NULL;
	q.max_input_bytes = 10;
	CHECK(spool__query(s, &q, &buf, &len, &n) == -E2BIG, "");
	spool__free(s);
}

static void test_merge_mismatch(void)
{
	Perftools__Profiles__Profile *a = NULL, *b = NULL;
	struct pprof *p = NULL;
	struct pmerge *m = NULL;
	void *buf, *buf2;
	size_t len, len2;

	CHECK(make_profile(T, 1, 1, "f", &buf, &len) == 0, "");
	CHECK(pprof__new(&p) == 0, "new");
	pprof__add_sample_type(p, "inuse_space", "bytes");
	CHECK(pprof__write(p, true, &buf2, &len2) == 0, "");
	pprof__free(p);
	CHECK(pprof_read__decode(buf, len, &a) == 0 && pprof_read__decode(buf2, len2, &b) == 0, "");
	CHECK(pmerge__new(&m) == 0, "");
	CHECK(pmerge__add(m, a, 0) == 0, "");
	CHECK(pmerge__add(m, b, 0) == -EINVAL, "mixed types merged");
	pmerge__free(m);
	pprof_read__free(a);
	pprof_read__free(b);
	free(buf);
	free(buf2);
}

static void test_unsafe_dir(void)
{
	struct spool_limits lim = {};
	struct spool *s = NULL;
	char d[256];

	snprintf(d, sizeof(d), "%s/shared", dir);
	CHECK(mkdir(d, 0777) == 0 && chmod(d, 0777) == 0, "");
	CHECK(spool__open(d, &lim, &s) == -EPERM, "world-writable spool opened");
	chmod(d, 0700);
	CHECK(spool__open(d, &lim, &s) == 0, "");
	spool__free(s);
	rmdir(d);
}

int main(void)
{
	char cmd[128];

	if (!mkdtemp(dir))
		return check__skip("mkdtemp failed");
	test_uuid();
	test_order_read_remove();
	test_crash();
	test_bounds();
	test_query();
	test_merge_mismatch();
	test_unsafe_dir();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return check__done();
}
