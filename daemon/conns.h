/* SPDX-License-Identifier: GPL-2.0 */
/*
 * conns: the connections the HTTP API serves, and who gets one. A thread
 * of its own accepts on every listening socket, identifies the caller
 * (access__peer), admits the connection within the caller's share and
 * hands it to libmicrohttpd (MHD_add_connection); the same thread closes
 * every connection whose request has not arrived whole within the request
 * deadline — counted from the accept or the end of the previous request,
 * never reset by a trickle of bytes (libmicrohttpd's own timeout is).
 *
 * Shares: users other than root hold at most max_nonroot connections
 * together and max_per_uid each; the rest, up to max_total, is kept for
 * root. Callers whose uid profd cannot establish (beyond this machine,
 * through a token listener) are shared out by source — an IPv4 address or
 * an IPv6 /64 — max_per_uid each and max_anonymous together, so one
 * scraper host cannot take the others' connections (conns.c says why
 * there is no table of sources to fill). A refused connection gets a
 * 429 (the caller's share) or 503 (everyone's) at once and is closed, so a
 * flood costs profd an accept and a write, not a thread.
 */
#ifndef PROFD_CONNS_H
#define PROFD_CONNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <microhttpd.h>

#define CONNS_MAX_LISTENERS 2

struct conns_limits {
	unsigned max_total;		/* all callers */
	unsigned max_nonroot;		/* all callers but root, together */
	unsigned max_per_uid;		/* one uid other than root, or one
					 * anonymous source */
	unsigned max_anonymous;		/* anonymous callers, together */
	unsigned request_timeout_s;	/* to receive a whole request */
};

/* One admitted connection. Owned by conns; handlers read the first three
 * fields, valid until libmicrohttpd closes the connection. */
struct conn {
	unsigned listener;		/* index of the listening socket */
	bool tcp;			/* the loopback TCP listener */
	uid_t uid;			/* at accept; (uid_t)-1: anonymous */

	int fd;
	struct in6_addr src;		/* anonymous: the source's share key */
	uint64_t accepted_ns;
	uint64_t deadline_ns;		/* while receiving */
	bool receiving;			/* a request is (or may be) arriving */
	bool attached;			/* libmicrohttpd has started it */
	bool shut;			/* closed at the deadline */
	struct conn *next;
};

struct conns;

struct conns_stats {
	unsigned open;			/* admitted, not yet closed */
	uint64_t refused;		/* over a share, answered 429/503 */
	uint64_t expired;		/* closed at the request deadline */
};

int conns__new(const struct conns_limits *lim, struct conns **ret);

/*
 * conns__start() - accept on @fds[i] (made non-blocking), handing
 * connections to @daemons[i], which must run with MHD_USE_ITC and
 * conns__notify/conns__completed installed. 0 or -errno.
 */
int conns__start(struct conns *cs, const int *fds,
		 struct MHD_Daemon *const *daemons, unsigned n);

/* Stop accepting and join the thread. Before MHD_stop_daemon(). NULL ok. */
void conns__stop(struct conns *cs);

/* After the daemons are stopped (every connection closed). NULL ok. */
void conns__free(struct conns *cs);

void conns__stats(struct conns *cs, struct conns_stats *ret);

/* MHD_OPTION_NOTIFY_CONNECTION (cls: the conns). */
void conns__notify(void *cls, struct MHD_Connection *c, void **socket_context,
		   enum MHD_ConnectionNotificationCode toe);

/* MHD_OPTION_NOTIFY_COMPLETED (cls: the conns): the next request's
 * deadline starts now. */
void conns__completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe);

/*
 * conns__received() - the request on @c arrived whole: its deadline no
 * longer applies (a CPU window may take minutes). Returns the connection,
 * or NULL for one conns did not admit (then do not serve it).
 */
const struct conn *conns__received(struct conns *cs, struct MHD_Connection *c);

#endif /* PROFD_CONNS_H */
