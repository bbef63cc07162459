/* SPDX-License-Identifier: GPL-2.0 */
/*
 * target: a process as profd acts on it for a caller. Held by a pidref
 * (a pidfd and its /proc directory, opened at the check: a recycled pid
 * is never touched) and bound to the program image the caller was
 * checked against (execwatch: an exec moves the process to an image the
 * caller was not checked against). Every CPU window, heap tracking generation
 * and in-process agent holds one.
 */
#ifndef PROFD_TARGET_H
#define PROFD_TARGET_H

#include <stdint.h>
#include <sys/types.h>

#include "execwatch.h"
#include "proc.h"

struct target {
	struct pidref ref;
	uint64_t image;			/* execwatch count of the image checked */
	uint64_t execs;			/* execs before it */
	struct proc_ids ids;		/* as read for the check */
	struct execwatch *w;		/* watching ref.pid while held */
};

#define TARGET_NONE ((struct target){ .ref = PIDREF_NONE })

/*
 * target__bind() - open process @pid and check @uid against the image it
 * runs (access__check_image()). 0; -ESRCH (no such process); -EACCES or
 * -EPERM with *@ret_owner as access__check_image() says; -EAGAIN (an exec
 * under way did not end within a second); -ENOSPC (too many processes
 * watched); -errno. Slow: reads /proc and may wait out an exec.
 */
int target__bind(struct execwatch *w, pid_t pid, uid_t uid,
		 struct target *ret, uid_t *ret_owner);

/*
 * target__current() - 0 while the process lives and runs the image it was
 * bound to; -ESTALE once it has executed another program (or is doing so
 * now), even if it has ended since; -ESRCH once it has ended otherwise.
 */
int target__current(const struct target *t);

/*
 * target__check_image() - may @uid see image @image of @t's process (one
 * an exec brought)? Reads the credentials now and answers for @image only
 * when that is still the image running: 0; -EACCES or -EPERM (*@ret_owner
 * set); -ESTALE (the process moved on, or is moving, before @image could
 * be checked: nobody can tell now); -ESRCH. The identity read in
 * *@ret_ids (may be NULL). One attempt, no waiting.
 */
int target__check_image(const struct target *t, uid_t uid, uint64_t image,
			struct proc_ids *ret_ids, uid_t *ret_owner);

/* A second hold on the same process and image (fds and watch of its own). */
int target__dup(const struct target *t, struct target *ret);
/* Let go (fds, watch). TARGET_NONE and released ones are fine. */
void target__release(struct target *t);

#endif /* PROFD_TARGET_H */
