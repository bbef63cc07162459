/* uselib: sleeps 0.3 s, then dlopen()s libhot.so (next to the executable,
 * or argv[2]) and calls lib_spin in a loop: main -> caller -> lib_spin.
 * Build: -O1 -g -fno-omit-frame-pointer -fno-inline -fno-optimize-sibling-calls -ldl
 * Usage: uselib [seconds [path/to/libhot.so]] */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common.h"

typedef void (*spin_fn)(void);

__attribute__((noinline)) void caller(spin_fn fn, double deadline)
{
	do
		fn();
	while (!e2e_expired(deadline));
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], exe[PATH_MAX];
	double deadline = e2e_deadline(argc, argv);
	void *h;
	spin_fn fn;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2) {
		snprintf(path, sizeof(path), "%s", argv[2]);
	} else {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return 2;
		exe[n] = 0;
		snprintf(path, sizeof(path), "%s/libhot.so", dirname(exe));
	}
	printf("uselib ready\n");
	usleep(300000);
	h = dlopen(path, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	fn = (spin_fn)dlsym(h, "lib_spin");
	if (!fn)
		return 1;
	printf("uselib loaded\n");
	caller(fn, deadline);
	return 0;
}
