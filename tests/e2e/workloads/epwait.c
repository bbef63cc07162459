/* epwait: an event loop that takes EINTR for an error, as many do.
 *
 * The main thread waits in epoll_wait() (on nothing, for argv[1] seconds)
 * and prints "epwait ok" when the wait timed out, or "epwait EINTR" and
 * exits 1 when it was interrupted. With argv[2] "busy", a second thread
 * computes (and allocates) meanwhile.
 *
 * Usage: epwait SECONDS [busy]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

static void *volatile sink;

static void *busy(void *arg)
{
	(void)arg;
	for (;;) {
		sink = malloc(64);
		free(sink);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 5, ep = epoll_create1(0), n;
	struct epoll_event ev;
	pthread_t t;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 2 && !strcmp(argv[2], "busy"))
		pthread_create(&t, NULL, busy, NULL);
	printf("epwait ready\n");
	n = epoll_wait(ep, &ev, 1, secs * 1000);
	if (n < 0 && errno == EINTR) {
		printf("epwait EINTR\n");
		return 1;
	}
	printf("epwait ok\n");
	return 0;
}
