// SPDX-License-Identifier: GPL-2.0
/*
 * pprof writer round trip: build a profile with daemon/pprof.c, write it
 * gzip'd, read it back with protobuf-c through common/pprof_read.c and
 * compare every field that was set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pprof.h"
#include "pprof_read.h"

typedef Perftools__Profiles__Profile Prof;

static const char *S(const Prof *p, int64_t i)
{
	return pprof_read__str(p, i);
}

/*
 * A mapping's has_* flags say what its locations hold: a stripped library
 * whose frames got no names claims nothing (pprof would otherwise never
 * symbolize it), one with names but no DWARF only has_functions.
 */
static void check_mapping_flags(void)
{
	struct pprof_mapping_desc md = {
		.filename = "/lib/x.so", .build_id = "",
		.has_functions = true, .has_filenames = true,
		.has_line_numbers = true, .has_inline_frames = true,
	};
	struct pprof *pp = NULL;
	struct pprof_line named;
	int64_t m1, m2, m3, f, vals[1] = { 1 };
	uint64_t locs[3];
	size_t len = 0;
	void *buf = NULL;
	Prof *p = NULL;

	CHECK(pprof__new(&pp) == 0, "new");
	CHECK(pprof__add_sample_type(pp, "samples", "count") == 0, "type");
	m1 = pprof__add_mapping(pp, &md);	/* no names at all */
	m2 = pprof__add_mapping(pp, &md);	/* names, no files or lines */
	m3 = pprof__add_mapping(pp, &md);	/* everything */
	locs[0] = (uint64_t)pprof__add_location(pp, (uint64_t)m1, 0x10, NULL, 0);
	f = pprof__add_function(pp, "exported", NULL, "", 0);
	named = (struct pprof_line){ .function_id = (uint64_t)f, .line = 0 };
	locs[1] = (uint64_t)pprof__add_location(pp, (uint64_t)m2, 0x20, &named, 1);
	f = pprof__add_function(pp, "full", NULL, "x.c", 3);
	named = (struct pprof_line){ .function_id = (uint64_t)f, .line = 4 };
	locs[2] = (uint64_t)pprof__add_location(pp, (uint64_t)m3, 0x30, &named, 1);
	CHECK(pprof__add_sample(pp, locs, 3, vals, 1, NULL, 0) == 0, "sample");
	CHECK(pprof__write(pp, false, &buf, &len) == 0 &&
	      pprof_read__decode(buf, len, &p) == 0 && p->n_mapping == 3,
	      "write flags profile");
	if (p && p->n_mapping == 3) {
		Perftools__Profiles__Mapping **m = p->mapping;

		CHECK(!m[0]->has_functions && !m[0]->has_filenames &&
		      !m[0]->has_line_numbers && !m[0]->has_inline_frames,
		      "unnamed mapping claims nothing");
		CHECK(m[1]->has_functions && !m[1]->has_filenames &&
		      !m[1]->has_line_numbers && !m[1]->has_inline_frames,
		      "names only: has_functions only");
		CHECK(m[2]->has_functions && m[2]->has_filenames &&
		      m[2]->has_line_numbers && m[2]->has_inline_frames,
		      "full mapping keeps its claims");
	}
	pprof_read__free(p);
	free(buf);
	pprof__free(pp);
}

int main(void)
{
	struct pprof *pp = NULL;
	struct pprof_mapping_desc md = {
		.start = 0x400000, .limit = 0x500000, .offset = 0x1000,
		.filename = "/bin/app", .build_id = "abcdef",
		.has_functions = true, .has_filenames = true,
		.has_line_numbers = true, .has_inline_frames = false,
	};
	struct pprof_line inl[2], one;
	struct pprof_label labels[3] = {
		{ .key = "pid", .num = 42 },
		{ .key = "tid", .num = 43 },
		{ .key = "thread", .str = "worker" },
	};
	struct pprof_top_row *rows = NULL;
	int64_t m1, f1, f2, f3, l1, l2, vals[2], total = 0;
	uint64_t stack[2];
	size_t len = 0, nrows = 0;
	void *buf = NULL;
	Prof *p = NULL;
	int r;

	CHECK(pprof__new(&pp) == 0, "new");
	CHECK(pprof__add_sample_type(pp, "samples", "count") == 0, "type 0");
	CHECK(pprof__add_sample_type(pp, "cpu", "nanoseconds") == 0, "type 1");
	CHECK(pprof__set_period(pp, "cpu", "nanoseconds", 10101010) == 0, "period");
	pprof__set_time(pp, 1700000000123456789LL, 5000000000LL);
	CHECK(pprof__add_comment(pp, "hello comment") == 0, "comment");

	m1 = pprof__add_mapping(pp, &md);
	CHECK(m1 == 1, "mapping id %ld", (long)m1);
	f1 = pprof__add_function(pp, "leaf_inl", NULL, "a.c", 10);
	f2 = pprof__add_function(pp, "caller", NULL, "a.c", 20);
	f3 = pprof__add_function(pp, "leaf_inl", NULL, "a.c", 10);
	CHECK(f1 == 1 && f2 == 2 && f3 == f1, "function dedup %ld %ld %ld",
	      (long)f1, (long)f2, (long)f3);
	inl[0] = (struct pprof_line){ .function_id = (uint64_t)f1, .line = 11 };
	inl[1] = (struct pprof_line){ .function_id = (uint64_t)f2, .line = 22 };
	l1 = pprof__add_location(pp, (uint64_t)m1, 0x401234, inl, 2);
	one = (struct pprof_line){ .function_id = (uint64_t)f2, .line = 25 };
	l2 = pprof__add_location(pp, (uint64_t)m1, 0x401300, &one, 1);
	CHECK(l1 == 1 && l2 == 2, "location ids");

	stack[0] = (uint64_t)l1;
	stack[1] = (uint64_t)l2;
	vals[0] = 3;
	vals[1] = 3 * 10101010;
	CHECK(pprof__add_sample(pp, stack, 2, vals, 2, labels, 3) == 0, "sample 1");
	vals[0] = 1;
	vals[1] = 10101010;
	CHECK(pprof__add_sample(pp, &stack[1], 1, vals, 2, labels, 3) == 0, "sample 2");
	CHECK(pprof__add_sample(pp, stack, 2, vals, 1, NULL, 0) == -EINVAL,
	      "value count must match sample types");

	r = pprof__write(pp, true, &buf, &len);
	CHECK(r == 0 && len > 20, "write: %d", r);
	CHECK(len > 2 && ((unsigned char *)buf)[0] == 0x1f &&
	      ((unsigned char *)buf)[1] == 0x8b, "gzip magic");
	r = pprof_read__decode(buf, len, &p);
	CHECK(r == 0, "decode: %d", r);
	if (r == 0) {
		CHECK(p->n_string_table > 0 && !strcmp(p->string_table[0], ""),
		      "string_table[0] empty");
		CHECK(p->n_sample_type == 2 &&
		      !strcmp(S(p, p->sample_type[0]->type), "samples") &&
		      !strcmp(S(p, p->sample_type[1]->unit), "nanoseconds"),
		      "sample types");
		CHECK(p->period == 10101010 && p->period_type &&
		      !strcmp(S(p, p->period_type->type), "cpu"), "period");
		CHECK(p->time_nanos == 1700000000123456789LL &&
		      p->duration_nanos == 5000000000LL, "times");
		CHECK(p->n_comment == 1 && !strcmp(S(p, p->comment[0]), "hello comment"),
		      "comment");
		CHECK(p->n_mapping == 1 && p->mapping[0]->id == 1 &&
		      p->mapping[0]->memory_start == 0x400000 &&
		      p->mapping[0]->memory_limit == 0x500000 &&
		      p->mapping[0]->file_offset == 0x1000 &&
		      !strcmp(S(p, p->mapping[0]->filename), "/bin/app") &&
		      !strcmp(S(p, p->mapping[0]->build_id), "abcdef") &&
		      p->mapping[0]->has_functions && !p->mapping[0]->has_inline_frames,
		      "mapping");
		CHECK(p->n_location == 2 && p->location[0]->n_line == 2 &&
		      p->location[0]->line[0]->function_id == 1 &&
		      p->location[0]->line[0]->line == 11 &&
		      p->location[0]->line[1]->function_id == 2 &&
		      p->location[0]->address == 0x401234 &&
		      p->location[0]->mapping_id == 1, "inline location");
		CHECK(p->n_function == 2 &&
		      !strcmp(S(p, p->function[0]->name), "leaf_inl") &&
		      !strcmp(S(p, p->function[0]->filename), "a.c") &&
		      p->function[0]->start_line == 10, "functions");
		CHECK(p->n_sample == 2 && p->sample[0]->n_location_id == 2 &&
		      p->sample[0]->location_id[0] == 1 &&
		      p->sample[0]->value[1] == 3 * 10101010 &&
		      p->sample[0]->n_label == 3, "samples");
		if (p->n_sample == 2 && p->sample[0]->n_label == 3) {
			Perftools__Profiles__Label **lb = p->sample[0]->label;

			CHECK(!strcmp(S(p, lb[0]->key), "pid") && lb[0]->num == 42 &&
			      lb[0]->str == 0, "numeric label");
			CHECK(!strcmp(S(p, lb[2]->key), "thread") &&
			      !strcmp(S(p, lb[2]->str), "worker"), "string label");
		}
		/* Independent check through the top table: the inlined leaf
		 * has flat 3 samples; caller is cum in both samples. */
		r = pprof_read__top(p, 0, 0, &rows, &nrows, &total);
		CHECK(r == 0 && total == 4, "top: %d total %ld", r, (long)total);
		CHECK(nrows == 2 && !strcmp(rows[0].name, "leaf_inl") &&
		      rows[0].flat == 3 && rows[1].flat == 1 && rows[1].cum == 4,
		      "top rows");
		pprof_read__top_free(rows, nrows);
	}
	pprof_read__free(p);
	free(buf);

	/* Plain (not gzip'd) output parses too. */
	r = pprof__write(pp, false, &buf, &len);
	CHECK(r == 0 && pprof_read__decode(buf, len, &p) == 0 && p->n_sample == 2,
	      "plain write");
	pprof_read__free(p);
	free(buf);
	pprof__free(pp);
	check_mapping_flags();
	return check__done();
}
