// SPDX-License-Identifier: GPL-2.0
/*
 * Symbolization with libdwfl. One Dwfl per binary, its module reported at
 * the binary's own link-time addresses (base 0), so a runtime address is
 * turned into a file offset by the caller (through /proc/PID/maps) and into
 * a link-time address here (through PT_LOAD headers) — the same cached
 * entry serves every process that maps the binary, wherever ASLR put it.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>

#include "debuginfod.h"
#include "pltsyms.h"
#include "symbolizer.h"
#include "symsrc.h"

#include "symbolizer_int.h"

struct symbolizer *symbolizer__new(size_t max_bytes)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	elf_version(EV_CURRENT);
	pthread_mutex_init(&s->lock, NULL);
	s->max_bytes = max_bytes;
	return s;
}

void symbolizer__set_debuginfod(struct symbolizer *s, struct debuginfod *d)
{
	s->dbgd = d;
}

void symbolizer__free(struct symbolizer *s)
{
	struct sym_binary *b, *n;

	if (!s)
		return;
	/* Binaries still referenced are leaked deliberately: not ours. */
	for (b = s->head; b; b = n) {
		n = b->next;
		if (!b->refs)
			sym_binary__destroy(b);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void symbolizer__touch(struct symbolizer *s, struct sym_binary *b)
{
	if (s->head == b)
		return;
	if (b->prev)
		b->prev->next = b->next;
	if (b->next)
		b->next->prev = b->prev;
	b->prev = NULL;
	b->next = s->head;
	if (s->head)
		s->head->prev = b;
	s->head = b;
}

static void unlink_binary(struct symbolizer *s, struct sym_binary *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		s->head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	s->bytes -= b->cost;
	s->nbin--;
	b->in_cache = false;
}

/*
 * Grow @b's cost by @add, and the cache's total with it once @b is in the
 * cache (insertion adds the cost so far). Takes s->lock.
 */
void sym_binary__add_cost(struct sym_binary *b, size_t add)
{
	pthread_mutex_lock(&b->s->lock);
	b->cost += add;
	if (b->in_cache)
		b->s->bytes += add;
	pthread_mutex_unlock(&b->s->lock);
}

/* Evict idle binaries, least recently used first, down to the bound. */
static void evict(struct symbolizer *s, struct sym_binary **victims,
		  size_t max, size_t *ret_n)
{
	struct sym_binary *b, *tail = NULL;
	size_t n = 0;

	for (b = s->head; b; b = b->next)
		tail = b;
	for (b = tail; b && s->bytes > s->max_bytes && n < max;) {
		struct sym_binary *prev = b->prev;

		if (!b->refs) {
			unlink_binary(s, b);
			victims[n++] = b;
			s->evictions++;
		}
		b = prev;
	}
	*ret_n = n;
}

static struct sym_binary *find_key(struct symbolizer *s, const char *key)
{
	struct sym_binary *b;

	for (b = s->head; b; b = b->next)
		if (!strcmp(b->key, key))
			return b;
	return NULL;
}

int symbolizer__get(struct symbolizer *s, int fd, const char *path,
		    struct sym_binary **ret)
{
	struct sym_binary *b = NULL, *created = NULL, *victims[64];
	char build_id[SYM_BUILD_ID_MAX + 1], key[160];
	size_t nv = 0, i;
	struct stat st;
	Elf *elf;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -ENOEXEC;
	if (elf_kind(elf) != ELF_K_ELF) {
		r = -ENOEXEC;
		goto out;
	}
	if (symbolizer__build_id(elf, build_id, sizeof(build_id)) == 0)
		snprintf(key, sizeof(key), "b:%s", build_id);
	else
		/* No build-id: the file's identity and version instead. */
		snprintf(key, sizeof(key), "f:%lx:%lx:%lx:%lx.%ld",
			 (unsigned long)st.st_dev, (unsigned long)st.st_ino,
			 (unsigned long)st.st_size,
			 (unsigned long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);

	pthread_mutex_lock(&s->lock);
	b = find_key(s, key);
	if (b) {
		b->refs++;
		symbolizer__touch(s, b);
		s->hits++;
	}
	pthread_mutex_unlock(&s->lock);
	if (b) {
		r = 0;
		goto out;
	}

	/* Build outside the cache lock: loading DWARF can take a while. */
	r = sym_binary__create(s, fd, path, elf, key, build_id, st.st_size,
			       &created);
	if (r < 0)
		goto out;

	pthread_mutex_lock(&s->lock);
	b = find_key(s, key);
	if (b) {
		/* Lost a race with another opener: use theirs. */
		b->refs++;
		symbolizer__touch(s, b);
		s->hits++;
	} else {
		b = created;
		created = NULL;
		b->next = s->head;
		if (s->head)
			s->head->prev = b;
		s->head = b;
		s->bytes += b->cost;
		b->in_cache = true;
		s->nbin++;
		s->misses++;
		evict(s, victims, sizeof(victims) / sizeof(victims[0]), &nv);
	}
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < nv; i++)
		sym_binary__destroy(victims[i]);
	if (created)
		sym_binary__destroy(created);
	r = 0;
out:
	elf_end(elf);
	if (r == 0)
		*ret = b;
	return r;
}

struct sym_binary *sym_binary__ref(struct sym_binary *b)
{
	pthread_mutex_lock(&b->s->lock);
	b->refs++;
	pthread_mutex_unlock(&b->s->lock);
	return b;
}

void sym_binary__put(struct sym_binary *b)
{
	struct sym_binary *victims[64];
	struct symbolizer *s;
	size_t nv = 0, i;

	if (!b)
		return;
	s = b->s;
	pthread_mutex_lock(&s->lock);
	if (--b->refs == 0)
		evict(s, victims, sizeof(victims) / sizeof(victims[0]), &nv);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < nv; i++)
		sym_binary__destroy(victims[i]);
}

void symbolizer__stats(struct symbolizer *s, struct symbolizer_stats *ret)
{
	struct sym_binary *b;

	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&s->lock);
	for (b = s->head; b; b = b->next)
		if (!b->refs)
			ret->binaries_idle++;
	ret->debug_reloads = s->debug_reloads;
	ret->debuginfod = s->dbgd != NULL;
	ret->binaries = s->nbin;
	ret->bytes_estimate = s->bytes;
	ret->bytes_max = s->max_bytes;
	ret->hits = s->hits;
	ret->misses = s->misses;
	ret->evictions = s->evictions;
	ret->cfi_hits = __atomic_load_n(&s->cfi_hits, __ATOMIC_RELAXED);
	ret->cfi_misses = __atomic_load_n(&s->cfi_misses, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->lock);
	if (s->dbgd)
		debuginfod__stats(s->dbgd, &ret->dbgd);
}
