// SPDX-License-Identifier: GPL-2.0
/*
 * profile: raw stacks of CPU windows, waits and heap snapshots →
 * symbolized locations, functions and mappings → pprof.c (profile.h).
 * Lookups go through profile_symcache.c when the producer keeps one.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "jitmap.h"
#include "jitmap_proc.h"
#include "pprof.h"
#include "profile.h"
#include "strtab.h"

#define KERNEL_TAG (1ULL << 63)	/* marks kernel addresses in loc_ids */
/* User addresses (below 2^56) of different program images are different
 * locations: keyed with the image's part index above them. */
#define PART_SHIFT 56

/* libstdc++'s demangler (C linkage): readable C++ names in Function.name,
 * the mangled one stays in system_name. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len,
			    int *status);

struct builder {
	struct profile_symcache *symcache;	/* NULL: none */
	struct proc *proc;		/* of the part being added */
	unsigned part;			/* its index (profile_cpu_desc) */
	const struct kallsyms *ksyms;
	struct pprof *pp;
	struct u64map locs;		/* address (| KERNEL_TAG) -> location id */
	/* Of JIT code named for a generation (jitmap.h): a hash of address,
	 * part and the entry naming it -> location id. 64 bits of hash for
	 * at most a few million locations: a collision (two addresses
	 * sharing a name) is ~1e-7 likely in the largest profile. */
	struct u64map jitlocs;
	struct u64map maps;		/* proc map index + 1 -> mapping id */
	uint64_t kernel_mapping;
	uint64_t trunc_loc, unknown_loc;
	/* Binaries whose missing debug info a comment explained. */
	const struct sym_binary *noted[16];
	unsigned nnoted, nnoted_more;
};

/*
 * Say in a comment why a binary's frames lack names or file:line when
 * debuginfod is involved, once per binary (16 named, then a count).
 */
static int note_debug(struct builder *b, struct sym_binary *bin,
		      const struct sym_binary_info *info)
{
	const char *why;
	char line[PATH_MAX + 256];
	unsigned i;

	switch (info->debug_state) {
	case SYM_DEBUG_PENDING:
		why = "being fetched from debuginfod: this profile has no names of its static functions nor file:line for it; later profiles will";
		break;
	case SYM_DEBUG_MISSING:
		why = "not found on the debuginfod servers";
		break;
	case SYM_DEBUG_FAILED:
		why = "could not be fetched from debuginfod (timeout or error; retried in a few minutes)";
		break;
	default:
		return 0;
	}
	for (i = 0; i < b->nnoted; i++)
		if (b->noted[i] == bin)
			return 0;
	if (b->nnoted >= sizeof(b->noted) / sizeof(b->noted[0])) {
		b->nnoted_more++;
		return 0;
	}
	b->noted[b->nnoted++] = bin;
	snprintf(line, sizeof(line), "debug info for %s (build-id %s) %s",
		 info->path, info->build_id, why);
	return pprof__add_comment(b->pp, line);
}

static int64_t add_map(struct builder *b, const struct proc_map *m, size_t idx)
{
	struct pprof_mapping_desc md = {};
	struct sym_binary_info info = {};
	uint64_t id;
	int64_t r;

	if (u64map__get(&b->maps, idx + 1 + ((uint64_t)b->part << 32), &id) == 0)
		return (int64_t)id;
	if (m->bin) {
		/* Debug info fetched since the binary was opened: use it. */
		sym_binary__refresh(m->bin);
		sym_binary__info(m->bin, &info);
		if (note_debug(b, m->bin, &info) < 0)
			return -ENOMEM;
	}
	md.start = m->start;
	md.limit = m->end;
	md.offset = m->offset;
	md.filename = m->path;
	md.build_id = info.build_id;
	md.has_functions = info.has_functions;
	md.has_filenames = info.has_filenames;
	md.has_line_numbers = info.has_line_numbers;
	md.has_inline_frames = info.has_inline_frames;
	r = pprof__add_mapping(b->pp, &md);
	if (r < 0)
		return r;
	if (u64map__put(&b->maps, idx + 1 + ((uint64_t)b->part << 32),
			(uint64_t)r) < 0)
		return -ENOMEM;
	return r;
}

static int note_more(struct builder *b)
{
	char line[128];

	if (!b->nnoted_more)
		return 0;
	snprintf(line, sizeof(line),
		 "debug info for %u more binaries is missing (debuginfod)",
		 b->nnoted_more);
	return pprof__add_comment(b->pp, line);
}

/* Mapping 1 must be the main binary: add it before anything else. */
static int add_main_map(struct builder *b)
{
	struct proc *p = b->proc;
	struct proc_map m;
	size_t i, idx = 0;
	bool found = false;
	int r = 0;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->nmaps; i++) {
		if (p->maps[i].is_main) {
			m = p->maps[i];
			idx = i;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (found && add_map(b, &m, idx) < 0)
		r = -ENOMEM;
	return r;
}

static int64_t add_func_loc(struct builder *b, uint64_t mapping_id,
			    uint64_t addr, const char *name)
{
	struct pprof_line ln = {};
	int64_t f;

	f = pprof__add_function(b->pp, name, name, "", 0);
	if (f < 0)
		return f;
	ln.function_id = (uint64_t)f;
	return pprof__add_location(b->pp, mapping_id, addr, &ln, 1);
}

/* A pseudo-frame ("[truncated]", "[unknown]"), created once per profile. */
static int64_t marker_loc(struct builder *b, uint64_t *id, const char *name)
{
	int64_t r;

	if (*id)
		return (int64_t)*id;
	r = add_func_loc(b, 0, 0, name);
	if (r > 0)
		*id = (uint64_t)r;
	return r;
}

/*
 * The name pprof shows for symbol or linkage name @sym, one rule for every
 * frame, inlined or not: demangled in full (C++, Rust's legacy mangling),
 * as `addr2line -C` and pprof's -symbolize=demangle=full give it, with a
 * symbol version ("clock_gettime@@GLIBC_2.17") and a GCC clone suffix
 * (" [clone .isra.0]") dropped and "@plt" kept. @sym stays the Function's
 * system_name, from which pprof's own -symbolize=demangle=MODE derives
 * its shorter forms. Returns a malloc'd string, NULL on ENOMEM.
 */
static char *display_name(const char *sym)
{
	const char *at = strchr(sym, '@');
	bool plt = at && !strcmp(at, "@plt");
	char *base, *dem = NULL, *clone, *out;
	int st = -1;

	base = strndup(sym, at && at != sym ? (size_t)(at - sym) : strlen(sym));
	if (!base)
		return NULL;
	if (base[0] == '_' && base[1] == 'Z')
		dem = __cxa_demangle(base, NULL, NULL, &st);
	if (st == 0 && dem) {
		free(base);
		base = dem;
		clone = strstr(base, " [clone ");
		if (clone)
			*clone = 0;
	} else {
		free(dem);
	}
	if (!plt)
		return base;
	if (asprintf(&out, "%s@plt", base) < 0)
		out = NULL;
	free(base);
	return out;
}

/*
 * Location of a user frame. @addr is what to symbolize: the sampled pc for
 * the leaf, the return address - 1 for callers. When that finds nothing
 * and @alt differs (the unadjusted return address), try @alt: a signal
 * frame's "return address" is the exact resume point, often the first
 * byte of a function, and minus one lands in the padding before it.
 */
static int64_t user_loc(struct builder *b, uint64_t addr, uint64_t alt,
			unsigned gen)
{
	struct sym_frame frames[SYM_MAX_INLINE];
	struct pprof_line lines[SYM_MAX_INLINE];
	char jname[JITMAP_MAX_NAME + 1];
	struct proc_map m;
	uint64_t id, mapping_id = 0;
	uint64_t key = (addr ? addr : 1) |
		       ((uint64_t)(b->part & 127) << PART_SHIFT);
	struct u64map *cache = &b->locs;
	size_t idx, nl = 0;
	bool jit_named = false;
	uint32_t seq;
	int64_t r;
	int n = 0, i;

	/* A sample of a time when the code at addr was other code: named
	 * by the entry live then, one location per entry. */
	if (gen && proc__jit_name(b->proc, addr, gen, now_ns(CLOCK_MONOTONIC),
				  jname, sizeof(jname), &seq) == 0) {
		jit_named = true;
		cache = &b->jitlocs;
		key = hash__u64(key, seq) | 1;
	}
	if (u64map__get(cache, key, &id) == 0)
		return (int64_t)id;
	if (proc__resolve(b->proc, addr, &m, &idx) == 0) {
		r = add_map(b, &m, idx);
		if (r < 0) {
			sym_binary__put(m.bin);
			return r;
		}
		mapping_id = (uint64_t)r;
		if (m.bin) {
			n = profile_symcache__lookup(b->symcache, m.bin,
					  addr - m.start + m.offset, frames,
					  SYM_MAX_INLINE);
			if (n == 0 && alt != addr && alt >= m.start &&
			    alt < m.end)
				n = profile_symcache__lookup(b->symcache, m.bin,
						  alt - m.start + m.offset,
						  frames, SYM_MAX_INLINE);
		}
		/* No ELF file: JIT code, named by the runtime's perf map or
		 * jitdump, else "[jit]" for anonymous executable memory. */
		if (!m.bin && (jit_named ||
			       proc__jit_name(b->proc, addr, 0,
					      now_ns(CLOCK_MONOTONIC), jname,
					      sizeof(jname), NULL) == 0)) {
			frames[0] = (struct sym_frame){ .func = jname };
			n = 1;
		} else if (!m.bin && m.anon) {
			frames[0] = (struct sym_frame){ .func = "[jit]" };
			n = 1;
		}
		for (i = 0; i < n; i++) {
			char hexname[32], *name = NULL;
			const char *sys = frames[i].func;

			if (!sys) {
				snprintf(hexname, sizeof(hexname), "0x%" PRIx64,
					 addr);
				sys = hexname;
			}
			name = display_name(sys);
			r = name ? pprof__add_function(b->pp, name, sys,
						       frames[i].file,
						       frames[i].start_line) :
				   -ENOMEM;
			free(name);
			if (r < 0) {
				sym_binary__put(m.bin);
				return r;
			}
			lines[nl].function_id = (uint64_t)r;
			lines[nl].line = frames[i].line;
			nl++;
		}
		/* The strings are copied by now: drop the binary. */
		sym_binary__put(m.bin);
	}
	r = pprof__add_location(b->pp, mapping_id, addr, lines, nl);
	if (r < 0)
		return r;
	if (u64map__put(cache, key, (uint64_t)r) < 0)
		return -ENOMEM;
	return r;
}

/*
 * Frames past the last one inside a known mapping are dropped: a
 * frame-pointer walk that ran off the end of a stack (Go's runtime
 * threads, hand-written entry code) reads heap words and -1s as return
 * addresses. Frames in the middle are kept whatever they are (JIT code).
 */
static unsigned trim_user(struct builder *b, const uint64_t *ips, unsigned n)
{
	struct proc_map m;
	size_t idx;

	while (n > 1) {
		if (proc__resolve(b->proc, ips[n - 1], &m, &idx) == 0) {
			sym_binary__put(m.bin);
			break;
		}
		n--;
	}
	return n;
}

static int64_t kernel_loc(struct builder *b, uint64_t addr)
{
	struct pprof_mapping_desc md = {};
	const char *name = NULL;
	uint64_t id, start;
	char hexname[32];
	int64_t r;

	if (u64map__get(&b->locs, addr | KERNEL_TAG, &id) == 0)
		return (int64_t)id;
	if (!b->kernel_mapping) {
		md.filename = "[kernel.kallsyms]";
		md.build_id = "";
		md.has_functions = b->ksyms != NULL;
		r = pprof__add_mapping(b->pp, &md);
		if (r < 0)
			return r;
		b->kernel_mapping = (uint64_t)r;
	}
	if (b->ksyms)
		name = kallsyms__lookup(b->ksyms, addr, &start);
	if (!name) {
		snprintf(hexname, sizeof(hexname), "0x%" PRIx64, addr);
		name = hexname;
	}
	r = add_func_loc(b, b->kernel_mapping, addr, name);
	if (r < 0)
		return r;
	if (u64map__put(&b->locs, addr | KERNEL_TAG, (uint64_t)r) < 0)
		return -ENOMEM;
	return r;
}

/* A goroutine profile's sample: pid and the caller's labels. */
static int add_counted(struct builder *b, const struct profile_cpu_desc *d,
		       size_t i, const struct agg_stack *s, const uint64_t *ids,
		       size_t n)
{
	const struct pprof_label *extra = NULL;
	struct pprof_label *labels;
	int64_t value = (int64_t)s->count;
	size_t ne = d->labels ? d->labels(d->labels_ctx, i, &extra) : 0;
	int r;

	labels = calloc(ne + 1, sizeof(*labels));
	if (!labels)
		return -ENOMEM;
	labels[0] = (struct pprof_label){ .key = "pid", .num = d->pid };
	if (ne)
		memcpy(labels + 1, extra, ne * sizeof(*labels));
	r = pprof__add_sample(b->pp, ids, n, &value, 1, labels, ne + 1);
	free(labels);
	return r;
}

static int add_stack(struct builder *b, const struct profile_cpu_desc *d,
		     size_t idx, const struct agg_stack *s, uint64_t *ids)
{
	static const char *const states[] = { "sleeping", "disk", "preempted" };
	const struct profile_cpu_part *pt = &d->parts[b->part];
	struct pprof_label labels[6];
	unsigned st = (s->flags & PROFILE_STATE_MASK) >> PROFILE_STATE_SHIFT;
	size_t nl = 0;
	int64_t values[2], r;
	size_t n = 0;
	unsigned i, nu;

	/* Kernel frames are leaf-most: the kernel ran on behalf of user. */
	for (i = 0; i < s->n_kernel; i++) {
		uint64_t a = s->ips[s->n_user + i];

		r = kernel_loc(b, i == 0 ? a : a - 1);
		if (r < 0)
			return (int)r;
		ids[n++] = (uint64_t)r;
	}
	nu = trim_user(b, s->ips, s->n_user);
	for (i = 0; i < nu; i++) {
		uint64_t a = s->ips[i];

		/* Return addresses point after the call: step back into it.
		 * The leaf is the sampled instruction itself. */
		r = user_loc(b, i == 0 ? a : a - 1, a,
			     s->flags >> AGG_F_JIT_GEN_SHIFT);
		if (r < 0)
			return (int)r;
		ids[n++] = (uint64_t)r;
	}
	if (s->flags & AGG_F_USER_TRUNC) {
		r = marker_loc(b, &b->trunc_loc, "[truncated]");
		if (r < 0)
			return (int)r;
		ids[n++] = (uint64_t)r;
	}
	if (n == 0) {
		r = marker_loc(b, &b->unknown_loc, "[unknown]");
		if (r < 0)
			return (int)r;
		ids[n++] = (uint64_t)r;
	}
	if (d->type == PROFILE_GOROUTINE)
		return add_counted(b, d, idx, s, ids, n);
	values[0] = (int64_t)s->count;
	/* Waits: the summed delay; CPU: samples x period. */
	values[1] = d->type == PROFILE_CPU ? (int64_t)(s->count * d->period_ns) :
					     (int64_t)s->value;
	if (pt->service)
		labels[nl++] = (struct pprof_label){ .key = "service_name",
						     .str = pt->service };
	labels[nl++] = (struct pprof_label){ .key = "pid",
					     .num = pt->pid ? pt->pid : d->pid };
	if (pt->comm)
		labels[nl++] = (struct pprof_label){ .key = "comm",
						     .str = pt->comm };
	labels[nl++] = (struct pprof_label){ .key = "tid", .num = s->tid };
	labels[nl++] = (struct pprof_label){ .key = "thread", .str = s->comm };
	if (st >= 1 && st <= 3)
		labels[nl++] = (struct pprof_label){ .key = "state",
						     .str = states[st - 1] };
	return pprof__add_sample(b->pp, ids, n, values,
				 d->type == PROFILE_THREADCREATE ? 1 : 2,
				 labels, nl);
}

static const char *const type_names[PROFILE_TYPE_MAX] = {
	[PROFILE_CPU] = "CPU", [PROFILE_BLOCK] = "off-CPU (block)",
	[PROFILE_MUTEX] = "lock contention (mutex)",
	[PROFILE_THREADCREATE] = "thread creation (threadcreate)",
	[PROFILE_GOROUTINE] = "threads (goroutine)",
};

/* Sample and period types as Go's runtime/pprof writes them. */
static int sample_types(struct builder *b, const struct profile_cpu_desc *d)
{
	int r;

	switch (d->type) {
	case PROFILE_CPU:
		if ((r = pprof__add_sample_type(b->pp, "samples", "count")) < 0 ||
		    (r = pprof__add_sample_type(b->pp, "cpu", "nanoseconds")) < 0)
			return r;
		return pprof__set_period(b->pp, "cpu", "nanoseconds",
					 (int64_t)d->period_ns);
	case PROFILE_BLOCK:
	case PROFILE_MUTEX:
		if ((r = pprof__add_sample_type(b->pp, "contentions", "count")) < 0 ||
		    (r = pprof__add_sample_type(b->pp, "delay", "nanoseconds")) < 0)
			return r;
		return pprof__set_period(b->pp, "contentions", "count", 1);
	case PROFILE_THREADCREATE:
		if ((r = pprof__add_sample_type(b->pp, "threadcreate", "count")) < 0)
			return r;
		return pprof__set_period(b->pp, "threadcreate", "count", 1);
	case PROFILE_GOROUTINE:
		if ((r = pprof__add_sample_type(b->pp, "goroutine", "count")) < 0)
			return r;
		return pprof__set_period(b->pp, "goroutine", "count", 1);
	default:
		return -EINVAL;
	}
}

int profile__build_cpu(const struct profile_cpu_desc *d, void **ret_buf,
		       size_t *ret_len)
{
	struct builder b = { .ksyms = d->ksyms, .symcache = d->symcache };
	struct aggregate_totals t = {}, pt;
	uint64_t ids[AGG_MAX_FRAMES + 2];
	char line[256];
	size_t i, k;
	int r;

	r = pprof__new(&b.pp);
	if (r < 0)
		return r;
	r = sample_types(&b, d);
	if (r < 0)
		goto out;
	pprof__set_time(b.pp, d->time_nanos, d->duration_nanos);

	for (k = 0; k < d->nparts; k++) {
		aggregate__totals(d->parts[k].agg, &pt);
		t.dropped_samples += pt.dropped_samples;
	}
	if (d->what)
		snprintf(line, sizeof(line), "profd %s: %s profile of %s",
			 PROFD_VERSION, type_names[d->type], d->what);
	else
		snprintf(line, sizeof(line), "profd %s: %s profile of pid %d (%s)",
			 PROFD_VERSION, type_names[d->type], d->pid, d->comm);
	if ((r = pprof__add_comment(b.pp, line)) < 0)
		goto out;
	if (d->process_exited &&
	    (r = pprof__add_comment(b.pp, "process exited during the window")) < 0)
		goto out;
	if (d->lost_samples) {
		snprintf(line, sizeof(line),
			 "%" PRIu64 " samples lost system-wide during the window (ring buffer full)",
			 d->lost_samples);
		if ((r = pprof__add_comment(b.pp, line)) < 0)
			goto out;
	}
	if (t.dropped_samples) {
		snprintf(line, sizeof(line),
			 "%" PRIu64 " samples dropped: distinct-stack table full",
			 t.dropped_samples);
		if ((r = pprof__add_comment(b.pp, line)) < 0)
			goto out;
	}
	for (k = 0; k < d->ncomments; k++)
		if ((r = pprof__add_comment(b.pp, d->comments[k])) < 0)
			goto out;

	for (k = 0; k < d->nparts; k++) {
		const struct aggregate *agg = d->parts[k].agg;
		size_t jd;

		b.proc = d->parts[k].proc;
		b.part = (unsigned)k;
		jd = b.proc ? proc__jit_dropped(b.proc) : 0;
		if (jd) {
			struct jitmap_stats js;

			/* The bound in force (PROFD_JIT_MAX_MB), not the
			 * default. */
			jitmap__stats(&js);
			snprintf(line, sizeof(line),
				 "pid %d: %zu JIT names not kept (perf map or jitdump over profd's bounds: %u entries a process, %llu MiB for all): their code shows as [jit]",
				 b.proc->pid, jd, JITMAP_MAX_SYMS,
				 (unsigned long long)(js.max_bytes >> 20));
			if ((r = pprof__add_comment(b.pp, line)) < 0)
				goto out;
		}
		/* Locations are keyed by 7 bits of the part's index: past
		 * 128 parts (processes of a machine-wide profile) each part
		 * starts a fresh table; ids stay unique. */
		if (k && d->nparts > 128) {
			u64map__fini(&b.locs);
			u64map__fini(&b.jitlocs);
		}
		/* Mapping 1: the executable the window began on. */
		if (k == 0 && (r = add_main_map(&b)) < 0)
			goto out;
		for (i = 0; i < aggregate__count(agg); i++) {
			r = add_stack(&b, d, i, aggregate__get(agg, i), ids);
			if (r < 0)
				goto out;
		}
	}
	r = note_more(&b);
	if (r == 0)
		r = pprof__write(b.pp, true, ret_buf, ret_len);
out:
	u64map__fini(&b.locs);
	u64map__fini(&b.jitlocs);
	u64map__fini(&b.maps);
	pprof__free(b.pp);
	return r;
}

/*
 * Go's scaling of sampled heap values (runtime/pprof's scaleHeapSample):
 * a block of average size a is sampled with probability 1 - exp(-a/R).
 */
static void scale_heap(int64_t *count, int64_t *bytes, uint64_t rate)
{
	double avg, scale;

	if (*count == 0 || *bytes == 0) {
		*count = *bytes = 0;
		return;
	}
	if (rate <= 1)
		return;
	avg = (double)*bytes / (double)*count;
	scale = 1.0 / (1.0 - exp(-avg / (double)rate));
	*count = (int64_t)((double)*count * scale);
	*bytes = (int64_t)((double)*bytes * scale);
}

int profile__build_heap(const struct profile_heap_desc *d, void **ret_buf,
			size_t *ret_len)
{
	struct builder b = { .proc = d->proc };
	uint64_t ids[PROFD_MAX_USER_FRAMES + 2];
	struct pprof_label label = { .key = "pid", .num = d->proc->pid };
	char line[256];
	size_t i, k;
	int r;

	r = pprof__new(&b.pp);
	if (r < 0)
		return r;
	if ((r = pprof__add_sample_type(b.pp, "alloc_objects", "count")) < 0 ||
	    (r = pprof__add_sample_type(b.pp, "alloc_space", "bytes")) < 0 ||
	    (r = pprof__add_sample_type(b.pp, "inuse_objects", "count")) < 0 ||
	    (r = pprof__add_sample_type(b.pp, "inuse_space", "bytes")) < 0 ||
	    (r = pprof__set_period(b.pp, "space", "bytes",
				   (int64_t)(d->sample_bytes ? d->sample_bytes : 1))) < 0)
		goto out;
	if (d->allocs_default &&
	    (r = pprof__set_default_sample_type(b.pp, "alloc_space")) < 0)
		goto out;
	pprof__set_time(b.pp, d->time_nanos, 0);
	snprintf(line, sizeof(line), "profd %s: heap profile of pid %d (%s)",
		 PROFD_VERSION, d->proc->pid, d->proc->comm);
	if ((r = pprof__add_comment(b.pp, line)) < 0)
		goto out;
	for (k = 0; k < d->ncomments; k++)
		if ((r = pprof__add_comment(b.pp, d->comments[k])) < 0)
			goto out;
	if ((r = add_main_map(&b)) < 0)
		goto out;

	for (i = 0; i < d->n; i++) {
		const struct profile_heap_entry *e = &d->e[i];
		int64_t v[4] = { e->alloc_objects, e->alloc_bytes,
				 e->inuse_objects, e->inuse_bytes };
		unsigned j, n = e->n;
		int64_t loc;

		scale_heap(&v[0], &v[1], d->sample_bytes);
		scale_heap(&v[2], &v[3], d->sample_bytes);
		if (n > PROFD_MAX_USER_FRAMES + 1)
			n = PROFD_MAX_USER_FRAMES + 1;
		n = trim_user(&b, e->ips, n);
		/* Every frame is a return address: step back into the call. */
		for (j = 0; j < n; j++) {
			loc = user_loc(&b, e->ips[j] - 1, e->ips[j], 0);
			if (loc < 0) {
				r = (int)loc;
				goto out;
			}
			ids[j] = (uint64_t)loc;
		}
		if (e->truncated) {
			loc = marker_loc(&b, &b.trunc_loc, "[truncated]");
			if (loc < 0) {
				r = (int)loc;
				goto out;
			}
			ids[n++] = (uint64_t)loc;
		}
		if (n == 0) {
			loc = marker_loc(&b, &b.unknown_loc, "[unknown]");
			if (loc < 0) {
				r = (int)loc;
				goto out;
			}
			ids[n++] = (uint64_t)loc;
		}
		r = pprof__add_sample(b.pp, ids, n, v, 4, &label, 1);
		if (r < 0)
			goto out;
	}
	r = note_more(&b);
	if (r == 0)
		r = pprof__write(b.pp, true, ret_buf, ret_len);
out:
	u64map__fini(&b.locs);
	u64map__fini(&b.jitlocs);
	u64map__fini(&b.maps);
	pprof__free(b.pp);
	return r;
}
