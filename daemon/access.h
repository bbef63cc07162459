/* SPDX-License-Identifier: GPL-2.0 */
/*
 * access: who is asking, and may they profile that process. Root may
 * profile anything; any other user only processes whose real, effective
 * and saved uids are all theirs (the uid part of ptrace's read check), so a
 * setuid program they started is out of reach. A caller whose uid is not
 * known for certain is anonymous: the least-privileged caller, who may
 * profile nothing.
 */
#ifndef PROFD_ACCESS_H
#define PROFD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct peer {
	uid_t uid;		/* (uid_t)-1 unless known */
	gid_t gid;		/* (gid_t)-1 unless known (TCP: never) */
	pid_t pid;		/* 0 when unknown (TCP) */
	bool known;		/* false: anonymous */
	bool tcp;		/* came over the TCP listener */
	bool token;		/* proved itself with the listener's bearer
				 * token (listen_auth.h): uid 0, known, and
				 * only what access__scope() lets it do */
	int unknown_err;	/* !known: -ENOTCONN (no live, established
				 * client socket) or the lookup's -errno */
};

/*
 * access__peer() - the client on connected socket @fd. Unix sockets:
 * SO_PEERCRED, always known. Loopback TCP: the owner of the client's
 * socket, found by its exact address pair through sock_diag — known only
 * while that socket is ESTABLISHED and still attached to a file. An
 * orphan (closed by its process, in FIN_WAIT or TIME_WAIT) has no owner
 * any more (the kernel shows uid 0 for some of them), so such a caller is
 * anonymous. Call it when the request is acted on, not only at accept:
 * ownership can only be lost, never gained. 0 (anonymous callers too) or
 * -errno when @fd itself cannot be read.
 */
int access__peer(int fd, struct peer *ret);

/*
 * access__scope() - may @p ask @method @url at all? Every request passes
 * here before its handler's own checks (access__check() and the rest).
 * Callers the kernel vouches for (Unix socket, loopback TCP) may ask
 * anything; their uid decides the rest. A caller that proved itself with a
 * remote listener's bearer token has root's view (the token is root's
 * secret, in a file only root may read) but may only observe — what Parca
 * and Alloy scrapes need: GET of CPU profiles (one pid or the whole
 * machine), the wait and thread profiles, the spooled history, /metrics,
 * /v1/status and the index. Nothing that changes a process or another
 * caller's request: heap profiles (uprobes written into the target, or an
 * agent loaded into it), heap start/stop, ending windows. Pure.
 * 0, or -EPERM with a sentence for the client in @why.
 */
int access__scope(const struct peer *p, const char *method, const char *url,
		  char *why, size_t whylen);

/*
 * access__tcp_lookup_works() - can TCP callers be identified here at all?
 * 0, or -errno when sock_diag is unavailable (a sandbox that forbids
 * AF_NETLINK sockets): then every TCP caller is anonymous.
 */
int access__tcp_lookup_works(void);

/*
 * access__check() - may @uid profile @pid? 0, -ESRCH (no such process) or
 * -EACCES with the owner's uid in *ret_owner. @pid 0 is every process on
 * the machine: root alone (*ret_ids untouched).
 */
struct proc_ids;
/* *ret_ids (may be NULL) gets the process's identity when it exists. */
int access__check(uid_t uid, pid_t pid, uid_t *ret_owner,
		  struct proc_ids *ret_ids);

/*
 * access__zombie() - 1 when every thread of @pid has exited and only the
 * parent's wait() is missing (nothing runs: a CPU window would be empty),
 * 0 when a thread lives (also a process whose main thread alone exited),
 * -errno when /proc/PID/task cannot be read.
 */
int access__zombie(pid_t pid);

/*
 * access__self_may_read() - may profd itself read what every profile of
 * @pid needs: its memory map (/proc/PID/maps) and its files
 * (/proc/PID/root)? The kernel's ptrace read check on profd decides. 0, or
 * the first failure's -errno with the file's name ("maps", "root") in
 * *@ret_what. *@ret_has_ptrace: profd holds CAP_SYS_PTRACE, which another
 * user's or a non-dumpable process needs; without it that is the cause.
 */
int access__self_may_read(pid_t pid, bool *ret_has_ptrace,
			  const char **ret_what);

/*
 * access__check_image() - may @uid see the program image whose identity
 * @ids gives? Root may; any other user only when the real, effective and
 * saved uids are all theirs, the gids all one (no set-group-ID image),
 * and the process is dumpable — what the kernel's ptrace read check asks
 * (a setuid, setgid or unreadable program, or one that changed its
 * credentials, is not). Checked for every window, tracking generation and
 * agent when it starts and again for every image an exec brings.
 * 0, -EACCES (another user's: its uid in *@ret_owner) or -EPERM (the
 * caller's uids but privileged or not dumpable).
 */
int access__check_image(uid_t uid, const struct proc_ids *ids,
			uid_t *ret_owner);

/*
 * What a caller may do beyond one process's profile: each endpoint asks
 * here, and words its own 403. Each returns 0 (allowed) or -errno.
 */

/*
 * access__identified() - may @p ask for anything but /v1/status's
 * counters and the index? Only a caller whose uid is known: an anonymous
 * one is the least privileged of all. 0 or -EACCES (the lookup's reason
 * in p->unknown_err).
 */
int access__identified(const struct peer *p);

/*
 * access__may_profile_machine() - may @p take a profile of every process
 * on the machine (no pid)? It names every function of every user's:
 * root's alone. 0 or -EACCES.
 */
int access__may_profile_machine(const struct peer *p);

/*
 * access__may_read_history() - may @p read the spooled history
 * (/v1/history)? It holds every process's profiles: root's alone.
 * 0 or -EACCES.
 */
int access__may_read_history(const struct peer *p);

/*
 * access__may_list_processes() - may @p see which processes profd tracks
 * (the heap tracker's and the poisoned list in /v1/status)? Root alone;
 * other callers see their own CPU windows only (access__may_see_session()).
 * 0 or -EACCES.
 */
int access__may_list_processes(const struct peer *p);

/*
 * access__may_see_session() - may @p see a CPU window uid @owner asked for
 * (its pid, uid, rate and progress in /v1/status's "sessions")? Root (and
 * a token holder, who has root's view) every window; another known caller
 * the windows of its own uid; an anonymous caller none. Pure.
 * 0 or -EACCES.
 */
int access__may_see_session(const struct peer *p, uid_t owner);

/*
 * access__may_inject() - may @p have profd load its agent into @pid
 * (heap mode=inproc), which writes into the process as a debugger would?
 * Only on the Unix socket, where the kernel vouches for the caller
 * (SO_PEERCRED): over TCP a root process that fetches URLs for others (a
 * proxy, a webhook) would make any request root's. Root may inject into
 * anything; another user only into processes they may debug, not those
 * made non-dumpable (PR_SET_DUMPABLE 0, setuid programs), whose /proc/PID
 * files the kernel gives to root. Costs a stat() of /proc/PID/mem.
 * 0, -EOPNOTSUPP (over TCP), -EACCES (anonymous) or -EPERM (not
 * dumpable, or not the caller's).
 */
int access__may_inject(const struct peer *p, pid_t pid);

#endif /* PROFD_ACCESS_H */
