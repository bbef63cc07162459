/* SPDX-License-Identifier: GPL-2.0 */
/*
 * history: GET /v1/history's parameters, checked and converted without a
 * server (as apiparse does for the profile endpoints). Pure.
 *
 *   since=T   start of the window: Unix seconds, or a duration ago with a
 *             unit (30s, 30m, 2h, 1d); default one hour ago
 *   until=T   end, the same forms; default now
 *   service=NAME, unit=UNIT, pid=P   only those intervals (pid: samples)
 */
#ifndef PROFD_HISTORY_H
#define PROFD_HISTORY_H

#include "apiparse.h"
#include "spool.h"

/**
 * history__parse() - @q into *@ret (strings borrowed from @q).
 * @now_ns: wall clock, for relative times.
 * Return: 0, -EINVAL with a malloc'd one-line *@ret_err (newline-ended)
 * for a 400, -ENOMEM.
 */
int history__parse(const struct api_params *q, int64_t now_ns,
		   struct spool_query *ret, char **ret_err);

#endif /* PROFD_HISTORY_H */
