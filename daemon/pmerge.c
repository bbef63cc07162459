// SPDX-License-Identifier: GPL-2.0
/*
 * pmerge: profiles merged as pprof merges them (pmerge.h). Equal mappings
 * and locations are found through one table keyed by their bytes (the
 * fields pprof compares, with ids already translated into the merged
 * profile's); functions are deduplicated by the pprof writer itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmerge.h"
#include "pprof.h"
#include "pprof_read.h"
#include "strtab.h"

/* An owned byte string -> value table (chained, doubling). */
struct kent {
	struct kent *next;
	uint64_t hash, val;
	size_t len;
	unsigned char key[];
};

struct kmap {
	struct kent **b;
	size_t nb, n;
};

static struct kent *kmap__find(const struct kmap *k, const void *key, size_t len,
			       uint64_t h)
{
	struct kent *e;

	if (!k->nb)
		return NULL;
	for (e = k->b[h & (k->nb - 1)]; e; e = e->next)
		if (e->hash == h && e->len == len && !memcmp(e->key, key, len))
			return e;
	return NULL;
}

static int kmap__put(struct kmap *k, const void *key, size_t len, uint64_t h,
		     uint64_t val)
{
	struct kent *e;
	size_t i;

	if (k->n >= k->nb / 2) {
		size_t nb = k->nb ? k->nb * 2 : 256;
		struct kent **b = calloc(nb, sizeof(*b)), *next;

		if (!b)
			return -ENOMEM;
		for (i = 0; i < k->nb; i++)
			for (e = k->b[i]; e; e = next) {
				next = e->next;
				e->next = b[e->hash & (nb - 1)];
				b[e->hash & (nb - 1)] = e;
			}
		free(k->b);
		k->b = b;
		k->nb = nb;
	}
	e = malloc(sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	e->hash = h;
	e->val = val;
	e->len = len;
	memcpy(e->key, key, len);
	e->next = k->b[h & (k->nb - 1)];
	k->b[h & (k->nb - 1)] = e;
	k->n++;
	return 0;
}

static void kmap__fini(struct kmap *k)
{
	struct kent *e, *next;
	size_t i;

	for (i = 0; i < k->nb; i++)
		for (e = k->b[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	free(k->b);
	memset(k, 0, sizeof(*k));
}

/* A growing byte buffer for keys. */
struct kbuf {
	unsigned char *p;
	size_t len, cap;
	bool oom;
};

static void kbuf__add(struct kbuf *b, const void *d, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		unsigned char *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void kbuf__u64(struct kbuf *b, uint64_t v)
{
	kbuf__add(b, &v, sizeof(v));
}

static void kbuf__str(struct kbuf *b, const char *s)
{
	kbuf__add(b, s, strlen(s) + 1);
}

struct msample {
	uint64_t *locs;
	size_t nlocs;
	int64_t *values;
	struct pprof_label *labels;	/* strings owned */
	size_t nlabels;
};

struct pmerge {
	struct pprof *out;
	struct kmap keys;		/* mapping, location and sample keys */
	struct kbuf kb;
	unsigned count;
	size_t ntypes;
	char **types;			/* type, unit pairs of the first */
	struct msample *samples;
	size_t nsamples, cap;
	int64_t start_ns, end_ns;
	char *period_type, *period_unit;
	int64_t period;
	char *default_type;
	bool written;
	const char *const *drop;	/* label keys left out */
	char **comments;		/* the first profile's */
	size_t ncomments;
};

int pmerge__new(struct pmerge **ret)
{
	struct pmerge *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	r = pprof__new(&m->out);
	if (r < 0) {
		free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void pmerge__free(struct pmerge *m)
{
	size_t i, j;

	if (!m)
		return;
	for (i = 0; i < m->nsamples; i++) {
		for (j = 0; j < m->samples[i].nlabels; j++) {
			free((char *)m->samples[i].labels[j].key);
			free((char *)m->samples[i].labels[j].str);
			free((char *)m->samples[i].labels[j].num_unit);
		}
		free(m->samples[i].labels);
		free(m->samples[i].locs);
		free(m->samples[i].values);
	}
	free(m->samples);
	for (i = 0; i < m->ntypes * 2; i++)
		free(m->types[i]);
	free(m->types);
	free(m->period_type);
	free(m->period_unit);
	free(m->default_type);
	for (i = 0; i < m->ncomments; i++)
		free(m->comments[i]);
	free(m->comments);
	kmap__fini(&m->keys);
	free(m->kb.p);
	pprof__free(m->out);
	free(m);
}

void pmerge__drop_labels(struct pmerge *m, const char *const *keys)
{
	m->drop = keys;
}

static bool dropped_label(const struct pmerge *m, const char *key)
{
	const char *const *k;

	for (k = m->drop; k && *k; k++)
		if (!strcmp(*k, key))
			return true;
	return false;
}

unsigned pmerge__count(const struct pmerge *m)
{
	return m->count;
}

/* Look the key in m->kb up; 1 and *ret when known, 0 when not. */
static int key_get(struct pmerge *m, uint64_t *ret_h, uint64_t *ret)
{
	struct kent *e;

	if (m->kb.oom)
		return -ENOMEM;
	*ret_h = hash__bytes(m->kb.p, m->kb.len, 0);
	e = kmap__find(&m->keys, m->kb.p, m->kb.len, *ret_h);
	if (!e)
		return 0;
	*ret = e->val;
	return 1;
}

static int first_profile(struct pmerge *m, const Perftools__Profiles__Profile *p)
{
	const char *dt;
	size_t i;
	int r;

	m->ntypes = p->n_sample_type;
	m->types = calloc(m->ntypes * 2 + 1, sizeof(*m->types));
	if (!m->types)
		return -ENOMEM;
	for (i = 0; i < m->ntypes; i++) {
		m->types[2 * i] = strdup(pprof_read__type(p, (int)i));
		m->types[2 * i + 1] = strdup(pprof_read__unit(p, (int)i));
		if (!m->types[2 * i] || !m->types[2 * i + 1])
			return -ENOMEM;
		r = pprof__add_sample_type(m->out, m->types[2 * i], m->types[2 * i + 1]);
		if (r < 0)
			return r;
	}
	if (p->period_type) {
		m->period_type = strdup(pprof_read__str(p, p->period_type->type));
		m->period_unit = strdup(pprof_read__str(p, p->period_type->unit));
		if (!m->period_type || !m->period_unit)
			return -ENOMEM;
	}
	m->period = p->period;
	dt = pprof_read__str(p, p->default_sample_type);
	if (dt[0] && !(m->default_type = strdup(dt)))
		return -ENOMEM;
	m->start_ns = p->time_nanos;
	m->end_ns = p->time_nanos + p->duration_nanos;
	m->comments = calloc(p->n_comment + 1, sizeof(*m->comments));
	if (!m->comments)
		return -ENOMEM;
	for (i = 0; i < p->n_comment; i++) {
		m->comments[i] = strdup(pprof_read__str(p, p->comment[i]));
		if (!m->comments[i])
			return -ENOMEM;
		m->ncomments++;
	}
	return 0;
}

static int same_types(struct pmerge *m, const Perftools__Profiles__Profile *p)
{
	size_t i;

	if (p->n_sample_type != m->ntypes)
		return -EINVAL;
	for (i = 0; i < m->ntypes; i++)
		if (strcmp(m->types[2 * i], pprof_read__type(p, (int)i)) ||
		    strcmp(m->types[2 * i + 1], pprof_read__unit(p, (int)i)))
			return -EINVAL;
	return 0;
}

static int64_t sample_pid(const Perftools__Profiles__Profile *p,
			  const Perftools__Profiles__Sample *s)
{
	size_t i;

	for (i = 0; i < s->n_label; i++)
		if (!strcmp(pprof_read__str(p, s->label[i]->key), "pid") &&
		    !s->label[i]->str)
			return s->label[i]->num;
	return 0;
}

static char *dup_or_null(const char *s, bool want, bool *oom)
{
	char *d;

	if (!want)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static int add_sample(struct pmerge *m, const Perftools__Profiles__Profile *p,
		      const Perftools__Profiles__Sample *s, const uint64_t *locs)
{
	struct msample *ms;
	uint64_t h, idx;
	bool oom = false;
	size_t i;
	int r;

	m->kb.len = 0;
	kbuf__add(&m->kb, "S", 1);
	kbuf__u64(&m->kb, s->n_location_id);
	kbuf__add(&m->kb, locs, s->n_location_id * sizeof(*locs));
	for (i = 0; i < s->n_label; i++) {
		const Perftools__Profiles__Label *l = s->label[i];

		if (dropped_label(m, pprof_read__str(p, l->key)))
			continue;
		kbuf__str(&m->kb, pprof_read__str(p, l->key));
		kbuf__str(&m->kb, l->str ? pprof_read__str(p, l->str) : "");
		kbuf__u64(&m->kb, (uint64_t)l->num);
		kbuf__str(&m->kb, pprof_read__str(p, l->num_unit));
	}
	r = key_get(m, &h, &idx);
	if (r < 0)
		return r;
	if (r) {
		for (i = 0; i < m->ntypes; i++)
			m->samples[idx].values[i] += s->value[i];
		return 0;
	}
	if (m->nsamples == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct msample *n = realloc(m->samples, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		m->samples = n;
		m->cap = cap;
	}
	ms = &m->samples[m->nsamples];
	memset(ms, 0, sizeof(*ms));
	ms->locs = malloc((s->n_location_id + 1) * sizeof(*ms->locs));
	ms->values = malloc((m->ntypes + 1) * sizeof(*ms->values));
	ms->labels = calloc(s->n_label + 1, sizeof(*ms->labels));
	if (!ms->locs || !ms->values || !ms->labels) {
		free(ms->locs);
		free(ms->values);
		free(ms->labels);
		return -ENOMEM;
	}
	memcpy(ms->locs, locs, s->n_location_id * sizeof(*locs));
	ms->nlocs = s->n_location_id;
	memcpy(ms->values, s->value, m->ntypes * sizeof(*ms->values));
	m->nsamples++;	/* owned from here: freed with the merge */
	for (i = 0; i < s->n_label; i++) {
		const Perftools__Profiles__Label *l = s->label[i];
		const char *unit = pprof_read__str(p, l->num_unit);

		if (dropped_label(m, pprof_read__str(p, l->key)))
			continue;
		ms->labels[ms->nlabels].key = dup_or_null(pprof_read__str(p, l->key), true, &oom);
		ms->labels[ms->nlabels].str = dup_or_null(pprof_read__str(p, l->str), l->str, &oom);
		ms->labels[ms->nlabels].num = l->num;
		ms->labels[ms->nlabels].num_unit = dup_or_null(unit, unit[0], &oom);
		ms->nlabels++;
	}
	if (oom)
		return -ENOMEM;
	return kmap__put(&m->keys, m->kb.p, m->kb.len, h, m->nsamples - 1);
}

int pmerge__add(struct pmerge *m, const Perftools__Profiles__Profile *p,
		int64_t pid)
{
	struct u64map mapids = {}, fnids = {}, locids = {};
	uint64_t h, id, *locs = NULL;
	size_t i, j, maxlocs = 0;
	int64_t nid;
	int r;

	if (!m->count) {
		r = first_profile(m, p);
		if (r < 0)
			return r;
	} else if (same_types(m, p) < 0) {
		return -EINVAL;
	}
	for (i = 0; i < p->n_mapping; i++) {
		const Perftools__Profiles__Mapping *mp = p->mapping[i];
		struct pprof_mapping_desc d = {
			.start = mp->memory_start, .limit = mp->memory_limit,
			.offset = mp->file_offset,
			.filename = pprof_read__str(p, mp->filename),
			.build_id = pprof_read__str(p, mp->build_id),
			.has_functions = mp->has_functions,
			.has_filenames = mp->has_filenames,
			.has_line_numbers = mp->has_line_numbers,
			.has_inline_frames = mp->has_inline_frames,
		};

		m->kb.len = 0;
		kbuf__add(&m->kb, "M", 1);
		kbuf__u64(&m->kb, d.start);
		kbuf__u64(&m->kb, d.limit);
		kbuf__u64(&m->kb, d.offset);
		kbuf__str(&m->kb, d.filename);
		kbuf__str(&m->kb, d.build_id);
		r = key_get(m, &h, &id);
		if (r < 0)
			goto out;
		if (!r) {
			nid = pprof__add_mapping(m->out, &d);
			if (nid < 0) {
				r = (int)nid;
				goto out;
			}
			id = (uint64_t)nid;
			r = kmap__put(&m->keys, m->kb.p, m->kb.len, h, id);
			if (r < 0)
				goto out;
		}
		r = mp->id ? u64map__put(&mapids, mp->id, id) : -EINVAL;
		if (r < 0)
			goto out;
	}
	for (i = 0; i < p->n_function; i++) {
		const Perftools__Profiles__Function *f = p->function[i];

		nid = pprof__add_function(m->out, pprof_read__str(p, f->name),
					  pprof_read__str(p, f->system_name),
					  pprof_read__str(p, f->filename),
					  f->start_line);
		r = nid < 0 ? (int)nid : f->id ? u64map__put(&fnids, f->id, (uint64_t)nid) : -EINVAL;
		if (r < 0)
			goto out;
	}
	for (i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];
		struct pprof_line *lines = calloc(l->n_line + 1, sizeof(*lines));
		uint64_t mid = 0;

		if (!lines) {
			r = -ENOMEM;
			goto out;
		}
		r = 0;
		if (l->mapping_id && u64map__get(&mapids, l->mapping_id, &mid) < 0)
			r = -EINVAL;
		m->kb.len = 0;
		kbuf__add(&m->kb, "L", 1);
		kbuf__u64(&m->kb, mid);
		kbuf__u64(&m->kb, l->address);
		for (j = 0; j < l->n_line && !r; j++) {
			if (u64map__get(&fnids, l->line[j]->function_id,
					&lines[j].function_id) < 0)
				r = -EINVAL;
			lines[j].line = l->line[j]->line;
			kbuf__u64(&m->kb, lines[j].function_id);
			kbuf__u64(&m->kb, (uint64_t)lines[j].line);
		}
		if (!r)
			r = key_get(m, &h, &id);
		if (r == 0) {
			nid = pprof__add_location(m->out, mid, l->address, lines,
						  l->n_line);
			r = nid < 0 ? (int)nid :
			    kmap__put(&m->keys, m->kb.p, m->kb.len, h, (uint64_t)nid);
			id = (uint64_t)nid;
		}
		free(lines);
		if (r >= 0)
			r = l->id ? u64map__put(&locids, l->id, id) : -EINVAL;
		if (r < 0)
			goto out;
	}
	for (i = 0; i < p->n_sample; i++)
		if (p->sample[i]->n_location_id > maxlocs)
			maxlocs = p->sample[i]->n_location_id;
	locs = calloc(maxlocs + 1, sizeof(*locs));
	if (!locs) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];

		if (s->n_value != m->ntypes) {
			r = -EINVAL;
			goto out;
		}
		if (pid && sample_pid(p, s) != pid)
			continue;
		for (j = 0; j < s->n_location_id; j++)
			if (u64map__get(&locids, s->location_id[j], &locs[j]) < 0) {
				r = -EINVAL;
				goto out;
			}
		r = add_sample(m, p, s, locs);
		if (r < 0)
			goto out;
	}
	if (m->count) {
		if (p->time_nanos && (!m->start_ns || p->time_nanos < m->start_ns))
			m->start_ns = p->time_nanos;
		if (p->time_nanos + p->duration_nanos > m->end_ns)
			m->end_ns = p->time_nanos + p->duration_nanos;
	}
	m->count++;
	r = 0;
out:
	free(locs);
	u64map__fini(&mapids);
	u64map__fini(&fnids);
	u64map__fini(&locids);
	return r;
}

int pmerge__write(struct pmerge *m, void **ret_buf, size_t *ret_len)
{
	char comment[96];
	size_t i;
	int r;

	if (!m->count)
		return -ENOENT;
	if (m->written)
		return -EALREADY;
	m->written = true;
	for (i = 0; i < m->nsamples; i++) {
		const struct msample *s = &m->samples[i];

		r = pprof__add_sample(m->out, s->locs, s->nlocs, s->values,
				      m->ntypes, s->labels, s->nlabels);
		if (r < 0)
			return r;
	}
	if (m->period_type) {
		r = pprof__set_period(m->out, m->period_type, m->period_unit, m->period);
		if (r < 0)
			return r;
	}
	if (m->default_type) {
		r = pprof__set_default_sample_type(m->out, m->default_type);
		if (r < 0)
			return r;
	}
	pprof__set_time(m->out, m->start_ns, m->end_ns - m->start_ns);
	for (i = 0; i < m->ncomments; i++) {
		r = pprof__add_comment(m->out, m->comments[i]);
		if (r < 0)
			return r;
	}
	if (m->count > 1) {
		snprintf(comment, sizeof(comment), "profd: %u profiles merged", m->count);
		r = pprof__add_comment(m->out, comment);
		if (r < 0)
			return r;
	}
	return pprof__write(m->out, true, ret_buf, ret_len);
}
