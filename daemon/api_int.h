/* SPDX-License-Identifier: GPL-2.0 */
/*
 * api's insides, shared by its files (not an API). One job per file:
 *
 *   api.c          routing: origin and caller checks, method, path ->
 *                  handler; libmicrohttpd start and stop; the index page
 *   api_reply.c    answers: text errors, blobs, the checks every
 *                  per-process endpoint makes before it starts anything
 *   api_profile.c  CPU, wait and thread profiles, machine-wide pulls,
 *                  ending windows early
 *   api_heap.c     heap tracking: start, stop, heap and allocs pulls
 *   api_status.c   /v1/status (JSON), /metrics, /v1/history
 *
 * Query parameters are parsed by apiparse.c (pure, unit-tested).
 */
#ifndef PROFD_API_INT_H
#define PROFD_API_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <microhttpd.h>

#include "access.h"
#include "api.h"
#include "apiparse.h"
#include "origin.h"
#include "proc.h"

struct api {
	struct session_mgr *m;
	struct heap_tracker *heap;
	struct offcpu *offcpu;		/* block, mutex, threadcreate */
	struct threads *threads;	/* goroutine */
	struct conns *conns;
	struct MHD_Daemon *d[CONNS_MAX_LISTENERS];
	struct origin_listener web[CONNS_MAX_LISTENERS];
	/* A listener's bearer token (NULL: callers known by their uid). */
	struct listen_keys *auth[CONNS_MAX_LISTENERS];
	unsigned nonroot_sessions;	/* CPU sessions of users but root */
	unsigned nonroot_sessions_max;	/* the rest is kept for root */
	struct fleet *fleet;		/* NULL: no fleet counters */
	struct continuous *cont;	/* NULL: no machine-wide pulls */
};

#define API_THREADS 100	/* api__handle_profile()'s @what for goroutine */

/* api.c */
void api__get_params(struct MHD_Connection *c, struct api_params *q);

/* api_reply.c */
enum MHD_Result api__send_text(struct MHD_Connection *c, unsigned status,
			       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum MHD_Result api__send_405(struct MHD_Connection *c, const char *allow,
			      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum MHD_Result api__send_blob(struct MHD_Connection *c, void *buf,
			       size_t len, const char *type,
			       const char *filename, const char *note);
enum MHD_Result api__send_bad_request(struct MHD_Connection *c, int r,
				      char *err);
bool api__not_a_process(struct MHD_Connection *c, pid_t pid,
			const struct proc_ids *ids, bool heap);
bool api__unreadable(struct MHD_Connection *c, pid_t pid,
		     enum MHD_Result *ret);

/* api_profile.c */
enum MHD_Result api__handle_profile(struct api *a, struct MHD_Connection *c,
				    const struct peer *peer, int what);
enum MHD_Result api__handle_profile_stop(struct api *a,
					 struct MHD_Connection *c,
					 const struct peer *peer);

/* api_heap.c */
enum MHD_Result api__handle_heap_start(struct api *a, struct MHD_Connection *c,
				       const struct peer *peer, bool stop);
enum MHD_Result api__handle_heap(struct api *a, struct MHD_Connection *c,
				 const struct peer *peer, bool allocs);

/* api_status.c */
enum MHD_Result api__handle_status(struct api *a, struct MHD_Connection *c,
				   const struct peer *peer);
enum MHD_Result api__handle_metrics(struct api *a, struct MHD_Connection *c);
enum MHD_Result api__handle_history(struct api *a, struct MHD_Connection *c,
				    const struct peer *peer);

#endif /* PROFD_API_INT_H */
