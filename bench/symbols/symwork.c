/* bench/symbols workload: time in libc (qsort), libm (transcendentals),
 * libresolv (dn_comp/dn_expand) and ld.so (dlsym lookups), the four
 * libraries whose DWARF comes from libc6-dbg. Runs until killed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	static double v[20000];
	unsigned char msg[512], *dnptrs[16], *lastdn;
	char name[256];
	volatile double acc = 0;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("symwork ready\n");
	for (;;) {
		for (i = 0; i < 20000; i++)
			v[i] = sin(i * 0.37) * exp(cos(i * 0.11)) + log1p(i);
		qsort(v, 20000, sizeof(v[0]), cmp);
		for (i = 0; i < 2000; i++) {
			dnptrs[0] = msg;
			dnptrs[1] = NULL;
			lastdn = dnptrs[0] + 0;
			(void)lastdn;
			int n = dn_comp("www.example.org.", msg, sizeof(msg), dnptrs, dnptrs + 16);
			if (n > 0)
				dn_expand(msg, msg + n, msg, name, sizeof(name));
		}
		for (i = 0; i < 20000; i++)
			acc += dlsym(RTLD_DEFAULT, i & 1 ? "qsort" : "printf") != NULL;
		acc += v[0];
	}
}
