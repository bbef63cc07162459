/* SPDX-License-Identifier: GPL-2.0 */
/*
 * execwatch: which program image a process runs. An exec replaces a
 * process's code, mappings and credentials under the same pid; profd
 * binds what it does for a caller to the image the caller was checked
 * against. Owns the exec BPF object (bpf/exec.bpf.c) and its execs map,
 * which the sampler and the heap tracker reuse; counts changes only for
 * the processes watched here (refcounted: every window, tracking generation
 * and agent watches its process while it lives).
 */
#ifndef PROFD_EXECWATCH_H
#define PROFD_EXECWATCH_H

#include <stdint.h>
#include <sys/types.h>

struct execwatch;

/* Load and attach, for profd's PID namespace @pidns_inum (pidns.h). */
int execwatch__new(uint32_t pidns_inum, struct execwatch **ret);
void execwatch__free(struct execwatch *w);

/* The execs map, for bpf_map__reuse_fd() before another object loads. */
int execwatch__map_fd(const struct execwatch *w);

/*
 * execwatch__add() - watch @pid (one more reference). Before a process
 * is checked: an exec during the check is then seen. 0, -ENOSPC (watching
 * PROFD_EXEC_MAX processes already) or -errno.
 */
int execwatch__add(struct execwatch *w, pid_t pid);
/* Drop a reference taken by execwatch__add(). */
void execwatch__remove(struct execwatch *w, pid_t pid);

/*
 * execwatch__image() - the image count of watched @pid: it changes with
 * every exec and when the process ends; and how many of those were execs
 * into *@ret_execs (may be NULL). 0, -EAGAIN while an exec is under way
 * (what is read of the process now belongs to no settled image), or
 * -ENOENT (not watched).
 */
int execwatch__image(struct execwatch *w, pid_t pid, uint64_t *ret,
		     uint64_t *ret_execs);

#endif /* PROFD_EXECWATCH_H */
