/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pprof_read: decode a pprof profile (gzip'd or plain protobuf) and compute
 * a "top" table from it, like `go tool pprof -top`. Used by profctl and by
 * the unit tests to check what the daemon wrote.
 *
 * Pure: no I/O, no logging. Everything a caller hands in may be hostile:
 * inflation is bounded, every id is resolved through a table and checked,
 * and errors come back as -errno instead of crashes.
 */
#ifndef PROFD_PPROF_READ_H
#define PROFD_PPROF_READ_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.pb-c.h"

/* Largest inflated profile pprof_read__decode() accepts. */
#define PPROF_READ_MAX_INFLATED		(512ULL << 20)

/*
 * One row of the top table. Rows own their strings (copies), so they stay
 * valid after the profile is freed; release them with pprof_read__top_free().
 */
struct pprof_top_row {
	char *name;		/* function name; for unsymbolized frames "[<mapping
				 * basename>]" or "<unknown>" (see below) */
	char *file;		/* source file of @line ("" when unknown) */
	int64_t line;		/* the function's hottest line: the most flat value
				 * (the most cum where it has no flat), as the
				 * rows of `pprof -lines` rank them; 0 unknown */
	int64_t close_line;	/* the runner-up when it has at least
				 * PPROF_TOP_CLOSE of @line's value (no line
				 * stands out), else 0 */
	bool close_file_differs;	/* ...and lies in another file */
	int64_t flat;		/* value where this function is the innermost frame */
	int64_t cum;		/* value where it is anywhere on the stack */
};

/* A second line this close to the hottest makes neither "the" line. */
#define PPROF_TOP_CLOSE		0.9

struct pprof_top_opts {
	int sample_index;	/* < 0: the default (pprof_read__sample_index()) */
	size_t max_rows;	/* 0: all */
	bool by_cum;		/* order by cum, as pprof -top -cum */
	const regex_t *focus;	/* NULL, or only samples with a location whose
				 * function name or file, or mapping file,
				 * matches (pprof -focus) */
};

/**
 * pprof_read__decode() - parse a pprof profile.
 * @buf: the file contents; gzip is detected by its magic (1f 8b), several
 *       concatenated gzip members are read as one stream.
 * @len: bytes in @buf.
 * @ret: set to the profile on success, untouched on failure.
 *
 * Return: 0, -EINVAL for malformed data (bad gzip, bad protobuf, empty input,
 * string_table[0] not ""), -EFBIG when it inflates to more than
 * PPROF_READ_MAX_INFLATED bytes, or -ENOMEM. Ids are not resolved here;
 * pprof_read__top() checks the ones it follows.
 */
int pprof_read__decode(const void *buf, size_t len,
		       Perftools__Profiles__Profile **ret);

/* As pprof_read__decode() with a caller-chosen inflation bound. */
int pprof_read__decode_bounded(const void *buf, size_t len, size_t max_inflated,
			       Perftools__Profiles__Profile **ret);

/* Free a decoded profile; NULL is fine. */
void pprof_read__free(Perftools__Profiles__Profile *p);

/*
 * pprof_read__str() - string_table[@idx], or "" when @idx is out of range.
 * The string lives as long as the profile.
 */
const char *pprof_read__str(const Perftools__Profiles__Profile *p, int64_t idx);

/*
 * Type and unit of sample_type[@idx] ("cpu", "nanoseconds"), "" when @idx
 * is out of range. Valid as long as the profile.
 */
const char *pprof_read__type(const Perftools__Profiles__Profile *p, int idx);
const char *pprof_read__unit(const Perftools__Profiles__Profile *p, int idx);

/**
 * pprof_read__sample_index() - pick a sample type, as pprof's -sample_index.
 * @spec: NULL or "" for the default (default_sample_type when it names one
 *        of the types, else the last type), a decimal index, or a type name
 *        such as "inuse_space".
 *
 * Return: the index (>= 0), or -EINVAL when the profile has no sample types
 * or @spec matches none of them.
 */
int pprof_read__sample_index(const Perftools__Profiles__Profile *p,
			     const char *spec);

/**
 * pprof_read__top() - flat and cumulative value per function.
 * @p: a decoded profile.
 * @sample_index: which value of each sample to sum; < 0 for the default
 *                (see pprof_read__sample_index()).
 * @max_rows: keep at most this many rows; 0 for all.
 * @ret_rows: set to a malloc'd array, sorted by flat then cum (descending),
 *            then name; free with pprof_read__top_free().
 * @ret_n: set to the number of rows.
 * @ret_total: set to the sum of the chosen value over all samples.
 *
 * Rows with zero flat and cum are left out, as pprof does.
 * Rows are keyed by function name: functions with equal names share a row.
 * Locations without a function (unsymbolized) are gathered per mapping, as
 * `go tool pprof -top` does: one row named "[libfoo.so]" (the base name of
 * the mapping's file in brackets; names already bracketed, like "[vdso]",
 * are kept) per mapping base name, and one "<unknown>" row for those
 * without a mapping or whose mapping has no file name. An inlined
 * location (several Lines) counts its innermost Line as the leaf; a function
 * is counted at most once per sample in cum, so recursion does not inflate it.
 * Cost: O(locations + (functions + mappings) log (functions + mappings) +
 * total stack frames).
 *
 * Return: 0; -EINVAL for a bad @sample_index or an inconsistent profile
 * (zero or duplicate ids, a sample naming a missing location, a line naming a
 * missing function, an unsymbolized location naming a missing mapping, a
 * value count that differs from the sample types);
 * -EOVERFLOW when sums overflow int64; -E2BIG for 2^32 or more functions,
 * mappings or locations; -ENOMEM. Outputs untouched on failure.
 */
int pprof_read__top(const Perftools__Profiles__Profile *p, int sample_index,
		    size_t max_rows, struct pprof_top_row **ret_rows,
		    size_t *ret_n, int64_t *ret_total);

/**
 * pprof_read__top_opts() - pprof_read__top() with pprof -top's options.
 * @ret_total: the chosen value over all samples (percentages are of it,
 *             as pprof's are unless -relative_percentages).
 * @ret_focused: the same over the samples @o->focus keeps (may be NULL).
 * Rows are ordered by flat, then name, then cum (pprof's FlatNameOrder),
 * or with @o->by_cum by cum, then name, then flat.
 */
int pprof_read__top_opts(const Perftools__Profiles__Profile *p,
			 const struct pprof_top_opts *o,
			 struct pprof_top_row **ret_rows, size_t *ret_n,
			 int64_t *ret_total, int64_t *ret_focused);

/* Free rows from pprof_read__top(); NULL is fine. */
void pprof_read__top_free(struct pprof_top_row *rows, size_t n);

/* One line of folded stacks: "root;...;leaf value". */
struct pprof_folded {
	char *stack;		/* frame names, root first, ';' between */
	int64_t value;
};

/**
 * pprof_read__folded() - the profile as folded stacks, the input of
 * flamegraph.pl, speedscope and inferno.
 * @sample_index: the value to count (< 0: the default).
 * @focus: NULL, or keep only samples through a matching location.
 *
 * Every Line is a frame (inlined ones too), named as in the top table
 * (unsymbolized frames "[libfoo.so]"); a ';' or newline inside a name is
 * written as ':' or ' '. Samples with equal stacks are summed, stacks with
 * value 0 left out; sorted by stack. Returns 0 with *ret (free with
 * pprof_read__folded_free()) and *ret_n, or -errno as pprof_read__top().
 */
int pprof_read__folded(const Perftools__Profiles__Profile *p, int sample_index,
		       const regex_t *focus, struct pprof_folded **ret,
		       size_t *ret_n);
void pprof_read__folded_free(struct pprof_folded *f, size_t n);

#endif /* PROFD_PPROF_READ_H */
