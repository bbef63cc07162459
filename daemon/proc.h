/* SPDX-License-Identifier: GPL-2.0 */
/*
 * proc: what profd knows of one target process — its executable mappings
 * and the binaries behind them, captured while it runs so that a process
 * that exits mid-window is still symbolized. Shared (refcounted, the
 * process cache below) by every window, the heap tracker and the agent on
 * the same process; mappings are append-only, so an address sampled
 * before a library was unloaded still resolves.
 */
#ifndef PROFD_PROC_H
#define PROFD_PROC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolizer.h"

/* Executable mappings kept per process (new ones beyond are ignored). */
#define PROC_MAX_MAPS 4096

struct proc_map {
	uint64_t start, end, offset, inode;
	char *path;			/* as /proc/PID/maps names it */
	struct sym_binary *bin;		/* NULL when not openable / not ELF */
	unsigned gen;			/* refresh that added it */
	bool is_main;			/* the process's executable */
	bool anon;			/* anonymous executable memory (JIT) */
};

struct proc {
	pid_t pid;
	uint64_t start_time;		/* /proc/PID/stat field 22 */
	char comm[16];
	int refs;			/* under its cache's lock, if cached */
	uint64_t image;			/* which program image (execwatch.h)
					 * the maps are of */
	struct proc_cache *cache;	/* the cache it is in, or NULL */
	struct proc *cache_next;	/* under the cache's lock */
	int dirfd;			/* /proc/PID: files of this process only */
	/*
	 * /proc/PID/maps, opened once: the kernel ties the open file to the
	 * memory of the program image the process ran then, so an exec
	 * ends what refreshes add (they read nothing more).
	 */
	int maps_fd;

	pthread_mutex_t lock;		/* guards everything below */
	struct proc_map *maps;
	size_t nmaps;
	unsigned gen;
	uint64_t last_refresh_ns;
	uint64_t refreshes, open_failures;
	bool gone;

	/* JIT code's names (perf map, jitdump): jitmap_proc.h. */
	pthread_mutex_t jit_lock;	/* before lock */
	struct proc_jit *jit;
};

/* Identity and credentials of a live process. */
struct proc_ids {
	uint64_t start_time;
	pid_t tgid;			/* != pid: @pid is a thread */
	bool kthread;			/* a kernel thread: no user space */
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	/*
	 * Its memory is dumpable (PR_SET_DUMPABLE 1): not after a setuid or
	 * setgid exec, an exec of an unreadable binary, or a change of
	 * credentials — ptrace's read check refuses other users then. Read
	 * as the kernel shows it: /proc/PID's files belong to the process's
	 * euid and egid only then (root otherwise).
	 */
	bool dumpable;
	char comm[16];
};

/* 0, -ESRCH when the process does not exist, or -errno. */
int proc__read_ids(pid_t pid, struct proc_ids *ret);
/* The same through @dirfd, a /proc/PID directory (pidref). */
int proc__read_ids_at(int dirfd, struct proc_ids *ret);

/*
 * pidref: a process held for acting on it — a pidfd and its /proc
 * directory, opened together and checked to name the same process. Once
 * it has ended, files opened through @dirfd fail and pidref__alive() is
 * false, even when its pid has been given to another process: that one
 * is never touched in its place.
 */
struct pidref {
	pid_t pid;
	int pidfd;			/* pidfd_open() */
	int dirfd;			/* /proc/PID */
};

#define PIDREF_NONE ((struct pidref){ .pidfd = -1, .dirfd = -1 })

/* 0, -ESRCH (no such process, or not a process but a thread), -errno. */
int pidref__open(pid_t pid, struct pidref *ret);
/* Open @r's /proc directory again after it was closed (to spare an fd
 * while held): 0, -ESRCH once the process has ended, or -errno. */
int pidref__open_dir(struct pidref *r);
/* True while the process has not exited (its pidfd is not readable). */
bool pidref__alive(const struct pidref *r);
/* Copies with fds of their own. 0 or -errno. */
int pidref__dup(const struct pidref *r, struct pidref *ret);
/* Closes both; PIDREF_NONE and closed ones are fine. */
void pidref__close(struct pidref *r);
/*
 * proc__open_in_root() - @path as the process whose /proc directory is
 * @dirfd sees it, through its root (a container's files): that process's,
 * never one that got its pid later. An fd for reading, or -1 with errno.
 */
int proc__open_in_root(int dirfd, const char *path);
/* /proc/PID/@name of @r's process, for reading; NULL with errno set. */
FILE *pidref__fopen(const struct pidref *r, const char *name);

/* Capture @pid's mappings and open their binaries. 0 or -errno. */
int proc__new(struct symbolizer *sym, pid_t pid, struct proc **ret);
/* The same through @dirfd (/proc/PID, duplicated: the caller keeps it). */
int proc__new_at(struct symbolizer *sym, pid_t pid, int dirfd,
		 struct proc **ret);
void proc__free(struct proc *p);

/*
 * The process cache: one capture per process (pid, start time, program
 * image), shared by CPU sessions, the heap tracker and the in-process
 * agent. A proc stays in it while someone holds a reference, so it is
 * bounded by its users' own caps (sessions, tracked processes). Its lock
 * is taken under the managers' (main.c), never across a capture.
 */
struct proc_cache;

int proc_cache__new(struct symbolizer *sym, struct proc_cache **ret);
/* Every proc must have been put. Accepts NULL. */
void proc_cache__free(struct proc_cache *c);
/* The symbolizer its captures open binaries with. */
struct symbolizer *proc_cache__symbolizer(struct proc_cache *c);

/*
 * proc__get() - a reference on the capture of process @pid, the one that
 * started at @start_time, of its program image @image: the one held by
 * another user, else captured now through @dirfd (its /proc/PID), without
 * the cache's lock. A recycled pid is never taken for the process the
 * caller was authorised for: its start time differs (-ESRCH). Drop with
 * proc__put(). 0, -ESRCH, or proc__new_at()'s errors; *@ret untouched on
 * failure.
 */
int proc__get(struct proc_cache *c, pid_t pid, int dirfd, uint64_t start_time,
	      uint64_t image, struct proc **ret);
/* proc__get(), with the maps read again now (libraries loaded since):
 * for callers that act on the process's current layout. */
int proc__get_current(struct proc_cache *c, pid_t pid, int dirfd,
		      uint64_t start_time, uint64_t image, struct proc **ret);
/* Another reference on @p, which the caller holds. Returns @p. */
struct proc *proc__hold(struct proc *p);
/* Drop a reference; the last frees it. Accepts NULL. */
void proc__put(struct proc *p);

/* How often the maps are read again at most when an unknown address
 * shows up (a library loaded since): every profile's walks
 * (unwind__fresh()) and pc checks use it. */
#define MAPS_REFRESH_NS (100ULL * 1000 * 1000)

/*
 * proc__refresh() - re-read the maps to pick up newly loaded libraries.
 * Rate-limited to one read per @min_interval_ns. Returns 1 if it read,
 * 0 if rate-limited, -ESRCH once the process is gone.
 */
int proc__refresh(struct proc *p, struct symbolizer *sym,
		  uint64_t now_ns, uint64_t min_interval_ns);

/*
 * proc__find_binary() - the binary of the newest mapping containing @addr
 * and @addr's offset in its file, borrowed: valid while @p lives (its
 * mappings hold a reference). For the unwinder's per-frame lookups, which
 * need no reference of their own. -ENOENT if no mapping has a binary.
 */
int proc__find_binary(struct proc *p, uint64_t addr, struct sym_binary **ret,
		      uint64_t *ret_offset);

/* How many mappings @p has now (under its lock). */
size_t proc__nmaps(struct proc *p);

/* True when every address in @ips is inside a known mapping. */
bool proc__covers(struct proc *p, const uint64_t *ips, unsigned n);

/*
 * proc__resolve() - the newest mapping containing @addr. Copies the entry
 * into *ret with a new reference on ret->bin (drop with sym_binary__put)
 * and its index in *ret_idx; ret->path stays owned by @p. -ENOENT if none.
 */
int proc__resolve(struct proc *p, uint64_t addr, struct proc_map *ret,
		  size_t *ret_idx);

/* The address where offset @off of the file mapped as @path is, in an
 * executable mapping of @p; 0 when it is not mapped. */
uint64_t proc__file_addr(struct proc *p, const char *path, uint64_t off);

#endif /* PROFD_PROC_H */
