// SPDX-License-Identifier: GPL-2.0
/*
 * history: /v1/history's parameters — defaults (the last hour), Unix
 * seconds and times ago, filters, and the 400s.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "history.h"

#define S 1000000000LL
static const int64_t NOW = 1764300000LL * S;

static int parse(struct spool_query *r, char **err, int n, ...)
{
	struct api_params q = {};
	va_list ap;
	int i;

	va_start(ap, n);
	for (i = 0; i < n; i++) {
		const char *k = va_arg(ap, const char *), *v = va_arg(ap, const char *);

		apiparse__add(&q, k, v);
	}
	va_end(ap);
	*err = NULL;
	return history__parse(&q, NOW, r, err);
}

int main(void)
{
	struct spool_query r;
	char *err;

	CHECK(parse(&r, &err, 0) == 0 && r.until_ns == NOW && r.since_ns == NOW - 3600 * S &&
	      !r.service && !r.unit && !r.pid, "");
	CHECK(parse(&r, &err, 2, "since", "30m", "service", "nginx.service") == 0 &&
	      r.since_ns == NOW - 1800 * S && !strcmp(r.service, "nginx.service"), "");
	CHECK(parse(&r, &err, 3, "since", "1764290000", "until", "1764299000", "pid", "42") == 0 &&
	      r.since_ns == 1764290000LL * S && r.until_ns == 1764299000LL * S && r.pid == 42, "");
	CHECK(parse(&r, &err, 1, "unit", "a.service") == 0 && !strcmp(r.unit, "a.service"), "");
	CHECK(parse(&r, &err, 1, "since", "2d") == 0 && r.since_ns == NOW - 2 * 86400 * S, "");

	CHECK(parse(&r, &err, 1, "since", "soon") == -EINVAL && err && strstr(err, "bad since"), "%s", err);
	free(err);
	CHECK(parse(&r, &err, 1, "since", "30x") == -EINVAL, "");
	free(err);
	CHECK(parse(&r, &err, 1, "since", "99999999999999999999") == -EINVAL, "");
	free(err);
	CHECK(parse(&r, &err, 1, "since", "1000d") == -EINVAL, "");
	free(err);
	CHECK(parse(&r, &err, 2, "since", "1m", "until", "2h") == -EINVAL && strstr(err, "after"), "%s", err);
	free(err);
	CHECK(parse(&r, &err, 1, "pid", "0") == -EINVAL, "");
	free(err);
	CHECK(parse(&r, &err, 1, "pid", "") == -EINVAL, "");
	free(err);
	CHECK(parse(&r, &err, 2, "pid", "1", "pid", "2") == -EINVAL && strstr(err, "twice"), "");
	free(err);
	CHECK(parse(&r, &err, 1, "seconds", "5") == -EINVAL && strstr(err, "unknown"), "");
	CHECK(err && err[strlen(err) - 1] == '\n', "");
	free(err);
	return check__done();
}
