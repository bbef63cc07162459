/* SPDX-License-Identifier: GPL-2.0 */
/*
 * proc's insides, shared by its files (not an API). One job per file:
 *
 *   proc_read.c   reading /proc files, ids, paths under /proc/PID/root,
 *                 pidrefs
 *   proc.c        a process: its maps (procmaps.c parses them), refresh,
 *                 address lookups
 *   proc_cache.c  the process cache: get, hold, put
 *   jitmap_proc.c JIT maps: perf-PID.map and jitdump, read safely while
 *                 the process runs (jitmap_proc.h; jitmap.c parses them)
 */
#ifndef PROFD_PROC_INT_H
#define PROFD_PROC_INT_H

#include <stddef.h>
#include <sys/stat.h>

#include "proc.h"

/* proc_read.c */
int proc__read_fd(int fd, size_t max, char **ret, size_t *ret_len);
int proc__read_file_at(int dirfd, const char *name, size_t max, char **ret,
		       size_t *ret_len, struct stat *ret_st);
int proc__read_file(const char *path, size_t max, char **ret,
		    size_t *ret_len);

#endif /* PROFD_PROC_INT_H */
