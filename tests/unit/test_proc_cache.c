// SPDX-License-Identifier: GPL-2.0
/* proc cache: one capture per (pid, start time, image), shared by
 * reference; a recycled pid is never taken for the process asked for. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "proc.h"
#include "symbolizer.h"

int main(void)
{
	struct proc *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	struct symbolizer *sym = NULL;
	struct proc_cache *pc = NULL;
	struct proc_ids ids;
	pid_t pid = getpid();
	int dirfd, r;

	if (symbolizer__new(1 << 20, &sym) < 0)
		return check__skip("no symbolizer");
	dirfd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dirfd >= 0, "open /proc/self");
	CHECK(proc__read_ids(pid, &ids) == 0, "ids");
	CHECK(proc_cache__new(sym, &pc) == 0, "new");
	CHECK(proc_cache__symbolizer(pc) == sym, "its symbolizer");

	r = proc__get(pc, pid, dirfd, ids.start_time, 1, &a);
	CHECK(r == 0 && a && a->pid == pid && a->image == 1 && a->nmaps > 0,
	      "capture: %d", r);
	r = proc__get(pc, pid, dirfd, ids.start_time, 1, &b);
	CHECK(r == 0 && b == a && a->refs == 2, "shared: %d refs %d", r,
	      a ? a->refs : -1);
	/* Another image of the same process: another capture. */
	r = proc__get(pc, pid, dirfd, ids.start_time, 2, &c);
	CHECK(r == 0 && c && c != a && c->image == 2, "other image: %d", r);
	/* Another start time: a process that had the pid before, or after. */
	d = (struct proc *)0x1;
	r = proc__get(pc, pid, dirfd, ids.start_time + 1, 1, &d);
	CHECK(r == -ESRCH && d == (struct proc *)0x1, "recycled pid: %d", r);
	CHECK(proc__hold(a) == a && a->refs == 3, "hold");
	proc__put(a);
	proc__put(b);
	CHECK(a->refs == 1, "put: %d", a->refs);
	proc__put(a);	/* the last: freed, out of the cache */
	r = proc__get(pc, pid, dirfd, ids.start_time, 1, &b);
	CHECK(r == 0 && b && b->refs == 1, "captured again: %d", r);
	r = proc__get_current(pc, pid, dirfd, ids.start_time, 1, &d);
	CHECK(r == 0 && d == b && b->refs == 2, "current: %d", r);
	proc__put(d);
	proc__put(b);
	proc__put(c);
	proc__put(NULL);
	proc_cache__free(pc);
	close(dirfd);
	symbolizer__free(sym);
	return check__done();
}
