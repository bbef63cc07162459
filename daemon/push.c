// SPDX-License-Identifier: GPL-2.0
/*
 * push: the Pyroscope Push API client and its worker (push.h).
 *
 * Lock order: push->lock, then the spool's (spool calls take it inside).
 * Nothing slow under push->lock: the request is sent without it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "pmerge.h"
#include "pprof_read.h"
#include "push.h"
#include "push.pb-c.h"

#define PUSH_PATH		"/push.v1.PusherService/Push"
#define PUSH_URL_MAX		2048
#define PUSH_SECRET_MAX		4096
#define PUSH_RESPONSE_MAX	4096
#define PUSH_PATH_MAX		4096

/* ------------------------------------------------------------------ */
/* Pure helpers                                                        */

struct label_ref {
	const char *name, *value;
};

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct label_ref *)a)->name,
		      ((const struct label_ref *)b)->name);
}

int push__encode(const struct spool_meta *m, const char *name,
		 const void *profile, size_t len, void **ret_buf, size_t *ret_len)
{
	struct label_ref refs[SPOOL_MAX_LABELS + 3];
	Push__V1__LabelPair pairs[SPOOL_MAX_LABELS + 3], *pp[SPOOL_MAX_LABELS + 3];
	Push__V1__RawSample sample = PUSH__V1__RAW_SAMPLE__INIT, *sp = &sample;
	Push__V1__RawProfileSeries series = PUSH__V1__RAW_PROFILE_SERIES__INIT, *ss = &series;
	Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
	size_t n = 0, i, sz;
	uint8_t *buf;

	if (!name || !name[0] || !m->service[0] || !m->uuid[0] || !len)
		return -EINVAL;
	refs[n++] = (struct label_ref){ "__name__", name };
	refs[n++] = (struct label_ref){ "service_name", m->service };
	/* Each interval is a delta of its own: no differencing. */
	refs[n++] = (struct label_ref){ "__delta__", "false" };
	for (i = 0; i < m->nlabels && i < SPOOL_MAX_LABELS; i++) {
		const char *ln = m->labels[i].name;

		if (!strcmp(ln, "__name__") || !strcmp(ln, "service_name") ||
		    !strcmp(ln, "__delta__"))
			continue;
		refs[n++] = (struct label_ref){ ln, m->labels[i].value };
	}
	qsort(refs, n, sizeof(refs[0]), label_cmp);
	for (i = 0; i < n; i++) {
		push__v1__label_pair__init(&pairs[i]);
		pairs[i].name = (char *)refs[i].name;
		pairs[i].value = (char *)refs[i].value;
		pp[i] = &pairs[i];
	}
	sample.raw_profile.data = (uint8_t *)profile;
	sample.raw_profile.len = len;
	sample.id = (char *)m->uuid;
	series.n_labels = n;
	series.labels = pp;
	series.n_samples = 1;
	series.samples = &sp;
	req.n_series = 1;
	req.series = &ss;
	sz = push__v1__push_request__get_packed_size(&req);
	buf = malloc(sz ? sz : 1);
	if (!buf)
		return -ENOMEM;
	*ret_len = push__v1__push_request__pack(&req, buf);
	*ret_buf = buf;
	return 0;
}

int push__strip_labels(const void *profile, size_t len, const char *const *drop,
		       void **ret_buf, size_t *ret_len)
{
	Perftools__Profiles__Profile *p = NULL;
	struct pmerge *m = NULL;
	int r;

	r = pprof_read__decode(profile, len, &p);
	if (r < 0)
		return r;
	r = pmerge__new(&m);
	if (r < 0)
		goto out;
	pmerge__drop_labels(m, drop);
	r = pmerge__add(m, p, 0);
	if (!r)
		r = pmerge__write(m, ret_buf, ret_len);
out:
	pmerge__free(m);
	pprof_read__free(p);
	return r;
}

enum push_verdict push__verdict(long status, bool conn_error)
{
	if (conn_error || !status)
		return PUSH_RETRY;
	if (status >= 200 && status < 300)
		return PUSH_DONE;
	if (status == 408 || status == 429 || (status >= 500 && status < 600))
		return PUSH_RETRY;
	return PUSH_REJECT;
}

uint64_t push__backoff_ms(unsigned attempt, uint64_t min_ms, uint64_t max_ms,
			  uint64_t rnd)
{
	uint64_t d = min_ms ? min_ms : 1;
	unsigned i;

	if (max_ms < d)
		max_ms = d;
	for (i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d - d / 2 + (d / 2 ? rnd % (d / 2 + 1) : 0);
}

int push__endpoint(const char *base, char *buf, size_t size)
{
	size_t n;

	if (strncasecmp(base, "http://", 7) && strncasecmp(base, "https://", 8))
		return -EINVAL;
	n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	if (n + sizeof(PUSH_PATH) > size)
		return -ENAMETOOLONG;
	memcpy(buf, base, n);
	memcpy(buf + n, PUSH_PATH, sizeof(PUSH_PATH));
	return 0;
}

/* ------------------------------------------------------------------ */
/* The worker                                                          */

/* What one attempt uses: a copy, so a reload never races a send. */
struct push_settings {
	char url[PUSH_URL_MAX];		/* "": push off */
	char ca_file[PUSH_PATH_MAX];
	char auth_header[PUSH_SECRET_MAX + 32];	/* "Authorization: Bearer ..." */
	char userpwd[PUSH_SECRET_MAX];
	char tenant_header[320];
	unsigned connect_timeout_s, timeout_s;
	uint64_t backoff_min_ms, backoff_max_ms;
	const char *drop[3];		/* sample labels not pushed */
};

struct push {
	struct spool *spool;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock;		/* guards all below */
	pthread_cond_t wake;
	bool stop, kicked;
	struct push_settings set;
	uint64_t generation;		/* bumped by reconfigure */
	struct push_stats st;
};

static void secure_zero(void *p, size_t n)
{
	volatile unsigned char *c = p;

	while (n--)
		*c++ = 0;
}

/* Fill @s from @cfg, reading credentials. Logs what is wrong. */
static int settings_from(const struct push_config *cfg, struct push_settings *s)
{
	char secret[PUSH_SECRET_MAX], err[CONFIG_ERR_MAX];
	size_t n;
	int r;

	memset(s, 0, sizeof(*s));
	if (cfg->url && cfg->url[0]) {
		r = push__endpoint(cfg->url, s->url, sizeof(s->url));
		if (r < 0) {
			log_err("push-url %s: want an http:// or https:// URL, at most %d bytes",
				cfg->url, PUSH_URL_MAX - (int)sizeof(PUSH_PATH));
			return r;
		}
	}
	if (cfg->ca_file && snprintf(s->ca_file, sizeof(s->ca_file), "%s",
				     cfg->ca_file) >= (int)sizeof(s->ca_file))
		return -ENAMETOOLONG;
	if (cfg->token_file) {
		r = config__read_secret(cfg->token_file, secret, sizeof(secret),
					err, sizeof(err));
		if (r < 0)
			return log_err_errno(r, "push-token-file %s", err);
		snprintf(s->auth_header, sizeof(s->auth_header),
			 "Authorization: Bearer %s", secret);
	}
	if (cfg->basic_auth_file) {
		r = config__read_secret(cfg->basic_auth_file, secret, sizeof(secret),
					err, sizeof(err));
		if (r == 0 && !strchr(secret, ':')) {
			snprintf(err, sizeof(err), "%s: want one line user:password",
				 cfg->basic_auth_file);
			r = -EINVAL;
		}
		if (r < 0) {
			secure_zero(secret, sizeof(secret));
			return log_err_errno(r, "push-basic-auth-file %s", err);
		}
		snprintf(s->userpwd, sizeof(s->userpwd), "%s", secret);
	}
	secure_zero(secret, sizeof(secret));
	if (cfg->tenant)
		snprintf(s->tenant_header, sizeof(s->tenant_header),
			 "X-Scope-OrgID: %s", cfg->tenant);
	s->connect_timeout_s = cfg->connect_timeout_s ? cfg->connect_timeout_s : 10;
	s->timeout_s = cfg->timeout_s ? cfg->timeout_s : 30;
	s->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms : 500;
	s->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 300000;
	n = 0;
	if (!cfg->keep_pid)
		s->drop[n++] = "pid";
	if (!cfg->keep_tid)
		s->drop[n++] = "tid";
	return 0;
}

struct response {
	char body[PUSH_RESPONSE_MAX];
	size_t len;
	long retry_after_s;
	const bool *stop;		/* push->stop, read atomically */
};

/* Cut a transfer short when profd stops (a slow collector). */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	const struct response *r = ud;

	return __atomic_load_n(r->stop, __ATOMIC_RELAXED) ? 1 : 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct response *r = ud;
	size_t n = size * nmemb, room = sizeof(r->body) - 1 - r->len;

	/* Kept: the start of an error message; the rest is read and
	 * discarded, so a huge answer costs no memory. */
	memcpy(r->body + r->len, ptr, n < room ? n : room);
	r->len += n < room ? n : room;
	r->body[r->len] = 0;
	return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct response *r = ud;
	size_t n = size * nitems;

	if (n > 12 && !strncasecmp(buf, "Retry-After:", 12))
		r->retry_after_s = strtol(buf + 12, NULL, 10);
	return n;
}

/* One POST. The HTTP status in *@ret_status (0: none came). */
static int send_once(const struct push_settings *s, const void *body,
		     size_t len, long *ret_status, struct response *resp,
		     char *err, size_t errsize)
{
	struct curl_slist *hdrs = NULL, *h;
	char ua[64], cerr[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	CURL *c;
	int r = 0;

	*ret_status = 0;
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	snprintf(ua, sizeof(ua), "User-Agent: profd/%s", PROFD_VERSION);
	h = curl_slist_append(hdrs, "Content-Type: application/proto");
	if (h)
		hdrs = h;
	/* Connect's unary protocol over HTTP/1.1. */
	if (h && (h = curl_slist_append(hdrs, "Connect-Protocol-Version: 1")))
		hdrs = h;
	if (h && (h = curl_slist_append(hdrs, ua)))
		hdrs = h;
	if (h && s->auth_header[0] && (h = curl_slist_append(hdrs, s->auth_header)))
		hdrs = h;
	if (h && s->tenant_header[0] && (h = curl_slist_append(hdrs, s->tenant_header)))
		hdrs = h;
	if (!h) {
		r = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, s->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)s->connect_timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)s->timeout_s);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	if (s->userpwd[0]) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, s->userpwd);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, resp);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errsize, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		r = -EIO;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return r;
}

/* The collector's words go to our log: one line, printable. */
static void printable(char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

static void count_error(struct push_stats *st, int code)
{
	uint32_t i;

	for (i = 0; i < st->nerrors; i++)
		if (st->errors[i].code == code) {
			st->errors[i].n++;
			return;
		}
	if (st->nerrors < PUSH_CODES_MAX) {
		st->errors[st->nerrors].code = code;
		st->errors[st->nerrors++].n = 1;
		return;
	}
	st->errors_other++;
}

/* Wait until kicked, stopped or @ms passed. Locked. */
static void wait_locked(struct push *p, uint64_t ms)
{
	struct timespec ts;

	ts = deadline_ts(CLOCK_MONOTONIC, ms);
	while (!p->stop && !p->kicked)
		if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT)
			break;
	p->kicked = false;
}

/* Sleep @ms whatever the kicks (a backoff), unless stopped or reconfigured. */
static void backoff_locked(struct push *p, uint64_t ms)
{
	struct timespec ts;
	uint64_t gen = p->generation;

	ts = deadline_ts(CLOCK_MONOTONIC, ms);
	while (!p->stop && p->generation == gen)
		if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT)
			break;
}

static uint64_t random_u64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint64_t)time(NULL) * 6364136223846793005ULL;
	return v;
}

static void *worker(void *arg)
{
	struct push *p = arg;
	struct push_settings *s;
	char name[SPOOL_NAME_MAX], err[CURL_ERROR_SIZE + 64];
	unsigned attempt = 0, dropped;
	uint64_t streak = 0;

	s = malloc(sizeof(*s));
	if (!s) {
		log_err("push: out of memory: nothing will be pushed");
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct spool_meta m;
		struct response *resp = NULL;
		void *prof = NULL, *body = NULL;
		size_t plen = 0, blen = 0;
		enum push_verdict v;
		long status = 0;
		int r;

		dropped = spool__expire(p->spool,
					(int64_t)now_ns(CLOCK_REALTIME));
		if (dropped)
			log_warn("spool: %u intervals older than spool-max-age dropped", dropped);
		if (!p->set.url[0] || spool__oldest(p->spool, NULL, name) < 0) {
			/* Nothing to send: look again on a kick, and once a
			 * second for the age bound. */
			wait_locked(p, 1000);
			continue;
		}
		*s = p->set;
		pthread_mutex_unlock(&p->lock);

		r = spool__read(p->spool, name, &m, &prof, &plen);
		if (r == -EBADMSG) {
			log_warn("spool: %s is not a whole interval: dropped", name);
			(void)spool__remove(p->spool, name, SPOOL_DROP_CORRUPT);
		}
		if (r < 0) {
			pthread_mutex_lock(&p->lock);
			/* -ENOENT: removed meanwhile (a bound): the next one
			 * at once. Anything else (-EMFILE, -ENOMEM): later. */
			if (r != -ENOENT && r != -EBADMSG)
				wait_locked(p, 1000);
			continue;
		}
		if (s->drop[0]) {
			void *stripped = NULL;
			size_t slen = 0;

			/* Not a pprof: sent as it is, the collector judges. */
			if (push__strip_labels(prof, plen, s->drop, &stripped, &slen) == 0) {
				free(prof);
				prof = stripped;
				plen = slen;
			}
		}
		r = push__encode(&m, "process_cpu", prof, plen, &body, &blen);
		resp = calloc(1, sizeof(*resp));
		if (resp)
			resp->stop = &p->stop;
		err[0] = 0;
		if (r == 0 && resp)
			r = send_once(s, body, blen, &status, resp, err, sizeof(err));
		else if (r == 0)
			r = -ENOMEM;
		if (r < 0 && r != -EIO)
			snprintf(err, sizeof(err), "%s", strerror(-r));
		v = push__verdict(status, r < 0);

		pthread_mutex_lock(&p->lock);
		p->st.attempts++;
		if (v == PUSH_DONE) {
			(void)spool__remove(p->spool, name, -1);
			p->st.pushed++;
			p->st.pushed_bytes += plen;
			if (streak)
				log_info("push: delivered again after %llu failed attempts",
					 (unsigned long long)streak);
			streak = 0;
			attempt = 0;
			p->st.failing = false;
			p->st.backoff_ms = 0;
		} else if (v == PUSH_REJECT) {
			count_error(&p->st, (int)status);
			p->st.rejected++;
			(void)spool__remove(p->spool, name, SPOOL_DROP_REJECTED);
			/* Per interval, at most one a continuous-interval. */
			if (resp)
				printable(resp->body);
			log_warn("push: %s answered %ld for interval %s (%s): dropped, not retried: %.200s",
				 s->url, status, m.uuid, m.service,
				 resp ? resp->body : "");
			attempt = 0;
		} else {
			uint64_t ms;

			count_error(&p->st, (int)status);
			p->st.retries++;
			attempt++;
			ms = push__backoff_ms(attempt, s->backoff_min_ms,
					      s->backoff_max_ms, random_u64());
			if (resp && resp->retry_after_s > 0 &&
			    (uint64_t)resp->retry_after_s * 1000 > ms)
				ms = (uint64_t)resp->retry_after_s * 1000 < s->backoff_max_ms ?
				     (uint64_t)resp->retry_after_s * 1000 : s->backoff_max_ms;
			if (!streak++) {
				if (status)
					log_warn("push: %s answered %ld: retrying with backoff (from %llu ms; one line when delivered again)",
						 s->url, status, (unsigned long long)ms);
				else
					log_warn("push: %s: %s: retrying with backoff (from %llu ms; one line when delivered again)",
						 s->url, err, (unsigned long long)ms);
			}
			p->st.failing = true;
			p->st.backoff_ms = ms;
			backoff_locked(p, ms);
			p->st.backoff_ms = 0;
		}
		free(resp);
		free(body);
		free(prof);
	}
	pthread_mutex_unlock(&p->lock);
	secure_zero(s, sizeof(*s));
	free(s);
	return NULL;
}

int push__new(const struct push_config *cfg, struct spool *spool,
	      struct push **ret)
{
	struct push *p;
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->spool = spool;
	pthread_mutex_init(&p->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&p->wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	r = settings_from(cfg, &p->set);
	if (r < 0)
		goto fail;
	r = -pthread_create(&p->thread, NULL, worker, p);
	if (r < 0)
		goto fail;
	p->started = true;
	*ret = p;
	return 0;
fail:
	push__free(p);
	return r;
}

int push__reconfigure(struct push *p, const struct push_config *cfg)
{
	struct push_settings *s = malloc(sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	r = settings_from(cfg, s);
	if (r == 0) {
		pthread_mutex_lock(&p->lock);
		p->set = *s;
		p->generation++;
		p->kicked = true;
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->lock);
	}
	secure_zero(s, sizeof(*s));
	free(s);
	return r;
}

void push__kick(struct push *p)
{
	pthread_mutex_lock(&p->lock);
	p->kicked = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void push__stats(struct push *p, struct push_stats *ret)
{
	pthread_mutex_lock(&p->lock);
	*ret = p->st;
	pthread_mutex_unlock(&p->lock);
}

void push__free(struct push *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		__atomic_store_n(&p->stop, true, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->lock);
		/* An attempt in flight ends within its timeout. */
		pthread_join(p->thread, NULL);
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	secure_zero(&p->set, sizeof(p->set));
	free(p);
	curl_global_cleanup();
}
