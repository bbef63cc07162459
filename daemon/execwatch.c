// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "exec.skel.h"
#include "execwatch.h"
#include "pidns.h"
#include "profd_abi.h"

_Static_assert(sizeof(struct profd_exec) == 24, "exec state");

struct watch {
	pid_t pid;
	unsigned refs;
};

struct execwatch {
	struct exec_bpf *skel;
	struct bpf_link *links[3];
	int map_fd;
	pthread_mutex_t lock;		/* guards the table */
	struct watch *w;		/* a few dozen at most: a linear scan */
	size_t n, cap;
};

int execwatch__new(uint32_t pidns_inum, struct execwatch **ret)
{
	struct bpf_program *progs[3];
	struct execwatch *w;
	int r, i;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	w->skel = exec_bpf__open();
	if (!w->skel) {
		r = -errno;
		goto fail;
	}
	w->skel->rodata->pidns_inum = pidns_inum;
	if (!pidns_inum) {
		r = bpf_program__set_autoload(w->skel->progs.profd_pidns_probe,
					      false);
		if (r < 0)
			goto fail;
	}
	/* sched_prepare_exec is 6.10's: without it, the exec's end only. */
	if (libbpf_find_vmlinux_btf_id("sched_prepare_exec",
				       BPF_TRACE_RAW_TP) < 0) {
		r = bpf_program__set_autoload(w->skel->progs.profd_exec_prepare,
					      false);
		if (r < 0)
			goto fail;
	}
	r = exec_bpf__load(w->skel);
	if (r < 0)
		goto fail;
	if (pidns_inum) {
		r = pidns__probe(bpf_program__fd(w->skel->progs.profd_pidns_probe));
		if (r < 0)
			goto fail;
	}
	progs[0] = w->skel->progs.profd_exec_prepare;
	progs[1] = w->skel->progs.profd_exec_done;
	progs[2] = w->skel->progs.profd_exec_exit;
	for (i = 0; i < 3; i++) {
		if (!bpf_program__autoload(progs[i]))
			continue;
		w->links[i] = bpf_program__attach(progs[i]);
		if (!w->links[i]) {
			r = -errno;
			goto fail;
		}
	}
	w->map_fd = bpf_map__fd(w->skel->maps.execs);
	*ret = w;
	return 0;
fail:
	execwatch__free(w);
	return r;
}

void execwatch__free(struct execwatch *w)
{
	int i;

	if (!w)
		return;
	for (i = 0; i < 3; i++)
		bpf_link__destroy(w->links[i]);
	exec_bpf__destroy(w->skel);
	pthread_mutex_destroy(&w->lock);
	free(w->w);
	free(w);
}

int execwatch__map_fd(const struct execwatch *w)
{
	return w->map_fd;
}

static struct watch *execwatch__find(struct execwatch *w, pid_t pid)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (w->w[i].pid == pid)
			return &w->w[i];
	return NULL;
}

int execwatch__add(struct execwatch *w, pid_t pid)
{
	struct profd_exec zero = {};
	__u32 key = (__u32)pid;
	struct watch *e;
	int r = 0;

	pthread_mutex_lock(&w->lock);
	e = execwatch__find(w, pid);
	if (e) {
		e->refs++;
		goto out;
	}
	if (w->n >= PROFD_EXEC_MAX) {
		r = -ENOSPC;
		goto out;
	}
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 64;
		struct watch *nw = realloc(w->w, nc * sizeof(*nw));

		if (!nw) {
			r = -ENOMEM;
			goto out;
		}
		w->w = nw;
		w->cap = nc;
	}
	/* Counting starts at 0: nobody holds a count of an earlier entry. */
	if (bpf_map_update_elem(w->map_fd, &key, &zero, BPF_ANY) < 0) {
		r = -errno;
		goto out;
	}
	w->w[w->n].pid = pid;
	w->w[w->n].refs = 1;
	w->n++;
out:
	pthread_mutex_unlock(&w->lock);
	return r;
}

void execwatch__remove(struct execwatch *w, pid_t pid)
{
	__u32 key = (__u32)pid;
	struct watch *e;

	pthread_mutex_lock(&w->lock);
	e = execwatch__find(w, pid);
	if (e && --e->refs == 0) {
		(void)bpf_map_delete_elem(w->map_fd, &key);
		*e = w->w[--w->n];
	}
	pthread_mutex_unlock(&w->lock);
}

int execwatch__image(struct execwatch *w, pid_t pid, uint64_t *ret,
		     uint64_t *ret_execs)
{
	struct profd_exec v;
	__u32 key = (__u32)pid;

	if (bpf_map_lookup_elem(w->map_fd, &key, &v) < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (v.starting != v.image)
		return -EAGAIN;
	*ret = v.image;
	if (ret_execs)
		*ret_execs = v.execs;
	return 0;
}
