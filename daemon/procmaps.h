/* SPDX-License-Identifier: GPL-2.0 */
/*
 * procmaps: parse the text of /proc/PID/maps. Pure: the caller reads the
 * file; this stage only parses it, so it is unit-tested and fuzzed alone.
 */
#ifndef PROFD_PROCMAPS_H
#define PROFD_PROCMAPS_H

#include <stddef.h>
#include <stdint.h>

#define PROCMAPS_R	(1u << 0)
#define PROCMAPS_W	(1u << 1)
#define PROCMAPS_X	(1u << 2)
#define PROCMAPS_P	(1u << 3)	/* private */

/* Hard cap on entries kept from one maps file (a process has ~65530 max). */
#define PROCMAPS_MAX_ENTRIES 65536

struct procmaps_entry {
	uint64_t start, end;	/* [start, end) */
	uint64_t offset;	/* file offset of start */
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	uint32_t perms;		/* PROCMAPS_* */
	char *path;		/* "" for anonymous; may end " (deleted)" */
};

struct procmaps {
	struct procmaps_entry *e;
	size_t n;
};

/*
 * procmaps__parse() - parse maps text @buf of @len bytes (need not be
 * NUL-terminated). Lines that do not parse are skipped and counted in
 * *ret_bad (may be NULL). Returns 0 or -ENOMEM / -E2BIG.
 */
int procmaps__parse(const char *buf, size_t len, struct procmaps *ret,
		    size_t *ret_bad);
void procmaps__fini(struct procmaps *m);

/* The entry containing @addr, or NULL. Entries are sorted by start. */
const struct procmaps_entry *procmaps__find(const struct procmaps *m,
					    uint64_t addr);

#endif /* PROFD_PROCMAPS_H */
