// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pltsyms.h"

/* A GOT slot and the symbol its relocation names (borrowed from @elf). */
struct got_slot {
	uint64_t addr;
	const char *sym;
	uint64_t ifunc;		/* IRELATIVE: the resolver's address */
};

struct got_table {
	struct got_slot *v;
	size_t n, cap;
};

static int got_add(struct got_table *t, uint64_t addr, const char *sym,
		   uint64_t ifunc)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct got_slot *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = (struct got_slot){ addr, sym, ifunc };
	return 0;
}

static int cmp_slot(const void *a, const void *b)
{
	const struct got_slot *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static const struct got_slot *got_find(const struct got_table *t,
				       uint64_t addr)
{
	struct got_slot key = { .addr = addr };

	return t->n ? bsearch(&key, t->v, t->n, sizeof(*t->v), cmp_slot) : NULL;
}

/* The relocations of one SHT_RELA/SHT_REL section, if they are dynamic. */
static int read_relocs(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
		       struct got_table *t)
{
	Elf_Scn *symscn = elf_getscn(elf, sh->sh_link);
	Elf_Data *d = elf_getdata(scn, NULL), *syms;
	GElf_Shdr ssh;
	size_t i, n;
	int r;

	if (!d || !symscn || !gelf_getshdr(symscn, &ssh) ||
	    ssh.sh_type != SHT_DYNSYM || !sh->sh_entsize)
		return 0;
	syms = elf_getdata(symscn, NULL);
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		uint64_t off, info, addend = 0;
		const char *name = NULL;
		GElf_Sym sym;
		unsigned type;

		if (sh->sh_type == SHT_RELA) {
			GElf_Rela ra;

			if (!gelf_getrela(d, (int)i, &ra))
				continue;
			off = ra.r_offset;
			info = ra.r_info;
			addend = (uint64_t)ra.r_addend;
		} else {
			GElf_Rel rl;

			if (!gelf_getrel(d, (int)i, &rl))
				continue;
			off = rl.r_offset;
			info = rl.r_info;
		}
		type = (unsigned)GELF_R_TYPE(info);
		if (type == R_X86_64_IRELATIVE) {
			r = got_add(t, off, NULL, addend);
		} else if (type == R_X86_64_JUMP_SLOT ||
			   type == R_X86_64_GLOB_DAT) {
			if (!syms || !gelf_getsym(syms, (int)GELF_R_SYM(info), &sym))
				continue;
			name = elf_strptr(elf, ssh.sh_link, sym.st_name);
			if (!name || !*name)
				continue;
			r = got_add(t, off, name, 0);
		} else {
			continue;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* The IFUNC symbol defined at @addr (.symtab, then .dynsym), or NULL. */
static const char *ifunc_name(Elf *elf, uint64_t addr)
{
	const char *found = NULL;
	Elf_Scn *scn = NULL;

	while (!found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;

			if (gelf_getsym(d, (int)i, &s) && s.st_value == addr &&
			    GELF_ST_TYPE(s.st_info) == STT_GNU_IFUNC &&
			    s.st_shndx != SHN_UNDEF) {
				found = elf_strptr(elf, sh.sh_link, s.st_name);
				if (found && !*found)
					found = NULL;
				if (found)
					break;
			}
		}
	}
	return found;
}

/*
 * The GOT slot an x86-64 stub jumps through: its `jmp *disp32(%rip)`
 * (ff 25, after an optional bnd/notrack prefix), wherever it is in the
 * stub — first in .plt and .plt.got stubs, after endbr64 in .plt.sec.
 */
static bool stub_target(const uint8_t *p, size_t len, uint64_t vaddr,
			uint64_t *ret)
{
	size_t i;

	for (i = 0; i + 6 <= len; i++) {
		int32_t disp;

		if (p[i] != 0xff || p[i + 1] != 0x25)
			continue;
		memcpy(&disp, p + i + 2, sizeof(disp));
		*ret = vaddr + i + 6 + (uint64_t)(int64_t)disp;
		return true;
	}
	return false;
}

static int stub_add(struct plt_stub **v, size_t *n, size_t *cap,
		    uint64_t vaddr, uint64_t size, char *name)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct plt_stub *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = (struct plt_stub){ vaddr, size, name };
	return 0;
}

static int cmp_stub(const void *a, const void *b)
{
	const struct plt_stub *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

int pltsyms__read(Elf *elf, struct plt_stub **ret, size_t *ret_n)
{
	struct got_table got = {};
	struct plt_stub *stubs = NULL;
	size_t n = 0, cap = 0, shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	int r = 0;

	if (!gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 ||
	    elf_getshdrstrndx(elf, &shstrndx) < 0)
		goto done;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) &&
		    (sh.sh_type == SHT_RELA || sh.sh_type == SHT_REL)) {
			r = read_relocs(elf, scn, &sh, &got);
			if (r < 0)
				goto fail;
		}
	}
	if (!got.n)
		goto done;
	qsort(got.v, got.n, sizeof(*got.v), cmp_slot);

	while ((scn = elf_nextscn(elf, scn))) {
		const struct got_slot *slot;
		const char *secname, *sym;
		uint64_t entsize, off, target;
		Elf_Data *d;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		secname = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!secname || strncmp(secname, ".plt", 4) ||
		    (secname[4] && secname[4] != '.'))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size < sh.sh_size)
			continue;
		/* 16-byte stubs; 8 in .plt.got without IBT. */
		entsize = sh.sh_entsize == 8 || sh.sh_entsize == 16 ?
			  sh.sh_entsize : 16;
		for (off = 0; off + entsize <= sh.sh_size; off += entsize) {
			char *name;

			if (!stub_target((const uint8_t *)d->d_buf + off,
					 entsize, sh.sh_addr + off, &target))
				continue;
			slot = got_find(&got, target);
			if (!slot)
				continue;
			sym = slot->sym;
			if (!sym)
				sym = ifunc_name(elf, slot->ifunc);
			if (sym)
				r = asprintf(&name, "%s@plt", sym);
			else
				r = asprintf(&name, "*ABS*+0x%" PRIx64 "@plt",
					     slot->ifunc);
			if (r < 0) {
				r = -ENOMEM;
				goto fail;
			}
			r = stub_add(&stubs, &n, &cap, sh.sh_addr + off,
				     entsize, name);
			if (r < 0) {
				free(name);
				goto fail;
			}
		}
	}
	/* Relocations but no stub (GLOB_DAT only, -fno-plt): stubs is NULL,
	 * and qsort(NULL, 0) is undefined. */
	if (n)
		qsort(stubs, n, sizeof(*stubs), cmp_stub);
done:
	free(got.v);
	*ret = stubs;
	*ret_n = n;
	return 0;
fail:
	free(got.v);
	pltsyms__free(stubs, n);
	return r;
}

void pltsyms__free(struct plt_stub *stubs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(stubs[i].name);
	free(stubs);
}

const struct plt_stub *pltsyms__find(const struct plt_stub *stubs, size_t n,
				     uint64_t vaddr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (stubs[mid].vaddr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && vaddr < stubs[lo - 1].vaddr + stubs[lo - 1].size)
		return &stubs[lo - 1];
	return NULL;
}
