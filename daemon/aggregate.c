// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "stacks.h"

struct aggregate {
	struct agg_stack **stacks;	/* by id (stacks.h): insertion order */
	size_t cap;
	struct stacks ix;		/* the interning index, bounded */
	uint64_t samples, dropped;
};

int aggregate__new(size_t max_stacks, struct aggregate **ret)
{
	struct aggregate *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	stacks__init(&a->ix, max_stacks);
	*ret = a;
	return 0;
}

void aggregate__free(struct aggregate *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < stacks__count(&a->ix); i++)
		free(a->stacks[i]);
	free(a->stacks);
	stacks__fini(&a->ix);
	free(a);
}

static uint64_t key_hash(uint32_t tid, const char *comm, uint32_t flags,
			 const uint64_t *user, uint16_t n_user,
			 const uint64_t *kernel, uint16_t n_kernel)
{
	uint64_t h = hash__u64(((uint64_t)tid << 32) | flags, 0);

	h = hash__bytes(comm, strnlen(comm, AGG_COMM_LEN), h);
	h = hash__u64(((uint64_t)n_user << 16) | n_kernel, h);
	h = stacks__hash_frames(user, n_user, h);
	return stacks__hash_frames(kernel, n_kernel, h);
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
	struct stacks_probe p;
	struct agg_stack *s;
	int64_t id;
	uint64_t h;

	if (!comm)
		comm = "";
	if (n_user + n_kernel > AGG_MAX_FRAMES)
		return -EINVAL;
	h = key_hash(tid, comm, flags, user, n_user, kernel, n_kernel);
	for (id = stacks__first(&a->ix, h, &p); id >= 0;
	     id = stacks__next(&a->ix, &p)) {
		s = a->stacks[id];
		if (key_eq(s, h, tid, comm, flags, user, n_user, kernel,
			   n_kernel)) {
			s->count += count;
			s->value += value;
			a->samples += count;
			return 0;
		}
	}
	if (stacks__full(&a->ix)) {
		a->dropped += count;
		return -ENOSPC;
	}
	if (stacks__count(&a->ix) == a->cap) {
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
	id = stacks__add(&a->ix, &p);
	if (id < 0) {
		free(s);
		return (int)id;
	}
	a->stacks[id] = s;
	a->samples += count;
	return 0;
}

size_t aggregate__count(const struct aggregate *a)
{
	return stacks__count(&a->ix);
}

const struct agg_stack *aggregate__get(const struct aggregate *a, size_t i)
{
	return i < stacks__count(&a->ix) ? a->stacks[i] : NULL;
}

void aggregate__totals(const struct aggregate *a, struct aggregate_totals *ret)
{
	ret->samples = a->samples;
	ret->dropped_samples = a->dropped;
	ret->stacks = stacks__count(&a->ix);
}
