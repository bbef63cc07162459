/* SPDX-License-Identifier: GPL-2.0 */
/* bpfmap: the one reader of per-CPU counter arrays (the BPF error maps). */
#ifndef PROFD_BPFMAP_H
#define PROFD_BPFMAP_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/*
 * bpfmap__sum_percpu() - @out[k] = the sum over CPUs of key k of the
 * per-CPU array @fd, for k < @nkeys (0 for keys that cannot be read).
 * 0, or -ENOMEM / -ENODEV (@out zeroed).
 */
static inline int bpfmap__sum_percpu(int fd, uint32_t nkeys, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	uint64_t *vals;
	uint32_t k;

	memset(out, 0, nkeys * sizeof(*out));
	if (ncpu <= 0)
		return -ENODEV;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (k = 0; k < nkeys; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals) < 0)
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

#endif /* PROFD_BPFMAP_H */
