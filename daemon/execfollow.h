/* SPDX-License-Identifier: GPL-2.0 */
/*
 * execfollow: what a window does when its process executes another
 * program (same pid, a new image, execwatch.h). Access is bound to the
 * image (target.h): the caller is checked again against the new one, and
 * only for an image they may profile are its mappings captured, as at a
 * window's start. One decision for CPU windows (session_sample.c's
 * check_exec()) and wait windows (offcpu.c): the same steps, in the same
 * order and with the same wording, for both.
 */
#ifndef PROFD_EXECFOLLOW_H
#define PROFD_EXECFOLLOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "execwatch.h"
#include "proc.h"
#include "target.h"

/*
 * execfollow__check() - may @uid see image @image of @t's process, and
 * if so its process as of that image (a reference in *@ret_proc, NULL on
 * failure). Always writes what happened into @why (the profile's
 * comment: "the process executed a new program (COMM)", or why it is
 * left out). 0; -EACCES or -EPERM (denied); -ESTALE (the process moved
 * past @image before it could be checked: nobody can tell what it was,
 * so it is denied); -ESRCH; -errno. Slow (reads /proc, opens binaries):
 * call without locks held. @t is not changed.
 */
int execfollow__check(const struct target *t, uid_t uid, uint64_t image,
		      struct proc_cache *pc, struct execwatch *w,
		      struct proc **ret_proc, char *why, size_t size);
/* @why for an exec that could not be checked (-errno @err: the caller's
 * target__dup(), or execfollow__check()'s own): denied as such. The one
 * wording. Returns @err. */
int execfollow__unchecked(int err, char *why, size_t size);

#endif /* PROFD_EXECFOLLOW_H */
