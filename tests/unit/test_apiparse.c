// SPDX-License-Identifier: GPL-2.0
/*
 * apiparse: the API's query parameters as libmicrohttpd hands them over
 * (decoded key/value pairs in request order; a NULL value for a name
 * without '='), the defaults, the limits and each refusal's message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apiparse.h"
#include "check.h"

/* "k=v&k2&k3=" into @q; @buf is modified and must outlive @q. */
static void split(char *buf, struct api_params *q)
{
	char *save = NULL, *tok, *eq;

	memset(q, 0, sizeof(*q));
	for (tok = strtok_r(buf, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
		eq = strchr(tok, '=');
		if (eq)
			*eq++ = 0;
		if (!apiparse__add(q, tok, eq))
			break;
	}
}

/* CPU request @query: 0 and *@ret, or the error's message in @msg. */
static int cpu(const char *query, struct api_cpu_req *ret, char *msg,
	       size_t size)
{
	struct api_params q;
	char buf[512], *err = NULL;
	int r;

	snprintf(buf, sizeof(buf), "%s", query);
	split(buf, &q);
	r = apiparse__cpu(&q, 30, 1000, ret, &err);
	snprintf(msg, size, "%s", err ? err : "");
	free(err);
	return r;
}

static int heap(const char *query, bool window, struct api_heap_req *ret,
		char *msg, size_t size)
{
	struct api_params q;
	char buf[512], *err = NULL;
	int r;

	snprintf(buf, sizeof(buf), "%s", query);
	split(buf, &q);
	r = apiparse__heap(&q, window, 30, ret, &err);
	snprintf(msg, size, "%s", err ? err : "");
	free(err);
	return r;
}

static int threads(const char *query, struct api_threads_req *ret, char *msg,
		   size_t size)
{
	struct api_params q;
	char buf[512], *err = NULL;
	int r;

	snprintf(buf, sizeof(buf), "%s", query);
	split(buf, &q);
	r = apiparse__threads(&q, ret, &err);
	snprintf(msg, size, "%s", err ? err : "");
	free(err);
	return r;
}

/* /debug/pprof/goroutine: pid, debug 0..2, unwind=dwarf; no seconds. */
static void test_threads(void)
{
	struct api_threads_req t;
	char msg[512];

	CHECK(threads("pid=7", &t, msg, sizeof(msg)) == 0 && t.pid == 7 &&
	      t.debug == 0, "%s", msg);
	CHECK(threads("pid=7&debug=1", &t, msg, sizeof(msg)) == 0 && t.debug == 1, "%s", msg);
	CHECK(threads("pid=7&debug=2&unwind=dwarf", &t, msg, sizeof(msg)) == 0 &&
	      t.debug == 2, "%s", msg);
	CHECK(threads("pid=7&debug=3", &t, msg, sizeof(msg)) == -EINVAL &&
	      strstr(msg, "debug"), "%s", msg);
	CHECK(threads("pid=7&unwind=fp", &t, msg, sizeof(msg)) == -EINVAL &&
	      strstr(msg, "unwind=fp"), "%s", msg);
	CHECK(threads("pid=7&seconds=5", &t, msg, sizeof(msg)) == -EINVAL &&
	      strstr(msg, "snapshot"), "%s", msg);
	CHECK(threads("debug=1", &t, msg, sizeof(msg)) == -EINVAL &&
	      strstr(msg, "missing parameter pid"), "%s", msg);
	CHECK(threads("pid=7&hz=9", &t, msg, sizeof(msg)) == -EINVAL &&
	      strstr(msg, "unknown parameter"), "%s", msg);
}

int main(void)
{
	struct api_cpu_req c;
	struct api_heap_req h;
	struct api_params q;
	char msg[512];
	int r, i;

	/* Defaults. */
	r = cpu("pid=42", &c, msg, sizeof(msg));
	CHECK(r == 0 && c.pid == 42 && c.seconds == 30 && c.hz == 99 &&
	      !c.kernel && !c.fp_only, "cpu defaults: %d %s", r, msg);
	r = cpu("pid=42&seconds=5&hz=1000&kernel&unwind=fp&debug=0", &c, msg,
		sizeof(msg));
	CHECK(r == 0 && c.seconds == 5 && c.hz == 1000 && c.kernel && c.fp_only,
	      "cpu all set: %d %s", r, msg);
	r = cpu("pid=42&kernel=false&unwind=dwarf", &c, msg, sizeof(msg));
	CHECK(r == 0 && !c.kernel && !c.fp_only, "kernel=false: %d %s", r, msg);

	/* A window's name, and ending windows early (POST /v1/profile/stop). */
	r = cpu("pid=42&window=a1B2-c_3.x", &c, msg, sizeof(msg));
	CHECK(r == 0 && !strcmp(c.window, "a1B2-c_3.x"), "window: %d %s", r, msg);
	r = cpu("pid=42", &c, msg, sizeof(msg));
	CHECK(r == 0 && !c.window[0], "no window: %d %s", r, msg);
	r = cpu("pid=42&window=a/b", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "bad window \"a/b\""), "window a/b: %d %s", r, msg);
	r = cpu("pid=42&window=", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL, "empty window: %d %s", r, msg);
	r = cpu("pid=42&window=0123456789abcdef0123456789abcdefX", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL, "33-character window: %d %s", r, msg);
	{
		struct api_stop_req sr;
		char buf[64], *err = NULL;

		snprintf(buf, sizeof(buf), "pid=7&window=w1");
		split(buf, &q);
		r = apiparse__stop(&q, &sr, &err);
		CHECK(r == 0 && sr.pid == 7 && !strcmp(sr.window, "w1"), "stop: %d", r);
		snprintf(buf, sizeof(buf), "pid=7");
		split(buf, &q);
		r = apiparse__stop(&q, &sr, &err);
		CHECK(r == 0 && !sr.window[0], "stop without window: %d", r);
		snprintf(buf, sizeof(buf), "pid=7&seconds=1");
		split(buf, &q);
		r = apiparse__stop(&q, &sr, &err);
		CHECK(r == -EINVAL && err && strstr(err, "unknown parameter \"seconds\" (allowed: pid, window)"),
		      "stop seconds=: %d %s", r, err ? err : "");
		free(err);
	}

	/* Refusals, each with the message the API sends. */
	/* No pid: every process (the API lets root alone have it). */
	r = cpu("seconds=3", &c, msg, sizeof(msg));
	CHECK(r == 0 && c.pid == 0 && c.seconds == 3, "no pid: %d %s", r, msg);
	r = cpu("pid", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "missing parameter pid"), "bare pid: %s", msg);
	r = cpu("pid=0", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "bad pid \"0\": want a positive integer\n"),
	      "pid 0: %s", msg);
	r = cpu("pid=2147483648", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "bad pid"), "pid 2^31: %s", msg);
	r = cpu("pid=99999999999999999999", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "bad pid"), "pid 20 digits: %s", msg);
	r = cpu("pid=+5", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "bad pid"), "pid +5: %s", msg);
	r = cpu("pid=1&seconds=31", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "bad seconds \"31\": want an integer from 1 to 30\n"),
	      "seconds 31: %s", msg);
	r = cpu("pid=1&seconds=0", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "bad seconds"), "seconds 0: %s", msg);
	r = cpu("pid=1&hz=1001", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "bad hz \"1001\": want an integer from 1 to 1000\n"),
	      "hz: %s", msg);
	r = cpu("pid=1&kernel=yes", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "bad kernel \"yes\": want 1 or 0\n"),
	      "kernel: %s", msg);
	r = cpu("pid=1&debug=1", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "debug=1: only the protobuf format (debug=0) is served\n"),
	      "debug: %s", msg);
	r = cpu("pid=1&unwind=lbr", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "bad unwind \"lbr\": want dwarf (default) or fp\n"),
	      "unwind: %s", msg);
	r = cpu("pid=1&Pid=2", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "unknown parameter \"Pid\" (allowed: pid, seconds, hz, kernel, unwind, window)\n"),
	      "names are case-sensitive: %s", msg);
	r = cpu("pid=1&hz=5&pid=2", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "parameter \"pid\" given more than once\n"),
	      "dup: %s", msg);
	/* The first offender in request order wins over a later one, and a
	 * name check comes before any value check. */
	r = cpu("pid=x&hz=1&hz=2&zz=1", &c, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "\"hz\" given more than once"),
	      "first offender: %s", msg);

	/* Heap: defaults, with and without a window. */
	r = heap("pid=7", true, &h, msg, sizeof(msg));
	CHECK(r == 0 && h.pid == 7 && h.sample_bytes == 0 && h.seconds == 10 &&
	      !h.fp_only && !h.inproc, "heap defaults: %d %s", r, msg);
	r = heap("pid=7&sample_bytes=1&unwind=fp&mode=inproc&seconds=0&debug=0&gc=1",
		 true, &h, msg, sizeof(msg));
	CHECK(r == 0 && h.sample_bytes == 1 && h.fp_only && h.inproc &&
	      h.seconds == 0, "heap all set: %d %s", r, msg);
	r = heap("pid=7&mode=uprobe", false, &h, msg, sizeof(msg));
	CHECK(r == 0 && !h.inproc, "heap start uprobe: %d %s", r, msg);
	r = heap("pid=7&seconds=1", false, &h, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "unknown parameter \"seconds\" (allowed: pid, sample_bytes, unwind, mode)\n"),
	      "no window, no seconds: %s", msg);
	r = heap("pid=7&x=1", true, &h, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "mode, seconds)"), "window: %s", msg);
	r = heap("", true, &h, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "missing parameter pid: which process\n"),
	      "heap no pid: %s", msg);
	r = heap("pid=7&sample_bytes=0", true, &h, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "bad sample_bytes \"0\""), "sample 0: %s", msg);
	r = heap("pid=7&sample_bytes=1099511627777", true, &h, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "bad sample_bytes"), "sample > 2^40: %s", msg);
	r = heap("pid=7&mode=ptrace", true, &h, msg, sizeof(msg));
	CHECK(r == -EINVAL && strstr(msg, "bad mode \"ptrace\""), "mode: %s", msg);
	r = heap("pid=7&seconds=31", true, &h, msg, sizeof(msg));
	CHECK(r == -EINVAL && !strcmp(msg, "bad seconds \"31\": want an integer from 0 to 30\n"),
	      "heap seconds: %s", msg);

	/* More parameters than are kept: the surplus is past the first
	 * offender, which is still named. */
	memset(&q, 0, sizeof(q));
	for (i = 0; i < 20; i++)
		apiparse__add(&q, i < 3 ? (const char *[]){ "pid", "hz", "seconds" }[i] : "pid",
			      "1");
	CHECK(q.n == API_PARAMS_MAX && q.truncated, "kept %zu", q.n);
	{
		char *err = NULL;

		r = apiparse__cpu(&q, 30, 1000, &c, &err);
		CHECK(r == -EINVAL && err && strstr(err, "\"pid\" given more than once"),
		      "truncated: %s", err ? err : "");
		free(err);
	}
	test_threads();
	return check__done();
}
