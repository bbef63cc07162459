/* SPDX-License-Identifier: GPL-2.0 */
/*
 * push: deliver spooled intervals to Grafana Pyroscope's Push API (issue
 * 13): POST {push-url}/push.v1.PusherService/Push, Content-Type
 * application/proto, a PushRequest (proto/push.proto) with one series per
 * interval — labels __name__ (process_cpu), service_name, __delta__=false
 * and the interval's own (host, unit, ...) — and one RawSample: the gzip
 * pprof and the interval's UUID, so that a retry is not a duplicate.
 *
 * One worker thread sends the spool's oldest entry, always the oldest
 * first, and removes it after a 2xx. 408, 429, 5xx and connection errors
 * are retried with exponential backoff and jitter (Retry-After honoured up
 * to the maximum); any other status is the collector's final word: the
 * interval is dropped from the spool and counted (SPOOL_DROP_REJECTED).
 * One log line when a failure streak begins and one when it ends, not one
 * per retry. Memory: one interval and its request at a time.
 *
 * TLS is verified (libcurl's defaults; push-ca-file for a private CA),
 * redirects are not followed, only http and https are spoken. Credentials
 * (a Bearer token or Basic user:password) are read from files at start
 * and on reload, kept in memory, never logged.
 */
#ifndef PROFD_PUSH_H
#define PROFD_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool.h"

struct push;

struct push_config {
	const char *url;		/* base URL; NULL: nothing is pushed */
	const char *ca_file;		/* NULL: the system's CAs */
	const char *token_file;		/* Bearer token; NULL: none */
	const char *basic_auth_file;	/* "user:password"; NULL: none */
	const char *tenant;		/* X-Scope-OrgID; NULL: none */
	unsigned connect_timeout_s;	/* 0: 10 */
	unsigned timeout_s;		/* whole request; 0: 30 */
	uint64_t backoff_min_ms;	/* 0: 500 */
	uint64_t backoff_max_ms;	/* 0: 300000 (Alloy's 5 min) */
	/* Sample labels kept in pushed profiles (push-labels): backends
	 * split series by them, so pid and tid are left out unless asked
	 * for; the spool keeps them all. */
	bool keep_pid, keep_tid;
};

/* HTTP statuses counted one by one; others in one "other" slot. */
#define PUSH_CODES_MAX	16

struct push_code_count {
	int code;			/* HTTP status; 0: connection error */
	uint64_t n;
};

struct push_stats {
	uint64_t pushed, pushed_bytes;	/* 2xx answers, raw_profile bytes */
	uint64_t attempts, retries, rejected;
	struct push_code_count errors[PUSH_CODES_MAX];
	uint32_t nerrors;
	uint64_t errors_other;		/* codes beyond PUSH_CODES_MAX */
	bool failing;			/* in a failure streak now */
	uint64_t backoff_ms;		/* the current wait, 0 when none */
};

enum push_verdict {
	PUSH_DONE,	/* 2xx: delivered */
	PUSH_RETRY,	/* 408, 429, 5xx, connection errors: again later */
	PUSH_REJECT,	/* any other answer: dropped, counted */
};

/* Pure helpers (unit-tested). */

/**
 * push__encode() - the PushRequest for one interval.
 * @name: the profile type label (__name__), e.g. "process_cpu".
 * Labels are sorted by name; meta labels named __name__, service_name or
 * __delta__ are ignored (those three are set here).
 * Return: 0 with a malloc'd *@ret_buf, or -ENOMEM / -EINVAL.
 */
int push__encode(const struct spool_meta *m, const char *name,
		 const void *profile, size_t len, void **ret_buf, size_t *ret_len);

/**
 * push__strip_labels() - @profile (gzip pprof) without the sample labels
 * named in @drop (NULL-terminated), samples that then match added up
 * (pmerge.h), gzip'd again into a malloc'd *@ret_buf.
 * Return: 0, -EINVAL (not a pprof), -ENOMEM.
 */
int push__strip_labels(const void *profile, size_t len, const char *const *drop,
		       void **ret_buf, size_t *ret_len);

/* @status: the HTTP status, 0 when none came (@conn_error set). */
enum push_verdict push__verdict(long status, bool conn_error);

/*
 * push__backoff_ms() - wait before attempt @attempt (1: the first retry):
 * min * 2^(attempt-1) capped at max, then "equal jitter": half of it plus
 * @rnd mod the other half, so retries of many hosts spread out.
 */
uint64_t push__backoff_ms(unsigned attempt, uint64_t min_ms, uint64_t max_ms,
			  uint64_t rnd);

/*
 * push__endpoint() - "{base}/push.v1.PusherService/Push" (one slash), into
 * @buf. 0, -EINVAL (not http:// or https://) or -ENAMETOOLONG.
 */
int push__endpoint(const char *base, char *buf, size_t size);

/* The daemon side. */

/**
 * push__new() - start the worker.
 * @spool: where intervals wait; outlives the pusher.
 * Return: 0, -EINVAL (bad URL), or the credential file's -errno (logged).
 */
int push__new(const struct push_config *cfg, struct spool *spool,
	      struct push **ret);

/* New settings (a reload), taken before the next attempt. 0 or -errno. */
int push__reconfigure(struct push *p, const struct push_config *cfg);

/* A new interval is in the spool: send now (cuts no backoff short). */
void push__kick(struct push *p);

void push__stats(struct push *p, struct push_stats *ret);

/* Stop the worker (an attempt in flight is cut off) and free. NULL ok. */
void push__free(struct push *p);

#endif /* PROFD_PUSH_H */
