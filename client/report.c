// SPDX-License-Identifier: GPL-2.0
/*
 * report: how profctl shows what it gets — a profile as its top table or
 * folded stacks, profd's status as a summary, errors as text or JSON.
 * Reads only what it is given and writes to standard output (errors under
 * --json too, else to standard error).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxxname.h"
#include "json_read.h"
#include "pprof_read.h"
#include "report.h"

#define TOP_ROWS		10
#define NAME_WIDTH		60	/* the table's function column, at most */

/*
 * An error: "profctl: MSG" on standard error, or under --json one object
 * {"error": MSG} on standard output, where a program reading the output
 * finds it (as bpftool does). @status: the HTTP status when profd refused
 * (0 otherwise).
 */
void report__error(bool json, long status, const char *msg,
		   const char *hint)
{
	if (json) {
		printf("{\"error\":");
		report__json_str(stdout, msg);
		if (status)
			printf(",\"http_status\":%ld", status);
		if (hint) {
			printf(",\"hint\":");
			report__json_str(stdout, hint);
		}
		printf("}\n");
		fflush(stdout);
		return;
	}
	fprintf(stderr, "profctl: %s\n", msg);
	if (hint)
		fprintf(stderr, "%s\n", hint);
}

static void rep_err(const struct report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void rep_err(const struct report *rep, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	report__error(rep->json, 0, buf, NULL);
}

void report__json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* 1.23s / 12.50ms / 3.00us for time, KiB/MiB/GiB for bytes, else plain. */
static void value__fmt(char *buf, size_t size, int64_t v, const char *unit)
{
	const char *sign = v < 0 ? "-" : "";
	double a = v < 0 ? -(double)v : (double)v;

	if (!strcmp(unit, "nanoseconds")) {
		if (a >= 1e9)
			snprintf(buf, size, "%s%.2fs", sign, a / 1e9);
		else if (a >= 1e6)
			snprintf(buf, size, "%s%.2fms", sign, a / 1e6);
		else if (a >= 1e3)
			snprintf(buf, size, "%s%.2fus", sign, a / 1e3);
		else
			snprintf(buf, size, "%s%.0fns", sign, a);
	} else if (!strcmp(unit, "bytes")) {
		if (a >= 1024.0 * 1024 * 1024)
			snprintf(buf, size, "%s%.2fGiB", sign, a / (1024.0 * 1024 * 1024));
		else if (a >= 1024.0 * 1024)
			snprintf(buf, size, "%s%.2fMiB", sign, a / (1024.0 * 1024));
		else if (a >= 1024.0)
			snprintf(buf, size, "%s%.2fKiB", sign, a / 1024.0);
		else
			snprintf(buf, size, "%s%.0fB", sign, a);
	} else {
		snprintf(buf, size, "%" PRId64, v);
	}
}

static double pct(int64_t v, int64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0.0;
}

/* CPU profiles: the sample count; others (heap): distinct stacks. */
static int64_t count_samples(const Perftools__Profiles__Profile *p,
			     const char **ret_what)
{
	int64_t n = 0;
	size_t i, t;

	/* Go's count types: what one unit of each is. */
	static const char *const counts[][2] = {
		{ "samples", "samples" }, { "contentions", "waits" },
		{ "threadcreate", "threads created" }, { "goroutine", "threads" },
	};
	size_t k = 0;

	*ret_what = "samples";
	for (t = 0; t < p->n_sample_type; t++) {
		for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
			if (!strcmp(pprof_read__type(p, (int)t), counts[k][0]))
				break;
		if (k < sizeof(counts) / sizeof(counts[0]) &&
		    !strcmp(pprof_read__unit(p, (int)t), "count"))
			break;
	}
	if (t < p->n_sample_type)
		*ret_what = counts[k][1];
	if (t == p->n_sample_type) {
		*ret_what = "stacks";
		return (int64_t)p->n_sample;
	}
	for (i = 0; i < p->n_sample; i++)
		if (p->sample[i]->n_value > t &&
		    __builtin_add_overflow(n, p->sample[i]->value[t], &n))
			return INT64_MAX;
	return n;
}

/*
 * The profile's comments that begin "warning: ": what profd found wrong
 * with it (samples missing), which a table alone would hide.
 */
static bool is_warning(const Perftools__Profiles__Profile *p, size_t i)
{
	return !strncmp(pprof_read__str(p, p->comment[i]), "warning: ", 9);
}

/*
 * An empty heap table is most often the sampling: one allocation is
 * sampled per interval of bytes allocated on average, so a process that
 * allocated less than that in the window shows nothing. Say so, with the
 * interval, rather than leave an empty table.
 */
static const char *heap_hint(const Perftools__Profiles__Profile *p, int idx,
			     char *buf, size_t size)
{
	char per[32];
	size_t i, t;
	bool any = false;

	for (i = 0; i < p->n_sample; i++)
		for (t = 0; t < p->sample[i]->n_value; t++)
			any |= p->sample[i]->value[t] != 0;
	value__fmt(per, sizeof(per), p->period, "bytes");
	if (!any)
		snprintf(buf, size,
			 "no allocation was sampled: profd samples one allocation per %s allocated, on average (--sample-bytes; 1 samples every allocation, at a higher cost); give it more time (--seconds) or a smaller interval",
			 per);
	else
		snprintf(buf, size,
			 "no sampled %s: the allocations sampled (one per %s allocated) are all freed; --sample-index alloc_space shows where they came from",
			 pprof_read__type(p, idx), per);
	return buf;
}

/*
 * Samples whose leaf has no function name, by binary (the base name of
 * the leaf's mapping; "<unknown>" outside any), and those in JIT code
 * without a map ("[jit]"): what the table's "[libfoo.so]" rows hide.
 */
#define UNNAMED_MAX 8

struct unnamed {
	const char *bin[UNNAMED_MAX];
	int64_t v[UNNAMED_MAX];
	size_t n;
	int64_t total, other, jit;
};

static int loc_cmp(const void *a, const void *b)
{
	const Perftools__Profiles__Location *x = *(const Perftools__Profiles__Location *const *)a;
	const Perftools__Profiles__Location *y = *(const Perftools__Profiles__Location *const *)b;

	return (x->id > y->id) - (x->id < y->id);
}

static const char *mapping_base(const Perftools__Profiles__Profile *p,
				uint64_t mapping_id)
{
	const char *f, *b;
	size_t i;

	for (i = 0; i < p->n_mapping; i++) {
		if (p->mapping[i]->id != mapping_id)
			continue;
		f = pprof_read__str(p, p->mapping[i]->filename);
		if (!f || !*f)
			return "<unknown>";
		b = strrchr(f, '/');
		return b ? b + 1 : f;
	}
	return "<unknown>";
}

static void unnamed__count(const Perftools__Profiles__Profile *p, int idx,
			   struct unnamed *u)
{
	Perftools__Profiles__Location **locs;
	size_t i, k;

	memset(u, 0, sizeof(*u));
	locs = malloc((p->n_location ? p->n_location : 1) * sizeof(*locs));
	if (!locs)
		return;
	if (p->n_location) {	/* an empty profile has no location array */
		memcpy(locs, p->location, p->n_location * sizeof(*locs));
		qsort(locs, p->n_location, sizeof(*locs), loc_cmp);
	}
	for (i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *sm = p->sample[i];
		Perftools__Profiles__Location key = { .id = 0 }, *kp = &key, **l;
		const char *name = NULL, *bin;
		int64_t v;

		if (!sm->n_location_id || (size_t)idx >= sm->n_value)
			continue;
		v = sm->value[idx];
		key.id = sm->location_id[0];
		l = bsearch(&kp, locs, p->n_location, sizeof(*locs), loc_cmp);
		if (!l)
			continue;
		if ((*l)->n_line) {
			uint64_t fid = (*l)->line[0]->function_id;

			for (k = 0; k < p->n_function && !name; k++)
				if (p->function[k]->id == fid)
					name = pprof_read__str(p, p->function[k]->name);
		}
		if (name && !strcmp(name, "[jit]")) {
			u->jit += v;
			continue;
		}
		if (name && *name && strncmp(name, "0x", 2))
			continue;
		u->total += v;
		bin = mapping_base(p, (*l)->mapping_id);
		for (k = 0; k < u->n && strcmp(u->bin[k], bin); k++)
			;
		if (k == u->n && u->n < UNNAMED_MAX)
			u->bin[u->n++] = bin;
		if (k < u->n)
			u->v[k] += v;
		else
			u->other += v;
	}
	free(locs);
}

static void unnamed__print_text(const Perftools__Profiles__Profile *p, int idx,
				int64_t total)
{
	struct unnamed u;
	size_t i;

	unnamed__count(p, idx, &u);
	if (u.total > 0) {
		printf("no name: %.2f%% of the total in frames without a function name:",
		       pct(u.total, total));
		for (i = 0; i < u.n; i++)
			printf("%s %s %.2f%%", i ? "," : "", u.bin[i],
			       pct(u.v[i], total));
		if (u.other)
			printf(", others %.2f%%", pct(u.other, total));
		printf("\nhint: install their debug info (Debian: the -dbgsym packages) or run profd with DEBUGINFOD_URLS set (or --debuginfod-urls)\n");
	}
	if (u.jit > 0)
		printf("no name: %.2f%% of the total in JIT code without a perf map ([jit])\nhint: start the runtime with its perf support (node --perf-basic-prof, python3.12 -X perf, java -XX:+DumpPerfMapAtExit; see profd's README)\n",
		       pct(u.jit, total));
}

static void unnamed__print_json(const Perftools__Profiles__Profile *p, int idx)
{
	struct unnamed u;
	size_t i;

	unnamed__count(p, idx, &u);
	printf(",\"unnamed\":{\"total\":%" PRId64 ",\"jit\":%" PRId64
	       ",\"others\":%" PRId64 ",\"by_binary\":{", u.total, u.jit, u.other);
	for (i = 0; i < u.n; i++) {
		printf("%s", i ? "," : "");
		report__json_str(stdout, u.bin[i]);
		printf(":%" PRId64, u.v[i]);
	}
	printf("}}");
}

static void top__print_text(const char *file, const Perftools__Profiles__Profile *p,
			    int idx, const struct report *rep,
			    const struct pprof_top_row *rows, size_t n,
			    int64_t total, int64_t focused)
{
	const char *unit = pprof_read__unit(p, idx), *what;
	char flat[32], cum[32], tot[32], foc[32], where[PATH_MAX + 64];
	char name[NAME_WIDTH * 4 + 8], hint[512];
	bool close_note = false;
	int64_t count;
	int w = 8;
	size_t i;

	for (i = 0; i < n; i++) {
		int l = (int)cxxname__shorten(rows[i].name, NAME_WIDTH,
						    name, sizeof(name));

		if (l > w)
			w = l;
	}
	value__fmt(tot, sizeof(tot), total, unit);
	count = count_samples(p, &what);
	/* One line above the table, as ever: scripts count its lines. */
	printf("Type: %s (%s); top %zu functions by %s; %" PRId64 " %s, total %s, in %s\n",
	       pprof_read__type(p, idx), unit, n, rep->by_cum ? "cum" : "flat",
	       count, what, tot, file);
	if (rep->focus) {
		value__fmt(foc, sizeof(foc), focused, unit);
		printf("Focus /%s/: %s of %s (%.2f%%)\n", rep->focus, foc, tot,
		       pct(focused, total));
	}
	printf("%10s %7s %10s %7s  %-*s  %s\n", "flat", "flat%", "cum", "cum%",
	       w, "function", "file:line");
	for (i = 0; i < n; i++) {
		const struct pprof_top_row *r = &rows[i];

		value__fmt(flat, sizeof(flat), r->flat, unit);
		value__fmt(cum, sizeof(cum), r->cum, unit);
		cxxname__shorten(*r->name ? r->name : "<unknown>",
				       NAME_WIDTH, name, sizeof(name));
		if (!*r->file)
			snprintf(where, sizeof(where), "?");
		else if (r->line > 0 && r->close_line)
			/* No line stands out: say which two. */
			snprintf(where, sizeof(where), "%s (%" PRId64 ", %" PRId64 "%s close)",
				 r->file, r->line, r->close_line,
				 r->close_file_differs ? " in another file" : "");
		else if (r->line > 0)
			snprintf(where, sizeof(where), "%s:%" PRId64, r->file, r->line);
		else
			snprintf(where, sizeof(where), "%s", r->file);
		close_note |= r->line > 0 && r->close_line;
		printf("%10s %6.2f%% %10s %6.2f%%  %-*s  %s\n", flat,
		       pct(r->flat, total), cum, pct(r->cum, total), w, name, where);
	}
	if (close_note)
		printf("(A, B close): the function's two hottest lines are within %d%% of each other\n",
		       (int)((1 - PPROF_TOP_CLOSE) * 100 + 0.5));
	if (!n && rep->kind && !strcmp(rep->kind, "heap") && !rep->focus)
		printf("hint: %s\n", heap_hint(p, idx, hint, sizeof(hint)));
	unnamed__print_text(p, idx, total);
	for (i = 0; i < p->n_comment; i++)
		if (is_warning(p, i))
			printf("%s\n", pprof_read__str(p, p->comment[i]));
}

static void top__print_json(const char *file, const Perftools__Profiles__Profile *p,
			    int idx, const struct report *rep,
			    const struct pprof_top_row *rows, size_t n,
			    int64_t total, int64_t focused)
{
	const char *what;
	char hint[512];
	size_t i, nw = 0;

	printf("{\"file\":");
	report__json_str(stdout, file);
	printf(",\"type\":");
	report__json_str(stdout, pprof_read__type(p, idx));
	printf(",\"unit\":");
	report__json_str(stdout, pprof_read__unit(p, idx));
	printf(",\"samples\":%" PRId64 ",\"total\":%" PRId64,
	       count_samples(p, &what), total);
	if (rep->focus) {
		printf(",\"focus\":");
		report__json_str(stdout, rep->focus);
		printf(",\"focused\":%" PRId64, focused);
	}
	printf(",\"order\":\"%s\",\"rows\":[", rep->by_cum ? "cum" : "flat");
	for (i = 0; i < n; i++) {
		printf("%s{\"function\":", i ? "," : "");
		report__json_str(stdout, rows[i].name);
		printf(",\"file\":");
		report__json_str(stdout, rows[i].file);
		printf(",\"line\":%" PRId64, rows[i].line);
		if (rows[i].close_line)
			printf(",\"close_line\":%" PRId64, rows[i].close_line);
		printf(",\"flat\":%" PRId64 ",\"cum\":%" PRId64 "}",
		       rows[i].flat, rows[i].cum);
	}
	printf("],\"warnings\":[");
	for (i = 0; i < p->n_comment; i++) {
		if (!is_warning(p, i))
			continue;
		printf("%s", nw++ ? "," : "");
		report__json_str(stdout, pprof_read__str(p, p->comment[i]));
	}
	printf("]");
	unnamed__print_json(p, idx);
	if (!n && rep->kind && !strcmp(rep->kind, "heap") && !rep->focus) {
		printf(",\"hint\":");
		report__json_str(stdout, heap_hint(p, idx, hint, sizeof(hint)));
	}
	printf("}\n");
}

/* Folded stacks, "root;...;leaf N" per line (or a JSON array of them). */
static int folded__print(const struct report *rep, const char *file,
			 const Perftools__Profiles__Profile *p, int idx,
			 const regex_t *focus)
{
	struct pprof_folded *f = NULL;
	size_t n = 0, i;
	int r;

	r = pprof_read__folded(p, idx, focus, &f, &n);
	if (r < 0) {
		rep_err(rep, "%s: inconsistent profile: %s", file, strerror(-r));
		return r;
	}
	if (rep->json) {
		printf("{\"file\":");
		report__json_str(stdout, file);
		printf(",\"type\":");
		report__json_str(stdout, pprof_read__type(p, idx));
		printf(",\"folded\":[");
	}
	for (i = 0; i < n; i++) {
		if (rep->json) {
			printf("%s{\"stack\":", i ? "," : "");
			report__json_str(stdout, f[i].stack);
			printf(",\"value\":%" PRId64 "}", f[i].value);
		} else {
			printf("%s %" PRId64 "\n", f[i].stack, f[i].value);
		}
	}
	if (rep->json)
		printf("]}\n");
	pprof_read__folded_free(f, n);
	return 0;
}

/*
 * Decode @buf and show it as @rep says: the top table for the chosen
 * sample type, or folded stacks.
 */
int report__profile(const struct report *rep, const char *file,
		    const void *buf, size_t len)
{
	Perftools__Profiles__Profile *p = NULL;
	struct pprof_top_row *rows = NULL;
	struct pprof_top_opts o = {};
	const char *spec = rep->spec;
	int64_t total = 0, focused = 0;
	regex_t re;
	bool have_re = false;
	size_t n = 0, i;
	int idx, r;

	r = pprof_read__decode(buf, len, &p);
	if (r < 0) {
		rep_err(rep, "%s: not a valid pprof profile: %s", file, strerror(-r));
		return r;
	}
	/* Flame-graph tools count samples: folded CPU stacks do too. */
	if (!spec && rep->folded && pprof_read__sample_index(p, "samples") >= 0)
		spec = "samples";
	idx = pprof_read__sample_index(p, spec);
	if (idx < 0 && rep->fallback)
		idx = pprof_read__sample_index(p, NULL);
	if (idx < 0) {
		char have[512] = "";
		size_t hl = 0;

		r = idx;
		if (!p->n_sample_type) {
			rep_err(rep, "%s: profile has no sample types", file);
			goto out;
		}
		for (i = 0; i < p->n_sample_type && hl < sizeof(have); i++)
			hl += (size_t)snprintf(have + hl, sizeof(have) - hl, " %s",
					       pprof_read__type(p, (int)i));
		rep_err(rep, "%s: no sample type '%s' (have:%s)", file, spec ? spec : "",
			have);
		goto out;
	}
	if (rep->focus) {
		/* Checked when the options were read. */
		if (regcomp(&re, rep->focus, REG_EXTENDED | REG_NOSUB)) {
			rep_err(rep, "--focus '%s' is no regular expression", rep->focus);
			r = -EINVAL;
			goto out;
		}
		have_re = true;
	}
	if (rep->folded) {
		r = folded__print(rep, file, p, idx, have_re ? &re : NULL);
		goto out;
	}
	o.sample_index = idx;
	o.max_rows = rep->rows ? rep->rows : TOP_ROWS;
	o.by_cum = rep->by_cum;
	o.focus = have_re ? &re : NULL;
	r = pprof_read__top_opts(p, &o, &rows, &n, &total, &focused);
	if (r < 0) {
		rep_err(rep, "%s: inconsistent profile: %s", file, strerror(-r));
		goto out;
	}
	if (rep->json)
		top__print_json(file, p, idx, rep, rows, n, total, focused);
	else
		top__print_text(file, p, idx, rep, rows, n, total, focused);
	r = 0;
out:
	if (have_re)
		regfree(&re);
	pprof_read__top_free(rows, n);
	pprof_read__free(p);
	return r;
}

/* "2h03m", "7m54s", "12.3s" */
static void duration__fmt(char *buf, size_t size, double s)
{
	if (s >= 3600)
		snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
	else if (s >= 60)
		snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)s % 60);
	else
		snprintf(buf, size, "%.1fs", s);
}

#define N(obj, key) ((unsigned long long)json_read__num((obj), (key)))

/*
 * /v1/status in a few lines: what runs now, what happened since the start,
 * and what went wrong (lost, dropped, truncated, refused). --json prints
 * the document itself.
 */
void report__status(const struct json_node *st)
{
	const struct json_node *u = json_read__get(st, "unwind"),
		*sym = json_read__get(st, "symbolizer"),
		*heap = json_read__get(st, "heap"),
		*http = json_read__get(st, "http"),
		*sessions = json_read__get(st, "sessions"),
		*procs = json_read__get(heap, "procs"), *e, *dbg;
	char up[32], bytes[32], max[32];

	duration__fmt(up, sizeof(up), json_read__num(st, "uptime_seconds"));
	printf("profd %s, up %s\n", json_read__str(st, "version"), up);
	printf("CPU:      %llu windows running, %llu since the start; %llu samples "
	       "(%llu matched a window), %llu lost, %llu dropped; %llu windows "
	       "missing samples\n",
	       N(st, "sessions_active"), N(st, "sessions_total"),
	       N(st, "samples_total"), N(st, "samples_matched"),
	       N(st, "samples_lost"), N(st, "samples_dropped"),
	       N(st, "windows_missing_samples"));
	printf("Unwind:   %llu stacks DWARF-unwound, %llu truncated, %llu errors; "
	       "stack read errors %llu user, %llu kernel\n",
	       N(u, "dwarf"), N(u, "truncated"), N(u, "errors"),
	       N(st, "user_stack_errors"), N(st, "kernel_stack_errors"));
	value__fmt(bytes, sizeof(bytes), (int64_t)json_read__num(sym, "bytes_estimate"), "bytes");
	value__fmt(max, sizeof(max), (int64_t)json_read__num(sym, "bytes_max"), "bytes");
	printf("Symbols:  %llu binaries cached (%llu idle), ~%s of %s; %llu evicted\n",
	       N(sym, "binaries"), N(sym, "binaries_idle"), bytes, max,
	       N(sym, "evictions"));
	dbg = json_read__get(st, "debuginfod");
	if (dbg && json_read__get(dbg, "requests")) {
		value__fmt(bytes, sizeof(bytes), (int64_t)json_read__num(dbg, "cache_bytes"), "bytes");
		value__fmt(max, sizeof(max), (int64_t)json_read__num(dbg, "cache_max_bytes"), "bytes");
		printf("Debuginfod: %llu fetched, %llu not found, %llu failed (%llu timeouts), "
		       "%llu waiting; cache ~%s of %s; %llu binaries reloaded\n",
		       N(dbg, "fetched"), N(dbg, "not_found"), N(dbg, "failed"),
		       N(dbg, "timeouts"), N(dbg, "queued") + N(dbg, "in_flight"),
		       bytes, max, N(dbg, "binaries_reloaded"));
	} else {
		printf("Debuginfod: off (DEBUGINFOD_URLS or --debuginfod-urls)\n");
	}
	printf("Heap:     %llu processes tracked; drops: %llu live table full, "
	       "%llu allocation stacks full; %llu event buffer full\n",
	       N(heap, "tracked"), N(heap, "dropped_live_full"),
	       N(heap, "dropped_allocs_full"), N(heap, "event_buffer_full"));
	printf("HTTP:     %llu connections open, %llu refused over a share, "
	       "%llu past the request deadline\n",
	       N(http, "connections_open"), N(http, "connections_refused"),
	       N(http, "requests_expired"));
	for (e = sessions ? sessions->child : NULL; e; e = e->next) {
		if (e == sessions->child)
			printf("Windows:\n");
		printf("  pid %llu  %s  uid %llu  %llu Hz  %.1f of %llu s  %llu samples\n",
		       N(e, "pid"), json_read__str(e, "type"), N(e, "uid"),
		       N(e, "hz"), json_read__num(e, "elapsed_ms") / 1000.0,
		       N(e, "seconds"), N(e, "samples"));
	}
	for (e = procs ? procs->child : NULL; e; e = e->next) {
		if (e == procs->child)
			printf("Heap-tracked:\n");
		const char *until = json_read__str(e, "until");

		printf("  pid %llu  %s mode  %s  sample_bytes %llu  allocator %s  %s\n",
		       N(e, "pid"), json_read__str(e, "mode"),
		       json_read__str(e, "state"), N(e, "sample_bytes"),
		       json_read__str(e, "allocator"),
		       until && !strcmp(until, "stop") ? "until heap stop" :
							 "until its one-off pulls are done");
	}
	printf("(profctl --json status: everything)\n");
}
