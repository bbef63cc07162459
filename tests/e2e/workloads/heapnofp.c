/*
 * Heap allocations two or more frames below functions without frame
 * pointers (built -O2 -fomit-frame-pointer, like Debian's libraries): the
 * frame-pointer walk from inside malloc cannot tell who called; DWARF
 * unwinding can. Driven over stdin like heapwl:
 *   run      path_a -> mid -> site -> malloc(96)  x 30, kept live
 *            path_b -> mid -> site -> malloc(96)  x 10, kept live
 *            path_c -> strdup (libc, no frame pointers) -> malloc(48) x 20
 *   threads  in a thread "hnworker": path_a x 6, path_b x 2
 * Replies "done <command>". Truth: test_unwind.py.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void *keep[1024];
static unsigned nkeep;
static volatile unsigned long sink;
static char text[48];

NOINLINE void hold(void *p)
{
	if (nkeep < sizeof(keep) / sizeof(keep[0]))
		keep[nkeep++] = p;
}

/* Work before and after each call, so none is a tail call and the
 * compiler uses rbp as a scratch register (no frame chain). */
NOINLINE void *site(unsigned long n)
{
	void *p = malloc(n);

	sink += (unsigned long)p & 7;
	return p;
}

NOINLINE void *mid(unsigned long n, unsigned long salt)
{
	void *p = site(n + (salt & 0));

	sink ^= salt;
	return p;
}

NOINLINE void path_a(int n)
{
	for (int i = 0; i < n; i++)
		hold(mid(96, (unsigned long)i * 3));
	sink++;
}

NOINLINE void path_b(int n)
{
	for (int i = 0; i < n; i++)
		hold(mid(96, (unsigned long)i * 5));
	sink += 2;
}

NOINLINE void path_c(int n)
{
	for (int i = 0; i < n; i++)
		hold(strdup(text));
	sink += 3;
}

static void *worker(void *arg)
{
	path_a(6);
	path_b(2);
	return arg;
}

int main(int argc, char **argv)
{
	char line[64];
	double s = argc > 1 ? atof(argv[1]) : 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (s > 0)
		alarm((unsigned)s + 1);
	memset(text, 'x', sizeof(text) - 1);	/* strdup: 48 bytes */
	printf("heapnofp ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!strcmp(line, "run")) {
			path_a(30);
			path_b(10);
			path_c(20);
		} else if (!strcmp(line, "threads")) {
			pthread_t t;

			pthread_create(&t, NULL, worker, NULL);
			pthread_setname_np(t, "hnworker");
			pthread_join(t, NULL);
		} else {
			printf("unknown %s\n", line);
			continue;
		}
		printf("done %s\n", line);
	}
	return 0;
}
