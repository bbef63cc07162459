// SPDX-License-Identifier: GPL-2.0
/*
 * service: a process's service from its cgroup path (rules in service.h).
 * The path is walked component by component, once; nothing is allocated.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service.h"

/* PF_KTHREAD in /proc/PID/stat's flags (field 9). */
#define SERVICE_PF_KTHREAD	0x00200000UL

/* Longest /proc/PID/cgroup read: v1 hierarchies list a line each. */
#define SERVICE_CGROUP_FILE_MAX	16384

const char *service__kind_name(enum service_kind k)
{
	static const char *const names[SERVICE_KIND_MAX] = {
		[SERVICE_KIND_EXE] = "exe",
		[SERVICE_KIND_UNIT] = "unit",
		[SERVICE_KIND_CONTAINER] = "container",
		[SERVICE_KIND_POD] = "pod",
		[SERVICE_KIND_KERNEL] = "kernel",
	};

	return k < SERVICE_KIND_MAX ? names[k] : "?";
}

/* Copy @n bytes of @s as a label value: cut to @size, unprintables '_'. */
static void copy_label(char *dst, size_t size, const char *s, size_t n)
{
	size_t i;

	if (n >= size)
		n = size - 1;
	for (i = 0; i < n; i++)
		dst[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '_';
	dst[n] = 0;
}

static bool has_suffix(const char *s, size_t n, const char *suf)
{
	size_t l = strlen(suf);

	return n >= l && !memcmp(s + n - l, suf, l);
}

static bool has_prefix(const char *s, size_t n, const char *pre)
{
	size_t l = strlen(pre);

	return n >= l && !memcmp(s, pre, l);
}

static bool all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * A pod uid: 36 characters, hex digits and '-' (cgroupfs) or '_' (the
 * systemd driver escapes '-' in slice names). Written with '-'.
 */
static bool pod_uid(const char *s, size_t n, char *ret)
{
	char uid[SERVICE_POD_UID_LEN + 1];
	size_t i;

	if (n != SERVICE_POD_UID_LEN)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '-' || s[i] == '_')
			uid[i] = '-';
		else if (isxdigit((unsigned char)s[i]))
			uid[i] = s[i];
		else
			return false;	/* @ret untouched */
	}
	uid[n] = 0;
	memcpy(ret, uid, sizeof(uid));
	return true;
}

/* Container shapes: "<prefix><64 hex><suffix>". */
static const struct {
	const char *prefix, *suffix, *runtime;
} container_shapes[] = {
	{ "docker-", ".scope", "docker" },
	{ "cri-containerd-", ".scope", "containerd" },
	{ "crio-conmon-", ".scope", "cri-o" },
	{ "crio-", ".scope", "cri-o" },
	{ "libpod-conmon-", ".scope", "podman" },
	{ "libpod-", ".scope", "podman" },
	{ "nerdctl-", ".scope", "containerd" },
	/* podman with the cgroupfs manager: /libpod_parent/libpod-ID */
	{ "libpod-", "", "podman" },
};

/* Is component @c (@n bytes), whose parent is @parent (@pn), a container? */
static const char *container_of(const char *c, size_t n, const char *parent,
				size_t pn, bool in_kubepods, const char **ret_id)
{
	size_t i, pl, sl;

	for (i = 0; i < sizeof(container_shapes) / sizeof(container_shapes[0]); i++) {
		pl = strlen(container_shapes[i].prefix);
		sl = strlen(container_shapes[i].suffix);
		if (n != pl + SERVICE_CONTAINER_ID_LEN + sl ||
		    !has_prefix(c, n, container_shapes[i].prefix) ||
		    !has_suffix(c, n, container_shapes[i].suffix) ||
		    !all_hex(c + pl, SERVICE_CONTAINER_ID_LEN))
			continue;
		/* The bare libpod-ID form only under libpod_parent. */
		if (!sl && !(pn == 13 && !memcmp(parent, "libpod_parent", 13)))
			continue;
		*ret_id = c + pl;
		return container_shapes[i].runtime;
	}
	if (n == SERVICE_CONTAINER_ID_LEN && all_hex(c, n)) {
		/* Docker's cgroupfs driver: /docker/ID; Kubernetes' cgroupfs
		 * driver: /kubepods/[QOS/]podUID/ID (the runtime unknown). */
		if (pn == 6 && !memcmp(parent, "docker", 6)) {
			*ret_id = c;
			return "docker";
		}
		if (in_kubepods) {
			*ret_id = c;
			return "cri";
		}
	}
	return NULL;
}

/* A pod component: "pod<UID>" (cgroupfs) or "kubepods[-QOS]-pod<UID_>.slice". */
static bool pod_of(const char *c, size_t n, char *ret_uid)
{
	const char *p;

	if (has_prefix(c, n, "pod"))
		return pod_uid(c + 3, n - 3, ret_uid);
	if (!has_prefix(c, n, "kubepods") || !has_suffix(c, n, ".slice"))
		return false;
	n -= 6;
	/* The last "-pod" before ".slice". */
	for (p = c + n - 4; p > c; p--)
		if (!memcmp(p, "-pod", 4))
			return pod_uid(p + 4, n - (size_t)(p + 4 - c), ret_uid);
	return false;
}

static bool is_unit(const char *c, size_t n)
{
	return (has_suffix(c, n, ".service") && n > 8) ||
	       (has_suffix(c, n, ".scope") && n > 6);
}

int service__from_cgroup(const char *cgroup_path, const char *exe_name,
			 bool kthread, struct service_id *ret)
{
	const char *p, *c, *parent = "", *unit = NULL, *cid = NULL, *rt = NULL;
	const char *userman = NULL, *userslice = NULL;
	size_t n, pn = 0, unit_n = 0, userslice_n = 0;
	bool in_kubepods = false, in_container = false, session = false;
	char uid[SERVICE_POD_UID_LEN + 1] = "";

	memset(ret, 0, sizeof(*ret));
	if (kthread) {
		ret->kind = SERVICE_KIND_KERNEL;
		strcpy(ret->service_name, "kernel");
		return 0;
	}
	for (p = cgroup_path ? cgroup_path : ""; *p; p = c + n) {
		const char *id = NULL, *r;

		while (*p == '/')
			p++;
		c = p;
		n = strcspn(c, "/");
		if (!n)
			break;
		if (has_prefix(c, n, "kubepods"))
			in_kubepods = true;
		if (in_kubepods && !uid[0])
			(void)pod_of(c, n, uid);
		r = container_of(c, n, parent, pn, in_kubepods, &id);
		if (r && !cid) {
			/* The outermost container: a container's own
			 * systemd nests units and even scopes inside. */
			cid = id;
			rt = r;
			in_container = true;
		}
		if (is_unit(c, n)) {
			unit = c;
			unit_n = n;
			session = !in_container && has_prefix(c, n, "session-") &&
				  has_suffix(c, n, ".scope");
		}
		if (!in_container && !userman && has_prefix(c, n, "user@") &&
		    has_suffix(c, n, ".service"))
			userman = c;
		if (!in_container && has_prefix(c, n, "user-") &&
		    has_suffix(c, n, ".slice")) {
			userslice = c;
			userslice_n = n;
		}
		parent = c;
		pn = n;
	}
	if (cid)
		copy_label(ret->container_id, sizeof(ret->container_id), cid,
			   SERVICE_CONTAINER_ID_LEN);
	if (unit)
		copy_label(ret->unit, sizeof(ret->unit), unit, unit_n);
	if (uid[0]) {
		ret->kind = SERVICE_KIND_POD;
		strcpy(ret->pod_uid, uid);
		snprintf(ret->service_name, sizeof(ret->service_name), "pod/%s", uid);
	} else if (cid) {
		ret->kind = SERVICE_KIND_CONTAINER;
		snprintf(ret->service_name, sizeof(ret->service_name), "%s/%.12s",
			 rt, ret->container_id);
	} else if (unit && session && userslice) {
		ret->kind = SERVICE_KIND_UNIT;
		copy_label(ret->service_name, sizeof(ret->service_name),
			   userslice, userslice_n);
	} else if (unit && userman && unit >= userman) {
		ret->kind = SERVICE_KIND_UNIT;
		copy_label(ret->service_name, sizeof(ret->service_name), userman,
			   (size_t)(unit + unit_n - userman));
	} else if (unit) {
		ret->kind = SERVICE_KIND_UNIT;
		strcpy(ret->service_name, ret->unit);
	} else {
		ret->kind = SERVICE_KIND_EXE;
		if (!exe_name || !exe_name[0])
			exe_name = "unknown";
		copy_label(ret->service_name, sizeof(ret->service_name),
			   exe_name, strlen(exe_name));
	}
	return 0;
}

int service__cgroup_path(const char *buf, size_t len, char *ret_path,
			 size_t size)
{
	const char *line, *end = buf + len, *nl, *v2 = NULL, *sd = NULL;
	size_t v2n = 0, sdn = 0, n;
	const char *pick;

	for (line = buf; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		n = (size_t)(nl - line);
		if (n >= 3 && !memcmp(line, "0::", 3)) {
			v2 = line + 3;
			v2n = n - 3;
		} else {
			/* "ID:name=systemd:PATH" */
			const char *c1 = memchr(line, ':', n), *c2;

			if (c1) {
				c2 = memchr(c1 + 1, ':', (size_t)(nl - c1 - 1));
				if (c2 && c2 - c1 - 1 == 12 &&
				    !memcmp(c1 + 1, "name=systemd", 12)) {
					sd = c2 + 1;
					sdn = (size_t)(nl - c2 - 1);
				}
			}
		}
		if (nl == end)
			break;
	}
	if (v2 && !(sd && v2n == 1 && v2[0] == '/' && !(sdn == 1 && sd[0] == '/'))) {
		pick = v2;
		n = v2n;
	} else if (sd) {
		pick = sd;
		n = sdn;
	} else {
		return -ENOENT;
	}
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(ret_path, pick, n);
	ret_path[n] = 0;
	return 0;
}

/*
 * Read up to @size - 1 bytes of @name in the /proc/PID directory @dirfd
 * into @buf. Through the directory, not the pid: once that process has
 * ended, reads fail (-ESRCH) and never reach one given its pid since.
 */
static ssize_t read_at(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n, got = 0;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((size_t)got < size - 1) {
		n = read(fd, buf + got, size - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			got = errno == ESRCH ? -ESRCH : -errno;
			break;
		}
		if (!n)
			break;
		got += n;
	}
	close(fd);
	if (got >= 0)
		buf[got] = 0;
	return got;
}

int service__cgroup_at(int dirfd, char *ret, size_t size)
{
	ssize_t n;
	char *buf;

	ret[0] = 0;
	buf = malloc(SERVICE_CGROUP_FILE_MAX);
	if (!buf)
		return -ENOMEM;
	n = read_at(dirfd, "cgroup", buf, SERVICE_CGROUP_FILE_MAX);
	if (n >= 0 && service__cgroup_path(buf, (size_t)n, ret, size) < 0)
		ret[0] = 0;
	free(buf);
	return n < 0 ? (int)n : 0;
}

int service__of_dir(int dirfd, struct service_id *ret, char *cgroup,
		    size_t size)
{
	char *buf, exe[4096], comm[32], *rp;
	unsigned long flags = 0;
	bool kthread = false;
	const char *name = NULL;
	ssize_t n;
	int r, i;

	cgroup[0] = 0;
	buf = malloc(SERVICE_CGROUP_FILE_MAX);
	if (!buf)
		return -ENOMEM;
	/* stat: "pid (comm) state ppid ... flags" — comm may hold spaces
	 * and parentheses: fields count from the last ')'. */
	n = read_at(dirfd, "stat", buf, SERVICE_CGROUP_FILE_MAX);
	if (n < 0) {
		r = (int)n;
		goto out;
	}
	rp = strrchr(buf, ')');
	if (rp) {
		/* state(3) ppid pgrp session tty_nr tpgid flags(9) */
		for (i = 0; i < 7 && rp; i++)
			rp = strchr(rp + 1, ' ');
		if (rp)
			flags = strtoul(rp + 1, NULL, 10);
	}
	kthread = flags & SERVICE_PF_KTHREAD;
	(void)service__cgroup_at(dirfd, cgroup, size);
	n = readlinkat(dirfd, "exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		/* "/usr/bin/foo (deleted)" after an upgrade: still foo. */
		if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
			exe[n - 10] = 0;
		name = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	} else if (read_at(dirfd, "comm", comm, sizeof(comm)) > 0) {
		comm[strcspn(comm, "\n")] = 0;
		name = comm;
	}
	r = service__from_cgroup(cgroup, name, kthread, ret);
out:
	free(buf);
	return r;
}
