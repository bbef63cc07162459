// SPDX-License-Identifier: GPL-2.0
/*
 * history: /v1/history's parameters (history.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

#define NS_PER_S 1000000000LL
/* Unix seconds up to the year 2286; durations up to 400 days. */
#define HISTORY_MAX_EPOCH 9999999999LL
#define HISTORY_MAX_AGO (400LL * 86400)

static int fail(char **ret_err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(char **ret_err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	*ret_err = s;
	return -EINVAL;
}

/* "1764300000" (Unix seconds) or "30m" (ago). */
static int parse_time(const char *v, int64_t now_ns, int64_t *ret)
{
	static const struct { char unit; int64_t s; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	long long n = 0;
	size_t i, len;

	if (!v || !*v)
		return -EINVAL;
	len = strlen(v);
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			break;
		if (n > HISTORY_MAX_EPOCH)
			return -EINVAL;
		n = n * 10 + (v[i] - '0');
	}
	if (!i)
		return -EINVAL;
	if (i == len) {
		if (n > HISTORY_MAX_EPOCH)
			return -EINVAL;
		*ret = (int64_t)n * NS_PER_S;
		return 0;
	}
	if (i + 1 != len)
		return -EINVAL;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (units[u].unit != v[i])
			continue;
		if (n * units[u].s > HISTORY_MAX_AGO)
			return -EINVAL;
		*ret = now_ns - (int64_t)n * units[u].s * NS_PER_S;
		return 0;
	}
	return -EINVAL;
}

int history__parse(const struct api_params *q, int64_t now_ns,
		   struct spool_query *ret, char **ret_err)
{
	struct spool_query r = { .until_ns = now_ns,
				 .since_ns = now_ns - 3600 * NS_PER_S };
	bool seen[5] = {};
	static const char *const names[5] = { "since", "until", "service", "unit", "pid" };
	size_t i, k;

	if (q->truncated)
		return fail(ret_err, "too many parameters (history takes since, until, service, unit, pid)\n");
	for (i = 0; i < q->n; i++) {
		const char *key = q->p[i].key, *v = q->p[i].value;

		for (k = 0; k < 5 && strcmp(key, names[k]); k++)
			;
		if (k == 5)
			return fail(ret_err, "unknown parameter '%.64s' (history takes since, until, service, unit, pid)\n",
				    key);
		if (seen[k])
			return fail(ret_err, "parameter '%s' given twice\n", key);
		seen[k] = true;
		if (!v || !*v)
			return fail(ret_err, "parameter '%s' needs a value\n", key);
		switch (k) {
		case 0:
		case 1:
			if (parse_time(v, now_ns, k ? &r.until_ns : &r.since_ns) < 0)
				return fail(ret_err, "bad %s '%.64s': Unix seconds, or a time ago such as 30m, 2h, 1d\n",
					    key, v);
			break;
		case 2:
			r.service = v;
			break;
		case 3:
			r.unit = v;
			break;
		case 4: {
			char *end;
			long long pid = strtoll(v, &end, 10);

			if (*end || pid < 1 || pid > 4194304 || v[0] == '+')
				return fail(ret_err, "bad pid '%.64s'\n", v);
			r.pid = pid;
			break;
		}
		}
	}
	if (r.since_ns > r.until_ns)
		return fail(ret_err, "since is after until\n");
	*ret = r;
	return 0;
}
