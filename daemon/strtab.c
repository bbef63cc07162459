// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strtab.h"

struct strtab {
	char **strs;		/* dense, strs[0] = "" */
	size_t n, cap;
	int64_t *slots;		/* open addressing: index+1, 0 = empty */
	size_t nslots;		/* power of two */
};

static int strtab__grow_slots(struct strtab *t)
{
	size_t nslots = t->nslots ? t->nslots * 2 : 64;
	int64_t *slots = calloc(nslots, sizeof(*slots));
	size_t i;

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		uint64_t h = hash__bytes(t->strs[i], strlen(t->strs[i]), 0);
		size_t j = h & (nslots - 1);

		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = (int64_t)i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

int strtab__new(struct strtab **ret)
{
	struct strtab *t = calloc(1, sizeof(*t));
	int64_t idx;

	if (!t)
		return -ENOMEM;
	idx = strtab__intern(t, "");
	if (idx != 0) {
		strtab__free(t);
		return idx < 0 ? (int)idx : -EINVAL;
	}
	*ret = t;
	return 0;
}

void strtab__free(struct strtab *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		free(t->strs[i]);
	free(t->strs);
	free(t->slots);
	free(t);
}

int64_t strtab__intern(struct strtab *t, const char *s)
{
	uint64_t h;
	size_t j;
	char *copy;

	if (!s)
		s = "";
	if ((t->n + 1) * 2 > t->nslots && strtab__grow_slots(t) < 0)
		return -ENOMEM;
	h = hash__bytes(s, strlen(s), 0);
	for (j = h & (t->nslots - 1); t->slots[j]; j = (j + 1) & (t->nslots - 1))
		if (!strcmp(t->strs[t->slots[j] - 1], s))
			return t->slots[j] - 1;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **strs = realloc(t->strs, cap * sizeof(*strs));

		if (!strs)
			return -ENOMEM;
		t->strs = strs;
		t->cap = cap;
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	t->strs[t->n] = copy;
	t->slots[j] = (int64_t)t->n + 1;
	return (int64_t)t->n++;
}

size_t strtab__count(const struct strtab *t)
{
	return t->n;
}

char **strtab__strings(const struct strtab *t)
{
	return t->strs;
}

int u64map__get(const struct u64map *m, uint64_t key, uint64_t *ret)
{
	size_t j;

	if (!m->nslots || !key)
		return -ENOENT;
	for (j = hash__u64(key, 0) & (m->nslots - 1); m->keys[j];
	     j = (j + 1) & (m->nslots - 1)) {
		if (m->keys[j] == key) {
			*ret = m->vals[j];
			return 0;
		}
	}
	return -ENOENT;
}

static int u64map__grow(struct u64map *m)
{
	size_t nslots = m->nslots ? m->nslots * 2 : 64, i;
	uint64_t *keys = calloc(nslots, sizeof(*keys));
	uint64_t *vals = calloc(nslots, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (i = 0; i < m->nslots; i++) {
		size_t j;

		if (!m->keys[i])
			continue;
		for (j = hash__u64(m->keys[i], 0) & (nslots - 1); keys[j];
		     j = (j + 1) & (nslots - 1))
			;
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->nslots = nslots;
	return 0;
}

int u64map__put(struct u64map *m, uint64_t key, uint64_t val)
{
	size_t j;

	if (!key)
		return -EINVAL;
	if ((m->n + 1) * 2 > m->nslots && u64map__grow(m) < 0)
		return -ENOMEM;
	for (j = hash__u64(key, 0) & (m->nslots - 1); m->keys[j];
	     j = (j + 1) & (m->nslots - 1)) {
		if (m->keys[j] == key) {
			m->vals[j] = val;
			return 0;
		}
	}
	m->keys[j] = key;
	m->vals[j] = val;
	m->n++;
	return 0;
}

void u64map__fini(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
