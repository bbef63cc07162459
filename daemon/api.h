/* SPDX-License-Identifier: GPL-2.0 */
/*
 * api: the HTTP API (libmicrohttpd, a thread per connection so a request
 * can wait out its window, fed by conns, which admits connections). Serves
 * Go's net/http/pprof paths with a pid parameter, and /v1/ for profd's own
 * endpoints. Every request passes origin (no web pages), then access (who
 * is asking, now) before it does anything.
 */
#ifndef PROFD_API_H
#define PROFD_API_H

#include "conns.h"
#include "heap.h"
#include "offcpu.h"
#include "threads.h"
#include "session.h"

struct api;
struct continuous;

struct api_config {
	int unix_fd;		/* listening Unix socket, or -1 */
	int tcp_fd;		/* listening TCP socket, or -1 */
	const char *tcp_host;	/* --listen's HOST (no brackets), or NULL */
	unsigned tcp_port;
	/* Its bearer token and TLS files (api_listen.h; NULL: callers known
	 * by uid, loopback only); they outlive the API. */
	struct listen_keys *tcp_keys;
	struct conns_limits conns;
	struct fleet *fleet;	/* /metrics' fleet counters; outlives the API */
	struct offcpu *offcpu;	/* wait profiles (offcpu.h) */
	struct threads *threads;	/* thread snapshots (threads.h) */
	struct continuous *cont;	/* machine-wide pulls; outlives the API */
};

int api__start(const struct api_config *cfg, struct session_mgr *m,
	       struct heap_tracker *heap, struct api **ret);
/* Stop accepting, wait for connection threads (sessions must be failing
 * already: session_mgr__shutdown first). NULL ok. */
void api__stop(struct api *a);

#endif /* PROFD_API_H */
