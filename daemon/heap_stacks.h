/* SPDX-License-Identifier: GPL-2.0 */
/*
 * heap_stacks: the heap tracker's pure stages, no BPF and no I/O (unit
 * tested on their own, tests/unit/test_heap_stacks.c):
 *
 *  - the id table: event id of each sampled DWARF-mode allocation -> the
 *    stack it was made on;
 *  - stack interning: one copy of each distinct unwound stack per
 *    process, with the allocations counted on it (its index is stacks.h,
 *    the one aggregate.c uses too);
 *  - snapshot assembly: live blocks, allocation-site counts and interned
 *    stacks merged into one record per stack (heap_recs__build()).
 *
 * Not thread-safe: the tracker calls them under its lock (heap_int.h).
 */
#ifndef PROFD_HEAP_STACKS_H
#define PROFD_HEAP_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profd_abi.h"
#include "stacks.h"

/* Distinct DWARF-unwound allocation stacks kept per process (the BPF
 * stacks map's size): beyond, allocations count under "[unknown]". */
#define HEAP_MAX_STACKS 16384
#define HEAP_REC_UNKNOWN UINT32_MAX	/* heap_rec.dw of a block whose
					 * stack is lost */

/* A DWARF-unwound allocation stack and the allocations counted on it. */
struct hstack {
	uint64_t *ips;			/* return addresses, innermost first */
	unsigned n;
	bool truncated;
	int64_t alloc_n, alloc_b;	/* sampled, unscaled */
};

/*
 * Event ids of sampled DWARF-mode allocations and their stacks: sorted
 * parallel arrays, 12 bytes per id (a hash map at half load took 32, and
 * twice that while growing). Ids arrive nearly in order (assigned at
 * allocator entry, submitted a moment later on the same CPU), so an insert
 * is an append or a short move.
 */
struct idtab {
	uint64_t *id;
	uint32_t *stack;		/* stack index + 1; 0: none */
	size_t n, cap;
};

/* One process's unwound stacks and the ids of its sampled allocations. */
struct heap_stacks {
	struct idtab ids;		/* event id -> stack index + 1 (0: none) */
	uint64_t max_id, prune_mark;	/* see heap_stacks__prune() */
	size_t nids_kept;
	struct hstack *v;
	size_t n, cap;
	struct stacks index;		/* content hash -> index in v
					 * (stacks.h; zeroed until the
					 * first intern) */
};

/* Position of the first id >= @id. */
size_t idtab__find(const struct idtab *t, uint64_t id);
/* The stack index + 1 recorded for @id, or 0. */
uint32_t idtab__get(const struct idtab *t, uint64_t id);
/* Record (or replace) @id -> @stack. 0 or -ENOMEM. */
int idtab__put(struct idtab *t, uint64_t id, uint32_t stack);
void idtab__fini(struct idtab *t);

/*
 * heap_stacks__intern() - index of the stack @ips[@n] (with @truncated),
 * adding a copy if new. 0 and *@ret set, -ENOSPC past HEAP_MAX_STACKS,
 * -ENOMEM.
 */
int heap_stacks__intern(struct heap_stacks *st, const uint64_t *ips,
			unsigned n, bool truncated, uint32_t *ret);
/*
 * heap_stacks__add() - sampled allocation @id of @size bytes was made on
 * stack @ips[@n]: count it on its interned stack and remember the id.
 * 0; -ENOSPC or -ENOMEM when the allocation has no stack (its block shows
 * as [unknown]).
 */
int heap_stacks__add(struct heap_stacks *st, uint64_t id, const uint64_t *ips,
		     unsigned n, bool truncated, uint64_t size);
/* Allocation @id of @size bytes failed: uncount it. */
void heap_stacks__cancel(struct heap_stacks *st, uint64_t id, uint64_t size);
/*
 * heap_stacks__prune() - forget event ids whose blocks are gone. An id
 * stays while @live (the DWARF ids in the live table, sorted) has it, or
 * while it is newer than the previous prune's newest id (its allocation
 * may not have returned yet when @live was read).
 */
void heap_stacks__prune(struct heap_stacks *st, const uint64_t *live,
			size_t nlive);
/*
 * heap_stacks__live_ids() - the DWARF ids among live-table values
 * @live[@nlive], sorted, as heap_stacks__prune() wants them. *@ret:
 * malloc'd. 0 or -ENOMEM.
 */
int heap_stacks__live_ids(const struct profd_heap_live_val *live,
			  size_t nlive, uint64_t **ret, size_t *ret_n);
/* As heap_stacks__prune(), from live-table values. 0 or -ENOMEM. */
int heap_stacks__prune_live(struct heap_stacks *st,
			    const struct profd_heap_live_val *live,
			    size_t nlive);
/* Has the id table doubled since the last prune (amortised pruning)? */
bool heap_stacks__want_prune(const struct heap_stacks *st);
void heap_stacks__fini(struct heap_stacks *st);
/*
 * heap_stacks__copy() - a copy of @src's ids and stacks (not its index:
 * the copy is for reading, heap_recs__build(), not for interning), so a
 * snapshot is assembled without the tracker's lock. 0 or -ENOMEM (@dst
 * empty).
 */
int heap_stacks__copy(const struct heap_stacks *src, struct heap_stacks *dst);

/* One snapshot record: a stack and what was allocated and is live on it. */
struct heap_rec {
	uint32_t dw;			/* DWARF stack index + 1,
					 * HEAP_REC_UNKNOWN, or 0 */
	uint64_t stack_hash;		/* BPF stacks map key, or 0 */
	uint64_t caller;
	int64_t alloc_n, alloc_b, inuse_n, inuse_b;
};

/* Append @r to @v[@n] (capacity @cap). 0 or -ENOMEM. */
int heap_recs__push(struct heap_rec **v, size_t *n, size_t *cap,
		    const struct heap_rec *r);
/*
 * heap_recs__build() - snapshot assembly: one record per stack from the
 * live blocks @live[@nlive], the allocation-site counts @allocs[@nallocs]
 * (frame-pointer stacks, BPF-counted) and the DWARF stacks' counts in
 * @st, sorted and merged. A DWARF block whose id is newer than every
 * event processed (st->max_id) was allocated while the snapshot was
 * taken: left out and counted in *@ret_inflight. *@ret: malloc'd, the
 * caller frees it. 0 or -ENOMEM (outputs untouched).
 */
int heap_recs__build(const struct heap_stacks *st,
		     const struct profd_heap_live_val *live, size_t nlive,
		     const struct heap_rec *allocs, size_t nallocs,
		     struct heap_rec **ret, size_t *ret_n,
		     uint64_t *ret_inflight);

#endif /* PROFD_HEAP_STACKS_H */
