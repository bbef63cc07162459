/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The execs map (struct profd_exec per watched process), shared by every
 * BPF object of profd: bpf/exec.bpf.c counts image changes into it; the
 * CPU sampler stamps each sample with its process's count; the heap
 * tracker records nothing for a process whose count moved past the one
 * its tracking began on. One map: the exec object creates it and the
 * others reuse its fd before they load (execwatch__map_fd()), so each
 * declares it identically, here.
 */
#ifndef PROFD_EXEC_BPF_H
#define PROFD_EXEC_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "profd_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROFD_EXEC_MAX);
	__type(key, __u32);			/* tgid, profd's namespace */
	__type(value, struct profd_exec);
} execs SEC(".maps");

#endif /* PROFD_EXEC_BPF_H */
