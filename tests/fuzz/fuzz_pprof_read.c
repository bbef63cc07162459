// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the pprof reader (common/pprof_read.c), what profctl runs
 * on whatever a server sent it. Input: a profile, gzip'd or plain
 * protobuf. Decodes it, then asks for every sample type's top table (all
 * rows and the first five; by flat and by cum, with and without a focus),
 * its folded stacks, the short C++ names profctl prints (cxxname), and
 * the string, type and unit accessors with indices in and out of range. Inflation is bounded at 16 MB here instead
 * of the reader's 512 MB: the same code path, and a gzip bomb costs this
 * process 16 MB, not the fuzzer's memory limit.
 */
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cxxname.h"
#include "pprof_read.h"

#define MAX_INFLATED (16u << 20)

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void top(const Perftools__Profiles__Profile *p, int idx, size_t max_rows)
{
	struct pprof_top_row *rows = NULL;
	int64_t total = 0;
	size_t n = 0, i;
	int r;

	r = pprof_read__top(p, idx, max_rows, &rows, &n, &total);
	if (r < 0) {
		require(!rows);
		return;
	}
	require(!max_rows || n <= max_rows);
	for (i = 0; i < n; i++) {
		require(rows[i].name && rows[i].file);
		/* Sorted by flat, descending. */
		require(i == 0 || rows[i - 1].flat >= rows[i].flat);
	}
	pprof_read__top_free(rows, n);
}

/* What profctl's options ask of the same profile: -cum, -focus, folded. */
static void views(const Perftools__Profiles__Profile *p, int idx,
		  const regex_t *focus)
{
	struct pprof_top_opts o = { .sample_index = idx, .max_rows = 3,
				    .by_cum = true, .focus = focus };
	struct pprof_top_row *rows = NULL;
	struct pprof_folded *f = NULL;
	int64_t total = 0, focused = 0;
	size_t n = 0, i;

	if (pprof_read__top_opts(p, &o, &rows, &n, &total, &focused) == 0) {
		require(n <= 3);
		for (i = 1; i < n; i++)
			require(rows[i - 1].cum >= rows[i].cum);
		pprof_read__top_free(rows, n);
	}
	if (pprof_read__folded(p, idx, focus, &f, &n) == 0) {
		for (i = 0; i < n; i++)
			require(f[i].stack && !strchr(f[i].stack, '\n'));
		pprof_read__folded_free(f, n);
	}
}

static regex_t focus;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	require(regcomp(&focus, "hot|main|\\[", REG_EXTENDED | REG_NOSUB) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const specs[] = { NULL, "", "0", "1", "-1", "samples",
					     "cpu", "inuse_space", "99999999999" };
	Perftools__Profiles__Profile *p = NULL;
	uint8_t *copy;
	size_t i;
	int idx;

	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (pprof_read__decode_bounded(copy, size, MAX_INFLATED, &p) < 0) {
		require(!p);
		free(copy);
		return 0;
	}
	free(copy);	/* the profile must not point into the input */

	(void)pprof_read__str(p, -1);
	(void)pprof_read__str(p, INT64_MAX);
	for (i = 0; i < p->n_string_table && i < 4; i++)
		require(pprof_read__str(p, (int64_t)i));
	/* The default, then the first few types (each is a pass over all samples). */
	for (idx = -1; idx < 4 && (size_t)(idx + 1) <= p->n_sample_type; idx++) {
		require(pprof_read__type(p, idx) && pprof_read__unit(p, idx));
		top(p, idx, 0);
		top(p, idx, 5);
	}
	if (p->n_sample_type < 1000)
		top(p, (int)p->n_sample_type, 1);	/* one past the last: -EINVAL */
	views(p, -1, NULL);
	views(p, 0, &focus);
	for (i = 0; i < p->n_string_table && i < 8; i++) {
		char buf[64];
		size_t w;

		for (w = 0; w <= 40; w += 20) {
			size_t len = cxxname__shorten(pprof_read__str(p, (int64_t)i),
						      w, buf, sizeof(buf));

			require(len < sizeof(buf) && buf[len] == 0);
		}
	}
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		idx = pprof_read__sample_index(p, specs[i]);
		require(idx < 0 || (size_t)idx < p->n_sample_type);
	}
	pprof_read__free(p);
	return 0;
}
