// SPDX-License-Identifier: GPL-2.0
/*
 * The symbolizer on a binary the tests build (fixtures/symfix.c, -O2 -g):
 * function names, file:line, an inlined call as two frames, a chain of
 * three with each outer level at its call site, every address of .text
 * against binutils' `addr2line -i` (an independent DWARF reader), the
 * cache by build-id, and debug info found in /usr/lib/debug/.build-id for
 * a copy stripped of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
static int marker_line_in(const char *src, const char *marker)
{
	char line[512];
	FILE *f = fopen(src, "r");
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

static int marker_line(const char *marker)
{
	return marker_line_in("fixtures/symfix.c", marker);
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
			    !elf_strptr(elf, sh.sh_link, s.st_name) ||
			    (strcmp(elf_strptr(elf, sh.sh_link, s.st_name), name) &&
			     /* "name.isra.0": a clone of name */
			     (strncmp(elf_strptr(elf, sh.sh_link, s.st_name), name,
				      strlen(name)) ||
			      elf_strptr(elf, sh.sh_link, s.st_name)[strlen(name)] != '.')))
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

/* The PT_LOAD file offset of link-time address @vaddr in @elf. */
static bool vaddr_off(Elf *elf, uint64_t vaddr, uint64_t *ret)
{
	size_t ph, k;

	if (elf_getphdrnum(elf, &ph) < 0)
		return false;
	for (k = 0; k < ph; k++) {
		GElf_Phdr p;

		if (gelf_getphdr(elf, (int)k, &p) && p.p_type == PT_LOAD &&
		    vaddr >= p.p_vaddr && vaddr < p.p_vaddr + p.p_filesz) {
			*ret = vaddr - p.p_vaddr + p.p_offset;
			return true;
		}
	}
	return false;
}

/* .text's link-time range in @path. */
static int text_range(const char *path, uint64_t *lo, uint64_t *hi)
{
	int fd = open(path, O_RDONLY), r = -ENOENT;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0) {
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh))
				continue;
			name = elf_strptr(elf, shstrndx, sh.sh_name);
			if (name && !strcmp(name, ".text")) {
				*lo = sh.sh_addr;
				*hi = sh.sh_addr + sh.sh_size;
				r = 0;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return r;
}

/* "dir/./x.c" and "dir/x.c" are one file to both readers. */
static bool same_file(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (!strcmp(a, b))
		return true;
	return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

/*
 * Every address of .text in @path whose line binutils' addr2line knows,
 * looked up by both: the same inline chain, level by level, each with its
 * file and line. Returns the number that agree; *ret_n the number compared.
 */
static int compare_addr2line(struct sym_binary *b, const char *path,
			     const char *what, int *ret_n)
{
	char tmp[] = "/tmp/symfix-addrs.XXXXXX", cmd[1200], line[1024];
	struct sym_frame f[SYM_MAX_INLINE];
	int fd, agree = 0, n = 0, shown = 0;
	uint64_t lo = 0, hi = 0, a;
	FILE *in, *out;
	Elf *elf;

	*ret_n = 0;
	if (text_range(path, &lo, &hi) < 0)
		return 0;
	fd = mkstemp(tmp);
	if (fd < 0)
		return 0;
	out = fdopen(fd, "w");
	for (a = lo; a < hi; a++)
		fprintf(out, "0x%lx\n", (unsigned long)a);
	fclose(out);
	snprintf(cmd, sizeof(cmd), "addr2line -a -i -e '%s' < %s", path, tmp);
	in = popen(cmd, "r");
	fd = open(path, O_RDONLY);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	/* Per address: "0xADDR", then "file:line" per level, innermost first. */
	a = 0;
	if (in && fgets(line, sizeof(line), in))
		a = strtoull(line, NULL, 16);
	while (in && a) {
		char files[SYM_MAX_INLINE][1024];
		int lines[SYM_MAX_INLINE], nl = 0, nf, i;
		uint64_t addr = a, off;
		bool known = false, same;

		a = 0;
		while (fgets(line, sizeof(line), in)) {
			char *colon, *disc;

			if (!strncmp(line, "0x", 2)) {
				a = strtoull(line, NULL, 16);
				break;
			}
			line[strcspn(line, "\n")] = 0;
			disc = strstr(line, " (discriminator");
			if (disc)
				*disc = 0;
			colon = strrchr(line, ':');
			if (!colon || nl == SYM_MAX_INLINE)
				continue;
			*colon = 0;
			memcpy(files[nl], line, strlen(line) + 1);
			lines[nl] = atoi(colon + 1);
			known |= lines[nl] > 0;
			nl++;
		}
		if (!known || !vaddr_off(elf, addr, &off))
			continue;
		n++;
		nf = sym_binary__lookup(b, off, f, SYM_MAX_INLINE);
		same = nf == nl;
		for (i = 0; same && i < nf; i++)
			same = f[i].file && f[i].line == lines[i] &&
			       same_file(f[i].file, files[i]);
		if (same) {
			agree++;
		} else if (shown++ < 3) {
			printf("%s: 0x%lx: %d levels, addr2line %d:", what,
			       (unsigned long)addr, nf, nl);
			for (i = 0; i < nl; i++)
				printf(" %s:%d", files[i], lines[i]);
			printf(" / ours:");
			for (i = 0; i < nf; i++)
				printf(" %s:%d", f[i].file ? f[i].file : "?", f[i].line);
			printf("\n");
		}
	}
	if (in)
		pclose(in);
	elf_end(elf);
	close(fd);
	unlink(tmp);
	*ret_n = n;
	return agree;
}

static void check_binary(struct sym_binary *b, const char *path_for_syms,
			 const char *what)
{
	struct sym_frame f[SYM_MAX_INLINE];
	uint64_t off, size, a;
	int n, line_inl = marker_line("MARK_INL"),
	    line_call = marker_line("MARK_CALL"),
	    line_plain = marker_line("MARK_PLAIN");
	int line_leaf = marker_line("MARK_LEAF"),
	    line_mid = marker_line("MARK_MID_CALL"),
	    line_nest = marker_line("MARK_NEST_CALL"), agree, compared;
	bool saw_inline = false, all_outer = true, saw_chain = false,
	     all_nest = true;

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

	/* Three levels: each outer one at the line of its call. */
	CHECK(find_sym(path_for_syms, "nest_fn", &off, &size) == 0,
	      "%s: nest_fn in symtab", what);
	for (a = off; a < off + size; a++) {
		n = sym_binary__lookup(b, a, f, SYM_MAX_INLINE);
		if (n < 1 || !f[n - 1].func || strcmp(f[n - 1].func, "nest_fn"))
			all_nest = false;
		if (n == 3 && f[0].func && !strcmp(f[0].func, "inl_leaf") &&
		    f[1].func && !strcmp(f[1].func, "inl_mid") &&
		    f[0].line == line_leaf && f[1].line == line_mid &&
		    f[2].line == line_nest && ends_with(f[0].file, "/symfix.c") &&
		    ends_with(f[1].file, "/symfix.c") &&
		    ends_with(f[2].file, "/symfix.c"))
			saw_chain = true;
	}
	CHECK(all_nest, "%s: every address of nest_fn ends in nest_fn", what);
	CHECK(saw_chain, "%s: an address in nest_fn is [inl_leaf:%d, inl_mid:%d, nest_fn:%d]",
	      what, line_leaf, line_mid, line_nest);

	/* Every address with a known line, as binutils reads the DWARF. */
	agree = compare_addr2line(b, path_for_syms, what, &compared);
	printf("%s: %d of %d addresses of .text agree with addr2line -i\n",
	       what, agree, compared);
	CHECK(compared > 100 && agree == compared,
	      "%s: %d of %d addresses agree with addr2line -i", what, agree,
	      compared);

	/* An offset outside every PT_LOAD resolves to nothing. */
	CHECK(sym_binary__lookup(b, 1ULL << 40, f, SYM_MAX_INLINE) == 0,
	      "%s: out of range", what);
}

extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len,
			    int *status);

static bool demangles_to(const char *sym, const char *want)
{
	char *d;
	int st = -1;
	bool ok;

	if (!sym)
		return false;
	d = __cxa_demangle(sym, NULL, NULL, &st);
	ok = st == 0 && d && !strcmp(d, want);
	free(d);
	return ok;
}

/*
 * C++: an inlined member function and the out-of-line function it is
 * inlined into (a GCC clone, "…outerEm.isra.0") are both named by their
 * linkage names, without the clone suffix: one naming rule for every
 * level, so that pprof shows one function for all its instances.
 */
static void check_cxx(struct sym_binary *b, const char *path)
{
	static const char outer[] = "_ZNK2ns3BoxImE5outerEm";
	struct sym_frame f[SYM_MAX_INLINE];
	int n, line_get = marker_line_in("fixtures/symfixcc.cc", "MARK_CC_GET"),
	    line_outer = marker_line_in("fixtures/symfixcc.cc", "MARK_CC_OUTER");
	bool all_outer = true, saw_get = false;
	uint64_t off, size, a;

	CHECK(line_get > 0 && line_outer > 0, "C++ markers");
	CHECK(find_sym(path, outer, &off, &size) == 0, "%s in symtab", outer);
	for (a = off; a < off + size; a++) {
		n = sym_binary__lookup(b, a, f, SYM_MAX_INLINE);
		if (n < 1 || !f[n - 1].func || strcmp(f[n - 1].func, outer))
			all_outer = false;
		if (n == 2 &&
		    demangles_to(f[0].func, "ns::Box<unsigned long>::get(unsigned long) const") &&
		    f[0].line == line_get && f[1].line == line_outer &&
		    ends_with(f[0].file, "/symfixcc.cc"))
			saw_get = true;
	}
	CHECK(all_outer, "every address of %s (or its clone) ends in %s", outer,
	      outer);
	CHECK(saw_get, "an address in %s is [ns::Box<unsigned long>::get:%d, %s:%d]",
	      outer, line_get, outer, line_outer);
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
	struct symbolizer *s = NULL;
	char path[600], dbg[600] = "", build_id[SYM_BUILD_ID_MAX + 1] = "";
	int r, opened = 0;

	snprintf(fixdir, sizeof(fixdir), "%s",
		 getenv("FIXTURES") ? getenv("FIXTURES") : "../../build/tests/fixtures");
	CHECK(symbolizer__new(1 << 20, &s) == 0, "new");

	r = get(s, "symfix", &b1);
	CHECK(r == 0, "open symfix: %d", r);
	if (r == 0) {
		sym_binary__info(b1, &info);
		CHECK(strlen(info.build_id) == 40, "build id %s", info.build_id);
		/* info's strings live only as long as b1: keep a copy for
		 * after the cache is dropped below. */
		snprintf(build_id, sizeof(build_id), "%s", info.build_id);
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

	r = get(s, "symfixcc", &b3);
	CHECK(r == 0, "open symfixcc: %d", r);
	if (r == 0) {
		snprintf(path, sizeof(path), "%s/symfixcc", fixdir);
		check_cxx(b3, path);
		sym_binary__put(b3);
		b3 = NULL;
	}

	/* Same build-id again: the cached entry. */
	r = get(s, "symfix", &b2);
	CHECK(r == 0 && b2 == b1, "cache hit by build-id");
	symbolizer__stats(s, &st);
	CHECK(st.binaries == 3 && st.hits == 1, "stats: %lu binaries, %lu hits",
	      (unsigned long)st.binaries, (unsigned long)st.hits);
	sym_binary__put(b2);
	sym_binary__put(b1);

	/* The stripped copy has the same build-id: drop the cache (tiny bound
	 * evicts idle entries) so it is opened afresh, with debug info
	 * installed where libdwfl looks for it. */
	symbolizer__free(s);
	CHECK(symbolizer__new(0, &s) == 0, "new (no bound)");
	if (getuid() == 0 && build_id[0] &&
	    install_debug(build_id, dbg, sizeof(dbg)) == 0) {
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

	/* DWARF whose one unit covers no code (tests/fuzz/elfseed.c built
	 * -DNO_CODE_CU): no unit answers for any address, and the symbolizer's
	 * own unit index stays empty. Found by fuzz_elf: it went to
	 * qsort(NULL, 0), which UBSan aborts on. */
	CHECK(symbolizer__new(1 << 20, &s) == 0, "new");
	r = get(s, "nocode-cu", &b1);
	CHECK(r == 0, "open nocode-cu: %d", r);
	if (r == 0) {
		struct sym_frame f[SYM_MAX_INLINE];
		uint64_t off;
		int n, bad = 0;

		for (off = 0; off < 4096; off += 16) {
			n = sym_binary__lookup(b1, off, f, SYM_MAX_INLINE);
			if (n < 0 || n > 1 || (n == 1 && f[0].file))
				bad++;
		}
		CHECK(!bad, "nocode-cu: %d lookups gave more than a symbol", bad);
		sym_binary__put(b1);
	}
	symbolizer__free(s);

	/* Not ELF. */
	CHECK(symbolizer__new(1 << 20, &s) == 0, "new");
	{
		int fd = open("fixtures/symfix.c", O_RDONLY);

		r = symbolizer__get(s, fd, "symfix.c", &b1);
		CHECK(r == -ENOEXEC, "non-ELF: %d", r);
		close(fd);
	}
	symbolizer__free(s);
	return check__done();
}
