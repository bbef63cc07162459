/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitmap: names of JIT-compiled code from the files runtimes write for
 * profilers — perf maps (/tmp/perf-PID.map: "START SIZE name" lines, hex)
 * and jitdump files (jit-PID.dump: a 40-byte header, then CODE_LOAD /
 * CODE_MOVE / DEBUG_INFO / CODE_CLOSE / UNWINDING_INFO records), as
 * specified in Linux's tools/perf/Documentation/jit-interface.txt and
 * jitdump-specification.txt.
 *
 * Pure: parses buffers, does no I/O. The buffers come from files the
 * profiled process controls: every count, size and name is bounded, and
 * malformed input ends parsing without error (what was read stays).
 *
 * Both files are appended to as the runtime compiles, so a table is fed
 * incrementally: it remembers how far into each file it has parsed
 * (perf_pos, dump_pos) and the caller hands it only what follows.
 * Entries are never removed (code that is replaced stays, with the time
 * it became live), so a sample is named by the entry that was live when
 * it was taken: see jitmap__gen() and jitmap__find().
 *
 * Memory: per table at most JITMAP_MAX_SYMS entries and JITMAP_MAX_NAMES
 * bytes of names; across every table of the daemon at most
 * JITMAP_MAX_TOTAL bytes (a shared budget): entries beyond either are
 * dropped and counted (jitmap__stats()).
 */
#ifndef PROFD_JITMAP_H
#define PROFD_JITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JITMAP_MAX_SYMS (1u << 19)	/* entries per process (16 MB) */
#define JITMAP_MAX_NAMES (16u << 20)	/* bytes of names per process */
#define JITMAP_MAX_NAME 512		/* longer names are cut */
/* Bytes of JIT tables across all processes. Tests may lower it (below). */
#define JITMAP_MAX_TOTAL (256ull << 20)
/* Generations told apart: replacements beyond share the last one. */
#define JITMAP_MAX_GENS 0xfffeu

struct jit_sym {
	uint64_t start, end;		/* [start, end) */
	uint64_t t_ns;			/* live from (CLOCK_MONOTONIC) */
	uint32_t name;			/* offset in names */
	uint32_t seq;			/* order read: later wins */
};

struct jitmap {
	struct jit_sym *e;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	uint32_t seq;
	uint64_t last_t;		/* entries' times never go back */
	size_t dropped;			/* entries over the bounds */
	size_t charged;			/* bytes taken from the budget */
	/* Times at which code replaced other code at its addresses, in
	 * order: a sample's generation is how many came before it. */
	uint64_t *rep_t;
	size_t rep_n, rep_bytes;
	size_t perf_pos, dump_pos;	/* bytes of each file parsed */
	bool dump_arch_ts;		/* jitdump times are not monotonic */
	bool sorted;
};

/*
 * jitmap__parse_perfmap() - the complete lines of @buf, which follows the
 * perf_pos bytes of the perf map already parsed; perf_pos moves past them
 * (a last line without its newline is left for the next call). Entries
 * are live from @now_ns: a perf map has no times. 0, or -ENOMEM.
 */
int jitmap__parse_perfmap(struct jitmap *jm, const char *buf, size_t len,
			  uint64_t now_ns);
/*
 * jitmap__parse_jitdump() - the complete records of @buf, which follows
 * the dump_pos bytes of the jitdump file already parsed (when 0, @buf
 * starts with the header); dump_pos moves past them. Entries are live
 * from their record's timestamp (CLOCK_MONOTONIC, the spec's default),
 * kept within [the previous entry's, @now_ns]. 0, -EINVAL when the header
 * is not one (wrong magic, byte order or size), or -ENOMEM.
 */
int jitmap__parse_jitdump(struct jitmap *jm, const char *buf, size_t len,
			  uint64_t now_ns);
/*
 * jitmap__gen() - the generation of a sample taken at @t_ns with user
 * frames @ips: 0 when the table is empty, or when code was replaced
 * but none of @ips is at a replaced address (its names do not depend on
 * time); else 1 + the number of replacements before @t_ns (at most
 * JITMAP_MAX_GENS + 1). Kept with the sample, given back to find.
 */
unsigned jitmap__gen(struct jitmap *jm, const uint64_t *ips, unsigned n,
		     uint64_t t_ns);
/*
 * jitmap__find() - the name of the code at @addr for a sample of
 * generation @gen (0: the newest entry), its start in *ret_start and the
 * entry's sequence number in *ret_seq (either may be NULL). Lives as long
 * as @jm is not changed. NULL: none.
 */
const char *jitmap__find(struct jitmap *jm, uint64_t addr, unsigned gen,
			 uint64_t *ret_start, uint32_t *ret_seq);
size_t jitmap__bytes(const struct jitmap *jm);
/* Gives its bytes back to the budget. */
void jitmap__fini(struct jitmap *jm);

struct jitmap_stats {
	uint64_t bytes;			/* held by all tables now */
	uint64_t max_bytes;		/* the budget */
	uint64_t dropped_total;		/* entries dropped: budget full */
	uint64_t dropped_process;	/* entries dropped: a table full */
};
void jitmap__stats(struct jitmap_stats *ret);
/* For tests: a smaller budget (0: the default). */
void jitmap__set_budget(uint64_t max_bytes);

#endif /* PROFD_JITMAP_H */
