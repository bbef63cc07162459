/* heapcpp: C++ new/delete workload (libstdc++), driven like heapwl: prints
 * "heapcpp ready", runs each command read from stdin, prints
 * "done <command>"; EOF or the deadline (argv[1] seconds) ends it.
 *
 * "basic":
 *   cpp_keep   40 x new Obj (256 bytes), live
 *   cpp_churn  200 x new Obj, deleted at once
 *   cpp_array  10 x new char[1000], live
 *
 * Build: -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -fno-inline
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

struct Obj {
	char data[256];
};

static void *volatile keep[1000];
static volatile unsigned nkeep;
static Obj *volatile sink;

NOINLINE void cpp_keep()
{
	for (int i = 0; i < 40; i++)
		keep[nkeep++] = new Obj;
}

NOINLINE void cpp_churn()
{
	for (int i = 0; i < 200; i++) {
		sink = new Obj;
		delete sink;
	}
}

NOINLINE void cpp_array()
{
	for (int i = 0; i < 10; i++)
		keep[nkeep++] = new char[1000];
}

int main(int argc, char **argv)
{
	char line[64];
	double s = argc > 1 ? atof(argv[1]) : 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (s > 0)
		alarm((unsigned)s + 1);
	printf("heapcpp ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!strcmp(line, "basic")) {
			cpp_keep();
			cpp_churn();
			cpp_array();
		} else {
			printf("unknown %s\n", line);
			continue;
		}
		printf("done %s\n", line);
	}
	return 0;
}
