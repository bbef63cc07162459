// SPDX-License-Identifier: GPL-2.0
/*
 * Source frames of an address from DWARF. dwarf_getscopes() alone is not
 * enough: past the innermost DW_TAG_inlined_subroutine it continues with
 * the scopes of that function's *abstract* definition (so that variables
 * can be looked up), not with the code it was inlined into — a walk that
 * stops at the first DW_TAG_subprogram there sees one inline level and
 * names the abstract definition's scope. Like elfutils' addr2line -i, we
 * take the innermost concrete scope from dwarf_getscopes() and ask
 * dwarf_getscopes_die() for its physical nesting, which holds every
 * inlined level up to the real function.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>
#include <elfutils/libdw.h>

#include "strtab.h"
#include "symsrc.h"

/* Joined file names kept per module: one per source file in practice;
 * past this many, relative names are returned as DWARF has them. */
#define SYMSRC_MAX_PATHS 65536

/* An address range of one compile unit, for binaries without aranges. */
struct cu_range {
	uint64_t lo, hi;
	Dwarf_Off die_off;
};

struct symsrc {
	Dwfl_Module *mod;
	bool has_dwarf;
	/* Built on first need: clang and rustc omit .debug_aranges, and
	 * libdw 0.188 then finds no CU for an address. */
	struct cu_range *cus;
	size_t ncus;
	bool cus_built;
	struct strtab *paths;		/* comp_dir-joined file names */
	size_t bytes;
};

int symsrc__new(Dwfl_Module *mod, struct symsrc **ret)
{
	struct symsrc *ss = calloc(1, sizeof(*ss));
	Dwarf_Addr bias;
	int err;

	if (!ss)
		return -ENOMEM;
	err = strtab__new(&ss->paths);
	if (err) {
		free(ss);
		return err;
	}
	ss->mod = mod;
	ss->has_dwarf = dwfl_module_getdwarf(mod, &bias) != NULL;
	*ret = ss;
	return 0;
}

void symsrc__free(struct symsrc *ss)
{
	if (!ss)
		return;
	strtab__free(ss->paths);
	free(ss->cus);
	free(ss);
}

size_t symsrc__bytes(const struct symsrc *ss)
{
	return ss->bytes;
}

static int cmp_cu(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Index every CU's address ranges (DW_AT_low_pc/high_pc or DW_AT_ranges). */
static void build_cu_ranges(struct symsrc *ss)
{
	Dwarf_CU *cu = NULL, *next;
	Dwarf_Addr bias;
	Dwarf_Die cudie;
	size_t cap = 0;
	Dwarf *dw;

	ss->cus_built = true;
	dw = dwfl_module_getdwarf(ss->mod, &bias);
	if (!dw)
		return;
	while (dwarf_get_units(dw, cu, &next, NULL, NULL, &cudie, NULL) == 0) {
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;

		cu = next;
		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
			if (hi <= lo)
				continue;
			if (ss->ncus == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct cu_range *n = realloc(ss->cus, nc * sizeof(*n));

				if (!n)
					goto done;
				ss->bytes += (nc - cap) * sizeof(*n);
				ss->cus = n;
				cap = nc;
			}
			ss->cus[ss->ncus].lo = lo + bias;
			ss->cus[ss->ncus].hi = hi + bias;
			ss->cus[ss->ncus].die_off = dwarf_dieoffset(&cudie);
			ss->ncus++;
		}
	}
done:
	/* Not qsort(NULL, 0): its pointer must be valid even then. */
	if (ss->ncus)
		qsort(ss->cus, ss->ncus, sizeof(*ss->cus), cmp_cu);
}

/* The CU containing @addr through our own index. */
static bool find_cu(struct symsrc *ss, Dwarf_Addr addr, Dwarf_Die *ret,
		    Dwarf_Addr *ret_bias)
{
	size_t lo = 0, hi, i;
	Dwarf *dw;

	if (!ss->cus_built)
		build_cu_ranges(ss);
	hi = ss->ncus;
	/* Last range starting at or below addr; ranges may nest or overlap
	 * little, so look back a few entries. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ss->cus[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	dw = dwfl_module_getdwarf(ss->mod, ret_bias);
	for (i = lo; i > 0 && lo - i < 8; i--) {
		const struct cu_range *c = &ss->cus[i - 1];

		if (addr >= c->lo && addr < c->hi)
			return dw && dwarf_offdie(dw, c->die_off, ret) != NULL;
	}
	return false;
}

/*
 * @file made absolute with the CU's compilation directory, as binutils'
 * addr2line and debuggers show it: GCC's DWARF 5 line tables name files
 * relative to a directory entry that is itself relative ("src/x.c" for
 * `gcc src/x.c`), and libdw joins only the two. "./" components go. A
 * relative DW_AT_comp_dir (a build whose prefix was mapped to ".", as
 * Debian's glibc) stays unjoined: joined, it names no path that ever
 * existed (binutils joins it: "./stdio-common/./stdio-common/x.c").
 */
static const char *abs_path(struct symsrc *ss, Dwarf_Die *cu,
			    const char *file)
{
	Dwarf_Attribute attr;
	const char *dir;
	char *joined, *p;
	size_t dl;
	int64_t idx;

	if (!file || file[0] == '/' || !*file || !cu ||
	    !dwarf_attr(cu, DW_AT_comp_dir, &attr) ||
	    !(dir = dwarf_formstring(&attr)) || dir[0] != '/' ||
	    strtab__count(ss->paths) >= SYMSRC_MAX_PATHS)
		return file;
	while (file[0] == '.' && file[1] == '/')
		file += 2;
	dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	if (asprintf(&joined, "%.*s/%s", (int)dl, dir, file) < 0)
		return file;
	while ((p = strstr(joined, "/./")))
		memmove(p, p + 2, strlen(p + 2) + 1);
	idx = strtab__intern(ss->paths, joined);
	if (idx >= 0 && (size_t)idx + 1 == strtab__count(ss->paths))
		ss->bytes += strlen(joined) + 1 + 3 * sizeof(void *);
	free(joined);
	if (idx < 0)
		return file;
	return strtab__strings(ss->paths)[idx];
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;

	if (dwarf_attr_integrate(die, DW_AT_name, &attr))
		return dwarf_formstring(&attr);
	return NULL;
}

/*
 * The mangled name of a function DIE or one of its inlined instances
 * (through the abstract origin to the declaration), NULL when none. Only
 * a mangled one (C++ and Rust's legacy "_Z", Rust's v0 "_R"): a C
 * function's linkage name is its asm label, glibc's "__GI___strdup" for
 * __strdup, an internal alias no one calls it by.
 */
static const char *die_linkage_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *s;

	if (!dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) &&
	    !dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		return NULL;
	s = dwarf_formstring(&attr);
	if (!s || s[0] != '_' || (s[1] != 'Z' && s[1] != 'R'))
		return NULL;
	return s;
}

static int die_decl_line(Dwarf_Die *die)
{
	int line = 0;

	if (dwarf_decl_line(die, &line) != 0)
		return 0;
	return line;
}

/* The file named by an inlined_subroutine's DW_AT_call_file. */
static const char *call_file(Dwarf_Die *cu, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	Dwarf_Files *files;
	Dwarf_Word idx;
	size_t nfiles;

	if (!dwarf_attr(die, DW_AT_call_file, &attr) ||
	    dwarf_formudata(&attr, &idx) != 0)
		return NULL;
	if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

static int call_line(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	Dwarf_Word v;

	if (!dwarf_attr(die, DW_AT_call_line, &attr) ||
	    dwarf_formudata(&attr, &v) != 0)
		return 0;
	return (int)v;
}

static bool lang_is_c_family(Dwarf_Die *cu)
{
	switch (dwarf_srclang(cu)) {
	case DW_LANG_C89:
	case DW_LANG_C:
	case DW_LANG_C99:
	case DW_LANG_C11:
	case DW_LANG_C_plus_plus:
	case DW_LANG_C_plus_plus_03:
	case DW_LANG_C_plus_plus_11:
	case DW_LANG_C_plus_plus_14:
	case DW_LANG_ObjC:
	case DW_LANG_ObjC_plus_plus:
		return true;
	default:
		return false;
	}
}

/*
 * The name of the real (outermost) function. Inlined levels are named by
 * DWARF alone, so the same function must be named the same way here, or
 * pprof shows its inlined and out-of-line instances as two functions:
 * the mangled linkage name first (the ELF symbol of a C++ clone carries
 * ".isra.0"). Without one (C, Go, extern "C"), the ELF symbol, which keeps
 * Go's ".abi0" wrappers and glibc's aliases as perf shows them — except a
 * GCC clone of a C function ("foo.part.0", "foo.cold"), named as DWARF
 * names its inlined copies.
 */
static const char *subprogram_name(Dwarf_Die *cu, Dwarf_Die *d,
				   const char *symname)
{
	const char *ln = die_linkage_name(d), *dn;
	size_t l;

	if (ln)
		return ln;
	dn = die_name(d);
	if (!symname)
		return dn;
	if (dn && lang_is_c_family(cu) && (l = strlen(dn)) &&
	    !strncmp(symname, dn, l) && symname[l] == '.')
		return dn;
	return symname;
}

/*
 * Scopes holding @pc, innermost first, in the CU's physical nesting: the
 * concrete inlined_subroutine DIEs up to the subprogram and the CU.
 * Costs two walks of the CU's DIE tree; callers cache per address.
 */
static int physical_scopes(Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **ret)
{
	Dwarf_Die *scopes = NULL, inner;
	int n;

	n = dwarf_getscopes(cu, pc, &scopes);
	if (n <= 0) {
		free(scopes);
		return n < 0 ? 0 : n;
	}
	inner = scopes[0];
	free(scopes);
	scopes = NULL;
	n = dwarf_getscopes_die(&inner, &scopes);
	if (n <= 0) {
		free(scopes);
		return 0;
	}
	*ret = scopes;
	return n;
}

int symsrc__frames(struct symsrc *ss, Dwarf_Addr addr, const char *symname,
		   struct sym_frame *frames, int max)
{
	Dwarf_Die *scopes = NULL, *cu, cubuf;
	Dwarf_Addr cubias = 0;
	const char *file = NULL;
	int n = 0, line = 0, nscopes = 0, i;
	bool outer = false;
	Dwfl_Line *l;

	l = dwfl_module_getsrc(ss->mod, addr);
	if (l)
		file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
	cu = dwfl_module_addrdie(ss->mod, addr, &cubias);
	if (!cu && ss->has_dwarf && find_cu(ss, addr, &cubuf, &cubias)) {
		Dwarf_Line *dl;

		cu = &cubuf;
		dl = dwarf_getsrc_die(cu, addr - cubias);
		if (dl && !file) {
			file = dwarf_linesrc(dl, NULL, NULL);
			if (dwarf_lineno(dl, &line) != 0)
				line = 0;
		}
	}
	if (cu) {
		file = abs_path(ss, cu, file);
		nscopes = physical_scopes(cu, addr - cubias, &scopes);
	}
	for (i = 0; i < nscopes; i++) {
		Dwarf_Die *d = &scopes[i];
		int tag = dwarf_tag(d);

		if (tag == DW_TAG_inlined_subroutine) {
			/* Deeper than @max: the outer levels are left out,
			 * but the last slot stays the real function's. */
			if (n < max - 1) {
				frames[n].func = die_linkage_name(d);
				if (!frames[n].func)
					frames[n].func = die_name(d);
				frames[n].file = file;
				frames[n].line = line;
				frames[n].start_line = die_decl_line(d);
				n++;
			}
			/* The caller's position is where this was inlined. */
			file = abs_path(ss, cu, call_file(cu, d));
			line = call_line(d);
		} else if (tag == DW_TAG_subprogram) {
			frames[n].func = subprogram_name(cu, d, symname);
			frames[n].file = file;
			frames[n].line = line;
			frames[n].start_line = die_decl_line(d);
			n++;
			outer = true;
			break;
		}
	}
	if (!outer && n < max && (symname || (n == 0 && file))) {
		/* No enclosing subprogram DIE: the ELF symbol, with whatever
		 * position the line table (or the last inline call) gives. */
		frames[n].func = symname;
		frames[n].file = file;
		frames[n].line = line;
		frames[n].start_line = 0;
		n++;
	}
	free(scopes);
	return n;
}
