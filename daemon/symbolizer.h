/* SPDX-License-Identifier: GPL-2.0 */
/*
 * symbolizer: ELF/DWARF symbolization with libdwfl, one cached entry per
 * binary (keyed by GNU build-id, or by device/inode/size/mtime when a binary
 * has none), shared across sessions and processes.
 *
 * A binary is opened once from an fd the caller got while the process was
 * alive (through /proc/PID/root), so a process that exits mid-window is
 * still symbolized. Idle binaries stay cached, least recently used first
 * out, while the cache's estimated size is under its bound; binaries in use
 * are never evicted.
 *
 * Thread safety: every function may be called from any thread; lookups on
 * one binary are serialised by its lock (libdw is not thread-safe).
 */
#ifndef PROFD_SYMBOLIZER_H
#define PROFD_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debuginfod.h"

#define SYM_BUILD_ID_MAX 64	/* hex chars kept of a build-id */
#define SYM_MAX_INLINE 32	/* frames returned for one address */

struct symbolizer;
struct sym_binary;
struct debuginfod;

struct sym_frame {
	const char *func;	/* NULL if unknown */
	const char *file;	/* NULL if unknown */
	int line;		/* 0 if unknown */
	int start_line;		/* function's declaration line, 0 if unknown */
};

/* Where a binary's DWARF comes from, when it has none of its own. */
enum sym_debug_state {
	SYM_DEBUG_LOCAL = 0,	/* its own, /usr/lib/debug, or none asked */
	SYM_DEBUG_PENDING,	/* being fetched from debuginfod */
	SYM_DEBUG_FETCHED,	/* fetched from debuginfod, in use */
	SYM_DEBUG_MISSING,	/* no debuginfod server has it */
	SYM_DEBUG_FAILED,	/* the fetch failed (timeout, error) */
};

struct sym_binary_info {
	const char *build_id;	/* hex, "" when the binary has none */
	const char *path;	/* path it was opened by */
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
	int debug_state;	/* enum sym_debug_state */
};

struct symbolizer_stats {
	uint64_t binaries, binaries_idle, bytes_estimate, bytes_max;
	uint64_t hits, misses, evictions;
	uint64_t cfi_hits, cfi_misses;	/* CFI row cache */
	uint64_t debug_reloads;		/* binaries reloaded with fetched DWARF */
	bool debuginfod;		/* configured: dbgd is filled */
	struct debuginfod_stats dbgd;
};

struct symbolizer *symbolizer__new(size_t max_bytes);
void symbolizer__free(struct symbolizer *s);

/*
 * symbolizer__set_debuginfod() - fetch the DWARF of binaries opened from
 * now on that have none on this machine through @d (borrowed: it must
 * outlive @s). Such a binary is symbolized with what it has until the
 * fetch lands; then sym_binary__refresh() reloads it with the DWARF.
 */
void symbolizer__set_debuginfod(struct symbolizer *s, struct debuginfod *d);

/*
 * symbolizer__get() - the cached binary for the open file @fd, opening it
 * if new. @path is for display and for finding separate debug info.
 * @fd stays the caller's. Returns 0 and a reference in *ret, or -errno
 * (-ENOEXEC when the file is not ELF).
 */
int symbolizer__get(struct symbolizer *s, int fd, const char *path,
		    struct sym_binary **ret);
struct sym_binary *sym_binary__ref(struct sym_binary *b);
void sym_binary__put(struct sym_binary *b);

/*
 * sym_binary__refresh() - if @b waits for debug info that has arrived
 * since, reload it with that (slow once: loads the DWARF). Lookups keep
 * working meanwhile; strings they returned stay valid (the binary keeps
 * what it replaced until it is freed). Call before building a profile.
 */
void sym_binary__refresh(struct sym_binary *b);

void sym_binary__info(struct sym_binary *b, struct sym_binary_info *ret);

/*
 * sym_binary__lookup() - frames for the code at @file_offset in the binary,
 * innermost (inlined) first, the real function last. Strings live as long
 * as the caller's reference to @b. Returns the number of frames (0 when
 * nothing is known) or -errno.
 */
int sym_binary__lookup(struct sym_binary *b, uint64_t file_offset,
		       struct sym_frame *frames, int max);

/*
 * sym_binary__symoff() - how far the code at @file_offset is from the
 * start of the ELF symbol that holds it (Go's "+0x1d" in a traceback).
 * 0 and *@ret_off, or -ENOENT (no symbol, or no such address).
 */
int sym_binary__symoff(struct sym_binary *b, uint64_t file_offset,
		       uint64_t *ret_off);

/*
 * Call frame information (CFI) for the unwinder: one row of a binary's
 * .eh_frame (or .debug_frame) table, copied out of libdw so that it can be
 * evaluated without the binary's lock. Rows are cached per binary, so every
 * process and session that maps the binary shares them.
 *
 * Every rule is a DWARF expression over the frame's registers (ops with
 * DW_OP_call_frame_cfa for the CFA). A LOC rule yields the address where
 * the caller's value is saved; a VAL rule yields the value itself.
 */
#define SYM_CFI_NREGS 17	/* x86-64 DWARF registers 0..16 (16: ra) */
#define SYM_CFI_MAX_OPS 64

enum sym_cfi_kind {
	SYM_CFI_UNDEF = 0,	/* not recoverable (for ra: outermost) */
	SYM_CFI_SAME,		/* unchanged by this frame */
	SYM_CFI_LOC,
	SYM_CFI_VAL,
};

struct sym_cfi_op {
	uint8_t atom;
	uint64_t n1, n2;
};

struct sym_cfi_rule {
	uint8_t kind;		/* enum sym_cfi_kind */
	uint8_t start, n;	/* ops[start, start + n) */
};

struct sym_cfi_rules {
	bool signal;		/* a signal frame: its ra is an exact pc */
	struct sym_cfi_rule cfa;	/* always VAL */
	struct sym_cfi_rule regs[SYM_CFI_NREGS];
	uint8_t nops;		/* ops used */
};

struct sym_cfi_row {
	struct sym_cfi_rules r;
	struct sym_cfi_op ops[SYM_CFI_MAX_OPS];
};

/*
 * sym_binary__cfi() - the CFI row for the code at @file_offset. 0, or
 * -ENOENT when no CFI covers it, -E2BIG when its expressions are too long
 * to copy.
 */
int sym_binary__cfi(struct sym_binary *b, uint64_t file_offset,
		    struct sym_cfi_row *ret);

void symbolizer__stats(struct symbolizer *s, struct symbolizer_stats *ret);

#endif /* PROFD_SYMBOLIZER_H */
