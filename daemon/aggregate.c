// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "strtab.h"

struct aggregate {
	struct agg_stack **stacks;	/* dense, insertion order */
	size_t n, cap, max;
	uint32_t *slots;		/* index+1, 0 = empty */
	size_t nslots;
	uint64_t samples, dropped;
};

int aggregate__new(size_t max_stacks, struct aggregate **ret)
{
	struct aggregate *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->max = max_stacks ? max_stacks : 1;
	*ret = a;
	return 0;
}

void aggregate__free(struct aggregate *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->n; i++)
		free(a->stacks[i]);
	free(a->stacks);
	free(a->slots);
	free(a);
}

static int grow_slots(struct aggregate *a)
{
	size_t nslots = a->nslots ? a->nslots * 2 : 256, i;
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < a->n; i++) {
		size_t j = a->stacks[i]->hash & (nslots - 1);

		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(a->slots);
	a->slots = slots;
	a->nslots = nslots;
	return 0;
}

static uint64_t key_hash(uint32_t tid, const char *comm, uint32_t flags,
			 const uint64_t *user, uint16_t n_user,
			 const uint64_t *kernel, uint16_t n_kernel)
{
	uint64_t h = hash__u64(((uint64_t)tid << 32) | flags, 0);
	uint16_t i;

	h = hash__bytes(comm, strnlen(comm, AGG_COMM_LEN), h);
	h = hash__u64(((uint64_t)n_user << 16) | n_kernel, h);
	for (i = 0; i < n_user; i++)
		h = hash__u64(user[i], h);
	for (i = 0; i < n_kernel; i++)
		h = hash__u64(kernel[i], h);
	return h;
}

static int key_eq(const struct agg_stack *s, uint64_t h, uint32_t tid,
		  const char *comm, uint32_t flags, const uint64_t *user,
		  uint16_t n_user, const uint64_t *kernel, uint16_t n_kernel)
{
	return s->hash == h && s->tid == tid && s->flags == flags &&
	       s->n_user == n_user && s->n_kernel == n_kernel &&
	       !strncmp(s->comm, comm, AGG_COMM_LEN) &&
	       /* @user or @kernel is NULL when empty: memcmp(NULL) is
		* undefined even for 0 bytes. */
	       (!n_user || !memcmp(s->ips, user, n_user * sizeof(*user))) &&
	       (!n_kernel ||
		!memcmp(s->ips + n_user, kernel, n_kernel * sizeof(*kernel)));
}

int aggregate__add(struct aggregate *a, uint32_t tid, const char *comm,
		   uint32_t flags, const uint64_t *user, uint16_t n_user,
		   const uint64_t *kernel, uint16_t n_kernel, uint64_t count,
		   uint64_t value)
{
	struct agg_stack *s;
	uint64_t h;
	size_t j;

	if (!comm)
		comm = "";
	if (n_user + n_kernel > AGG_MAX_FRAMES)
		return -EINVAL;
	h = key_hash(tid, comm, flags, user, n_user, kernel, n_kernel);
	if (a->nslots) {
		for (j = h & (a->nslots - 1); a->slots[j];
		     j = (j + 1) & (a->nslots - 1)) {
			s = a->stacks[a->slots[j] - 1];
			if (key_eq(s, h, tid, comm, flags, user, n_user, kernel,
				   n_kernel)) {
				s->count += count;
				s->value += value;
				a->samples += count;
				return 0;
			}
		}
	}
	if (a->n >= a->max) {
		a->dropped += count;
		return -ENOSPC;
	}
	if ((a->n + 1) * 2 > a->nslots && grow_slots(a) < 0)
		return -ENOMEM;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct agg_stack **ns = realloc(a->stacks, cap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		a->stacks = ns;
		a->cap = cap;
	}
	s = malloc(sizeof(*s) + (n_user + n_kernel) * sizeof(uint64_t));
	if (!s)
		return -ENOMEM;
	s->hash = h;
	s->count = count;
	s->value = value;
	s->tid = tid;
	s->flags = flags;
	s->n_user = n_user;
	s->n_kernel = n_kernel;
	strncpy(s->comm, comm, AGG_COMM_LEN);
	s->comm[AGG_COMM_LEN - 1] = 0;
	if (n_user)
		memcpy(s->ips, user, n_user * sizeof(*user));
	if (n_kernel)
		memcpy(s->ips + n_user, kernel, n_kernel * sizeof(*kernel));
	for (j = h & (a->nslots - 1); a->slots[j]; j = (j + 1) & (a->nslots - 1))
		;
	a->stacks[a->n] = s;
	a->slots[j] = (uint32_t)++a->n;
	a->samples += count;
	return 0;
}

size_t aggregate__count(const struct aggregate *a)
{
	return a->n;
}

const struct agg_stack *aggregate__get(const struct aggregate *a, size_t i)
{
	return i < a->n ? a->stacks[i] : NULL;
}

void aggregate__totals(const struct aggregate *a, struct aggregate_totals *ret)
{
	ret->samples = a->samples;
	ret->dropped_samples = a->dropped;
	ret->stacks = a->n;
}
