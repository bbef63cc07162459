// SPDX-License-Identifier: GPL-2.0
/* procmaps: parse real and malformed /proc/PID/maps text. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "procmaps.h"

static const char sample[] =
	"7f0000001000-7f0000002000 r-xp 00001000 fd:01 1234 /usr/lib/libx.so.1\n"
	"55d000000000-55d000001000 r--p 00000000 fd:01 99 /opt/my app/bin (deleted)\n"
	"55d000001000-55d000005000 r-xp 00001000 fd:01 99 /opt/my app/bin (deleted)\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]\n"
	"7f0000003000-7f0000004000 rw-p 00000000 00:00 0\n"
	"garbage line\n"
	"1000-0 r-xp 0 0:0 0 /bad/range\n"
	"7f0000005000-7f0000006000 r-xp 00000000 103:0a 77777777777 /x";	/* no \n */

int main(void)
{
	struct procmaps m = {};
	const struct procmaps_entry *e;
	size_t bad = 0, i;
	char buf[1 << 16];
	ssize_t n;
	int fd, r;

	r = procmaps__parse(sample, strlen(sample), &m, &bad);
	CHECK(r == 0, "parse: %d", r);
	CHECK(m.n == 7, "entries: %zu", m.n);
	CHECK(bad == 2, "bad lines: %zu", bad);
	for (i = 1; i < m.n; i++)
		CHECK(m.e[i - 1].start <= m.e[i].start, "sorted at %zu", i);

	e = procmaps__find(&m, 0x55d000002345);
	CHECK(e && e->offset == 0x1000 && (e->perms & PROCMAPS_X) &&
	      !(e->perms & PROCMAPS_W) && (e->perms & PROCMAPS_P),
	      "exec mapping");
	CHECK(e && !strcmp(e->path, "/opt/my app/bin (deleted)"), "path with spaces: %s",
	      e ? e->path : "");
	CHECK(e && e->inode == 99 && e->dev_major == 0xfd && e->dev_minor == 1, "dev/inode");
	e = procmaps__find(&m, 0x7f0000003800);
	CHECK(e && e->path[0] == 0, "anonymous mapping has empty path");
	e = procmaps__find(&m, 0x7ffd00000000);
	CHECK(e && !strcmp(e->path, "[stack]"), "stack");
	e = procmaps__find(&m, 0x7f0000005fff);
	CHECK(e && e->dev_major == 0x103 && e->dev_minor == 0xa &&
	      e->inode == 77777777777ULL && !strcmp(e->path, "/x"),
	      "last line without newline");
	CHECK(procmaps__find(&m, 0x7f0000002000) == NULL, "end is exclusive");
	CHECK(procmaps__find(&m, 0) == NULL, "below all");
	CHECK(procmaps__find(&m, ~0ULL) == NULL, "above all");
	procmaps__fini(&m);

	r = procmaps__parse("", 0, &m, NULL);
	CHECK(r == 0 && m.n == 0, "empty");
	procmaps__fini(&m);

	/* Hex overflow must not parse. */
	{
		static const char over[] = "11112222333344445-1 r-xp 0 0:0 0 x\n";

		r = procmaps__parse(over, strlen(over), &m, &bad);
	}
	CHECK(r == 0 && m.n == 0 && bad == 1, "overlong hex rejected");
	procmaps__fini(&m);

	/* Our own maps: the text of this test is executable and named. */
	fd = open("/proc/self/maps", O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	r = procmaps__parse(buf, n > 0 ? (size_t)n : 0, &m, &bad);
	CHECK(r == 0 && bad == 0, "self: %d, bad %zu", r, bad);
	e = procmaps__find(&m, (uint64_t)(uintptr_t)&main);
	CHECK(e && (e->perms & PROCMAPS_X) && strstr(e->path, "test_procmaps"),
	      "main's mapping: %s", e ? e->path : "(none)");
	procmaps__fini(&m);
	return check__done();
}
