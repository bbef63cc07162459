// SPDX-License-Identifier: GPL-2.0
/*
 * The symbolizer on a binary the tests build (fixtures/symfix.c, -O2 -g):
 * function names, file:line, an inlined call as two frames, the cache by
 * build-id, and debug info found in /usr/lib/debug/.build-id for a copy
 * stripped of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "symbolizer.h"

static char fixdir[512];

/* Line number of the line of symfix.c holding @marker. */
static int marker_line(const char *marker)
{
	char line[512];
	FILE *f = fopen("fixtures/symfix.c", "r");
	int n = 0, found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, marker)) {
			found = n;
			break;
		}
	}
	fclose(f);
	return found;
}

/* st_value/st_size of @name and the file offset of st_value. */
static int find_sym(const char *path, const char *name, uint64_t *off,
		    uint64_t *size)
{
	int fd = open(path, O_RDONLY), r = -ENOENT;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			size_t ph, k;

			if (!gelf_getsym(d, (int)i, &s) ||
			    strcmp(elf_strptr(elf, sh.sh_link, s.st_name), name))
				continue;
			elf_getphdrnum(elf, &ph);
			for (k = 0; k < ph; k++) {
				GElf_Phdr p;

				gelf_getphdr(elf, (int)k, &p);
				if (p.p_type == PT_LOAD && s.st_value >= p.p_vaddr &&
				    s.st_value < p.p_vaddr + p.p_filesz) {
					*off = s.st_value - p.p_vaddr + p.p_offset;
					*size = s.st_size;
					r = 0;
				}
			}
		}
	}
	elf_end(elf);
	close(fd);
	return r;
}

static int get(struct symbolizer *s, const char *name, struct sym_binary **b)
{
	char path[600];
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", fixdir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	r = symbolizer__get(s, fd, path, b);
	close(fd);
	return r;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void check_binary(struct sym_binary *b, const char *path_for_syms,
			 const char *what)
{
	struct sym_frame f[SYM_MAX_INLINE];
	uint64_t off, size, a;
	int n, line_inl = marker_line("MARK_INL"),
	    line_call = marker_line("MARK_CALL"),
	    line_plain = marker_line("MARK_PLAIN");
	bool saw_inline = false, all_outer = true;

	CHECK(line_inl > 0 && line_call > 0 && line_plain > 0, "markers");
	CHECK(find_sym(path_for_syms, "plain_fn", &off, &size) == 0,
	      "%s: plain_fn in symtab", what);
	n = sym_binary__lookup(b, off, f, SYM_MAX_INLINE);
	CHECK(n == 1, "%s: plain_fn: %d frames", what, n);
	if (n >= 1) {
		CHECK(f[0].func && !strcmp(f[0].func, "plain_fn"),
		      "%s: name %s", what, f[0].func);
		CHECK(ends_with(f[0].file, "symfix.c"), "%s: file %s", what,
		      f[0].file);
		/* The function's first instruction belongs to its opening
		 * line or the marked body line. */
		CHECK(f[0].line >= line_plain - 2 && f[0].line <= line_plain,
		      "%s: line %d, want ~%d", what, f[0].line, line_plain);
	}

	CHECK(find_sym(path_for_syms, "outer_fn", &off, &size) == 0,
	      "%s: outer_fn in symtab", what);
	for (a = off; a < off + size; a++) {
		n = sym_binary__lookup(b, a, f, SYM_MAX_INLINE);
		if (n < 1 || !f[n - 1].func || strcmp(f[n - 1].func, "outer_fn"))
			all_outer = false;
		if (n == 2 && f[0].func && !strcmp(f[0].func, "inl_work") &&
		    f[0].line == line_inl && f[1].line == line_call &&
		    ends_with(f[1].file, "symfix.c"))
			saw_inline = true;
	}
	CHECK(all_outer, "%s: every address of outer_fn ends in outer_fn", what);
	CHECK(saw_inline, "%s: an address in outer_fn is [inl_work:%d, outer_fn:%d]",
	      what, line_inl, line_call);

	/* An offset outside every PT_LOAD resolves to nothing. */
	CHECK(sym_binary__lookup(b, 1ULL << 40, f, SYM_MAX_INLINE) == 0,
	      "%s: out of range", what);
}

static int install_debug(const char *build_id, char *dst, size_t size)
{
	char src[600], dir[300], cmd[1400];

	snprintf(dir, sizeof(dir), "/usr/lib/debug/.build-id/%.2s", build_id);
	snprintf(dst, size, "%s/%s.debug", dir, build_id + 2);
	snprintf(src, sizeof(src), "%s/symfix.debug", fixdir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s' '%s'", dir, src, dst);
	return system(cmd) == 0 ? 0 : -EIO;
}

int main(void)
{
	struct sym_binary *b1 = NULL, *b2 = NULL, *b3 = NULL;
	struct sym_binary_info info;
	struct symbolizer_stats st;
	struct symbolizer *s;
	char path[600], dbg[600] = "";
	int r, opened = 0;

	snprintf(fixdir, sizeof(fixdir), "%s",
		 getenv("FIXTURES") ? getenv("FIXTURES") : "../../build/tests/fixtures");
	s = symbolizer__new(1 << 20);
	CHECK(s != NULL, "new");

	r = get(s, "symfix", &b1);
	CHECK(r == 0, "open symfix: %d", r);
	if (r == 0) {
		sym_binary__info(b1, &info);
		CHECK(strlen(info.build_id) == 40, "build id %s", info.build_id);
		CHECK(info.has_functions && info.has_filenames &&
		      info.has_line_numbers && info.has_inline_frames, "flags");
		snprintf(path, sizeof(path), "%s/symfix", fixdir);
		check_binary(b1, path, "symfix");
	}

	/* clang's DWARF 5 without .debug_aranges: CUs found by their ranges. */
	r = get(s, "symfix.clang", &b3);
	CHECK(r == 0, "open symfix.clang: %d", r);
	if (r == 0) {
		snprintf(path, sizeof(path), "%s/symfix.clang", fixdir);
		check_binary(b3, path, "clang");
		sym_binary__put(b3);
		b3 = NULL;
	}

	/* Same build-id again: the cached entry. */
	r = get(s, "symfix", &b2);
	CHECK(r == 0 && b2 == b1, "cache hit by build-id");
	symbolizer__stats(s, &st);
	CHECK(st.binaries == 2 && st.hits == 1, "stats: %lu binaries, %lu hits",
	      (unsigned long)st.binaries, (unsigned long)st.hits);
	sym_binary__put(b2);
	sym_binary__put(b1);

	/* The stripped copy has the same build-id: drop the cache (tiny bound
	 * evicts idle entries) so it is opened afresh, with debug info
	 * installed where libdwfl looks for it. */
	symbolizer__free(s);
	s = symbolizer__new(0);
	if (getuid() == 0 && install_debug(info.build_id, dbg, sizeof(dbg)) == 0) {
		r = get(s, "symfix.stripped", &b3);
		CHECK(r == 0, "open stripped: %d", r);
		opened = r == 0;
		if (r == 0) {
			sym_binary__info(b3, &info);
			CHECK(info.has_line_numbers, "debug info from %s", dbg);
			snprintf(path, sizeof(path), "%s/symfix", fixdir);
			check_binary(b3, path, "stripped+debuglink");
			sym_binary__put(b3);
		}
		unlink(dbg);
	} else {
		printf("skip: /usr/lib/debug lookup needs root\n");
	}
	symbolizer__stats(s, &st);
	/* A zero bound keeps nothing idle: the binary went when put. */
	CHECK(st.binaries == 0 && st.bytes_estimate == 0 &&
	      st.evictions == (uint64_t)opened,
	      "zero bound: %lu binaries, %lu bytes, %lu evictions (opened %d)",
	      (unsigned long)st.binaries, (unsigned long)st.bytes_estimate,
	      (unsigned long)st.evictions, opened);
	symbolizer__free(s);

	/* Not ELF. */
	s = symbolizer__new(1 << 20);
	{
		int fd = open("fixtures/symfix.c", O_RDONLY);

		r = symbolizer__get(s, fd, "symfix.c", &b1);
		CHECK(r == -ENOEXEC, "non-ELF: %d", r);
		close(fd);
	}
	symbolizer__free(s);
	return check__done();
}
