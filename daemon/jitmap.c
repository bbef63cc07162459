// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitmap.h"

#define JITDUMP_MAGIC 0x4A695444u	/* "JiTD", in the writer's order */
#define JITDUMP_HEADER 40
#define JIT_CODE_LOAD 0
#define JIT_CODE_MOVE 1
#define JIT_CODE_CLOSE 3

/* How far back a lookup looks for an older, longer entry covering it. */
#define OVERLAP_SCAN 64

static int add(struct jitmap *jm, uint64_t start, uint64_t size,
	       const char *name, size_t nlen)
{
	struct jit_sym *ne;
	char *nn;

	if (!size || start + size < start)
		return 0;
	if (jm->n >= JITMAP_MAX_SYMS ||
	    jm->names_len + JITMAP_MAX_NAME + 1 > JITMAP_MAX_NAMES) {
		jm->dropped++;
		return 0;
	}
	if (nlen > JITMAP_MAX_NAME)
		nlen = JITMAP_MAX_NAME;
	if (jm->n == jm->cap) {
		size_t cap = jm->cap ? 2 * jm->cap : 256;

		ne = realloc(jm->e, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		jm->e = ne;
		jm->cap = cap;
	}
	if (jm->names_len + nlen + 1 > jm->names_cap) {
		size_t cap = jm->names_cap ? 2 * jm->names_cap : 4096;

		while (cap < jm->names_len + nlen + 1)
			cap *= 2;
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
	jm->e[jm->n++] = (struct jit_sym){
		.start = start, .end = start + size,
		.name = (uint32_t)jm->names_len, .seq = jm->seq++,
	};
	jm->names_len += nlen + 1;
	jm->sorted = 0;
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

int jitmap__parse_perfmap(struct jitmap *jm, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *q = p;
		uint64_t start, size;
		size_t nlen;
		int r;

		if (!eol)
			eol = end;
		if (hex_field(&q, eol, &start) && hex_field(&q, eol, &size)) {
			nlen = (size_t)(eol - q);
			if (nlen && q[nlen - 1] == '\r')
				nlen--;
			r = add(jm, start, size, q, nlen);
			if (r < 0)
				return r;
		}
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

/* The newest entry starting at @addr, to move or close it. */
static struct jit_sym *find_start(struct jitmap *jm, uint64_t addr)
{
	size_t i;

	for (i = jm->n; i-- > 0 && jm->n - i <= 4096;)
		if (jm->e[i].start == addr)
			return &jm->e[i];
	return NULL;
}

int jitmap__parse_jitdump(struct jitmap *jm, const char *buf, size_t len)
{
	size_t off, hsize;
	int r;

	if (len < JITDUMP_HEADER || rd32(buf) != JITDUMP_MAGIC)
		return -EINVAL;	/* also a byte-swapped (foreign) file */
	hsize = rd32(buf + 8);
	if (hsize < JITDUMP_HEADER || hsize > len)
		return -EINVAL;
	for (off = hsize; len - off >= 16;) {
		uint32_t id = rd32(buf + off);
		uint32_t size = rd32(buf + off + 4);
		const char *rec = buf + off + 16;
		size_t body;

		if (size < 16 || size > len - off)
			break;	/* truncated or bogus: keep what was read */
		body = size - 16;
		if (id == JIT_CODE_LOAD && body >= 40) {
			/* pid, tid, vma, code_addr, code_size, index, name */
			uint64_t addr = rd64(rec + 16), csize = rd64(rec + 24);
			const char *name = rec + 40;
			size_t max = body - 40;
			const char *nul = memchr(name, 0, max);

			r = add(jm, addr, csize, name,
				nul ? (size_t)(nul - name) : max);
			if (r < 0)
				return r;
		} else if (id == JIT_CODE_MOVE && body >= 48) {
			/* pid, tid, vma, old, new, size, index */
			uint64_t old = rd64(rec + 16), nw = rd64(rec + 24);
			uint64_t csize = rd64(rec + 32);
			struct jit_sym *s = find_start(jm, old);

			if (s) {
				char name[JITMAP_MAX_NAME + 1];

				snprintf(name, sizeof(name), "%s",
					 jm->names + s->name);
				s->end = s->start;	/* gone from there */
				r = add(jm, nw, csize, name, strlen(name));
				if (r < 0)
					return r;
			}
		}
		/* CODE_CLOSE, DEBUG_INFO, UNWINDING_INFO, unknown: skipped */
		off += size;
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

const char *jitmap__find(struct jitmap *jm, uint64_t addr,
			 uint64_t *ret_start)
{
	const struct jit_sym *best = NULL;
	size_t lo = 0, hi, i, k;

	if (!jm->n)
		return NULL;
	if (!jm->sorted) {
		qsort(jm->e, jm->n, sizeof(*jm->e), cmp_start);
		jm->sorted = 1;
	}
	/* The first entry starting after addr. */
	hi = jm->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (jm->e[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo, k = 0; i-- > 0 && k < OVERLAP_SCAN; k++) {
		const struct jit_sym *s = &jm->e[i];

		if (addr < s->end && (!best || s->seq > best->seq))
			best = s;
	}
	if (!best)
		return NULL;
	if (ret_start)
		*ret_start = best->start;
	return jm->names + best->name;
}

size_t jitmap__bytes(const struct jitmap *jm)
{
	return jm->cap * sizeof(*jm->e) + jm->names_cap;
}

void jitmap__fini(struct jitmap *jm)
{
	free(jm->e);
	free(jm->names);
	memset(jm, 0, sizeof(*jm));
}
