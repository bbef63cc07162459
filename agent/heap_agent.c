// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libprofd_heap.so: profd's in-process heap sampler (mode=inproc).
 *
 * A uprobe on malloc costs a trap, ~0.8 us, on every call: programs that
 * call the allocator millions of times a second (perl, sqlite) run ~10x
 * slower. profd loads this library into a running process (dlopen, called
 * through ptrace) and calls profd_heap_on(), which points the GOT entries
 * of every loaded module for the malloc family at the wrappers below. An
 * unsampled call then costs an indirect call and a thread-local countdown;
 * only sampled allocations, and frees of sampled blocks, reach profd,
 * through two probe points where profd's BPF programs record them exactly
 * as in the trap-per-call mode (same live table, stacks and snapshots).
 *
 * What it does not see: calls made through pointers taken before
 * profd_heap_on() (a module's GOT is what gets redirected), calls from a
 * module loaded after it until profd notices and calls
 * profd_heap_rescan(), and the dynamic linker's own allocations.
 * profd_heap_off() puts the GOT entries back; the library stays loaded (unloading it while
 * another thread may be inside a wrapper is not safe), idle.
 *
 * Everything here runs inside somebody else's process, on its allocator's
 * hot path: no malloc, no stdio, no locks that can be held across a call
 * out, no threads; memory comes from mmap. Nothing reached from a wrapper
 * takes the loader's lock (an allocation may be made under a lock of the
 * program's that a loading thread's constructor wants); only the entry
 * points profd calls do, from a thread it stopped outside the allocator.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "profd_agent.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/*
 * The probe points: a 5-byte nop and a return. The wrappers call them
 * through hidden aliases (no PLT); profd attaches by the exported names.
 */
__asm__(".text\n"
	".p2align 4\n"
	".globl profd_heap_probe_alloc\n"
	".type profd_heap_probe_alloc, @function\n"
	".globl probe_alloc\n"
	".hidden probe_alloc\n"
	"profd_heap_probe_alloc:\n"
	"probe_alloc:\n"
	".cfi_startproc\n"
	".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"	/* nopl 0x0(%rax,%rax,1) */
	"ret\n"
	".cfi_endproc\n"
	".size profd_heap_probe_alloc, .-profd_heap_probe_alloc\n"
	".p2align 4\n"
	".globl profd_heap_probe_free\n"
	".type profd_heap_probe_free, @function\n"
	".globl probe_free\n"
	".hidden probe_free\n"
	"profd_heap_probe_free:\n"
	"probe_free:\n"
	".cfi_startproc\n"
	".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"	/* nopl 0x0(%rax,%rax,1) */
	"ret\n"
	".cfi_endproc\n"
	".size profd_heap_probe_free, .-profd_heap_probe_free\n");

HIDDEN void probe_alloc(uint64_t addr, uint64_t size, uint64_t flags);
HIDDEN void probe_free(uint64_t addr);

/* Read by profd from the file before it loads it (profd_agent.h). */
EXPORT const uint64_t profd_heap_agent_version = PROFD_AGENT_VERSION;

/* The allocator's own entry points, resolved by profd_heap_on(). */
static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);	/* for off() only */
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
} real;

/* Settings; written by on()/off(), read by every wrapper. */
static int enabled;
static uint64_t mean_bytes;
static uint32_t cur_gen;
static uint64_t max_live;

/* Per thread: bytes left until the next sample, and a random state. */
static TLS int64_t left;
static TLS uint32_t left_gen;
static TLS uint64_t rng;

static uint64_t next_random(void)
{
	if (unlikely(!rng)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&left ^
		      (uint64_t)ts.tv_sec;
		rng |= 1;
	}
	rng ^= rng >> 12;	/* xorshift64* */
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

/* A geometric interval with mean @mean: -ln(u) * mean, u in (0, 1]. */
static int64_t next_interval(uint64_t mean)
{
	double u = (double)((next_random() >> 11) + 1) / 9007199254740992.0;
	double v = -log(u) * (double)mean;

	return v < 1 ? 1 : v > 9e18 ? (int64_t)9e18 : (int64_t)v;
}

/* Byte sampling as tcmalloc and Go do it, and as profd's BPF side does. */
static inline bool sample(size_t size)
{
	uint64_t mean = __atomic_load_n(&mean_bytes, __ATOMIC_RELAXED);
	uint32_t ep;

	if (mean <= 1)
		return true;
	ep = __atomic_load_n(&cur_gen, __ATOMIC_RELAXED);
	if (unlikely(left_gen != ep)) {
		left_gen = ep;
		left = next_interval(mean);
	}
	left -= (int64_t)size;
	if (likely(left > 0))
		return false;
	left = next_interval(mean);
	return true;
}

/*
 * The sampled blocks, so that free() knows which frees profd must see:
 * open addressing, linear probing, tombstones. Writers hold a spinlock
 * (held for a few hundred ns at most, never across a call out); readers
 * take none — inserts and deletes never move an entry, so a lookup races
 * only with a rebuild, which it detects by the sequence count and
 * retries. A table outgrown is left mapped (a reader may still be in
 * it): the tables together stay under twice the last one's size.
 */
#define EMPTY 0
#define TOMB 1

struct slot {
	uint64_t addr;
	uint64_t size;
};

struct table {
	uint64_t mask;
	struct slot s[];
};

static struct table *tab;
static uint64_t nlive, ntombs;	/* under set_lock; nlive read racily */
static uint32_t seq;		/* odd while a rebuild runs */
static int set_lock;

static void lock(void)
{
	while (__atomic_exchange_n(&set_lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&set_lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static void unlock(void)
{
	__atomic_store_n(&set_lock, 0, __ATOMIC_RELEASE);
}

static inline uint64_t hash(uint64_t a, uint64_t mask)
{
	return ((a >> 4) * 0x9e3779b97f4a7c15ULL >> 17) & mask;
}

static struct table *table_new(uint64_t slots)
{
	size_t len = sizeof(struct table) + slots * sizeof(struct slot);
	struct table *t = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (t == MAP_FAILED)
		return NULL;
	t->mask = slots - 1;
	return t;
}

/* Put @a in @t, which has room. Under lock. */
static void table_put(struct table *t, uint64_t a, uint64_t size)
{
	uint64_t i = hash(a, t->mask), k;

	while ((k = t->s[i].addr) != EMPTY && k != TOMB && k != a)
		i = (i + 1) & t->mask;
	t->s[i].size = size;
	__atomic_store_n(&t->s[i].addr, a, __ATOMIC_RELEASE);
}

/* Rebuild without tombstones into @nt (@nt may be @tab). Under lock. */
static void rebuild(struct table *nt)
{
	struct table *old = tab;
	uint64_t n = old->mask + 1, i, j = 0;
	struct slot *keep;

	/* The live entries, at most 3/4 of the slots, to the end of a
	 * scratch mapping; then into @nt. */
	keep = mmap(NULL, n * sizeof(*keep), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (keep == MAP_FAILED)
		return;		/* tombstones stay; lookups only get slower */
	for (i = 0; i < n; i++)
		if (old->s[i].addr > TOMB)
			keep[j++] = old->s[i];
	__atomic_store_n(&seq, seq + 1, __ATOMIC_RELEASE);	/* odd */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (nt == old)
		memset(nt->s, 0, n * sizeof(nt->s[0]));
	for (i = 0; i < j; i++)
		table_put(nt, keep[i].addr, keep[i].size);
	__atomic_store_n(&tab, nt, __ATOMIC_RELEASE);
	ntombs = 0;
	__atomic_store_n(&seq, seq + 1, __ATOMIC_RELEASE);	/* even */
	munmap(keep, n * sizeof(*keep));
}

/* Track @a: 0, or -ENOSPC when max_live blocks are tracked already. */
static int set_put(uint64_t a, uint64_t size)
{
	int r = 0;

	lock();
	if (nlive >= max_live) {
		r = -ENOSPC;
		goto out;
	}
	if ((nlive + ntombs + 1) * 4 > (tab->mask + 1) * 3) {
		struct table *nt = tab;

		if ((nlive + 1) * 2 > tab->mask + 1)
			nt = table_new((tab->mask + 1) * 2);
		if (!nt) {
			r = -ENOSPC;
			goto out;
		}
		rebuild(nt);
		if ((nlive + ntombs + 1) * 4 > (tab->mask + 1) * 3) {
			r = -ENOSPC;	/* the rebuild could not run */
			goto out;
		}
	}
	table_put(tab, a, size);
	__atomic_store_n(&nlive, nlive + 1, __ATOMIC_RELAXED);
out:
	unlock();
	return r;
}

/* Is @a tracked? No lock. */
static bool set_has(uint64_t a)
{
	for (;;) {
		uint32_t s = __atomic_load_n(&seq, __ATOMIC_ACQUIRE);
		struct table *t;
		uint64_t i, n, k;
		bool found = false;

		if (s & 1) {
			__builtin_ia32_pause();
			continue;
		}
		t = __atomic_load_n(&tab, __ATOMIC_ACQUIRE);
		i = hash(a, t->mask);
		for (n = 0; n <= t->mask; n++) {
			k = __atomic_load_n(&t->s[i].addr, __ATOMIC_ACQUIRE);
			if (k == a) {
				found = true;
				break;
			}
			if (k == EMPTY)
				break;
			i = (i + 1) & t->mask;
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&seq, __ATOMIC_RELAXED) == s)
			return found;
	}
}

/* Stop tracking @a: true when it was tracked; its size in @ret_size. */
static bool set_take(uint64_t a, uint64_t *ret_size)
{
	uint64_t i, n;
	bool found = false;

	lock();
	i = hash(a, tab->mask);
	for (n = 0; n <= tab->mask; n++) {
		uint64_t k = tab->s[i].addr;

		if (k == a) {
			*ret_size = tab->s[i].size;
			__atomic_store_n(&tab->s[i].addr, TOMB, __ATOMIC_RELEASE);
			__atomic_store_n(&nlive, nlive - 1, __ATOMIC_RELAXED);
			ntombs++;
			found = true;
			break;
		}
		if (k == EMPTY)
			break;
		i = (i + 1) & tab->mask;
	}
	unlock();
	return found;
}

static inline bool on(void)
{
	return __atomic_load_n(&enabled, __ATOMIC_RELAXED);
}

static void track(void *p, size_t size)
{
	uint64_t flags = 0;

	if (set_put((uint64_t)(uintptr_t)p, size) < 0)
		flags = PROFD_AGENT_DROPPED;
	probe_alloc((uint64_t)(uintptr_t)p, size, flags);
}

/* Before the block goes back to the allocator: once it has, another
 * thread may get the same address and track it. */
static inline void untrack(void *p)
{
	uint64_t size;

	if (p && __atomic_load_n(&nlive, __ATOMIC_RELAXED) &&
	    set_has((uint64_t)(uintptr_t)p) &&
	    set_take((uint64_t)(uintptr_t)p, &size))
		probe_free((uint64_t)(uintptr_t)p);
}

static void *w_malloc(size_t n)
{
	void *p = real.malloc(n);

	if (p && on() && sample(n))
		track(p, n);
	return p;
}

static void *w_calloc(size_t nm, size_t size)
{
	void *p = real.calloc(nm, size);

	if (p && on() && sample(nm * size))	/* no overflow: it succeeded */
		track(p, nm * size);
	return p;
}

static void w_free(void *p)
{
	untrack(p);
	real.free(p);
}

/*
 * realloc may free the old block inside the call, after which its address
 * can be handed out again: so the old block stops being tracked before
 * the call, and is tracked again if the call fails (it then stays).
 */
static void *w_realloc(void *old, size_t n)
{
	uint64_t osize = 0;
	bool was = false;
	void *p;

	if (old && __atomic_load_n(&nlive, __ATOMIC_RELAXED) &&
	    set_has((uint64_t)(uintptr_t)old) &&
	    set_take((uint64_t)(uintptr_t)old, &osize)) {
		was = true;
		probe_free((uint64_t)(uintptr_t)old);
	}
	p = real.realloc(old, n);
	if (!p && n && was && set_put((uint64_t)(uintptr_t)old, osize) == 0)
		probe_alloc((uint64_t)(uintptr_t)old, osize, PROFD_AGENT_RELIVE);
	if (p && on() && sample(n))
		track(p, n);
	return p;
}

/* glibc's reallocarray calls realloc through its GOT, which leads back
 * here: so it is done here, once. */
static void *w_reallocarray(void *old, size_t nm, size_t size)
{
	size_t n;

	if (__builtin_mul_overflow(nm, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return w_realloc(old, n);
}

static int w_posix_memalign(void **memptr, size_t align, size_t n)
{
	int r = real.posix_memalign(memptr, align, n);

	if (!r && on() && sample(n))
		track(*memptr, n);
	return r;
}

static void *w_aligned_alloc(size_t align, size_t n)
{
	void *p = real.aligned_alloc(align, n);

	if (p && on() && sample(n))
		track(p, n);
	return p;
}

static void *w_memalign(size_t align, size_t n)
{
	void *p = real.memalign(align, n);

	if (p && on() && sample(n))
		track(p, n);
	return p;
}

static void *w_valloc(size_t n)
{
	void *p = real.valloc(n);

	if (p && on() && sample(n))
		track(p, n);
	return p;
}

/* Counted at the size asked for, as the uprobe mode does. */
static void *w_pvalloc(size_t n)
{
	void *p = real.pvalloc(n);

	if (p && on() && sample(n))
		track(p, n);
	return p;
}

/* What is redirected: name, wrapper, where the real one goes. */
static const struct hook {
	const char *name;
	void *wrapper;
	void **real;
} hooks[] = {
	{ "malloc", (void *)w_malloc, (void **)&real.malloc },
	{ "calloc", (void *)w_calloc, (void **)&real.calloc },
	{ "realloc", (void *)w_realloc, (void **)&real.realloc },
	{ "reallocarray", (void *)w_reallocarray, (void **)&real.reallocarray },
	{ "free", (void *)w_free, (void **)&real.free },
	{ "posix_memalign", (void *)w_posix_memalign, (void **)&real.posix_memalign },
	{ "aligned_alloc", (void *)w_aligned_alloc, (void **)&real.aligned_alloc },
	{ "memalign", (void *)w_memalign, (void **)&real.memalign },
	{ "valloc", (void *)w_valloc, (void **)&real.valloc },
	{ "pvalloc", (void *)w_pvalloc, (void **)&real.pvalloc },
};
#define NHOOKS (sizeof(hooks) / sizeof(hooks[0]))

/*
 * GOT entries changed, with what they held, so that off() can put back a
 * lazy-binding stub rather than the function it would resolve to. Bounded:
 * beyond, entries are restored to the function itself.
 */
#define MAX_SAVED 4096
static struct saved {
	uint64_t *slot;
	uint64_t orig;
} saved[MAX_SAVED];
static unsigned nsaved;

struct walk {
	bool restore;
	long count;		/* entries pointing at the agent (or put back) */
	long errors;		/* entries that could not be written */
};

static const struct hook *hook_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < NHOOKS; i++)
		if (!strcmp(name, hooks[i].name))
			return &hooks[i];
	return NULL;
}

static const struct hook *hook_by_wrapper(uint64_t v)
{
	size_t i;

	for (i = 0; i < NHOOKS; i++)
		if (v == (uint64_t)(uintptr_t)hooks[i].wrapper)
			return &hooks[i];
	return NULL;
}

/*
 * Write a GOT entry, which may sit in the RELRO range the loader made
 * read-only — whole pages only: it rounds both ends down, so a last
 * partial page (shared with .data) stays writable and must stay so.
 * False when it could not be made writable (a seccomp or LSM policy, a
 * sealed mapping): the entry is unchanged.
 */
static bool set_slot(uint64_t *slot, uint64_t v, uint64_t relro_lo,
		     uint64_t relro_hi)
{
	uint64_t a = (uint64_t)(uintptr_t)slot;
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	void *page = (void *)(uintptr_t)(a & ~(pg - 1));
	bool ro = a >= (relro_lo & ~(pg - 1)) && a < (relro_hi & ~(pg - 1));

	if (ro && mprotect(page, (size_t)pg, PROT_READ | PROT_WRITE) < 0)
		return false;
	__atomic_store_n(slot, v, __ATOMIC_RELEASE);
	if (ro)
		(void)mprotect(page, (size_t)pg, PROT_READ);
	return true;
}

static void do_relocs(struct walk *w, uint64_t base, const Elf64_Rela *r,
		      size_t n, const Elf64_Sym *symtab, const char *strtab,
		      uint64_t relro_lo, uint64_t relro_hi)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		uint32_t type = ELF64_R_TYPE(r[i].r_info);
		const struct hook *hk;
		uint64_t *slot, cur;

		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
			continue;
		slot = (uint64_t *)(uintptr_t)(base + r[i].r_offset);
		cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
		if (w->restore) {
			uint64_t orig;

			hk = hook_by_wrapper(cur);
			if (!hk)
				continue;
			orig = (uint64_t)(uintptr_t)*hk->real;
			for (k = 0; k < nsaved; k++)
				if (saved[k].slot == slot)
					orig = saved[k].orig;
			if (set_slot(slot, orig, relro_lo, relro_hi))
				w->count++;
			else
				w->errors++;
			continue;
		}
		hk = hook_by_name(strtab +
				  symtab[ELF64_R_SYM(r[i].r_info)].st_name);
		if (!hk)
			continue;
		if (cur != (uint64_t)(uintptr_t)hk->wrapper) {
			for (k = 0; k < nsaved; k++)
				if (saved[k].slot == slot)
					break;
			if (!set_slot(slot, (uint64_t)(uintptr_t)hk->wrapper,
				      relro_lo, relro_hi)) {
				w->errors++;
				continue;
			}
			if (k == nsaved && nsaved < MAX_SAVED) {
				saved[nsaved].slot = slot;
				saved[nsaved++].orig = cur;
			} else if (k < nsaved) {
				saved[k].orig = cur;
			}
		}
		w->count++;
	}
}

/* Dynamic-section pointers are relocated in place by glibc, except where
 * they are not (small values are offsets from the load base). */
static uint64_t dptr(uint64_t base, uint64_t v)
{
	return v < base ? v + base : v;
}

static int module(struct dl_phdr_info *info, size_t size, void *data)
{
	struct walk *w = data;
	const Elf64_Dyn *dyn = NULL;
	uint64_t base = info->dlpi_addr, relro_lo = 0, relro_hi = 0;
	uint64_t self = (uint64_t)(uintptr_t)&module;
	uint64_t symtab = 0, strtab = 0, jmprel = 0, pltsz = 0, rela = 0;
	uint64_t relasz = 0;
	int i;

	if (strstr(info->dlpi_name, "ld-linux") ||
	    strstr(info->dlpi_name, "linux-vdso"))
		return 0;	/* the loader's own allocations stay its own */
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = base + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && self >= lo && self < lo + ph->p_memsz)
			return 0;	/* this library */
		if (ph->p_type == PT_DYNAMIC)
			dyn = (const Elf64_Dyn *)(uintptr_t)lo;
		if (ph->p_type == PT_GNU_RELRO) {
			relro_lo = lo;
			relro_hi = lo + ph->p_memsz;
		}
	}
	if (!dyn)
		return 0;	/* static: nothing goes through a GOT */
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_SYMTAB:
			symtab = dptr(base, dyn->d_un.d_ptr);
			break;
		case DT_STRTAB:
			strtab = dptr(base, dyn->d_un.d_ptr);
			break;
		case DT_JMPREL:
			jmprel = dptr(base, dyn->d_un.d_ptr);
			break;
		case DT_PLTRELSZ:
			pltsz = dyn->d_un.d_val;
			break;
		case DT_RELA:
			rela = dptr(base, dyn->d_un.d_ptr);
			break;
		case DT_RELASZ:
			relasz = dyn->d_un.d_val;
			break;
		}
	}
	if (!symtab || !strtab)
		return 0;
	if (jmprel)
		do_relocs(w, base, (const Elf64_Rela *)(uintptr_t)jmprel,
			  pltsz / sizeof(Elf64_Rela),
			  (const Elf64_Sym *)(uintptr_t)symtab,
			  (const char *)(uintptr_t)strtab, relro_lo, relro_hi);
	if (rela)
		do_relocs(w, base, (const Elf64_Rela *)(uintptr_t)rela,
			  relasz / sizeof(Elf64_Rela),
			  (const Elf64_Sym *)(uintptr_t)symtab,
			  (const char *)(uintptr_t)strtab, relro_lo, relro_hi);
	return 0;
}

/*
 * A forked child is not tracked (its pid is not profd's): it runs the
 * wrappers, but samples nothing and forgets the parent's blocks — whose
 * lock another thread of the parent may have held at the fork.
 */
static void child_after_fork(void)
{
	__atomic_store_n(&enabled, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&nlive, 0, __ATOMIC_RELAXED);
	set_lock = 0;
}

#define FIRST_SLOTS 1024	/* 16 KiB; doubles as needed */

EXPORT long profd_heap_on(struct profd_agent_args *a)
{
	static bool atfork;
	struct walk w = { false, 0, 0 };
	void *lib;
	size_t i;

	if (a->version != PROFD_AGENT_VERSION)
		return -EPROTO;
	/*
	 * The allocator's own definitions. Not dlsym(RTLD_DEFAULT): in a
	 * non-PIE executable that takes free's address, "free" is a PLT
	 * entry of the executable (its canonical address), which jumps
	 * through the very GOT entry redirected here.
	 */
	a->allocator[sizeof(a->allocator) - 1] = 0;
	lib = dlopen(a->allocator, RTLD_NOW | RTLD_NOLOAD);
	if (!lib)
		return -ENOENT;
	for (i = 0; i < NHOOKS; i++) {
		*hooks[i].real = dlsym(lib, hooks[i].name);
		if (!*hooks[i].real)
			return -ENOENT;
	}
	if (!atfork) {
		if (pthread_atfork(NULL, NULL, child_after_fork))
			return -ENOMEM;
		atfork = true;
	}
	lock();
	if (!tab) {
		tab = table_new(FIRST_SLOTS);
		if (!tab) {
			unlock();
			return -ENOMEM;
		}
	}
	/* A new period: the previous one's blocks are profd's no more. */
	__atomic_store_n(&seq, seq + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memset(tab->s, 0, (tab->mask + 1) * sizeof(tab->s[0]));
	__atomic_store_n(&nlive, 0, __ATOMIC_RELAXED);
	ntombs = 0;
	__atomic_store_n(&seq, seq + 1, __ATOMIC_RELEASE);
	max_live = a->max_live ? a->max_live : 1;
	__atomic_store_n(&mean_bytes, a->sample_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&cur_gen, (uint32_t)a->gen + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&enabled, 1, __ATOMIC_RELEASE);
	unlock();
	dl_iterate_phdr(module, &w);
	a->slots = (uint64_t)w.count;
	a->errors = (uint64_t)w.errors;
	if (!w.count) {
		__atomic_store_n(&enabled, 0, __ATOMIC_RELAXED);
		return -ENOENT;
	}
	return w.count;
}

/*
 * Modules loaded since on() call malloc through GOT entries nobody
 * redirected. Wrapping dlopen would change what it does (it searches its
 * caller's RPATH), and looking from a sampled allocation would take the
 * loader's lock there: profd notices new mappings and calls this instead.
 */
EXPORT long profd_heap_rescan(struct profd_agent_args *a)
{
	struct walk w = { false, 0, 0 };

	if (a->version != PROFD_AGENT_VERSION)
		return -EPROTO;
	if (!__atomic_load_n(&enabled, __ATOMIC_ACQUIRE))
		return -ENOENT;
	dl_iterate_phdr(module, &w);
	a->slots = (uint64_t)w.count;
	a->errors = (uint64_t)w.errors;
	return w.count;
}

EXPORT long profd_heap_off(struct profd_agent_args *a)
{
	struct walk w = { true, 0, 0 };

	if (a->version != PROFD_AGENT_VERSION)
		return -EPROTO;
	__atomic_store_n(&enabled, 0, __ATOMIC_RELEASE);
	dl_iterate_phdr(module, &w);
	a->slots = (uint64_t)w.count;
	a->errors = (uint64_t)w.errors;
	return w.count;
}
