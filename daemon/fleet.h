/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fleet: the continuous-collection back end (issue 13) — the spool, the
 * pusher and the labels that travel with every interval — behind one
 * entry point for whatever closes intervals:
 *
 *   fleet__interval_closed(f, &service, start_ns, end_ns, pprof, len)
 *
 * which the interval producer (continuous mode, continuous.c) calls once
 * per service per continuous-interval, from any thread. It spools the
 * interval (atomic, durable) and wakes the pusher. --test-interval-profile
 * FILE stands in for the producer: a thread that closes an interval of
 * that profile every continuous-interval (tests, and trying a collector
 * out).
 *
 * An outer layer: it logs (start-up errors, drops), as main and the API do.
 */
#ifndef PROFD_FLEET_H
#define PROFD_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "push.h"
#include "service.h"
#include "spool.h"

struct fleet;

struct fleet_stats {
	uint64_t intervals_closed;	/* handed to fleet__interval_closed() */
	uint64_t intervals_spool_failed;	/* could not be written */
	bool spool_on, push_on;
	/* SIGHUPs that re-read the remote listener's token and TLS files,
	 * and those that kept the current ones (a bad file or config). */
	uint64_t listen_reloads_ok, listen_reloads_refused;
	struct spool_stats spool;
	struct push_stats push;
};

/*
 * fleet__new() - open the spool and start the pusher as @c says: the
 * spool when push-url, continuous or test-interval-profile is set, the
 * pusher when push-url is. Logs what fails. 0 with *@ret (never NULL), or
 * -errno.
 */
int fleet__new(const struct fleet_config *c, struct fleet **ret);

/*
 * fleet__reload() - take a re-read configuration: push settings and
 * credentials, spool bounds, host label. The spool directory and whether
 * the spool and the pusher run at all change only with a restart (logged).
 * 0 or -errno (logged; the old settings stay).
 */
int fleet__reload(struct fleet *f, const struct fleet_config *c);

/**
 * fleet__interval_closed() - one service's interval is complete.
 * @svc: who (service.h): service_name, unit, container_id, pod_uid become
 *       the series' labels, with host.
 * @start_ns, @end_ns: the interval, wall clock.
 * @pprof, @len: its gzip pprof (copied to disk before return).
 * Return: 0, -ENODEV (no spool configured), or spool__put()'s -errno.
 */
int fleet__interval_closed(struct fleet *f, const struct service_id *svc,
			   int64_t start_ns, int64_t end_ns,
			   const void *pprof, size_t len);

void fleet__stats(struct fleet *f, struct fleet_stats *ret);

/* Count a reload of the remote listener's credentials (main_listen.c). */
void fleet__count_listen_reload(struct fleet *f, bool ok);

/* The spool, for history queries; NULL when off. Lives as long as @f. */
struct spool *fleet__spool(struct fleet *f);

void fleet__free(struct fleet *f);	/* NULL ok */

#endif /* PROFD_FLEET_H */
