// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the HTTP API's query parameters (daemon/apiparse.c).
 *
 * Input: a URL's query string, as a client sends it after the '?'. It is
 * split and decoded the way libmicrohttpd does before api.c sees it
 * ('&' between parameters, the first '=' between name and value, a name
 * without '=' has a NULL value, '+' is a space, %XX through MHD's own
 * MHD_http_unescape), then checked by every endpoint's parser. Besides
 * the sanitizers, the harness checks each answer's contract: a request is
 * either accepted with every value in its range, or refused with a
 * one-line message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "apiparse.h"

#define MAX_SECONDS 600		/* profd's defaults (main.c) */
#define MAX_HZ 1000

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void unescape_plus(char *s)
{
	for (; *s; s++)
		if (*s == '+')
			*s = ' ';
}

static char *decode(char *s)
{
	unescape_plus(s);
	MHD_http_unescape(s);
	return s;
}

/* As MHD_parse_arguments_() in libmicrohttpd's connection.c. */
static void split(char *args, struct api_params *q)
{
	memset(q, 0, sizeof(*q));
	while (args && *args) {
		char *equals = strchr(args, '='), *amper = strchr(args, '&');
		char *key = args, *value = NULL;

		if (amper) {
			*amper++ = 0;
			if (equals >= amper)
				equals = NULL;
		}
		if (equals) {
			*equals++ = 0;
			value = decode(equals);
		}
		if (!apiparse__add(q, decode(key), value))
			return;
		args = amper;
	}
}

static bool has_key(const struct api_params *q, const char *key)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (!strcmp(q->p[i].key, key))
			return true;
	return false;
}

static void check_error(int r, char *err)
{
	if (r == -ENOMEM)
		return;
	require(r == -EINVAL && err);
	require(strlen(err) > 0 && err[strlen(err) - 1] == '\n');
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_params q;
	struct api_cpu_req c;
	struct api_heap_req h;
	struct api_stop_req sr;
	char *buf, *err;
	int r, window;

	if (size > 65536)	/* MHD's memory limit is 32 KB per connection */
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;		/* a URL is a C string: it ends at a NUL */
	split(buf, &q);

	err = NULL;
	r = apiparse__cpu(&q, MAX_SECONDS, MAX_HZ, &c, &err);
	if (r == 0) {
		require(!err);
		/* No pid at all: every process (root only, api.c decides). */
		require(c.pid >= 1 || (c.pid == 0 && !has_key(&q, "pid")));
		require(c.seconds >= 1 && c.seconds <= MAX_SECONDS);
		require(c.hz >= 1 && c.hz <= MAX_HZ);
		require(strlen(c.window) <= API_WINDOW_MAX);
	} else {
		check_error(r, err);
	}
	err = NULL;
	r = apiparse__stop(&q, &sr, &err);
	if (r == 0) {
		require(!err);
		require(sr.pid >= 1);
		require(strlen(sr.window) <= API_WINDOW_MAX);
	} else {
		check_error(r, err);
	}
	{
		struct api_threads_req t;

		err = NULL;
		r = apiparse__threads(&q, &t, &err);
		if (r == 0) {
			require(!err);
			require(t.pid >= 1 && t.debug <= 2);
		} else {
			check_error(r, err);
		}
	}
	for (window = 0; window < 2; window++) {
		err = NULL;
		r = apiparse__heap(&q, window, MAX_SECONDS, &h, &err);
		if (r == 0) {
			require(!err);
			require(h.pid >= 1);
			require(h.sample_bytes <= 1ULL << 40);
			require(h.seconds <= MAX_SECONDS);
		} else {
			check_error(r, err);
		}
	}
	free(buf);
	return 0;
}
