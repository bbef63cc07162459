/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal check helpers for unit tests. Each test binary is one main()
 * that runs CHECK()s, prints one line per failed check, and ends with
 * `return check__done();`, which prints "ok N checks" (or a failure count)
 * and gives the exit code (or `return check__skip("why")`). Include from
 * exactly one file per binary.
 */
#ifndef PROFD_CHECK_H
#define PROFD_CHECK_H

#include <stdio.h>

static unsigned int check__n, check__failed;

#define CHECK(cond, fmt, ...)						\
	do {								\
		check__n++;						\
		if (!(cond)) {						\
			check__failed++;				\
			printf("%s:%d: check failed: %s: " fmt "\n",	\
			       __FILE__, __LINE__, #cond, ##__VA_ARGS__); \
		}							\
	} while (0)

static inline __attribute__((unused)) int check__done(void)
{
	if (check__failed) {
		printf("FAILED %u of %u checks\n", check__failed, check__n);
		return 1;
	}
	printf("ok %u checks\n", check__n);
	return 0;
}

/*
 * A binary that cannot run here (the environment lacks what it needs) says
 * why on one line and exits with 77, automake's "skipped": run.sh counts it
 * as skipped, not as passed or failed.
 */
#define CHECK_EXIT_SKIP 77
static inline __attribute__((unused)) int check__skip(const char *why)
{
	printf("SKIP: %s\n", why);
	return CHECK_EXIT_SKIP;
}

#endif /* PROFD_CHECK_H */
