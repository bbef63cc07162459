/* SPDX-License-Identifier: GPL-2.0 */
/*
 * access: who is asking, and may they profile that process. Root may
 * profile anything; any other user only processes whose real, effective
 * and saved uids are all theirs (the uid part of ptrace's read check), so a
 * setuid program they started is out of reach.
 */
#ifndef PROFD_ACCESS_H
#define PROFD_ACCESS_H

#include <stdbool.h>
#include <sys/types.h>

struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;		/* 0 when unknown (TCP) */
	bool known;
};

/*
 * access__peer() - credentials of the client on connected socket @fd:
 * SO_PEERCRED for Unix sockets; for loopback TCP, the owner of the
 * client's socket as /proc/net/tcp{,6} lists it. 0 or -errno.
 */
int access__peer(int fd, struct peer *ret);

/*
 * access__check() - may @uid profile @pid? 0, -ESRCH (no such process) or
 * -EACCES with the owner's uid in *ret_owner.
 */
struct proc_ids;
/* *ret_ids (may be NULL) gets the process's identity when it exists. */
int access__check(uid_t uid, pid_t pid, uid_t *ret_owner,
		  struct proc_ids *ret_ids);

#endif /* PROFD_ACCESS_H */
