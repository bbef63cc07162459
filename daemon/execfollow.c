// SPDX-License-Identifier: GPL-2.0
/* execfollow: a window's process executed another program (execfollow.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "execfollow.h"

int execfollow__check(const struct target *t, uid_t uid, uint64_t image,
		      struct proc_cache *pc, struct execwatch *w,
		      struct proc **ret_proc, char *why, size_t size)
{
	struct proc_ids ids = {};
	struct proc *fresh = NULL;
	uid_t owner = 0;
	uint64_t now;
	int r;

	*ret_proc = NULL;
	r = target__check_image(t, uid, image, &ids, &owner);
	if (r == 0)
		r = proc__get(pc, t->ref.pid, t->ref.dirfd, t->ids.start_time,
			      image, &fresh);
	/* Its maps were the image checked's? (Another exec since: no.) */
	if (r == 0 && (execwatch__image(w, t->ref.pid, &now, NULL) < 0 ||
		       now != image))
		r = -ESTALE;
	if (r == -EACCES)
		snprintf(why, size,
			 "the process executed a program of uid %u, which uid %u may not profile",
			 (unsigned)owner, (unsigned)uid);
	else if (r == -EPERM)
		snprintf(why, size,
			 "the process executed a program uid %u may not profile (set-user-ID, set-group-ID or not dumpable)",
			 (unsigned)uid);
	else if (r < 0)
		(void)execfollow__unchecked(r, why, size);
	else
		snprintf(why, size, "the process executed a new program (%s)",
			 ids.comm);
	if (r < 0) {
		proc__put(fresh);
		return r;
	}
	*ret_proc = fresh;
	return 0;
}

int execfollow__unchecked(int err, char *why, size_t size)
{
	snprintf(why, size,
		 "the process executed a program that could not be checked (%s)",
		 err == -ESTALE ? "it executed another one before" :
				  strerror(-err));
	return err;
}
