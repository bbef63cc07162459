// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "pidns.h"

int pidns__proc_self(pid_t *ret)
{
	char buf[32], *end;
	ssize_t n;
	long v;

	n = readlink("/proc/self", buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || *end || v <= 0 || v > INT_MAX)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

int pidns__inum(uint32_t *ret)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st) < 0)
		return -errno;
	if (st.st_ino > UINT32_MAX)	/* ns_common.inum is 32 bits */
		return -EOVERFLOW;
	*ret = st.st_ino == PIDNS_INIT_INO ? 0 : (uint32_t)st.st_ino;
	return 0;
}

int pidns__probe(int prog_fd)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (bpf_prog_test_run_opts(prog_fd, &opts) < 0)
		return -errno;
	return opts.retval ? -EXDEV : 0;
}
