// SPDX-License-Identifier: GPL-2.0
/*
 * access: every decision of who may do what, for every endpoint (api_*.c
 * call these and word the refusals): who the caller is (access__peer), what
 * a token holder may ask at all (access__scope), may they profile a process
 * and its image (access__check, access__check_image), and what beyond one
 * process they may ask for (access__identified,
 * access__may_profile_machine, access__may_read_history,
 * access__may_list_processes, access__may_inject).
 *
 * Not here, because they are quotas, not access decisions (they say how
 * much, never whether, and root is exempt from each so that users cannot
 * lock it out): the heap tracker's per-uid share of tracked processes
 * (heap.c share_check), the users' share of CPU windows
 * (api_profile.c nonroot_session_get), and conns.c's per-uid and users'
 * share of connections.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "access.h"
#include "proc.h"

/*
 * The owner of the client's end of a loopback TCP connection, looked up by
 * its exact address pair (sock_diag, one hash lookup in the kernel: no scan
 * of /proc/net/tcp, whose cost a local user could inflate, and no first
 * match among stale entries). @local and @remote are our accepted socket's
 * ends, so the client's socket has them the other way round.
 *
 * Certain only for a socket still attached to a file: the kernel fills the
 * uid before the inode, and a socket is orphaned once and for good, so a
 * nonzero inode proves the uid was read while the owner still held it.
 * Orphans (FIN_WAIT after close(), TIME_WAIT) have inode 0, and the kernel
 * shows uid 0 for the minisockets that stand in for them. Returns 0, or
 * -ENOTCONN when there is no such live, established socket.
 */
static int tcp_owner(const struct sockaddr_storage *local,
		     const struct sockaddr_storage *remote, uid_t *ret)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q = {
		.nlh = { .nlmsg_len = sizeof(q),
			 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		.req = { .sdiag_family = (__u8)local->ss_family,
			 .sdiag_protocol = IPPROTO_TCP,
			 .idiag_states = ~0u,
			 .id.idiag_cookie = { INET_DIAG_NOCOOKIE,
					      INET_DIAG_NOCOOKIE } },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr nlh;
		char buf[4096];
	} a;
	const struct inet_diag_msg *m;
	ssize_t n;
	int fd, r;

	if (local->ss_family == AF_INET) {
		const struct sockaddr_in *l = (const void *)local;
		const struct sockaddr_in *p = (const void *)remote;

		q.req.id.idiag_sport = p->sin_port;
		q.req.id.idiag_dport = l->sin_port;
		q.req.id.idiag_src[0] = p->sin_addr.s_addr;
		q.req.id.idiag_dst[0] = l->sin_addr.s_addr;
	} else if (local->ss_family == AF_INET6) {
		const struct sockaddr_in6 *l = (const void *)local;
		const struct sockaddr_in6 *p = (const void *)remote;

		q.req.id.idiag_sport = p->sin6_port;
		q.req.id.idiag_dport = l->sin6_port;
		memcpy(q.req.id.idiag_src, &p->sin6_addr, 16);
		memcpy(q.req.id.idiag_dst, &l->sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &q, sizeof(q), 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0) {
		r = -errno;
		goto out;
	}
	/* The kernel answers within sendto(): never wait. */
	n = recv(fd, &a, sizeof(a), MSG_DONTWAIT);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	r = -EIO;
	if (!NLMSG_OK(&a.nlh, (size_t)n))
		goto out;
	if (a.nlh.nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(&a.nlh);

		if (a.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error)
			r = e->error == -ENOENT ? -ENOTCONN : e->error;
		goto out;
	}
	if (a.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    a.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		goto out;
	m = NLMSG_DATA(&a.nlh);
	/* The pair asked for, not a listener the lookup fell back to. */
	r = -ENOTCONN;
	if (m->id.idiag_sport != q.req.id.idiag_sport ||
	    m->id.idiag_dport != q.req.id.idiag_dport ||
	    memcmp(m->id.idiag_src, q.req.id.idiag_src, 16) ||
	    memcmp(m->id.idiag_dst, q.req.id.idiag_dst, 16))
		goto out;
	if (m->idiag_state != TCP_ESTABLISHED || !m->idiag_inode)
		goto out;
	*ret = (uid_t)m->idiag_uid;
	r = 0;
out:
	close(fd);
	return r;
}

int access__tcp_lookup_works(void)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
			NETLINK_SOCK_DIAG);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int access__peer(int fd, struct peer *ret)
{
	struct sockaddr_storage local, remote;
	socklen_t ll = sizeof(local), rl = sizeof(remote);
	struct peer p = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
	struct ucred cred;
	socklen_t cl = sizeof(cred);
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
	p.tcp = true;
	if (getpeername(fd, (struct sockaddr *)&remote, &rl) < 0) {
		/* Reset by the client: nobody to identify. */
		p.unknown_err = -errno;
		*ret = p;
		return 0;
	}
	r = tcp_owner(&local, &remote, &p.uid);
	if (r < 0) {
		p.uid = (uid_t)-1;
		p.unknown_err = r;
	} else {
		p.known = true;
	}
	*ret = p;
	return 0;
}

int access__scope(const struct peer *p, const char *method, const char *url,
		  char *why, size_t whylen)
{
	/* What a token holder may GET (or HEAD): observing only. */
	static const char *const observe[] = {
		"/debug/pprof/profile", "/debug/pprof/block",
		"/debug/pprof/mutex", "/debug/pprof/goroutine",
		"/debug/pprof/threadcreate", "/v1/history", "/metrics",
		"/v1/status", "/debug/pprof/", "/debug/pprof", "/",
	};
	size_t i;

	if (!p->token)
		return 0;
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
		for (i = 0; i < sizeof(observe) / sizeof(*observe); i++)
			if (!strcmp(url, observe[i]))
				return 0;
	snprintf(why, whylen, "refused: a caller with the listener's token may only read (GET) CPU, wait and thread profiles, /v1/history, /metrics and /v1/status; heap profiles and POST requests are for profd's Unix socket");
	return -EPERM;
}

int access__check(uid_t uid, pid_t pid, uid_t *ret_owner,
		  struct proc_ids *ret_ids)
{
	struct proc_ids ids;
	int r;

	/* Every process: it names every function of every user's. */
	if (pid == 0) {
		if (uid == 0)
			return 0;
		if (ret_owner)
			*ret_owner = 0;
		return -EACCES;
	}
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

/* A thread's state letter from /proc/PID/task/TID/stat, or 0. */
static char thread_state(pid_t pid, const char *tid)
{
	char path[64], buf[512], *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* The name may hold ") ": the state follows the last one. */
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

int access__zombie(pid_t pid)
{
	char path[40];
	struct dirent *de;
	bool live = false;
	DIR *d;
	char st;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while (!live && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		st = thread_state(pid, de->d_name);
		/* A thread that vanished while we looked is not a live one. */
		live = st && st != 'Z' && st != 'X';
	}
	closedir(d);
	return live ? 0 : 1;
}

/* CAP_SYS_PTRACE in our effective set, from /proc/self/status. */
static bool have_cap_ptrace(void)
{
	unsigned long long eff = 0;
	char line[256];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &eff) == 1;
	fclose(f);
	return found && (eff >> CAP_SYS_PTRACE) & 1;
}

int access__self_may_read(pid_t pid, bool *ret_has_ptrace,
			  const char **ret_what)
{
	char path[40], c;
	int fd, r = 0;

	*ret_has_ptrace = have_cap_ptrace();
	*ret_what = "maps";
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Some kernels check at read(), not open(). */
	if (read(fd, &c, 1) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return r;
	*ret_what = "root";
	snprintf(path, sizeof(path), "/proc/%d/root/", pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
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

/* A caller known to be root (TCP callers are never assumed to be). */
static bool is_root(const struct peer *p)
{
	return p->known && p->uid == 0;
}

int access__identified(const struct peer *p)
{
	return p->known ? 0 : -EACCES;
}

int access__may_profile_machine(const struct peer *p)
{
	return is_root(p) ? 0 : -EACCES;
}

int access__may_read_history(const struct peer *p)
{
	return is_root(p) ? 0 : -EACCES;
}

int access__may_list_processes(const struct peer *p)
{
	return is_root(p) ? 0 : -EACCES;
}

int access__may_see_session(const struct peer *p, uid_t owner)
{
	if (!p->known)
		return -EACCES;
	return p->uid == 0 || p->uid == owner ? 0 : -EACCES;
}

int access__may_inject(const struct peer *p, pid_t pid)
{
	char path[40];
	struct stat st;

	if (p->tcp)
		return -EOPNOTSUPP;
	if (!p->known)
		return -EACCES;
	if (p->uid == 0)
		return 0;
	/* The kernel gives /proc/PID/mem to root when the process is not
	 * dumpable: its owner is whom ptrace would let in. */
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	if (stat(path, &st) == 0 && st.st_uid == p->uid)
		return 0;
	return -EPERM;
}
