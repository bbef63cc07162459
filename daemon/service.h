/* SPDX-License-Identifier: GPL-2.0 */
/*
 * service: who a process belongs to, for the labels of fleet profiles
 * (issue 13). Read from the process's cgroup v2 path (/proc/PID/cgroup,
 * the "0::" line; on a hybrid hierarchy without one, the name=systemd
 * line), by these rules, first match wins:
 *
 *  1. A kernel thread: service "kernel".
 *  2. A Kubernetes pod (kubepods…/pod<UID> or kubepods-…-pod<UID_>.slice):
 *     service "pod/<UID>", pod_uid set, container_id too when the path has
 *     one. All containers of a pod are one service.
 *  3. A container: a 64-hex-digit id in one of the runtimes' shapes —
 *     docker-ID.scope and /docker/ID (docker), cri-containerd-ID.scope
 *     (containerd), crio-ID.scope and crio-conmon-ID.scope (CRI-O),
 *     libpod-ID.scope, libpod-conmon-ID.scope and /libpod_parent/libpod-ID
 *     (podman), nerdctl-ID.scope; under kubepods a bare ID component
 *     (cgroupfs driver). Service "<runtime>/<first 12 digits>"
 *     ("docker/3f2a…"), container_id the full id.
 *  4. A systemd unit: the innermost component ending in ".service" or
 *     ".scope". Service: that unit ("nginx.service", "getty@tty1.service"),
 *     except that
 *       - below a user manager (user@UID.service) it is the path from the
 *         manager to the innermost unit, slices included
 *         ("user@1000.service/app.slice/foo.service"), so each user unit
 *         is its own service;
 *       - a login session (session-N.scope) is named by its user slice
 *         ("user-1000.slice"): session numbers would make a new service
 *         per login.
 *     unit is the innermost unit's own name ("foo.service").
 *  5. Otherwise (the root cgroup, slices only, paths that are no unit):
 *     the executable's name.
 *
 * Names longer than SERVICE_NAME_MAX - 1 bytes are cut; bytes outside
 * printable ASCII become '_', so every field is a valid label value.
 *
 * service__from_cgroup() and service__cgroup_path() are pure (no I/O,
 * fuzzed); service__of_dir() and service__cgroup_at() read /proc.
 */
#ifndef PROFD_SERVICE_H
#define PROFD_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SERVICE_NAME_MAX	256
#define SERVICE_CONTAINER_ID_LEN	64
#define SERVICE_POD_UID_LEN	36

enum service_kind {
	SERVICE_KIND_EXE,	/* named by the executable */
	SERVICE_KIND_UNIT,	/* a systemd unit */
	SERVICE_KIND_CONTAINER,
	SERVICE_KIND_POD,
	SERVICE_KIND_KERNEL,
	SERVICE_KIND_MAX
};

struct service_id {
	enum service_kind kind;
	char service_name[SERVICE_NAME_MAX];
	char unit[SERVICE_NAME_MAX];			/* "" when none */
	char container_id[SERVICE_CONTAINER_ID_LEN + 1];	/* "" when none */
	char pod_uid[SERVICE_POD_UID_LEN + 1];		/* "" when none */
};

/* "exe", "unit", "container", "pod", "kernel". */
const char *service__kind_name(enum service_kind k);

/**
 * service__from_cgroup() - apply the rules above.
 * @cgroup_path: the cgroup v2 path ("/system.slice/nginx.service"); NULL
 *               or "" when unknown.
 * @exe_name: the executable's name (rule 5); NULL or "" gives "unknown".
 * @kthread: the process is a kernel thread.
 * @ret: filled in.
 *
 * Return: 0 (every input names some service).
 */
int service__from_cgroup(const char *cgroup_path, const char *exe_name,
			 bool kthread, struct service_id *ret);

/**
 * service__cgroup_path() - the path to use from a /proc/PID/cgroup file.
 * @buf, @len: the file's contents (need not be NUL-terminated).
 * @ret_path, @size: the "0::" line's path, else the "name=systemd" line's
 *                   (v1 hybrid), NUL-terminated.
 *
 * A "0::/" next to a name=systemd line that is not "/" is a hybrid
 * hierarchy whose v2 part is unused: the systemd line is taken then.
 * Return: 0, -ENOENT when neither line is there, -ENAMETOOLONG when the
 * path does not fit in @size (@ret_path untouched on failure).
 */
int service__cgroup_path(const char *buf, size_t len, char *ret_path,
			 size_t size);

/*
 * service__of_dir() - the service of the process whose /proc/PID directory
 * is @dirfd, from its cgroup, stat (kernel thread flag) and exe (else
 * comm), and its cgroup v2 path in @cgroup ("" when unknown; @size bytes,
 * 1024 are plenty). 0 or -errno (-ESRCH: the process has ended).
 */
int service__of_dir(int dirfd, struct service_id *ret, char *cgroup,
		    size_t size);

/*
 * service__cgroup_at() - the cgroup v2 path of @dirfd's process into @ret
 * ("" when unknown). 0 or -errno (-ESRCH: the process has ended).
 */
int service__cgroup_at(int dirfd, char *ret, size_t size);

#endif /* PROFD_SERVICE_H */
