/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitmap_proc: a process's JIT names (jitmap.h) kept up to date from the
 * files its runtime writes — /tmp/perf-PID.map through its root (PID as
 * its own PID namespace numbers it) and the jitdump file it maps
 * (jit-PID.dump). Read while the process runs, as its samples arrive,
 * so a process that exits before its profile is built keeps its names;
 * only what was appended since the last read is read again.
 *
 * The files belong to the process's user: a file owned by another user,
 * not a regular file, or reached through a symbolic link is not read.
 * Under proc->jit_lock (taken before proc->lock).
 */
#ifndef PROFD_JITMAP_PROC_H
#define PROFD_JITMAP_PROC_H

#include <stddef.h>
#include <stdint.h>

struct proc;
struct proc_jit;

/* A look at the files when samples arrive, at most this often. */
#define JIT_CHECK_NS 100000000ULL

/*
 * proc__jit_sample() - for a sample of @p taken at @t_ns (monotonic) with
 * user frames @ips: read what the runtime appended to its JIT files since
 * the last look (at most every JIT_CHECK_NS, @now_ns) and return the
 * sample's JIT generation (jitmap__gen(): 0 when its names do not depend
 * on time), to keep with the sample and give to proc__jit_name().
 */
unsigned proc__jit_sample(struct proc *p, const uint64_t *ips, unsigned n,
			  uint64_t t_ns, uint64_t now_ns);
/*
 * proc__jit_name() - the name of the JIT code at @addr for a sample of
 * generation @gen, copied to @buf, and the entry's number in *@ret_seq
 * (may be NULL: two generations naming one address alike share it).
 * Looks at the files again (rate-limited) when @addr is unknown.
 * 0, or -ENOENT.
 */
int proc__jit_name(struct proc *p, uint64_t addr, unsigned gen,
		   uint64_t now_ns, char *buf, size_t size, uint32_t *ret_seq);
/* Entries dropped from @p's table (its bound or the total's). */
size_t proc__jit_dropped(struct proc *p);
/* Accepts NULL. */
void proc_jit__free(struct proc_jit *j);

struct json;
/*
 * The "jit" object of /v1/status: bytes of JIT tables held, their bound
 * and the entries dropped by each bound (jitmap__stats()).
 */
void jitmap__stats_json(struct json *j);
/*
 * The bound across processes: PROFD_JIT_MAX_MB in profd's environment,
 * else JITMAP_MAX_TOTAL (256 MiB). Read once, at start-up.
 */
void jitmap__configure(void);

#endif /* PROFD_JITMAP_PROC_H */
