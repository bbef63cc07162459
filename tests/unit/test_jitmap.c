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
static void code_load(char **p, const char *name, uint64_t addr, uint64_t size)
{
	uint32_t total = 16 + 40 + (uint32_t)strlen(name) + 1 + (uint32_t)size;

	put32(p, 0);
	put32(p, total);
	put64(p, 1);
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
		"7f0000005000 10 no newline";
	struct jitmap jm = {};
	uint64_t start = 0;
	const char *n;
	char buf[4096], *p;
	char *big;
	size_t i;

	CHECK(jitmap__parse_perfmap(&jm, map, strlen(map)) == 0, "parse");
	n = jitmap__find(&jm, 0x7f0000001008, &start);
	CHECK(n && !strcmp(n, "JS:*replaced"), "%s", n ? n : "(null)");
	CHECK(start == 0x7f0000001000, "start %#llx", (unsigned long long)start);
	n = jitmap__find(&jm, 0x7f0000001010, NULL);
	CHECK(n && !strcmp(n, "JS:*hot /a.js:1:2"), "%s", n ? n : "(null)");
	n = jitmap__find(&jm, 0x7f0000001100, NULL);
	CHECK(!n, "past the end: %s", n);
	n = jitmap__find(&jm, 0x7f000000201f, NULL);
	CHECK(n && !strcmp(n, "with 0x prefix"), "%s", n ? n : "(null)");
	CHECK(!jitmap__find(&jm, 0x7f0000003000, NULL), "empty size");
	CHECK(!jitmap__find(&jm, 0xffffffffffffff10ull, NULL), "wrapping entry");
	n = jitmap__find(&jm, 0x7f0000004000, NULL);
	CHECK(n && !strcmp(n, "ctl?char"), "%s", n ? n : "(null)");
	n = jitmap__find(&jm, 0x7f0000005000, NULL);
	CHECK(n && !strcmp(n, "no newline"), "%s", n ? n : "(null)");
	jitmap__fini(&jm);

	/* A long name is cut; many entries are bounded. */
	big = malloc(JITMAP_MAX_NAME * 4 + 64);
	snprintf(big, 32, "1000 10 ");
	memset(big + 8, 'x', JITMAP_MAX_NAME * 4);
	big[8 + JITMAP_MAX_NAME * 4] = 0;
	CHECK(jitmap__parse_perfmap(&jm, big, strlen(big)) == 0, "long");
	n = jitmap__find(&jm, 0x1000, NULL);
	CHECK(n && strlen(n) == JITMAP_MAX_NAME, "%zu", n ? strlen(n) : 0);
	jitmap__fini(&jm);
	free(big);

	/* jitdump: header, two loads, a move, a truncated record. */
	p = buf;
	put32(&p, 0x4A695444);
	put32(&p, 1);
	put32(&p, 40);
	put32(&p, 62);
	put32(&p, 0);
	put32(&p, 7);
	put64(&p, 0);
	put64(&p, 0);
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
	CHECK(jitmap__parse_jitdump(&jm, buf, (size_t)(p - buf)) == 0, "jitdump");
	n = jitmap__find(&jm, 0x1001f, NULL);
	CHECK(n && !strcmp(n, "jit_hot"), "%s", n ? n : "(null)");
	CHECK(!jitmap__find(&jm, 0x20000, NULL), "moved away");
	n = jitmap__find(&jm, 0x30008, NULL);
	CHECK(n && !strcmp(n, "jit_cold"), "%s", n ? n : "(null)");
	jitmap__fini(&jm);
	/* "DTiJ" in the file is the magic in little-endian order. */
	memcpy(buf, "JiTD", 4);
	CHECK(jitmap__parse_jitdump(&jm, buf, 64) == -EINVAL, "big-endian");
	CHECK(jitmap__parse_jitdump(&jm, buf, 10) < 0, "short");
	for (i = 0; i < 40; i++)
		(void)jitmap__parse_jitdump(&jm, buf, i);
	jitmap__fini(&jm);

	/* Build-ids debuginfod is asked for. */
	CHECK(debuginfod__valid_build_id("93ac61ec5a8eb1396f9fbd350e3169a558528a40"), "id");
	CHECK(!debuginfod__valid_build_id("93AC"), "upper case");
	CHECK(!debuginfod__valid_build_id("9"), "odd");
	CHECK(!debuginfod__valid_build_id(""), "empty");
	CHECK(!debuginfod__valid_build_id("../../etc/passwd"), "path");
	return check__done();
}
