/* SPDX-License-Identifier: GPL-2.0 */
/*
 * inject: call a function inside another process, as a debugger's
 * "print f(x)" does — stop one of its threads with ptrace, give it a call
 * frame, let it run until the function returns to address 0, put every
 * register back and let it go. x86-64 only.
 *
 * Used to load profd's heap agent (dlopen) and switch it on and off. The
 * thread is chosen where the caller's check says it holds no lock the
 * function needs (a thread stopped inside malloc must not be made to call
 * dlopen, which allocates); other threads keep running throughout.
 */
#ifndef PROFD_INJECT_H
#define PROFD_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/*
 * Is the thread stopped at @regs a safe place to call from? 0 yes,
 * -EAGAIN: let it run on and look again, other -errno: give up.
 */
typedef int (*inject_check_fn)(void *ctx, pid_t tid,
			       const struct user_regs_struct *regs);

#define INJECT_DATA UINT64_MAX	/* an argument: the address of @data */

/*
 * inject__call() - call @fn(@args[0..@nargs-1]) (at most 6 integer
 * arguments) in process @pid. @data (@dlen bytes, may be NULL) is copied
 * below the thread's stack first; an argument equal to INJECT_DATA is
 * replaced by its address. @check (may be NULL) vets the stopped thread;
 * unsafe stops are retried for up to about @patience_ms. The return value
 * lands in *@ret.
 *
 * Threads asleep in system calls that would return EINTR to the program
 * once woken (epoll_wait, socket calls...) are not stopped at all.
 *
 * Returns 0, -ESRCH (the process is gone), -EPERM (cannot trace it:
 * traced by another tool already, or not allowed), -EAGAIN (no safe stop
 * found in time), -EINTR (the threads not tried were all asleep where an
 * interruption would show), -EFAULT (the call faulted: its registers were put back
 * and it was let go, which the function may not have survived), or
 * -errno.
 */
int inject__call(pid_t pid, inject_check_fn check, void *ctx, uint64_t fn,
		 const uint64_t *args, unsigned nargs, const void *data,
		 size_t dlen, unsigned patience_ms, int64_t *ret);

#endif /* PROFD_INJECT_H */
