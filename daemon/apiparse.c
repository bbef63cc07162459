// SPDX-License-Identifier: GPL-2.0
/*
 * The HTTP API's query parameters. Moved out of api.c unchanged in
 * behaviour (same checks, same order, same messages) so that it can be
 * fuzzed without a server; api.c collects what libmicrohttpd decoded and
 * api_reply.c turns an -EINVAL from here into a 400 with the message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiparse.h"

/* Parameter names an endpoint allows: at most 8 (see API_PARAMS_MAX). */
#define ALLOWED_MAX 8

_Static_assert(API_PARAMS_MAX > ALLOWED_MAX,
	       "the first unknown or repeated parameter must be among those kept");

bool apiparse__add(struct api_params *q, const char *key, const char *value)
{
	if (q->n == API_PARAMS_MAX) {
		q->truncated = true;
		return false;
	}
	q->p[q->n].key = key;
	q->p[q->n].value = value;
	q->n++;
	return true;
}

static int fail(char **ret_err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* -EINVAL with the message, or -ENOMEM when it cannot be made. */
static int fail(char **ret_err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(ret_err, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*ret_err = NULL;
		return -ENOMEM;
	}
	return -EINVAL;
}

/*
 * Every parameter must be one of @allowed (NULL-terminated), and none may
 * come twice (pid=1&pid=2: which one was meant?). The first offender in
 * request order goes into *@ret_bad or *@ret_dup.
 */
static void check_names(const struct api_params *q,
			const char *const *allowed, const char **ret_bad,
			const char **ret_dup)
{
	unsigned seen = 0;
	size_t i, k;

	*ret_bad = *ret_dup = NULL;
	for (k = 0; k < q->n; k++) {
		for (i = 0; i < ALLOWED_MAX && allowed[i]; i++)
			if (!strcmp(q->p[k].key, allowed[i]))
				break;
		if (i == ALLOWED_MAX || !allowed[i]) {
			*ret_bad = q->p[k].key;
			return;
		}
		if (seen & (1u << i)) {
			*ret_dup = q->p[k].key;
			return;
		}
		seen |= 1u << i;
	}
}

/*
 * The parameter @key: true and its value (NULL when given without '=')
 * in *@ret when present. Names are unique once check_names() passed.
 */
static bool lookup(const struct api_params *q, const char *key,
		   const char **ret)
{
	size_t k;

	for (k = 0; k < q->n; k++) {
		if (!strcmp(q->p[k].key, key)) {
			*ret = q->p[k].value;
			return true;
		}
	}
	*ret = NULL;
	return false;
}

/* The value of @key, NULL when absent or given without a value. */
static const char *value_of(const struct api_params *q, const char *key)
{
	const char *v;

	lookup(q, key, &v);
	return v;
}

/* A decimal in [min, max], digits only (no sign, space or suffix). */
static int parse_uint(const char *s, unsigned long long min,
		      unsigned long long max, unsigned long long *ret)
{
	unsigned long long v = 0;
	const char *p;

	if (!s || !*s || strlen(s) > 19)
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (!s || !strcmp(s, "1") || !strcmp(s, "true") || !*s) {
		*ret = true;
		return 0;
	}
	if (!strcmp(s, "0") || !strcmp(s, "false")) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}

/* unwind=dwarf (the default) or fp: false when it is neither. */
static bool parse_unwind(const char *arg, bool *ret_fp)
{
	*ret_fp = arg && !strcmp(arg, "fp");
	return !arg || *ret_fp || !strcmp(arg, "dwarf");
}

/* Only the protobuf format is served. */
static int check_debug(const struct api_params *q, char **ret_err)
{
	const char *arg = value_of(q, "debug");

	if (arg && strcmp(arg, "0"))
		return fail(ret_err, "debug=%s: only the protobuf format (debug=0) is served\n",
			    arg);
	return 0;
}

/*
 * What every endpoint checks first: only @allowed names (@allowed_text
 * says them), each once, and a pid (@what_for ends its "missing" message;
 * with @optional, no pid gives *@ret_pid 0: every process).
 */
static int names_and_pid_opt(const struct api_params *q,
			     const char *const allowed[ALLOWED_MAX],
			     const char *allowed_text, const char *what_for,
			     bool optional, pid_t *ret_pid, char **ret_err)
{
	const char *arg, *bad, *dup;
	unsigned long long v;

	check_names(q, allowed, &bad, &dup);
	if (bad)
		return fail(ret_err, "unknown parameter \"%s\" (allowed: %s)\n",
			    bad, allowed_text);
	if (dup)
		return fail(ret_err, "parameter \"%s\" given more than once\n", dup);
	if (q->truncated)	/* cannot be: more than 8 names were given */
		return fail(ret_err, "too many parameters\n");
	arg = value_of(q, "pid");
	if (!arg && optional && !lookup(q, "pid", &arg)) {
		*ret_pid = 0;
		return 0;
	}
	if (!arg)
		return fail(ret_err, "missing parameter pid: which process%s\n",
			    what_for);
	if (parse_uint(arg, 1, 0x7fffffff, &v) < 0)
		return fail(ret_err, "bad pid \"%s\": want a positive integer\n", arg);
	*ret_pid = (pid_t)v;
	return 0;
}

/* The same with a pid required. */
static int names_and_pid(const struct api_params *q,
			 const char *const allowed[ALLOWED_MAX],
			 const char *allowed_text, const char *what_for,
			 pid_t *ret_pid, char **ret_err)
{
	return names_and_pid_opt(q, allowed, allowed_text, what_for, false,
				 ret_pid, ret_err);
}

/* window=NAME: 1..API_WINDOW_MAX of [A-Za-z0-9._-] into @ret (absent:
 * ""); false when it is not such a name. */
static bool parse_window(const char *arg, bool given, char *ret)
{
	size_t n, i;

	ret[0] = 0;
	if (!given)
		return true;
	n = arg ? strlen(arg) : 0;
	if (!n || n > API_WINDOW_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((arg[i] >= 'a' && arg[i] <= 'z') ||
		      (arg[i] >= 'A' && arg[i] <= 'Z') ||
		      (arg[i] >= '0' && arg[i] <= '9') ||
		      arg[i] == '.' || arg[i] == '_' || arg[i] == '-'))
			return false;
	memcpy(ret, arg, n + 1);
	return true;
}

int apiparse__cpu(const struct api_params *q, unsigned max_seconds,
		  unsigned max_hz, struct api_cpu_req *ret, char **ret_err)
{
	static const char *const allowed[ALLOWED_MAX] = {
		"pid", "seconds", "hz", "kernel", "debug", "unwind", "window",
	};
	struct api_cpu_req req = { .hz = 99, .seconds = 30 };
	const char *arg;
	unsigned long long v;
	bool given;
	int r;

	r = names_and_pid_opt(q, allowed,
			      "pid, seconds, hz, kernel, unwind, window",
			      " to profile", true, &req.pid, ret_err);
	if (r < 0)
		return r;
	arg = value_of(q, "seconds");
	if (arg && parse_uint(arg, 1, max_seconds, &v) < 0)
		return fail(ret_err, "bad seconds \"%s\": want an integer from 1 to %u\n",
			    arg, max_seconds);
	if (arg)
		req.seconds = (unsigned)v;
	else if (req.seconds > max_seconds)
		req.seconds = max_seconds;
	arg = value_of(q, "hz");
	if (arg && parse_uint(arg, 1, max_hz, &v) < 0)
		return fail(ret_err, "bad hz \"%s\": want an integer from 1 to %u\n",
			    arg, max_hz);
	if (arg)
		req.hz = (unsigned)v;
	/* "kernel" alone (no '=') means kernel=1. */
	if (lookup(q, "kernel", &arg) && parse_bool(arg, &req.kernel) < 0)
		return fail(ret_err, "bad kernel \"%s\": want 1 or 0\n", arg);
	r = check_debug(q, ret_err);
	if (r < 0)
		return r;
	arg = value_of(q, "unwind");
	if (!parse_unwind(arg, &req.fp_only))
		return fail(ret_err, "bad unwind \"%s\": want dwarf (default) or fp\n",
			    arg);
	given = lookup(q, "window", &arg);
	if (!parse_window(arg, given, req.window))
		return fail(ret_err, "bad window \"%s\": want a name of 1 to %d letters, digits, '.', '_' or '-'\n",
			    arg ? arg : "", API_WINDOW_MAX);
	*ret = req;
	return 0;
}

int apiparse__stop(const struct api_params *q, struct api_stop_req *ret,
		   char **ret_err)
{
	static const char *const allowed[ALLOWED_MAX] = { "pid", "window" };
	struct api_stop_req req = {};
	const char *arg;
	bool given;
	int r;

	r = names_and_pid(q, allowed, "pid, window",
			  " whose window to end", &req.pid, ret_err);
	if (r < 0)
		return r;
	given = lookup(q, "window", &arg);
	if (!parse_window(arg, given, req.window))
		return fail(ret_err, "bad window \"%s\": want a name of 1 to %d letters, digits, '.', '_' or '-'\n",
			    arg ? arg : "", API_WINDOW_MAX);
	*ret = req;
	return 0;
}

int apiparse__heap(const struct api_params *q, bool with_window,
		   unsigned max_seconds, struct api_heap_req *ret,
		   char **ret_err)
{
	static const char *const window[ALLOWED_MAX] = {
		"pid", "sample_bytes", "unwind", "mode", "seconds", "debug", "gc",
	};
	static const char *const no_window[ALLOWED_MAX] = {
		"pid", "sample_bytes", "unwind", "mode",
	};
	struct api_heap_req req = { .seconds = 10 };
	const char *arg;
	unsigned long long v;
	int r;

	r = names_and_pid(q, with_window ? window : no_window,
			  with_window ? "pid, sample_bytes, unwind, mode, seconds" :
					"pid, sample_bytes, unwind, mode",
			  "", &req.pid, ret_err);
	if (r < 0)
		return r;
	arg = value_of(q, "sample_bytes");
	if (arg && parse_uint(arg, 1, 1ULL << 40, &v) < 0)
		return fail(ret_err, "bad sample_bytes \"%s\": want an integer from 1 (every allocation) up\n",
			    arg);
	if (arg)
		req.sample_bytes = v;
	arg = value_of(q, "unwind");
	if (!parse_unwind(arg, &req.fp_only))
		return fail(ret_err, "bad unwind \"%s\": want dwarf (default) or fp\n",
			    arg);
	arg = value_of(q, "mode");
	if (arg && strcmp(arg, "uprobe") && strcmp(arg, "inproc"))
		return fail(ret_err, "bad mode \"%s\": want uprobe (default: a uprobe on each allocator call) or inproc (sampled inside the process by profd's agent)\n",
			    arg);
	req.inproc = arg && !strcmp(arg, "inproc");
	arg = value_of(q, "seconds");
	if (arg && parse_uint(arg, 0, max_seconds, &v) < 0)
		return fail(ret_err, "bad seconds \"%s\": want an integer from 0 to %u\n",
			    arg, max_seconds);
	if (arg)
		req.seconds = (unsigned)v;
	r = check_debug(q, ret_err);
	if (r < 0)
		return r;
	*ret = req;
	return 0;
}

int apiparse__threads(const struct api_params *q, struct api_threads_req *ret,
		      char **ret_err)
{
	static const char *const allowed[ALLOWED_MAX] = {
		"pid", "debug", "unwind",
	};
	struct api_threads_req req = {};
	const char *arg;
	unsigned long long v;
	int r;

	if (lookup(q, "seconds", &arg))
		return fail(ret_err, "seconds: the goroutine profile is a snapshot of every thread now, not a window\n");
	r = names_and_pid(q, allowed, "pid, debug, unwind", " to list the threads of",
			  &req.pid, ret_err);
	if (r < 0)
		return r;
	arg = value_of(q, "debug");
	if (arg) {
		if (parse_uint(arg, 0, 2, &v) < 0)
			return fail(ret_err, "bad debug \"%s\": want 0 (pprof), 1 or 2 (text)\n",
				    arg);
		req.debug = (unsigned)v;
	}
	arg = value_of(q, "unwind");
	if (arg && strcmp(arg, "dwarf"))
		return fail(ret_err, "unwind=%s: thread stacks are always DWARF-unwound in profd (unwind=dwarf)\n",
			    arg);
	*ret = req;
	return 0;
}
