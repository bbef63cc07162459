/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pltsyms: names for the PLT stubs of an ELF file ("malloc@plt"), which
 * no symbol table holds: objdump and perf synthesize them, and so do we.
 * Pure: reads only the Elf handle it is given.
 */
#ifndef PROFD_PLTSYMS_H
#define PROFD_PLTSYMS_H

#include <stddef.h>
#include <stdint.h>

#include <gelf.h>

struct plt_stub {
	uint64_t vaddr, size;	/* link-time address range of the stub */
	char *name;		/* "malloc@plt", mangled C++ as the symbol */
};

/*
 * pltsyms__read() - the named stubs of .plt, .plt.sec and .plt.got in
 * @elf, sorted by address, as objdump -d names them: each stub's
 * `jmp *GOT(%rip)` is matched to the relocation of that GOT slot
 * (R_X86_64_JUMP_SLOT or GLOB_DAT: its dynamic symbol; IRELATIVE: the
 * IFUNC symbol at its addend, else objdump's "*ABS*+0xADDR"). Stubs
 * without one (the resolver stub PLT0, lazy-binding stubs beside
 * .plt.sec) are left out. x86-64 only: other machines get none.
 * Returns 0 with *ret (free with pltsyms__free()) and *ret_n set, or
 * -ENOMEM.
 */
int pltsyms__read(Elf *elf, struct plt_stub **ret, size_t *ret_n);
void pltsyms__free(struct plt_stub *stubs, size_t n);

/* The stub holding @vaddr, or NULL. */
const struct plt_stub *pltsyms__find(const struct plt_stub *stubs, size_t n,
				     uint64_t vaddr);

#endif /* PROFD_PLTSYMS_H */
