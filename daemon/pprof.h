/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pprof: build a profile.proto message and write it gzip-compressed. Pure:
 * it knows nothing of processes or BPF. Functions are deduplicated by
 * (name, system name, file); mappings and locations are added by the caller,
 * which knows their identity.
 */
#ifndef PROFD_PPROF_H
#define PROFD_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pprof;

struct pprof_line {
	uint64_t function_id;
	int64_t line;
};

struct pprof_label {
	const char *key;
	const char *str;	/* NULL for a numeric label */
	int64_t num;
	const char *num_unit;	/* NULL: none */
};

struct pprof_mapping_desc {
	uint64_t start, limit, offset;
	const char *filename;
	const char *build_id;
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

/* An empty profile: 0 and *ret set, or -ENOMEM (*ret untouched). */
int pprof__new(struct pprof **ret);
void pprof__free(struct pprof *p);

int pprof__add_sample_type(struct pprof *p, const char *type, const char *unit);
int pprof__set_period(struct pprof *p, const char *type, const char *unit,
		      int64_t period);
int pprof__set_default_sample_type(struct pprof *p, const char *type);
void pprof__set_time(struct pprof *p, int64_t time_nanos,
		     int64_t duration_nanos);
int pprof__add_comment(struct pprof *p, const char *comment);

/* Each returns the new (or existing) id > 0, or -errno. */
int64_t pprof__add_mapping(struct pprof *p, const struct pprof_mapping_desc *m);
int64_t pprof__add_function(struct pprof *p, const char *name,
			    const char *system_name, const char *filename,
			    int64_t start_line);
int64_t pprof__add_location(struct pprof *p, uint64_t mapping_id,
			    uint64_t address, const struct pprof_line *lines,
			    size_t nlines);

/* @loc_ids leaf first; @values: one per sample type. 0 or -errno. */
int pprof__add_sample(struct pprof *p, const uint64_t *loc_ids, size_t nlocs,
		      const int64_t *values, size_t nvalues,
		      const struct pprof_label *labels, size_t nlabels);

/*
 * pprof__write() - serialise (gzip when @gzip) into a malloc'd buffer.
 * 0 and *ret_buf, *ret_len set, or -errno. The builder stays usable.
 * Mappings are written with the has_* flags their locations bear out (a
 * flag the caller set is dropped when no location of the mapping has a
 * function, a file name or a line number).
 */
int pprof__write(struct pprof *p, bool gzip, void **ret_buf, size_t *ret_len);

#endif /* PROFD_PPROF_H */
