// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: JIT maps (daemon/jitmap.c), files the profiled process
 * writes. The input is parsed both as a perf map (text) and as a jitdump
 * file (binary), into one table as profd does, each in two pieces (the
 * incremental reads of a file being appended to), the second later.
 * Checks: names are
 * NUL-terminated inside the table, free of control characters and at
 * most JITMAP_MAX_NAME long; every lookup returns an entry holding the
 * address; the bounds hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jitmap.h"

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void check(struct jitmap *jm, uint64_t addr, uint64_t t)
{
	uint64_t start = 0;
	unsigned gen = jitmap__gen(jm, &addr, 1, t);
	const char *name = jitmap__find(jm, addr, gen, &start, NULL);
	size_t i;

	require(gen <= JITMAP_MAX_GENS + 1);
	require(jm->rep_n <= JITMAP_MAX_GENS);
	if (!name)
		return;
	require(name >= jm->names && name < jm->names + jm->names_len);
	require(strlen(name) <= JITMAP_MAX_NAME);
	for (i = 0; name[i]; i++)
		require((unsigned char)name[i] >= 0x20);
	require(start <= addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jitmap jm = {};
	char *copy;
	size_t i;

	/* An exact-size copy, so reading past the end is an ASan report. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	{
		size_t half = size / 2;

		(void)jitmap__parse_perfmap(&jm, copy, half, 100);
		(void)jitmap__parse_perfmap(&jm, copy + jm.perf_pos,
					    size - jm.perf_pos, 200);
		(void)jitmap__parse_jitdump(&jm, copy, half, 300);
		(void)jitmap__parse_jitdump(&jm, copy + jm.dump_pos,
					    size - jm.dump_pos, 400);
	}
	require(jm.n <= JITMAP_MAX_SYMS && jm.names_len <= JITMAP_MAX_NAMES);
	for (i = 0; i < jm.n && i < 64; i++) {
		check(&jm, jm.e[i].start, jm.e[i].t_ns);
		check(&jm, jm.e[i].end - 1, 150);
		check(&jm, jm.e[i].end, UINT64_MAX);
	}
	check(&jm, 0, 0);
	check(&jm, UINT64_MAX, 250);
	jitmap__fini(&jm);
	free(copy);
	return 0;
}
