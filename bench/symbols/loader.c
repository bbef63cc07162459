/* Loads DIR/lib0.so .. lib(N-1).so and calls each in turn, forever. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int n = atoi(argv[2]), i;
	unsigned (**fn)(unsigned) = calloc(n, sizeof(*fn));
	volatile unsigned x = 1;
	char path[4096];

	for (i = 0; i < n; i++) {
		void *h;

		snprintf(path, sizeof(path), "%s/lib%d.so", argv[1], i);
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h || !(fn[i] = (unsigned (*)(unsigned))dlsym(h, "lib_work"))) {
			fprintf(stderr, "%s: %s\n", path, dlerror());
			return 1;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("loader ready\n");
	for (;;)
		for (i = 0; i < n; i++)
			x = fn[i](x);
}
