/* SPDX-License-Identifier: GPL-2.0 */
/*
 * symbolizer's insides, shared by its files (not an API). One job per
 * file:
 *
 *   symbolizer.c        the cache of binaries: get, ref, put, LRU
 *                       eviction within its byte bound, stats
 *   symbolizer_dwarf.c  one binary: its Dwfl, debug info (debuginfod
 *                       reloads), address -> frames lookups
 *   symbolizer_cfi.c    one binary's CFI rows for unwinding, and their
 *                       cache
 */
#ifndef PROFD_SYMBOLIZER_INT_H
#define PROFD_SYMBOLIZER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <gelf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "pltsyms.h"
#include "symbolizer.h"
#include "symseg.h"
#include "symsrc.h"

struct cfi_slot;

struct load_seg {
	uint64_t offset, filesz, vaddr;
};

struct sym_binary {
	struct symbolizer *s;
	struct sym_binary *prev, *next;	/* cache list, most recent first */
	int refs;			/* under s->lock */
	bool in_cache;			/* under s->lock: counted in s->bytes */
	char key[160];
	char build_id[SYM_BUILD_ID_MAX + 1];
	char *path;
	size_t cost;

	pthread_mutex_t lock;		/* serialises libdw use */
	Dwfl *dwfl;
	Dwfl_Module *mod;
	struct load_seg *segs;
	size_t nsegs;
	bool has_functions, has_dwarf;
	struct symsrc *src;		/* DWARF: inline chains, file names */
	struct symseg *seg;		/* symbol names by stretch; NULL: none */
	struct plt_stub *plt;		/* named PLT stubs, by address */
	size_t nplt;
	/* Unwinding: libdw's CFI tables (owned by the module) and our cache
	 * of rows copied out of them, both built on first need. */
	bool cfi_tried;
	Dwarf_CFI *eh_cfi, *dbg_cfi;
	Dwarf_Addr eh_bias, dbg_bias;
	struct cfi_slot *cfi_cache;
	uint64_t cfi_clock;		/* the cache's LRU stamps */
	/*
	 * debuginfod (under lock): while its DWARF may still come, a dup of
	 * the binary's fd to report it again with that; what a reload
	 * replaced, kept until the end (lookups handed out its strings).
	 */
	int debug_state;		/* enum sym_debug_state */
	uint64_t debug_gen, debug_asked_s;
	int elf_fd;
	char *debug_path;		/* the fetched file, for find_debuginfo */
	bool debug_given;
	Dwfl *old_dwfl;
	struct symsrc *old_src;
	Dwarf *alt_dw;			/* a fetched dwz alternate file */
	int alt_fd;
};

struct symbolizer {
	pthread_mutex_t lock;
	struct sym_binary *head;
	size_t bytes, max_bytes;
	uint64_t nbin, hits, misses, evictions;
	uint64_t cfi_hits, cfi_misses;	/* atomics */
	struct debuginfod *dbgd;	/* NULL: no fetching */
	uint64_t debug_reloads;		/* under lock */
};

/* symbolizer.c */
void symbolizer__touch(struct symbolizer *s, struct sym_binary *b);
void sym_binary__add_cost(struct sym_binary *b, size_t add);

/* symbolizer_dwarf.c */
void sym_binary__destroy(struct sym_binary *b);
int symbolizer__build_id(Elf *elf, char *buf, size_t size);
int sym_binary__create(struct symbolizer *s, int fd, const char *path,
		       Elf *elf, const char *key, const char *build_id,
		       off_t size, struct sym_binary **ret);
bool sym_binary__to_vaddr(const struct sym_binary *b, uint64_t file_offset,
			  uint64_t *ret);

#endif /* PROFD_SYMBOLIZER_INT_H */
