// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfmap.h"
#include "cpu.skel.h"
#include "pidns.h"
#include "sampler.h"

_Static_assert(sizeof(struct profd_cpu_sample) ==
	       64 + 8 * (PROFD_MAX_USER_FRAMES + PROFD_MAX_KERNEL_FRAMES),
	       "profd_cpu_sample layout changed");
_Static_assert(sizeof(struct profd_target_key) == 16, "target key");

struct period {
	uint64_t period_ns;
	int *fds;			/* per CPU, -1 when offline */
	struct bpf_link **links;
};

struct sampler {
	struct cpu_bpf *skel;
	struct ring_buffer *rb;
	sampler_cb cb;
	void *ctx;
	int ncpus;
	struct period periods[PROFD_MAX_PERIODS];
	size_t nperiods;
	struct sampler_target *targets;	/* what the map holds */
	size_t ntargets;
	uint64_t malformed;		/* records not passed on: lost */
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct sampler *s = ctx;
	const struct profd_cpu_sample *cs = data;

	const struct profd_cpu_sample_stack *ss = data;

	if (size < sizeof(*cs) ||
	    (cs->kind != PROFD_EV_CPU_SAMPLE &&
	     cs->kind != PROFD_EV_CPU_SAMPLE_STACK))
		goto malformed;
	/* A stack record holds what it says it holds: the callback may
	 * trust stack_skip + stack_len. */
	if (cs->kind == PROFD_EV_CPU_SAMPLE_STACK &&
	    (size < sizeof(*ss) || ss->stack_skip >= 4096 ||
	     ss->stack_len > PROFD_STACK_PAGES_MAX * 4096 ||
	     (size_t)ss->stack_skip + ss->stack_len > size - sizeof(*ss)))
		goto malformed;
	s->cb(s->ctx, cs);
	return 0;
malformed:
	/* Cannot happen while the BPF side and this file agree; if they do
	 * not, the samples are counted as lost, not silently missing. */
	s->malformed++;
	return 0;
}

static __u32 ring_bytes(unsigned ncpus)
{
	__u32 b = 2u << 20;

	while (b < 64u << 20 && b < (__u64)ncpus << 20)
		b <<= 1;
	return b;
}

int sampler__new(sampler_cb cb, void *ctx, uint32_t pidns_inum, int execs_fd,
		 uint32_t stack_bytes, struct sampler **ret)
{
	struct sampler *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cb = cb;
	s->ctx = ctx;
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0) {
		r = s->ncpus ? s->ncpus : -ENODEV;
		goto fail;
	}
	s->skel = cpu_bpf__open();
	if (!s->skel) {
		r = -errno;
		goto fail;
	}
	/*
	 * The ring buffer: 1 MiB per CPU, a power of two, 2..64 MiB. A DWARF
	 * sample is 2 KiB + the pages of stack in use: ~6 KiB for a shallow
	 * main thread, 66 KiB at most. So at 1 kHz a CPU running a deep stack
	 * fills up to ~3.3 MiB per 50 ms drain; the BPF side wakes us at a
	 * quarter full, and a sample that finds no room is counted as lost.
	 * Its pages count twice in profd's RSS from the start (the kernel
	 * maps them twice), so it is not sized for the largest machine.
	 */
	r = bpf_map__set_max_entries(s->skel->maps.events,
				     ring_bytes((unsigned)s->ncpus));
	if (r < 0)
		goto fail;
	/* In the initial namespace the probe is not needed: kernels without
	 * syscall programs (before 5.14) then load the sampler as before. */
	s->skel->rodata->pidns_inum = pidns_inum;
	s->skel->rodata->stack_pages_max = stack_bytes / 4096 + 1;
	if (!pidns_inum) {
		r = bpf_program__set_autoload(s->skel->progs.profd_pidns_probe,
					      false);
		if (r < 0)
			goto fail;
	}
	/* One execs map for every object (execwatch.h). */
	r = bpf_map__reuse_fd(s->skel->maps.execs, execs_fd);
	if (r < 0)
		goto fail;
	r = cpu_bpf__load(s->skel);
	if (r < 0)
		goto fail;
	if (pidns_inum) {
		r = pidns__probe(bpf_program__fd(s->skel->progs.profd_pidns_probe));
		if (r < 0)
			goto fail;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record,
				 s, NULL);
	if (!s->rb) {
		r = -errno;
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	sampler__free(s);
	return r;
}

static void period__close(struct sampler *s, struct period *p)
{
	int c;

	/* A link owns its perf event: bpf_link__destroy() closes it
	 * (libbpf's perf link detach). Closing it here as well closed, now
	 * and then, whatever another thread had opened under that number
	 * since: a connection's socket, which libmicrohttpd's own close then
	 * found gone and aborted profd ("Close socket failed"). */
	for (c = 0; c < s->ncpus; c++) {
		if (p->links[c])
			bpf_link__destroy(p->links[c]);
		else if (p->fds[c] >= 0)
			close(p->fds[c]);
	}
	free(p->fds);
	free(p->links);
	memset(p, 0, sizeof(*p));
}

static int period__open(struct sampler *s, struct period *p, uint64_t period_ns)
{
	int c, opened = 0, r = 0;

	p->period_ns = period_ns;
	p->fds = malloc(s->ncpus * sizeof(*p->fds));
	p->links = calloc(s->ncpus, sizeof(*p->links));
	if (!p->fds || !p->links) {
		free(p->fds);
		free(p->links);
		return -ENOMEM;
	}
	for (c = 0; c < s->ncpus; c++)
		p->fds[c] = -1;
	for (c = 0; c < s->ncpus; c++) {
		struct perf_event_attr attr = {
			.type = PERF_TYPE_SOFTWARE,
			.size = sizeof(attr),
			.config = PERF_COUNT_SW_CPU_CLOCK,
			/* Period mode, not freq: cpu-clock's period is in ns,
			 * exact, and the BPF program keys on it. */
			.sample_period = period_ns,
		};
		int fd = (int)syscall(__NR_perf_event_open, &attr, -1, c, -1,
				      PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			if (errno == ENODEV || errno == EINVAL)
				continue;	/* possible but offline CPU */
			r = -errno;
			goto fail;
		}
		p->fds[c] = fd;
		p->links[c] = bpf_program__attach_perf_event(
			s->skel->progs.profd_cpu_sample, fd);
		if (!p->links[c]) {
			r = -errno;
			goto fail;
		}
		opened++;
	}
	if (!opened) {
		r = -ENODEV;
		goto fail;
	}
	return 0;
fail:
	period__close(s, p);
	return r;
}

void sampler__free(struct sampler *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nperiods; i++)
		period__close(s, &s->periods[i]);
	ring_buffer__free(s->rb);
	cpu_bpf__destroy(s->skel);
	free(s->targets);
	free(s);
}

int sampler__fd(struct sampler *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

int sampler__drain(struct sampler *s)
{
	return ring_buffer__consume(s->rb);
}

int sampler__set_periods(struct sampler *s, const uint64_t *periods, size_t n)
{
	size_t i, j;
	int r;

	if (n > PROFD_MAX_PERIODS)
		return -E2BIG;
	/* Close the ones no longer wanted. */
	for (i = 0; i < s->nperiods;) {
		for (j = 0; j < n && periods[j] != s->periods[i].period_ns; j++)
			;
		if (j == n) {
			period__close(s, &s->periods[i]);
			s->periods[i] = s->periods[--s->nperiods];
			memset(&s->periods[s->nperiods], 0, sizeof(struct period));
		} else {
			i++;
		}
	}
	/* Open the new ones. */
	for (j = 0; j < n; j++) {
		for (i = 0; i < s->nperiods &&
			    s->periods[i].period_ns != periods[j]; i++)
			;
		if (i < s->nperiods)
			continue;
		r = period__open(s, &s->periods[s->nperiods], periods[j]);
		if (r < 0)
			return r;
		s->nperiods++;
	}
	return 0;
}

static int target_key(const struct sampler_target *t,
		      struct profd_target_key *k)
{
	memset(k, 0, sizeof(*k));
	k->tgid = (__u32)t->tgid;
	k->period_ns = t->period_ns;
	return 0;
}

static bool has_target(const struct sampler_target *t, size_t n,
		       const struct sampler_target *x)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].tgid == x->tgid && t[i].period_ns == x->period_ns)
			return true;
	return false;
}

int sampler__set_targets(struct sampler *s, const struct sampler_target *t,
			 size_t n)
{
	int fd = bpf_map__fd(s->skel->maps.targets);
	struct sampler_target *copy;
	struct profd_target_key k;
	size_t i, j, added;
	int r = 0;

	/* s->targets must cover whatever the map may hold, whatever fails
	 * below: entries it does not list would never be deleted. Room for
	 * both sets, allocated before the map changes. */
	copy = malloc((s->ntargets + n + 1) * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	/* Add or update first, then delete: a target never blinks out. */
	for (added = 0; added < n; added++) {
		struct profd_target_val v = { .flags = t[added].flags };

		target_key(&t[added], &k);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) < 0) {
			r = -errno;
			break;
		}
	}
	if (r < 0) {
		/* Partly updated: the old set and what was added. */
		memcpy(copy, s->targets, s->ntargets * sizeof(*copy));
		j = s->ntargets;
		for (i = 0; i < added; i++)
			if (!has_target(s->targets, s->ntargets, &t[i]))
				copy[j++] = t[i];
		free(s->targets);
		s->targets = copy;
		s->ntargets = j;
		return r;
	}
	for (i = 0; i < s->ntargets; i++) {
		if (has_target(t, n, &s->targets[i]))
			continue;
		target_key(&s->targets[i], &k);
		(void)bpf_map_delete_elem(fd, &k);
	}
	memcpy(copy, t, n * sizeof(*t));
	free(s->targets);
	s->targets = copy;
	s->ntargets = n;
	return 0;
}

int sampler__errors(struct sampler *s, uint64_t out[PROFD_ERR_MAX])
{
	int r;

	r = bpfmap__sum_percpu(bpf_map__fd(s->skel->maps.errors),
			       PROFD_ERR_MAX, out);
	if (r < 0)
		return r;
	out[PROFD_ERR_RINGBUF_FULL] += s->malformed;
	return 0;
}

int sampler__ncpus(struct sampler *s)
{
	return s->ncpus;
}

unsigned sampler__pidns_level(struct sampler *s)
{
	return s->skel->bss->pidns_level;
}
