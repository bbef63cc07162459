// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "symseg.h"

/* Not asked yet (NULL is an answer: no symbol). */
static const char unknown[1];

#define MAX_ELFS 4	/* main file, debug file, minidebuginfo, spare */

struct symseg {
	uint64_t *bp;		/* sorted, distinct */
	const char **at;	/* the answer at bp[i] */
	const char **after;	/* ... in (bp[i], bp[i + 1]) */
	size_t n, cap;
};

static int push(struct symseg *s, uint64_t a)
{
	uint64_t *bp;
	size_t cap;

	if (s->n == s->cap) {
		cap = s->cap ? 2 * s->cap : 1024;
		bp = realloc(s->bp, cap * sizeof(*bp));
		if (!bp)
			return -ENOMEM;
		s->bp = bp;
		s->cap = cap;
	}
	s->bp[s->n++] = a;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sections of @elf, at @bias: the section an address is in decides
 * for sizeless symbols (libdw looks through all of them, allocated or
 * not, for the first whose range holds it). */
static int push_sections(struct symseg *s, Elf *elf, GElf_Addr bias)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	int r;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		r = push(s, sh.sh_addr + bias);
		if (r == 0)
			r = push(s, sh.sh_addr + sh.sh_size + bias);
		if (r < 0)
			return r;
	}
	return 0;
}

int symseg__new(Dwfl_Module *mod, struct symseg **ret)
{
	Elf *elfs[MAX_ELFS];
	GElf_Addr biases[MAX_ELFS];
	struct symseg *s;
	size_t nelfs = 0, i, j;
	int nsym, k, r = 0;

	nsym = dwfl_module_getsymtab(mod);
	if (nsym <= 1)
		return -ENOENT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (k = 1; k < nsym && r == 0; k++) {
		GElf_Sym sym;
		GElf_Addr addr, bias;
		GElf_Word shndx;
		Elf *elf = NULL;
		const char *name;
		int type;

		name = dwfl_module_getsym_info(mod, k, &sym, &addr, &shndx,
					       &elf, &bias);
		type = GELF_ST_TYPE(sym.st_info);
		/* The symbols libdw considers (dwfl_module_addrsym.c). */
		if (!name || !name[0] || sym.st_shndx == SHN_UNDEF ||
		    type == STT_SECTION || type == STT_FILE || type == STT_TLS)
			continue;
		r = push(s, addr);
		if (r == 0 && sym.st_size)
			r = push(s, addr + sym.st_size);
		for (j = 0; elf && j < nelfs && elfs[j] != elf; j++)
			;
		if (elf && j == nelfs && nelfs < MAX_ELFS) {
			elfs[nelfs] = elf;
			biases[nelfs++] = bias;
		}
	}
	for (i = 0; i < nelfs && r == 0; i++)
		r = push_sections(s, elfs[i], biases[i]);
	if (r == 0 && s->n < 2)
		r = -ENOENT;
	if (r < 0)
		goto fail;
	qsort(s->bp, s->n, sizeof(*s->bp), cmp_u64);
	for (i = j = 1; i < s->n; i++)
		if (s->bp[i] != s->bp[j - 1])
			s->bp[j++] = s->bp[i];
	s->n = j;
	s->at = malloc(s->n * sizeof(*s->at));
	s->after = malloc(s->n * sizeof(*s->after));
	if (!s->at || !s->after) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < s->n; i++)
		s->at[i] = s->after[i] = unknown;
	*ret = s;
	return 0;
fail:
	symseg__free(s);
	return r;
}

void symseg__free(struct symseg *s)
{
	if (!s)
		return;
	free(s->bp);
	free(s->at);
	free(s->after);
	free(s);
}

size_t symseg__bytes(const struct symseg *s)
{
	return s ? sizeof(*s) + s->cap * sizeof(*s->bp) +
		   2 * s->n * sizeof(*s->at) : 0;
}

static const char *ask(Dwfl_Module *mod, uint64_t addr)
{
	GElf_Off off;
	GElf_Sym sym;

	return dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
}

const char *symseg__name(struct symseg *s, Dwfl_Module *mod, uint64_t addr)
{
	size_t lo = 0, hi = s->n, mid;
	const char **slot;

	/* Outside: the last stretch is open-ended (a sizeless symbol). */
	if (addr < s->bp[0] || addr >= s->bp[s->n - 1])
		return ask(mod, addr);
	/* The last breakpoint at or below @addr. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (s->bp[mid] <= addr)
			lo = mid;
		else
			hi = mid;
	}
	slot = addr == s->bp[lo] ? &s->at[lo] : &s->after[lo];
	if (*slot == unknown)
		*slot = ask(mod, addr);
	return *slot;
}
