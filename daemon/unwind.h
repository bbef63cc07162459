/* SPDX-License-Identifier: GPL-2.0 */
/*
 * unwind: complete user stacks without frame pointers, from a sample's
 * registers and stack copy. Each step applies the CFI row (.eh_frame, else
 * .debug_frame) the symbolizer keeps for the binary under the pc — cached
 * per binary by build-id, so every process and session mapping it shares
 * the parsed tables — and falls back to the frame pointer where no CFI
 * covers the pc, so Go and -fno-omit-frame-pointer code mix in.
 *
 * Mappings come from the process's captured maps, so a process that exited
 * mid-window still unwinds. Thread-safe (the symbolizer serialises libdw
 * per binary; the walk's state is on the caller's stack).
 */
#ifndef PROFD_UNWIND_H
#define PROFD_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc.h"

/*
 * unwind__stack() - unwind one sample of process @p. @regs are the x86-64
 * DWARF registers 0..16; @stack holds @len bytes from regs[7] (sp) up.
 * Fills @ips (leaf first: the sampled pc, then return addresses) and
 * returns how many. *ret_truncated is set when the walk ended before the
 * outermost frame (stack copy exhausted, no unwind info, or @max reached).
 */
/*
 * Frames of a CPU sample's DWARF walk at most. An interpreter makes ~5
 * native frames per call of its language (CPython 3.11 through a builtin:
 * _PyEval_EvalFrameDefault, _PyEval_Vector, ..., map_next), so a Python
 * program 60 calls deep needs ~310; 64 KiB of stack copy holds ~500 frames
 * of 128 bytes. The frame-pointer walk in BPF stays at 127 (perf's).
 */
#define UNWIND_MAX_FRAMES 512

int unwind__stack(struct proc *p, const uint64_t *regs, const uint8_t *stack,
		  size_t len, uint64_t *ips, unsigned max, bool *ret_truncated);

/*
 * unwind__stack_known() - the same walk with only the registers in mask
 * @known (bit per DWARF register) known: a rule that needs another one
 * fails the step. The walk is a function of exactly those registers and
 * the @len bytes given, so its frames are right for every stack that has
 * them in common (the wait tracer's repeat key, daemon/offcpu_pair.c).
 */
int unwind__stack_known(struct proc *p, const uint64_t *regs, uint32_t known,
			const uint8_t *stack, size_t len, uint64_t *ips,
			unsigned max, bool *ret_truncated);

/*
 * unwind__fresh() - the one unwind-and-refresh policy, for every stack a
 * profile shows (CPU windows and continuous sampling, the heap's events,
 * waits, thread snapshots; the agent's safety check before a call walks
 * with the maps it just read, and refuses a cut walk): a pc in no
 * captured mapping, or a walk cut short at a frame in none, is code of a
 * library loaded since the capture. Then @p's maps are read again
 * (proc__refresh() with @sym, at most once per @min_interval_ns from
 * @now_ns: MAPS_REFRESH_NS, or 0 for a rare snapshot) and, after a cut
 * walk, the stack walked once more. What it costs: one lookup of the pc, and a
 * second walk only when the maps were read for it. *@ret_refreshed (may
 * be NULL): whether they were. Returns unwind__stack()'s.
 */
int unwind__fresh(struct proc *p, struct symbolizer *sym, uint64_t now_ns,
		  uint64_t min_interval_ns, const uint64_t *regs,
		  const uint8_t *stack, size_t len, uint64_t *ips,
		  unsigned max, bool *ret_truncated, bool *ret_refreshed);

#endif /* PROFD_UNWIND_H */
