// SPDX-License-Identifier: GPL-2.0
/*
 * elfsyms: symbol offsets and code spans in this process's own libc, the
 * file heap tracking probes and the in-process agent's loader reads.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/lib-names.h>
#include <link.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "elfsyms.h"

static const char *const family[] = {
	"malloc", "free", "calloc", "realloc", "reallocarray",
	"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
};

/*
 * The path of the libc this process runs with. Not dladdr(&malloc): under
 * a sanitizer, malloc (and fork) are the runtime's interceptors, in the
 * test binary or libasan.so, not libc's.
 */
static int libc_path(char *buf, size_t size)
{
	struct link_map *lm = NULL;
	void *h;
	int r = -ENOENT;

	h = dlopen(LIBC_SO, RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return r;
	if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name[0]) {
		snprintf(buf, size, "%s", lm->l_name);
		r = 0;
	}
	dlclose(h);
	return r;
}

/* The target of a tail jump (jmp rel32) in the first @len bytes at @off. */
static uint64_t tail_target(int fd, uint64_t off, size_t len)
{
	unsigned char b[128];
	size_t i;
	int32_t rel;

	if (len > sizeof(b) || pread(fd, b, len, (off_t)off) != (ssize_t)len)
		return 0;
	for (i = 0; i + 5 <= len; i++) {
		if (b[i] != 0xe9)
			continue;
		memcpy(&rel, b + i + 1, 4);
		return off + i + 5 + (int64_t)rel;
	}
	return 0;
}

int main(void)
{
	static const char *const names[] = { "malloc", "free", "memalign",
					     "strdup" };
	static const char *const nothing[] = { "no_such_function_here" };
	static const char *const fork_name[] = { "fork" };
	uint64_t off[4], lo, hi, flo, fhi, tail;
	char libc[4096];
	int fd = -1, r;

	r = libc_path(libc, sizeof(libc));
	CHECK(r == 0, "the path of %s: %d", LIBC_SO, r);
	if (r == 0)
		fd = open(libc, O_RDONLY);
	CHECK(fd >= 0, "open %s", libc);
	if (fd < 0)
		return check__done();

	r = elfsyms__find(fd, names, 4, off);
	CHECK(r == 4, "found %d of 4 in %s", r, libc);
	CHECK(!elfsyms__is_go(fd), "libc taken for Go");

	/* The allocator's span: its entry points, not strdup. */
	r = elfsyms__span(fd, family, sizeof(family) / sizeof(family[0]),
			  &lo, &hi);
	CHECK(r == 0 && lo < hi, "span: %d [%#lx, %#lx)", r,
	      (unsigned long)lo, (unsigned long)hi);
	CHECK(off[0] >= lo && off[0] < hi, "malloc %#lx in span",
	      (unsigned long)off[0]);
	CHECK(off[1] >= lo && off[1] < hi, "free in span");
	CHECK(off[2] >= lo && off[2] < hi, "memalign in span");
	CHECK(off[3] < lo || off[3] >= hi, "strdup %#lx outside span",
	      (unsigned long)off[3]);
	/* glibc's memalign tail-jumps to a static helper that takes the
	 * arena lock: the span must cover it. */
	tail = tail_target(fd, off[2], 64);
	if (tail)
		CHECK(tail >= lo && tail < hi, "memalign's tail target %#lx "
		      "in span", (unsigned long)tail);

	/* One function: itself, and nothing of the allocator. */
	r = elfsyms__span(fd, fork_name, 1, &flo, &fhi);
	CHECK(r == 0, "fork span: %d", r);
	r = elfsyms__find(fd, fork_name, 1, off);
	CHECK(r == 1 && off[0] >= flo && off[0] < fhi, "fork in its span");
	CHECK(fhi <= lo || flo >= hi, "fork's span apart from malloc's");

	r = elfsyms__span(fd, nothing, 1, &lo, &hi);
	CHECK(r == -ENOENT, "absent name: %d", r);
	close(fd);

	fd = open("/proc/self/cmdline", O_RDONLY);
	r = elfsyms__span(fd, family, 1, &lo, &hi);
	CHECK(r == -ENOEXEC, "not ELF: %d", r);
	close(fd);
	return check__done();
}
