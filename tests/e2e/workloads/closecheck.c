/* closecheck: preloaded into profd by test_locks.FdHygiene. It reports
 * every close() of an fd that is not open (EBADF): a second close of one
 * closed before. Had another thread opened a file or accepted a
 * connection in between, that second close would have closed the other
 * thread's fd instead. Each report goes to stderr (profd's log) with the
 * caller's stack.
 * Build: -shared -fPIC -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int (*real_close)(int);

__attribute__((constructor)) static void closecheck_init(void)
{
	static const char msg[] = "closecheck: watching close()\n";

	real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	(void)!write(2, msg, sizeof(msg) - 1);
}

int close(int fd)
{
	void *bt[32];
	char msg[96];
	int r, e, n;

	/* A library's constructor may close before ours has run. */
	if (!real_close)
		real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	r = real_close(fd);
	e = errno;
	if (r < 0 && e == EBADF && fd >= 0) {
		n = snprintf(msg, sizeof(msg),
			     "closecheck: close(%d): not open (closed twice)\n", fd);
		(void)!write(2, msg, (size_t)n);
		backtrace_symbols_fd(bt, backtrace(bt, 32), 2);
	}
	errno = e;
	return r;
}
