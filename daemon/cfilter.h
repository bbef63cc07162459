/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cfilter: which processes continuous mode samples (continuous-include,
 * continuous-exclude). A filter is a comma-separated list of terms:
 *
 *   unit:NAME      the process's systemd unit (service.h: unit, or the
 *                  service name) is NAME ("nginx.service")
 *   cgroup:PATH    its cgroup v2 path is PATH or below it
 *                  ("/system.slice", "/profd-test.slice/web.service")
 *   comm:NAME      its name (/proc/PID/comm) is NAME
 *   uid:N          its real uid is N
 *
 * A process is sampled when the include list is empty or one of its terms
 * matches, and no exclude term matches. Pure (parsed at configuration
 * time, matched once per process when it is first seen).
 */
#ifndef PROFD_CFILTER_H
#define PROFD_CFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CFILTER_MAX_TERMS 64
#define CFILTER_VALUE_MAX 256

enum cfilter_kind {
	CFILTER_UNIT,
	CFILTER_CGROUP,
	CFILTER_COMM,
	CFILTER_UID,
	CFILTER_KIND_MAX,
};

struct cfilter_term {
	enum cfilter_kind kind;
	uid_t uid;
	char value[CFILTER_VALUE_MAX];
};

struct cfilter {
	struct cfilter_term t[CFILTER_MAX_TERMS];
	unsigned n;
};

/* What is known of a process when it is first seen. */
struct cfilter_proc {
	const char *unit;	/* "" when none */
	const char *service;	/* service_name */
	const char *cgroup;	/* "" when unknown */
	const char *comm;
	uid_t uid;
};

/*
 * cfilter__parse() - @text (NULL or "": no terms) into *@ret.
 * Return: 0, or -EINVAL with @err saying which term is bad (*@ret
 * untouched then).
 */
int cfilter__parse(const char *text, struct cfilter *ret, char *err,
		   size_t errsize);

/* Does any term of @f match @p? */
bool cfilter__match(const struct cfilter *f, const struct cfilter_proc *p);

/* Sample @p under @include (empty: everything) and @exclude? */
bool cfilter__wanted(const struct cfilter *include,
		     const struct cfilter *exclude,
		     const struct cfilter_proc *p);

#endif /* PROFD_CFILTER_H */
