// SPDX-License-Identifier: GPL-2.0
/*
 * fleet: spool + pusher + labels (fleet.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fleet.h"
#include "log.h"

struct fleet {
	struct spool *spool;
	struct push *push;

	pthread_mutex_t lock;		/* guards host and the counters */
	char host[SPOOL_LABEL_VALUE_MAX];
	uint64_t closed, spool_failed;
	uint64_t listen_reloads_ok, listen_reloads_refused;

	/* --test-interval-profile */
	pthread_t test_thread;
	bool test_started;
	pthread_cond_t test_wake;
	bool stop;
	void *test_buf;
	size_t test_len;
	unsigned interval_s;
};

static void host_from(const struct fleet_config *c, char *host, size_t size)
{
	size_t i;

	if (c->host_label) {
		snprintf(host, size, "%s", c->host_label);
		return;
	}
	if (gethostname(host, size) < 0 || !host[0])
		snprintf(host, size, "unknown");
	host[size - 1] = 0;
	for (i = 0; host[i]; i++)
		if (host[i] < 0x20 || host[i] > 0x7e)
			host[i] = '_';
}

static void push_config_from(const struct fleet_config *c, struct push_config *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->url = c->push_url;
	pc->ca_file = c->push_ca_file;
	pc->token_file = c->push_token_file;
	pc->basic_auth_file = c->push_basic_auth_file;
	pc->tenant = c->tenant;
	pc->keep_pid = c->push_label_pid;
	pc->keep_tid = c->push_label_tid;
	/* Tests shorten the first backoff (PROFD_TEST_BACKOFF_MS) and its
	 * cap (PROFD_TEST_BACKOFF_MAX_MS: a 2-minute outage would otherwise
	 * end in a wait of up to 102 s from a 200 ms start). */
	if (getenv("PROFD_TEST_BACKOFF_MS"))
		pc->backoff_min_ms = strtoull(getenv("PROFD_TEST_BACKOFF_MS"), NULL, 10);
	if (getenv("PROFD_TEST_BACKOFF_MAX_MS"))
		pc->backoff_max_ms = strtoull(getenv("PROFD_TEST_BACKOFF_MAX_MS"), NULL, 10);
}

static void spool_limits_from(const struct fleet_config *c, struct spool_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->max_bytes = c->spool_max_bytes;
	l->max_age_ns = c->spool_max_age_s * 1000000000ULL;
}

/* The stand-in producer: the test profile, one interval a period. */
static void *test_producer(void *arg)
{
	struct fleet *f = arg;
	struct service_id svc;
	struct timespec ts;
	int64_t start = (int64_t)now_ns(CLOCK_REALTIME), end;
	int r;

	(void)service__from_cgroup("/system.slice/profd-test.service", NULL,
				   false, &svc);
	pthread_mutex_lock(&f->lock);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	while (!f->stop) {
		ts.tv_sec += f->interval_s;
		while (!f->stop && pthread_cond_timedwait(&f->test_wake, &f->lock,
							  &ts) != ETIMEDOUT)
			;
		if (f->stop)
			break;
		pthread_mutex_unlock(&f->lock);
		end = (int64_t)now_ns(CLOCK_REALTIME);
		r = fleet__interval_closed(f, &svc, start, end, f->test_buf,
					   f->test_len);
		if (r < 0)
			log_warn("test interval: %s", strerror(-r));
		start = end;
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static int read_test_profile(const char *path, void **ret, size_t *ret_len)
{
	struct stat st;
	ssize_t n;
	void *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > SPOOL_ENTRY_MAX_BYTES) {
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return -EIO;
	}
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

int fleet__new(const struct fleet_config *c, struct fleet **ret)
{
	const char *dir = c->spool_dir ? c->spool_dir : CONFIG_DEFAULT_SPOOL;
	struct spool_limits lim;
	struct push_config pc;
	struct fleet *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&f->test_wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	host_from(c, f->host, sizeof(f->host));
	f->interval_s = c->continuous_interval_s;
	if (c->push_url || c->continuous || c->test_interval_profile) {
		spool_limits_from(c, &lim);
		r = spool__open(dir, &lim, &f->spool);
		if (r < 0) {
			if (r == -EPERM)
				log_err("spool-dir %s: owned by another user or writable by group or others: refused (chmod 0700, chown root)",
					dir);
			else
				log_err_errno(r, "Failed to open the spool %s: %m (spool-dir)", dir);
			goto fail;
		}
		log_info("spool %s: bounded by %llu MiB and %llu s", dir,
			 (unsigned long long)(c->spool_max_bytes >> 20),
			 (unsigned long long)c->spool_max_age_s);
	}
	if (c->push_url) {
		push_config_from(c, &pc);
		r = push__new(&pc, f->spool, &f->push);
		if (r < 0)
			goto fail;	/* logged */
		log_info("pushing intervals to %s", c->push_url);
	}
	if (c->test_interval_profile) {
		r = read_test_profile(c->test_interval_profile, &f->test_buf, &f->test_len);
		if (r < 0) {
			log_err_errno(r, "test-interval-profile %s: %m", c->test_interval_profile);
			goto fail;
		}
		r = -pthread_create(&f->test_thread, NULL, test_producer, f);
		if (r < 0)
			goto fail;
		f->test_started = true;
		log_info("test: closing an interval of %s every %u s",
			 c->test_interval_profile, f->interval_s);
	}
	*ret = f;
	return 0;
fail:
	fleet__free(f);
	return r;
}

int fleet__reload(struct fleet *f, const struct fleet_config *c)
{
	struct spool_limits lim;
	struct push_config pc;
	int r = 0;

	if (!!c->push_url != !!f->push)
		log_warn("reload: push-url %s: takes effect at the next restart",
			 c->push_url ? "set" : "removed");
	if (f->push && c->push_url) {
		push_config_from(c, &pc);
		r = push__reconfigure(f->push, &pc);
		if (r < 0)
			return r;	/* logged; the old settings stay */
	}
	if (f->spool) {
		spool_limits_from(c, &lim);
		spool__set_limits(f->spool, &lim);
		if (f->push)
			push__kick(f->push);
	}
	pthread_mutex_lock(&f->lock);
	host_from(c, f->host, sizeof(f->host));
	pthread_mutex_unlock(&f->lock);
	return r;
}

static void add_label(struct spool_meta *m, const char *name, const char *value)
{
	if (!value || !value[0] || m->nlabels >= SPOOL_MAX_LABELS)
		return;
	snprintf(m->labels[m->nlabels].name, SPOOL_LABEL_NAME_MAX, "%s", name);
	snprintf(m->labels[m->nlabels].value, SPOOL_LABEL_VALUE_MAX, "%s", value);
	m->nlabels++;
}

int fleet__interval_closed(struct fleet *f, const struct service_id *svc,
			   int64_t start_ns, int64_t end_ns,
			   const void *pprof, size_t len)
{
	struct spool_meta *m;
	unsigned dropped = 0;
	int r;

	if (!f->spool)
		return -ENODEV;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	r = spool__uuid(m->uuid);
	if (r < 0)
		goto out;
	snprintf(m->service, sizeof(m->service), "%s", svc->service_name);
	m->start_ns = start_ns;
	m->end_ns = end_ns;
	pthread_mutex_lock(&f->lock);
	add_label(m, "host", f->host);
	f->closed++;
	pthread_mutex_unlock(&f->lock);
	add_label(m, "unit", svc->unit);
	add_label(m, "container_id", svc->container_id);
	add_label(m, "pod_uid", svc->pod_uid);
	r = spool__put(f->spool, m, pprof, len, &dropped);
	if (dropped)
		log_warn("spool: %u oldest intervals dropped to make room (spool-max-bytes, or the file system is full: profd_intervals_dropped_total in /metrics)", dropped);
	if (r < 0) {
		pthread_mutex_lock(&f->lock);
		f->spool_failed++;
		pthread_mutex_unlock(&f->lock);
		log_warn("spool: interval of %s not written: %s", m->service,
			 strerror(-r));
		goto out;
	}
	if (f->push)
		push__kick(f->push);
out:
	free(m);
	return r;
}

void fleet__stats(struct fleet *f, struct fleet_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&f->lock);
	ret->intervals_closed = f->closed;
	ret->intervals_spool_failed = f->spool_failed;
	ret->listen_reloads_ok = f->listen_reloads_ok;
	ret->listen_reloads_refused = f->listen_reloads_refused;
	pthread_mutex_unlock(&f->lock);
	ret->spool_on = f->spool;
	ret->push_on = f->push;
	if (f->spool)
		spool__stats(f->spool, &ret->spool);
	if (f->push)
		push__stats(f->push, &ret->push);
}

void fleet__count_listen_reload(struct fleet *f, bool ok)
{
	pthread_mutex_lock(&f->lock);
	if (ok)
		f->listen_reloads_ok++;
	else
		f->listen_reloads_refused++;
	pthread_mutex_unlock(&f->lock);
}

struct spool *fleet__spool(struct fleet *f)
{
	return f->spool;
}

void fleet__free(struct fleet *f)
{
	if (!f)
		return;
	if (f->test_started) {
		pthread_mutex_lock(&f->lock);
		f->stop = true;
		pthread_cond_broadcast(&f->test_wake);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->test_thread, NULL);
	}
	push__free(f->push);
	spool__free(f->spool);
	free(f->test_buf);
	pthread_cond_destroy(&f->test_wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
