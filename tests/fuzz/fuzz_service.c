// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: a process's service from its cgroup file (daemon/service.c).
 * Input: a byte of flags (kernel thread), then a /proc/PID/cgroup file;
 * the path it names goes through the rules, with a fixed executable name.
 * Besides the sanitizers, the harness checks what service.h promises:
 * every field NUL-terminated within its size and printable, a service name
 * always set, a kernel thread always "kernel", ids only of their length.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void check_label(const char *s, size_t size, bool nonempty)
{
	size_t i, n = strnlen(s, size);

	require(n < size);
	require(!nonempty || n > 0);
	for (i = 0; i < n; i++)
		require(s[i] > 0x20 && s[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct service_id s;
	char path[4096];
	size_t n;
	int r;

	if (size < 1 || size > 16384)
		return 0;
	memset(path, 0x55, sizeof(path));
	r = service__cgroup_path((const char *)data + 1, size - 1, path, sizeof(path));
	require(r == 0 || r == -ENOENT || r == -ENAMETOOLONG);
	if (r < 0)
		path[0] = 0;
	require(strnlen(path, sizeof(path)) < sizeof(path));
	r = service__from_cgroup(path, (data[0] & 2) ? "exe" : "", data[0] & 1, &s);
	require(r == 0);
	require(s.kind < SERVICE_KIND_MAX);
	check_label(s.service_name, sizeof(s.service_name), true);
	check_label(s.unit, sizeof(s.unit), false);
	check_label(s.container_id, sizeof(s.container_id), false);
	check_label(s.pod_uid, sizeof(s.pod_uid), false);
	n = strlen(s.container_id);
	require(n == 0 || n == SERVICE_CONTAINER_ID_LEN);
	n = strlen(s.pod_uid);
	require(n == 0 || n == SERVICE_POD_UID_LEN);
	if (data[0] & 1)
		require(s.kind == SERVICE_KIND_KERNEL && !strcmp(s.service_name, "kernel"));
	if (s.kind == SERVICE_KIND_POD)
		require(n == SERVICE_POD_UID_LEN);
	return 0;
}
