// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <time.h>

#include "access.h"
#include "target.h"

/* An exec takes a few milliseconds; waiting longer means something odd. */
#define SETTLE_TRIES 200
#define SETTLE_PAUSE_NS (5 * 1000 * 1000)

/*
 * The identity of the image running now: the execwatch count read on both
 * sides of the /proc reads, unchanged and with no exec under way, names
 * the image whose credentials were read. 0, -EAGAIN (an exec under way or
 * done meanwhile), -ESRCH, -errno.
 */
static int read_image(const struct target *t, struct proc_ids *ids,
		      uint64_t *ret_image, uint64_t *ret_execs)
{
	uint64_t a, b, execs;
	int r;

	r = execwatch__image(t->w, t->ref.pid, &a, &execs);
	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	r = proc__read_ids_at(t->ref.dirfd, ids);
	if (r < 0)
		return r;
	r = execwatch__image(t->w, t->ref.pid, &b, NULL);
	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	if (a != b)
		return -EAGAIN;
	if (!pidref__alive(&t->ref))
		return -ESRCH;
	*ret_image = a;
	if (ret_execs)
		*ret_execs = execs;
	return 0;
}

int target__bind(struct execwatch *w, pid_t pid, uid_t uid,
		 struct target *ret, uid_t *ret_owner)
{
	struct timespec pause = { 0, SETTLE_PAUSE_NS };
	struct target t = TARGET_NONE;
	int r, tries;

	/* Watched first, so that an exec during the check is counted. */
	r = execwatch__add(w, pid);
	if (r < 0)
		return r;
	t.w = w;
	t.ref.pid = pid;
	r = pidref__open(pid, &t.ref);
	if (r < 0)
		goto fail;
	for (tries = 0; tries < SETTLE_TRIES; tries++) {
		r = read_image(&t, &t.ids, &t.image, &t.execs);
		if (r != -EAGAIN)
			break;
		nanosleep(&pause, NULL);
	}
	if (r < 0)
		goto fail;
	r = access__check_image(uid, &t.ids, ret_owner);
	if (r < 0)
		goto fail;
	*ret = t;
	return 0;
fail:
	target__release(&t);
	return r;
}

int target__current(const struct target *t)
{
	uint64_t now, execs;
	int r;

	r = execwatch__image(t->w, t->ref.pid, &now, &execs);
	if (r == -EAGAIN || (r == 0 && execs != t->execs))
		return -ESTALE;
	if (r < 0)
		return r;
	/* The end bumps the count too. */
	if (!pidref__alive(&t->ref) || now != t->image)
		return -ESRCH;
	return 0;
}

int target__check_image(const struct target *t, uid_t uid, uint64_t image,
			struct proc_ids *ret_ids, uid_t *ret_owner)
{
	struct proc_ids ids;
	uint64_t now;
	int r;

	r = read_image(t, &ids, &now, NULL);
	if (r == -EAGAIN || (r == 0 && now != image))
		return -ESTALE;
	if (r < 0)
		return r;
	if (ret_ids)
		*ret_ids = ids;
	return access__check_image(uid, &ids, ret_owner);
}

int target__dup(const struct target *t, struct target *ret)
{
	struct target d = *t;
	int r;

	r = execwatch__add(t->w, t->ref.pid);
	if (r < 0)
		return r;
	r = pidref__dup(&t->ref, &d.ref);
	if (r < 0) {
		execwatch__remove(t->w, t->ref.pid);
		return r;
	}
	*ret = d;
	return 0;
}

void target__release(struct target *t)
{
	if (t->w)
		execwatch__remove(t->w, t->ref.pid);
	pidref__close(&t->ref);
	t->w = NULL;
}
