// SPDX-License-Identifier: GPL-2.0
/*
 * pprof_read: decode (plain, gzip, multi-member gzip), top flat/cum numbers
 * on a profile with known truth, and refusal of corrupt or inconsistent input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pprof_read.h"
#include "check.h"

/*
 * The fixture: functions main (id 1, main.c) and hot (id 2, hot.c);
 * mappings 1 = /usr/lib/x86_64-linux-gnu/libfoo.so.1, 2 = [vdso];
 * locations 10 = hot:20, 20 = hot:25 inlined into main:7, 30 = main:9,
 * and unsymbolized ones (no Line): 40 = 0x7f0000001000 and
 * 50 = 0x7f0000002000 in libfoo, 60 = 0x7ffd0000 in [vdso], 70 = 0x401000
 * in no mapping. Values are [samples/count, cpu/nanoseconds].
 *
 *   sample  stack (leaf first)  values
 *   S1      10 30               3  30
 *   S2      20                  5  50
 *   S3      30                  2  20
 *   S4      10 20               1  10   hot twice: cum counts it once
 *   S5      40 30               4  40
 *   S6      50 40 30            6  60   libfoo twice: cum counts it once
 *   S7      60 30               7  70
 *   S8      70                  8  80
 *
 * Unsymbolized frames are one row per mapping: both libfoo addresses are
 * "[libfoo.so.1]", [vdso] keeps its name, 0x401000 is "<unknown>".
 * cpu/nanoseconds: total 360; [libfoo.so.1] flat 100 cum 100; hot 90/90;
 * <unknown> 80/80; [vdso] 70/70; main 20/280. samples/count: total 36;
 * [libfoo.so.1] 10/10; hot 9/9; <unknown> 8/8; [vdso] 7/7; main 2/28.
 */
enum { S_EMPTY, S_SAMPLES, S_COUNT, S_CPU, S_NS, S_MAIN, S_MAIN_C, S_HOT,
       S_HOT_C, S_LIBFOO, S_VDSO, S_MAX };

#define N_FN	2
#define N_MAP	2
#define N_LOC	7
#define N_LINE	5
#define N_SAMPLE 8
#define N_DEPTH	3

struct fixture {
	Perftools__Profiles__Profile p;
	Perftools__Profiles__ValueType vt[2], *vtp[2];
	Perftools__Profiles__Function fn[N_FN], *fnp[N_FN];
	Perftools__Profiles__Mapping map[N_MAP], *mapp[N_MAP];
	Perftools__Profiles__Location loc[N_LOC], *locp[N_LOC];
	Perftools__Profiles__Line ln[N_LINE], *lnp[N_LINE];
	Perftools__Profiles__Sample s[N_SAMPLE], *sp[N_SAMPLE];
	uint64_t ids[N_SAMPLE][N_DEPTH];
	int64_t vals[N_SAMPLE][2];
	char *strs[S_MAX];
};

static void fixture__init(struct fixture *f)
{
	static const char *const strs[S_MAX] = {
		"", "samples", "count", "cpu", "nanoseconds", "main", "main.c",
		"hot", "hot.c", "/usr/lib/x86_64-linux-gnu/libfoo.so.1", "[vdso]",
	};
	static const struct { uint64_t loc, fn; int64_t line; } lines[N_LINE] = {
		{ 10, 2, 20 }, { 20, 2, 25 }, { 20, 1, 7 }, { 30, 1, 9 },
		{ 0, 0, 0 },	/* unused */
	};
	static const uint64_t ids[N_SAMPLE][N_DEPTH] = {
		{ 10, 30 }, { 20 }, { 30 }, { 10, 20 }, { 40, 30 },
		{ 50, 40, 30 }, { 60, 30 }, { 70 },
	};
	static const int64_t vals[N_SAMPLE][2] = {
		{ 3, 30 }, { 5, 50 }, { 2, 20 }, { 1, 10 }, { 4, 40 },
		{ 6, 60 }, { 7, 70 }, { 8, 80 },
	};
	static const struct { uint64_t id, addr, mapping; } locs[N_LOC] = {
		{ 10, 0x401000 }, { 20, 0x401010 }, { 30, 0x401020 },
		{ 40, 0x7f0000001000, 1 }, { 50, 0x7f0000002000, 1 },
		{ 60, 0x7ffd0000, 2 }, { 70, 0x401000 },
	};
	size_t i, j;

	memset(f, 0, sizeof(*f));
	perftools__profiles__profile__init(&f->p);
	for (i = 0; i < S_MAX; i++)
		f->strs[i] = (char *)strs[i];
	f->p.string_table = f->strs;
	f->p.n_string_table = S_MAX;

	for (i = 0; i < 2; i++) {
		perftools__profiles__value_type__init(&f->vt[i]);
		f->vtp[i] = &f->vt[i];
	}
	f->vt[0].type = S_SAMPLES;
	f->vt[0].unit = S_COUNT;
	f->vt[1].type = S_CPU;
	f->vt[1].unit = S_NS;
	f->p.sample_type = f->vtp;
	f->p.n_sample_type = 2;

	for (i = 0; i < N_FN; i++) {
		perftools__profiles__function__init(&f->fn[i]);
		f->fnp[i] = &f->fn[i];
		f->fn[i].id = i + 1;
	}
	f->fn[0].name = S_MAIN;
	f->fn[0].filename = S_MAIN_C;
	f->fn[1].name = S_HOT;
	f->fn[1].filename = S_HOT_C;
	f->p.function = f->fnp;
	f->p.n_function = N_FN;

	for (i = 0; i < N_MAP; i++) {
		perftools__profiles__mapping__init(&f->map[i]);
		f->mapp[i] = &f->map[i];
		f->map[i].id = i + 1;
	}
	f->map[0].memory_start = 0x7f0000000000;
	f->map[0].memory_limit = 0x7f0000100000;
	f->map[0].filename = S_LIBFOO;
	f->map[1].memory_start = 0x7ffd0000;
	f->map[1].memory_limit = 0x7ffd2000;
	f->map[1].filename = S_VDSO;
	f->p.mapping = f->mapp;
	f->p.n_mapping = N_MAP;

	for (i = 0; i < N_LINE; i++) {
		perftools__profiles__line__init(&f->ln[i]);
		f->lnp[i] = &f->ln[i];
		f->ln[i].function_id = lines[i].fn;
		f->ln[i].line = lines[i].line;
	}
	for (i = 0, j = 0; i < N_LOC; i++) {
		perftools__profiles__location__init(&f->loc[i]);
		f->locp[i] = &f->loc[i];
		f->loc[i].id = locs[i].id;
		f->loc[i].address = locs[i].addr;
		f->loc[i].mapping_id = locs[i].mapping;
		f->loc[i].line = &f->lnp[j];
		while (j < N_LINE && lines[j].loc == locs[i].id) {
			f->loc[i].n_line++;
			j++;
		}
	}
	f->p.location = f->locp;
	f->p.n_location = N_LOC;

	memcpy(f->ids, ids, sizeof(ids));
	memcpy(f->vals, vals, sizeof(vals));
	for (i = 0; i < N_SAMPLE; i++) {
		perftools__profiles__sample__init(&f->s[i]);
		f->sp[i] = &f->s[i];
		f->s[i].location_id = f->ids[i];
		for (j = 0; j < N_DEPTH && f->ids[i][j]; j++)
			f->s[i].n_location_id++;
		f->s[i].value = f->vals[i];
		f->s[i].n_value = 2;
	}
	f->p.sample = f->sp;
	f->p.n_sample = N_SAMPLE;
}

static uint8_t *pack(const Perftools__Profiles__Profile *p, size_t *ret_len)
{
	size_t n = perftools__profiles__profile__get_packed_size(p);
	uint8_t *buf = malloc(n ? n : 1);

	if (!buf)
		abort();
	*ret_len = perftools__profiles__profile__pack(p, buf);
	return buf;
}

static uint8_t *gzip(const uint8_t *in, size_t len, size_t *ret_len)
{
	z_stream z;
	uint8_t *out;
	size_t cap;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	cap = deflateBound(&z, len);
	out = malloc(cap);
	if (!out)
		abort();
	z.next_in = (Bytef *)in;
	z.avail_in = len;
	z.next_out = out;
	z.avail_out = cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	*ret_len = z.total_out;
	deflateEnd(&z);
	return out;
}

/* xorshift64*: deterministic "random" bytes. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ULL;
}

static const struct pprof_top_row *find_row(const struct pprof_top_row *rows,
					    size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	return NULL;
}

/* Decode @buf and run top; returns top's (or decode's) result. */
static int decode_top(const void *buf, size_t len, int idx)
{
	Perftools__Profiles__Profile *p = NULL;
	struct pprof_top_row *rows = NULL;
	size_t n;
	int64_t total;
	int r;

	r = pprof_read__decode(buf, len, &p);
	if (r < 0)
		return r;
	r = pprof_read__top(p, idx, 0, &rows, &n, &total);
	if (!r)
		pprof_read__top_free(rows, n);
	pprof_read__free(p);
	return r;
}

/* Pack a modified fixture and return decode + top's result. */
static int fixture_top(struct fixture *f, int idx)
{
	size_t len;
	uint8_t *buf = pack(&f->p, &len);
	int r = decode_top(buf, len, idx);

	free(buf);
	return r;
}

static void test_top(void)
{
	struct fixture f;
	Perftools__Profiles__Profile *p = NULL;
	struct pprof_top_row *rows = NULL;
	const struct pprof_top_row *r;
	uint8_t *raw, *gz;
	size_t raw_len, gz_len, n = 0;
	int64_t total = 0;
	int err;

	fixture__init(&f);
	raw = pack(&f.p, &raw_len);
	gz = gzip(raw, raw_len, &gz_len);
	CHECK(gz[0] == 0x1f && gz[1] == 0x8b, "gzip magic");

	err = pprof_read__decode(gz, gz_len, &p);
	CHECK(err == 0 && p, "decode gzip: %d", err);
	if (err)
		goto out;
	CHECK(p->n_sample == N_SAMPLE, "%zu samples", p->n_sample);
	CHECK(!strcmp(pprof_read__str(p, S_HOT), "hot"), "str");
	CHECK(!strcmp(pprof_read__str(p, -1), ""), "str -1");
	CHECK(!strcmp(pprof_read__str(p, S_MAX), ""), "str past end");
	CHECK(!strcmp(pprof_read__type(p, 1), "cpu") &&
	      !strcmp(pprof_read__unit(p, 1), "nanoseconds"), "type 1");
	CHECK(!strcmp(pprof_read__type(p, 2), ""), "type past end");
	CHECK(pprof_read__sample_index(p, NULL) == 1, "default = last");
	CHECK(pprof_read__sample_index(p, "") == 1, "empty = default");
	CHECK(pprof_read__sample_index(p, "samples") == 0, "by name");
	CHECK(pprof_read__sample_index(p, "0") == 0, "by number");
	CHECK(pprof_read__sample_index(p, "2") == -EINVAL, "number too big");
	CHECK(pprof_read__sample_index(p, "1x") == -EINVAL, "bad number");
	CHECK(pprof_read__sample_index(p, "inuse_space") == -EINVAL, "unknown");

	/* Default type: cpu/nanoseconds, rows by flat. */
	err = pprof_read__top(p, -1, 0, &rows, &n, &total);
	CHECK(err == 0, "top: %d", err);
	CHECK(total == 360, "total %lld", (long long)total);
	CHECK(n == 5, "%zu rows", n);
	if (!err && n == 5) {
		static const struct {
			const char *name, *file;
			int64_t line, flat, cum;
		} want[5] = {
			/* Two addresses in libfoo, one row: 40 + 60. */
			{ "[libfoo.so.1]", "", 0, 100, 100 },
			/* Its hottest line: :25 (50) over :20 (30 + 10). */
			{ "hot", "hot.c", 25, 90, 90 },
			{ "<unknown>", "", 0, 80, 80 },
			{ "[vdso]", "", 0, 70, 70 },
			/* main is a leaf only in S3, at :9 (not the call site :7). */
			{ "main", "main.c", 9, 20, 280 },
		};
		size_t i;

		for (i = 0; i < 5; i++)
			CHECK(!strcmp(rows[i].name, want[i].name) &&
			      !strcmp(rows[i].file, want[i].file) &&
			      rows[i].line == want[i].line &&
			      rows[i].flat == want[i].flat &&
			      rows[i].cum == want[i].cum,
			      "row%zu %s %s:%lld %lld %lld", i, rows[i].name,
			      rows[i].file, (long long)rows[i].line,
			      (long long)rows[i].flat, (long long)rows[i].cum);
		CHECK(!find_row(rows, n, "0x7f0000001000") &&
		      !find_row(rows, n, "0x401000"), "no per-address rows");
	}
	pprof_read__top_free(rows, n);
	rows = NULL;

	/* samples/count by index, and max_rows. */
	err = pprof_read__top(p, 0, 2, &rows, &n, &total);
	CHECK(err == 0 && n == 2 && total == 36, "top count: %d %zu %lld", err,
	      n, (long long)total);
	if (!err && n == 2) {
		r = find_row(rows, n, "hot");
		CHECK(r && r->flat == 9 && r->cum == 9, "hot count");
		r = find_row(rows, n, "[libfoo.so.1]");
		CHECK(r && r->flat == 10 && r->cum == 10, "libfoo count");
		CHECK(!find_row(rows, n, "main"), "main cut by max_rows");
	}
	pprof_read__top_free(rows, n);
	rows = NULL;
	err = pprof_read__top(p, 0, 0, &rows, &n, NULL);
	r = err ? NULL : find_row(rows, n, "main");
	CHECK(r && r->flat == 2 && r->cum == 28, "main count");
	r = err ? NULL : find_row(rows, n, "<unknown>");
	CHECK(r && r->flat == 8 && r->cum == 8, "unknown count");
	pprof_read__top_free(rows, err ? 0 : n);
	rows = NULL;

	/* Bad index; outputs untouched. */
	rows = (struct pprof_top_row *)&f;
	n = 77;
	total = 77;
	err = pprof_read__top(p, 2, 0, &rows, &n, &total);
	CHECK(err == -EINVAL, "index 2: %d", err);
	CHECK(rows == (struct pprof_top_row *)&f && n == 77 && total == 77,
	      "outputs untouched");
	rows = NULL;
	pprof_read__free(p);
	p = NULL;

	/* Plain (not gzip'd) protobuf decodes too. */
	err = pprof_read__decode(raw, raw_len, &p);
	CHECK(err == 0 && p && p->n_location == N_LOC, "decode plain: %d", err);
	pprof_read__free(p);
	p = NULL;
	pprof_read__free(NULL);

	/* Two gzip members read as one stream (`cat a.gz b.gz`). */
	{
		size_t la, lb, half = raw_len / 2;
		uint8_t *a = gzip(raw, half, &la);
		uint8_t *b = gzip(raw + half, raw_len - half, &lb);
		uint8_t *ab = malloc(la + lb);

		memcpy(ab, a, la);
		memcpy(ab + la, b, lb);
		err = decode_top(ab, la + lb, -1);
		CHECK(err == 0, "two members: %d", err);
		/* Trailing garbage after the last member is refused. */
		ab[la] = 'x';
		err = pprof_read__decode(ab, la + lb, &p);
		CHECK(err == -EINVAL, "trailing garbage: %d", err);
		free(a);
		free(b);
		free(ab);
	}

	/* default_sample_type picks by name. */
	fixture__init(&f);
	f.p.default_sample_type = S_SAMPLES;
	free(raw);
	raw = pack(&f.p, &raw_len);
	err = pprof_read__decode(raw, raw_len, &p);
	CHECK(err == 0, "decode default_sample_type");
	if (!err) {
		CHECK(pprof_read__sample_index(p, NULL) == 0, "default type");
		err = pprof_read__top(p, -1, 0, &rows, &n, &total);
		CHECK(err == 0 && total == 36, "default total %lld",
		      (long long)total);
		pprof_read__top_free(rows, err ? 0 : n);
		rows = NULL;
	}
	pprof_read__free(p);
	p = NULL;
	/* A default naming no type falls back to the last one. */
	fixture__init(&f);
	f.p.default_sample_type = S_MAIN;
	free(raw);
	raw = pack(&f.p, &raw_len);
	err = pprof_read__decode(raw, raw_len, &p);
	CHECK(!err && pprof_read__sample_index(p, NULL) == 1, "unknown default");
	pprof_read__free(p);
	p = NULL;

	/*
	 * Two functions named the same share a row, and count once per sample:
	 * rename hot to main and everything is main.
	 */
	fixture__init(&f);
	f.fn[1].name = S_MAIN;
	free(raw);
	raw = pack(&f.p, &raw_len);
	err = pprof_read__decode(raw, raw_len, &p);
	if (!err)
		err = pprof_read__top(p, -1, 0, &rows, &n, &total);
	CHECK(err == 0 && n == 4, "dedup: %d %zu", err, n);
	r = err ? NULL : find_row(rows, n, "main");
	CHECK(r && r->flat == 110 && r->cum == 280 && r->line == 25 &&
	      !strcmp(r->file, "hot.c") && !r->close_line,
	      "dedup main %lld %lld", r ? (long long)r->flat : -1,
	      r ? (long long)r->cum : -1);
	pprof_read__top_free(rows, err ? 0 : n);
	rows = NULL;
	pprof_read__free(p);
	p = NULL;

	/* A row whose samples are all worth 0 is dropped. */
	fixture__init(&f);
	f.vals[7][1] = 0;
	free(raw);
	raw = pack(&f.p, &raw_len);
	err = pprof_read__decode(raw, raw_len, &p);
	if (!err)
		err = pprof_read__top(p, -1, 0, &rows, &n, &total);
	CHECK(err == 0 && n == 4 && total == 280, "zero rows: %d %zu", err, n);
	CHECK(!err && !find_row(rows, n, "<unknown>"), "zero row dropped");
	pprof_read__top_free(rows, err ? 0 : n);
	rows = NULL;
	pprof_read__free(p);
	p = NULL;

	/*
	 * Mappings are grouped by base name, with trailing slashes ignored;
	 * one without a file name joins "<unknown>"; a function named like a
	 * mapping row keeps its own row.
	 */
	fixture__init(&f);
	f.strs[S_VDSO] = "/opt/foo/libfoo.so.1/";
	free(raw);
	raw = pack(&f.p, &raw_len);
	err = pprof_read__decode(raw, raw_len, &p);
	if (!err)
		err = pprof_read__top(p, -1, 0, &rows, &n, &total);
	r = err ? NULL : find_row(rows, n, "[libfoo.so.1]");
	CHECK(!err && n == 4 && r && r->flat == 170 && r->cum == 170,
	      "same base name: %d %zu", err, n);
	pprof_read__top_free(rows, err ? 0 : n);
	rows = NULL;
	pprof_read__free(p);
	p = NULL;

	fixture__init(&f);
	f.map[1].filename = S_EMPTY;
	free(raw);
	raw = pack(&f.p, &raw_len);
	err = pprof_read__decode(raw, raw_len, &p);
	if (!err)
		err = pprof_read__top(p, -1, 0, &rows, &n, &total);
	r = err ? NULL : find_row(rows, n, "<unknown>");
	CHECK(!err && n == 4 && r && r->flat == 150 && r->cum == 150,
	      "unnamed mapping: %d %zu", err, n);
	pprof_read__top_free(rows, err ? 0 : n);
	rows = NULL;
	pprof_read__free(p);
	p = NULL;

	fixture__init(&f);
	f.fn[1].name = S_VDSO;
	free(raw);
	raw = pack(&f.p, &raw_len);
	err = pprof_read__decode(raw, raw_len, &p);
	if (!err)
		err = pprof_read__top(p, -1, 0, &rows, &n, &total);
	CHECK(!err && n == 5, "function named [vdso]: %d %zu", err, n);
	if (!err && n == 5) {
		CHECK(!strcmp(rows[1].name, "[vdso]") && rows[1].flat == 90 &&
		      !strcmp(rows[1].file, "hot.c"), "function [vdso]");
		CHECK(!strcmp(rows[3].name, "[vdso]") && rows[3].flat == 70 &&
		      !strcmp(rows[3].file, ""), "mapping [vdso]");
	}
	pprof_read__top_free(rows, err ? 0 : n);
	rows = NULL;
out:
	pprof_read__free(p);
	free(raw);
	free(gz);
}

static void test_corrupt(void)
{
	struct fixture f;
	Perftools__Profiles__Profile *p = NULL;
	uint8_t *raw, *gz, *buf;
	size_t raw_len, gz_len, i, bad;
	int err;

	fixture__init(&f);
	raw = pack(&f.p, &raw_len);
	gz = gzip(raw, raw_len, &gz_len);

	CHECK(pprof_read__decode(gz, 0, &p) == -EINVAL, "empty");
	CHECK(pprof_read__decode(NULL, 10, &p) == -EINVAL, "NULL");

	/* Every truncation of the gzip stream fails (the trailer is missing). */
	for (i = 1, bad = 0; i < gz_len; i++) {
		p = NULL;
		err = pprof_read__decode(gz, i, &p);
		if (err != -EINVAL || p) {
			bad++;
			pprof_read__free(p);
		}
	}
	CHECK(bad == 0, "%zu truncations of %zu decoded", bad, gz_len);
	p = NULL;

	/* A flipped bit in the deflate data: data error or CRC mismatch. */
	buf = malloc(gz_len);
	memcpy(buf, gz, gz_len);
	buf[gz_len / 2] ^= 0x10;
	CHECK(pprof_read__decode(buf, gz_len, &p) == -EINVAL, "flipped bit");
	free(buf);

	/* Random bytes, plain and behind a gzip magic. */
	buf = malloc(4096);
	for (i = 0; i < 4096; i++)
		buf[i] = (uint8_t)rnd();
	buf[0] = 0xff;	/* field 31, wire type 7: invalid */
	CHECK(pprof_read__decode(buf, 4096, &p) == -EINVAL, "random bytes");
	buf[0] = 0x1f;
	buf[1] = 0x8b;
	CHECK(pprof_read__decode(buf, 4096, &p) == -EINVAL, "random gzip");
	free(buf);

	/* string_table[0] must be "". */
	fixture__init(&f);
	f.strs[0] = "x";
	buf = pack(&f.p, &i);
	CHECK(pprof_read__decode(buf, i, &p) == -EINVAL, "string_table[0]");
	free(buf);

	/* Inflation bound: 2 MiB of zeros. */
	buf = calloc(1, 2 << 20);
	{
		size_t zl;
		uint8_t *z = gzip(buf, 2 << 20, &zl);

		CHECK(pprof_read__decode_bounded(z, zl, 1 << 20, &p) == -EFBIG,
		      "bomb refused");
		/* Exactly at the bound: inflates, then fails as protobuf. */
		err = pprof_read__decode_bounded(z, zl, 2 << 20, &p);
		CHECK(err == -EINVAL, "at bound: %d", err);
		free(z);
	}
	CHECK(pprof_read__decode_bounded(raw, raw_len, raw_len - 1, &p) == -EFBIG,
	      "plain over bound");
	free(buf);

	/* Inconsistent profiles decode but top refuses them. */
	fixture__init(&f);
	f.ids[2][0] = 99;
	CHECK(fixture_top(&f, -1) == -EINVAL, "missing location");
	fixture__init(&f);
	f.ln[3].function_id = 7;
	CHECK(fixture_top(&f, -1) == -EINVAL, "missing function");
	fixture__init(&f);
	f.loc[1].id = 10;
	CHECK(fixture_top(&f, -1) == -EINVAL, "duplicate location id");
	fixture__init(&f);
	f.fn[0].id = 0;
	CHECK(fixture_top(&f, -1) == -EINVAL, "function id 0");
	fixture__init(&f);
	f.loc[4].mapping_id = 3;
	CHECK(fixture_top(&f, -1) == -EINVAL, "missing mapping");
	fixture__init(&f);
	f.map[1].id = 1;
	CHECK(fixture_top(&f, -1) == -EINVAL, "duplicate mapping id");
	/* A symbolized location's mapping is not followed. */
	fixture__init(&f);
	f.loc[0].mapping_id = 9;
	CHECK(fixture_top(&f, -1) == 0, "symbolized, missing mapping");
	fixture__init(&f);
	f.s[4].n_value = 1;
	CHECK(fixture_top(&f, -1) == -EINVAL, "value count");
	fixture__init(&f);
	f.vals[0][1] = INT64_MAX;
	CHECK(fixture_top(&f, -1) == -EOVERFLOW, "overflow");
	fixture__init(&f);
	f.p.n_sample_type = 0;
	f.p.n_sample = 0;
	CHECK(fixture_top(&f, -1) == -EINVAL, "no sample types");
	/* Out-of-range string indices read as "". */
	fixture__init(&f);
	f.fn[1].name = 1000;
	f.fn[1].filename = -5;
	CHECK(fixture_top(&f, -1) == 0, "bad string index");

	free(raw);
	free(gz);
}

/* Random mutations of a valid profile must never crash (run under ASan). */
static void test_mutations(void)
{
	struct fixture f;
	uint8_t *raw, *buf, *gz;
	size_t raw_len, gz_len, i, j, ok = 0;

	fixture__init(&f);
	raw = pack(&f.p, &raw_len);
	buf = malloc(raw_len);
	for (i = 0; i < 20000; i++) {
		size_t len = raw_len - (rnd() % 4 ? 0 : rnd() % raw_len);

		memcpy(buf, raw, raw_len);
		for (j = 0; j < 1 + rnd() % 4; j++)
			buf[rnd() % raw_len] ^= (uint8_t)(1u << (rnd() % 8));
		if (!decode_top(buf, len, -1))
			ok++;
		if (i % 64 == 0) {
			gz = gzip(buf, len, &gz_len);
			(void)decode_top(gz, gz_len, 0);
			free(gz);
		}
	}
	CHECK(ok < 20000, "some mutations must be refused (%zu accepted)", ok);
	free(buf);
	free(raw);
}

/* Decode the fixture with its S2 cpu value set to @s2. */
static Perftools__Profiles__Profile *fixture_profile(int64_t s2)
{
	Perftools__Profiles__Profile *p = NULL;
	struct fixture f;
	uint8_t *raw;
	size_t len;

	fixture__init(&f);
	f.vals[1][1] = s2;
	raw = pack(&f.p, &len);
	CHECK(pprof_read__decode(raw, len, &p) == 0, "decode fixture");
	free(raw);
	return p;
}

/* -cum order, -focus, and the hottest line when two are close. */
static void test_top_options(void)
{
	Perftools__Profiles__Profile *p = fixture_profile(50);
	struct pprof_top_opts o = { .sample_index = 1 };
	struct pprof_top_row *rows = NULL;
	const struct pprof_top_row *r;
	int64_t total = 0, focused = 0;
	regex_t re;
	size_t n = 0;
	int err;

	if (!p)
		return;
	o.by_cum = true;
	err = pprof_read__top_opts(p, &o, &rows, &n, &total, &focused);
	CHECK(!err && n == 5 && total == 360 && focused == 360, "cum: %d %zu", err, n);
	if (!err && n == 5) {
		static const char *const want[5] = {
			"main", "[libfoo.so.1]", "hot", "<unknown>", "[vdso]",
		};
		size_t i;

		for (i = 0; i < 5; i++)
			CHECK(!strcmp(rows[i].name, want[i]), "cum row %zu: %s, want %s",
			      i, rows[i].name, want[i]);
	}
	pprof_read__top_free(rows, err ? 0 : n);

	/* Focus on hot: S1, S2, S4 (90 of 360); main there only by cum, so its
	 * line is its hottest call site, :7 (S2 50 + S4 10) over :9 (S1 30). */
	o.by_cum = false;
	CHECK(regcomp(&re, "^hot$", REG_EXTENDED | REG_NOSUB) == 0, "regcomp");
	o.focus = &re;
	err = pprof_read__top_opts(p, &o, &rows, &n, &total, &focused);
	CHECK(!err && n == 2 && total == 360 && focused == 90,
	      "focus hot: %d %zu %lld %lld", err, n, (long long)total,
	      (long long)focused);
	r = err ? NULL : find_row(rows, n, "hot");
	CHECK(r && r->flat == 90 && r->cum == 90, "focus: hot");
	r = err ? NULL : find_row(rows, n, "main");
	CHECK(r && r->flat == 0 && r->cum == 90 && r->line == 7 && !r->close_line,
	      "focus: main %lld/%lld line %lld", r ? (long long)r->flat : -1,
	      r ? (long long)r->cum : -1, r ? (long long)r->line : -1);
	pprof_read__top_free(rows, err ? 0 : n);
	regfree(&re);

	/* A mapping's file matches too (pprof's matchesName). */
	CHECK(regcomp(&re, "libfoo", REG_EXTENDED | REG_NOSUB) == 0, "regcomp");
	err = pprof_read__top_opts(p, &o, &rows, &n, &total, &focused);
	CHECK(!err && n == 2 && focused == 100, "focus libfoo: %d %zu %lld", err,
	      n, (long long)focused);
	pprof_read__top_free(rows, err ? 0 : n);
	regfree(&re);
	pprof_read__free(p);

	/* hot:25 at 42 and hot:20 at 40: within a tenth, no line stands out. */
	p = fixture_profile(42);
	if (!p)
		return;
	o.focus = NULL;
	err = pprof_read__top_opts(p, &o, &rows, &n, &total, NULL);
	r = err ? NULL : find_row(rows, n, "hot");
	CHECK(r && r->line == 25 && r->close_line == 20 && !r->close_file_differs,
	      "close lines: %lld %lld", r ? (long long)r->line : -1,
	      r ? (long long)r->close_line : -1);
	pprof_read__top_free(rows, err ? 0 : n);
	pprof_read__free(p);
}

/* Folded stacks of the fixture, root first, inlined frames expanded. */
static void test_folded(void)
{
	static const struct { const char *stack; int64_t value; } want[] = {
		{ "<unknown>", 80 },
		{ "main", 20 },
		{ "main;[libfoo.so.1]", 40 },
		{ "main;[libfoo.so.1];[libfoo.so.1]", 60 },
		{ "main;[vdso]", 70 },
		{ "main;hot", 80 },		/* S1 (30) and S2 (50, inlined) */
		{ "main;hot;hot", 10 },
	};
	Perftools__Profiles__Profile *p = fixture_profile(50);
	struct pprof_folded *f = NULL;
	size_t n = 0, i, nw = sizeof(want) / sizeof(want[0]);
	regex_t re;
	int err;

	if (!p)
		return;
	err = pprof_read__folded(p, 1, NULL, &f, &n);
	CHECK(!err && n == nw, "folded: %d, %zu lines", err, n);
	for (i = 0; !err && i < n && i < nw; i++)
		CHECK(!strcmp(f[i].stack, want[i].stack) && f[i].value == want[i].value,
		      "folded %zu: %s %lld, want %s %lld", i, f[i].stack,
		      (long long)f[i].value, want[i].stack, (long long)want[i].value);
	pprof_read__folded_free(f, err ? 0 : n);

	CHECK(regcomp(&re, "vdso", REG_EXTENDED | REG_NOSUB) == 0, "regcomp");
	err = pprof_read__folded(p, 0, &re, &f, &n);
	CHECK(!err && n == 1 && !strcmp(f[0].stack, "main;[vdso]") && f[0].value == 7,
	      "folded focus: %d %zu", err, n);
	pprof_read__folded_free(f, err ? 0 : n);
	regfree(&re);
	CHECK(pprof_read__folded(p, 2, NULL, &f, &n) == -EINVAL, "bad index");
	pprof_read__free(p);

	/* A zero value is no stack to draw. */
	p = fixture_profile(0);
	err = p ? pprof_read__folded(p, 1, NULL, &f, &n) : -1;
	CHECK(!err && n == nw, "zero value: %zu lines", n);
	for (i = 0; !err && i < n; i++)
		if (!strcmp(f[i].stack, "main;hot"))
			CHECK(f[i].value == 30, "S2 left out: %lld", (long long)f[i].value);
	pprof_read__folded_free(f, err ? 0 : n);
	pprof_read__free(p);
}

int main(void)
{
	test_top();
	test_top_options();
	test_folded();
	test_corrupt();
	test_mutations();
	return check__done();
}
