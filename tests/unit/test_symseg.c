// SPDX-License-Identifier: GPL-2.0
/*
 * symseg: for every address tried, the same name as libdw's own
 * dwfl_module_addrinfo() (the independent truth: what symseg stands in
 * for) — at, next to and inside every symbol, and on a stride over the
 * whole module — in real binaries: this test itself, libc (with its
 * detached debug symbols when libc6-dbg is installed), libstdc++ and
 * python3 (large symbol tables, sizeless assembly labels). Prints how much
 * faster repeated lookups are (informative; not checked: shared machine).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <elfutils/libdwfl.h>

#include "check.h"
#include "symseg.h"

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

static const char *truth(Dwfl_Module *mod, uint64_t a)
{
	GElf_Off off;
	GElf_Sym sym;

	return dwfl_module_addrinfo(mod, a, &off, &sym, NULL, NULL, NULL);
}

static unsigned mismatches;

static void same(struct symseg *s, Dwfl_Module *mod, uint64_t a,
		 const char *path)
{
	const char *want = truth(mod, a), *got = symseg__name(s, mod, a);

	if (want == got || (want && got && !strcmp(want, got)))
		return;
	/* One line per binary is enough to debug; count them all. */
	if (mismatches++ < 5)
		printf("%s: 0x%llx: libdw %s, symseg %s\n", path,
		       (unsigned long long)a, want ? want : "(none)",
		       got ? got : "(none)");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void one(const char *path)
{
	Dwarf_Addr lo, hi;
	Dwfl_Module *mod;
	struct symseg *s = NULL;
	unsigned before = mismatches, nq = 0;
	double t0, t1, t2;
	uint64_t a, step;
	Dwfl *d;
	int n, i, r;

	if (access(path, R_OK) < 0)
		return;
	d = dwfl_begin(&callbacks);
	CHECK(d, "dwfl_begin");
	if (!d)
		return;
	mod = dwfl_report_offline(d, path, path, -1);
	CHECK(mod, "%s: %s", path, dwfl_errmsg(-1));
	dwfl_report_end(d, NULL, NULL);
	if (!mod)
		goto out;
	r = symseg__new(mod, &s);
	n = dwfl_module_getsymtab(mod);
	CHECK(r == 0 || (r == -ENOENT && n <= 1), "%s: %d, %d symbols", path, r, n);
	if (r < 0)
		goto out;
	CHECK(symseg__bytes(s) > 0, "");
	/* Around and inside symbols (1500 of them, spread over the table:
	 * libdw's own lookup is the slow part of this test), in table order
	 * (so stretches are first asked at many different places). */
	for (i = 1; i < n; i += (n + 1499) / 1500) {
		GElf_Sym sym;
		GElf_Addr v;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &v, NULL,
							   NULL, NULL);
		uint64_t probes[] = { v - 1, v, v + 1, v + sym.st_size / 2,
				      v + sym.st_size - 1, v + sym.st_size,
				      v + sym.st_size + 1 };
		unsigned k;

		if (!name || !v)
			continue;
		for (k = 0; k < sizeof(probes) / sizeof(probes[0]); k++, nq++)
			same(s, mod, probes[k], path);
	}
	/* A stride over the whole module (5000 addresses). */
	dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
	step = (hi - lo) / 5000 + 1;
	for (a = lo; a < hi; a += step, nq++)
		same(s, mod, a, path);
	CHECK(mismatches == before, "%s: %u of %u addresses named otherwise",
	      path, mismatches - before, nq);

	/* Informative: the same 2000 addresses again, each way. */
	step = (hi - lo) / 2000 + 1;
	t0 = now_s();
	for (a = lo; a < hi; a += step)
		(void)truth(mod, a);
	t1 = now_s();
	for (a = lo; a < hi; a += step)
		(void)symseg__name(s, mod, a);
	t2 = now_s();
	printf("%s: %d symbols, %zu bytes; libdw %.1f us/lookup, symseg %.3f us\n",
	       path, n, symseg__bytes(s), 1e6 * (t1 - t0) / 2000,
	       1e6 * (t2 - t1) / 2000);
out:
	symseg__free(s);
	dwfl_end(d);
}

int main(int argc, char **argv)
{
	const char *paths[] = {
		"/proc/self/exe",
		"/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
		"/usr/bin/python3.11",
		"/lib/x86_64-linux-gnu/libm.so.6",
	};
	char self[4096];
	ssize_t n;
	size_t i;

	(void)argc;
	(void)argv;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CHECK(n > 0, "readlink");
	if (n > 0) {
		self[n] = 0;
		paths[0] = self;
	}
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		one(paths[i]);
	return check__done();
}
