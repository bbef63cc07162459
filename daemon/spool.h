/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spool: closed intervals on disk until a collector has them (issue 13).
 * One file per interval in one directory (default /var/lib/profd/spool,
 * systemd's StateDirectory=), named "<end_ns, 20 digits>-<uuid>.iv" so
 * that name order is age order. A file is a short text header (format
 * version, uuid, service, time range, labels, payload size), an empty line,
 * then the interval's gzip pprof bytes.
 *
 * Crash safety: each file is written as ".tmp-<uuid>" (O_EXCL, 0600),
 * fsync'd, renamed to its name and the directory fsync'd, so after a crash
 * or kill -9 at any point the directory holds whole intervals and at most
 * some leftover .tmp- files, which spool__open() removes. Files are
 * removed only by spool__remove() (the pusher, after a 2xx) and by the
 * bounds: past spool-max-bytes, max-files or spool-max-age the oldest go
 * first, and are counted.
 *
 * Thread-safe: one mutex guards the in-memory index; file writes and
 * reads happen outside it. Pure of logging: errors are returned, drops
 * counted (spool__stats()); the caller logs.
 */
#ifndef PROFD_SPOOL_H
#define PROFD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPOOL_UUID_LEN		36
#define SPOOL_NAME_MAX		64	/* "<20>-<36>.iv" + NUL fits */
#define SPOOL_MAX_LABELS	16
#define SPOOL_LABEL_NAME_MAX	64
#define SPOOL_LABEL_VALUE_MAX	256
/* Largest interval accepted (compressed pprof). */
#define SPOOL_ENTRY_MAX_BYTES	(64u << 20)
/* Largest header read back. */
#define SPOOL_HEADER_MAX	8192

struct spool;

struct spool_limits {
	uint64_t max_bytes;	/* all files together; 0: no bound */
	uint64_t max_age_ns;	/* by an interval's end; 0: no bound */
	uint32_t max_files;	/* 0: SPOOL_DEFAULT_MAX_FILES */
};

#define SPOOL_DEFAULT_MAX_FILES	100000

struct spool_label {
	char name[SPOOL_LABEL_NAME_MAX];
	char value[SPOOL_LABEL_VALUE_MAX];
};

/* What travels with an interval: who, when, and the series' labels. */
struct spool_meta {
	char uuid[SPOOL_UUID_LEN + 1];
	char service[SPOOL_LABEL_VALUE_MAX];
	int64_t start_ns, end_ns;		/* wall clock, ns since epoch */
	uint32_t nlabels;
	struct spool_label labels[SPOOL_MAX_LABELS];
};

enum spool_drop {
	SPOOL_DROP_BYTES,	/* past max_bytes */
	SPOOL_DROP_FILES,	/* past max_files */
	SPOOL_DROP_AGE,		/* older than max_age */
	SPOOL_DROP_CORRUPT,	/* unreadable header (spool__read said so) */
	SPOOL_DROP_REJECTED,	/* the collector refused it for good (4xx) */
	SPOOL_DROP_NO_SPACE,	/* the file system was full (ENOSPC, EDQUOT) */
	SPOOL_DROP_MAX
};

struct spool_stats {
	uint64_t bytes, files;
	int64_t oldest_end_ns;			/* 0 when empty */
	uint64_t written, write_errors, removed;	/* removed: sent */
	uint64_t dropped[SPOOL_DROP_MAX];
	uint64_t dropped_bytes;
};

/* A random (version 4) UUID, lower-case, into @ret (37 bytes). 0/-errno. */
int spool__uuid(char ret[SPOOL_UUID_LEN + 1]);

/**
 * spool__open() - open (creating, mode 0700) the spool in @dir.
 * Leftover .tmp- files are removed, other files not named as entries are
 * left alone and ignored; the bounds are applied at once (drops counted).
 * A directory owned by another user than root or profd's, or writable by
 * group or others, is refused (-EPERM): whoever can write there could
 * plant intervals for profd to push.
 * Return: 0 with *@ret, or -errno (-ENOTDIR, -EACCES, -EPERM, ...).
 */
int spool__open(const char *dir, const struct spool_limits *lim,
		struct spool **ret);
void spool__free(struct spool *s);	/* NULL ok; files stay */

/* New bounds (configuration re-read), applied at the next put/expire. */
void spool__set_limits(struct spool *s, const struct spool_limits *lim);

/**
 * spool__put() - write one closed interval, atomically and durably.
 * @meta: its uuid must be set (spool__uuid()); names and values printable
 *        ASCII without newlines (else -EINVAL).
 * @buf, @len: the gzip pprof (1 to SPOOL_ENTRY_MAX_BYTES bytes).
 * @ret_dropped: NULL, or how many older entries the bounds dropped.
 *
 * An interval larger than max_bytes alone is refused (-EFBIG), not
 * written. When the file system is full (ENOSPC, EDQUOT), the oldest
 * entries are dropped (SPOOL_DROP_NO_SPACE) one at a time until the new
 * one fits: the newest data is the most useful. Return: 0, -EINVAL,
 * -EFBIG, -EEXIST (uuid already spooled), or the write's -errno (-ENOSPC
 * with an empty spool: nothing left behind).
 */
int spool__put(struct spool *s, const struct spool_meta *meta,
	       const void *buf, size_t len, unsigned *ret_dropped);

/*
 * spool__expire() - apply the bounds now (@now_ns: wall clock). Number of
 * entries dropped.
 */
unsigned spool__expire(struct spool *s, int64_t now_ns);

/*
 * spool__oldest() - name of the oldest entry after @after (NULL or "":
 * the oldest of all) into @ret_name (SPOOL_NAME_MAX). 0 or -ENOENT.
 */
int spool__oldest(struct spool *s, const char *after,
		  char ret_name[SPOOL_NAME_MAX]);

/**
 * spool__read() - read entry @name.
 * @ret_meta: its metadata.
 * @ret_buf, @ret_len: NULL (header only), or a malloc'd copy of the pprof.
 * Return: 0, -ENOENT (removed meanwhile), -EBADMSG (not a whole entry), or
 * -errno. Outputs untouched on failure.
 */
int spool__read(struct spool *s, const char *name, struct spool_meta *ret_meta,
		void **ret_buf, size_t *ret_len);

/*
 * spool__remove() - delete entry @name: it was delivered (@why < 0) or is
 * dropped for reason @why (SPOOL_DROP_CORRUPT, SPOOL_DROP_REJECTED).
 * 0 or -ENOENT.
 */
int spool__remove(struct spool *s, const char *name, int why);

void spool__stats(struct spool *s, struct spool_stats *ret);

/* The local history: which intervals to merge. */
struct spool_query {
	int64_t since_ns, until_ns;	/* overlapping [since, until]; 0: open */
	const char *service;		/* NULL: any */
	const char *unit;		/* NULL: any (label "unit") */
	int64_t pid;			/* 0: any; else samples with label pid */
	uint64_t max_input_bytes;	/* 0: 256 MiB */
};

/**
 * spool__query() - merge the matching intervals into one gzip pprof, as
 * `go tool pprof a b c` merges (pmerge.h: same stacks add up).
 * @ret_n: how many intervals were merged (may be NULL).
 * Return: 0, -ENOENT (no interval matches), -E2BIG (the matching intervals
 * exceed max_input_bytes), -EINVAL (incompatible profiles), -errno.
 */
int spool__query(struct spool *s, const struct spool_query *q,
		 void **ret_buf, size_t *ret_len, unsigned *ret_n);

#endif /* PROFD_SPOOL_H */
