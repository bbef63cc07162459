/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pidns: the PID namespace profd runs in. Pids in requests, in profd's
 * /proc and in its profiles are that namespace's; when it is not the
 * initial one, the BPF programs translate the kernel's ids into it
 * (bpf/pidns.bpf.h), given its inode before load and its level from
 * pidns__probe() after.
 */
#ifndef PROFD_PIDNS_H
#define PROFD_PIDNS_H

#include <stdint.h>
#include <sys/types.h>

/* PROC_PID_INIT_INO: the inode of the initial PID namespace, fixed. */
#define PIDNS_INIT_INO 0xEFFFFFFCu

/*
 * pidns__proc_self() - the pid /proc/self names, which is getpid() only
 * when /proc is mounted for profd's own PID namespace. 0, or -errno
 * (-ENOENT: /proc belongs to a namespace profd is not visible in, or
 * there is no /proc).
 */
int pidns__proc_self(pid_t *ret);

/*
 * pidns__inum() - the inode of profd's PID namespace, 0 for the initial
 * one (what the BPF programs' pidns_inum wants). 0 or -errno.
 */
int pidns__inum(uint32_t *ret);

/*
 * pidns__probe() - run a BPF object's profd_pidns_probe program (by fd)
 * in profd's context, which stores profd's namespace level in the
 * object's pidns_level. 0, -EXDEV when profd's namespace is not the
 * object's pidns_inum, or -errno from BPF_PROG_RUN (-EINVAL and the like
 * on kernels without syscall programs, before 5.14).
 */
int pidns__probe(int prog_fd);

#endif /* PROFD_PIDNS_H */
