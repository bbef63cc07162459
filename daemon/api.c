// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>
#include <microhttpd.h>

#include "access.h"
#include "api_listen.h"
#include "api.h"
#include "apiparse.h"
#include "conns.h"
#include "json.h"
#include "continuous.h"
#include "history.h"
#include "log.h"
#include "metrics.h"
#include "offcpu.h"
#include "threads.h"
#include "origin.h"
#include "proc.h"
#include "slice.h"
#include "api_int.h"

_Static_assert(API_WINDOW_MAX == SESSION_WINDOW_MAX,
	       "a window's name goes from the request to the session whole");

/* Collects the decoded query parameters, in order, for apiparse. */
static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind,
				   const char *key, const char *value)
{
	return apiparse__add(cls, key, value) ? MHD_YES : MHD_NO;
}

void api__get_params(struct MHD_Connection *c, struct api_params *q)
{
	memset(q, 0, sizeof(*q));
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, q);
}

static enum MHD_Result handle_index(struct MHD_Connection *c)
{
	return api__send_text(c, 200,
			      "profd %s\n\n"
			      "/debug/pprof/profile?pid=P&seconds=N[&hz=F][&kernel=1][&unwind=fp][&window=NAME]\n"
			      "    CPU profile (gzip pprof); unwind=fp: frame pointers walked in BPF\n"
			      "    instead of DWARF unwinding (unwind=dwarf, the default); ends early\n"
			      "    when P exits\n"
			      "POST /v1/profile/stop?pid=P[&window=NAME]\n"
			      "    end your open windows of P now; each answers with what it has\n"
			      "/debug/pprof/block?pid=P&seconds=N[&kernel=1][&unwind=fp][&window=NAME]\n"
			      "    off-CPU time by stack (Go's block profile), state sleeping/disk/preempted\n"
			      "/debug/pprof/mutex?pid=P&seconds=N[&kernel=1][&unwind=fp][&window=NAME]\n"
			      "    time in futex waits (contended mutexes, rwlocks, condvars) by stack\n"
			      "/debug/pprof/goroutine?pid=P[&debug=1]\n"
			      "    every thread's stack now (count per stack; debug=1: text, a thread each)\n"
			      "/debug/pprof/threadcreate?pid=P&seconds=N[&unwind=fp][&window=NAME]\n"
			      "    threads created in the window, by the creating stack\n"
			      "/debug/pprof/heap?pid=P[&seconds=S][&sample_bytes=N][&unwind=fp][&mode=inproc]\n"
			      "    live heap (inuse_space); mode=inproc: sampled inside the process by\n"
			      "    profd's agent (Unix socket only), mode=uprobe the default\n"
			      "/debug/pprof/allocs?pid=P[&seconds=S][&sample_bytes=N][&unwind=fp][&mode=inproc]\n"
			      "    the same, default view alloc_space\n"
			      "POST /v1/heap/start?pid=P[&sample_bytes=N][&unwind=fp][&mode=inproc]\n"
			      "POST /v1/heap/stop?pid=P\n"
			      "    start or stop heap tracking\n"
			      "/v1/status\n"
			      "    daemon status (JSON)\n"
			      "/metrics\n"
			      "    counters in the Prometheus text format\n"
			      "/v1/history[?since=T][&until=T][&service=S][&unit=U][&pid=P]\n"
			      "    the spooled intervals of a window, merged (gzip pprof; root)\n",
			      PROFD_VERSION);
}

/* Why an anonymous caller is refused what needs a uid. */
static enum MHD_Result send_anonymous(struct MHD_Connection *c,
				      const struct peer *peer)
{
	if (peer->unknown_err == -ENOTCONN)
		return api__send_text(c, 403, "refused: profd cannot establish who is calling: the client's TCP socket is no longer an open, established connection owned by a process (closed before the answer?); an unidentified caller may read only /v1/status's counters\n");
	return api__send_text(c, 403, "refused: profd cannot establish who is calling (looking up the client's TCP socket: %s); an unidentified caller may read only /v1/status's counters\n",
			      strerror(-peer->unknown_err));
}

static bool is_profile(const char *url)
{
	return !strcmp(url, "/debug/pprof/heap") ||
	       !strcmp(url, "/debug/pprof/allocs") ||
	       !strcmp(url, "/debug/pprof/profile") ||
	       !strcmp(url, "/v1/history") ||	/* GET only, as a profile */
	       !strcmp(url, "/debug/pprof/block") ||
	       !strcmp(url, "/debug/pprof/mutex") ||
	       !strcmp(url, "/debug/pprof/threadcreate") ||
	       !strcmp(url, "/debug/pprof/goroutine");
}

/* The index page: the profiles there are and what they take. */
static bool is_index(const char *url)
{
	return !strcmp(url, "/debug/pprof/") || !strcmp(url, "/debug/pprof") ||
	       !strcmp(url, "/");
}

/*
 * Answered at once from counters (status, metrics, the index), or a CPU
 * window, which sleeps for its seconds and then must answer quickly (a
 * profile of the samples it holds; it starts no thread). Heap pulls,
 * history, wait windows and the threads' stacks build or wait with the
 * default slice, and so do the threads they start (slice.h).
 */
static bool is_quick(const char *url)
{
	return !strcmp(url, "/v1/status") || !strcmp(url, "/metrics") ||
	       is_index(url) || !strcmp(url, "/debug/pprof/profile");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	static int first_call_marker;
	struct api *a = cls;
	const union MHD_ConnectionInfo *ci;
	const struct conn *cn;
	struct peer peer = {};
	char why[320];
	bool head;
	int r;

	/* First call: headers only. Answer on the second. */
	if (!*con_cls) {
		*con_cls = &first_call_marker;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;	/* bodies are not used: discard */
		return MHD_YES;
	}
	/* A short slice for the quick answers (slice.h), the default for
	 * those that build a profile or wait. */
	(void)slice__set(is_quick(url));
	/* Whole: the request deadline is over (a window may take minutes). */
	cn = conns__received(a->conns, c);
	if (!cn)
		return MHD_NO;
	/* Before anything else: a web page's request gets nothing. */
	r = origin__check(&a->web[cn->listener],
			  MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"),
			  MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"),
			  MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "Sec-Fetch-Site"),
			  why, sizeof(why));
	if (r < 0) {
		log_debug("http: %s %s: %s", method, url, why);
		return api__send_text(c, 403, "%s\n", why);
	}
	/* Who is asking, now that the request is acted on: on a token
	 * listener the token, elsewhere the socket's owner. */
	if (a->auth[cn->listener]) {
		r = api_listen__peer(a->auth[cn->listener], c, &peer);
		if (r < 0) {
			log_debug("http: %s %s: %s", method, url,
				  r == -EACCES ? "wrong token" : "no token");
			return api_listen__send_401(c, r);
		}
	} else {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		r = ci ? access__peer(ci->connect_fd, &peer) : -EBADF;
		if (r < 0)
			return api__send_text(c, 403, "cannot identify the caller: %s\n",
					      strerror(-r));
	}
	if (access__scope(&peer, method, url, why, sizeof(why)) < 0)
		return api__send_text(c, 403, "%s\n", why);

	if (!strcmp(url, "/v1/heap/start") || !strcmp(url, "/v1/heap/stop")) {
		if (strcmp(method, "POST"))
			return api__send_405(c, "POST", "method %s not allowed on %s (use POST)\n",
					     method, url);
		if (access__identified(&peer) < 0)
			return send_anonymous(c, &peer);
		return api__handle_heap_start(a, c, &peer, !strcmp(url, "/v1/heap/stop"));
	}
	if (!strcmp(url, "/v1/profile/stop")) {
		if (strcmp(method, "POST"))
			return api__send_405(c, "POST", "method %s not allowed on %s (use POST)\n",
					     method, url);
		if (access__identified(&peer) < 0)
			return send_anonymous(c, &peer);
		return api__handle_profile_stop(a, c, &peer);
	}
	head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head)
		return api__send_405(c, is_profile(url) ? "GET" : "GET, HEAD",
				     "method %s not allowed on %s (use GET)\n", method, url);
	if (!strcmp(url, "/v1/status"))
		return api__handle_status(a, c, &peer);
	if (!strcmp(url, "/metrics"))
		return api__handle_metrics(a, c);
	if (is_index(url))
		return handle_index(c);
	if (!is_profile(url))
		return api__send_text(c, 404, "unknown profile or path: %s\n", url);
	/* A profile starts a window, heap tracking or an injection: HEAD
	 * must have no side effects (RFC 9110), and answering it without
	 * them could not say what GET would. */
	if (head)
		return api__send_405(c, "GET", "HEAD not allowed on %s: the request starts profiling; use GET\n",
				     url);
	if (access__identified(&peer) < 0)
		return send_anonymous(c, &peer);
	if (!strcmp(url, "/v1/history"))
		return api__handle_history(a, c, &peer);
	if (!strcmp(url, "/debug/pprof/heap"))
		return api__handle_heap(a, c, &peer, false);
	if (!strcmp(url, "/debug/pprof/allocs"))
		return api__handle_heap(a, c, &peer, true);
	if (!strcmp(url, "/debug/pprof/block"))
		return api__handle_profile(a, c, &peer, PROFD_WAIT_OFFCPU);
	if (!strcmp(url, "/debug/pprof/mutex"))
		return api__handle_profile(a, c, &peer, PROFD_WAIT_FUTEX);
	if (!strcmp(url, "/debug/pprof/goroutine"))
		return api__handle_profile(a, c, &peer, API_THREADS);
	if (!strcmp(url, "/debug/pprof/threadcreate"))
		return api__handle_profile(a, c, &peer, PROFD_WAIT_CLONE);
	return api__handle_profile(a, c, &peer, -1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = 0;
	/* MHD_add_connection() cannot say a socket is not TCP: on the Unix
	 * socket libmicrohttpd tries TCP_NODELAY and TCP_CORK, fails
	 * harmlessly (nothing is held back) and says so on every answer. */
	if (strstr(buf, "TCP_NODELAY") || strstr(buf, "TCP_CORK") ||
	    strstr(buf, "push the data from buffers"))
		return;
	log_debug("http: %s", buf);
}

int api__start(const struct api_config *cfg, struct session_mgr *m,
	       struct heap_tracker *heap, struct api **ret)
{
	int fds[2] = { cfg->unix_fd, cfg->tcp_fd }, lfds[2], i, n = 0, r;
	struct MHD_OptionItem tls[2];
	unsigned flags;
	const struct session_limits *lim = session_mgr__limits(m);
	struct api *a;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->m = m;
	a->heap = heap;
	a->fleet = cfg->fleet;
	a->offcpu = cfg->offcpu;
	a->threads = cfg->threads;
	a->cont = cfg->cont;
	/* An eighth of the sessions is root's alone. */
	a->nonroot_sessions_max = lim->max_sessions - lim->max_sessions / 8;
	r = conns__new(&cfg->conns, &a->conns);
	if (r < 0) {
		free(a);
		return r;
	}
	for (i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		a->web[n] = (struct origin_listener){ .tcp = i == 1,
						      .host = cfg->tcp_host,
						      .port = cfg->tcp_port,
						      .any_host = i == 1 && cfg->tcp_keys };
		a->auth[n] = i == 1 ? cfg->tcp_keys : NULL;
		/* TLS on the TCP listener when given (api_listen.h). */
		flags = api_listen__tls_options(i == 1 ? cfg->tcp_keys : NULL,
						tls);
		/* conns accepts and hands connections over: libmicrohttpd
		 * listens on nothing. ITC: a pipe that wakes its thread for
		 * each one, and on stop. Its connection limit is only a
		 * backstop behind conns' shares. poll(), not select():
		 * continuous mode holds descriptors of many processes, and
		 * select() refuses every connection whose fd is 1024 or
		 * more. */
		/* Its thread takes the short slice from this one (slice.h),
		 * and hands it to the connections' threads it creates. */
		(void)slice__set(true);
		a->d[n] = MHD_start_daemon(
			MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_INTERNAL_POLLING_THREAD |
				MHD_USE_POLL |
				MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET |
				MHD_USE_ERROR_LOG | flags,
			0, NULL, NULL, handler, a,
			MHD_OPTION_ARRAY, tls,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			MHD_OPTION_NOTIFY_CONNECTION, conns__notify, a->conns,
			MHD_OPTION_NOTIFY_COMPLETED, conns__completed, a->conns,
			MHD_OPTION_CONNECTION_LIMIT, cfg->conns.max_total + 16,
			/* A client that stops reading its answer; the
			 * request itself has conns' deadline. */
			MHD_OPTION_CONNECTION_TIMEOUT, 30u,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
			MHD_OPTION_END);
		(void)slice__set(false);
		if (!a->d[n]) {
			api__stop(a);
			return -EIO;
		}
		lfds[n++] = fds[i];
	}
	r = conns__start(a->conns, lfds, a->d, (unsigned)n);
	if (r < 0) {
		api__stop(a);
		return r;
	}
	*ret = a;
	return 0;
}

void api__stop(struct api *a)
{
	int i;

	if (!a)
		return;
	/* No new connections, then libmicrohttpd closes the open ones. */
	conns__stop(a->conns);
	for (i = 0; i < CONNS_MAX_LISTENERS; i++)
		if (a->d[i])
			MHD_stop_daemon(a->d[i]);
	conns__free(a->conns);
	free(a);
}
