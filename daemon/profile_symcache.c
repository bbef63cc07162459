// SPDX-License-Identifier: GPL-2.0
/*
 * profile_symcache: symbolized addresses kept across profiles (profile.h),
 * the one cache between the profile builder and the symbolizer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "symbolizer.h"

/*
 * Symbolized addresses kept across profiles (continuous mode symbolizes
 * the same hot addresses every interval; a DWARF lookup with its inline
 * scopes costs tens of microseconds). Open addressing on (binary, file
 * offset); each entry holds a reference on its binary, which keeps the
 * frames' strings valid (symbolizer.h). An entry is redone when the
 * binary's debug state changed (debuginfod delivered). Full: cleared.
 */
struct symcache_entry {
	struct sym_binary *bin;		/* NULL: free slot */
	uint64_t off;
	int debug_state;
	int n;
	struct sym_frame *frames;
};

struct profile_symcache {
	struct symcache_entry *e;
	size_t nslots, n, max;
	uint64_t hits, misses;
};

int profile_symcache__new(size_t max_entries, struct profile_symcache **ret)
{
	struct profile_symcache *c = calloc(1, sizeof(*c));
	size_t slots = 16;

	if (!c)
		return -ENOMEM;
	while (slots < max_entries * 2)
		slots *= 2;
	c->e = calloc(slots, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return -ENOMEM;
	}
	c->nslots = slots;
	c->max = max_entries;
	*ret = c;
	return 0;
}

void profile_symcache__clear(struct profile_symcache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nslots; i++) {
		if (!c->e[i].bin)
			continue;
		free(c->e[i].frames);
		sym_binary__put(c->e[i].bin);
		c->e[i] = (struct symcache_entry){};
	}
	c->n = 0;
}

void profile_symcache__free(struct profile_symcache *c)
{
	if (!c)
		return;
	profile_symcache__clear(c);
	free(c->e);
	free(c);
}

static size_t symcache_slot(const struct profile_symcache *c,
			    const struct sym_binary *bin, uint64_t off)
{
	uint64_t h = ((uint64_t)(uintptr_t)bin ^ (off * 0x9e3779b97f4a7c15ULL));

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (size_t)h & (c->nslots - 1);
}

int profile_symcache__lookup(struct profile_symcache *c,
			     struct sym_binary *bin, uint64_t off,
			     struct sym_frame *frames, int max)
{
	struct sym_binary_info info;
	struct symcache_entry *e;
	size_t i;
	int n;

	if (!c)
		return sym_binary__lookup(bin, off, frames, max);
	sym_binary__info(bin, &info);
	for (i = symcache_slot(c, bin, off); c->e[i].bin;
	     i = (i + 1) & (c->nslots - 1)) {
		e = &c->e[i];
		if (e->bin != bin || e->off != off)
			continue;
		if (e->debug_state != info.debug_state)
			break;	/* redo below, into a fresh slot after clear */
		n = e->n < max ? e->n : max;
		if (n > 0)	/* no frames: e->frames is NULL */
			memcpy(frames, e->frames, (size_t)n * sizeof(*frames));
		c->hits++;
		return n;
	}
	c->misses++;
	n = sym_binary__lookup(bin, off, frames, max);
	if (n < 0)
		return n;
	if (c->e[i].bin || c->n >= c->max) {
		/* A stale entry or a full table: start over (rare). */
		profile_symcache__clear(c);
		i = symcache_slot(c, bin, off);
	}
	e = &c->e[i];
	e->frames = n ? malloc((size_t)n * sizeof(*frames)) : NULL;
	if (n && !e->frames)
		return n;	/* uncached */
	if (n)
		memcpy(e->frames, frames, (size_t)n * sizeof(*frames));
	e->bin = sym_binary__ref(bin);
	e->off = off;
	e->n = n;
	e->debug_state = info.debug_state;
	c->n++;
	return n;
}
