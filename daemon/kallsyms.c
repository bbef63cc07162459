// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kallsyms.h"

struct ksym {
	uint64_t addr;
	uint64_t name_off;
};

struct kallsyms {
	struct ksym *syms;
	size_t n;
	char *names;
};

static int cmp_addr(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int kallsyms__parse(const char *buf, size_t len, struct kallsyms **ret)
{
	struct kallsyms *k;
	const char *p = buf, *end = buf + len;
	size_t cap = 0, ncap = 0, nlen = 0;
	int r = -ENOMEM;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *q = p, *name;
		uint64_t addr = 0;
		size_t namelen;
		char type;

		p = le + 1;
		/* "ffffffff81000000 T _stext [module]" */
		while (q < le && *q != ' ') {
			char c = *q++;

			addr <<= 4;
			if (c >= '0' && c <= '9')
				addr |= (uint64_t)(c - '0');
			else if (c >= 'a' && c <= 'f')
				addr |= (uint64_t)(c - 'a' + 10);
			else
				goto next;
		}
		if (le - q < 4 || q[0] != ' ' || q[2] != ' ')
			continue;
		type = q[1];
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		if (!addr)
			continue;
		name = q + 3;
		namelen = (size_t)(le - name);
		/* Keep the module suffix "\t[mod]" out of the name. */
		{
			const char *tab = memchr(name, '\t', namelen);

			if (tab)
				namelen = (size_t)(tab - name);
		}
		if (k->n == cap) {
			size_t nc = cap ? cap * 2 : 4096;
			struct ksym *ns = realloc(k->syms, nc * sizeof(*ns));

			if (!ns)
				goto out;
			k->syms = ns;
			cap = nc;
		}
		if (nlen + namelen + 1 > ncap) {
			size_t nc = ncap ? ncap * 2 : 65536;
			char *nn;

			while (nc < nlen + namelen + 1)
				nc *= 2;
			nn = realloc(k->names, nc);
			if (!nn)
				goto out;
			k->names = nn;
			ncap = nc;
		}
		memcpy(k->names + nlen, name, namelen);
		k->names[nlen + namelen] = 0;
		k->syms[k->n].addr = addr;
		k->syms[k->n].name_off = nlen;
		k->n++;
		nlen += namelen + 1;
next:
		;
	}
	if (!k->n) {
		r = -ENOENT;
		goto out;
	}
	qsort(k->syms, k->n, sizeof(*k->syms), cmp_addr);
	*ret = k;
	return 0;
out:
	kallsyms__free(k);
	return r;
}

void kallsyms__free(struct kallsyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k->names);
	free(k);
}

const char *kallsyms__lookup(const struct kallsyms *k, uint64_t addr,
			     uint64_t *ret_start)
{
	size_t lo = 0, hi = k->n;

	/* Last symbol with start <= addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	if (ret_start)
		*ret_start = k->syms[lo - 1].addr;
	return k->names + k->syms[lo - 1].name_off;
}

size_t kallsyms__count(const struct kallsyms *k)
{
	return k->n;
}

int kallsyms__load(struct kallsyms **ret)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap), *nb;
	ssize_t n;
	int fd, r;

	if (!buf)
		return -ENOMEM;
	fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	/* /proc/kallsyms is ~10 MB; cap at 256 MB. */
	for (;;) {
		if (len == cap) {
			if (cap >= (256u << 20) || !(nb = realloc(buf, cap * 2)))
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	r = kallsyms__parse(buf, len, ret);
out:
	free(buf);
	return r;
}
