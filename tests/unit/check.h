/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal check helpers for unit tests. Each test binary is one main()
 * that runs CHECK()s, prints one line per failed check, and ends with
 * `return check__done();`, which prints "ok N checks" (or a failure count)
 * and gives the exit code. Include from exactly one file per binary.
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

#endif /* PROFD_CHECK_H */
