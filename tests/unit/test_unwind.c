// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the DWARF unwinder on this test binary's own code: made-up
 * register sets and stack copies whose right answer is known from the CFI
 * of real functions — a function's entry (CFA = sp + 8, return address at
 * [sp]), _start (return address undefined: the outermost frame), a pc with
 * no CFI (frame-pointer fallback), a copy too short, a frame-pointer loop;
 * and unwind__fresh() over code mapped after the capture (this binary's
 * text mapped again): the maps read again, for a pc and for a walk cut
 * short there; and the row cache keeping a working set smaller than itself
 * (libc's rows at 48 addresses, whatever their cache sets).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "proc.h"
#include "profd_abi.h"
#include "symbolizer.h"
#include "unwind.h"

extern char _start[];

__attribute__((noinline)) void uw_leaf(void)
{
	__asm__ volatile("");
}

static int walk(struct proc *u, uint64_t pc, const uint64_t *stack,
		size_t len, uint64_t fp, uint64_t *ips, unsigned max,
		bool *trunc)
{
	uint64_t regs[PROFD_NREGS] = { 0 };

	regs[6] = fp;
	regs[7] = (uint64_t)(uintptr_t)stack;
	regs[16] = pc;
	return unwind__stack(u, regs, (const uint8_t *)stack, len, ips, max,
			     trunc);
}

/*
 * Map the file mapping of this process that holds @addr again, elsewhere
 * (same file, offset and length): code "loaded" after a capture. Returns
 * where @addr is in the new mapping, 0 on failure.
 */
static uint64_t map_again(uint64_t addr)
{
	unsigned long lo, hi, off;
	char line[512], path[400];
	uint64_t at = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	void *m;
	int fd;

	while (f && !at && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %399s", &lo, &hi,
			   &off, path) != 4 || addr < lo || addr >= hi)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;
		m = mmap(NULL, hi - lo, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd,
			 (off_t)off);
		close(fd);
		if (m != MAP_FAILED)
			at = (uint64_t)(uintptr_t)m + (addr - lo);
	}
	if (f)
		fclose(f);
	return at;
}

/*
 * 48 rows (or their absence) looked up twice in libc: the second round is
 * all hits, but for rows of more than 16 ops (a context switch's, with
 * every register saved), which are rebuilt on each use by design. A
 * working set this size fits in the cache whatever its addresses; the
 * direct-mapped cache this replaced parsed 16 of these 48 again (addresses
 * of one slot took turns), as it did two hot rows of one slot in every
 * sample of a workload (tests/e2e/test_unwind.py).
 */
static void test_row_working_set(struct symbolizer *sym)
{
	struct symbolizer_stats st0, st1;
	struct sym_binary *b = NULL;
	struct sym_cfi_row row;
	char line[512], path[400] = "";
	FILE *f = fopen("/proc/self/maps", "r");
	uint64_t x, big = 0;
	int fd, r, i, round;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %*s %399s", path) == 1 &&
		    strstr(path, "/libc.so"))
			break;
	if (f)
		fclose(f);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "libc (%s): %d", path, -errno);
	if (fd < 0)
		return;
	r = symbolizer__get(sym, fd, path, &b);
	close(fd);
	CHECK(r == 0, "symbolizer__get(libc): %d", r);
	if (r < 0)
		return;
	for (round = 0; round < 2; round++) {
		symbolizer__stats(sym, &st0);
		/* Anywhere in libc's text (0x26000-0x17b0fc in Debian 12's),
		 * the same pseudo-random addresses each round. */
		x = 1;
		for (i = 0; i < 48; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			if (sym_binary__cfi(b, 0x28000 + (x >> 33) % 0x150000,
					    &row) == 0 && row.r.nops > 16)
				big += !round;
		}
		symbolizer__stats(sym, &st1);
		if (round == 0)
			CHECK(st1.cfi_misses - st0.cfi_misses == 48,
			      "first round: %llu misses of 48",
			      (unsigned long long)(st1.cfi_misses - st0.cfi_misses));
		else
			CHECK(st1.cfi_misses - st0.cfi_misses == big &&
			      st1.cfi_hits - st0.cfi_hits == 48 - big,
			      "second round: %llu rows looked up again (%llu of more than 16 ops), %llu hits of 48",
			      (unsigned long long)(st1.cfi_misses - st0.cfi_misses),
			      (unsigned long long)big,
			      (unsigned long long)(st1.cfi_hits - st0.cfi_hits));
	}
	sym_binary__put(b);
}

static void test_fresh(struct symbolizer *sym, struct proc *p)
{
	uint64_t leaf = (uint64_t)(uintptr_t)uw_leaf;
	uint64_t start_ra = (uint64_t)(uintptr_t)_start + 5;
	uint64_t stack[16] = { 0 }, ips[8], regs[PROFD_NREGS] = { 0 };
	uint64_t ra2, leaf2;
	bool trunc, refreshed;
	int n;

	/* Called from _start's copy mapped after the capture: the walk is
	 * cut there (no mapping, no frame pointer) until the maps are read
	 * again; then _start's CFI ends it, complete. */
	ra2 = map_again(start_ra);
	CHECK(ra2, "mapping this binary again");
	if (!ra2)
		return;
	stack[0] = ra2;
	regs[6] = 16;		/* a frame pointer outside the copy: */
	regs[7] = (uint64_t)(uintptr_t)stack;	/* no fallback past new code */
	regs[16] = leaf;
	n = unwind__stack(p, regs, (const uint8_t *)stack, sizeof(stack), ips,
			  8, &trunc);
	CHECK(n == 2 && trunc, "stale maps: %d frames, truncated %d", n, trunc);
	n = unwind__fresh(p, sym, 1, 0, regs, (const uint8_t *)stack,
			  sizeof(stack), ips, 8, &trunc, &refreshed);
	CHECK(refreshed, "a walk cut in new code: maps not read again");
	CHECK(n == 2 && !trunc && ips[1] == ra2,
	      "cut walk, maps read again: %d frames, truncated %d", n, trunc);
	/* Again: nothing new, nothing read. */
	n = unwind__fresh(p, sym, 2, 0, regs, (const uint8_t *)stack,
			  sizeof(stack), ips, 8, &trunc, &refreshed);
	CHECK(!refreshed && n == 2 && !trunc, "again: refreshed %d, %d frames",
	      refreshed, n);

	/* A pc in a copy mapped since: read before the walk, which then has
	 * uw_leaf's CFI there. Within the rate limit: not read, and the walk
	 * cannot go on from an unknown pc with no frame pointer. */
	leaf2 = map_again(leaf);
	CHECK(leaf2, "mapping this binary again");
	if (!leaf2)
		return;
	stack[0] = start_ra;
	regs[16] = leaf2;
	n = unwind__fresh(p, sym, 3, 1000000000ULL, regs,
			  (const uint8_t *)stack, sizeof(stack), ips, 8,
			  &trunc, &refreshed);
	CHECK(!refreshed && trunc, "within the rate limit: refreshed %d, truncated %d",
	      refreshed, trunc);
	n = unwind__fresh(p, sym, 2000000000ULL, 1000000000ULL, regs,
			  (const uint8_t *)stack, sizeof(stack), ips, 8,
			  &trunc, &refreshed);
	CHECK(refreshed, "a pc in new code: maps not read again");
	CHECK(n == 2 && !trunc && ips[0] == leaf2 && ips[1] == start_ra,
	      "pc in new code: %d frames, truncated %d", n, trunc);
}

int main(void)
{
	uint64_t stack[16], ips[8];
	uint64_t leaf = (uint64_t)(uintptr_t)uw_leaf;
	uint64_t start_ra = (uint64_t)(uintptr_t)_start + 5;
	struct symbolizer_stats st0, st1;
	struct symbolizer *sym = NULL;
	struct proc *p = NULL;
	bool trunc;
	void *anon;
	int n, r;

	r = symbolizer__new(64 << 20, &sym);
	CHECK(r == 0, "symbolizer: %d", r);
	r = proc__new(sym, getpid(), &p);
	CHECK(r == 0, "proc__new(self): %d", r);
	if (r < 0)
		return check__done();

	/* At uw_leaf's first instruction, called from _start: one step by
	 * uw_leaf's CFI, then _start's says "outermost". Complete. */
	memset(stack, 0, sizeof(stack));
	stack[0] = start_ra;
	n = walk(p, leaf, stack, sizeof(stack), 0, ips, 8, &trunc);
	CHECK(n == 2, "entry: %d frames", n);
	CHECK(n >= 1 && ips[0] == leaf, "entry: pc %#llx", (unsigned long long)ips[0]);
	CHECK(n >= 2 && ips[1] == start_ra, "entry: ra %#llx want %#llx",
	      (unsigned long long)ips[1], (unsigned long long)start_ra);
	CHECK(!trunc, "entry: a walk that reached _start is complete");

	/* The same again is served from the per-binary row cache. */
	symbolizer__stats(sym, &st0);
	n = walk(p, leaf, stack, sizeof(stack), 0, ips, 8, &trunc);
	symbolizer__stats(sym, &st1);
	CHECK(n == 2 && !trunc, "again: %d frames, truncated %d", n, trunc);
	CHECK(st1.cfi_misses == st0.cfi_misses, "rows parsed again: misses %llu -> %llu",
	      (unsigned long long)st0.cfi_misses, (unsigned long long)st1.cfi_misses);
	CHECK(st1.cfi_hits >= st0.cfi_hits + 2, "cache hits %llu -> %llu",
	      (unsigned long long)st0.cfi_hits, (unsigned long long)st1.cfi_hits);

	/* Called from main instead, with only [sp] copied: main's caller is
	 * past the copy, so the stack is truncated, not complete. */
	stack[0] = (uint64_t)(uintptr_t)main + 1;
	n = walk(p, leaf, stack, 8, 0, ips, 8, &trunc);
	CHECK(n == 2, "short copy: %d frames", n);
	CHECK(trunc, "short copy: must be marked truncated");

	/* A pc in memory with no binary (JIT code): the frame pointer. */
	anon = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(anon != MAP_FAILED, "mmap");
	memset(stack, 0, sizeof(stack));
	stack[4] = 0;			/* saved frame pointer */
	stack[5] = start_ra;		/* return address */
	n = walk(p, (uint64_t)(uintptr_t)anon + 16, stack, sizeof(stack),
		 (uint64_t)(uintptr_t)&stack[4], ips, 8, &trunc);
	CHECK(n == 2 && ips[1] == start_ra, "fp fallback: %d frames", n);
	CHECK(!trunc, "fp fallback to _start: complete");

	/* A frame pointer pointing at itself: the walk stops, truncated. */
	stack[4] = (uint64_t)(uintptr_t)&stack[4];
	stack[5] = (uint64_t)(uintptr_t)anon + 32;
	n = walk(p, (uint64_t)(uintptr_t)anon + 16, stack, sizeof(stack),
		 (uint64_t)(uintptr_t)&stack[4], ips, 8, &trunc);
	CHECK(n == 2 && trunc, "fp loop: %d frames, truncated %d", n, trunc);

	/* The frame cap: truncated. */
	stack[0] = start_ra;
	n = walk(p, leaf, stack, sizeof(stack), 0, ips, 1, &trunc);
	CHECK(n == 1 && trunc, "cap: %d frames, truncated %d", n, trunc);

	/* No frames at all: pc 0. */
	n = walk(p, 0, stack, sizeof(stack), 0, ips, 8, &trunc);
	CHECK(n == 0 && trunc, "pc 0: %d frames, truncated %d", n, trunc);

	if (anon != MAP_FAILED)
		munmap(anon, 4096);
	test_fresh(sym, p);
	test_row_working_set(sym);
	proc__free(p);
	symbolizer__free(sym);
	return check__done();
}
