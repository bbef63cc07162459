// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <gelf.h>
#include <string.h>
#include <unistd.h>

#include "elfsyms.h"

/* An ELF file's handle (elf_end() it), or NULL when @fd is not ELF. */
static Elf *open_elf(int fd)
{
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		elf = NULL;
	}
	return elf;
}

static bool vaddr_to_off(Elf *elf, uint64_t vaddr, uint64_t *ret)
{
	size_t n, i;

	if (elf_getphdrnum(elf, &n) < 0)
		return false;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    !(ph.p_flags & PF_X))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz) {
			*ret = vaddr - ph.p_vaddr + ph.p_offset;
			return true;
		}
	}
	return false;
}

static bool name_eq(const char *sym, const char *want)
{
	size_t l = strlen(want);

	return !strncmp(sym, want, l) && (sym[l] == 0 || sym[l] == '@');
}

static int scan(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
		const char *const *names, size_t n, uint64_t *offs)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t i, k, count;
	int found = 0;

	if (!d || !sh->sh_entsize)
		return 0;
	count = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < count; i++) {
		GElf_Sym s;
		const char *name;
		int type;

		if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF)
			continue;
		type = GELF_ST_TYPE(s.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		name = elf_strptr(elf, sh->sh_link, s.st_name);
		if (!name)
			continue;
		for (k = 0; k < n; k++) {
			if (offs[k] || !name_eq(name, names[k]))
				continue;
			if (vaddr_to_off(elf, s.st_value, &offs[k]))
				found++;
		}
	}
	return found;
}

int elfsyms__find(int fd, const char *const *names, size_t n,
		  uint64_t *ret_offsets)
{
	Elf_Scn *scn = NULL;
	Elf *elf;
	int found = 0, pass;

	elf = open_elf(fd);
	if (!elf)
		return -ENOEXEC;
	memset(ret_offsets, 0, n * sizeof(*ret_offsets));
	/* Exported symbols first: they are what the dynamic linker binds. */
	for (pass = 0; pass < 2; pass++) {
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;

			if (!gelf_getshdr(scn, &sh) ||
			    sh.sh_type != (pass ? SHT_SYMTAB : SHT_DYNSYM))
				continue;
			found += scan(elf, scn, &sh, names, n, ret_offsets);
		}
	}
	elf_end(elf);
	return found;
}

int elfsyms__object(int fd, const char *name, void *buf, size_t len)
{
	Elf_Scn *scn = NULL;
	int r = -ENOENT;
	Elf *elf;

	elf = open_elf(fd);
	if (!elf)
		return -ENOEXEC;
	while (r == -ENOENT && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t i, count, n, k;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM ||
		    !sh.sh_entsize || !(d = elf_getdata(scn, NULL)))
			continue;
		count = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < count; i++) {
			const char *sn;
			GElf_Sym sy;

			if (!gelf_getsym(d, (int)i, &sy) ||
			    sy.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sy.st_info) != STT_OBJECT)
				continue;
			sn = elf_strptr(elf, sh.sh_link, sy.st_name);
			if (!sn || !name_eq(sn, name))
				continue;
			r = -EBADMSG;
			if (sy.st_size != len || elf_getphdrnum(elf, &n) < 0)
				break;
			/* Its bytes in the file: through the segment that
			 * loads it (read-only data: in the file, no .bss). */
			for (k = 0; k < n; k++) {
				GElf_Phdr ph;

				if (!gelf_getphdr(elf, (int)k, &ph) ||
				    ph.p_type != PT_LOAD ||
				    sy.st_value < ph.p_vaddr ||
				    sy.st_value + len > ph.p_vaddr + ph.p_filesz)
					continue;
				if (pread(fd, buf, len, (off_t)(sy.st_value -
						ph.p_vaddr + ph.p_offset)) ==
				    (ssize_t)len)
					r = 0;
				break;
			}
			break;
		}
	}
	elf_end(elf);
	return r;
}

bool elfsyms__is_go(int fd)
{
	static const char *const names[] = { "runtime.mallocgc" };
	Elf_Scn *scn = NULL;
	uint64_t off = 0;
	size_t shstrndx;
	bool go = false;
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return false;
	if (elf_getshdrstrndx(elf, &shstrndx) == 0) {
		while (!go && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh))
				continue;
			name = elf_strptr(elf, shstrndx, sh.sh_name);
			go = name && (!strcmp(name, ".go.buildinfo") ||
				      !strcmp(name, ".gopclntab"));
		}
	}
	elf_end(elf);
	if (!go && elfsyms__find(fd, names, 1, &off) > 0)
		go = true;
	return go;
}

uint64_t elfsyms__probe_offset(int fd, uint64_t off)
{
	unsigned char b[8];

	if (pread(fd, b, sizeof(b), (off_t)off) != (ssize_t)sizeof(b))
		return off;
	/* test %rdi,%rdi; then jcc (short 7x or near 0f 8x): the jcc is
	 * emulated, and %rdi still holds the argument there. */
	if (b[0] == 0x48 && b[1] == 0x85 && b[2] == 0xff &&
	    ((b[3] & 0xf0) == 0x70 || (b[3] == 0x0f && (b[4] & 0xf0) == 0x80)))
		return off + 3;
	return off;
}

struct span {
	const char *const *names;
	size_t n;
	uint64_t min, max;	/* the named functions' extent (vaddr) */
	uint64_t below, above;	/* nearest other functions' end, start */
};

static bool named(const struct span *s, const char *name)
{
	size_t k;

	for (k = 0; k < s->n; k++)
		if (name_eq(name, s->names[k]))
			return true;
	return false;
}

/* Pass 0: the named functions' extent; pass 1: their neighbours. */
static void span_scan(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
		      struct span *s, int pass)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t i, count;

	if (!d || !sh->sh_entsize)
		return;
	count = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < count; i++) {
		GElf_Sym sym;
		const char *name;
		uint64_t lo, hi;

		if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name)
			continue;
		lo = sym.st_value;
		hi = lo + (sym.st_size ? sym.st_size : 1);
		if (pass == 0) {
			if (!named(s, name))
				continue;
			if (lo < s->min)
				s->min = lo;
			if (hi > s->max)
				s->max = hi;
		} else if (!named(s, name)) {
			if (hi <= s->min && hi > s->below)
				s->below = hi;
			if (lo >= s->max && lo < s->above)
				s->above = lo;
		}
	}
}

int elfsyms__span(int fd, const char *const *names, size_t n,
		  uint64_t *ret_lo, uint64_t *ret_hi)
{
	struct span s = { names, n, UINT64_MAX, 0, 0, UINT64_MAX };
	Elf_Scn *scn;
	uint64_t lo, hi;
	Elf *elf;
	int pass, r = 0;

	elf = open_elf(fd);
	if (!elf)
		return -ENOEXEC;
	for (pass = 0; pass < 2; pass++) {
		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) &&
			    (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB))
				span_scan(elf, scn, &sh, &s, pass);
		}
		if (s.min == UINT64_MAX) {
			r = -ENOENT;
			goto out;
		}
	}
	lo = s.below ? s.below : s.min;
	hi = s.above != UINT64_MAX ? s.above : s.max;
	if (!vaddr_to_off(elf, lo, ret_lo) || !vaddr_to_off(elf, hi - 1, ret_hi)) {
		r = -ENOENT;
		goto out;
	}
	*ret_hi += 1;
out:
	elf_end(elf);
	return r;
}
