// SPDX-License-Identifier: GPL-2.0
/* One binary: its Dwfl, debug info, lookups (symbolizer_int.h). */

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

static char *debuginfo_path;	/* NULL: libdwfl's default, /usr/lib/debug */

/*
 * libdwfl's search (the binary's own sections, /usr/lib/debug by build-id
 * and by .gnu_debuglink), then a file fetched from debuginfod. libdwfl's
 * own debuginfod step in that search stays idle: main.c removes
 * DEBUGINFOD_URLS from the environment, so nothing here waits on the
 * network. The fetched file is given once per Dwfl: a second call is for
 * a dwz alternate file, which it is not.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata,
			  const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	struct sym_binary *b = *userdata;
	int fd;

	fd = dwfl_standard_find_debuginfo(mod, userdata, modname, base,
					  file_name, debuglink_file,
					  debuglink_crc, debuginfo_file_name);
	if (fd >= 0 || !b || !b->debug_path || b->debug_given)
		return fd;
	b->debug_given = true;
	fd = open(b->debug_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		*debuginfo_file_name = strdup(b->debug_path);
		if (!*debuginfo_file_name) {
			close(fd);
			fd = -1;
		}
	}
	return fd;
}

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

void sym_binary__destroy(struct sym_binary *b)
{
	if (b->dwfl)
		dwfl_end(b->dwfl);
	if (b->old_dwfl)
		dwfl_end(b->old_dwfl);
	/* After the Dwarf that borrowed it (dwarf_setalt). */
	if (b->alt_dw)
		dwarf_end(b->alt_dw);
	if (b->alt_fd >= 0)
		close(b->alt_fd);
	if (b->elf_fd >= 0)
		close(b->elf_fd);
	pthread_mutex_destroy(&b->lock);
	free(b->segs);
	symsrc__free(b->src);
	symsrc__free(b->old_src);
	symseg__free(b->seg);
	free(b->debug_path);
	pltsyms__free(b->plt, b->nplt);
	free(b->cfi_cache);
	free(b->path);
	free(b);
}

static void hex(const unsigned char *p, size_t n, char *buf, size_t size)
{
	size_t i;

	buf[0] = 0;
	for (i = 0; i < n && 2 * i + 2 < size; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
}

int symbolizer__build_id(Elf *elf, char *buf, size_t size)
{
	const void *id;
	ssize_t n = dwelf_elf_gnu_build_id(elf, &id);

	if (n <= 0) {
		buf[0] = 0;
		return -ENOENT;
	}
	hex(id, (size_t)n, buf, size);
	return 0;
}

/* PT_LOAD segments, for file offset -> link-time address. */
static int read_segs(Elf *elf, struct load_seg **ret, size_t *ret_n)
{
	struct load_seg *segs;
	size_t phnum, i, n = 0;

	if (elf_getphdrnum(elf, &phnum) < 0 || phnum > 4096)
		return -ENOEXEC;
	segs = calloc(phnum ? phnum : 1, sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		segs[n].offset = ph.p_offset;
		segs[n].filesz = ph.p_filesz;
		segs[n].vaddr = ph.p_vaddr;
		n++;
	}
	*ret = segs;
	*ret_n = n;
	return 0;
}

/* Move @b to the front of the list (most recently used). Under s->lock. */
/*
 * A Dwfl holding @fd's ELF file as one module at its link-time addresses,
 * with its DWARF loaded (found by find_debuginfo() above) if any. @fd
 * stays the caller's.
 */
static int open_dwfl(struct sym_binary *b, int fd, const char *path,
		     Dwfl **ret, Dwfl_Module **ret_mod, bool *ret_dwarf)
{
	const char *base = strrchr(path, '/');
	Dwarf_Addr bias;
	Dwfl_Module *mod;
	void **ud;
	Dwfl *dwfl;
	int dfd;

	dwfl = dwfl_begin(&dwfl_callbacks);
	if (!dwfl)
		return -ENOMEM;
	/* dwfl consumes the fd on success; ours stays with the caller. */
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0) {
		int e = -errno;

		dwfl_end(dwfl);
		return e;
	}
	base = base ? base + 1 : path;
	dwfl_report_begin(dwfl);
	mod = dwfl_report_elf(dwfl, base, path, dfd, 0, true);
	if (!mod) {
		close(dfd);
		dwfl_end(dwfl);
		return -ENOEXEC;
	}
	dwfl_report_end(dwfl, NULL, NULL);
	dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
	*ud = b;
	/* Load DWARF now (also finds /usr/lib/debug/.build-id/ files) while
	 * the path is still valid: the process may be gone by lookup time. */
	*ret_dwarf = dwfl_module_getdwarf(mod, &bias) != NULL;
	*ret = dwfl;
	*ret_mod = mod;
	return 0;
}

/* Size of the separate debug file @mod uses, 0 if none. */
static size_t debug_file_size(Dwfl_Module *mod, const char *path)
{
	const char *dbg = NULL;
	struct stat st;

	dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, &dbg);
	if (dbg && strcmp(dbg, path) && stat(dbg, &st) == 0)
		return (size_t)st.st_size;
	return 0;
}

static uint64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

/*
 * A fetched debug file compressed with dwz refers to an alternate file
 * (.gnu_debugaltlink: shared types, strings, inlined functions) by
 * build-id; Debian's -dbgsym packages mostly are. When it is not on this
 * machine, ask debuginfod for it too and give it to libdw. Returns 0 (no
 * alternate needed, or attached, or none to be had: go on with what
 * there is) or 1 when it is being fetched (wait). Under b->lock.
 */
static int debug_alt(struct sym_binary *b, Dwfl_Module *mod, size_t *ret_add)
{
	char hex[2 * SYM_BUILD_ID_MAX + 1], path[PATH_MAX];
	const unsigned char *id;
	const char *name;
	Dwarf_Addr bias;
	Dwarf *dw, *alt;
	ssize_t n, i;
	struct stat st;
	int fd;

	dw = dwfl_module_getdwarf(mod, &bias);
	if (!dw || dwarf_getalt(dw))
		return 0;
	n = dwelf_dwarf_gnu_debugaltlink(dw, &name, (const void **)&id);
	if (n <= 0 || n > SYM_BUILD_ID_MAX / 2)
		return 0;
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	switch (debuginfod__find(b->s->dbgd, hex, path, sizeof(path))) {
	case DEBUGINFOD_READY:
		break;
	case DEBUGINFOD_PENDING:
		return 1;
	default:
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	alt = dwarf_begin(fd, DWARF_C_READ);
	if (!alt) {
		close(fd);
		return 0;
	}
	dwarf_setalt(dw, alt);
	/* One reload per binary: nothing to free before. */
	b->alt_dw = alt;
	b->alt_fd = fd;
	*ret_add = fstat(fd, &st) == 0 ? (size_t)st.st_size : 0;
	return 0;
}

/*
 * Reload @b with the DWARF fetched into @dbg_path: a second Dwfl on the
 * same file. What it replaces is kept until @b is freed. Under b->lock
 * (or before @b is shared).
 */
static void debug_reload(struct sym_binary *b, const char *dbg_path)
{
	struct symsrc *src;
	Dwfl_Module *mod;
	size_t add = 0;
	bool dwarf;
	Dwfl *dwfl;

	free(b->debug_path);
	b->debug_path = strdup(dbg_path);
	b->debug_given = false;
	if (!b->debug_path ||
	    open_dwfl(b, b->elf_fd, b->path, &dwfl, &mod, &dwarf) < 0) {
		b->debug_state = SYM_DEBUG_FAILED;
		return;
	}
	if (dwarf && !b->alt_dw && debug_alt(b, mod, &add) == 1) {
		/* Its alternate file is on the way: reload when it is here. */
		dwfl_end(dwfl);
		b->debug_state = SYM_DEBUG_PENDING;
		return;
	}
	if (!dwarf || symsrc__new(mod, &src) < 0) {
		dwfl_end(dwfl);
		b->debug_state = SYM_DEBUG_FAILED;
		return;
	}
	b->old_dwfl = b->dwfl;
	b->old_src = b->src;
	b->dwfl = dwfl;
	b->mod = mod;
	b->src = src;
	symseg__free(b->seg);
	b->seg = NULL;
	if (symseg__new(mod, &b->seg) == 0)
		add += symseg__bytes(b->seg);
	b->has_dwarf = true;
	b->has_functions |= dwfl_module_getsymtab(mod) > 0;
	if (b->cfi_tried) {
		b->eh_cfi = dwfl_module_eh_cfi(mod, &b->eh_bias);
		b->dbg_cfi = dwfl_module_dwarf_cfi(mod, &b->dbg_bias);
	}
	b->debug_state = SYM_DEBUG_FETCHED;
	close(b->elf_fd);
	b->elf_fd = -1;
	add += debug_file_size(mod, b->path) + 64 * 1024;
	sym_binary__add_cost(b, add);
	pthread_mutex_lock(&b->s->lock);
	b->s->debug_reloads++;
	pthread_mutex_unlock(&b->s->lock);
}

/* Ask debuginfod about @b's DWARF and act on the answer. Under b->lock. */
static void debug_ask(struct sym_binary *b)
{
	struct debuginfod *d = b->s->dbgd;
	char path[PATH_MAX];
	int st;

	b->debug_gen = debuginfod__generation(d);
	b->debug_asked_s = mono_s();
	st = debuginfod__find(d, b->build_id, path, sizeof(path));
	switch (st) {
	case DEBUGINFOD_READY:
		debug_reload(b, path);
		break;
	case DEBUGINFOD_PENDING:
		b->debug_state = SYM_DEBUG_PENDING;
		break;
	case DEBUGINFOD_MISSING:
		b->debug_state = SYM_DEBUG_MISSING;
		break;
	default:
		b->debug_state = SYM_DEBUG_FAILED;
		break;
	}
	if (b->debug_state == SYM_DEBUG_MISSING && b->elf_fd >= 0) {
		close(b->elf_fd);	/* not asked again for this binary */
		b->elf_fd = -1;
	}
}

void sym_binary__refresh(struct sym_binary *b)
{
	pthread_mutex_lock(&b->lock);
	/* Pending: ask again once any fetch ended; failed: once a minute
	 * (debuginfod remembers a failure for five). */
	if (b->elf_fd >= 0 && b->s->dbgd &&
	    ((b->debug_state == SYM_DEBUG_PENDING &&
	      debuginfod__generation(b->s->dbgd) != b->debug_gen) ||
	     (b->debug_state == SYM_DEBUG_FAILED &&
	      mono_s() >= b->debug_asked_s + 60)))
		debug_ask(b);
	pthread_mutex_unlock(&b->lock);
}

int sym_binary__create(struct symbolizer *s, int fd, const char *path,
		       Elf *elf, const char *key, const char *build_id,
		       off_t size, struct sym_binary **ret)
{
	struct sym_binary *b;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->elf_fd = -1;
	b->alt_fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	b->s = s;
	b->refs = 1;
	snprintf(b->key, sizeof(b->key), "%s", key);
	snprintf(b->build_id, sizeof(b->build_id), "%s", build_id);
	b->path = strdup(path);
	if (!b->path) {
		r = -ENOMEM;
		goto fail;
	}
	r = read_segs(elf, &b->segs, &b->nsegs);
	if (r < 0)
		goto fail;

	r = open_dwfl(b, fd, path, &b->dwfl, &b->mod, &b->has_dwarf);
	if (r < 0)
		goto fail;
	r = symsrc__new(b->mod, &b->src);
	if (r == 0)
		r = pltsyms__read(elf, &b->plt, &b->nplt);
	if (r < 0)
		goto fail;
	b->has_functions = dwfl_module_getsymtab(b->mod) > 0 || b->nplt;
	(void)symseg__new(b->mod, &b->seg);	/* without: libdw each time */
	/*
	 * Cost estimate: libdw keeps the file mapped and builds CU, line and
	 * abbreviation tables as lookups touch them; the file size is an upper
	 * bound for what it can page in or copy, plus a fixed overhead.
	 */
	b->cost = (size_t)size + 64 * 1024 + b->nplt * (sizeof(*b->plt) + 32) +
		  symseg__bytes(b->seg);
	/* A separate debug file (/usr/lib/debug) is mapped too. */
	b->cost += debug_file_size(b->mod, path);
	/*
	 * No DWARF here: ask debuginfod (an answer from its cache at once,
	 * else a fetch in the background), keeping the file to report it
	 * again once the DWARF has come.
	 */
	if (!b->has_dwarf && s->dbgd && debuginfod__valid_build_id(build_id)) {
		b->elf_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (b->elf_fd >= 0)
			debug_ask(b);
	}
	*ret = b;
	return 0;
fail:
	sym_binary__destroy(b);
	return r;
}

void sym_binary__info(struct sym_binary *b, struct sym_binary_info *ret)
{
	pthread_mutex_lock(&b->lock);
	ret->build_id = b->build_id;
	ret->path = b->path;
	ret->has_functions = b->has_functions;
	ret->has_filenames = b->has_dwarf;
	ret->has_line_numbers = b->has_dwarf;
	ret->has_inline_frames = b->has_dwarf;
	ret->debug_state = b->debug_state;
	pthread_mutex_unlock(&b->lock);
}

static int lookup_locked(struct sym_binary *b, Dwarf_Addr addr,
			 struct sym_frame *frames, int max)
{
	const struct plt_stub *stub;
	const char *symname;
	GElf_Off symoff;
	GElf_Sym sym;
	size_t before;
	int n;

	/* PLT stubs have no symbol and no DWARF: the name objdump gives. */
	stub = pltsyms__find(b->plt, b->nplt, addr);
	if (stub) {
		frames[0] = (struct sym_frame){ .func = stub->name };
		return 1;
	}
	symname = b->seg ? symseg__name(b->seg, b->mod, addr) :
		  dwfl_module_addrinfo(b->mod, addr, &symoff, &sym, NULL, NULL,
				       NULL);
	before = symsrc__bytes(b->src);
	n = symsrc__frames(b->src, addr, symname, frames, max);
	if (symsrc__bytes(b->src) != before)
		sym_binary__add_cost(b, symsrc__bytes(b->src) - before);
	return n;
}

/* The link-time address of @file_offset, through the PT_LOAD headers. */
bool sym_binary__to_vaddr(const struct sym_binary *b, uint64_t file_offset,
			  uint64_t *ret)
{
	size_t i;

	for (i = 0; i < b->nsegs; i++) {
		const struct load_seg *sg = &b->segs[i];

		if (file_offset >= sg->offset &&
		    file_offset < sg->offset + sg->filesz) {
			*ret = file_offset - sg->offset + sg->vaddr;
			return true;
		}
	}
	return false;
}

int sym_binary__lookup(struct sym_binary *b, uint64_t file_offset,
		       struct sym_frame *frames, int max)
{
	uint64_t vaddr;
	int n;

	if (max <= 0)
		return -EINVAL;
	if (!sym_binary__to_vaddr(b, file_offset, &vaddr))
		return 0;
	pthread_mutex_lock(&b->lock);
	n = lookup_locked(b, vaddr, frames, max);
	pthread_mutex_unlock(&b->lock);
	return n;
}

int sym_binary__symoff(struct sym_binary *b, uint64_t file_offset,
		       uint64_t *ret_off)
{
	const char *name = NULL;
	GElf_Off off = 0;
	GElf_Sym sym;
	uint64_t vaddr;

	if (!sym_binary__to_vaddr(b, file_offset, &vaddr))
		return -ENOENT;
	pthread_mutex_lock(&b->lock);
	if (b->mod)
		name = dwfl_module_addrinfo(b->mod, vaddr, &off, &sym, NULL,
					    NULL, NULL);
	pthread_mutex_unlock(&b->lock);
	if (!name)
		return -ENOENT;
	*ret_off = off;
	return 0;
}

/* Copy one rule's ops into @row; -E2BIG when they do not fit. */
