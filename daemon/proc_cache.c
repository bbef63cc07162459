// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <poll.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "clock.h"
#include "jitmap.h"
#include "proc.h"
#include "procmaps.h"

#include "proc_int.h"

/* The process cache: one struct proc per process image (proc.h). */

struct proc_cache {
	pthread_mutex_t lock;
	struct symbolizer *sym;
	struct proc *head;
	unsigned n;
};

int proc_cache__new(struct symbolizer *sym, struct proc_cache **ret)
{
	struct proc_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->sym = sym;
	*ret = c;
	return 0;
}

void proc_cache__free(struct proc_cache *c)
{
	struct proc *p;

	if (!c)
		return;
	while ((p = c->head)) {	/* a user that never put it: a bug */
		c->head = p->cache_next;
		proc__free(p);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

struct symbolizer *proc_cache__symbolizer(struct proc_cache *c)
{
	return c->sym;
}

/* Under the cache's lock. */
static struct proc *proc_cache__find(struct proc_cache *c, pid_t pid,
				     uint64_t start_time, uint64_t image)
{
	struct proc *p;
	bool gone;

	for (p = c->head; p; p = p->cache_next) {
		if (p->pid != pid || p->start_time != start_time ||
		    p->image != image)
			continue;
		pthread_mutex_lock(&p->lock);
		gone = p->gone;
		pthread_mutex_unlock(&p->lock);
		if (!gone)
			return p;
	}
	return NULL;
}

int proc__get(struct proc_cache *c, pid_t pid, int dirfd, uint64_t start_time,
	      uint64_t image, struct proc **ret)
{
	struct proc *p, *fresh = NULL;
	int r;

	pthread_mutex_lock(&c->lock);
	p = proc_cache__find(c, pid, start_time, image);
	if (p)
		p->refs++;
	pthread_mutex_unlock(&c->lock);
	if (p) {
		*ret = p;
		return 0;
	}
	/* Reading maps and opening binaries takes a while: unlocked. */
	r = proc__new_at(c->sym, pid, dirfd, &fresh);
	if (r < 0)
		return r;
	if (fresh->start_time != start_time) {
		proc__free(fresh);	/* not the process asked for */
		return -ESRCH;
	}
	fresh->image = image;
	pthread_mutex_lock(&c->lock);
	p = proc_cache__find(c, pid, start_time, image);
	if (p) {
		p->refs++;	/* captured meanwhile by another user */
	} else {
		fresh->cache = c;
		fresh->cache_next = c->head;
		c->head = fresh;
		c->n++;
		p = fresh;
		fresh = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	proc__free(fresh);
	*ret = p;
	return 0;
}

struct proc *proc__hold(struct proc *p)
{
	if (p->cache)
		pthread_mutex_lock(&p->cache->lock);
	p->refs++;
	if (p->cache)
		pthread_mutex_unlock(&p->cache->lock);
	return p;
}

void proc__put(struct proc *p)
{
	struct proc_cache *c;
	struct proc **pp;
	int left;

	if (!p)
		return;
	c = p->cache;
	if (!c) {
		if (--p->refs <= 0)
			proc__free(p);
		return;
	}
	pthread_mutex_lock(&c->lock);
	left = --p->refs;
	if (left <= 0) {
		for (pp = &c->head; *pp; pp = &(*pp)->cache_next) {
			if (*pp == p) {
				*pp = p->cache_next;
				c->n--;
				break;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (left <= 0)
		proc__free(p);	/* out of the cache: nobody finds it */
}

int proc__get_current(struct proc_cache *c, pid_t pid, int dirfd,
		      uint64_t start_time, uint64_t image, struct proc **ret)
{
	struct proc *p;
	int r;

	r = proc__get(c, pid, dirfd, start_time, image, &p);
	if (r < 0)
		return r;
	if (proc__refresh(p, c->sym, now_ns(CLOCK_MONOTONIC), 0) == -ESRCH) {
		proc__put(p);
		return -ESRCH;
	}
	*ret = p;
	return 0;
}

