// SPDX-License-Identifier: GPL-2.0
/* heap_stacks: id table, stack interning and snapshot assembly (pure). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "heap_stacks.h"

size_t idtab__find(const struct idtab *t, uint64_t id)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;	/* first position with t->id[pos] >= id */
}

uint32_t idtab__get(const struct idtab *t, uint64_t id)
{
	size_t i = idtab__find(t, id);

	return i < t->n && t->id[i] == id ? t->stack[i] : 0;
}

int idtab__put(struct idtab *t, uint64_t id, uint32_t stack)
{
	size_t i = t->n && t->id[t->n - 1] < id ? t->n : idtab__find(t, id);

	if (i < t->n && t->id[i] == id) {
		t->stack[i] = stack;
		return 0;
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 1024;
		uint64_t *ni = realloc(t->id, nc * sizeof(*ni));
		uint32_t *ns;

		if (!ni)
			return -ENOMEM;
		t->id = ni;
		ns = realloc(t->stack, nc * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		t->stack = ns;
		t->cap = nc;
	}
	memmove(t->id + i + 1, t->id + i, (t->n - i) * sizeof(*t->id));
	memmove(t->stack + i + 1, t->stack + i, (t->n - i) * sizeof(*t->stack));
	t->id[i] = id;
	t->stack[i] = stack;
	t->n++;
	return 0;
}

void idtab__fini(struct idtab *t)
{
	free(t->id);
	free(t->stack);
	memset(t, 0, sizeof(*t));
}

/*
 * DWARF-mode stacks. Each sampled allocation's entry sends registers and
 * stack (heap event); it is unwound once, its stack interned per process,
 * and the allocation counted on it. The live table keeps the event id,
 * resolved to the stack at snapshot time.
 */
int heap_stacks__intern(struct heap_stacks *st, const uint64_t *ips,
			unsigned n, bool truncated, uint32_t *ret)
{
	uint64_t h = hash__u64(truncated, stacks__hash_frames(ips, n, 0));
	struct stacks_probe p;
	struct hstack *s;
	int64_t id;

	if (!st->index.max)	/* zeroed, never interned into */
		stacks__init(&st->index, HEAP_MAX_STACKS);
	for (id = stacks__first(&st->index, h, &p); id >= 0;
	     id = stacks__next(&st->index, &p)) {
		s = &st->v[id];
		if (s->n == n && s->truncated == truncated &&
		    (!n || !memcmp(s->ips, ips, n * sizeof(*ips)))) {
			*ret = (uint32_t)id;
			return 0;
		}
	}
	if (stacks__full(&st->index))
		return -ENOSPC;
	if (st->n == st->cap) {
		size_t nc = st->cap ? st->cap * 2 : 64;
		struct hstack *ns = realloc(st->v, nc * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		st->v = ns;
		st->cap = nc;
	}
	s = &st->v[st->n];
	memset(s, 0, sizeof(*s));
	s->ips = malloc((n ? n : 1) * sizeof(*ips));
	if (!s->ips)
		return -ENOMEM;
	if (n)
		memcpy(s->ips, ips, n * sizeof(*ips));
	s->n = n;
	s->truncated = truncated;
	id = stacks__add(&st->index, &p);
	if (id < 0) {
		free(s->ips);
		return (int)id;
	}
	*ret = (uint32_t)st->n++;
	return 0;
}

int heap_stacks__add(struct heap_stacks *st, uint64_t id, const uint64_t *ips,
		     unsigned n, bool truncated, uint64_t size)
{
	uint32_t idx;
	int r;

	if (id > st->max_id)
		st->max_id = id;
	r = heap_stacks__intern(st, ips, n, truncated, &idx);
	if (r < 0)
		return r;
	st->v[idx].alloc_n++;
	st->v[idx].alloc_b += (int64_t)size;
	/* Counted on its stack; without its id, its live block shows as
	 * [unknown]. */
	return idtab__put(&st->ids, id, idx + 1);
}

void heap_stacks__cancel(struct heap_stacks *st, uint64_t id, uint64_t size)
{
	uint32_t v = idtab__get(&st->ids, id);

	if (v && v <= st->n) {
		st->v[v - 1].alloc_n--;
		st->v[v - 1].alloc_b -= (int64_t)size;
		(void)idtab__put(&st->ids, id, 0);
	}
}

void heap_stacks__prune(struct heap_stacks *st, const uint64_t *live,
			size_t nlive)
{
	struct idtab *t = &st->ids;
	size_t i, j = 0, out = 0;

	for (i = 0; i < t->n; i++) {
		uint64_t id = t->id[i];

		while (j < nlive && live[j] < id)
			j++;
		if (id <= st->prune_mark && !(j < nlive && live[j] == id))
			continue;
		t->id[out] = id;
		t->stack[out] = t->stack[i];
		out++;
	}
	t->n = out;
	st->nids_kept = out;
	st->prune_mark = st->max_id;
}

static int heap_stacks__cmp_u64(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

int heap_stacks__live_ids(const struct profd_heap_live_val *live,
			  size_t nlive, uint64_t **ret, size_t *ret_n)
{
	uint64_t *ids;
	size_t i, n = 0;

	ids = malloc((nlive ? nlive : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < nlive; i++)
		if (live[i].stack.kind == PROFD_HEAP_STACK_DWARF)
			ids[n++] = live[i].stack.stack_hash;
	if (n)
		qsort(ids, n, sizeof(*ids), heap_stacks__cmp_u64);
	*ret = ids;
	*ret_n = n;
	return 0;
}

int heap_stacks__prune_live(struct heap_stacks *st,
			    const struct profd_heap_live_val *live,
			    size_t nlive)
{
	uint64_t *ids;
	size_t n;
	int r;

	r = heap_stacks__live_ids(live, nlive, &ids, &n);
	if (r < 0)
		return r;
	heap_stacks__prune(st, ids, n);
	free(ids);
	return 0;
}

bool heap_stacks__want_prune(const struct heap_stacks *st)
{
	return st->ids.n > 2 * st->nids_kept + 65536;
}

void heap_stacks__fini(struct heap_stacks *st)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		free(st->v[i].ips);
	free(st->v);
	stacks__fini(&st->index);
	idtab__fini(&st->ids);
	memset(st, 0, sizeof(*st));
}

int heap_stacks__copy(const struct heap_stacks *src, struct heap_stacks *dst)
{
	struct heap_stacks c = {};
	size_t i;

	c.max_id = src->max_id;
	c.prune_mark = src->prune_mark;
	c.nids_kept = src->nids_kept;
	if (src->ids.n) {
		c.ids.id = malloc(src->ids.n * sizeof(*c.ids.id));
		c.ids.stack = malloc(src->ids.n * sizeof(*c.ids.stack));
		if (!c.ids.id || !c.ids.stack)
			goto nomem;
		memcpy(c.ids.id, src->ids.id, src->ids.n * sizeof(*c.ids.id));
		memcpy(c.ids.stack, src->ids.stack,
		       src->ids.n * sizeof(*c.ids.stack));
		c.ids.n = c.ids.cap = src->ids.n;
	}
	if (src->n) {
		c.v = calloc(src->n, sizeof(*c.v));
		if (!c.v)
			goto nomem;
		c.cap = src->n;
	}
	for (i = 0; i < src->n; i++, c.n++) {
		const struct hstack *s = &src->v[i];

		c.v[i] = *s;
		c.v[i].ips = malloc((s->n ? s->n : 1) * sizeof(*s->ips));
		if (!c.v[i].ips)
			goto nomem;
		memcpy(c.v[i].ips, s->ips, s->n * sizeof(*s->ips));
	}
	*dst = c;
	return 0;
nomem:
	heap_stacks__fini(&c);
	memset(dst, 0, sizeof(*dst));
	return -ENOMEM;
}

static int heap_recs__cmp(const void *a, const void *b)
{
	const struct heap_rec *x = a, *y = b;

	if (x->dw != y->dw)
		return x->dw < y->dw ? -1 : 1;
	if (x->stack_hash != y->stack_hash)
		return x->stack_hash < y->stack_hash ? -1 : 1;
	return x->caller < y->caller ? -1 : x->caller > y->caller;
}

int heap_recs__push(struct heap_rec **v, size_t *n, size_t *cap,
		    const struct heap_rec *r)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 1024;
		struct heap_rec *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = *r;
	return 0;
}

int heap_recs__build(const struct heap_stacks *st,
		     const struct profd_heap_live_val *live, size_t nlive,
		     const struct heap_rec *allocs, size_t nallocs,
		     struct heap_rec **ret, size_t *ret_n,
		     uint64_t *ret_inflight)
{
	struct heap_rec *v = NULL, r;
	size_t n = 0, cap = 0, i, out;
	uint64_t inflight = 0;
	uint32_t idx;

	for (i = 0; i < nlive; i++) {
		const struct profd_heap_live_val *lv = &live[i];

		memset(&r, 0, sizeof(r));
		if (lv->stack.kind == PROFD_HEAP_STACK_DWARF) {
			/* Its event was processed (drained before this):
			 * the id names an unwound stack. An id newer than
			 * every event drained is an allocation made while
			 * this snapshot is taken: left for the next one. */
			idx = idtab__get(&st->ids, lv->stack.stack_hash);
			if (!idx && lv->stack.stack_hash > st->max_id) {
				inflight++;
				continue;
			}
			r.dw = idx && idx <= st->n ? idx : HEAP_REC_UNKNOWN;
		} else {
			r.stack_hash = lv->stack.stack_hash;
			r.caller = lv->stack.caller;
		}
		r.inuse_n = 1;
		r.inuse_b = (int64_t)lv->size;
		if (heap_recs__push(&v, &n, &cap, &r) < 0)
			goto nomem;
	}
	for (i = 0; i < nallocs; i++)
		if (heap_recs__push(&v, &n, &cap, &allocs[i]) < 0)
			goto nomem;
	for (i = 0; i < st->n; i++) {
		if (!st->v[i].alloc_n)
			continue;
		memset(&r, 0, sizeof(r));
		r.dw = (uint32_t)i + 1;
		r.alloc_n = st->v[i].alloc_n;
		r.alloc_b = st->v[i].alloc_b;
		if (heap_recs__push(&v, &n, &cap, &r) < 0)
			goto nomem;
	}
	if (n)
		qsort(v, n, sizeof(*v), heap_recs__cmp);
	for (i = 0, out = 0; i < n; i++) {
		if (out && !heap_recs__cmp(&v[out - 1], &v[i])) {
			v[out - 1].alloc_n += v[i].alloc_n;
			v[out - 1].alloc_b += v[i].alloc_b;
			v[out - 1].inuse_n += v[i].inuse_n;
			v[out - 1].inuse_b += v[i].inuse_b;
		} else {
			v[out++] = v[i];
		}
	}
	*ret = v;
	*ret_n = out;
	*ret_inflight = inflight;
	return 0;
nomem:
	free(v);
	return -ENOMEM;
}
