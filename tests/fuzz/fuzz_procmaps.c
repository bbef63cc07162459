// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: /proc/PID/maps parsing (daemon/procmaps.c). Input: the
 * file's text (not NUL-terminated: the parser must stop at its length).
 * Checks that every kept entry is well formed, that entries are sorted,
 * and that a lookup only returns an entry holding the address. (Which of
 * overlapping entries it finds is not checked: the kernel's never overlap.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "procmaps.h"

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct procmaps m;
	size_t bad = 0, i;
	char *copy;

	/* An exact-size copy, so reading past the end is an ASan report. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (procmaps__parse(copy, size, &m, &bad) < 0) {
		free(copy);
		return 0;
	}
	require(m.n + bad <= size);
	for (i = 0; i < m.n; i++) {
		const struct procmaps_entry *e = &m.e[i], *f;

		require(e->path);
		require(e->start <= e->end);
		require(!strchr(e->path, '\n'));
		require(i == 0 || m.e[i - 1].start <= e->start);
		f = procmaps__find(&m, e->start);
		require(!f || (e->start >= f->start && e->start < f->end));
		(void)procmaps__find(&m, e->end);
	}
	(void)procmaps__find(&m, 0);
	(void)procmaps__find(&m, UINT64_MAX);
	procmaps__fini(&m);
	free(copy);
	return 0;
}
