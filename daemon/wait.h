/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wait: the one way API threads wait — for a window's end or a heap
 * tracking generation, noticing a client that hung up, and at shutdown until
 * no request is left. Polls every 100 ms at most.
 */
#ifndef PROFD_WAIT_H
#define PROFD_WAIT_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "clock.h"

/*
 * wait__step() - sleep until @end_ns (CLOCK_MONOTONIC) or 100 ms,
 * whichever comes first, watching @conn_fd (-1: none) for a hang-up, and
 * waking early when @wake_fd (-1: none; a pidfd) becomes readable.
 * 0, or -ECONNRESET when the client went away.
 */
static inline int wait__step(uint64_t end_ns, int conn_fd, int wake_fd)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	int timeout_ms = now >= end_ns ? 0 :
			 (int)((end_ns - now) / 1000000) + 1;
	struct pollfd pfd[2] = {
		{ .fd = conn_fd, .events = POLLRDHUP },
		{ .fd = wake_fd, .events = POLLIN },
	};

	if (timeout_ms > 100)
		timeout_ms = 100;
	/* poll() skips negative fds: with neither, a plain sleep. */
	if (poll(pfd, 2, timeout_ms) > 0 && conn_fd >= 0 &&
	    (pfd[0].revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return -ECONNRESET;
	return 0;
}

/*
 * wait__idle() - wait (at most @timeout_ms, in 20 ms steps) while
 * @busy(@ctx) says requests are left; then, if any were, 100 ms more for
 * their connection threads to write the answers.
 */
static inline void wait__idle(bool (*busy)(void *ctx), void *ctx,
			      unsigned timeout_ms)
{
	unsigned waited = 0;

	while (busy(ctx) && waited < timeout_ms) {
		usleep(20 * 1000);
		waited += 20;
	}
	if (waited)
		usleep(100 * 1000);
}

#endif /* PROFD_WAIT_H */
