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
 * Where entries overlap, the one read last wins (a perf map is appended
 * to as code is replaced; jitdump records are in time order).
 */
#ifndef PROFD_JITMAP_H
#define PROFD_JITMAP_H

#include <stddef.h>
#include <stdint.h>

#define JITMAP_MAX_SYMS (1u << 19)	/* entries per process (~12 MB) */
#define JITMAP_MAX_NAMES (16u << 20)	/* bytes of names per process */
#define JITMAP_MAX_NAME 512		/* longer names are cut */

struct jit_sym {
	uint64_t start, end;		/* [start, end) */
	uint32_t name;			/* offset in names */
	uint32_t seq;			/* order read: later wins */
};

struct jitmap {
	struct jit_sym *e;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	uint32_t seq;
	size_t dropped;			/* entries over the bounds */
	int sorted;
};

/* Lines of a perf map. 0, or -ENOMEM. */
int jitmap__parse_perfmap(struct jitmap *jm, const char *buf, size_t len);
/* Records of a jitdump file. 0, -EINVAL when the header is not one
 * (wrong magic, byte order or size), or -ENOMEM. */
int jitmap__parse_jitdump(struct jitmap *jm, const char *buf, size_t len);
/* The name of the code at @addr (NULL: none), and its start in *ret_start
 * (may be NULL). Lives as long as @jm is not changed. */
const char *jitmap__find(struct jitmap *jm, uint64_t addr,
			 uint64_t *ret_start);
size_t jitmap__bytes(const struct jitmap *jm);
void jitmap__fini(struct jitmap *jm);

#endif /* PROFD_JITMAP_H */
