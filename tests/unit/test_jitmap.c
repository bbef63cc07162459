// SPDX-License-Identifier: GPL-2.0
/* jitmap: perf maps and jitdump files, well formed and hostile. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "debuginfod.h"
#include "jitmap.h"

static void put32(char **p, uint32_t v) { memcpy(*p, &v, 4); *p += 4; }
static void put64(char **p, uint64_t v) { memcpy(*p, &v, 8); *p += 8; }

/* A CODE_LOAD record of @name at @addr, @size bytes of code. */
static void code_load_at(char **p, const char *name, uint64_t addr,
			 uint64_t size, uint64_t t)
{
	uint32_t total = 16 + 40 + (uint32_t)strlen(name) + 1 + (uint32_t)size;

	put32(p, 0);
	put32(p, total);
	put64(p, t);
	put32(p, 7);
	put32(p, 7);
	put64(p, addr);
	put64(p, addr);
	put64(p, size);
	put64(p, 1);
	memcpy(*p, name, strlen(name) + 1);
	*p += strlen(name) + 1;
	memset(*p, 0xc3, size);
	*p += size;
}

static void code_load(char **p, const char *name, uint64_t addr, uint64_t size)
{
	code_load_at(p, name, addr, size, 1);
}

static void header(char **p)
{
	put32(p, 0x4A695444);
	put32(p, 1);
	put32(p, 40);
	put32(p, 62);
	put32(p, 0);
	put32(p, 7);
	put64(p, 0);
	put64(p, 0);
}

#define NAMED(n, want) CHECK((n) && !strcmp((n), (want)), "%s, not %s", \
			     (n) ? (n) : "(null)", (want))

/* Code replaced at one address: each sample named as it was then. */
static void test_time(void)
{
	static const char one[] = "1000 100 phase_one\n2000 10 other\n";
	static const char two[] = "1000 100 phase_two\n3000 1";
	uint64_t at = 0x1010, elsewhere = 0x2004;
	struct jitmap_stats st0, st;
	struct jitmap jm = {};
	char buf[1024], *p;
	unsigned g1, g2;

	jitmap__stats(&st0);

	CHECK(jitmap__parse_perfmap(&jm, one, strlen(one), 100) == 0, "one");
	CHECK(jm.perf_pos == strlen(one), "pos %zu", jm.perf_pos);
	CHECK(jitmap__gen(&jm, &at, 1, 50) == 1, "one generation");
	CHECK(jitmap__parse_perfmap(&jm, two, strlen(two), 200) == 0, "two");
	/* The unfinished line waits for its newline. */
	CHECK(jm.perf_pos == strlen(one) + strlen("1000 100 phase_two\n"),
	      "pos %zu", jm.perf_pos);
	g1 = jitmap__gen(&jm, &at, 1, 150);
	g2 = jitmap__gen(&jm, &at, 1, 250);
	CHECK(g1 == 1 && g2 == 2, "gens %u %u", g1, g2);
	CHECK(jitmap__gen(&jm, &elsewhere, 1, 250) == 0, "not replaced");
	NAMED(jitmap__find(&jm, at, g1, NULL, NULL), "phase_one");
	NAMED(jitmap__find(&jm, at, g2, NULL, NULL), "phase_two");
	NAMED(jitmap__find(&jm, at, 0, NULL, NULL), "phase_two");
	NAMED(jitmap__find(&jm, elsewhere, g1, NULL, NULL), "other");
	jitmap__stats(&st);
	CHECK(jm.rep_bytes && st.bytes == st0.bytes + jitmap__bytes(&jm),
	      "charged %llu for %zu", (unsigned long long)(st.bytes - st0.bytes),
	      jitmap__bytes(&jm));
	jitmap__fini(&jm);
	jitmap__stats(&st);
	CHECK(st.bytes == st0.bytes, "given back: %llu",
	      (unsigned long long)st.bytes);

	/* jitdump: the records' own times, fed in two pieces. */
	p = buf;
	header(&p);
	code_load_at(&p, "first", 0x5000, 64, 1000);
	code_load_at(&p, "second", 0x5000, 64, 2000);
	CHECK(jitmap__parse_jitdump(&jm, buf, 50, 5000) == 0, "piece 1");
	CHECK(jm.dump_pos == 40, "header only: %zu", jm.dump_pos);
	CHECK(jitmap__parse_jitdump(&jm, buf + 40, (size_t)(p - buf) - 40,
				    5000) == 0, "piece 2");
	at = 0x5010;
	NAMED(jitmap__find(&jm, at, jitmap__gen(&jm, &at, 1, 1500), NULL,
			   NULL), "first");
	NAMED(jitmap__find(&jm, at, jitmap__gen(&jm, &at, 1, 2500), NULL,
			   NULL), "second");
	/* Older than all: the first name known there. */
	NAMED(jitmap__find(&jm, at, jitmap__gen(&jm, &at, 1, 10), NULL,
			   NULL), "first");
	jitmap__fini(&jm);
}

/* One budget across tables: what is over it is dropped and counted. */
static void test_budget(void)
{
	struct jitmap a = {}, b = {};
	struct jitmap_stats st0, st;
	char line[64];
	unsigned i;

	jitmap__stats(&st0);
	jitmap__set_budget(st0.bytes + 64 * 1024);
	for (i = 0; i < 4000; i++) {
		snprintf(line, sizeof(line), "%x 10 name_%u\n", 0x1000 + i * 16,
			 i);
		(void)jitmap__parse_perfmap(i & 1 ? &a : &b, line,
					    strlen(line), 1);
	}
	jitmap__stats(&st);
	CHECK(st.bytes <= st0.bytes + 64 * 1024, "bytes %llu",
	      (unsigned long long)st.bytes);
	CHECK(st.dropped_total > st0.dropped_total, "dropped %llu",
	      (unsigned long long)st.dropped_total);
	CHECK(a.dropped + b.dropped == st.dropped_total - st0.dropped_total,
	      "per table %zu + %zu", a.dropped, b.dropped);
	CHECK(a.n > 0 && b.n > 0, "both got some: %zu %zu", a.n, b.n);
	jitmap__fini(&a);
	jitmap__fini(&b);
	jitmap__stats(&st);
	CHECK(st.bytes == st0.bytes, "given back: %llu",
	      (unsigned long long)st.bytes);
	jitmap__set_budget(0);
}

int main(void)
{
	static const char map[] =
		"7f0000001000 100 JS:*hot /a.js:1:2\n"
		"0x7f0000002000 0x20 with 0x prefix\r\n"
		"not a line\n"
		"7f0000001000 10 JS:*replaced\n"	/* later wins */
		"zzzz 10 bad hex\n"
		"7f0000003000 0 empty size\n"
		"ffffffffffffff00 1000 wraps\n"
		"7f0000004000 10 ctl\001char\n"
		"7f0000005000 10 last line\n";
	struct jitmap jm = {};
	uint64_t start = 0;
	const char *n;
	char buf[4096], *p;
	char *big;
	size_t i;

	CHECK(jitmap__parse_perfmap(&jm, map, strlen(map), 1) == 0, "parse");
	n = jitmap__find(&jm, 0x7f0000001008, 0, &start, NULL);
	CHECK(n && !strcmp(n, "JS:*replaced"), "%s", n ? n : "(null)");
	CHECK(start == 0x7f0000001000, "start %#llx", (unsigned long long)start);
	n = jitmap__find(&jm, 0x7f0000001010, 0, NULL, NULL);
	CHECK(n && !strcmp(n, "JS:*hot /a.js:1:2"), "%s", n ? n : "(null)");
	n = jitmap__find(&jm, 0x7f0000001100, 0, NULL, NULL);
	CHECK(!n, "past the end: %s", n);
	n = jitmap__find(&jm, 0x7f000000201f, 0, NULL, NULL);
	CHECK(n && !strcmp(n, "with 0x prefix"), "%s", n ? n : "(null)");
	CHECK(!jitmap__find(&jm, 0x7f0000003000, 0, NULL, NULL), "empty size");
	CHECK(!jitmap__find(&jm, 0xffffffffffffff10ull, 0, NULL, NULL), "wrapping entry");
	n = jitmap__find(&jm, 0x7f0000004000, 0, NULL, NULL);
	CHECK(n && !strcmp(n, "ctl?char"), "%s", n ? n : "(null)");
	n = jitmap__find(&jm, 0x7f0000005000, 0, NULL, NULL);
	CHECK(n && !strcmp(n, "last line"), "%s", n ? n : "(null)");
	jitmap__fini(&jm);

	/* A long name is cut; many entries are bounded. */
	big = malloc(JITMAP_MAX_NAME * 4 + 64);
	snprintf(big, 32, "1000 10 ");
	memset(big + 8, 'x', JITMAP_MAX_NAME * 4);
	big[8 + JITMAP_MAX_NAME * 4] = '\n';
	big[9 + JITMAP_MAX_NAME * 4] = 0;
	CHECK(jitmap__parse_perfmap(&jm, big, strlen(big), 1) == 0, "long");
	n = jitmap__find(&jm, 0x1000, 0, NULL, NULL);
	CHECK(n && strlen(n) == JITMAP_MAX_NAME, "%zu", n ? strlen(n) : 0);
	jitmap__fini(&jm);
	free(big);

	/* jitdump: header, two loads, a move, a truncated record. */
	p = buf;
	header(&p);
	code_load(&p, "jit_hot", 0x10000, 32);
	code_load(&p, "jit_cold", 0x20000, 16);
	put32(&p, 1);			/* CODE_MOVE jit_cold -> 0x30000 */
	put32(&p, 16 + 56);
	put64(&p, 2);
	put32(&p, 7);
	put32(&p, 7);
	put64(&p, 0x30000);
	put64(&p, 0x20000);
	put64(&p, 0x30000);
	put64(&p, 16);
	put64(&p, 2);
	put32(&p, 0);			/* truncated: size beyond the end */
	put32(&p, 4000);
	put64(&p, 3);
	CHECK(jitmap__parse_jitdump(&jm, buf, (size_t)(p - buf), 10) == 0, "jitdump");
	n = jitmap__find(&jm, 0x1001f, 0, NULL, NULL);
	CHECK(n && !strcmp(n, "jit_hot"), "%s", n ? n : "(null)");
	/* Moved: the new place has it; the old keeps it for older samples. */
	CHECK(jitmap__find(&jm, 0x20000, 0, NULL, NULL), "moved away");
	n = jitmap__find(&jm, 0x30008, 0, NULL, NULL);
	CHECK(n && !strcmp(n, "jit_cold"), "%s", n ? n : "(null)");
	jitmap__fini(&jm);
	/* "DTiJ" in the file is the magic in little-endian order. */
	memcpy(buf, "JiTD", 4);
	CHECK(jitmap__parse_jitdump(&jm, buf, 64, 1) == -EINVAL, "big-endian");
	CHECK(jitmap__parse_jitdump(&jm, buf, 10, 1) < 0, "short");
	for (i = 0; i < 40; i++)
		(void)jitmap__parse_jitdump(&jm, buf, i, 1);
	jitmap__fini(&jm);

	test_time();
	test_budget();

	/* Build-ids debuginfod is asked for. */
	CHECK(debuginfod__valid_build_id("93ac61ec5a8eb1396f9fbd350e3169a558528a40"), "id");
	CHECK(!debuginfod__valid_build_id("93AC"), "upper case");
	CHECK(!debuginfod__valid_build_id("9"), "odd");
	CHECK(!debuginfod__valid_build_id(""), "empty");
	CHECK(!debuginfod__valid_build_id("../../etc/passwd"), "path");
	return check__done();
}
