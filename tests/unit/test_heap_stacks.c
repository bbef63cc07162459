// SPDX-License-Identifier: GPL-2.0
/* heap_stacks: the heap tracker's id table, stack interning and snapshot
 * assembly, on their own (no BPF, no process). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "heap_stacks.h"

static void test_idtab(void)
{
	struct idtab t = {};
	uint64_t i;
	int r = 0;

	/* Nearly in order, as ids arrive: appends and short moves. */
	for (i = 1; i <= 5000; i++)
		r |= idtab__put(&t, i * 2, (uint32_t)i);
	CHECK(r == 0 && t.n == 5000, "appends: %d %zu", r, t.n);
	r = idtab__put(&t, 3, 77);	/* out of order */
	CHECK(r == 0 && t.n == 5001, "insert: %d", r);
	for (i = 1; i < t.n; i++)
		if (t.id[i - 1] >= t.id[i])
			break;
	CHECK(i == t.n, "sorted up to %zu", (size_t)i);
	CHECK(idtab__get(&t, 3) == 77, "get inserted");
	CHECK(idtab__get(&t, 2) == 1 && idtab__get(&t, 10000) == 5000,
	      "get ends");
	CHECK(idtab__get(&t, 5) == 0 && idtab__get(&t, 1) == 0 &&
	      idtab__get(&t, 99999) == 0, "absent ids");
	CHECK(idtab__put(&t, 3, 0) == 0 && t.n == 5001 &&
	      idtab__get(&t, 3) == 0, "replace");
	CHECK(idtab__find(&t, 0) == 0 && idtab__find(&t, 4) == 2,
	      "find: first >= id");
	idtab__fini(&t);
	CHECK(t.n == 0 && !t.id, "fini");
}

static void test_intern(void)
{
	struct heap_stacks st = {};
	uint64_t a[] = { 0x401000, 0x402000, 0x403000 };
	uint64_t b[] = { 0x401000, 0x402000 };
	uint32_t i1 = 9, i2 = 9, i3 = 9, i4 = 9;
	unsigned k;
	int r;

	CHECK(heap_stacks__intern(&st, a, 3, false, &i1) == 0 && i1 == 0,
	      "first");
	CHECK(heap_stacks__intern(&st, a, 3, false, &i2) == 0 && i2 == 0,
	      "same stack, same index");
	CHECK(heap_stacks__intern(&st, a, 3, true, &i3) == 0 && i3 == 1,
	      "truncated is another stack");
	CHECK(heap_stacks__intern(&st, b, 2, false, &i4) == 0 && i4 == 2,
	      "prefix is another stack");
	CHECK(heap_stacks__intern(&st, NULL, 0, true, &i4) == 0 && i4 == 3,
	      "empty stack");
	CHECK(st.n == 4 && st.v[2].n == 2 && !memcmp(st.v[2].ips, b, sizeof(b)),
	      "copies kept");
	/* Bounded: past HEAP_MAX_STACKS, -ENOSPC; known ones still found. */
	for (k = 0, r = 0; k < HEAP_MAX_STACKS && r == 0; k++) {
		uint64_t ip = 0x500000 + k;

		r = heap_stacks__intern(&st, &ip, 1, false, &i4);
	}
	CHECK(r == -ENOSPC && st.n == HEAP_MAX_STACKS, "cap: %d %zu", r, st.n);
	CHECK(heap_stacks__intern(&st, a, 3, false, &i1) == 0 && i1 == 0,
	      "known stack at the cap");
	heap_stacks__fini(&st);
	CHECK(st.n == 0 && !st.v, "fini");
}

static int rec_find(const struct heap_rec *v, size_t n, uint32_t dw,
		    uint64_t hash)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].dw == dw && v[i].stack_hash == hash)
			return (int)i;
	return -1;
}

static void test_add_prune_build(void)
{
	struct heap_stacks st = {};
	uint64_t a[] = { 0x1000, 0x2000 }, b[] = { 0x3000 };
	struct profd_heap_live_val live[5];
	struct heap_rec allocs[2], *v = NULL;
	uint64_t inflight = 99, ids[1];
	size_t n = 0;
	int i;

	CHECK(heap_stacks__add(&st, 10, a, 2, false, 100) == 0, "add 10");
	CHECK(heap_stacks__add(&st, 11, a, 2, false, 50) == 0, "add 11");
	CHECK(heap_stacks__add(&st, 12, b, 1, true, 7) == 0, "add 12");
	CHECK(heap_stacks__add(&st, 13, b, 1, true, 1) == 0, "add 13");
	heap_stacks__cancel(&st, 13, 1);	/* its allocation failed */
	CHECK(st.max_id == 13 && st.n == 2, "max id %llu, stacks %zu",
	      (unsigned long long)st.max_id, st.n);
	CHECK(st.v[0].alloc_n == 2 && st.v[0].alloc_b == 150 &&
	      st.v[1].alloc_n == 1 && st.v[1].alloc_b == 7, "counts");
	CHECK(idtab__get(&st.ids, 13) == 0, "cancelled id forgotten");

	memset(live, 0, sizeof(live));
	live[0].size = 100;	/* id 10 on a */
	live[0].stack.kind = PROFD_HEAP_STACK_DWARF;
	live[0].stack.stack_hash = 10;
	live[1].size = 7;	/* id 12 on b */
	live[1].stack.kind = PROFD_HEAP_STACK_DWARF;
	live[1].stack.stack_hash = 12;
	live[2].size = 3;	/* newer than every event: in flight */
	live[2].stack.kind = PROFD_HEAP_STACK_DWARF;
	live[2].stack.stack_hash = 20;
	live[3].size = 5;	/* an old id without a stack: [unknown] */
	live[3].stack.kind = PROFD_HEAP_STACK_DWARF;
	live[3].stack.stack_hash = 5;
	live[4].size = 64;	/* a frame-pointer stack */
	live[4].stack.stack_hash = 0xabc;
	live[4].stack.caller = 0x77;
	memset(allocs, 0, sizeof(allocs));
	allocs[0].stack_hash = 0xabc;
	allocs[0].caller = 0x77;
	allocs[0].alloc_n = 4;
	allocs[0].alloc_b = 256;
	allocs[1].stack_hash = 0xdef;
	allocs[1].alloc_n = 1;
	allocs[1].alloc_b = 8;

	CHECK(heap_recs__build(&st, live, 5, allocs, 2, &v, &n, &inflight) == 0,
	      "build");
	CHECK(inflight == 1, "in flight: %llu", (unsigned long long)inflight);
	CHECK(n == 5, "records: %zu", n);
	for (i = 1; i < (int)n; i++)
		CHECK(v[i - 1].dw <= v[i].dw, "sorted at %d", i);
	i = rec_find(v, n, 1, 0);
	CHECK(i >= 0 && v[i].alloc_n == 2 && v[i].alloc_b == 150 &&
	      v[i].inuse_n == 1 && v[i].inuse_b == 100, "stack a merged");
	i = rec_find(v, n, 2, 0);
	CHECK(i >= 0 && v[i].alloc_n == 1 && v[i].inuse_b == 7, "stack b");
	i = rec_find(v, n, HEAP_REC_UNKNOWN, 0);
	CHECK(i >= 0 && v[i].inuse_n == 1 && v[i].inuse_b == 5, "unknown");
	i = rec_find(v, n, 0, 0xabc);
	CHECK(i >= 0 && v[i].caller == 0x77 && v[i].alloc_n == 4 &&
	      v[i].inuse_n == 1 && v[i].inuse_b == 64, "fp stack merged");
	free(v);

	/* Prune: ids not live and not newer than the last prune go. The
	 * first prune keeps all (mark 0, the cancelled 13 too); the second
	 * drops 11 and 13. */
	ids[0] = 10;
	heap_stacks__prune(&st, ids, 1);
	CHECK(st.ids.n == 4 && st.prune_mark == 13, "first prune: %zu",
	      st.ids.n);
	CHECK(heap_stacks__prune_live(&st, live, 5) == 0, "prune live");
	CHECK(st.ids.n == 2 && idtab__get(&st.ids, 10) == 1 &&
	      idtab__get(&st.ids, 12) == 2 && !idtab__get(&st.ids, 11),
	      "second prune: %zu", st.ids.n);
	CHECK(!heap_stacks__want_prune(&st), "no prune wanted");
	heap_stacks__fini(&st);
}

/* A snapshot reads a copy, built without the tracker's lock. */
static void test_copy(void)
{
	struct heap_stacks st = {}, c;
	struct profd_heap_live_val live[3];
	uint64_t a[] = { 0x1000, 0x2000 }, b[] = { 0x3000 }, *ids = NULL;
	size_t n = 0;

	CHECK(heap_stacks__add(&st, 1, a, 2, false, 10) == 0 &&
	      heap_stacks__add(&st, 2, b, 1, true, 20) == 0, "adds");
	CHECK(heap_stacks__copy(&st, &c) == 0, "copy");
	CHECK(c.n == 2 && c.ids.n == 2 && c.max_id == 2, "sizes");
	CHECK(c.v[0].ips != st.v[0].ips &&
	      !memcmp(c.v[0].ips, a, sizeof(a)) && c.v[1].truncated &&
	      c.v[1].alloc_b == 20, "deep copy");
	CHECK(idtab__get(&c.ids, 2) == 2, "ids copied");
	/* The original moves on; the copy does not. */
	CHECK(heap_stacks__add(&st, 3, b, 1, true, 5) == 0 &&
	      c.v[1].alloc_n == 1 && st.v[1].alloc_n == 2, "independent");
	heap_stacks__fini(&st);
	CHECK(c.v[0].ips[1] == 0x2000, "outlives the original");
	heap_stacks__fini(&c);
	memset(&st, 0, sizeof(st));
	CHECK(heap_stacks__copy(&st, &c) == 0 && c.n == 0 && c.ids.n == 0,
	      "empty copy");
	heap_stacks__fini(&c);

	memset(live, 0, sizeof(live));
	live[0].stack.kind = PROFD_HEAP_STACK_DWARF;
	live[0].stack.stack_hash = 9;
	live[1].stack.stack_hash = 4;	/* frame pointers: not an id */
	live[2].stack.kind = PROFD_HEAP_STACK_DWARF;
	live[2].stack.stack_hash = 3;
	CHECK(heap_stacks__live_ids(live, 3, &ids, &n) == 0 && n == 2 &&
	      ids[0] == 3 && ids[1] == 9, "live ids sorted: %zu", n);
	free(ids);
}

int main(void)
{
	test_idtab();
	test_intern();
	test_add_prune_build();
	test_copy();
	return check__done();
}
