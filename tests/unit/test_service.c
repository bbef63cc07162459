// SPDX-License-Identifier: GPL-2.0
/*
 * service: the service rules (service.h) on a table of cgroup paths as
 * systemd, docker, containerd, CRI-O, podman and the kubelet create them,
 * and picking the path out of /proc/PID/cgroup files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "service.h"

#define CID "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"
#define UID "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
#define UID_ "1b4e28ba_2fa1_11d2_883f_0016d3cca427"

static const struct {
	const char *path, *exe;
	bool kthread;
	enum service_kind kind;
	const char *service, *unit, *cid, *pod;
} cases[] = {
	/* systemd units */
	{ "/system.slice/nginx.service", "nginx", false, SERVICE_KIND_UNIT,
	  "nginx.service", "nginx.service", "", "" },
	{ "/system.slice/system-getty.slice/getty@tty1.service", "agetty", false,
	  SERVICE_KIND_UNIT, "getty@tty1.service", "getty@tty1.service", "", "" },
	{ "/init.scope", "systemd", false, SERVICE_KIND_UNIT, "init.scope",
	  "init.scope", "", "" },
	/* delegated subtree below a service: still the service */
	{ "/system.slice/docker.service/sub/tree", "dockerd", false,
	  SERVICE_KIND_UNIT, "docker.service", "docker.service", "", "" },
	{ "/system.slice/run-r1234abcd.scope", "burn", false, SERVICE_KIND_UNIT,
	  "run-r1234abcd.scope", "run-r1234abcd.scope", "", "" },
	/* user manager: the path from user@ to the innermost unit */
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
	  "foo", false, SERVICE_KIND_UNIT, "user@1000.service/app.slice/foo.service",
	  "foo.service", "", "" },
	{ "/user.slice/user-1000.slice/user@1000.service/init.scope", "systemd",
	  false, SERVICE_KIND_UNIT, "user@1000.service/init.scope", "init.scope",
	  "", "" },
	{ "/user.slice/user-1000.slice/user@1000.service", "systemd", false,
	  SERVICE_KIND_UNIT, "user@1000.service", "user@1000.service", "", "" },
	/* login sessions: their user slice */
	{ "/user.slice/user-1000.slice/session-3.scope", "bash", false,
	  SERVICE_KIND_UNIT, "user-1000.slice", "session-3.scope", "", "" },
	/* docker: systemd and cgroupfs drivers */
	{ "/system.slice/docker-" CID ".scope", "nginx", false,
	  SERVICE_KIND_CONTAINER, "docker/3f2a1b4c5d6e", "docker-" CID ".scope", CID, "" },
	{ "/docker/" CID, "nginx", false, SERVICE_KIND_CONTAINER,
	  "docker/3f2a1b4c5d6e", "", CID, "" },
	/* a container running its own systemd */
	{ "/system.slice/docker-" CID ".scope/system.slice/nginx.service", "nginx",
	  false, SERVICE_KIND_CONTAINER, "docker/3f2a1b4c5d6e", "nginx.service",
	  CID, "" },
	/* podman: rootful, rootless, conmon, cgroupfs, split */
	{ "/machine.slice/libpod-" CID ".scope", "redis", false,
	  SERVICE_KIND_CONTAINER, "podman/3f2a1b4c5d6e", "libpod-" CID ".scope", CID, "" },
	{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" CID ".scope",
	  "redis", false, SERVICE_KIND_CONTAINER, "podman/3f2a1b4c5d6e",
	  "libpod-" CID ".scope", CID, "" },
	{ "/machine.slice/libpod-conmon-" CID ".scope", "conmon", false,
	  SERVICE_KIND_CONTAINER, "podman/3f2a1b4c5d6e",
	  "libpod-conmon-" CID ".scope", CID, "" },
	{ "/libpod_parent/libpod-" CID, "redis", false, SERVICE_KIND_CONTAINER,
	  "podman/3f2a1b4c5d6e", "", CID, "" },
	{ "/machine.slice/libpod-" CID ".scope/container", "redis", false,
	  SERVICE_KIND_CONTAINER, "podman/3f2a1b4c5d6e", "libpod-" CID ".scope", CID, "" },
	/* containerd outside Kubernetes (nerdctl), CRI-O */
	{ "/system.slice/nerdctl-" CID ".scope", "app", false,
	  SERVICE_KIND_CONTAINER, "containerd/3f2a1b4c5d6e", "nerdctl-" CID ".scope", CID, "" },
	{ "/system.slice/crio-" CID ".scope", "app", false, SERVICE_KIND_CONTAINER,
	  "cri-o/3f2a1b4c5d6e", "crio-" CID ".scope", CID, "" },
	/* Kubernetes: systemd driver (containerd, CRI-O), cgroupfs driver */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/cri-containerd-" CID ".scope", "app", false, SERVICE_KIND_POD,
	  "pod/" UID, "cri-containerd-" CID ".scope", CID, UID },
	{ "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" CID ".scope", "app",
	  false, SERVICE_KIND_POD, "pod/" UID, "crio-" CID ".scope", CID, UID },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	  ".slice", "pause", false, SERVICE_KIND_POD, "pod/" UID, "", "", UID },
	{ "/kubepods/burstable/pod" UID "/" CID, "app", false, SERVICE_KIND_POD,
	  "pod/" UID, "", CID, UID },
	{ "/kubepods/pod" UID "/" CID, "app", false, SERVICE_KIND_POD, "pod/" UID,
	  "", CID, UID },
	/* a pod uid with a bad character: no pod (fuzzer's find) */
	{ "/kubepods.slice/kubepods-pod1b4e28ba_2fa1_11d2_883f_0016d3cca4z7.slice/crio-"
	  CID ".scope", "app", false, SERVICE_KIND_CONTAINER, "cri-o/3f2a1b4c5d6e",
	  "crio-" CID ".scope", CID, "" },
	/* kubelet, containerd itself: units */
	{ "/system.slice/containerd.service", "containerd", false,
	  SERVICE_KIND_UNIT, "containerd.service", "containerd.service", "", "" },
	/* no unit: the executable */
	{ "/", "burn", false, SERVICE_KIND_EXE, "burn", "", "", "" },
	{ "", "burn", false, SERVICE_KIND_EXE, "burn", "", "", "" },
	{ NULL, NULL, false, SERVICE_KIND_EXE, "unknown", "", "", "" },
	{ "/user.slice/user-1000.slice", "x", false, SERVICE_KIND_EXE, "x", "", "", "" },
	{ "/process_api/9f9e5c4fcefdd61471c06b74511827a4", "python3", false,
	  SERVICE_KIND_EXE, "python3", "", "", "" },
	/* not quite a container id: a unit, not a container */
	{ "/system.slice/docker-" "3f2a" ".scope", "x", false, SERVICE_KIND_UNIT,
	  "docker-3f2a.scope", "docker-3f2a.scope", "", "" },
	/* a 64-hex name outside docker/ and kubepods: not a container */
	{ "/other/" CID, "x", false, SERVICE_KIND_EXE, "x", "", "", "" },
	/* bare ".service": not a unit */
	{ "/.service", "x", false, SERVICE_KIND_EXE, "x", "", "", "" },
	/* label values: unprintables replaced */
	{ "/", "a b\tc", false, SERVICE_KIND_EXE, "a_b_c", "", "", "" },
	/* kernel threads, whatever their cgroup */
	{ "/", "kworker/0:1", true, SERVICE_KIND_KERNEL, "kernel", "", "", "" },
};

static void test_table(void)
{
	struct service_id s;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(service__from_cgroup(cases[i].path, cases[i].exe,
					   cases[i].kthread, &s) == 0, "%zu", i);
		CHECK(s.kind == cases[i].kind, "%s: kind %s", cases[i].path,
		      service__kind_name(s.kind));
		CHECK(!strcmp(s.service_name, cases[i].service), "%s: service %s",
		      cases[i].path, s.service_name);
		CHECK(!strcmp(s.unit, cases[i].unit), "%s: unit %s", cases[i].path, s.unit);
		CHECK(!strcmp(s.container_id, cases[i].cid), "%s: container %s",
		      cases[i].path, s.container_id);
		CHECK(!strcmp(s.pod_uid, cases[i].pod), "%s: pod %s", cases[i].path,
		      s.pod_uid);
	}
}

static void test_long(void)
{
	char path[2048], name[600];
	struct service_id s;

	memset(name, 'a', sizeof(name));
	memcpy(name + sizeof(name) - 9, ".service", 9);
	snprintf(path, sizeof(path), "/system.slice/%s", name);
	CHECK(service__from_cgroup(path, "x", false, &s) == 0, "");
	CHECK(strlen(s.service_name) == SERVICE_NAME_MAX - 1, "%zu",
	      strlen(s.service_name));
	CHECK(strlen(s.unit) == SERVICE_NAME_MAX - 1, "");
}

static void test_cgroup_file(void)
{
	static const char v2[] = "0::/system.slice/nginx.service\n";
	static const char hybrid[] =
		"12:memory:/system.slice/nginx.service\n"
		"1:name=systemd:/system.slice/nginx.service\n"
		"0::/\n";
	static const char hybrid_unused[] =
		"9:name=systemd:/\n4:memory:/process_api/x\n0::/\n";
	static const char v1only[] = "1:name=systemd:/user.slice/user-0.slice/session-1.scope";
	static const char none[] = "4:memory:/x\n";
	char p[64];

	CHECK(service__cgroup_path(v2, sizeof(v2) - 1, p, sizeof(p)) == 0 &&
	      !strcmp(p, "/system.slice/nginx.service"), "%s", p);
	CHECK(service__cgroup_path(hybrid, sizeof(hybrid) - 1, p, sizeof(p)) == 0 &&
	      !strcmp(p, "/system.slice/nginx.service"), "%s", p);
	CHECK(service__cgroup_path(hybrid_unused, sizeof(hybrid_unused) - 1, p,
				   sizeof(p)) == 0 && !strcmp(p, "/"), "%s", p);
	CHECK(service__cgroup_path(v1only, sizeof(v1only) - 1, p, sizeof(p)) == 0 &&
	      !strcmp(p, "/user.slice/user-0.slice/session-1.scope"), "%s", p);
	CHECK(service__cgroup_path(none, sizeof(none) - 1, p, sizeof(p)) == -ENOENT, "");
	CHECK(service__cgroup_path(v2, sizeof(v2) - 1, p, 8) == -ENAMETOOLONG, "");
	CHECK(service__cgroup_path("", 0, p, sizeof(p)) == -ENOENT, "");
}

/* service__of_dir() on /proc/PID of @pid; -ESRCH when there is none. */
static int of_pid(pid_t pid, struct service_id *s, char *cg, size_t size)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	r = service__of_dir(fd, s, cg, size);
	close(fd);
	return r;
}

static void test_live(void)
{
	char cg[1024], cg2[1024], raw[4096];
	struct service_id s;
	pid_t child;
	ssize_t n;
	int fd;

	CHECK(of_pid(getpid(), &s, cg, sizeof(cg)) == 0, "");
	CHECK(s.kind != SERVICE_KIND_KERNEL && s.service_name[0], "%s", s.service_name);
	/* The cgroup path given back is the one /proc/self/cgroup names. */
	fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, raw, sizeof(raw)) : -1;
	if (fd >= 0)
		close(fd);
	CHECK(n > 0 && service__cgroup_path(raw, (size_t)n, cg2, sizeof(cg2)) == 0 &&
	      !strcmp(cg, cg2), "cgroup %s, /proc/self/cgroup's %s", cg, cg2);
	/* kthreadd, when /proc shows the host's */
	if (of_pid(2, &s, cg, sizeof(cg)) == 0 && access("/proc/2/exe", F_OK) != 0)
		CHECK(s.kind == SERVICE_KIND_KERNEL, "pid 2: %s", s.service_name);
	CHECK(of_pid(0x7ffffff0, &s, cg, sizeof(cg)) == -ESRCH, "");
	/* A directory held past its process's end reads nothing: -ESRCH. */
	child = fork();
	if (child == 0)
		_exit(0);
	snprintf(raw, sizeof(raw), "/proc/%d", (int)child);
	fd = open(raw, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0, "%s: %d", raw, -errno);
	waitpid(child, NULL, 0);
	if (fd >= 0) {
		CHECK(service__of_dir(fd, &s, cg, sizeof(cg)) == -ESRCH,
		      "a reaped process's directory");
		CHECK(service__cgroup_at(fd, cg, sizeof(cg)) == -ESRCH &&
		      !cg[0], "a reaped process's cgroup: %s", cg);
		close(fd);
	}
}

int main(void)
{
	test_table();
	test_long();
	test_cgroup_file();
	test_live();
	return check__done();
}
