/* SPDX-License-Identifier: GPL-2.0 */
/*
 * symsrc: the source frames of one address from a module's DWARF — every
 * level of its inline chain, innermost first, each with its function's
 * name and its own file:line — the recipe of elfutils' addr2line -i.
 * Used by symbolizer_dwarf.c, which serialises calls per module (libdw is
 * not thread-safe) and owns the module.
 */
#ifndef PROFD_SYMSRC_H
#define PROFD_SYMSRC_H

#include <stddef.h>

#include <elfutils/libdwfl.h>

#include "symbolizer.h"

struct symsrc;

/*
 * State for @mod (a CU index, joined file names): 0 and *ret set, or
 * -ENOMEM (*ret untouched).
 */
int symsrc__new(Dwfl_Module *mod, struct symsrc **ret);
void symsrc__free(struct symsrc *ss);

/* Bytes held beyond libdw's own tables, for the cache's bound. */
size_t symsrc__bytes(const struct symsrc *ss);

/*
 * symsrc__frames() - frames for link-time address @addr, innermost first:
 * one per DW_TAG_inlined_subroutine containing it, each at the position
 * its callee was inlined from (the innermost at the line table's line,
 * the others at the DW_AT_call_file/DW_AT_call_line of the level below),
 * then the DW_TAG_subprogram. Without DWARF for @addr, @symname (the ELF
 * symbol, may be NULL) with whatever the line table gives.
 *
 * Names, one rule for every level: the DWARF linkage name (mangled C++,
 * Rust), through DW_AT_abstract_origin and DW_AT_specification, else the
 * ELF symbol for the outermost level (Go, C; a GCC clone suffix such as
 * ".isra.0" or ".cold" dropped when DWARF names the function), else
 * DW_AT_name. Relative file names are joined to the CU's DW_AT_comp_dir
 * (when that is absolute). A chain deeper than @max keeps its innermost
 * @max - 1 levels and the real function, at the outermost call site.
 *
 * Strings live as long as @ss and the module. Returns the number of
 * frames (0: nothing known).
 */
int symsrc__frames(struct symsrc *ss, Dwarf_Addr addr, const char *symname,
		   struct sym_frame *frames, int max);

#endif /* PROFD_SYMSRC_H */
