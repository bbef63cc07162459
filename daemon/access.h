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

/*
 * access__check_image() - may @uid see the program image whose identity
 * @ids gives? Root may; any other user only when the real, effective and
 * saved uids are all theirs, the gids all one (no set-group-ID image),
 * and the process is dumpable — what the kernel's ptrace read check asks
 * (a setuid, setgid or unreadable program, or one that changed its
 * credentials, is not). Checked for every window, tracking period and
 * agent when it starts and again for every image an exec brings.
 * 0, -EACCES (another user's: its uid in *@ret_owner) or -EPERM (the
 * caller's uids but privileged or not dumpable).
 */
int access__check_image(uid_t uid, const struct proc_ids *ids,
			uid_t *ret_owner);

#endif /* PROFD_ACCESS_H */
