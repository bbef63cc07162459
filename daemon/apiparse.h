/* SPDX-License-Identifier: GPL-2.0 */
/*
 * apiparse: the HTTP API's query parameters, checked and converted without
 * a server. api.c collects the parameters libmicrohttpd decoded, in the
 * order the client sent them (api__get_params), and each endpoint
 * (api_profile.c, api_heap.c) hands them in; this stage says what the
 * request asks for, or why it is refused. Pure: no I/O, no logging, no libmicrohttpd, so it
 * is unit-tested and fuzzed alone (tests/fuzz/fuzz_apiparse.c).
 */
#ifndef PROFD_APIPARSE_H
#define PROFD_APIPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Parameters kept from one request. An endpoint allows at most 8 names,
 * none twice, so a request's first 9 parameters always show its first
 * unknown or repeated one: the rest are never needed.
 */
#define API_PARAMS_MAX 9

struct api_param {
	const char *key;	/* never NULL */
	const char *value;	/* NULL for "?kernel" (no '=') */
};

/* Borrowed strings: they live as long as the request. */
struct api_params {
	struct api_param p[API_PARAMS_MAX];
	size_t n;
	bool truncated;		/* the request had more than API_PARAMS_MAX */
};

/*
 * apiparse__add() - append one decoded parameter. Returns false when
 * @q is full (it is then marked truncated): stop adding.
 */
bool apiparse__add(struct api_params *q, const char *key, const char *value);

/* A window's name: 1 to 32 of [A-Za-z0-9._-], chosen by the client. */
#define API_WINDOW_MAX 32

/* /debug/pprof/profile */
struct api_cpu_req {
	pid_t pid;
	unsigned seconds;	/* default 30, at most max_seconds */
	unsigned hz;		/* default 99 */
	bool kernel;
	bool fp_only;		/* unwind=fp */
	char window[API_WINDOW_MAX + 1];	/* window=NAME, or "" */
};

/* POST /v1/profile/stop */
struct api_stop_req {
	pid_t pid;
	char window[API_WINDOW_MAX + 1];	/* "": all the caller's */
};

/* /debug/pprof/heap, /debug/pprof/allocs, /v1/heap/start|stop */
struct api_heap_req {
	pid_t pid;
	uint64_t sample_bytes;	/* 0: the tracker's default */
	bool fp_only;		/* unwind=fp */
	bool inproc;		/* mode=inproc */
	unsigned seconds;	/* default 10; only with a window */
};

/*
 * apiparse__cpu() - the CPU profile's parameters: pid (absent: 0, every
 * process, root only), seconds
 * (1..@max_seconds), hz (1..@max_hz), kernel (1/true/0/false, bare: 1),
 * debug (only 0), unwind (dwarf or fp), window (a name to end it early
 * by, apiparse__stop()).
 *
 * Return: 0 and *@ret filled; -EINVAL and *@ret_err set to a malloc'd
 * one-line message for a 400 (ending in a newline; the caller frees it),
 * *@ret untouched; -ENOMEM.
 */
int apiparse__cpu(const struct api_params *q, unsigned max_seconds,
		  unsigned max_hz, struct api_cpu_req *ret, char **ret_err);

/*
 * apiparse__stop() - ending a CPU window early: pid (required) and window
 * (the name the profile request gave it; absent: every window of the
 * caller's on pid). Return as apiparse__cpu().
 */
int apiparse__stop(const struct api_params *q, struct api_stop_req *ret,
		   char **ret_err);

/*
 * apiparse__heap() - the heap endpoints' parameters: pid (required),
 * sample_bytes (1..2^40), unwind, mode (uprobe or inproc) and, with
 * @with_window (the profile pulls, not /v1/heap/start|stop), seconds
 * (0..@max_seconds), debug (only 0) and gc (ignored, as Go's pprof sends
 * it). Return as apiparse__cpu().
 */
int apiparse__heap(const struct api_params *q, bool with_window,
		   unsigned max_seconds, struct api_heap_req *ret,
		   char **ret_err);

/* /debug/pprof/goroutine: a snapshot of every thread. */
struct api_threads_req {
	pid_t pid;
	unsigned debug;		/* 0: pprof; 1, 2: the text dump */
};

/*
 * apiparse__threads() - pid (required), debug (0, 1 or 2), unwind (dwarf
 * only: the snapshot always unwinds in profd). Return as apiparse__cpu().
 */
int apiparse__threads(const struct api_params *q, struct api_threads_req *ret,
		      char **ret_err);

#endif /* PROFD_APIPARSE_H */
