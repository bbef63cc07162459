// SPDX-License-Identifier: GPL-2.0
/* stacks: a content hash to a dense id, bounded (stacks.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stacks.h"

void stacks__init(struct stacks *ix, size_t max)
{
	memset(ix, 0, sizeof(*ix));
	ix->max = max ? max : 1;
}

void stacks__fini(struct stacks *ix)
{
	size_t max = ix->max;

	free(ix->hash);
	free(ix->slots);
	stacks__init(ix, max);
}

/* Twice the slots (256 at first), every id placed again by its hash. */
static int stacks__grow_slots(struct stacks *ix)
{
	size_t nslots = ix->nslots ? ix->nslots * 2 : 256, i, j;
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < ix->n; i++) {
		for (j = ix->hash[i] & (nslots - 1); slots[j];
		     j = (j + 1) & (nslots - 1))
			;
		slots[j] = (uint32_t)i + 1;
	}
	free(ix->slots);
	ix->slots = slots;
	ix->nslots = nslots;
	return 0;
}

int64_t stacks__add(struct stacks *ix, struct stacks_probe *p)
{
	int r;

	if (stacks__full(ix))
		return -ENOSPC;
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 64;
		uint64_t *h;

		if (cap > ix->max)
			cap = ix->max;
		h = realloc(ix->hash, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		ix->hash = h;
		ix->cap = cap;
	}
	if ((ix->n + 1) * 2 > ix->nslots) {
		r = stacks__grow_slots(ix);
		if (r < 0)
			return r;
		/* The probe's slot was in the old table: find the empty
		 * one anew (the stack is not there: it was not before). */
		p->slot = p->hash & (ix->nslots - 1);
		while (ix->slots[p->slot])
			p->slot = (p->slot + 1) & (ix->nslots - 1);
	}
	ix->hash[ix->n] = p->hash;
	ix->slots[p->slot] = (uint32_t)ix->n + 1;
	return (int64_t)ix->n++;
}
