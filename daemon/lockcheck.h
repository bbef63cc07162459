/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lockcheck: "the caller holds this lock", asserted in debug builds (the
 * sanitizer and ThreadSanitizer builds define PROFD_LOCK_CHECK), nothing
 * otherwise. For functions whose comment says "Under lock": a caller that
 * forgot it aborts with the function and lock named, where ThreadSanitizer
 * would only report a race if two threads happened to meet there.
 *
 * How: glibc records the owner's thread id in every mutex it locks
 * (__data.__owner, for normal mutexes too), and only the owner writes it,
 * so reading it races with nothing that could make it equal the caller's
 * id. What it costs: a gettid() system call per check, in debug builds.
 */
#ifndef PROFD_LOCKCHECK_H
#define PROFD_LOCKCHECK_H

#include <pthread.h>

#ifdef PROFD_LOCK_CHECK
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define lock__assert_held(m)						\
	do {								\
		if ((m)->__data.__owner != gettid()) {			\
			fprintf(stderr, "%s:%d: %s: %s not held\n",	\
				__FILE__, __LINE__, __func__, #m);	\
			abort();					\
		}							\
	} while (0)
#else
#define lock__assert_held(m) ((void)(m))
#endif

#endif /* PROFD_LOCKCHECK_H */
