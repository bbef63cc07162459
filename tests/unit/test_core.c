// SPDX-License-Identifier: GPL-2.0
/* aggregate, kallsyms and strtab: the small pure modules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "check.h"
#include "kallsyms.h"
#include "stacks.h"
#include "strtab.h"

static void test_aggregate(void)
{
	uint64_t a[3] = { 1, 2, 3 }, b[3] = { 1, 2, 4 }, k[1] = { 0xffff0000 };
	struct aggregate *ag = NULL;
	struct aggregate_totals t;
	const struct agg_stack *s;
	uint64_t big[AGG_MAX_FRAMES + 1] = {};

	CHECK(aggregate__new(2, &ag) == 0, "new");
	CHECK(aggregate__add(ag, 10, "main", 0, a, 3, NULL, 0, 1, 100) == 0, "add a");
	CHECK(aggregate__add(ag, 10, "main", 0, a, 3, NULL, 0, 1, 100) == 0, "add a again");
	CHECK(aggregate__add(ag, 11, "main", 0, a, 3, NULL, 0, 1, 100) == 0, "other tid");
	CHECK(aggregate__add(ag, 10, "main", 0, b, 3, NULL, 0, 1, 100) == -ENOSPC,
	      "table full");
	CHECK(aggregate__add(ag, 10, "main", 0, a, 3, NULL, 0, 2, 200) == 0,
	      "existing stack still counted when full");
	CHECK(aggregate__add(ag, 10, "main", 0, a, 3, k, 1, 1, 100) == -ENOSPC,
	      "kernel frames make a new stack");
	CHECK(aggregate__add(ag, 1, "x", 0, big, AGG_MAX_FRAMES, big, 1, 1, 1) == -EINVAL,
	      "too many frames");
	aggregate__totals(ag, &t);
	CHECK(t.samples == 5 && t.dropped_samples == 2 && t.stacks == 2,
	      "totals %lu %lu %lu", (unsigned long)t.samples,
	      (unsigned long)t.dropped_samples, (unsigned long)t.stacks);
	s = aggregate__get(ag, 0);
	CHECK(s && s->count == 4 && s->value == 400 && s->tid == 10 &&
	      s->n_user == 3 && s->ips[2] == 3 && !strcmp(s->comm, "main"),
	      "first stack");
	CHECK(aggregate__get(ag, 2) == NULL, "out of range");
	aggregate__free(ag);

	/* Many distinct stacks: the table grows and keeps them apart. */
	ag = NULL;
	CHECK(aggregate__new(100000, &ag) == 0, "new (big)");
	{
		uint64_t i, st[2];
		int ok = 1;

		for (i = 0; i < 50000; i++) {
			st[0] = i;
			st[1] = i * 7;
			ok &= aggregate__add(ag, 1, "t", 0, st, 2, NULL, 0, 1, 1) == 0;
			ok &= aggregate__add(ag, 1, "t", 0, st, 2, NULL, 0, 1, 1) == 0;
		}
		aggregate__totals(ag, &t);
		CHECK(ok && t.stacks == 50000 && t.samples == 100000, "50k stacks");
		for (i = 0; i < 50000; i += 4999)
			CHECK(aggregate__get(ag, i)->count == 2, "stack %lu", (unsigned long)i);
	}
	aggregate__free(ag);
}

static void test_kallsyms(void)
{
	static const char txt[] =
		"0000000000000000 T zero_addr_ignored\n"
		"ffffffff81000000 T _stext\n"
		"ffffffff81000100 t helper\n"
		"ffffffff81000080 D some_data\n"
		"ffffffff81000200 T do_sys_open\n"
		"ffffffffc0000000 t mod_fn\t[mymod]\n"
		"bogus\n";
	struct kallsyms *k = NULL;
	uint64_t start = 0;
	const char *n;

	CHECK(kallsyms__parse(txt, sizeof(txt) - 1, &k) == 0, "parse");
	if (!k)
		return;
	CHECK(kallsyms__count(k) == 4, "count %zu", kallsyms__count(k));
	n = kallsyms__lookup(k, 0xffffffff81000150, &start);
	CHECK(n && !strcmp(n, "helper") && start == 0xffffffff81000100, "helper: %s", n);
	n = kallsyms__lookup(k, 0xffffffff81000080, NULL);
	CHECK(n && !strcmp(n, "_stext"), "data symbols skipped: %s", n);
	n = kallsyms__lookup(k, 0xffffffffc0000010, NULL);
	CHECK(n && !strcmp(n, "mod_fn"), "module suffix stripped: %s", n);
	CHECK(kallsyms__lookup(k, 0x1000, NULL) == NULL, "below all");
	kallsyms__free(k);
	CHECK(kallsyms__parse("", 0, &k) == -ENOENT, "empty");
}

static void test_strtab(void)
{
	struct strtab *t = NULL;
	struct u64map m = {};
	char name[32];
	uint64_t v = 0;
	int i, ok = 1;

	CHECK(strtab__new(&t) == 0, "new");
	CHECK(strtab__intern(t, "") == 0 && strtab__intern(t, NULL) == 0, "empty is 0");
	CHECK(strtab__intern(t, "a") == 1 && strtab__intern(t, "b") == 2 &&
	      strtab__intern(t, "a") == 1, "dedup");
	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ok &= strtab__intern(t, name) == i + 3;
	}
	CHECK(ok && strtab__count(t) == 10003, "many");
	CHECK(!strcmp(strtab__strings(t)[500 + 3], "s500"), "strings");
	strtab__free(t);

	CHECK(u64map__put(&m, 0, 1) == -EINVAL, "key 0");
	for (i = 1; i <= 5000; i++)
		ok &= u64map__put(&m, (uint64_t)i * 0x10000, (uint64_t)i) == 0;
	CHECK(u64map__put(&m, 0x10000, 77) == 0 && u64map__get(&m, 0x10000, &v) == 0 &&
	      v == 77, "replace");
	CHECK(ok && u64map__get(&m, 4999 * 0x10000ULL, &v) == 0 && v == 4999, "get");
	CHECK(u64map__get(&m, 12345, &v) == -ENOENT, "missing");
	u64map__fini(&m);
}

/* Look @key up among @keys[] (the caller's records) through @ix; add it
 * when new. The id, or -errno. */
static int64_t intern(struct stacks *ix, uint64_t *keys, uint64_t key,
		      uint64_t hash)
{
	struct stacks_probe p;
	int64_t id;

	for (id = stacks__first(ix, hash, &p); id >= 0; id = stacks__next(ix, &p))
		if (keys[id] == key)
			return id;
	id = stacks__add(ix, &p);
	if (id >= 0)
		keys[id] = key;
	return id;
}

static void test_stacks(void)
{
	static uint64_t keys[5000];
	uint64_t a[3] = { 1, 2, 3 }, b[3] = { 1, 2, 4 };
	struct stacks ix;
	int64_t id;
	int ok = 1;
	uint64_t i;

	/* The frame hash: order matters, and so does the seed. */
	CHECK(stacks__hash_frames(a, 3, 0) != stacks__hash_frames(b, 3, 0) &&
	      stacks__hash_frames(a, 2, 0) != stacks__hash_frames(a, 3, 0) &&
	      stacks__hash_frames(a, 3, 0) != stacks__hash_frames(a, 3, 7),
	      "frame hash");
	CHECK(stacks__hash_frames(NULL, 0, 7) == 7, "no frames: the seed");

	stacks__init(&ix, 4);
	CHECK(stacks__first(&ix, 5, &(struct stacks_probe){}) == -1, "empty");
	CHECK(intern(&ix, keys, 10, 5) == 0, "first id 0");
	CHECK(intern(&ix, keys, 11, 6) == 1, "second id 1");
	CHECK(intern(&ix, keys, 10, 5) == 0, "found again");
	/* One hash, two stacks: the caller tells them apart. */
	CHECK(intern(&ix, keys, 12, 5) == 2, "same hash, other stack");
	CHECK(intern(&ix, keys, 12, 5) == 2 && intern(&ix, keys, 10, 5) == 0,
	      "both found");
	CHECK(intern(&ix, keys, 13, 7) == 3 && stacks__full(&ix), "at the bound");
	CHECK(intern(&ix, keys, 14, 8) == -ENOSPC && stacks__count(&ix) == 4,
	      "bounded: -ENOSPC, nothing added");
	CHECK(intern(&ix, keys, 11, 6) == 1, "known ones still found when full");
	stacks__fini(&ix);
	CHECK(stacks__count(&ix) == 0 && stacks__first(&ix, 5, &(struct stacks_probe){}) == -1,
	      "fini leaves it empty");
	CHECK(intern(&ix, keys, 20, 5) == 0, "usable again after fini");
	stacks__fini(&ix);

	/* Growth (256 slots at first, kept at most half full) keeps every
	 * id, also with many equal hashes (long probe runs across the
	 * table's end). */
	stacks__init(&ix, 5000);
	for (i = 0; i < 5000 && ok; i++)
		ok = intern(&ix, keys, i, i % 3 ? i * 0x9e3779b97f4a7c15ULL : 42) ==
		     (int64_t)i;
	for (i = 0; i < 5000 && ok; i++)
		ok = intern(&ix, keys, i, i % 3 ? i * 0x9e3779b97f4a7c15ULL : 42) ==
		     (int64_t)i;
	CHECK(ok && stacks__count(&ix) == 5000 && ix.nslots >= 10000,
	      "5000 ids through growth: %zu ids, %zu slots",
	      stacks__count(&ix), ix.nslots);
	id = intern(&ix, keys, 5000, 1);
	CHECK(id == -ENOSPC, "bound after growth: %lld", (long long)id);
	stacks__fini(&ix);
}

int main(void)
{
	test_aggregate();
	test_stacks();
	test_kallsyms();
	test_strtab();
	return check__done();
}
