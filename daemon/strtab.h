/* SPDX-License-Identifier: GPL-2.0 */
/*
 * strtab: interned strings with dense indices, as pprof's string_table wants
 * (index 0 is always ""). Also a small generic 64-bit hash used by the
 * aggregation and pprof stages.
 */
#ifndef PROFD_STRTAB_H
#define PROFD_STRTAB_H

#include <stddef.h>
#include <stdint.h>

struct strtab;

/* A table holding "" at 0: 0 and *ret set, or -ENOMEM (*ret untouched). */
int strtab__new(struct strtab **ret);
void strtab__free(struct strtab *t);

/*
 * strtab__intern() - index of @s, adding a copy if new.
 * Returns the index (>= 0) or -ENOMEM. NULL interns as "".
 */
int64_t strtab__intern(struct strtab *t, const char *s);

size_t strtab__count(const struct strtab *t);
/* The strings, valid until the next intern or free. */
char **strtab__strings(const struct strtab *t);

/* FNV-1a over bytes, seeded; good enough for in-memory tables. */
static inline uint64_t hash__bytes(const void *p, size_t n, uint64_t h)
{
	const unsigned char *c = p;

	if (!h)
		h = 1469598103934665603ULL;
	while (n--) {
		h ^= *c++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Mix a 64-bit word (splitmix64 finaliser). */
static inline uint64_t hash__u64(uint64_t x, uint64_t h)
{
	x ^= h + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}


/*
 * u64map: uint64 -> uint64 open-addressing map (keys != 0 chosen by the
 * caller, e.g. hashes combined with exact checks, or addresses).
 */
struct u64map {
	uint64_t *keys, *vals;
	size_t n, nslots;
};

/* 0 and *ret set when found, -ENOENT otherwise. */
int u64map__get(const struct u64map *m, uint64_t key, uint64_t *ret);
/* Insert or replace. 0 or -ENOMEM. Key 0 is not allowed (-EINVAL). */
int u64map__put(struct u64map *m, uint64_t key, uint64_t val);
void u64map__fini(struct u64map *m);

#endif /* PROFD_STRTAB_H */
