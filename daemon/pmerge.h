/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pmerge: merge decoded pprof profiles into one, as `go tool pprof a b`
 * does (google/pprof profile.Merge): the profiles must have the same
 * sample types (type and unit, in order); mappings, functions and
 * locations that are equal become one; samples with the same stack (the
 * merged locations, leaf first) and the same labels add up their values.
 * time_nanos is the earliest start, duration_nanos reaches the latest end,
 * period and period type are the first profile's. Pure: no I/O.
 *
 * Bounded by what it is fed: the caller bounds the input (spool__query()).
 */
#ifndef PROFD_PMERGE_H
#define PROFD_PMERGE_H

#include <stddef.h>
#include <stdint.h>

#include "profile.pb-c.h"

struct pmerge;

int pmerge__new(struct pmerge **ret);
void pmerge__free(struct pmerge *m);	/* NULL ok */

/**
 * pmerge__add() - merge @p in.
 * @pid: 0 for every sample, else only samples whose numeric label "pid"
 *       is @pid.
 * Return: 0, -EINVAL (sample types differ from the first profile's, or an
 * id does not resolve), -ENOMEM.
 */
int pmerge__add(struct pmerge *m, const Perftools__Profiles__Profile *p,
		int64_t pid);

/*
 * pmerge__drop_labels() - from now on leave sample labels whose key is in
 * @keys (NULL-terminated, borrowed for the merge's life) out; samples that
 * differed only in them add up. E.g. { "pid", "tid", NULL } for a push.
 */
void pmerge__drop_labels(struct pmerge *m, const char *const *keys);

/* Number of profiles merged so far. */
unsigned pmerge__count(const struct pmerge *m);

/* The merged profile, gzip'd, malloc'd; once (then -EALREADY). 0 or
 * -errno (-ENOENT: nothing added). */
int pmerge__write(struct pmerge *m, void **ret_buf, size_t *ret_len);

#endif /* PROFD_PMERGE_H */
