// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "inject.h"

#define RED_ZONE 128		/* below sp, the leaf function's own (SysV ABI) */
#define XSTATE_MAX 16384	/* x87/SSE/AVX/AVX-512 state, with room */
#define MAX_THREADS 8		/* tried in turn */
#define STOP_MS 500		/* for a running thread to reach a stop */
#define MAX_SIGNALS 64		/* the process's own, passed on meanwhile */

/* The kernel's "interrupted, restart when no handler runs" (not uapi). */
#define ERESTARTNOHAND 514

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL),
			       (long)(ns % 1000000000ULL) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Wait for @tid's next stop until @deadline (CLOCK_MONOTONIC ns). 0 with
 * *ret_status; -ESRCH when it died; -ETIMEDOUT. Polled (a ptrace stop
 * cannot be waited for with a timeout otherwise): every 20 us at first,
 * backing off to 1 ms, so a call of a millisecond costs about that.
 */
static int wait_stop(pid_t tid, int *ret_status, uint64_t deadline)
{
	uint64_t pause = 20000;
	pid_t r;
	int st;

	for (;;) {
		r = waitpid(tid, &st, __WALL | WNOHANG);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD ? -ESRCH : -errno;
		}
		if (r > 0) {
			if (WIFEXITED(st) || WIFSIGNALED(st))
				return -ESRCH;
			if (WIFSTOPPED(st)) {
				*ret_status = st;
				return 0;
			}
			continue;
		}
		if (now_ns(CLOCK_MONOTONIC) >= deadline)
			return -ETIMEDOUT;
		sleep_ns(pause);
		if (pause < 1000000)
			pause *= 2;
	}
}

static bool is_event_stop(int st)
{
	return (st >> 16) == PTRACE_EVENT_STOP;
}

/*
 * After PTRACE_INTERRUPT: wait for @tid to stop where it may be changed
 * (an interrupt or group stop). Signals that arrive first are passed on,
 * as if we were not there, at most MAX_SIGNALS of them. 0, -ESRCH,
 * -ETIMEDOUT, -EAGAIN (a storm of signals): then it runs on, traced,
 * until the attempt's thread exits.
 */
static int reach_stop(pid_t tid, unsigned timeout_ms)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000ULL;
	int st, r, n;

	for (n = 0; n < MAX_SIGNALS; n++) {
		r = wait_stop(tid, &st, deadline);
		if (r < 0)
			return r;
		if (is_event_stop(st))
			return 0;
		/* A signal-delivery stop: deliver it and wait on. */
		if (ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(st)) < 0)
			return -errno;
	}
	return -EAGAIN;
}

/*
 * The called function clobbers vector registers the interrupted code may
 * be using (memcpy, malloc itself): save the whole extended state, not
 * just the general registers, and put it back after.
 */
static int xstate(pid_t tid, void *buf, size_t *len, bool set)
{
	struct iovec iov = { buf, set ? *len : XSTATE_MAX };

	if (ptrace(set ? PTRACE_SETREGSET : PTRACE_GETREGSET, tid,
		   (void *)NT_X86_XSTATE, &iov) == 0) {
		*len = iov.iov_len;
		return 0;
	}
	/* No XSAVE: the legacy x87/SSE area. */
	if (ptrace(set ? PTRACE_SETFPREGS : PTRACE_GETFPREGS, tid, 0, buf) < 0)
		return -errno;
	*len = sizeof(struct user_fpregs_struct);
	return 0;
}

static const char *syscall_name(long nr)
{
	switch (nr) {
	case SYS_epoll_wait: return "epoll_wait";
	case SYS_epoll_pwait: return "epoll_pwait";
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2: return "epoll_pwait2";
#endif
	case SYS_semop: return "semop";
	case SYS_semtimedop: return "semtimedop";
	case SYS_rt_sigtimedwait: return "sigtimedwait";
	case SYS_read: return "read";
	case SYS_readv: return "readv";
	case SYS_write: return "write";
	case SYS_writev: return "writev";
	case SYS_recvfrom: return "recvfrom";
	case SYS_recvmsg: return "recvmsg";
	case SYS_recvmmsg: return "recvmmsg";
	case SYS_sendto: return "sendto";
	case SYS_sendmsg: return "sendmsg";
	case SYS_sendmmsg: return "sendmmsg";
	case SYS_accept: return "accept";
	case SYS_accept4: return "accept4";
	case SYS_connect: return "connect";
	case SYS_msgrcv: return "msgrcv";
	case SYS_msgsnd: return "msgsnd";
	case SYS_io_getevents: return "io_getevents";
#ifdef SYS_io_pgetevents
	case SYS_io_pgetevents: return "io_pgetevents";
#endif
#ifdef SYS_io_uring_enter
	case SYS_io_uring_enter: return "io_uring_enter";
#endif
	default: return "a system call";
	}
}

/*
 * A cheap look before stopping @tid — not the check, which comes once it
 * is stopped (this can change at once): is it asleep in a call that a stop
 * makes fail (signal(7)), where stopping it would restart the call, and
 * its timeout? Then it is left alone this round. The call's number, or -1.
 */
static long asleep_in(const struct pidref *p, pid_t tid)
{
	char path[64], buf[512], *s;
	struct stat st;
	long nr, a1;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "task/%d/stat", tid);
	fd = openat(p->dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	s = strrchr(buf, ')');
	if (!s || s[1] != ' ' || (s[2] != 'S' && s[2] != 'D'))
		return -1;
	snprintf(path, sizeof(path), "task/%d/syscall", tid);
	fd = openat(p->dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	if (n <= 0 || !strncmp(buf, "running", 7))
		return -1;
	nr = strtol(buf, &s, 10);
	a1 = strtol(s, NULL, 16);	/* the first argument, in hex */
	switch (nr) {
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
	case SYS_rt_sigtimedwait:
	case SYS_semop:
	case SYS_semtimedop:
	case SYS_io_getevents:
#ifdef SYS_io_pgetevents
	case SYS_io_pgetevents:
#endif
#ifdef SYS_io_uring_enter
	case SYS_io_uring_enter:
#endif
	case SYS_msgrcv:
	case SYS_msgsnd:
		return nr;
	case SYS_read:
	case SYS_readv:
	case SYS_write:
	case SYS_writev:
	case SYS_recvfrom:
	case SYS_recvmsg:
	case SYS_recvmmsg:
	case SYS_sendto:
	case SYS_sendmsg:
	case SYS_sendmmsg:
	case SYS_accept:
	case SYS_accept4:
	case SYS_connect:
		/* A socket may have a timeout (SO_RCVTIMEO, SO_SNDTIMEO). */
		snprintf(path, sizeof(path), "fd/%ld", a1);
		if (fstatat(p->dirfd, path, &st, 0) == 0 && S_ISSOCK(st.st_mode))
			return nr;
		return -1;
	default:
		return -1;
	}
}

/* Has @tid a signal of its own waiting, one that is not ignored? */
static bool signal_pending(const struct pidref *p, pid_t tid)
{
	char path[64], buf[4096], *s;
	uint64_t pnd = 0, shd = 0, blk = 0, ign = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "task/%d/status", tid);
	fd = openat(p->dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;	/* cannot tell: leave its call alone */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = 0;
	if ((s = strstr(buf, "\nSigPnd:")))
		pnd = strtoull(s + 8, NULL, 16);
	if ((s = strstr(buf, "\nShdPnd:")))
		shd = strtoull(s + 8, NULL, 16);
	if ((s = strstr(buf, "\nSigBlk:")))
		blk = strtoull(s + 8, NULL, 16);
	if ((s = strstr(buf, "\nSigIgn:")))
		ign = strtoull(s + 8, NULL, 16);
	return ((pnd | shd) & ~blk & ~ign) != 0;
}

/*
 * Bytes of stack below @sp in its mapping. The main thread's [stack]
 * grows on demand: plenty. A thread's stack (or a coroutine's, or an
 * alternate signal stack) is what it was given.
 */
static uint64_t stack_room(const struct pidref *p, uint64_t sp)
{
	char line[512];
	uint64_t room = 0;
	FILE *f;

	f = pidref__fopen(p, "maps");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;

		if (sscanf(line, "%llx-%llx", &lo, &hi) != 2 || sp <= lo ||
		    sp > hi)
			continue;
		room = strstr(line, "[stack]") ? UINT64_MAX : sp - lo;
		break;
	}
	fclose(f);
	return room;
}

static int mem_write(int memfd, uint64_t addr, const void *buf, size_t len)
{
	ssize_t n = pwrite(memfd, buf, len, (off_t)addr);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* One attempt: one thread of the process, in a thread of profd's own. */
struct attempt {
	const struct pidref *p;
	const struct inject_opts *o;
	const struct inject_call *c;
	pid_t tid;
	uint8_t *xbuf;
	/* out */
	int r;
	int64_t ret;
	long blocked_in;		/* a call a stop made fail, or -1 */
	bool short_stack;
	char why[256];
};

/*
 * Let stopped @tid go with registers @regs, its interrupted system call
 * restarted when the stop made it fail with EINTR (@repair).
 */
static int let_go(pid_t tid, struct user_regs_struct *regs, bool repair)
{
	if (repair) {
		regs->rax = (unsigned long long)-ERESTARTNOHAND;
		if (ptrace(PTRACE_SETREGS, tid, 0, regs) < 0)
			return -errno;
	}
	return ptrace(PTRACE_DETACH, tid, 0, 0) < 0 ? -errno : 0;
}

static bool is_fault(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
	       sig == SIGFPE || sig == SIGTRAP || sig == SIGABRT ||
	       sig == SIGSYS;
}

/*
 * Run the call on stopped @tid, whose registers are @saved, writing
 * through @memfd. Until the function returns, @deadline. 0 with a->ret;
 * -ESRCH (died in the call); -EFAULT, -ETIMEDOUT, -EIO (poisoned, a->why
 * says how). Registers are put back unless -ESRCH or -EIO.
 */
static int run_call(struct attempt *a, int memfd,
		    const struct user_regs_struct *saved, size_t xlen)
{
	const struct inject_call *c = a->c;
	struct user_regs_struct regs = *saved;
	uint64_t top = saved->rsp - RED_ZONE, data_at, zero = 0;
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t)a->o->deadline_ms * 1000000ULL;
	unsigned i, nsig = 0;
	pid_t tid = a->tid;
	int st, r, sig;

	data_at = (top - c->dlen) & ~15ULL;
	if (c->dlen && (r = mem_write(memfd, data_at, c->data, c->dlen)) < 0)
		return r == -ESRCH ? r : -EAGAIN;
	regs.rsp = data_at - 8;	/* a call just made: rsp + 8 is 16-aligned */
	r = mem_write(memfd, regs.rsp, &zero, sizeof(zero));	/* return to 0 */
	if (r < 0)
		return r == -ESRCH ? r : -EAGAIN;
	for (i = 0; i < 6; i++) {
		uint64_t v = i < c->nargs ? c->args[i] : 0;

		v = v == INJECT_DATA ? data_at : v;
		switch (i) {
		case 0: regs.rdi = v; break;
		case 1: regs.rsi = v; break;
		case 2: regs.rdx = v; break;
		case 3: regs.rcx = v; break;
		case 4: regs.r8 = v; break;
		case 5: regs.r9 = v; break;
		}
	}
	regs.rax = 0;		/* no vector registers for a variadic callee */
	regs.rip = c->fn;
	/* Stopped inside a system call: no restart of it now (it is
	 * restarted when the saved registers go back). */
	regs.orig_rax = (unsigned long long)-1;
	if (ptrace(PTRACE_SETREGS, tid, 0, &regs) < 0)
		return errno == ESRCH ? -ESRCH : -EAGAIN;
	if (ptrace(PTRACE_CONT, tid, 0, 0) < 0) {
		r = errno == ESRCH ? -ESRCH : -EAGAIN;	/* never ran */
		goto restore;
	}
	for (;;) {
		r = wait_stop(tid, &st, deadline);
		if (r == -ESRCH)
			return r;	/* gone: nothing to restore */
		if (r == -ETIMEDOUT) {
			/* Hung (a lock another thread holds, a loop): stop it
			 * where it is and put it back. */
			if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 ||
			    reach_stop(tid, STOP_MS) < 0) {
				snprintf(a->why, sizeof(a->why),
					 "the call did not return within %u ms and its thread could not be stopped again: it was left running the call",
					 a->o->deadline_ms);
				return -EIO;
			}
			snprintf(a->why, sizeof(a->why),
				 "the call did not return within %u ms (a lock held elsewhere, or a loop): its thread was put back where it was, but locks the call took may stay taken",
				 a->o->deadline_ms);
			r = -ETIMEDOUT;
			goto restore;
		}
		if (r < 0) {
			errno = -r;
			goto abandon;
		}
		if (is_event_stop(st)) {	/* a group stop: go on */
			if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
				goto abandon;
			continue;
		}
		sig = WSTOPSIG(st);
		if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0)
			goto abandon;
		if (sig == SIGSEGV && regs.rip == 0) {	/* returned */
			a->ret = (int64_t)regs.rax;
			r = 0;
			break;
		}
		if (is_fault(sig)) {
			/* The function itself faulted (or aborted): not
			 * delivered, which would kill the process. */
			snprintf(a->why, sizeof(a->why),
				 "the call faulted (signal %d at 0x%llx): its thread was put back where it was, but locks the call took may stay taken",
				 sig, (unsigned long long)regs.rip);
			r = -EFAULT;
			goto restore;
		}
		/* Some other signal: the process's own, delivered (its
		 * handler runs on top of the call). */
		if (++nsig > MAX_SIGNALS) {
			if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 ||
			    reach_stop(tid, STOP_MS) < 0) {
				snprintf(a->why, sizeof(a->why),
					 "signals kept arriving during the call and its thread could not be stopped: it was left running the call");
				return -EIO;
			}
			snprintf(a->why, sizeof(a->why),
				 "signals kept arriving during the call: it was abandoned, its thread put back where it was, but locks the call took may stay taken");
			r = -ETIMEDOUT;
			goto restore;
		}
		if (ptrace(PTRACE_CONT, tid, 0, (void *)(long)sig) < 0)
			goto abandon;
	}
	goto restore;
abandon:
	/* Stopped mid-call and cannot go on with it. */
	if (errno == ESRCH)
		return -ESRCH;
	snprintf(a->why, sizeof(a->why),
		 "the call could not be followed (%s): it was abandoned, its thread put back where it was, but locks the call took may stay taken",
		 strerror(errno));
	r = -ETIMEDOUT;
restore:
	if (ptrace(PTRACE_SETREGS, tid, 0, saved) < 0 ||
	    xstate(tid, a->xbuf, &xlen, true) < 0) {
		if (errno == ESRCH)
			return -ESRCH;
		snprintf(a->why, sizeof(a->why),
			 "its registers could not be put back after the call: %s",
			 strerror(errno));
		return -EIO;
	}
	if (r == 0 && c->dlen &&
	    pread(memfd, c->data, c->dlen, (off_t)data_at) != (ssize_t)c->dlen)
		r = -ENODATA;	/* what the function wrote cannot be read */
	(void)ptrace(PTRACE_DETACH, tid, 0, 0);
	return r;
}

static int attempt(struct attempt *a)
{
	const struct pidref *p = a->p;
	struct user_regs_struct saved;
	char name[32];
	size_t xlen = 0, need;
	bool repair;
	pid_t tid = a->tid;
	int memfd = -1, r;

	a->blocked_in = asleep_in(p, tid);
	if (a->blocked_in >= 0)
		return -EAGAIN;
	if (a->o->verify && (r = a->o->verify(a->o->ctx)) < 0)
		return r;
	/* Its thread now? (Checked again once seized: a tid may be reused
	 * in between, but not while our live process has it.) */
	snprintf(name, sizeof(name), "task/%d", tid);
	if (faccessat(p->dirfd, name, F_OK, 0) < 0 || !pidref__alive(p))
		return -ESRCH;
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
		return -errno;
	/*
	 * Seized but not stopped (nothing the process can see): before
	 * stopping it, is it a thread of this process — not a recycled tid
	 * of another: a tid listed under our live process cannot be — and
	 * the image still the one meant? (An exec that starts after this is
	 * caught once it is stopped: then it kills this thread or has
	 * completed, and the check there says so.)
	 */
	if (faccessat(p->dirfd, name, F_OK, 0) < 0 || !pidref__alive(p))
		return -ESRCH;	/* our exit detaches it, unstopped */
	if (a->o->verify && (r = a->o->verify(a->o->ctx)) < 0)
		return r;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return -errno;
	r = reach_stop(tid, STOP_MS);
	if (r == -ETIMEDOUT || r == -EAGAIN)
		return -EAGAIN;	/* uninterruptible sleep, signal storm */
	if (r < 0)
		return r;
	if (ptrace(PTRACE_GETREGS, tid, 0, &saved) < 0)
		return -errno;
	/*
	 * Stopped: the system call it was in (orig_rax >= 0), if any, tells
	 * whether the stop shows. The calls signal(7) lists as failing with
	 * EINTR after a stop are exactly those that return EINTR here where
	 * the others return a restart code (-ERESTARTSYS...). Unless a signal
	 * of its own is waiting (then EINTR is what it gets anyway), the call
	 * is restarted as the kernel restarts the others, and this thread is
	 * not used: the call may have a timeout.
	 */
	repair = (long long)saved.orig_rax >= 0 &&
		 (long long)saved.rax == -EINTR && !signal_pending(p, tid);
	/* Still the process and the image the call is for? While this
	 * thread is stopped no exec can complete. */
	if (!pidref__alive(p))
		r = -ESRCH;
	else if (a->o->verify)
		r = a->o->verify(a->o->ctx);
	if (r == 0 && repair) {
		a->blocked_in = (long)saved.orig_rax;
		r = -EAGAIN;
	}
	if (r < 0) {
		(void)let_go(tid, &saved, repair);
		return r;
	}
	memfd = openat(p->dirfd, "mem", O_RDWR | O_CLOEXEC);
	if (memfd < 0) {
		r = -errno;
		(void)let_go(tid, &saved, false);
		return r == -ENOENT ? -ESRCH : r;
	}
	r = xstate(tid, a->xbuf, &xlen, false);
	if (r == 0 && a->o->check)
		r = a->o->check(a->o->ctx, memfd, &saved);
	if (r == 0) {
		need = RED_ZONE + a->c->dlen + 64 + a->o->stack_need;
		if (stack_room(p, saved.rsp) < need) {
			a->short_stack = true;
			r = -EAGAIN;
		}
	}
	if (r < 0) {
		(void)let_go(tid, &saved, false);
		close(memfd);
		return r;
	}
	r = run_call(a, memfd, &saved, xlen);
	close(memfd);
	return r;
}

static void *attempt_main(void *arg)
{
	struct attempt *a = arg;

	a->r = attempt(a);
	/* Exiting: the kernel detaches whatever this thread still traces. */
	return NULL;
}

/* The threads of @p, main thread first; how many in @ret (<= max). */
static unsigned list_threads(const struct pidref *p, pid_t *ret, unsigned max)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d;
	int fd;

	ret[n++] = p->pid;
	fd = openat(p->dirfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return n;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return n;
	}
	while (n < max && (de = readdir(d))) {
		pid_t t = (pid_t)atoi(de->d_name);

		if (t > 0 && t != p->pid)
			ret[n++] = t;
	}
	closedir(d);
	return n;
}

int inject__call(const struct pidref *p, const struct inject_opts *o,
		 const struct inject_call *c, int64_t *ret, char *why,
		 size_t whylen)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t)o->patience_ms * 1000000ULL;
	struct attempt a = { .p = p, .o = o, .c = c };
	unsigned nt, ti = 0, pause_ms = 2, nperm = 0;
	long blocked_in = -1;
	bool short_stack = false;
	pthread_t th;
	pid_t tids[MAX_THREADS];
	int r;

	why[0] = 0;
	if (c->nargs > 6)
		return -EINVAL;
	if (!pidref__alive(p))
		return -ESRCH;
	a.xbuf = aligned_alloc(64, XSTATE_MAX);
	if (!a.xbuf)
		return -ENOMEM;
	nt = list_threads(p, tids, MAX_THREADS);
	/* Round-robin over a few threads until one stops somewhere safe. */
	for (;;) {
		a.tid = tids[ti];
		a.why[0] = 0;
		a.short_stack = false;
		r = pthread_create(&th, NULL, attempt_main, &a);
		if (r) {
			r = -r;
			break;
		}
		pthread_join(th, NULL);
		r = a.r;
		if (a.blocked_in >= 0)
			blocked_in = a.blocked_in;
		short_stack |= a.short_stack;
		if (r == 0) {
			*ret = a.ret;
			break;
		}
		if (r == -EPERM && ++nperm < nt)
			r = -EAGAIN;	/* another tracer there: others may do */
		if (r == -ESRCH && pidref__alive(p)) {
			/* A thread that ended while we looked. */
			nt = list_threads(p, tids, MAX_THREADS);
			r = -EAGAIN;
		}
		if (r != -EAGAIN)
			break;
		ti = (ti + 1) % nt;
		if (ti != 0)
			continue;	/* the next thread at once */
		if (now_ns(CLOCK_MONOTONIC) >= deadline) {
			if (blocked_in >= 0) {
				snprintf(why, whylen,
					 "its threads sleep in calls that a stop would make fail (%s, ...: restarted as if never stopped), and none stopped elsewhere in time",
					 syscall_name(blocked_in));
				r = -EINTR;
			} else if (short_stack) {
				snprintf(why, whylen,
					 "no thread stopped at a safe point with %zu bytes of stack free below it",
					 o->stack_need);
			}
			break;
		}
		/* Stopped inside the allocator or the loader, or asleep
		 * where waking it would show: look again a little later. */
		sleep_ns((uint64_t)pause_ms * 1000000ULL);
		nperm = 0;
	}
	if (a.why[0])
		snprintf(why, whylen, "%s", a.why);
	free(a.xbuf);
	return r;
}
