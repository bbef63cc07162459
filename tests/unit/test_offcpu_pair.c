// SPDX-License-Identifier: GPL-2.0
/*
 * offcpu_pair: the wait tracer's records paired and charged on their own
 * (no BPF, no process): begin records with frame-pointer stacks (no copy
 * to unwind), their ends, the kernel's sums of repeated waits, seeds,
 * images and the pending table's cap. Every expected value is worked out
 * from the record times here, not taken from the code.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "offcpu_int.h"
#include "profile.h"

#define PID 4242
#define IMG 7
#define MS 1000000ULL
#define T0 (1000 * MS)		/* the window: [T0, T0 + 1 s) */
#define T1 (T0 + 1000 * MS)

static struct offcpu_window *window(struct offcpu *o, uint32_t what,
				    uint64_t start, uint64_t end)
{
	struct offcpu_window *w = calloc(1, sizeof(*w));

	w->req.what = what;
	w->req.pid = PID;
	w->req.seconds = 1;
	w->req.fp_only = true;
	w->t.image = IMG;
	w->nparts = 1;
	w->parts[0].image = IMG;
	CHECK(aggregate__new(64, &w->parts[0].agg) == 0, "aggregate__new");
	w->id = ++o->next_id;
	w->start_ns = start;
	w->end_ns = end;
	w->next = o->windows;
	o->windows = w;
	o->nwindows++;
	return w;
}

static void window_free(struct offcpu_window *w)
{
	struct pending *p;
	while ((p = w->seeds)) {
		w->seeds = p->next;
		free(p);
	}
	unsigned i;

	for (i = 0; i < w->nparts; i++)
		aggregate__free(w->parts[i].agg);
	free(w);
}

/* A begin record whose user stack is the frame-pointer walk @ip, @ip+1. */
static int begin(struct offcpu *o, uint32_t what, uint32_t tid,
		 uint64_t t, uint32_t state, uint32_t slot, uint64_t image,
		 uint64_t ip)
{
	struct profd_wait_begin *b = calloc(1, sizeof(*b));
	int r;

	b->kind = PROFD_EV_WAIT_BEGIN;
	b->what = what;
	b->time_ns = t;
	b->tgid = PID;
	b->tid = tid;
	b->state = state;
	b->image = image;
	strcpy(b->comm, "worker");
	b->slot = slot;
	b->n_user = 2;
	b->user_ips[0] = ip;
	b->user_ips[1] = ip + 1;
	r = offcpu_pair__record(o, b, sizeof(*b));
	free(b);
	return r;
}

static void end(struct offcpu *o, uint32_t what, uint32_t tid,
		uint64_t b, uint64_t e)
{
	struct profd_wait_end r = { .kind = PROFD_EV_WAIT_END, .what = what,
				    .tgid = PID, .tid = tid, .begin_ns = b,
				    .end_ns = e };

	(void)offcpu_pair__record(o, &r, sizeof(r));
}

static void repeat(struct offcpu *o, uint32_t what, uint32_t tid,
		   uint32_t slot, uint32_t state, uint64_t first,
		   uint64_t last, uint64_t n, uint64_t total, uint64_t image)
{
	struct profd_wait_repeat r = {
		.kind = PROFD_EV_WAIT_REPEAT, .what = what, .tgid = PID,
		.tid = tid, .first_ns = first, .last_ns = last, .count = n,
		.total_ns = total, .image = image, .state = state,
		.slot = slot,
	};

	(void)offcpu_pair__record(o, &r, sizeof(r));
}

/* The stack of @w's part @part whose leaf is @ip (and state @state + 1,
 * 0: any). */
static const struct agg_stack *stack_in(struct offcpu_window *w,
					unsigned part, uint64_t ip,
					uint32_t state)
{
	struct aggregate *agg = w->parts[part].agg;
	size_t i;

	for (i = 0; agg && i < aggregate__count(agg); i++) {
		const struct agg_stack *s = aggregate__get(agg, i);

		if (s->n_user && s->ips[0] == ip &&
		    (!state || (s->flags & PROFILE_STATE_MASK) >> PROFILE_STATE_SHIFT == state))
			return s;
	}
	return NULL;
}

static const struct agg_stack *stack(struct offcpu_window *w, uint64_t ip,
				     uint32_t state)
{
	return stack_in(w, 0, ip, state);
}

/*
 * offcpu.c's exec check, stood in for: images up to IMG + 2 are allowed
 * (a part with an aggregate and no process: records are not unwound
 * here), IMG + 3 is denied. Counts its calls; like the real one, it may
 * let the lock go, so callers must find their window again.
 */
static unsigned follow_calls;

void offcpu__follow_exec(struct offcpu *o, struct offcpu_window *w,
			 uint64_t image, uint64_t time_ns)
{
	struct offcpu_part *pt = &w->parts[w->nparts++];

	(void)o;
	follow_calls++;
	memset(pt, 0, sizeof(*pt));
	pt->image = image;
	pt->first_ns = time_ns;
	if (image <= IMG + 2)
		CHECK(aggregate__new(64, &pt->agg) == 0, "aggregate__new");
}

static struct offcpu *new_offcpu(unsigned max_pending)
{
	struct offcpu *o = calloc(1, sizeof(*o));

	pthread_mutex_init(&o->lock, NULL);
	o->lim.max_pending = max_pending;
	o->lim.max_windows = 8;
	return o;
}

static void free_offcpu(struct offcpu *o)
{
	struct offcpu_window *w;
	unsigned i;

	while ((w = o->windows)) {
		o->windows = w->next;
		window_free(w);
	}
	for (i = 0; i < PENDING_BUCKETS; i++)
		while (o->pending[i])
			offcpu_pair__drop(o, &o->pending[i]);
	offcpu_pair__forget(o);	/* no skeleton: lists only */
	free(o);
}

/* One wait inside, one begun before the window, one ending after it. */
static void test_pairs(void)
{
	struct offcpu *o = new_offcpu(64);
	struct offcpu_window *w = window(o, PROFD_WAIT_OFFCPU, T0, T1);
	const struct agg_stack *s;

	begin(o, PROFD_WAIT_OFFCPU, 11, T0 + 100 * MS, PROFD_WAIT_SLEEPING, 0, IMG, 0x1000);
	CHECK(o->npending == 1 && o->nlast == 1, "pending %u last %u",
	      o->npending, o->nlast);
	end(o, PROFD_WAIT_OFFCPU, 11, T0 + 100 * MS, T0 + 300 * MS);
	CHECK(o->npending == 0, "paired: %u", o->npending);
	s = stack(w, 0x1000, PROFD_WAIT_SLEEPING + 1);
	CHECK(s && s->count == 1 && s->value == 200 * MS && s->tid == 11 &&
	      s->n_user == 2 && s->ips[1] == 0x1001 &&
	      !strcmp(s->comm, "worker"),
	      "inside: %p %lu %lu", (void *)s, s ? (unsigned long)s->count : 0,
	      s ? (unsigned long)s->value : 0);

	/* Began 50 ms before the window: charged from its start. */
	begin(o, PROFD_WAIT_OFFCPU, 12, T0 - 50 * MS, PROFD_WAIT_DISK, 0, IMG, 0x2000);
	end(o, PROFD_WAIT_OFFCPU, 12, T0 - 50 * MS, T0 + 30 * MS);
	s = stack(w, 0x2000, PROFD_WAIT_DISK + 1);
	CHECK(s && s->count == 1 && s->value == 30 * MS, "before start: %lu",
	      s ? (unsigned long)s->value : 0);

	/* Ends after the window: up to its end. */
	begin(o, PROFD_WAIT_OFFCPU, 13, T1 - 10 * MS, PROFD_WAIT_PREEMPTED, 0, IMG, 0x3000);
	end(o, PROFD_WAIT_OFFCPU, 13, T1 - 10 * MS, T1 + 500 * MS);
	s = stack(w, 0x3000, PROFD_WAIT_PREEMPTED + 1);
	CHECK(s && s->value == 10 * MS, "after end: %lu",
	      s ? (unsigned long)s->value : 0);

	/* Wholly outside: nothing. */
	begin(o, PROFD_WAIT_OFFCPU, 14, T1 + 10 * MS, 0, 0, IMG, 0x4000);
	end(o, PROFD_WAIT_OFFCPU, 14, T1 + 10 * MS, T1 + 20 * MS);
	CHECK(!stack(w, 0x4000, 0), "outside charged");

	/* An end of another beginning (its own begin record lost): the
	 * pending one is dropped uncharged, counted as unpaired. */
	begin(o, PROFD_WAIT_OFFCPU, 15, T0 + 400 * MS, 0, 0, IMG, 0x5000);
	end(o, PROFD_WAIT_OFFCPU, 15, T0 + 410 * MS, T0 + 420 * MS);
	CHECK(!stack(w, 0x5000, 0) && o->st.unpaired == 1 && !o->npending,
	      "mismatched end: unpaired %lu", (unsigned long)o->st.unpaired);

	/* Two begins without an end between: the first is replaced. */
	begin(o, PROFD_WAIT_OFFCPU, 16, T0 + 500 * MS, 0, 0, IMG, 0x6000);
	begin(o, PROFD_WAIT_OFFCPU, 16, T0 + 600 * MS, 0, 1, IMG, 0x6100);
	end(o, PROFD_WAIT_OFFCPU, 16, T0 + 600 * MS, T0 + 700 * MS);
	CHECK(!stack(w, 0x6000, 0) && stack(w, 0x6100, 0) &&
	      stack(w, 0x6100, 0)->value == 100 * MS && o->st.unpaired == 2,
	      "replaced begin");

	/* The mutex kind does not reach a block window. */
	begin(o, PROFD_WAIT_FUTEX, 17, T0 + 100 * MS, 0, 0, IMG, 0x7000);
	end(o, PROFD_WAIT_FUTEX, 17, T0 + 100 * MS, T0 + 200 * MS);
	CHECK(!stack(w, 0x7000, 0), "futex charged to a block window");
	free_offcpu(o);
}

/* The kernel's sums: charged to the begin record of their slot. */
static void test_repeats(void)
{
	struct offcpu *o = new_offcpu(64);
	struct offcpu_window *w = window(o, PROFD_WAIT_OFFCPU, T0, T1);
	const struct agg_stack *s;

	begin(o, PROFD_WAIT_OFFCPU, 21, T0 + 1 * MS, PROFD_WAIT_SLEEPING, 2, IMG, 0xa000);
	end(o, PROFD_WAIT_OFFCPU, 21, T0 + 1 * MS, T0 + 2 * MS);
	begin(o, PROFD_WAIT_OFFCPU, 21, T0 + 3 * MS, PROFD_WAIT_SLEEPING, 3, IMG, 0xb000);
	end(o, PROFD_WAIT_OFFCPU, 21, T0 + 3 * MS, T0 + 4 * MS);
	/* 10 waits of 5 ms in slot 2, 4 preempted ones in slot 3. */
	repeat(o, PROFD_WAIT_OFFCPU, 21, 2, PROFD_WAIT_SLEEPING,
	       T0 + 10 * MS, T0 + 110 * MS, 10, 50 * MS, IMG);
	repeat(o, PROFD_WAIT_OFFCPU, 21, 3, PROFD_WAIT_PREEMPTED,
	       T0 + 10 * MS, T0 + 20 * MS, 4, 2 * MS, IMG);
	s = stack(w, 0xa000, PROFD_WAIT_SLEEPING + 1);
	CHECK(s && s->count == 11 && s->value == 51 * MS, "slot 2: %lu %lu",
	      s ? (unsigned long)s->count : 0, s ? (unsigned long)s->value : 0);
	s = stack(w, 0xb000, PROFD_WAIT_PREEMPTED + 1);
	CHECK(s && s->count == 4 && s->value == 2 * MS,
	      "slot 3 preempted: %lu", s ? (unsigned long)s->count : 0);
	s = stack(w, 0xb000, PROFD_WAIT_SLEEPING + 1);
	CHECK(s && s->count == 1 && s->value == 1 * MS,
	      "slot 3 keeps its own state");
	CHECK(o->st.repeats == 14 && o->st.begins == 16, "repeats %lu begins %lu",
	      (unsigned long)o->st.repeats, (unsigned long)o->st.begins);

	/* A sum straddling the end: the share of its span inside. 8 waits
	 * of 40 ms total over [T1 - 30 ms, T1 + 90 ms): a quarter inside. */
	repeat(o, PROFD_WAIT_OFFCPU, 21, 2, PROFD_WAIT_DISK,
	       T1 - 30 * MS, T1 + 90 * MS, 8, 40 * MS, IMG);
	s = stack(w, 0xa000, PROFD_WAIT_DISK + 1);
	CHECK(s && s->count == 2 && s->value == 10 * MS, "straddling: %lu %lu",
	      s ? (unsigned long)s->count : 0, s ? (unsigned long)s->value : 0);

	/* A slot profd never got (its begin record lost): a miss. */
	repeat(o, PROFD_WAIT_OFFCPU, 21, 1, 0, T0 + 10 * MS, T0 + 20 * MS,
	       3, 3 * MS, IMG);
	CHECK(o->st.repeat_misses == 3, "misses %lu",
	      (unsigned long)o->st.repeat_misses);
	/* Out of range fields: ignored whole. */
	repeat(o, PROFD_WAIT_OFFCPU, 21, PROFD_WAIT_SLOTS, 0, T0, T0 + MS,
	       5, MS, IMG);
	repeat(o, PROFD_WAIT_OFFCPU, 21, 2, 0, T0 + 2 * MS, T0 + MS, 5, MS, IMG);
	CHECK(o->st.repeats == 14 + 8 + 3, "bad sums counted: %lu",
	      (unsigned long)o->st.repeats);

	/* Forgotten (a new generation): later sums miss. */
	offcpu_pair__forget(o);
	CHECK(o->nlast == 0, "forget: %u", o->nlast);
	repeat(o, PROFD_WAIT_OFFCPU, 21, 2, 0, T0 + 10 * MS, T0 + 20 * MS,
	       1, MS, IMG);
	CHECK(o->st.repeat_misses == 4, "miss after forget");
	free_offcpu(o);
}

/*
 * Images: an older one's records are left out and counted, never charged
 * and never checked; a newer one (an exec) is checked once per window at
 * its first record and followed into a part of its own, or denied and
 * counted; past OFFCPU_PARTS images, left out.
 */
static void test_images(void)
{
	struct offcpu *o = new_offcpu(64);
	struct offcpu_window *w = window(o, PROFD_WAIT_OFFCPU, T0, T1);
	struct offcpu_window *m = window(o, PROFD_WAIT_FUTEX, T0, T1);
	const struct agg_stack *s;

	follow_calls = 0;
	begin(o, PROFD_WAIT_OFFCPU, 31, T0 + MS, 0, 0, IMG - 1, 0xc000);
	end(o, PROFD_WAIT_OFFCPU, 31, T0 + MS, T0 + 2 * MS);
	repeat(o, PROFD_WAIT_OFFCPU, 31, 0, 0, T0 + MS, T0 + 9 * MS, 6, 6 * MS,
	       IMG - 1);
	CHECK(aggregate__count(w->parts[0].agg) == 0 && w->left_out == 1 + 6 &&
	      w->nparts == 1 && !follow_calls,
	      "older image: %zu stacks, %lu left out, %u calls",
	      aggregate__count(w->parts[0].agg), (unsigned long)w->left_out,
	      follow_calls);

	/* A wait of the image checked, then the exec: the new image's
	 * waits go to its own part, from its first record on. */
	begin(o, PROFD_WAIT_OFFCPU, 32, T0 + 10 * MS, 0, 0, IMG, 0xc100);
	end(o, PROFD_WAIT_OFFCPU, 32, T0 + 10 * MS, T0 + 30 * MS);
	begin(o, PROFD_WAIT_OFFCPU, 32, T0 + 40 * MS, 0, 1, IMG + 1, 0xc200);
	end(o, PROFD_WAIT_OFFCPU, 32, T0 + 40 * MS, T0 + 100 * MS);
	repeat(o, PROFD_WAIT_OFFCPU, 32, 1, 0, T0 + 110 * MS, T0 + 200 * MS,
	       9, 45 * MS, IMG + 1);
	CHECK(follow_calls == 1 && w->nparts == 2 &&
	      w->parts[1].image == IMG + 1 && w->parts[1].first_ns == T0 + 40 * MS,
	      "exec followed: %u calls, %u parts", follow_calls, w->nparts);
	s = stack_in(w, 0, 0xc100, 0);
	CHECK(s && s->count == 1 && s->value == 20 * MS, "before the exec");
	CHECK(!stack_in(w, 0, 0xc200, 0) && !stack_in(w, 1, 0xc100, 0),
	      "an image's waits in the other's part");
	s = stack_in(w, 1, 0xc200, 0);
	CHECK(s && s->count == 10 && s->value == 105 * MS,
	      "after the exec: %lu %lu", s ? (unsigned long)s->count : 0,
	      s ? (unsigned long)s->value : 0);
	/* The mutex window on the process has seen none of that image:
	 * not checked for it yet. */
	CHECK(m->nparts == 1, "mutex window checked for a block record");

	/* A second block window on the process (another caller's, opened
	 * before the exec) checks the new image for itself, though the
	 * first already follows it. */
	{
		struct offcpu_window *w2 = window(o, PROFD_WAIT_OFFCPU, T0, T1);

		begin(o, PROFD_WAIT_OFFCPU, 34, T0 + 210 * MS, 0, 0, IMG + 1, 0xc250);
		end(o, PROFD_WAIT_OFFCPU, 34, T0 + 210 * MS, T0 + 220 * MS);
		CHECK(follow_calls == 2 && w2->nparts == 2 &&
		      stack_in(w2, 1, 0xc250, 0) && stack_in(w, 1, 0xc250, 0),
		      "second window: %u calls, %u parts", follow_calls,
		      w2->nparts);
		o->windows = w2->next;	/* out of the way of the counts below */
		o->nwindows--;
		window_free(w2);
	}

	/* A second exec into an image the caller may not see: checked
	 * once, its waits counted, never charged. */
	begin(o, PROFD_WAIT_OFFCPU, 32, T0 + 300 * MS, 0, 2, IMG + 3, 0xc300);
	end(o, PROFD_WAIT_OFFCPU, 32, T0 + 300 * MS, T0 + 310 * MS);
	begin(o, PROFD_WAIT_OFFCPU, 33, T0 + 300 * MS, 0, 0, IMG + 3, 0xc300);
	repeat(o, PROFD_WAIT_OFFCPU, 32, 2, 0, T0 + 320 * MS, T0 + 330 * MS,
	       4, 4 * MS, IMG + 3);
	CHECK(follow_calls == 3 && w->nparts == 3 && !w->parts[2].agg &&
	      w->parts[2].denied == 2 + 4 && !o->npending,
	      "denied image: %u calls, %lu denied, %u pending", follow_calls,
	      (unsigned long)w->parts[2].denied, o->npending);

	/* The fourth image fills the parts; a fifth is left out. */
	begin(o, PROFD_WAIT_OFFCPU, 32, T0 + 400 * MS, 0, 3, IMG + 2, 0xc400);
	end(o, PROFD_WAIT_OFFCPU, 32, T0 + 400 * MS, T0 + 410 * MS);
	begin(o, PROFD_WAIT_OFFCPU, 32, T0 + 500 * MS, 0, 0, IMG + 4, 0xc500);
	end(o, PROFD_WAIT_OFFCPU, 32, T0 + 500 * MS, T0 + 510 * MS);
	CHECK(follow_calls == 4 && w->nparts == OFFCPU_PARTS &&
	      stack_in(w, 3, 0xc400, 0) && w->left_out == 7 + 1,
	      "parts full: %u calls, %lu left out", follow_calls,
	      (unsigned long)w->left_out);
	free_offcpu(o);
}

/* Seeds: threads off CPU when the window opened, back later. */
static void test_seeds(void)
{
	struct offcpu *o = new_offcpu(64);
	struct offcpu_window *w = window(o, PROFD_WAIT_OFFCPU, T0, T1);
	struct pending *p = calloc(1, sizeof(*p) + sizeof(uint64_t));
	const struct agg_stack *s;

	p->what = PROFD_WAIT_OFFCPU;
	p->tid = 41;
	p->tgid = PID;
	p->image = IMG;
	p->begin_ns = T0;
	p->flags = (PROFD_WAIT_SLEEPING + 1) << PROFILE_STATE_SHIFT;
	p->n_user = 1;
	p->ips[0] = 0xd000;
	w->seeds = p;
	w->nseeds = 1;
	/* Another thread's unseen return: not this seed's. */
	end(o, PROFD_WAIT_OFFCPU, 42, 0, T0 + 10 * MS);
	CHECK(w->nseeds == 1 && !aggregate__count(w->parts[0].agg), "other thread");
	end(o, PROFD_WAIT_OFFCPU, 41, 0, T0 + 250 * MS);
	s = stack(w, 0xd000, PROFD_WAIT_SLEEPING + 1);
	CHECK(s && s->count == 1 && s->value == 250 * MS && w->nseeds == 0,
	      "seed charged from the start: %lu",
	      s ? (unsigned long)s->value : 0);
	CHECK(!offcpu_pair__take_seed(w, 41), "seed taken twice");
	free_offcpu(o);
}

/* Thread creation: counted at its moment, no duration, no pending. */
static void test_clone(void)
{
	struct offcpu *o = new_offcpu(64);
	struct offcpu_window *w = window(o, PROFD_WAIT_CLONE, T0, T1);
	const struct agg_stack *s;
	int i;

	for (i = 0; i < 5; i++)
		begin(o, PROFD_WAIT_CLONE, 51, T0 + i * MS, 0, 0, IMG, 0xe000);
	begin(o, PROFD_WAIT_CLONE, 51, T0 - MS, 0, 0, IMG, 0xe000);
	begin(o, PROFD_WAIT_CLONE, 51, T1, 0, 0, IMG, 0xe000);
	s = stack(w, 0xe000, 0);
	CHECK(s && s->count == 5 && s->value == 0 && o->npending == 0,
	      "clones: %lu", s ? (unsigned long)s->count : 0);
	free_offcpu(o);
}

/* The pending table's cap; malformed records. */
static void test_bounds(void)
{
	struct offcpu *o = new_offcpu(4);
	struct profd_wait_begin *b = calloc(1, sizeof(*b) + 64);
	uint32_t tid;

	window(o, PROFD_WAIT_FUTEX, T0, T1);
	for (tid = 100; tid < 110; tid++)
		begin(o, PROFD_WAIT_FUTEX, tid, T0 + MS, 0, 0, IMG, 0xf000);
	CHECK(o->npending == 4 && o->st.pending_full == 6 && o->nlast <= 4,
	      "cap: %u pending, %lu full, %u last", o->npending,
	      (unsigned long)o->st.pending_full, o->nlast);

	b->kind = PROFD_EV_WAIT_BEGIN;
	b->what = PROFD_WAIT_FUTEX;
	b->tgid = PID;
	b->image = IMG;
	b->stack_len = 128;	/* more than the record holds */
	CHECK(offcpu_pair__record(o, b, sizeof(*b) + 64) == 0 &&
	      o->st.unpaired == 1, "overlong stack");
	b->stack_len = 0;
	b->stack_skip = 4096;
	(void)offcpu_pair__record(o, b, sizeof(*b) + 64);
	b->stack_skip = 0;
	b->what = PROFD_WAIT_WHAT_MAX;
	(void)offcpu_pair__record(o, b, sizeof(*b) + 64);
	(void)offcpu_pair__record(o, b, 8);
	CHECK(o->st.unpaired == 4 && o->st.begins == 10, "malformed: %lu",
	      (unsigned long)o->st.unpaired);
	free(b);
	free_offcpu(o);
}

/* /proc/PID/task/TID/syscall as the kernel writes it. */
static void test_futex_waiting(void)
{
	CHECK(offcpu_pair__futex_waiting("202 0x55d0c8c2a040 0x80 0x2 0x0 0x0 0x0 0x7ffd1 0x7f12\n"),
	      "FUTEX_WAIT_PRIVATE");
	CHECK(offcpu_pair__futex_waiting("202 0x1 0x189 0x0 0x0 0x0 0xffffffff 0x7ffd1 0x7f12\n"),
	      "FUTEX_WAIT_BITSET_PRIVATE|CLOCK_REALTIME");
	CHECK(offcpu_pair__futex_waiting("202 0x1 0x86 0x0 0x0 0x0 0x0 0x1 0x2\n"),
	      "FUTEX_LOCK_PI_PRIVATE");
	CHECK(offcpu_pair__futex_waiting("449 0x7f00 0x2 0x0 0x0 0x1 0x0 0x1 0x2\n"),
	      "futex_waitv");
	CHECK(!offcpu_pair__futex_waiting("202 0x1 0x81 0x1 0x0 0x0 0x0 0x1 0x2\n"),
	      "FUTEX_WAKE_PRIVATE waits");
	CHECK(!offcpu_pair__futex_waiting("230 0x1 0x0 0x7ffd 0x0 0x0 0x0 0x1 0x2\n"),
	      "clock_nanosleep");
	CHECK(!offcpu_pair__futex_waiting("running\n"), "running");
	CHECK(!offcpu_pair__futex_waiting("-1 0x7ffd 0x4011\n"), "not in a syscall");
	CHECK(!offcpu_pair__futex_waiting("202"), "cut short");
	CHECK(!offcpu_pair__futex_waiting("202 0x1"), "no op");
	CHECK(!offcpu_pair__futex_waiting("2020 0x1 0x80"), "another number");
	CHECK(!offcpu_pair__futex_waiting(""), "empty");
}

/* A mutex window's seed: a futex wait begun before it, ended inside. */
static void test_futex_seed(void)
{
	struct offcpu *o = new_offcpu(64);
	struct offcpu_window *w = window(o, PROFD_WAIT_FUTEX, T0, T1);
	struct offcpu_window *b = window(o, PROFD_WAIT_OFFCPU, T0, T1);
	struct pending *p = calloc(1, sizeof(*p) + sizeof(uint64_t));
	const struct agg_stack *s;

	p->what = PROFD_WAIT_FUTEX;
	p->tid = 61;
	p->tgid = PID;
	p->image = IMG;
	p->begin_ns = T0;
	p->n_user = 1;
	p->ips[0] = 0x9000;
	w->seeds = p;
	w->nseeds = 1;
	/* An off-CPU unseen end is not the futex wait's. */
	end(o, PROFD_WAIT_OFFCPU, 61, 0, T0 + 10 * MS);
	CHECK(w->nseeds == 1, "off-CPU end took a futex seed");
	end(o, PROFD_WAIT_FUTEX, 61, 0, T0 + 400 * MS);
	s = stack(w, 0x9000, 0);
	CHECK(s && s->count == 1 && s->value == 400 * MS && !w->nseeds,
	      "futex seed: %lu", s ? (unsigned long)s->value : 0);
	CHECK(!aggregate__count(b->parts[0].agg), "charged to the block window");
	free_offcpu(o);
}

int main(void)
{
	test_futex_waiting();
	test_futex_seed();
	test_pairs();
	test_repeats();
	test_images();
	test_seeds();
	test_clone();
	test_bounds();
	return check__done();
}
