/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stacks: the one stack interning of profd — a content hash to a dense id
 * (0, 1, ... in insertion order), bounded. Used by aggregate.c (a CPU or
 * wait window's samples, on the per-sample path) and heap_stacks.c (a
 * process's allocation stacks). Pure: no I/O, unit-tested
 * (tests/unit/test_core.c).
 *
 * The stacks themselves stay with the caller, whose records differ (a
 * sample's stack has a thread, a name and kernel frames; an allocation's
 * a truncation flag and byte counts); the index keeps each id's hash, so
 * a probe compares a record only when the hashes match. A lookup is a
 * probe loop, then an add at the slot where it ended:
 *
 *	struct stacks_probe p;
 *	int64_t id;
 *
 *	for (id = stacks__first(ix, h, &p); id >= 0; id = stacks__next(ix, &p))
 *		if (same(records[id], ...))
 *			return id;
 *	id = stacks__add(ix, &p);	// the new id, -ENOSPC or -ENOMEM
 *
 * Open addressing with linear probing, kept at most half full: 4 bytes a
 * slot and 8 (the hash) an id, so at most 16 bytes an id beyond the
 * caller's records. Not thread-safe: one writer, under the caller's lock.
 */
#ifndef PROFD_STACKS_H
#define PROFD_STACKS_H

#include <stddef.h>
#include <stdint.h>

#include "strtab.h"	/* hash__u64, hash__bytes */

struct stacks {
	uint64_t *hash;		/* per id */
	uint32_t *slots;	/* id + 1; 0: empty */
	size_t n, cap, nslots;
	size_t max;		/* ids at most (0 until stacks__init) */
};

/* Where a lookup is: the hash and the slot it reached. */
struct stacks_probe {
	uint64_t hash;
	size_t slot;
};

/* An empty index of at most @max ids (0: 1). Allocates nothing yet. */
void stacks__init(struct stacks *ix, size_t max);
void stacks__fini(struct stacks *ix);	/* then empty, as from init */

/* Frames into a hash, a word at a time (the hash aggregate.c has used). */
static inline uint64_t stacks__hash_frames(const uint64_t *ips, size_t n,
					   uint64_t h)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = hash__u64(ips[i], h);
	return h;
}

/*
 * stacks__next() - the next id whose hash is p->hash, or -1 when the probe
 * reached an empty slot (where stacks__add() puts a new id).
 */
static inline int64_t stacks__next(const struct stacks *ix,
				   struct stacks_probe *p)
{
	uint32_t v;

	if (!ix->nslots)
		return -1;
	while ((v = ix->slots[p->slot])) {
		p->slot = (p->slot + 1) & (ix->nslots - 1);
		if (ix->hash[v - 1] == p->hash)
			return (int64_t)v - 1;
	}
	return -1;
}

/* The first id whose hash is @hash, or -1; starts probe @p. */
static inline int64_t stacks__first(const struct stacks *ix, uint64_t hash,
				    struct stacks_probe *p)
{
	p->hash = hash;
	p->slot = ix->nslots ? hash & (ix->nslots - 1) : 0;
	return stacks__next(ix, p);
}

/* Is the index at its bound (the next stacks__add() would be -ENOSPC)? */
static inline int stacks__full(const struct stacks *ix)
{
	return ix->n >= ix->max;
}

/*
 * stacks__add() - a new id for the stack probe @p looked for and did not
 * find (its stacks__next() returned -1, nothing added since). The id
 * (>= 0, the number of ids before it), -ENOSPC at the bound or -ENOMEM
 * (nothing added either way).
 */
int64_t stacks__add(struct stacks *ix, struct stacks_probe *p);

/* Ids so far. */
static inline size_t stacks__count(const struct stacks *ix)
{
	return ix->n;
}

#endif /* PROFD_STACKS_H */
