// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitmap.h"

#define JITDUMP_MAGIC 0x4A695444u	/* "JiTD", in the writer's order */
#define JITDUMP_HEADER 40
#define JITDUMP_FLAGS_ARCH_TIMESTAMP 1ull
#define JIT_CODE_LOAD 0
#define JIT_CODE_MOVE 1

/* How far a lookup looks back for an older, longer entry covering it. */
#define OVERLAP_SCAN 64

/*
 * One budget for the daemon's JIT tables: a process's own cap (~30 MB)
 * times the processes profiled at once would be unbounded otherwise.
 * Charged by allocation (capacity, not use), so it is what they hold.
 */
static _Atomic uint64_t budget_used, budget_max = JITMAP_MAX_TOTAL;
static _Atomic uint64_t dropped_total, dropped_process;

void jitmap__set_budget(uint64_t max_bytes)
{
	atomic_store(&budget_max, max_bytes ? max_bytes : JITMAP_MAX_TOTAL);
}

void jitmap__stats(struct jitmap_stats *ret)
{
	ret->bytes = atomic_load(&budget_used);
	ret->max_bytes = atomic_load(&budget_max);
	ret->dropped_total = atomic_load(&dropped_total);
	ret->dropped_process = atomic_load(&dropped_process);
}

/* Take @bytes from the budget for @jm. False when it would overflow. */
static bool charge(struct jitmap *jm, size_t bytes)
{
	uint64_t used = atomic_fetch_add(&budget_used, bytes) + bytes;

	if (used > atomic_load(&budget_max)) {
		atomic_fetch_sub(&budget_used, bytes);
		return false;
	}
	jm->charged += bytes;
	return true;
}

static void uncharge(struct jitmap *jm, size_t bytes)
{
	atomic_fetch_sub(&budget_used, bytes);
	jm->charged -= bytes;
}

static void drop(struct jitmap *jm, bool total)
{
	jm->dropped++;
	atomic_fetch_add(total ? &dropped_total : &dropped_process, 1);
}

static int add(struct jitmap *jm, uint64_t start, uint64_t size,
	       const char *name, size_t nlen, uint64_t t_ns)
{
	struct jit_sym *ne;
	char *nn;

	if (!size || start + size < start)
		return 0;
	if (jm->n >= JITMAP_MAX_SYMS ||
	    jm->names_len + JITMAP_MAX_NAME + 1 > JITMAP_MAX_NAMES) {
		drop(jm, false);
		return 0;
	}
	if (nlen > JITMAP_MAX_NAME)
		nlen = JITMAP_MAX_NAME;
	if (jm->n == jm->cap) {
		size_t cap = jm->cap ? 2 * jm->cap : 256;

		if (!charge(jm, (cap - jm->cap) * sizeof(*ne))) {
			drop(jm, true);
			return 0;
		}
		ne = realloc(jm->e, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;	/* stays charged until fini */
		jm->e = ne;
		jm->cap = cap;
	}
	if (jm->names_len + nlen + 1 > jm->names_cap) {
		size_t cap = jm->names_cap ? 2 * jm->names_cap : 4096;

		while (cap < jm->names_len + nlen + 1)
			cap *= 2;
		if (!charge(jm, cap - jm->names_cap)) {
			drop(jm, true);
			return 0;
		}
		nn = realloc(jm->names, cap);
		if (!nn)
			return -ENOMEM;
		jm->names = nn;
		jm->names_cap = cap;
	}
	memcpy(jm->names + jm->names_len, name, nlen);
	/* Control characters would break the table and folded stacks. */
	for (size_t i = 0; i < nlen; i++)
		if ((unsigned char)jm->names[jm->names_len + i] < 0x20)
			jm->names[jm->names_len + i] = '?';
	jm->names[jm->names_len + nlen] = 0;
	/* Times follow the order read: a record that claims to be older
	 * than the one before (or newer than now) cannot reorder history. */
	if (t_ns < jm->last_t)
		t_ns = jm->last_t;
	jm->last_t = t_ns;
	jm->e[jm->n++] = (struct jit_sym){
		.start = start, .end = start + size, .t_ns = t_ns,
		.name = (uint32_t)jm->names_len, .seq = jm->seq++,
	};
	jm->names_len += nlen + 1;
	jm->sorted = false;
	return 0;
}

static bool hex_field(const char **p, const char *end, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;

	while (s < end && *s == ' ')
		s++;
	if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; s < end && n <= 16; s++, n++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		v = v << 4 | (uint64_t)d;
	}
	if (!n || n > 16 || s >= end || *s != ' ')
		return false;
	*p = s + 1;
	*ret = v;
	return true;
}

int jitmap__parse_perfmap(struct jitmap *jm, const char *buf, size_t len,
			  uint64_t now_ns)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *q = p;
		uint64_t start, size;
		size_t nlen;
		int r;

		if (!eol)
			break;	/* being written: read it next time */
		if (hex_field(&q, eol, &start) && hex_field(&q, eol, &size)) {
			nlen = (size_t)(eol - q);
			if (nlen && q[nlen - 1] == '\r')
				nlen--;
			r = add(jm, start, size, q, nlen, now_ns);
			if (r < 0)
				return r;
		}
		jm->perf_pos += (size_t)(eol + 1 - p);
		p = eol + 1;
	}
	return 0;
}

static uint32_t rd32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t rd64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The newest entry starting at @addr, to move it. */
static const struct jit_sym *find_start(const struct jitmap *jm,
					uint64_t addr)
{
	size_t i;

	for (i = jm->n; i-- > 0 && jm->n - i <= 4096;)
		if (jm->e[i].start == addr)
			return &jm->e[i];
	return NULL;
}

int jitmap__parse_jitdump(struct jitmap *jm, const char *buf, size_t len,
			  uint64_t now_ns)
{
	size_t off = 0, hsize;
	int r;

	if (!jm->dump_pos) {
		if (len < JITDUMP_HEADER || rd32(buf) != JITDUMP_MAGIC)
			return -EINVAL;	/* also a byte-swapped (foreign) file */
		hsize = rd32(buf + 8);
		if (hsize < JITDUMP_HEADER || hsize > len)
			return -EINVAL;
		jm->dump_arch_ts = rd64(buf + 32) & JITDUMP_FLAGS_ARCH_TIMESTAMP;
		off = hsize;
		jm->dump_pos = hsize;
	}
	while (len - off >= 16) {
		uint32_t id = rd32(buf + off);
		uint32_t size = rd32(buf + off + 4);
		uint64_t t = rd64(buf + off + 8);
		const char *rec = buf + off + 16;
		size_t body;

		if (size < 16)
			break;	/* bogus: nothing after it can be framed */
		if (size > len - off)
			break;	/* being written: read it next time */
		body = size - 16;
		/* A TSC time is not the samples' clock: when read then. */
		if (jm->dump_arch_ts || t > now_ns)
			t = now_ns;
		if (id == JIT_CODE_LOAD && body >= 40) {
			/* pid, tid, vma, code_addr, code_size, index, name */
			uint64_t addr = rd64(rec + 16), csize = rd64(rec + 24);
			const char *name = rec + 40;
			size_t max = body - 40;
			const char *nul = memchr(name, 0, max);

			r = add(jm, addr, csize, name,
				nul ? (size_t)(nul - name) : max, t);
			if (r < 0)
				return r;
		} else if (id == JIT_CODE_MOVE && body >= 48) {
			/* pid, tid, vma, old, new, size, index: the code
			 * lives at new from then on; the entry at old stays
			 * for samples taken before. */
			uint64_t old = rd64(rec + 16), nw = rd64(rec + 24);
			uint64_t csize = rd64(rec + 32);
			const struct jit_sym *s = find_start(jm, old);

			if (s) {
				char name[JITMAP_MAX_NAME + 1];

				snprintf(name, sizeof(name), "%s",
					 jm->names + s->name);
				r = add(jm, nw, csize, name, strlen(name), t);
				if (r < 0)
					return r;
			}
		}
		/* CODE_CLOSE, DEBUG_INFO, UNWINDING_INFO, unknown: skipped */
		off += size;
		jm->dump_pos += size;
	}
	return 0;
}

static int cmp_start(const void *a, const void *b)
{
	const struct jit_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Sort by start and list the replacements: an entry is one when an entry
 * read before it covers part of its range. Costs a sort of the table and
 * a bounded scan per entry, once per change (the caller reads files at
 * most a few times a second).
 */
static void sort_table(struct jitmap *jm)
{
	uint64_t *rt = NULL;
	size_t i, j, nr = 0;
	size_t max = jm->n < JITMAP_MAX_GENS ? jm->n : JITMAP_MAX_GENS;

	qsort(jm->e, jm->n, sizeof(*jm->e), cmp_start);
	jm->sorted = true;
	for (i = 0; i < jm->n; i++) {
		for (j = i + 1; j < jm->n && j - i <= OVERLAP_SCAN &&
				jm->e[j].start < jm->e[i].end; j++) {
			const struct jit_sym *a = &jm->e[i], *b = &jm->e[j];
			const struct jit_sym *older = a->seq < b->seq ? a : b;
			const struct jit_sym *newer = older == a ? b : a;

			/* Read at one time (a perf map's first read): when
			 * the old one was replaced is not known; the newer
			 * wins for every sample, as it always did. */
			if (newer->t_ns == older->t_ns)
				continue;
			if (!rt) {
				/* Charged as the entries are: over the
				 * budget, no generations (newest wins). */
				if (!charge(jm, sizeof(*rt) * max))
					return;
				rt = malloc(sizeof(*rt) * max);
				if (!rt) {
					uncharge(jm, sizeof(*rt) * max);
					return;
				}
			}
			if (nr < max)
				rt[nr++] = newer->t_ns;
		}
	}
	free(jm->rep_t);
	uncharge(jm, jm->rep_bytes);
	jm->rep_t = NULL;
	jm->rep_n = 0;
	jm->rep_bytes = 0;
	if (!nr) {
		if (rt)
			uncharge(jm, sizeof(*rt) * max);
		free(rt);
		return;
	}
	qsort(rt, nr, sizeof(*rt), cmp_u64);
	for (i = 1, j = 1; i < nr; i++)
		if (rt[i] != rt[j - 1])
			rt[j++] = rt[i];
	jm->rep_t = rt;
	jm->rep_n = j;
	jm->rep_bytes = sizeof(*rt) * max;
}

/* The first entry starting after @addr. */
static size_t upper(const struct jitmap *jm, uint64_t addr)
{
	size_t lo = 0, hi = jm->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (jm->e[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The newest entry holding @addr live before @limit_ns, and how many
 * entries hold it (within the scan). */
static const struct jit_sym *lookup(const struct jitmap *jm, uint64_t addr,
				    uint64_t limit_ns, unsigned *ret_cover)
{
	const struct jit_sym *best = NULL, *oldest = NULL;
	size_t i, k;
	unsigned cover = 0;

	for (i = upper(jm, addr), k = 0; i-- > 0 && k < OVERLAP_SCAN; k++) {
		const struct jit_sym *s = &jm->e[i];

		if (addr >= s->end)
			continue;
		cover++;
		if (s->t_ns < limit_ns && (!best || s->seq > best->seq))
			best = s;
		if (!oldest || s->seq < oldest->seq)
			oldest = s;
	}
	if (ret_cover)
		*ret_cover = cover;
	/* A sample older than every entry holding its address: the first
	 * name known there. */
	return best ? best : oldest;
}

unsigned jitmap__gen(struct jitmap *jm, const uint64_t *ips, unsigned n,
		     uint64_t t_ns)
{
	size_t lo = 0, hi;
	unsigned i, cover;

	if (!jm->n)
		return 0;
	if (!jm->sorted)
		sort_table(jm);
	if (!jm->rep_n)
		return 1;	/* one generation so far */
	for (i = 0; i < n; i++) {
		(void)lookup(jm, ips[i], UINT64_MAX, &cover);
		if (cover > 1)
			break;
	}
	if (i == n)
		return 0;
	/* How many replacements happened at or before t_ns. */
	hi = jm->rep_n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (jm->rep_t[mid] <= t_ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (unsigned)lo + 1;
}

const char *jitmap__find(struct jitmap *jm, uint64_t addr, unsigned gen,
			 uint64_t *ret_start, uint32_t *ret_seq)
{
	const struct jit_sym *best;
	uint64_t limit = UINT64_MAX;

	if (!jm->n)
		return NULL;
	if (!jm->sorted)
		sort_table(jm);
	/* Generation g lived until replacement g (1-based: rep_t[g - 1]). */
	if (gen && gen - 1 < jm->rep_n)
		limit = jm->rep_t[gen - 1];
	best = lookup(jm, addr, limit, NULL);
	if (!best)
		return NULL;
	if (ret_start)
		*ret_start = best->start;
	if (ret_seq)
		*ret_seq = best->seq;
	return jm->names + best->name;
}

size_t jitmap__bytes(const struct jitmap *jm)
{
	return jm->cap * sizeof(*jm->e) + jm->names_cap +
	       jm->rep_bytes;
}

void jitmap__fini(struct jitmap *jm)
{
	atomic_fetch_sub(&budget_used, jm->charged);
	free(jm->e);
	free(jm->names);
	free(jm->rep_t);
	memset(jm, 0, sizeof(*jm));
}
