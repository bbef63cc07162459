/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kallsyms: kernel text symbols from the text of /proc/kallsyms. A pure
 * parser + lookup, and kallsyms__load(), which reads the file. One packed name blob and a
 * sorted 16-byte entry per symbol keep ~200k symbols in ~10 MB, and the
 * daemon loads them only when a kernel stack is first asked for.
 */
#ifndef PROFD_KALLSYMS_H
#define PROFD_KALLSYMS_H

#include <stddef.h>
#include <stdint.h>

struct kallsyms;

/* Returns 0 or -ENOMEM/-ENOENT (no text symbol with a nonzero address). */
int kallsyms__parse(const char *buf, size_t len, struct kallsyms **ret);
void kallsyms__free(struct kallsyms *k);
/* Read /proc/kallsyms (at most 256 MB) and parse it. 0, -errno, or
 * kallsyms__parse()'s errors. */
int kallsyms__load(struct kallsyms **ret);

/*
 * kallsyms__lookup() - the symbol containing @addr: its name (valid until
 * kallsyms__free) and start, or NULL when @addr is below every symbol.
 */
const char *kallsyms__lookup(const struct kallsyms *k, uint64_t addr,
			     uint64_t *ret_start);
size_t kallsyms__count(const struct kallsyms *k);

#endif /* PROFD_KALLSYMS_H */
