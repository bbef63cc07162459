// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the ELF, DWARF and CFI readers on a mutated binary — what
 * profd opens for every process it profiles or heap-tracks, binaries any
 * local user can write. Input: an ELF file, put in a memfd (the readers
 * take a file descriptor). On it:
 *   elfsyms (daemon/elfsyms.c): the allocator's symbols, the Go check,
 *     the uprobe offset and the allocator's span;
 *   the symbolizer (daemon/symbolizer.c): open (build-id, PT_LOAD
 *     segments, libdwfl, DWARF), lookups with inlines at the symbols found
 *     and across the file, and the CFI rows there (.eh_frame, .debug_frame);
 *   the unwinder (daemon/unwind.c): a walk from each of those offsets over
 *     a made-up stack, with the rows this binary's CFI gives;
 *   debuginfod__altlink() (daemon/debuginfod.c): the dwz alternate a
 *     fetched debug file names, which is what a debuginfod server sends.
 * libelf and libdw are Debian's, not instrumented: a bug inside them shows
 * as a crash, not as a sanitizer report.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libelf.h>

#include "debuginfod.h"
#include "elfsyms.h"
#include "proc.h"
#include "profd_abi.h"
#include "symbolizer.h"
#include "unwind.h"

#define MAX_INPUT (1u << 20)
#define BASE 0x400000ULL	/* where the made-up process maps the file */
#define NOFFS 32

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static int memfd = -1;

static const char *const names[] = {
	"malloc", "free", "calloc", "realloc", "outer_fn", "plain_fn", "main",
	"_start",
};
static const char *const family[] = {
	"malloc", "free", "calloc", "realloc", "reallocarray",
	"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	memfd = memfd_create("fuzz-elf", MFD_CLOEXEC);
	require(memfd >= 0);
	elf_version(EV_CURRENT);
	return 0;
}

static bool put_input(const uint8_t *data, size_t size)
{
	size_t done = 0;

	if (ftruncate(memfd, 0) < 0)
		return false;
	while (done < size) {
		ssize_t n = pwrite(memfd, data + done, size - done, (off_t)done);

		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* One walk from @off: a made-up process with the file mapped at BASE,
 * and a stack whose words are return addresses into it and pointers into
 * the stack itself, so that several frames are taken. */
static void walk(struct proc *p, uint64_t off, const uint64_t *offs, size_t n,
		 uint64_t map_len)
{
	uint64_t stack[64], regs[PROFD_NREGS] = { 0 }, ips[32];
	uint64_t sp = (uint64_t)(uintptr_t)stack;
	bool trunc;
	size_t i;
	int r;

	for (i = 0; i < 64; i++)
		stack[i] = i % 3 == 2 ? sp + 8 * ((i * 7) % 64) :
			   BASE + offs[(i + off) % n] + (i & 1);
	regs[6] = sp + 8 * 16;	/* rbp */
	regs[7] = sp;		/* rsp */
	regs[16] = BASE + (off % map_len);
	r = unwind__stack(p, regs, (const uint8_t *)stack, sizeof(stack), ips,
			  32, &trunc);
	require(r >= 0 && r <= 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t found[N(names)], offs[NOFFS], lo, hi;
	struct sym_frame frames[SYM_MAX_INLINE];
	struct sym_binary_info info;
	struct sym_cfi_row row;
	struct sym_binary *b = NULL;
	char alt[2 * 32 + 1];
	struct symbolizer *s;
	struct proc_map map;
	const char *link;
	Elf *elf;
	struct proc p;
	size_t n = 0, i;
	int r, k;

	if (size > MAX_INPUT || !put_input(data, size))
		return 0;

	/* elfsyms: what heap tracking reads before placing its uprobes. */
	r = elfsyms__find(memfd, names, N(names), found);
	require(r < 0 || (size_t)r <= N(names));
	if (r < 0)
		memset(found, 0, sizeof(found));
	(void)elfsyms__is_go(memfd);
	for (i = 0; i < N(names); i++) {
		if (!found[i])
			continue;
		(void)elfsyms__probe_offset(memfd, found[i]);
		offs[n++] = found[i];
	}
	if (elfsyms__span(memfd, family, N(family), &lo, &hi) == 0)
		require(lo < hi);

	/* The alternate a debug file names: a hex build-id, or nothing. */
	elf = elf_begin(memfd, ELF_C_READ_MMAP, NULL);
	if (elf) {
		if (debuginfod__altlink(elf, alt, sizeof(alt), &link) == 0)
			require(debuginfod__valid_build_id(alt) &&
				strlen(link) < size);
		else
			require(!alt[0]);
		elf_end(elf);
	}

	/* The symbolizer and CFI, at the symbols and across the file. */
	for (i = 0, k = (int)(NOFFS - n); n < NOFFS; i++)
		offs[n++] = (uint64_t)size * i / (uint64_t)k;
	if (symbolizer__new(1 << 20, &s) < 0)
		return 0;
	r = symbolizer__get(s, memfd, "/nonexistent/fuzz-elf", &b);
	if (r < 0) {
		symbolizer__free(s);
		return 0;
	}
	sym_binary__info(b, &info);
	require(info.build_id && strlen(info.build_id) <= SYM_BUILD_ID_MAX);
	for (i = 0; i < n; i++) {
		r = sym_binary__lookup(b, offs[i], frames, SYM_MAX_INLINE);
		require(r <= SYM_MAX_INLINE);
		for (k = 0; k < r; k++)
			if (frames[k].func)
				(void)strlen(frames[k].func);
		r = sym_binary__cfi(b, offs[i], &row);
		if (r == 0)
			require(row.r.nops <= SYM_CFI_MAX_OPS);
	}

	/* The unwinder, in a process that maps only this file. */
	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.lock, NULL);
	memset(&map, 0, sizeof(map));
	map.start = BASE;
	map.end = BASE + size + 4096;
	map.bin = b;
	p.maps = &map;
	p.nmaps = 1;
	for (i = 0; i < n; i++)
		walk(&p, offs[i], offs, n, size + 4096);
	pthread_mutex_destroy(&p.lock);

	sym_binary__put(b);
	symbolizer__free(s);
	return 0;
}
