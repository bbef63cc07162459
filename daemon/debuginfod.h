/* SPDX-License-Identifier: GPL-2.0 */
/*
 * debuginfod: separate debug info fetched by GNU build-id from debuginfod
 * servers (DEBUGINFOD_URLS) in the background, never inside a request.
 *
 * debuginfod__find() answers at once from memory or the on-disk cache;
 * for a build-id it has never seen it queues a fetch and says PENDING.
 * Worker threads (at most max_fetches at once) fetch with a stall
 * timeout, check that what came is an ELF file with that build-id, and
 * store it in the cache directory as <build-id>.debug; a build-id no
 * server has is remembered as <build-id>.missing for an hour, a failed
 * fetch (timeout, refused, 5xx) in memory for five minutes. The
 * directory is bounded in bytes (least recently used files out). Each
 * finished fetch bumps a generation, so callers holding PENDING answers
 * know when to ask again.
 *
 * libdwfl has a debuginfod client of its own, which fetches synchronously
 * from inside dwfl_standard_find_debuginfo(): main.c takes DEBUGINFOD_URLS
 * out of the environment so that only this module fetches.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef PROFD_DEBUGINFOD_H
#define PROFD_DEBUGINFOD_H

#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

#define DEBUGINFOD_MAX_URLS 8
#define DEBUGINFOD_MAX_ENTRIES 4096	/* build-ids remembered in memory */
#define DEBUGINFOD_MAX_QUEUE 256	/* fetches waiting for a worker */
#define DEBUGINFOD_MISSING_S 3600	/* a 404 is believed this long */
#define DEBUGINFOD_FAILED_S 300		/* a failed fetch, this long */

struct debuginfod;

struct debuginfod_opts {
	const char *urls;		/* space-separated server URLs */
	const char *cache_dir;		/* created (0700) if missing */
	uint64_t cache_max_bytes;	/* also the largest file fetched */
	unsigned timeout_s;		/* no byte for this long: give up */
	unsigned max_fetches;		/* worker threads */
};

enum debuginfod_state {
	DEBUGINFOD_READY = 0,		/* in the cache: path given */
	DEBUGINFOD_PENDING,		/* queued or being fetched */
	DEBUGINFOD_MISSING,		/* no server has it (404) */
	DEBUGINFOD_FAILED,		/* fetch failed (timeout, error) */
};

struct debuginfod_stats {
	uint64_t requests;		/* fetches queued */
	uint64_t fetched, fetched_bytes;
	uint64_t not_found, failed, timeouts, rejected;
	uint64_t tls_failed;		/* of failed: certificate not trusted */
	uint64_t queue_full;		/* not queued: queue full */
	uint64_t cache_hits;		/* answered READY from disk or memory */
	uint64_t negative_hits;		/* answered MISSING/FAILED from cache */
	uint64_t in_flight, queued;
	uint64_t cache_bytes, cache_max_bytes, cache_evictions;
};

/* 0 or -errno (-EINVAL: no URL, a URL that is not http(s)). */
int debuginfod__new(const struct debuginfod_opts *o, struct debuginfod **ret);
/* Stops the workers (aborting their transfers) and frees. NULL is fine. */
void debuginfod__free(struct debuginfod *d);

/*
 * debuginfod__find() - what is known of the debug info of @build_id (hex)
 * now; queues a fetch when nothing is. For READY, the cached file's path
 * is copied to @path. Returns an enum debuginfod_state, or -EINVAL for a
 * malformed build-id. Never blocks on the network.
 */
int debuginfod__find(struct debuginfod *d, const char *build_id,
		     char *path, size_t size);

/* Bumped at the end of every fetch. */
uint64_t debuginfod__generation(struct debuginfod *d);

void debuginfod__stats(struct debuginfod *d, struct debuginfod_stats *ret);

struct json;
/*
 * The "debuginfod" object of /v1/status: @st, and the binaries the
 * symbolizer reloaded with fetched DWARF (@reloads); "enabled": false and
 * nothing else when @st is NULL.
 */
void debuginfod__stats_json(struct json *j, const struct debuginfod_stats *st,
			    uint64_t reloads);

/* True when @s is a build-id this module accepts: 2..64 hex digits. */
int debuginfod__valid_build_id(const char *s);

/*
 * debuginfod__altlink() - the dwz alternate file a debug file names
 * (.gnu_debugaltlink): its build-id in hex into @ret (@size: 2 * 32 + 1
 * bytes are enough), the path it names in *@path (inside @elf's data).
 * 0, -ENOENT (none named) or -EINVAL (malformed; fuzzed). @elf is
 * untrusted: a file a server sent.
 */
int debuginfod__altlink(Elf *elf, char *ret, size_t size, const char **path);

#endif /* PROFD_DEBUGINFOD_H */
