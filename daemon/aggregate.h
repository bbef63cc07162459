/* SPDX-License-Identifier: GPL-2.0 */
/*
 * aggregate: count identical stacks. Pure and bounded: at most max_stacks
 * distinct stacks; samples of new stacks beyond that are counted as dropped
 * (and reported in the profile) rather than growing without limit.
 */
#ifndef PROFD_AGGREGATE_H
#define PROFD_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#define AGG_COMM_LEN 16
#define AGG_MAX_FRAMES 576	/* user (DWARF, 512) + kernel (64) frames */

/* Stack flags, kept in the key. */
#define AGG_F_USER_TRUNC	(1u << 0)	/* user stack was cut short */
#define AGG_F_USER_ERR		(1u << 1)	/* user stack unreadable */
/* Bits 16-31: the JIT generation of the sample (jitmap.h), so that code
 * replaced at one address during a window is named as it was then. */
#define AGG_F_JIT_GEN_SHIFT	16

struct agg_stack {
	uint64_t hash;
	uint64_t count;
	uint64_t value;		/* sum of per-sample values */
	uint32_t tid;
	uint32_t flags;		/* AGG_F_* */
	uint16_t n_user, n_kernel;
	char comm[AGG_COMM_LEN];
	uint64_t ips[];		/* n_user user frames then n_kernel kernel */
};

struct aggregate;

struct aggregate *aggregate__new(size_t max_stacks);
void aggregate__free(struct aggregate *a);

/*
 * aggregate__add() - count one sample (or @count samples worth @value).
 * Returns 0, -ENOSPC when the stack is new and the table is full (the
 * samples are counted in dropped), or -ENOMEM.
 */
int aggregate__add(struct aggregate *a, uint32_t tid, const char *comm,
		   uint32_t flags, const uint64_t *user, uint16_t n_user,
		   const uint64_t *kernel, uint16_t n_kernel, uint64_t count,
		   uint64_t value);

size_t aggregate__count(const struct aggregate *a);
/* The i-th distinct stack, i < aggregate__count(); valid until free. */
const struct agg_stack *aggregate__get(const struct aggregate *a, size_t i);

struct aggregate_totals {
	uint64_t samples, dropped_samples, stacks;
};
void aggregate__totals(const struct aggregate *a, struct aggregate_totals *ret);

#endif /* PROFD_AGGREGATE_H */
