/* SPDX-License-Identifier: GPL-2.0 */
/*
 * elfsyms: find function symbols in an ELF file and the file offsets that
 * uprobes attach to; tell Go binaries apart. Reads only what it is given.
 */
#ifndef PROFD_ELFSYMS_H
#define PROFD_ELFSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * elfsyms__find() - file offsets of the defined functions @names[i] in
 * ELF @fd (.dynsym, then .symtab), 0 where absent. Version suffixes
 * ("malloc@@GLIBC_2.2.5") are ignored. Returns how many were found, or
 * -errno (-ENOEXEC: not ELF).
 */
int elfsyms__find(int fd, const char *const *names, size_t n,
		  uint64_t *ret_offsets);

/*
 * elfsyms__object() - the @len bytes of exported data object @name of ELF
 * @fd, as stored in the file. 0, -ENOENT (no such object), -EBADMSG (not
 * @len bytes, or not in the file), -ENOEXEC (not ELF).
 */
int elfsyms__object(int fd, const char *name, void *buf, size_t len);

/* True when @fd is a Go binary (.go.buildinfo or runtime.mallocgc). */
bool elfsyms__is_go(int fd);

/*
 * elfsyms__probe_offset() - where to put a uprobe for the function at
 * file offset @off: its first instruction when the kernel can emulate it,
 * else just past a leading `test %rdi,%rdi` (glibc's free), which would
 * otherwise be single-stepped out of line at ~3x the cost.
 */
uint64_t elfsyms__probe_offset(int fd, uint64_t off);

/*
 * elfsyms__span() - the file offsets [*ret_lo, *ret_hi) of the code around
 * the functions @names in ELF @fd: from the end of the nearest other
 * function below them to the start of the nearest other function above.
 * For glibc's malloc this takes in the static helpers between its entry
 * points (_int_malloc, _mid_memalign...), which hold the arena locks and
 * are reached by tail calls too. 0, -ENOENT (none of @names), or -errno.
 */
int elfsyms__span(int fd, const char *const *names, size_t n,
		  uint64_t *ret_lo, uint64_t *ret_hi);

#endif /* PROFD_ELFSYMS_H */
