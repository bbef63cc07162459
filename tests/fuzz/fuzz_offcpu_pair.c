// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the wait tracer's records as daemon/offcpu_pair.c reads
 * them (begin, end and sum records, checked against their sizes before
 * use) and the /proc/PID/task/TID/syscall line that says whether a
 * thread is in a futex wait. Input: a byte of record count, then records
 * (a 2-byte length each, then its bytes), then the syscall line. Two
 * windows (block and mutex) on one process take the charges; a begin
 * record's stack copy is not unwound here (no process: its length is
 * zeroed), which leaves the pairing, the sums and the bounds. Besides the
 * sanitizers, the harness checks that no table passes its cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "offcpu_int.h"

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static struct offcpu_window *window(struct offcpu *o, uint32_t what)
{
	struct offcpu_window *w = calloc(1, sizeof(*w));

	if (!w)
		abort();
	w->req.what = what;
	w->req.pid = 100;
	w->req.fp_only = true;
	w->id = ++o->next_id;
	w->t.image = 1;
	w->nparts = 1;
	w->parts[0].image = 1;
	if (aggregate__new(64, &w->parts[0].agg) < 0)
		abort();
	w->start_ns = 1000;
	w->end_ns = 1000000;
	w->next = o->windows;
	o->windows = w;
	return w;
}

/*
 * offcpu.c's exec check, stood in for: an odd image is allowed (a part
 * with an aggregate, no process: nothing is unwound here), an even one
 * denied, so both kinds of part take records.
 */
void offcpu__follow_exec(struct offcpu *o, struct offcpu_window *w,
			 uint64_t image, uint64_t time_ns)
{
	struct offcpu_part *pt;

	(void)o;
	require(w->nparts < OFFCPU_PARTS && !offcpu_pair__part(w, image));
	pt = &w->parts[w->nparts++];
	memset(pt, 0, sizeof(*pt));
	pt->image = image;
	pt->first_ns = time_ns;
	if ((image & 1) && aggregate__new(64, &pt->agg) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct offcpu *o = calloc(1, sizeof(*o));
	struct offcpu_window *w;
	unsigned nrec, i;
	char line[256];
	size_t n;

	if (!o || !size)
		goto out;
	o->lim.max_pending = 16;
	window(o, PROFD_WAIT_OFFCPU);
	window(o, PROFD_WAIT_FUTEX);
	nrec = data[0] % 32;
	data++;
	size--;
	for (i = 0; i < nrec && size >= 2; i++) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;
		uint8_t *rec;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* A copy of its own size, so overreads are caught. */
		rec = malloc(len ? len : 1);
		if (!rec)
			break;
		memcpy(rec, data, len);
		if (len >= sizeof(struct profd_wait_begin))
			((struct profd_wait_begin *)rec)->stack_len = 0;
		(void)offcpu_pair__record(o, rec, len);
		free(rec);
		data += len;
		size -= len;
		require(o->npending <= o->lim.max_pending &&
			o->nlast <= o->lim.max_pending);
		for (w = o->windows; w; w = w->next)
			require(w->nparts <= OFFCPU_PARTS);
	}
	n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	memcpy(line, data, n);
	line[n] = 0;
	(void)offcpu_pair__futex_waiting(line);
out:
	if (o) {
		while ((w = o->windows)) {
			o->windows = w->next;
			while (w->seeds) {
				struct pending *p = w->seeds;

				w->seeds = p->next;
				free(p);
			}
			for (i = 0; i < w->nparts; i++)
				aggregate__free(w->parts[i].agg);
			free(w);
		}
		for (i = 0; i < PENDING_BUCKETS; i++)
			while (o->pending[i])
				offcpu_pair__drop(o, &o->pending[i]);
		offcpu_pair__forget(o);
		free(o);
	}
	return 0;
}
