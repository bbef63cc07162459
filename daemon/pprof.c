// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pprof.h"
#include "profile.pb-c.h"
#include "strtab.h"

typedef Perftools__Profiles__Profile PbProfile;
typedef Perftools__Profiles__ValueType PbValueType;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Label PbLabel;
typedef Perftools__Profiles__Mapping PbMapping;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Line PbLine;
typedef Perftools__Profiles__Function PbFunction;

/* A growable array of pointers to messages we own. */
struct vec {
	void **v;
	size_t n, cap;
};

static int vec__push(struct vec *v, void *e)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 32;
		void **nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = e;
	return 0;
}

struct pprof {
	struct strtab *strs;
	struct vec sample_types, samples, mappings, locations, functions;
	int64_t *comments;
	size_t ncomments;
	PbValueType period_type;
	int64_t period, time_nanos, duration_nanos, default_type;
	struct u64map func_ids;	/* hash(name,sys,file) -> index+1 chain head */
};

int pprof__new(struct pprof **ret)
{
	struct pprof *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	err = strtab__new(&p->strs);
	if (err) {
		free(p);
		return err;
	}
	perftools__profiles__value_type__init(&p->period_type);
	*ret = p;
	return 0;
}

static void free_samples(struct vec *v)
{
	size_t i, j;

	for (i = 0; i < v->n; i++) {
		PbSample *s = v->v[i];

		for (j = 0; j < s->n_label; j++)
			free(s->label[j]);
		free(s->label);
		free(s->location_id);
		free(s->value);
		free(s);
	}
	free(v->v);
}

static void free_locations(struct vec *v)
{
	size_t i, j;

	for (i = 0; i < v->n; i++) {
		PbLocation *l = v->v[i];

		for (j = 0; j < l->n_line; j++)
			free(l->line[j]);
		free(l->line);
		free(l);
	}
	free(v->v);
}

static void free_plain(struct vec *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
}

void pprof__free(struct pprof *p)
{
	if (!p)
		return;
	free_plain(&p->sample_types);
	free_samples(&p->samples);
	free_plain(&p->mappings);
	free_locations(&p->locations);
	free_plain(&p->functions);
	free(p->comments);
	u64map__fini(&p->func_ids);
	strtab__free(p->strs);
	free(p);
}

int pprof__add_sample_type(struct pprof *p, const char *type, const char *unit)
{
	PbValueType *vt = malloc(sizeof(*vt));
	int64_t t, u;

	if (!vt)
		return -ENOMEM;
	perftools__profiles__value_type__init(vt);
	t = strtab__intern(p->strs, type);
	u = strtab__intern(p->strs, unit);
	if (t < 0 || u < 0 || vec__push(&p->sample_types, vt) < 0) {
		free(vt);
		return -ENOMEM;
	}
	vt->type = t;
	vt->unit = u;
	return 0;
}

int pprof__set_period(struct pprof *p, const char *type, const char *unit,
		      int64_t period)
{
	int64_t t = strtab__intern(p->strs, type);
	int64_t u = strtab__intern(p->strs, unit);

	if (t < 0 || u < 0)
		return -ENOMEM;
	p->period_type.type = t;
	p->period_type.unit = u;
	p->period = period;
	return 0;
}

int pprof__set_default_sample_type(struct pprof *p, const char *type)
{
	int64_t t = strtab__intern(p->strs, type);

	if (t < 0)
		return -ENOMEM;
	p->default_type = t;
	return 0;
}

void pprof__set_time(struct pprof *p, int64_t time_nanos,
		     int64_t duration_nanos)
{
	p->time_nanos = time_nanos;
	p->duration_nanos = duration_nanos;
}

int pprof__add_comment(struct pprof *p, const char *comment)
{
	int64_t c = strtab__intern(p->strs, comment);
	int64_t *nc;

	if (c < 0)
		return -ENOMEM;
	nc = realloc(p->comments, (p->ncomments + 1) * sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	p->comments = nc;
	p->comments[p->ncomments++] = c;
	return 0;
}

int64_t pprof__add_mapping(struct pprof *p, const struct pprof_mapping_desc *d)
{
	PbMapping *m = malloc(sizeof(*m));
	int64_t f, b;

	if (!m)
		return -ENOMEM;
	perftools__profiles__mapping__init(m);
	f = strtab__intern(p->strs, d->filename);
	b = strtab__intern(p->strs, d->build_id);
	if (f < 0 || b < 0 || vec__push(&p->mappings, m) < 0) {
		free(m);
		return -ENOMEM;
	}
	m->id = p->mappings.n;
	m->memory_start = d->start;
	m->memory_limit = d->limit;
	m->file_offset = d->offset;
	m->filename = f;
	m->build_id = b;
	m->has_functions = d->has_functions;
	m->has_filenames = d->has_filenames;
	m->has_line_numbers = d->has_line_numbers;
	m->has_inline_frames = d->has_inline_frames;
	return (int64_t)m->id;
}

int64_t pprof__add_function(struct pprof *p, const char *name,
			    const char *system_name, const char *filename,
			    int64_t start_line)
{
	int64_t n = strtab__intern(p->strs, name);
	int64_t s = strtab__intern(p->strs, system_name ? system_name : name);
	int64_t f = strtab__intern(p->strs, filename);
	uint64_t key, idx;
	PbFunction *fn;

	if (n < 0 || s < 0 || f < 0)
		return -ENOMEM;
	/* Interned indices are unique per string: the triple is the key. */
	key = hash__u64((uint64_t)n, hash__u64((uint64_t)s,
					       hash__u64((uint64_t)f, 0))) | 1;
	while (u64map__get(&p->func_ids, key, &idx) == 0) {
		fn = p->functions.v[idx - 1];
		if (fn->name == n && fn->system_name == s && fn->filename == f)
			return (int64_t)fn->id;
		key = hash__u64(key, 1) | 1;	/* collision: probe on */
	}
	fn = malloc(sizeof(*fn));
	if (!fn)
		return -ENOMEM;
	perftools__profiles__function__init(fn);
	if (vec__push(&p->functions, fn) < 0) {
		free(fn);
		return -ENOMEM;
	}
	fn->id = p->functions.n;
	fn->name = n;
	fn->system_name = s;
	fn->filename = f;
	fn->start_line = start_line;
	if (u64map__put(&p->func_ids, key, fn->id) < 0)
		return -ENOMEM;
	return (int64_t)fn->id;
}

int64_t pprof__add_location(struct pprof *p, uint64_t mapping_id,
			    uint64_t address, const struct pprof_line *lines,
			    size_t nlines)
{
	PbLocation *l = calloc(1, sizeof(*l));
	size_t i;

	if (!l)
		return -ENOMEM;
	perftools__profiles__location__init(l);
	if (nlines) {
		l->line = calloc(nlines, sizeof(*l->line));
		if (!l->line)
			goto fail;
	}
	for (i = 0; i < nlines; i++) {
		PbLine *ln = malloc(sizeof(*ln));

		if (!ln)
			goto fail;
		perftools__profiles__line__init(ln);
		ln->function_id = lines[i].function_id;
		ln->line = lines[i].line;
		l->line[l->n_line++] = ln;
	}
	if (vec__push(&p->locations, l) < 0)
		goto fail;
	l->id = p->locations.n;
	l->mapping_id = mapping_id;
	l->address = address;
	return (int64_t)l->id;
fail:
	for (i = 0; i < l->n_line; i++)
		free(l->line[i]);
	free(l->line);
	free(l);
	return -ENOMEM;
}

int pprof__add_sample(struct pprof *p, const uint64_t *loc_ids, size_t nlocs,
		      const int64_t *values, size_t nvalues,
		      const struct pprof_label *labels, size_t nlabels)
{
	PbSample *s = calloc(1, sizeof(*s));
	size_t i;

	if (!s)
		return -ENOMEM;
	perftools__profiles__sample__init(s);
	if (nvalues != p->sample_types.n)
		goto inval;
	s->location_id = malloc((nlocs ? nlocs : 1) * sizeof(*loc_ids));
	s->value = malloc((nvalues ? nvalues : 1) * sizeof(*values));
	s->label = calloc(nlabels ? nlabels : 1, sizeof(*s->label));
	if (!s->location_id || !s->value || !s->label)
		goto nomem;
	memcpy(s->location_id, loc_ids, nlocs * sizeof(*loc_ids));
	s->n_location_id = nlocs;
	memcpy(s->value, values, nvalues * sizeof(*values));
	s->n_value = nvalues;
	for (i = 0; i < nlabels; i++) {
		PbLabel *lb = malloc(sizeof(*lb));
		int64_t k, v = 0, u = 0;

		if (!lb)
			goto nomem;
		perftools__profiles__label__init(lb);
		s->label[s->n_label++] = lb;
		k = strtab__intern(p->strs, labels[i].key);
		if (labels[i].str)
			v = strtab__intern(p->strs, labels[i].str);
		if (labels[i].num_unit)
			u = strtab__intern(p->strs, labels[i].num_unit);
		if (k < 0 || v < 0 || u < 0)
			goto nomem;
		lb->key = k;
		if (labels[i].str)
			lb->str = v;
		else
			lb->num = labels[i].num;
		lb->num_unit = u;
	}
	if (vec__push(&p->samples, s) < 0)
		goto nomem;
	return 0;
inval:
	free(s);
	return -EINVAL;
nomem:
	for (i = 0; i < s->n_label; i++)
		free(s->label[i]);
	free(s->label);
	free(s->location_id);
	free(s->value);
	free(s);
	return -ENOMEM;
}

/* gzip @len bytes of @buf into a malloc'd buffer. 0 or -errno. */
static int pprof__gzip(const void *buf, size_t len, void **ret_buf,
		       size_t *ret_len)
{
	z_stream z = {};
	size_t cap;
	void *out;
	int r;

	/* windowBits 15 + 16: a gzip header and trailer, as pprof expects. */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, len) + 32;
	out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)buf;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	r = deflate(&z, Z_FINISH);
	if (r != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return -EIO;
	}
	*ret_len = z.total_out;
	deflateEnd(&z);
	*ret_buf = out;
	return 0;
}

/*
 * A mapping's has_* flags say what its locations hold, not what its
 * binary could give: a flag the caller set stays only when some location
 * of the mapping has a function (has_functions), a function with a file
 * name (has_filenames) or a line number (has_line_numbers, and with it
 * has_inline_frames). pprof trusts a set flag and will not symbolize the
 * mapping itself, so a stripped library whose frames got no names must
 * not claim any. O(locations + lines). The claims are kept in @ret_saved
 * (one byte per mapping) for pprof__restore_flags(): the builder stays
 * usable after a write.
 */
enum { FLAG_FN = 1, FLAG_FILE = 2, FLAG_LINE = 4, FLAG_INLINE = 8 };

static int pprof__settle_flags(struct pprof *p, uint8_t **ret_saved)
{
	size_t nm = p->mappings.n, i, j;
	uint8_t *seen = calloc(nm ? nm : 1, 2);

	if (!seen)
		return -ENOMEM;
	for (i = 0; i < p->locations.n; i++) {
		PbLocation *l = p->locations.v[i];

		if (!l->mapping_id || l->mapping_id > nm)
			continue;
		for (j = 0; j < l->n_line; j++) {
			PbLine *ln = l->line[j];
			PbFunction *fn;

			if (!ln->function_id || ln->function_id > p->functions.n)
				continue;
			fn = p->functions.v[ln->function_id - 1];
			seen[l->mapping_id - 1] |= FLAG_FN;
			if (fn->filename)
				seen[l->mapping_id - 1] |= FLAG_FILE;
			if (ln->line > 0)
				seen[l->mapping_id - 1] |= FLAG_LINE;
		}
	}
	for (i = 0; i < nm; i++) {
		PbMapping *m = p->mappings.v[i];
		uint8_t *saved = &seen[nm + i];

		*saved = (m->has_functions ? FLAG_FN : 0) |
			 (m->has_filenames ? FLAG_FILE : 0) |
			 (m->has_line_numbers ? FLAG_LINE : 0) |
			 (m->has_inline_frames ? FLAG_INLINE : 0);
		m->has_functions &= !!(seen[i] & FLAG_FN);
		m->has_filenames &= !!(seen[i] & FLAG_FILE);
		m->has_line_numbers &= !!(seen[i] & FLAG_LINE);
		m->has_inline_frames &= !!(seen[i] & FLAG_LINE);
	}
	*ret_saved = seen;
	return 0;
}

static void pprof__restore_flags(struct pprof *p, uint8_t *seen)
{
	size_t nm = p->mappings.n, i;

	for (i = 0; i < nm; i++) {
		PbMapping *m = p->mappings.v[i];
		uint8_t saved = seen[nm + i];

		m->has_functions = !!(saved & FLAG_FN);
		m->has_filenames = !!(saved & FLAG_FILE);
		m->has_line_numbers = !!(saved & FLAG_LINE);
		m->has_inline_frames = !!(saved & FLAG_INLINE);
	}
	free(seen);
}

int pprof__write(struct pprof *p, bool gzip, void **ret_buf, size_t *ret_len)
{
	PbProfile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	void *raw, *out;
	size_t len, olen;
	uint8_t *saved;
	int r;

	if (pprof__settle_flags(p, &saved) < 0)
		return -ENOMEM;
	prof.n_sample_type = p->sample_types.n;
	prof.sample_type = (PbValueType **)p->sample_types.v;
	prof.n_sample = p->samples.n;
	prof.sample = (PbSample **)p->samples.v;
	prof.n_mapping = p->mappings.n;
	prof.mapping = (PbMapping **)p->mappings.v;
	prof.n_location = p->locations.n;
	prof.location = (PbLocation **)p->locations.v;
	prof.n_function = p->functions.n;
	prof.function = (PbFunction **)p->functions.v;
	prof.n_string_table = strtab__count(p->strs);
	prof.string_table = strtab__strings(p->strs);
	prof.time_nanos = p->time_nanos;
	prof.duration_nanos = p->duration_nanos;
	prof.period_type = &p->period_type;
	prof.period = p->period;
	prof.n_comment = p->ncomments;
	prof.comment = p->comments;
	prof.default_sample_type = p->default_type;

	len = perftools__profiles__profile__get_packed_size(&prof);
	raw = malloc(len ? len : 1);
	if (raw)
		perftools__profiles__profile__pack(&prof, raw);
	pprof__restore_flags(p, saved);
	if (!raw)
		return -ENOMEM;
	if (!gzip) {
		*ret_buf = raw;
		*ret_len = len;
		return 0;
	}
	r = pprof__gzip(raw, len, &out, &olen);
	free(raw);
	if (r < 0)
		return r;
	*ret_buf = out;
	*ret_len = olen;
	return 0;
}
