/* SPDX-License-Identifier: GPL-2.0 */
/*
 * symseg: dwfl_module_addrinfo()'s symbol name for an address, asked of
 * libdw once per stretch of the address space instead of once per
 * address.
 *
 * Why: elfutils (0.188) finds the symbol of an address by a linear scan
 * of the whole symbol table — 0.2-1 ms for libc or a Go binary — and
 * continuous mode symbolizes every new pc of every process (a leaf pc is
 * any instruction of a hot function): at 19 Hz over a six-program mix,
 * two thirds of profd's CPU went into that scan (perf, issue 13).
 *
 * How, without re-implementing libdw's choice (sizes, bindings, sizeless
 * assembly labels, sections): its answer depends on the address only
 * through which symbols start at or below it, which contain it, and which
 * section holds it. Between two consecutive "breakpoints" — every symbol's
 * start and end, every allocated section's start and end — that is the
 * same, so the answer is too, except exactly at a breakpoint (libdw
 * treats an address equal to a sizeless symbol's value apart). So: the
 * sorted breakpoints, and per breakpoint two answers (at it, and strictly
 * after it up to the next), each asked of libdw the first time it is
 * needed. Addresses outside the breakpoints go to libdw every time.
 *
 * Cost: 24 bytes per breakpoint (about two per symbol), built in one pass
 * over the symbol table (O(n log n)); then a binary search per address.
 * Not thread-safe: the caller serialises use with the module's (libdw is
 * not thread-safe either). Names live as long as the module.
 */
#ifndef PROFD_SYMSEG_H
#define PROFD_SYMSEG_H

#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

struct symseg;

/* The breakpoints of @mod. 0, -ENOENT (no symbols: ask libdw directly),
 * -ENOMEM. */
int symseg__new(Dwfl_Module *mod, struct symseg **ret);
void symseg__free(struct symseg *s);

/* Bytes held, for the symbol cache's bound. */
size_t symseg__bytes(const struct symseg *s);

/* What dwfl_module_addrinfo(@mod, @addr, ...) names (NULL: no symbol);
 * @mod is the module @s was built from. */
const char *symseg__name(struct symseg *s, Dwfl_Module *mod, uint64_t addr);

#endif /* PROFD_SYMSEG_H */
