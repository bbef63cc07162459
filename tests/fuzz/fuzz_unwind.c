// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the DWARF unwinder (daemon/unwind.c) on hostile stacks. A
 * profiled process owns its registers and stack, so the sample profd
 * unwinds is input. The process here is this fuzzer itself (its
 * executable, libc, libdw, the loader: real .eh_frame rows, signal frames
 * among them), captured once with proc__new().
 *
 * Input: 17 register words, then the stack copy (at most 4 KB). To reach
 * past the first frame, words are steered: the pc and any word whose top
 * byte is 0xfe become an address inside one of the captured executable
 * mappings (chosen by the word's bits), and a register or word whose top
 * byte is 0xfd a pointer into the stack copy. Everything else is raw.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "profd_abi.h"
#include "symbolizer.h"
#include "unwind.h"

#define MAX_STACK 4096
#define MAX_FRAMES UNWIND_MAX_FRAMES	/* what CPU samples use */

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static struct symbolizer *sym;
static struct proc *self;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	require(symbolizer__new(256 << 20, &sym) == 0);
	require(proc__new(sym, getpid(), &self) == 0);
	require(self->nmaps > 0);
	return 0;
}

/* A code address for @w: a mapping picked by its low bits, an offset in
 * it by the others. */
static uint64_t code_addr(uint64_t w)
{
	const struct proc_map *m = &self->maps[(w & 0xff) % self->nmaps];
	uint64_t len = m->end - m->start;

	return m->start + (len ? ((w >> 8) & 0xffffffffffULL) % len : 0);
}

static uint64_t steer(uint64_t w, uint64_t sp, size_t len)
{
	switch (w >> 56) {
	case 0xfe:
		return code_addr(w);
	case 0xfd:
		return sp + (w & 0xffff) % (len + 16);
	default:
		return w;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t regs[PROFD_NREGS], ips[MAX_FRAMES], w, sp;
	size_t len, i;
	uint8_t *stack;
	bool trunc;
	int n;

	if (size < sizeof(regs))
		return 0;
	memcpy(regs, data, sizeof(regs));
	data += sizeof(regs);
	len = size - sizeof(regs);
	if (len > MAX_STACK)
		len = MAX_STACK;
	/* An exact-size copy: a read past it is an ASan report. */
	stack = malloc(len ? len : 1);
	if (!stack)
		return 0;
	memcpy(stack, data, len);
	sp = (uint64_t)(uintptr_t)stack;
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, stack + i, 8);
		w = steer(w, sp, len);
		memcpy(stack + i, &w, 8);
	}
	for (i = 0; i < PROFD_NREGS; i++)
		regs[i] = steer(regs[i], sp, len);
	regs[7] = sp;
	regs[16] = code_addr(regs[16]);

	n = unwind__stack(self, regs, stack, len, ips, MAX_FRAMES, &trunc);
	require(n >= 0 && n <= MAX_FRAMES);
	free(stack);
	return 0;
}
