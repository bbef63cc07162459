// SPDX-License-Identifier: GPL-2.0
/*
 * Lock order: conns->lock is innermost. libmicrohttpd calls conns__notify
 * (CLOSED) before it closes a connection's socket, and that call waits for
 * conns->lock, so while the lock is held every attached connection's fd is
 * the connection's own: the deadline sweep may shutdown() it. A connection
 * libmicrohttpd dropped without a STARTED call (out of memory) is never
 * touched: it is forgotten when its fd number comes back from accept() or
 * after DETACHED_NS.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "clock.h"
#include "conns.h"
#include "log.h"
#include "slice.h"

#define ANONYMOUS ((uid_t)-1)
#define DETACHED_NS (5ULL * 1000000000ULL)
/* Accepts per listener per wake-up, so one flooded socket cannot starve
 * the other or the sweep. */
#define ACCEPT_BATCH 32

struct conns {
	struct conns_limits lim;
	pthread_mutex_t lock;
	struct conn *list;		/* admitted, newest first */
	unsigned n;
	int fds[CONNS_MAX_LISTENERS];
	struct MHD_Daemon *daemons[CONNS_MAX_LISTENERS];
	unsigned nfds;
	int wake_fd;			/* eventfd: stop */
	pthread_t thread;
	bool started;
	uint64_t refused, expired;
	uint64_t warned_ns;		/* last accept failure logged */
};

int conns__new(const struct conns_limits *lim, struct conns **ret)
{
	struct conns *cs;

	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	cs->lim = *lim;
	cs->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cs->wake_fd < 0) {
		free(cs);
		return -errno;
	}
	pthread_mutex_init(&cs->lock, NULL);
	*ret = cs;
	return 0;
}

static void unlink_conn(struct conns *cs, struct conn *e)
{
	struct conn **pp;

	for (pp = &cs->list; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			cs->n--;
			free(e);
			return;
		}
	}
}

/*
 * Answer and close a connection that is not admitted. What the client sent
 * is read first (bounded): closing with unread data sends a reset, which
 * may reach the client before our answer does.
 */
static void refuse(int fd, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse(int fd, unsigned status, const char *fmt, ...)
{
	char body[256], msg[512], scratch[4096];
	va_list ap;
	int n, m, i;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(body))
		n = sizeof(body) - 1;
	m = snprintf(msg, sizeof(msg),
		     "HTTP/1.1 %u %s\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "X-Go-Pprof: 1\r\nConnection: close\r\n"
		     "Content-Length: %d\r\n\r\n%s",
		     status, status == 429 ? "Too Many Requests" :
		     "Service Unavailable", n, body);
	for (i = 0; i < 16; i++)
		if (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) <= 0)
			break;
	if (m > 0 && (size_t)m < sizeof(msg))
		(void)send(fd, msg, (size_t)m, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)shutdown(fd, SHUT_WR);
	close(fd);
}

/*
 * The share an anonymous caller at @sa counts in: its IPv4 address (as
 * ::ffff:a.b.c.d), or its IPv6 /64 — a host is usually given a whole /64,
 * so keying by address would give one host as many shares as it has
 * addresses. The per-source counts are taken from the admitted connections
 * themselves (at most max_total, walked on every accept already), so there
 * is no table of sources that could fill or be flooded: at most
 * max_anonymous connections of all sources are open, and once they are, a
 * new source gets 503 until one ends, as when everyone's share is full.
 */
static void source_of(const struct sockaddr *sa, socklen_t len,
		      struct in6_addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		ret->s6_addr[10] = ret->s6_addr[11] = 0xff;
		memcpy(&ret->s6_addr[12],
		       &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 &&
		   len >= sizeof(struct sockaddr_in6)) {
		memcpy(ret->s6_addr,
		       ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, 8);
		/* A v4-mapped address is one IPv4 host: keep all of it. */
		if (IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr))
			memcpy(ret,
			       &((const struct sockaddr_in6 *)sa)->sin6_addr,
			       sizeof(*ret));
	}
}

static void source_str(const struct in6_addr *src, char *buf, size_t size)
{
	if (IN6_IS_ADDR_V4MAPPED(src))
		inet_ntop(AF_INET, &src->s6_addr[12], buf, (socklen_t)size);
	else if (inet_ntop(AF_INET6, src, buf, (socklen_t)size) &&
		 strlen(buf) + 4 < size)
		strcat(buf, "/64");
}

/* Admit @fd, accepted on listener @i, or refuse it. */
static void admit(struct conns *cs, unsigned i, int fd,
		  const struct sockaddr *sa, socklen_t salen)
{
	const struct conns_limits *lim = &cs->lim;
	unsigned total = 0, nonroot = 0, mine = 0, anon = 0;
	struct in6_addr src = {};
	char where[INET6_ADDRSTRLEN + 4] = "";
	struct conn *e, **pp;
	struct peer peer;
	uid_t uid;

	if (access__peer(fd, &peer) < 0) {
		close(fd);
		return;
	}
	uid = peer.known ? peer.uid : ANONYMOUS;
	if (uid == ANONYMOUS)
		source_of(sa, salen, &src);

	pthread_mutex_lock(&cs->lock);
	/* fd came back from accept(): whoever had that number closed it. */
	pp = &cs->list;
	while ((e = *pp)) {
		if (e->fd == fd && !e->attached) {
			*pp = e->next;
			cs->n--;
			free(e);
		} else {
			pp = &e->next;
		}
	}
	for (e = cs->list; e; e = e->next) {
		total++;
		nonroot += e->uid != 0;
		anon += e->uid == ANONYMOUS;
		mine += e->uid == uid &&
			(uid != ANONYMOUS || !memcmp(&e->src, &src, sizeof(src)));
	}
	if (total >= lim->max_total ||
	    (uid != 0 && nonroot >= lim->max_nonroot) ||
	    (uid == ANONYMOUS && anon >= lim->max_anonymous)) {
		cs->refused++;
		pthread_mutex_unlock(&cs->lock);
		log_debug("http: connection from uid %d refused: %u open, %u of users other than root",
			  (int)uid, total, nonroot);
		if (uid == ANONYMOUS && anon >= lim->max_anonymous)
			refuse(fd, 503, "too many connections from callers beyond this machine (%u open, limit %u); try again when one ends\n",
			       anon, lim->max_anonymous);
		else
			refuse(fd, 503, "too many connections to profd (%u open); try again when one ends\n",
			       total);
		return;
	}
	if (uid != 0 && mine >= lim->max_per_uid) {
		cs->refused++;
		pthread_mutex_unlock(&cs->lock);
		log_debug("http: connection from uid %d refused: it has %u open",
			  (int)uid, mine);
		if (uid == ANONYMOUS) {
			source_str(&src, where, sizeof(where));
			refuse(fd, 429, "too many connections from %s (limit %u per source address); keep the connection open until the answer\n",
			       where, lim->max_per_uid);
		}
		else
			refuse(fd, 429, "too many connections from uid %u (limit %u); close some or wait until they end\n",
			       (unsigned)uid, lim->max_per_uid);
		return;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		pthread_mutex_unlock(&cs->lock);
		close(fd);
		return;
	}
	e->listener = i;
	e->tcp = peer.tcp;
	e->uid = uid;
	e->src = src;
	e->fd = fd;
	e->accepted_ns = now_ns(CLOCK_MONOTONIC);
	e->deadline_ns = e->accepted_ns +
			 (uint64_t)lim->request_timeout_s * 1000000000ULL;
	e->receiving = true;
	e->next = cs->list;
	cs->list = e;
	cs->n++;
	pthread_mutex_unlock(&cs->lock);

	/* Closes fd itself on failure. */
	if (MHD_add_connection(cs->daemons[i], fd, sa, salen) != MHD_YES) {
		pthread_mutex_lock(&cs->lock);
		for (e = cs->list; e; e = e->next)
			if (e->fd == fd && !e->attached)
				break;
		if (e)
			unlink_conn(cs, e);
		pthread_mutex_unlock(&cs->lock);
	}
}

/*
 * Close connections past their request deadline; forget connections
 * libmicrohttpd never started. Returns ms until the next deadline (at
 * most 1000).
 */
static int sweep(struct conns *cs)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC), next = now + 1000000000ULL;
	struct conn *e, *n;

	pthread_mutex_lock(&cs->lock);
	for (e = cs->list; e; e = n) {
		n = e->next;
		if (!e->attached) {
			if (now - e->accepted_ns > DETACHED_NS)
				unlink_conn(cs, e);
			continue;
		}
		if (!e->receiving || e->shut)
			continue;
		if (now < e->deadline_ns) {
			if (e->deadline_ns < next)
				next = e->deadline_ns;
			continue;
		}
		/* Wakes its thread out of recv() with EOF: it closes. */
		(void)shutdown(e->fd, SHUT_RDWR);
		e->shut = true;
		cs->expired++;
		log_debug("http: uid %d sent no whole request within %u s; closed",
			  (int)e->uid, cs->lim.request_timeout_s);
	}
	pthread_mutex_unlock(&cs->lock);
	return (int)((next - now) / 1000000ULL) + 1;
}

static void accept_batch(struct conns *cs, unsigned i)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int k, fd;

	for (k = 0; k < ACCEPT_BATCH; k++) {
		len = sizeof(sa);
		fd = accept4(cs->fds[i], (struct sockaddr *)&sa, &len,
			     SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Out of fds: the backlog waits; do not spin,
				 * and say so once a minute, not per try. */
				if (now_ns(CLOCK_MONOTONIC) - cs->warned_ns > 60000000000ULL) {
					log_warn("http: cannot accept connections: %s",
						 strerror(errno));
					cs->warned_ns = now_ns(CLOCK_MONOTONIC);
				}
				usleep(100 * 1000);
			}
			return;
		}
		admit(cs, i, fd, (struct sockaddr *)&sa, len);
	}
}

static void *accept_main(void *arg)
{
	struct conns *cs = arg;
	struct pollfd pfd[CONNS_MAX_LISTENERS + 1];
	unsigned i;
	int timeout = 1000, r;

	(void)slice__set(true);	/* the first of a request's threads */
	for (;;) {
		for (i = 0; i < cs->nfds; i++)
			pfd[i] = (struct pollfd){ .fd = cs->fds[i], .events = POLLIN };
		pfd[i] = (struct pollfd){ .fd = cs->wake_fd, .events = POLLIN };
		r = poll(pfd, cs->nfds + 1, timeout);
		if (r < 0 && errno != EINTR) {
			log_err("http: poll: %s; no longer accepting", strerror(errno));
			break;
		}
		if (r > 0 && pfd[cs->nfds].revents)
			break;
		for (i = 0; r > 0 && i < cs->nfds; i++)
			if (pfd[i].revents & POLLIN)
				accept_batch(cs, i);
		timeout = sweep(cs);
	}
	return NULL;
}

int conns__start(struct conns *cs, const int *fds,
		 struct MHD_Daemon *const *daemons, unsigned n)
{
	unsigned i;
	int fl, r;

	if (n > CONNS_MAX_LISTENERS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		fl = fcntl(fds[i], F_GETFL);
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
		cs->fds[i] = fds[i];
		cs->daemons[i] = daemons[i];
	}
	cs->nfds = n;
	r = pthread_create(&cs->thread, NULL, accept_main, cs);
	if (r)
		return -r;
	cs->started = true;
	return 0;
}

void conns__stop(struct conns *cs)
{
	uint64_t one = 1;

	if (!cs || !cs->started)
		return;
	(void)!write(cs->wake_fd, &one, sizeof(one));
	pthread_join(cs->thread, NULL);
	cs->started = false;
}

void conns__free(struct conns *cs)
{
	if (!cs)
		return;
	conns__stop(cs);
	while (cs->list)
		unlink_conn(cs, cs->list);
	pthread_mutex_destroy(&cs->lock);
	close(cs->wake_fd);
	free(cs);
}

void conns__stats(struct conns *cs, struct conns_stats *ret)
{
	pthread_mutex_lock(&cs->lock);
	ret->open = cs->n;
	ret->refused = cs->refused;
	ret->expired = cs->expired;
	pthread_mutex_unlock(&cs->lock);
}

void conns__notify(void *cls, struct MHD_Connection *c, void **socket_context,
		   enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct conns *cs = cls;
	struct conn *e, *found = NULL;
	int fd;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		pthread_mutex_lock(&cs->lock);
		if (*socket_context)
			unlink_conn(cs, *socket_context);
		pthread_mutex_unlock(&cs->lock);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	fd = ci->connect_fd;
	pthread_mutex_lock(&cs->lock);
	/* The newest not yet started: an older one with this number was
	 * dropped by libmicrohttpd, and the number reused. */
	for (e = cs->list; e; e = e->next) {
		if (e->fd == fd && !e->attached) {
			found = e;
			break;
		}
	}
	if (found) {
		found->attached = true;
		*socket_context = found;
	}
	pthread_mutex_unlock(&cs->lock);
	/* Not admitted here (cannot happen): not served either. */
	if (!found)
		(void)shutdown(fd, SHUT_RDWR);
}

void conns__completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct conns *cs = cls;
	struct conn *e;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	e = ci ? ci->socket_context : NULL;
	if (!e)
		return;
	pthread_mutex_lock(&cs->lock);
	e->receiving = true;
	e->deadline_ns = now_ns(CLOCK_MONOTONIC) +
			 (uint64_t)cs->lim.request_timeout_s * 1000000000ULL;
	pthread_mutex_unlock(&cs->lock);
}

const struct conn *conns__received(struct conns *cs, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct conn *e;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	e = ci ? ci->socket_context : NULL;
	if (!e)
		return NULL;
	pthread_mutex_lock(&cs->lock);
	e->receiving = false;
	pthread_mutex_unlock(&cs->lock);
	return e;
}
