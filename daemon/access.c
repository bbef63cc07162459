// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "access.h"
#include "proc.h"

/*
 * Find the socket whose local end is the client's address and whose remote
 * end is ours in /proc/net/tcp (or tcp6): its uid column is the client's
 * owner. Only loopback connections reach here (the listener binds there).
 */
static int tcp_peer_uid(const struct sockaddr_storage *local,
			const struct sockaddr_storage *remote, uid_t *ret)
{
	const char *file = local->ss_family == AF_INET6 ? "/proc/net/tcp6" :
							   "/proc/net/tcp";
	char want_local[80], want_rem[80], line[512];
	FILE *f;
	int r = -ENOENT;

	if (local->ss_family == AF_INET) {
		const struct sockaddr_in *l = (const void *)local;
		const struct sockaddr_in *p = (const void *)remote;

		/* /proc/net/tcp prints the address as a host-order u32. */
		snprintf(want_local, sizeof(want_local), "%08X:%04X",
			 p->sin_addr.s_addr, ntohs(p->sin_port));
		snprintf(want_rem, sizeof(want_rem), "%08X:%04X",
			 l->sin_addr.s_addr, ntohs(l->sin_port));
	} else if (local->ss_family == AF_INET6) {
		const struct sockaddr_in6 *l = (const void *)local;
		const struct sockaddr_in6 *p = (const void *)remote;
		const uint32_t *pa = (const void *)&p->sin6_addr;
		const uint32_t *la = (const void *)&l->sin6_addr;

		snprintf(want_local, sizeof(want_local), "%08X%08X%08X%08X:%04X",
			 pa[0], pa[1], pa[2], pa[3], ntohs(p->sin6_port));
		snprintf(want_rem, sizeof(want_rem), "%08X%08X%08X%08X:%04X",
			 la[0], la[1], la[2], la[3], ntohs(l->sin6_port));
	} else {
		return -EAFNOSUPPORT;
	}
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char loc[80], rem[80];
		unsigned st, uid;

		/* sl local rem st tx:rx tr:when retrnsmt uid */
		if (sscanf(line, " %*u: %79s %79s %x %*s %*s %*s %u", loc, rem,
			   &st, &uid) != 4)
			continue;
		if (!strcmp(loc, want_local) && !strcmp(rem, want_rem)) {
			*ret = (uid_t)uid;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

int access__peer(int fd, struct peer *ret)
{
	struct sockaddr_storage local, remote;
	socklen_t ll = sizeof(local), rl = sizeof(remote);
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct peer p = {};
	int r;

	if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0)
		return -errno;
	if (local.ss_family == AF_UNIX) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
			return -errno;
		p.uid = cred.uid;
		p.gid = cred.gid;
		p.pid = cred.pid;
		p.known = true;
		*ret = p;
		return 0;
	}
	if (getpeername(fd, (struct sockaddr *)&remote, &rl) < 0)
		return -errno;
	r = tcp_peer_uid(&local, &remote, &p.uid);
	if (r < 0)
		return r;
	p.gid = (gid_t)-1;
	p.known = true;
	*ret = p;
	return 0;
}

int access__check(uid_t uid, pid_t pid, uid_t *ret_owner,
		  struct proc_ids *ret_ids)
{
	struct proc_ids ids;
	int r;

	r = proc__read_ids(pid, &ids);
	if (r < 0)
		return r;
	if (ret_ids)
		*ret_ids = ids;
	if (uid == 0)
		return 0;
	if (ids.ruid == uid && ids.euid == uid && ids.suid == uid)
		return 0;
	if (ret_owner)
		*ret_owner = ids.ruid != uid ? ids.ruid : ids.euid;
	return -EACCES;
}

int access__check_image(uid_t uid, const struct proc_ids *ids,
			uid_t *ret_owner)
{
	if (uid == 0)
		return 0;
	if (ids->ruid != uid || ids->euid != uid || ids->suid != uid) {
		if (ret_owner)
			*ret_owner = ids->ruid != uid ? ids->ruid : ids->euid;
		return -EACCES;
	}
	/* Its own uids, but set-group-ID, or made non-dumpable by the
	 * kernel (or by itself): what ptrace's read check refuses too. */
	if (ids->rgid != ids->egid || ids->egid != ids->sgid ||
	    !ids->dumpable) {
		if (ret_owner)
			*ret_owner = 0;
		return -EPERM;
	}
	return 0;
}
