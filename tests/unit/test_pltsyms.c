// SPDX-License-Identifier: GPL-2.0
/*
 * PLT stub names against binutils' objdump -d, which synthesizes the same
 * "name@plt" labels from its own reading of the relocations: the fixture
 * (lazy .plt and .plt.got), its IBT build (.plt.sec beside a .plt of
 * lazy-binding stubs), and libc, whose IRELATIVE stubs objdump calls
 * "*ABS*+0xADDR@plt" and we name by the IFUNC symbol at ADDR (checked
 * against nm -D).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pltsyms.h"

#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"

static char fixdir[512];

/* Does nm -D list an IFUNC named @name at @addr in @path? */
static bool nm_ifunc(const char *path, uint64_t addr, const char *name)
{
	char cmd[700], line[512], want[340];
	bool found = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", path);
	snprintf(want, sizeof(want), "%016" PRIx64 " i %s", addr, name);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "@\n")] = 0;
		if (!strcmp(line, want))
			found = true;
	}
	if (f)
		pclose(f);
	return found;
}

/* Compare pltsyms with objdump's labels for @path; returns stubs seen. */
static size_t check_file(const char *path, const char *what)
{
	char cmd[700], line[1024];
	struct plt_stub *stubs = NULL;
	size_t n = 0, seen = 0, i;
	int fd, r;
	Elf *elf;
	FILE *f;

	fd = open(path, O_RDONLY);
	CHECK(fd >= 0, "%s: open %s", what, path);
	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	r = pltsyms__read(elf, &stubs, &n);
	CHECK(r == 0, "%s: pltsyms__read: %d", what, r);
	for (i = 1; i < n; i++)
		CHECK(stubs[i - 1].vaddr + stubs[i - 1].size <= stubs[i].vaddr,
		      "%s: stubs sorted and apart", what);

	/* "0000000000001030 <setvbuf@plt>:" for each stub objdump names. */
	snprintf(cmd, sizeof(cmd),
		 "objdump -d --no-show-raw-insn -j .plt -j .plt.sec -j .plt.got '%s' 2>/dev/null",
		 path);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		const struct plt_stub *s;
		char *lt = strchr(line, '<'), *gt;
		uint64_t addr;

		if (!lt || !(gt = strstr(lt, "@plt>:")) || line[0] == ' ')
			continue;
		addr = strtoull(line, NULL, 16);
		*gt = 0;
		lt++;
		if (strstr(lt, "@plt-0x"))	/* PLT0, labelled by offset */
			continue;
		seen++;
		s = pltsyms__find(stubs, n, addr);
		CHECK(s && s->vaddr == addr, "%s: no stub at 0x%" PRIx64 " (%s@plt)",
		      what, addr, lt);
		if (!s)
			continue;
		CHECK(pltsyms__find(stubs, n, addr + s->size - 1) == s,
		      "%s: %s covers its stub", what, s->name);
		if (!strncmp(lt, "*ABS*+0x", 8)) {
			uint64_t target = strtoull(lt + 8, NULL, 16);
			char name[300];

			snprintf(name, sizeof(name), "%.*s",
				 (int)(strlen(s->name) - 4), s->name);
			CHECK(!strcmp(s->name, lt) || nm_ifunc(path, target, name),
			      "%s: 0x%" PRIx64 ": %s, objdump %s@plt (no IFUNC %s at 0x%" PRIx64 ")",
			      what, addr, s->name, lt, name, target);
		} else {
			CHECK(strlen(s->name) == strlen(lt) + 4 &&
			      !strncmp(s->name, lt, strlen(lt)),
			      "%s: 0x%" PRIx64 ": %s, objdump %s@plt", what, addr,
			      s->name, lt);
		}
	}
	if (f)
		pclose(f);
	CHECK(seen == n, "%s: objdump names %zu stubs, pltsyms %zu", what, seen, n);
	CHECK(!pltsyms__find(stubs, n, 0), "%s: address 0 is no stub", what);
	pltsyms__free(stubs, n);
	elf_end(elf);
	close(fd);
	return seen;
}

int main(void)
{
	char path[600];
	size_t n;

	snprintf(fixdir, sizeof(fixdir), "%s",
		 getenv("FIXTURES") ? getenv("FIXTURES") : "../../build/tests/fixtures");
	snprintf(path, sizeof(path), "%s/symfix", fixdir);
	n = check_file(path, "symfix");
	CHECK(n >= 2, "symfix: %zu stubs (printf, strtoul at least)", n);
	snprintf(path, sizeof(path), "%s/symfix.ibt", fixdir);
	n = check_file(path, "symfix.ibt");
	CHECK(n >= 2, "symfix.ibt: %zu stubs in .plt.sec", n);
	/* Relocations (GLOB_DAT) but no PLT: no stub, and no qsort(NULL, 0)
	 * on the empty list (fuzz_elf found it; UBSan aborts there). */
	snprintf(path, sizeof(path), "%s/noplt.so", fixdir);
	n = check_file(path, "noplt.so");
	CHECK(n == 0, "noplt.so: %zu stubs", n);
	if (access(LIBC, R_OK) == 0) {
		n = check_file(LIBC, "libc");
		CHECK(n > 10, "libc: %zu stubs", n);
	}
	return check__done();
}
