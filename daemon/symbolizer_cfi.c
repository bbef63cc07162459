// SPDX-License-Identifier: GPL-2.0
/* One binary's CFI rows for unwinding, cached (symbolizer_int.h). */

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>

#include "debuginfod.h"
#include "pltsyms.h"
#include "symbolizer.h"
#include "symsrc.h"

#include "symbolizer_int.h"

/*
 * A cached CFI row: most rows need a handful of ops (CFA = rsp + n, ra at
 * CFA - 8, a few saved registers); longer ones (signal frames) are rebuilt
 * on each use. 256 slots of ~460 bytes (~118 KB per binary unwound through,
 * counted in the cache's bound), in 32 sets of 8 ways, least recently used
 * out. Not direct-mapped: there, two hot rows of one slot (a loop's pc and
 * a caller's return address, in every sample) evicted each other on every
 * sample, and the hit rate hung on where the code happened to lie. A
 * lookup compares up to 8 addresses; a miss costs a search of .eh_frame.
 */
#define CFI_SLOTS 256
#define CFI_WAYS 8
#define CFI_SET_BITS 5			/* CFI_SLOTS / CFI_WAYS == 1 << 5 */
#define CFI_SLOT_OPS 16

struct cfi_slot {
	uint64_t vaddr;
	uint64_t used;			/* b->cfi_clock at the last use */
	int status;			/* 0, -ENOENT; 1: empty slot */
	struct sym_cfi_rules r;
	struct sym_cfi_op ops[CFI_SLOT_OPS];
};

static int copy_rule(struct sym_cfi_row *row, struct sym_cfi_rule *rule,
		     uint8_t kind, const Dwarf_Op *ops, size_t nops)
{
	size_t i;

	if (kind != SYM_CFI_UNDEF && kind != SYM_CFI_SAME &&
	    nops && ops[nops - 1].atom == DW_OP_stack_value) {
		kind = SYM_CFI_VAL;
		nops--;
	}
	if (nops > (size_t)(SYM_CFI_MAX_OPS - row->r.nops))
		return -E2BIG;
	rule->kind = kind;
	rule->start = row->r.nops;
	rule->n = (uint8_t)nops;
	for (i = 0; i < nops; i++) {
		row->ops[row->r.nops].atom = ops[i].atom;
		row->ops[row->r.nops].n1 = ops[i].number;
		row->ops[row->r.nops].n2 = ops[i].number2;
		row->r.nops++;
	}
	return 0;
}

/* Copy what libdw knows of @fr into @row. Under b->lock. */
static int compile_row(Dwarf_Frame *fr, struct sym_cfi_row *row)
{
	Dwarf_Op mem[3], *ops;
	size_t nops;
	int reg, r;

	memset(&row->r, 0, sizeof(row->r));
	if (dwarf_frame_info(fr, NULL, NULL, &row->r.signal) != 16)
		return -ENOENT;	/* not x86-64's return-address column */
	if (dwarf_frame_cfa(fr, &ops, &nops) < 0 || !nops)
		return -ENOENT;
	r = copy_rule(row, &row->r.cfa, SYM_CFI_VAL, ops, nops);
	if (r < 0)
		return r;
	row->r.cfa.kind = SYM_CFI_VAL;	/* an expression yielding the CFA */
	for (reg = 0; reg < SYM_CFI_NREGS; reg++) {
		uint8_t kind = SYM_CFI_LOC;

		if (dwarf_frame_register(fr, reg, mem, &ops, &nops) < 0) {
			kind = SYM_CFI_UNDEF;
			nops = 0;
		} else if (!nops) {
			kind = ops ? SYM_CFI_UNDEF : SYM_CFI_SAME;
		}
		r = copy_rule(row, &row->r.regs[reg], kind, ops, nops);
		if (r < 0)
			return r;
	}
	return 0;
}

static int cfi_find(struct sym_binary *b, uint64_t vaddr,
		    struct sym_cfi_row *row)
{
	Dwarf_Frame *fr = NULL;
	int r = -ENOENT;

	if (b->eh_cfi &&
	    dwarf_cfi_addrframe(b->eh_cfi, vaddr - b->eh_bias, &fr) == 0) {
		r = compile_row(fr, row);
		free(fr);
		if (r != -ENOENT)
			return r;
	}
	fr = NULL;
	if (b->dbg_cfi &&
	    dwarf_cfi_addrframe(b->dbg_cfi, vaddr - b->dbg_bias, &fr) == 0) {
		r = compile_row(fr, row);
		free(fr);
	}
	return r;
}

static void cfi_load(struct sym_binary *b)
{

	b->cfi_tried = true;
	/* .eh_frame is what the runtime itself unwinds with; .debug_frame
	 * (Go, some hand-written assembly) where that has nothing. */
	b->eh_cfi = dwfl_module_eh_cfi(b->mod, &b->eh_bias);
	b->dbg_cfi = dwfl_module_dwarf_cfi(b->mod, &b->dbg_bias);
	b->cfi_cache = calloc(CFI_SLOTS, sizeof(*b->cfi_cache));
	if (b->cfi_cache) {
		size_t i, add = CFI_SLOTS * sizeof(*b->cfi_cache);

		for (i = 0; i < CFI_SLOTS; i++)
			b->cfi_cache[i].status = 1;
		sym_binary__add_cost(b, add);
	}
}

/* The ways of @vaddr's set: a multiplicative hash, as code addresses
 * cluster in their low bits. */
static struct cfi_slot *cfi_set(struct sym_binary *b, uint64_t vaddr)
{
	uint64_t h = (vaddr * 0x9e3779b97f4a7c15ULL) >> (64 - CFI_SET_BITS);

	return &b->cfi_cache[h * CFI_WAYS];
}

int sym_binary__cfi(struct sym_binary *b, uint64_t file_offset,
		    struct sym_cfi_row *ret)
{
	struct cfi_slot *set, *slot = NULL;
	uint64_t vaddr;
	int r, w;

	if (!sym_binary__to_vaddr(b, file_offset, &vaddr))
		return -ENOENT;
	pthread_mutex_lock(&b->lock);
	if (!b->cfi_tried)
		cfi_load(b);
	if (b->cfi_cache) {
		set = cfi_set(b, vaddr);
		for (w = 0; w < CFI_WAYS; w++) {
			struct cfi_slot *c = &set[w];

			if (c->status != 1 && c->vaddr == vaddr) {
				c->used = ++b->cfi_clock;
				r = c->status;
				if (r == 0) {
					ret->r = c->r;
					memcpy(ret->ops, c->ops,
					       c->r.nops * sizeof(*c->ops));
				}
				pthread_mutex_unlock(&b->lock);
				__atomic_fetch_add(&b->s->cfi_hits, 1,
						   __ATOMIC_RELAXED);
				return r;
			}
			/* The victim: an empty way, else the oldest. */
			if (!slot || (slot->status != 1 &&
				      (c->status == 1 || c->used < slot->used)))
				slot = c;
		}
	}
	r = cfi_find(b, vaddr, ret);
	if (slot && r != -E2BIG && (r < 0 || ret->r.nops <= CFI_SLOT_OPS)) {
		slot->vaddr = vaddr;
		slot->status = r;
		slot->used = ++b->cfi_clock;
		if (r == 0) {
			slot->r = ret->r;
			memcpy(slot->ops, ret->ops,
			       ret->r.nops * sizeof(*ret->ops));
		}
	}
	pthread_mutex_unlock(&b->lock);
	__atomic_fetch_add(&b->s->cfi_misses, 1, __ATOMIC_RELAXED);
	return r;
}
