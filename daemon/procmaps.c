// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "procmaps.h"

static int parse_hex(const char **p, const char *end, uint64_t *ret)
{
	uint64_t v = 0;
	int n = 0;

	for (; *p < end && n < 17; (*p)++, n++) {
		char c = **p;
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		v = v << 4 | d;
	}
	if (n == 0 || n > 16)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_dec(const char **p, const char *end, uint64_t *ret)
{
	uint64_t v = 0;
	int n = 0;

	for (; *p < end && **p >= '0' && **p <= '9' && n < 20; (*p)++, n++)
		v = v * 10 + (uint64_t)(**p - '0');
	if (n == 0 || n >= 20)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

static void skip_spaces(const char **p, const char *end)
{
	while (*p < end && **p == ' ')
		(*p)++;
}

/* One line, without its newline: "start-end perms offset maj:min inode path" */
static int parse_line(const char *p, const char *end, struct procmaps_entry *e)
{
	uint64_t maj, min;
	const char *perms;

	memset(e, 0, sizeof(*e));
	if (parse_hex(&p, end, &e->start) || expect(&p, end, '-') ||
	    parse_hex(&p, end, &e->end) || expect(&p, end, ' '))
		return -EINVAL;
	if (e->end < e->start || end - p < 5)
		return -EINVAL;
	perms = p;
	if (perms[0] == 'r')
		e->perms |= PROCMAPS_R;
	if (perms[1] == 'w')
		e->perms |= PROCMAPS_W;
	if (perms[2] == 'x')
		e->perms |= PROCMAPS_X;
	if (perms[3] == 'p')
		e->perms |= PROCMAPS_P;
	p += 4;
	if (expect(&p, end, ' ') || parse_hex(&p, end, &e->offset) ||
	    expect(&p, end, ' ') || parse_hex(&p, end, &maj) ||
	    expect(&p, end, ':') || parse_hex(&p, end, &min) ||
	    expect(&p, end, ' ') || parse_dec(&p, end, &e->inode))
		return -EINVAL;
	if (maj > UINT32_MAX || min > UINT32_MAX)
		return -EINVAL;
	e->dev_major = (uint32_t)maj;
	e->dev_minor = (uint32_t)min;
	skip_spaces(&p, end);
	e->path = strndup(p, (size_t)(end - p));
	return e->path ? 0 : -ENOMEM;
}

static int cmp_start(const void *a, const void *b)
{
	const struct procmaps_entry *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int procmaps__parse(const char *buf, size_t len, struct procmaps *ret,
		    size_t *ret_bad)
{
	struct procmaps m = {};
	const char *p = buf, *end = buf + len;
	size_t cap = 0, bad = 0;
	int r = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct procmaps_entry e;

		if (le > p) {
			if (m.n == PROCMAPS_MAX_ENTRIES) {
				r = -E2BIG;
				goto out;
			}
			r = parse_line(p, le, &e);
			if (r == -ENOMEM)
				goto out;
			if (r < 0) {
				bad++;
			} else {
				if (m.n == cap) {
					size_t nc = cap ? cap * 2 : 64;
					struct procmaps_entry *ne;

					ne = realloc(m.e, nc * sizeof(*ne));
					if (!ne) {
						free(e.path);
						r = -ENOMEM;
						goto out;
					}
					m.e = ne;
					cap = nc;
				}
				m.e[m.n++] = e;
			}
		}
		p = le + 1;
	}
	r = 0;
	/* Not qsort(NULL, 0) for empty text: its pointer must be valid. */
	if (m.n)
		qsort(m.e, m.n, sizeof(*m.e), cmp_start);
	*ret = m;
	if (ret_bad)
		*ret_bad = bad;
	return 0;
out:
	procmaps__fini(&m);
	return r;
}

void procmaps__fini(struct procmaps *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->e[i].path);
	free(m->e);
	m->e = NULL;
	m->n = 0;
}

const struct procmaps_entry *procmaps__find(const struct procmaps *m,
					    uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < m->e[mid].start)
			hi = mid;
		else if (addr >= m->e[mid].end)
			lo = mid + 1;
		else
			return &m->e[mid];
	}
	return NULL;
}
