// SPDX-License-Identifier: GPL-2.0
/*
 * offcpu_finish: a wait window's end. Once every record of it is in
 * (two drain passes), what is still open is charged up to the end: begun
 * waits, the threads seeded at its start that never came back, and the
 * kernel's sums and repeated waits read from each thread's task storage;
 * then its profile is built with what was lost or left out said.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "kallsyms.h"
#include "offcpu.h"
#include "offcpu.skel.h"
#include "profile.h"
#include "target.h"

#include "offcpu_int.h"

/* Two drain passes begun after now: every record of the window is in.
 * Under lock; false on timeout or shutdown. */
static bool wait_drained(struct offcpu *o)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + DRAIN_TIMEOUT_NS;
	uint64_t target = o->drain_pass + 2;
	struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000000ULL),
			       .tv_nsec = (long)(deadline % 1000000000ULL) };

	while (o->drain_pass < target && !o->stopping)
		if (pthread_cond_timedwait(&o->cond, &o->lock, &ts) == ETIMEDOUT)
			break;
	return o->drain_pass >= target;
}

static struct kallsyms *get_kallsyms(struct offcpu *o)
{
	size_t cap = 16u << 20, len = 0;
	struct kallsyms *k = NULL;
	char *buf;
	ssize_t n;
	int fd;

	if (o->ksyms)
		return o->ksyms;
	fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf && len < cap &&
	       (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (buf && kallsyms__parse(buf, len, &k) == 0)
		o->ksyms = k;
	free(buf);
	return o->ksyms;
}

/*
 * What the kernel holds for @w's threads at its end: sums not sent yet and
 * repeated waits still open (their beginning was never sent), read from
 * the task storage through a pidfd per thread. Under lock.
 */
static void open_sums(struct offcpu *o, struct offcpu_window *w)
{
	int map_fd = bpf_map__fd(o->skel->maps.wait_tasks), dfd;
	uint32_t what = w->req.what, s, k;
	struct profd_wait_task wt;
	struct dirent *de;
	struct pending *p;
	DIR *d;

	if (what >= PROFD_WAIT_CLONE)
		return;
	dfd = openat(w->t.ref.dirfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		uint32_t tid = (uint32_t)strtoul(de->d_name, NULL, 10);
		int pfd;

		if (!tid)
			continue;
		/* PIDFD_THREAD (6.9+): this thread, not its process. */
		pfd = (int)syscall(SYS_pidfd_open, tid, O_EXCL);
		if (pfd < 0) {
			o->st.storage_errors++;
			continue;
		}
		if (bpf_map_lookup_elem(map_fd, &pfd, &wt) < 0) {
			bool none = errno == ENOENT;

			if (!none)
				o->st.storage_errors++;
			close(pfd);
			/* Never on a CPU since the window opened: off CPU
			 * all along, if it was then (a futex wait: if it is
			 * still in one, it left none the programs saw). */
			p = none ? offcpu_pair__take_seed(w, tid) : NULL;
			if (p && (what == PROFD_WAIT_OFFCPU ||
				  offcpu__in_futex_wait(w->t.ref.dirfd, tid)))
				offcpu_pair__charge(o, p, w->end_ns, w);
			free(p);
			continue;
		}
		close(pfd);
		o->st.storage_reads++;
		/* A seed still here: back on a CPU since (its end record
		 * lost, or it ran before its stack was read) it is stale;
		 * else off CPU for the whole window. A futex seed: waiting
		 * all window if no futex wait of it began or ended since it
		 * opened and it is in one still. */
		p = offcpu_pair__take_seed(w, tid);
		if (p) {
			if (what == PROFD_WAIT_OFFCPU ? wt.seen_gen < w->gen :
			    wt.futex_gen < w->gen &&
			    offcpu__in_futex_wait(w->t.ref.dirfd, tid))
				offcpu_pair__charge(o, p, w->end_ns, w);
			free(p);
		}
		for (k = 0; k < PROFD_WAIT_SLOTS; k++) {
			/* Of the image the thread last sent a stack of
			 * (the sums are of that one): charged to that
			 * image's part, or counted as left out. */
			p = offcpu_pair__last_of(o, what, tid, k,
						 (uint32_t)w->req.pid, wt.image);
			if (!p)
				continue;
			for (s = 0; s < PROFD_WAIT_STATE_MAX; s++) {
				uint32_t idx = PROFD_WAIT_SUM_IDX(what, k, s);
				uint32_t flags = p->flags;

				if (what == PROFD_WAIT_OFFCPU)
					p->flags = (p->flags & ~PROFILE_STATE_MASK) |
						   (s + 1) << PROFILE_STATE_SHIFT;
				if (wt.sum_n[idx] &&
				    wt.sum_last[idx] >= wt.sum_first[idx])
					offcpu_pair__charge_sum(o, p, wt.sum_first[idx],
						   wt.sum_last[idx], wt.sum_n[idx],
						   wt.sum_ns[idx], w);
				/* Off CPU (or waiting) still: up to the end. */
				if (wt.repeat[what] && wt.slot[what] == k &&
				    wt.state[what] == s && wt.begin_ns[what] &&
				    wt.begin_ns[what] < w->end_ns)
					offcpu_pair__charge_sum(o, p, wt.begin_ns[what],
						   w->end_ns, 1,
						   w->end_ns - wt.begin_ns[what], w);
				p->flags = flags;
			}
		}
	}
	closedir(d);
}

static const char *const what_notes[PROFD_WAIT_WHAT_MAX] = {
	[PROFD_WAIT_OFFCPU] = "off-CPU: each time a thread left the CPU (sched_switch), the time until it ran again, charged to its stack when it left; state: sleeping (waiting for an event), disk (uninterruptible: I/O, kernel locks), preempted (runnable, descheduled); threads off CPU when the window opened are charged from then, to their stack then (read without stopping them), and threads still off CPU at its end up to the end",
	[PROFD_WAIT_FUTEX] = "mutex: time in futex waits (FUTEX_WAIT*, FUTEX_LOCK_PI*, futex_waitv) charged to the waiter's stack: contended pthread mutexes, rwlocks, condition variables, semaphores, joins and raw futexes alike; not seen: spinning before the wait (glibc's adaptive mutexes), uncontended locks (no syscall); threads already in a futex wait when the window opened are charged from then, to their stack then (read without stopping them), until it ends",
	[PROFD_WAIT_CLONE] = "threadcreate: threads created in the window (clone/clone3 with CLONE_THREAD, seen at sched_process_fork), counted by the creating thread's stack; new processes (fork) are not counted",
};

int offcpu__finish(struct offcpu *o, struct offcpu_window *w, void **ret_buf,
		   size_t *ret_len)
{
	static const enum profile_type types[PROFD_WAIT_WHAT_MAX] = {
		[PROFD_WAIT_OFFCPU] = PROFILE_BLOCK,
		[PROFD_WAIT_FUTEX] = PROFILE_MUTEX,
		[PROFD_WAIT_CLONE] = PROFILE_THREADCREATE,
	};
	uint64_t errs[PROFD_WAIT_ERR_MAX], lost, unpaired, full;
	char lines[4][256], execs[OFFCPU_PARTS][400];
	const char *comments[9 + OFFCPU_PARTS];
	struct profile_cpu_part parts[OFFCPU_PARTS] = {};
	struct profile_cpu_desc d = {};
	size_t nc = 0, i, np = 0;
	bool drained;

	pthread_mutex_lock(&o->lock);
	drained = wait_drained(o);
	/* Still waiting at the end: charged up to it. */
	for (i = 0; i < PENDING_BUCKETS; i++) {
		struct pending *p;

		for (p = o->pending[i]; p; p = p->next)
			if (p->begin_ns < w->end_ns)
				offcpu_pair__charge(o, p, w->end_ns, w);
	}
	open_sums(o, w);
	w->closed = true;
	(void)offcpu__reconcile(o);
	offcpu__read_errors(o, errs);
	lost = errs[PROFD_WAIT_ERR_RINGBUF_FULL] -
	       w->errs_at_start[PROFD_WAIT_ERR_RINGBUF_FULL];
	unpaired = o->st.unpaired - w->unpaired_at_start +
		   errs[PROFD_WAIT_ERR_END_LOST] -
		   w->errs_at_start[PROFD_WAIT_ERR_END_LOST];
	full = o->st.pending_full - w->pending_full_at_start;
	if (w->req.kernel)
		d.ksyms = get_kallsyms(o);
	pthread_mutex_unlock(&o->lock);

	comments[nc++] = what_notes[w->req.what];
	comments[nc++] = w->req.fp_only ?
		"user stacks: frame-pointer walk (unwind=fp)" :
		"user stacks: DWARF-unwound in profd ([truncated] where the copy or CFI ran out)";
	if (!w->req.kernel && w->req.what != PROFD_WAIT_CLONE && w->req.fp_only)
		comments[nc++] = "a thread that waits again with the same frame-pointer stack as one of its 4 recent recorded waits is summed in the kernel, without sending the stack again";
	else if (!w->req.kernel && w->req.what != PROFD_WAIT_CLONE)
		comments[nc++] = "a thread that waits again with the same registers (ip, sp, bp) and innermost stack bytes (1 KiB, more for a thread whose stacks need it, up to 16) as one of its 4 recent recorded waits is summed in the kernel, without a new stack, and charged to the frames those determine (an unwind from them alone): where they do not determine the whole stack, it is cut there ([truncated]) rather than taken for another path's";
	if (lost) {
		snprintf(lines[0], sizeof(lines[0]),
			 "%" PRIu64 " waits lost system-wide during the window (ring buffer full): not in this profile",
			 lost);
		comments[nc++] = lines[0];
	}
	if (unpaired || full) {
		snprintf(lines[1], sizeof(lines[1]),
			 "%" PRIu64 " waits whose end was lost and %" PRIu64 " not tracked (pending table full) system-wide during the window: not in this profile",
			 unpaired, full);
		comments[nc++] = lines[1];
	}
	/* What an exec did to the window, and when. The parts are ours
	 * alone once closed: no lock needed. */
	for (i = 0; i < w->nparts; i++) {
		const struct offcpu_part *pt = &w->parts[i];

		if (pt->agg) {
			parts[np].proc = pt->proc;
			parts[np].agg = pt->agg;
			np++;
		}
		if (i == 0)
			continue;
		if (pt->agg)
			snprintf(execs[i], sizeof(execs[i]),
				 "%s about %.1f s into the window: waits from then on are of that program",
				 pt->why, pt->first_ns > w->start_ns ?
				 (double)(pt->first_ns - w->start_ns) / 1e9 : 0.0);
		else
			snprintf(execs[i], sizeof(execs[i]),
				 "%s about %.1f s into the window: its %" PRIu64 " waits are left out of this profile",
				 pt->why, pt->first_ns > w->start_ns ?
				 (double)(pt->first_ns - w->start_ns) / 1e9 : 0.0,
				 pt->denied);
		comments[nc++] = execs[i];
	}
	if (w->left_out) {
		snprintf(lines[2], sizeof(lines[2]),
			 "%" PRIu64 " waits of program images this window did not check (run before it opened, or more execs than it follows) are left out",
			 w->left_out);
		comments[nc++] = lines[2];
	}
	if (w->seeds_dropped) {
		snprintf(lines[3], sizeof(lines[3]),
			 "%u threads waiting when the window opened were not kept (more than %d): their waits begun before it are not in this profile",
			 w->seeds_dropped, SEEDS_MAX);
		comments[nc++] = lines[3];
	}
	if (!drained)
		comments[nc++] = "record dispatch fell behind at the window's end: waits from its last moments may be missing";
	if (w->end_asked)
		comments[nc++] = "ended on request (Ctrl-C in profctl, POST /v1/profile/stop)";

	d.type = types[w->req.what];
	d.pid = w->req.pid;
	d.comm = w->t.ids.comm;
	d.parts = parts;
	d.nparts = np;
	d.period_ns = 1;
	d.time_nanos = w->start_wall_ns;
	d.duration_nanos = (int64_t)(w->end_ns - w->start_ns);
	d.process_exited = !pidref__alive(&w->t.ref);
	d.comments = comments;
	d.ncomments = nc;
	return profile__build_cpu(&d, ret_buf, ret_len);
}
