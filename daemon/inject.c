// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inject.h"

#define RED_ZONE 128	/* below sp, the leaf function's own (SysV ABI) */
#define XSTATE_MAX 16384	/* x87/SSE/AVX/AVX-512 state, with room */

/* Wait for @tid's next stop. 0 with *ret_status, or -ESRCH when it died. */
static int wait_stop(pid_t tid, int *ret_status)
{
	int st;

	for (;;) {
		if (waitpid(tid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD ? -ESRCH : -errno;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return -ESRCH;
		if (WIFSTOPPED(st)) {
			*ret_status = st;
			return 0;
		}
	}
}

static bool is_event_stop(int st)
{
	return (st >> 16) == PTRACE_EVENT_STOP;
}

/*
 * Stop @tid (seized already) in a ptrace stop we may change: an interrupt
 * or group stop. Signals that arrive first are passed on, as if we were
 * not there.
 */
static int interrupt(pid_t tid)
{
	int st, r, n;

	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return -errno;
	for (n = 0; n < 64; n++) {
		r = wait_stop(tid, &st);
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

static int poke(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* Run the call on stopped @tid; registers put back either way. */
static int run_call(pid_t pid, pid_t tid, const struct user_regs_struct *saved,
		    uint64_t fn, const uint64_t *args, unsigned nargs,
		    const void *data, size_t dlen, int64_t *ret)
{
	struct user_regs_struct regs = *saved;
	uint64_t top = saved->rsp - RED_ZONE, data_at, zero = 0, a[6] = {};
	unsigned i;
	int st, r;

	data_at = (top - dlen) & ~15ULL;
	if (dlen && (r = poke(pid, data_at, data, dlen)) < 0)
		return r;
	regs.rsp = data_at - 8;	/* a call just made: rsp + 8 is 16-aligned */
	r = poke(pid, regs.rsp, &zero, sizeof(zero));	/* return to 0 */
	if (r < 0)
		return r;
	for (i = 0; i < nargs && i < 6; i++)
		a[i] = args[i] == INJECT_DATA ? data_at : args[i];
	regs.rdi = a[0];
	regs.rsi = a[1];
	regs.rdx = a[2];
	regs.rcx = a[3];
	regs.r8 = a[4];
	regs.r9 = a[5];
	regs.rax = 0;		/* no vector registers for a variadic callee */
	regs.rip = fn;
	/* Stopped inside a system call: no restart of it now (it is
	 * restarted when the saved registers go back). */
	regs.orig_rax = (unsigned long long)-1;
	if (ptrace(PTRACE_SETREGS, tid, 0, &regs) < 0)
		return -errno;
	r = 0;
	if (ptrace(PTRACE_CONT, tid, 0, 0) < 0) {
		r = -errno;
		goto restore;
	}
	for (;;) {
		r = wait_stop(tid, &st);
		if (r < 0)
			return r;	/* gone: nothing to restore */
		if (is_event_stop(st)) {	/* a group stop: go on */
			if (ptrace(PTRACE_CONT, tid, 0, 0) < 0) {
				r = -errno;
				goto restore;
			}
			continue;
		}
		if (WSTOPSIG(st) == SIGSEGV &&
		    ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0) {
			if (regs.rip == 0) {	/* returned */
				*ret = (int64_t)regs.rax;
				break;
			}
			r = -EFAULT;	/* the function itself faulted */
			break;
		}
		/* Some other signal: the process's own, delivered (its
		 * handler runs on top of the call). */
		if (ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(st)) < 0) {
			r = -errno;
			goto restore;
		}
	}
restore:
	if (ptrace(PTRACE_SETREGS, tid, 0, saved) < 0 && !r)
		r = -errno;
	return r;
}

/* Is fd @fd of @pid a socket? */
static bool is_socket(pid_t pid, long fd)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/fd/%ld", pid, fd);
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * May @tid be interrupted without the program noticing? A thread asleep in
 * a system call is woken by the interrupt. Most calls restart by
 * themselves when it goes on, but some return EINTR to the program after
 * a stop (signal(7)): epoll_wait, sigtimedwait, semop, io_getevents, and
 * socket calls with a timeout — an event loop that takes EINTR for an
 * error would fail. Threads asleep in those are left alone; running or
 * stopped threads, and those in other calls, may be used.
 */
static bool interruptible(pid_t pid, pid_t tid)
{
	char path[80], buf[512], *p;
	long nr, a1;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;	/* gone: ptrace says so */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	p = strrchr(buf, ')');
	if (!p || (p[2] != 'S' && p[2] != 'D'))
		return true;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	if (!strncmp(buf, "running", 7))
		return true;
	nr = strtol(buf, &p, 10);
	a1 = strtol(p, NULL, 16);	/* the first argument, in hex */
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
		return false;
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
		return !is_socket(pid, a1);	/* a socket may have a timeout */
	default:
		return true;
	}
}

/* The threads of @pid, main thread first; how many in @ret (<= max). */
static unsigned list_threads(pid_t pid, pid_t *ret, unsigned max)
{
	char path[64];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	ret[n++] = pid;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return n;
	while (n < max && (de = readdir(d))) {
		pid_t t = (pid_t)atoi(de->d_name);

		if (t > 0 && t != pid)
			ret[n++] = t;
	}
	closedir(d);
	return n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
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

static int call_on_a_thread(pid_t pid, inject_check_fn check, void *ctx,
			    uint64_t fn, const uint64_t *args, unsigned nargs,
			    const void *data, size_t dlen, unsigned patience_ms,
			    uint8_t *xbuf, int64_t *ret)
{
	struct user_regs_struct saved;
	size_t xlen = 0;
	pid_t tids[8];
	unsigned nt, ti, waited = 0, pause_ms = 2;
	bool blocked = false;
	int64_t out = 0;
	int r;

	nt = list_threads(pid, tids, 8);
	/* Round-robin over a few threads until one stops somewhere safe. */
	for (ti = 0;; ti = (ti + 1) % nt) {
		pid_t tid = tids[ti];

		if (!interruptible(pid, tid)) {
			blocked = true;
			r = -EAGAIN;
			goto next;
		}
		if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
			r = -errno;
			goto next;
		}
		r = interrupt(tid);
		if (r == 0 && ptrace(PTRACE_GETREGS, tid, 0, &saved) < 0)
			r = -errno;
		if (r == 0 && check)
			r = check(ctx, tid, &saved);
		if (r == 0)
			r = xstate(tid, xbuf, &xlen, false);
		if (r == 0) {
			r = run_call(pid, tid, &saved, fn, args, nargs, data,
				     dlen, &out);
			if (r == -ESRCH)
				return r;	/* it died in the call */
			if (xstate(tid, xbuf, &xlen, true) < 0 && r == 0)
				r = -EIO;
			(void)ptrace(PTRACE_DETACH, tid, 0, 0);
			if (r == 0)
				*ret = out;
			return r;
		}
		(void)ptrace(PTRACE_DETACH, tid, 0, 0);
next:
		/* A thread that ended while we looked: the others may do. */
		if (r == -ESRCH && kill(pid, 0) == 0) {
			nt = list_threads(pid, tids, 8);
			r = -EAGAIN;
		}
		if (r == -EAGAIN && waited >= patience_ms && blocked)
			return -EINTR;
		if (r != -EAGAIN || waited >= patience_ms)
			return r;
		/* Stopped inside the allocator or the loader, or asleep where
		 * waking it would show: look again a little later. */
		sleep_ms(pause_ms);
		waited += pause_ms;
	}
}

int inject__call(pid_t pid, inject_check_fn check, void *ctx, uint64_t fn,
		 const uint64_t *args, unsigned nargs, const void *data,
		 size_t dlen, unsigned patience_ms, int64_t *ret)
{
	uint8_t *xbuf;
	int r;

	if (nargs > 6)
		return -EINVAL;
	xbuf = aligned_alloc(64, XSTATE_MAX);
	if (!xbuf)
		return -ENOMEM;
	r = call_on_a_thread(pid, check, ctx, fn, args, nargs, data, dlen,
			     patience_ms, xbuf, ret);
	free(xbuf);
	return r;
}
