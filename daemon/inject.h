/* SPDX-License-Identifier: GPL-2.0 */
/*
 * inject: call a function inside another process, as a debugger's
 * "print f(x)" does — stop one of its threads with ptrace, give it a call
 * frame, let it run until the function returns to address 0, put every
 * register back and let it go. x86-64 only.
 *
 * Used to load profd's heap agent (dlopen) and to call it. The thread is
 * chosen where the caller's check says it holds no lock the function
 * needs (a thread stopped inside malloc must not be made to call dlopen,
 * which allocates); other threads keep running throughout.
 *
 * Safe or refused:
 * - the process is held by a pidref and re-verified once a thread is
 *   stopped (alive, the thread its own, the image the caller expects):
 *   while one of its threads is stopped no exec can complete (it would
 *   kill that thread first), so what is written goes to that image, through
 *   its /proc/PID/mem, opened then;
 * - every wait has a deadline; each attempt on a thread runs in a thread
 *   of profd's own that exits at its end, and the kernel detaches whatever
 *   a tracer thread still traces when it exits: no thread is left traced,
 *   whatever fails;
 * - a thread whose system call a stop made fail with EINTR (signal(7):
 *   epoll_wait, semop, sigtimedwait, socket calls with a timeout... — told
 *   by the stop itself, not by a list) has the call restarted, as the
 *   kernel restarts the others, and is not used;
 * - a call that faults or does not return in time is abandoned: its thread
 *   gets its registers back and goes on, but locks the function took may
 *   stay taken — the caller must consider the process poisoned and never
 *   call into it again.
 */
#ifndef PROFD_INJECT_H
#define PROFD_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "proc.h"

/*
 * Is the thread stopped at @regs a safe place to call from? Its memory
 * is readable through @memfd (pread at the address). 0 yes, -EAGAIN: let
 * it run on and look again, other -errno: give up.
 */
typedef int (*inject_check_fn)(void *ctx, int memfd,
			       const struct user_regs_struct *regs);

/* Is the process still the one (the image) the call is for? 0, -errno. */
typedef int (*inject_verify_fn)(void *ctx);

struct inject_opts {
	inject_check_fn check;		/* may be NULL */
	inject_verify_fn verify;	/* may be NULL */
	void *ctx;			/* for both */
	unsigned patience_ms;		/* finding a safe stop */
	unsigned deadline_ms;		/* the call itself */
	size_t stack_need;		/* stack the function may use */
};

#define INJECT_DATA UINT64_MAX	/* an argument: the address of the data */

struct inject_call {
	uint64_t fn;
	uint64_t args[6];		/* INJECT_DATA: the data's address */
	unsigned nargs;
	void *data;			/* copied below the thread's stack, and
					 * back once the call returned: in/out */
	size_t dlen;
};

/*
 * inject__call() - make process @p call @c->fn. The return value lands in
 * *@ret, and a sentence on failure in @why.
 *
 * Returns 0; -ESRCH (the process is gone); -ESTALE (@o->verify refused
 * it: it runs another image); -EPERM (cannot trace it: another tracer, or
 * not allowed); -EAGAIN (no thread stopped at a safe point, with the stack
 * the call needs, in time); -EINTR (the threads not tried all slept in
 * calls a stop makes fail); or, with the process poisoned (see above):
 * -EFAULT (the call faulted), -ETIMEDOUT (it did not return within
 * @o->deadline_ms), -EIO (its thread could not be stopped again or given
 * its registers back: it was left running the call).
 */
int inject__call(const struct pidref *p, const struct inject_opts *o,
		 const struct inject_call *c, int64_t *ret, char *why,
		 size_t whylen);

#endif /* PROFD_INJECT_H */
