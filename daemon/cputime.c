// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cputime.h"

int cputime__parse(const char *stat, uint64_t *ret_ticks)
{
	const char *p = strrchr(stat, ')');	/* comm may hold spaces, ')' */
	unsigned long long v[2];
	char *end;
	int field, i;

	if (!p)
		return -EINVAL;
	/* p + 1 is " S ...": each space starts the next field; stop at
	 * field 14, utime, which stime follows. */
	for (field = 2, p++; *p && field < 14; p++)
		if (*p == ' ')
			field++;
	if (field != 14)
		return -EINVAL;
	for (i = 0; i < 2; i++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (errno || (*end != ' ' && *end != '\n' && *end))
			return -EINVAL;
		p = *end ? end + 1 : end;
	}
	*ret_ticks = v[0] + v[1];
	return 0;
}

int cputime__read(int fd, uint64_t *ret_ns)
{
	char buf[1024];
	uint64_t ticks;
	long hz = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int r;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	r = cputime__parse(buf, &ticks);
	if (r < 0)
		return r;
	if (hz <= 0)
		hz = 100;
	*ret_ns = ticks * (1000000000ULL / (uint64_t)hz);
	return 0;
}

/*
 * A sampler that sees the process gets within a few percent of
 * @cpu_ns / @period_ns (the e2e tests hold it to -20 %/+10 %). What
 * legitimately costs samples: the CPU-time reads bracket the window by a
 * few ms; tick accounting (10 ms steps per read); ring-buffer losses,
 * which profiles report on their own; and a process that runs in step
 * with the sampling timer (aliasing; why rates like 99 Hz are used).
 * None of those takes 90 %: a window below a tenth of the expectation
 * means the sampler did not see the process (profd in another PID
 * namespace than it believed, perf events throttled by the kernel, the
 * BPF program detached), which the caller must be told. 0.25 s of CPU,
 * and 10 expected samples, are the least that makes a tenth meaningful:
 * at 99 Hz that is 25 samples, flagged at 2 or fewer; at low rates
 * (hz < 40) the 10 samples rule, so that a few samples missed by chance
 * are not an alarm.
 */
bool cputime__samples_missing(uint64_t cpu_ns, uint64_t period_ns,
			      uint64_t samples)
{
	uint64_t expected;

	if (!period_ns || cpu_ns < CPUTIME_MIN_NS)
		return false;
	expected = cpu_ns / period_ns;
	if (expected < 10 || samples >= expected)
		return false;
	return samples * 10 < expected;	/* samples < expected: no overflow */
}
