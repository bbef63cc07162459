// SPDX-License-Identifier: GPL-2.0
#define ZLIB_CONST
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pprof_read.h"

/* Row name of unsymbolized frames outside any named mapping, as pprof's. */
#define TOP_UNKNOWN	"<unknown>"

static bool is_gzip(const uint8_t *b, size_t len)
{
	return len >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

/*
 * Inflate all gzip members in @in. The output buffer grows by doubling up to
 * @max + 1 bytes, so a zip bomb costs at most @max bytes of memory before it
 * is refused.
 */
static int pprof_read__gunzip(const uint8_t *in, size_t in_len, size_t max,
			      uint8_t **ret, size_t *ret_len)
{
	z_stream z;
	uint8_t *out = NULL, *tmp;
	size_t cap = 0, n = 0, left = in_len, newcap;
	int zr, r;

	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	z.next_in = in;

	for (;;) {
		if (n == cap) {
			newcap = cap ? cap * 2 : (in_len < (16 << 20) ? in_len * 4 : in_len);
			if (newcap < 65536)
				newcap = 65536;
			if (newcap > max + 1 || newcap < cap)
				newcap = max + 1;
			tmp = realloc(out, newcap);
			if (!tmp) {
				r = -ENOMEM;
				goto out;
			}
			out = tmp;
			cap = newcap;
		}
		/* avail_in/avail_out are 32 bits wide: feed in slices. */
		if (!z.avail_in && left) {
			z.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
			left -= z.avail_in;
		}
		z.next_out = out + n;
		z.avail_out = cap - n > UINT_MAX ? UINT_MAX : (uInt)(cap - n);

		zr = inflate(&z, Z_NO_FLUSH);
		n = (size_t)(z.next_out - out);
		if (n > max) {
			r = -EFBIG;
			goto out;
		}
		if (zr == Z_STREAM_END) {
			size_t rest = z.avail_in + left;

			if (!rest)
				break;
			/* Another member follows (as `cat a.gz b.gz`)? */
			if (!is_gzip(z.next_in, z.avail_in) || inflateReset(&z) != Z_OK) {
				r = -EINVAL;
				goto out;
			}
			continue;
		}
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR && !z.avail_out)
			continue;
		/*
		 * Z_BUF_ERROR with room left means the input ran out before
		 * the end of the stream: truncated.
		 */
		r = zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
		goto out;
	}

	*ret = out;
	*ret_len = n;
	out = NULL;
	r = 0;
out:
	(void)inflateEnd(&z);
	free(out);
	return r;
}

int pprof_read__decode_bounded(const void *buf, size_t len, size_t max_inflated,
			       Perftools__Profiles__Profile **ret)
{
	Perftools__Profiles__Profile *p;
	const uint8_t *data = buf;
	uint8_t *raw = NULL;
	size_t raw_len;
	int r;

	if (!buf || !len)
		return -EINVAL;
	if (is_gzip(data, len)) {
		r = pprof_read__gunzip(data, len, max_inflated, &raw, &raw_len);
		if (r < 0)
			return r;
		data = raw;
		len = raw_len;
	} else if (len > max_inflated) {
		return -EFBIG;
	}
	if (!len) {
		r = -EINVAL;
		goto out;
	}

	/* NULL from unpack is a parse error or ENOMEM; it cannot say which. */
	p = perftools__profiles__profile__unpack(NULL, len, data);
	if (!p) {
		r = -EINVAL;
		goto out;
	}
	if (!p->n_string_table || !p->string_table[0] || p->string_table[0][0]) {
		perftools__profiles__profile__free_unpacked(p, NULL);
		r = -EINVAL;
		goto out;
	}
	*ret = p;
	r = 0;
out:
	free(raw);
	return r;
}

int pprof_read__decode(const void *buf, size_t len,
		       Perftools__Profiles__Profile **ret)
{
	return pprof_read__decode_bounded(buf, len, PPROF_READ_MAX_INFLATED, ret);
}

void pprof_read__free(Perftools__Profiles__Profile *p)
{
	if (p)
		perftools__profiles__profile__free_unpacked(p, NULL);
}

const char *pprof_read__str(const Perftools__Profiles__Profile *p, int64_t idx)
{
	if (!p || idx < 0 || (uint64_t)idx >= p->n_string_table ||
	    !p->string_table[idx])
		return "";
	return p->string_table[idx];
}

const char *pprof_read__type(const Perftools__Profiles__Profile *p, int idx)
{
	if (!p || idx < 0 || (size_t)idx >= p->n_sample_type)
		return "";
	return pprof_read__str(p, p->sample_type[idx]->type);
}

const char *pprof_read__unit(const Perftools__Profiles__Profile *p, int idx)
{
	if (!p || idx < 0 || (size_t)idx >= p->n_sample_type)
		return "";
	return pprof_read__str(p, p->sample_type[idx]->unit);
}

int pprof_read__sample_index(const Perftools__Profiles__Profile *p,
			     const char *spec)
{
	size_t i, n = p->n_sample_type;
	const char *dst;
	char *end;
	unsigned long v;

	if (!n || n > INT_MAX)
		return -EINVAL;
	if (!spec || !*spec) {
		dst = pprof_read__str(p, p->default_sample_type);
		if (*dst)
			for (i = 0; i < n; i++)
				if (!strcmp(pprof_read__type(p, (int)i), dst))
					return (int)i;
		return (int)n - 1;
	}
	if (*spec >= '0' && *spec <= '9') {
		errno = 0;
		v = strtoul(spec, &end, 10);
		if (!errno && !*end && v < n)
			return (int)v;
		return -EINVAL;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(pprof_read__type(p, (int)i), spec))
			return (int)i;
	return -EINVAL;
}

/*
 * id -> index map, open addressing. pprof ids are nonzero, so 0 marks an
 * empty slot. Ids are often dense (1..n) but nothing guarantees it, hence a
 * hash rather than an array.
 */
struct idmap {
	uint64_t *keys;
	uint32_t *vals;
	size_t mask;
};

static size_t idmap__hash(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (size_t)x;
}

static int idmap__init(struct idmap *m, size_t n)
{
	size_t nslots = 16;

	while (nslots < n * 2)
		nslots <<= 1;
	m->keys = calloc(nslots, sizeof(*m->keys));
	m->vals = calloc(nslots, sizeof(*m->vals));
	m->mask = nslots - 1;
	if (!m->keys || !m->vals)
		return -ENOMEM;
	return 0;
}

static void idmap__fini(struct idmap *m)
{
	free(m->keys);
	free(m->vals);
}

/* -EINVAL for id 0 or a duplicate id. */
static int idmap__add(struct idmap *m, uint64_t id, uint32_t val)
{
	size_t j;

	if (!id)
		return -EINVAL;
	for (j = idmap__hash(id) & m->mask; m->keys[j]; j = (j + 1) & m->mask)
		if (m->keys[j] == id)
			return -EINVAL;
	m->keys[j] = id;
	m->vals[j] = val;
	return 0;
}

static int idmap__get(const struct idmap *m, uint64_t id, uint32_t *ret)
{
	size_t j;

	if (!id)
		return -EINVAL;
	for (j = idmap__hash(id) & m->mask; m->keys[j]; j = (j + 1) & m->mask) {
		if (m->keys[j] == id) {
			*ret = m->vals[j];
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * A name to group by: function index, or n_function + k for the k-th
 * mapping (its unsymbolized locations), or n_function + n_mapping for
 * unsymbolized locations without a (named) mapping.
 */
struct top_key {
	const char *name;
	size_t src;
	bool bare;		/* a mapping's row, not a function's */
};

struct top_acc {
	const char *name, *file;	/* borrowed from the profile / map_names */
	int64_t flat, cum;
	size_t stamp;			/* last sample (index + 1) counted in cum */
	size_t best[2];			/* its two hottest lines (index + 1) */
};

/* One Line of a Location, resolved to its row. */
struct top_frame {
	uint32_t row;
	int64_t line;
	const char *file;	/* the function's file name */
};

/* Value of one (row, file, line) of the -lines view. */
struct line_acc {
	uint32_t row;
	const char *file;
	int64_t line, flat, cum;
	size_t stamp;
	bool used;
};

/* The profile resolved once: rows by name, every location's frames. */
struct resolved {
	const Perftools__Profiles__Profile *p;
	struct idmap funcs, locs, maps;
	struct top_key *keys;
	struct top_acc *acc;
	size_t n_acc;
	uint32_t *key_row;
	char **map_names;
	size_t *loc_off;	/* frames of location i: [loc_off[i], loc_off[i+1]) */
	struct top_frame *frames;
	size_t n_frames;
	bool *loc_focus;	/* location i matches the focus (pprof -focus) */
};

static int top_key__cmp(const void *a, const void *b)
{
	const struct top_key *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->bare != y->bare)
		return x->bare ? 1 : -1;
	return x->src < y->src ? -1 : x->src > y->src;
}

/* pprof -top's orders: flat (or cum), then name, then the other value. */
static int top_acc__cmp_flat(const void *a, const void *b)
{
	const struct top_acc *x = a, *y = b;
	int c;

	if (x->flat != y->flat)
		return x->flat > y->flat ? -1 : 1;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->cum > y->cum ? -1 : x->cum < y->cum;
}

static int top_acc__cmp_cum(const void *a, const void *b)
{
	const struct top_acc *x = a, *y = b;
	int c;

	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->flat > y->flat ? -1 : x->flat < y->flat;
}

static bool loc_has_lines(const Perftools__Profiles__Location *l)
{
	size_t i;

	for (i = 0; i < l->n_line; i++)
		if (l->line[i]->function_id)
			return true;
	return false;
}

/*
 * Name of the row that gathers the unsymbolized frames of @m: "[basename]",
 * as `go tool pprof -top` names them ("[libc.so.6]"), except that a name
 * already bracketed, like the kernel's "[vdso]", is kept as it is (pprof
 * shows "[[vdso]]"). @ret is set to a malloc'd name, or to NULL when the
 * mapping has no file name: such frames go to the TOP_UNKNOWN row.
 */
static int top__mapping_name(const Perftools__Profiles__Profile *p,
			     const Perftools__Profiles__Mapping *m, char **ret)
{
	const char *f = pprof_read__str(p, m->filename), *base;
	size_t len = strlen(f), n;
	char *s;

	/* Base name as Go's filepath.Base: trailing slashes do not count. */
	while (len && f[len - 1] == '/')
		len--;
	for (base = f + len; base > f && base[-1] != '/'; base--)
		;
	n = len - (size_t)(base - f);
	if (!n) {
		*ret = NULL;
		return 0;
	}
	if (n >= 2 && base[0] == '[' && base[n - 1] == ']')
		s = strndup(base, n);
	else if (asprintf(&s, "[%.*s]", (int)(n > INT_MAX ? INT_MAX : n), base) < 0)
		s = NULL;
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static void resolved__fini(struct resolved *rs)
{
	size_t i;

	idmap__fini(&rs->funcs);
	idmap__fini(&rs->maps);
	idmap__fini(&rs->locs);
	if (rs->map_names)
		for (i = 0; i < rs->p->n_mapping; i++)
			free(rs->map_names[i]);
	free(rs->map_names);
	free(rs->keys);
	free(rs->acc);
	free(rs->key_row);
	free(rs->loc_off);
	free(rs->frames);
	free(rs->loc_focus);
}

/* As pprof's Location.matchesName: any function's name or file, or the
 * mapping's file. */
static bool loc_matches(const struct resolved *rs,
			const Perftools__Profiles__Location *l,
			const regex_t *re)
{
	const Perftools__Profiles__Profile *p = rs->p;
	uint32_t idx;
	size_t j;

	for (j = 0; j < l->n_line; j++) {
		const Perftools__Profiles__Function *fn;

		if (idmap__get(&rs->funcs, l->line[j]->function_id, &idx) < 0)
			continue;
		fn = p->function[idx];
		if (!regexec(re, pprof_read__str(p, fn->name), 0, NULL, 0) ||
		    !regexec(re, pprof_read__str(p, fn->filename), 0, NULL, 0))
			return true;
	}
	if (l->mapping_id && idmap__get(&rs->maps, l->mapping_id, &idx) == 0 &&
	    !regexec(re, pprof_read__str(p, p->mapping[idx]->filename), 0, NULL, 0))
		return true;
	return false;
}

/*
 * Resolve @p: ids checked, one row per function name (and per mapping for
 * the frames nobody could name), each location's frames innermost first.
 */
static int resolve(const Perftools__Profiles__Profile *p, const regex_t *focus,
		   struct resolved *rs)
{
	size_t nf = p->n_function, nl = p->n_location, nm = p->n_mapping;
	size_t n_keys, n_frames = 0, i, j, k;
	uint32_t idx;
	int r;

	memset(rs, 0, sizeof(*rs));
	rs->p = p;
	if (nf >= UINT32_MAX || nl >= UINT32_MAX || nm >= UINT32_MAX ||
	    nf + nm >= UINT32_MAX)
		return -E2BIG;

	r = idmap__init(&rs->funcs, nf);
	if (r < 0)
		return r;
	for (i = 0; i < nf; i++) {
		r = idmap__add(&rs->funcs, p->function[i]->id, (uint32_t)i);
		if (r < 0)
			return r;
	}
	r = idmap__init(&rs->maps, nm);
	if (r < 0)
		return r;
	for (i = 0; i < nm; i++) {
		r = idmap__add(&rs->maps, p->mapping[i]->id, (uint32_t)i);
		if (r < 0)
			return r;
	}
	r = idmap__init(&rs->locs, nl);
	if (r < 0)
		return r;
	for (i = 0; i < nl; i++) {
		const Perftools__Profiles__Location *l = p->location[i];

		r = idmap__add(&rs->locs, l->id, (uint32_t)i);
		if (r < 0)
			return r;
		n_frames += loc_has_lines(l) ? l->n_line : 1;
	}

	/*
	 * Rows: one per function name, and one per mapping for the frames
	 * nobody could name, as `go tool pprof -top` does. A row per address
	 * ("0x7f3a...") would spread the cost of one unsymbolized library over
	 * as many rows as it has sampled instructions, each too small to rank,
	 * and push the named functions out of a top-10; "libfoo.so+0x1234"
	 * names are no better, as they still differ per address. Gathered by
	 * mapping, the row says which binary lacks symbols and what it costs
	 * in all, which is what one acts on (install its debug symbols).
	 * Frames outside any named mapping share one TOP_UNKNOWN row. Mapping
	 * rows never merge with a function of the same name.
	 *
	 * Group by name: sort the keys, then one row per run.
	 */
	n_keys = nf + nm + 1;
	rs->keys = calloc(n_keys, sizeof(*rs->keys));
	rs->acc = calloc(n_keys, sizeof(*rs->acc));
	rs->key_row = calloc(n_keys, sizeof(*rs->key_row));
	rs->map_names = calloc(nm ? nm : 1, sizeof(*rs->map_names));
	rs->loc_off = calloc(nl + 1, sizeof(*rs->loc_off));
	rs->frames = calloc(n_frames ? n_frames : 1, sizeof(*rs->frames));
	rs->loc_focus = calloc(nl ? nl : 1, sizeof(*rs->loc_focus));
	if (!rs->keys || !rs->acc || !rs->key_row || !rs->map_names ||
	    !rs->loc_off || !rs->frames || !rs->loc_focus)
		return -ENOMEM;
	for (i = 0; i < nf; i++) {
		rs->keys[i].name = pprof_read__str(p, p->function[i]->name);
		rs->keys[i].src = i;
	}
	for (i = 0; i < nm; i++) {
		r = top__mapping_name(p, p->mapping[i], &rs->map_names[i]);
		if (r < 0)
			return r;
		rs->keys[nf + i].name = rs->map_names[i] ? rs->map_names[i] : TOP_UNKNOWN;
		rs->keys[nf + i].src = nf + i;
		rs->keys[nf + i].bare = true;
	}
	rs->keys[nf + nm].name = TOP_UNKNOWN;
	rs->keys[nf + nm].src = nf + nm;
	rs->keys[nf + nm].bare = true;
	qsort(rs->keys, n_keys, sizeof(*rs->keys), top_key__cmp);
	for (i = 0; i < n_keys; i++) {
		const struct top_key *key = &rs->keys[i];
		const char *file = "";

		if (!i || strcmp(rs->keys[i - 1].name, key->name) ||
		    rs->keys[i - 1].bare != key->bare) {
			rs->acc[rs->n_acc].name = key->name;
			rs->acc[rs->n_acc].file = "";
			rs->n_acc++;
		}
		rs->key_row[key->src] = (uint32_t)(rs->n_acc - 1);
		if (key->src < nf)
			file = pprof_read__str(p, p->function[key->src]->filename);
		/* Same name in several files: the first file known, unless
		 * a hottest line names another. */
		if (!*rs->acc[rs->n_acc - 1].file)
			rs->acc[rs->n_acc - 1].file = file;
	}

	/* Resolve every location once to its rows, innermost Line first. */
	for (i = 0; i < nl; i++) {
		const Perftools__Profiles__Location *l = p->location[i];

		rs->loc_off[i] = rs->n_frames;
		rs->loc_focus[i] = focus && loc_matches(rs, l, focus);
		if (!loc_has_lines(l)) {
			/* Only followed here: a bad mapping_id elsewhere is harmless. */
			if (l->mapping_id) {
				r = idmap__get(&rs->maps, l->mapping_id, &idx);
				if (r < 0)
					return r;
				k = nf + idx;
			} else {
				k = nf + nm;
			}
			rs->frames[rs->n_frames].row = rs->key_row[k];
			rs->frames[rs->n_frames].file = "";
			rs->frames[rs->n_frames++].line = 0;
			continue;
		}
		for (j = 0; j < l->n_line; j++) {
			const Perftools__Profiles__Line *ln = l->line[j];

			/* function_id 0 is legal: a Line without a function. */
			if (!ln->function_id)
				continue;
			r = idmap__get(&rs->funcs, ln->function_id, &idx);
			if (r < 0)
				return r;
			rs->frames[rs->n_frames].row = rs->key_row[idx];
			rs->frames[rs->n_frames].file =
				pprof_read__str(p, p->function[idx]->filename);
			rs->frames[rs->n_frames++].line = ln->line;
		}
	}
	rs->loc_off[nl] = rs->n_frames;
	return 0;
}

/* Is sample @s kept by the focus (any location matching)? */
static int sample_focused(const struct resolved *rs,
			  const Perftools__Profiles__Sample *s, bool *ret)
{
	uint32_t idx;
	size_t j;
	int r;

	*ret = false;
	for (j = 0; j < s->n_location_id; j++) {
		r = idmap__get(&rs->locs, s->location_id[j], &idx);
		if (r < 0)
			return r;
		if (rs->loc_focus[idx])
			*ret = true;
	}
	return 0;
}

static size_t line_hash(uint32_t row, const char *file, int64_t line)
{
	return idmap__hash(((uint64_t)row << 32) ^ (uint64_t)line ^
			   (uint64_t)(uintptr_t)file * 0x9e3779b97f4a7c15ULL);
}

/* The (row, file, line) slot of @tab (mask + 1 slots, never full). */
static struct line_acc *line_slot(struct line_acc *tab, size_t mask,
				  uint32_t row, const char *file, int64_t line)
{
	size_t j;

	for (j = line_hash(row, file, line) & mask; tab[j].used; j = (j + 1) & mask)
		if (tab[j].row == row && tab[j].file == file && tab[j].line == line)
			return &tab[j];
	tab[j].used = true;
	tab[j].row = row;
	tab[j].file = file;
	tab[j].line = line;
	return &tab[j];
}

/*
 * Each row's two hottest lines: by flat where the row has flat value (where
 * it burns), else by cum (its hottest call site), as `pprof -lines` would
 * rank that function's lines.
 */
static void pick_lines(struct resolved *rs, struct line_acc *tab, size_t nslots)
{
	size_t i;

	for (i = 0; i < nslots; i++) {
		struct top_acc *a;
		int64_t v, v0, v1;

		if (!tab[i].used)
			continue;
		a = &rs->acc[tab[i].row];
		v = a->flat ? tab[i].flat : tab[i].cum;
		if (v <= 0)
			continue;
		v0 = a->best[0] ? (a->flat ? tab[a->best[0] - 1].flat : tab[a->best[0] - 1].cum) : 0;
		v1 = a->best[1] ? (a->flat ? tab[a->best[1] - 1].flat : tab[a->best[1] - 1].cum) : 0;
		if (v > v0) {
			a->best[1] = a->best[0];
			a->best[0] = i + 1;
		} else if (v > v1) {
			a->best[1] = i + 1;
		}
	}
}

int pprof_read__top_opts(const Perftools__Profiles__Profile *p,
			 const struct pprof_top_opts *o,
			 struct pprof_top_row **ret_rows, size_t *ret_n,
			 int64_t *ret_total, int64_t *ret_focused)
{
	struct resolved rs;
	struct pprof_top_row *rows = NULL;
	struct line_acc *lines = NULL;
	size_t n_rows = 0, nslots = 16, mask, i, j, k;
	int64_t total = 0, focused = 0;
	int sample_index = o->sample_index, r;
	uint32_t idx;

	if (sample_index < 0) {
		sample_index = pprof_read__sample_index(p, NULL);
		if (sample_index < 0)
			return sample_index;
	}
	if ((size_t)sample_index >= p->n_sample_type)
		return -EINVAL;
	r = resolve(p, o->focus, &rs);
	if (r < 0)
		goto out;
	while (nslots < rs.n_frames * 2)
		nslots <<= 1;
	mask = nslots - 1;
	lines = calloc(nslots, sizeof(*lines));
	if (!lines) {
		r = -ENOMEM;
		goto out;
	}

	for (i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
		bool keep = true;
		int64_t v;

		if (s->n_value != p->n_sample_type) {
			r = -EINVAL;
			goto out;
		}
		v = s->value[sample_index];
		if (__builtin_add_overflow(total, v, &total)) {
			r = -EOVERFLOW;
			goto out;
		}
		if (o->focus) {
			r = sample_focused(&rs, s, &keep);
			if (r < 0)
				goto out;
		}
		if (!keep)
			continue;
		focused += v;
		for (j = 0; j < s->n_location_id; j++) {
			r = idmap__get(&rs.locs, s->location_id[j], &idx);
			if (r < 0)
				goto out;
			for (k = rs.loc_off[idx]; k < rs.loc_off[idx + 1]; k++) {
				const struct top_frame *fr = &rs.frames[k];
				struct top_acc *a = &rs.acc[fr->row];
				bool leaf = j == 0 && k == rs.loc_off[idx];
				struct line_acc *la = NULL;

				if (fr->line > 0)
					la = line_slot(lines, mask, fr->row,
						       fr->file, fr->line);
				if (leaf && (__builtin_add_overflow(a->flat, v, &a->flat) ||
					     (la && __builtin_add_overflow(la->flat, v, &la->flat)))) {
					r = -EOVERFLOW;
					goto out;
				}
				if (a->stamp != i + 1) {
					a->stamp = i + 1;
					if (__builtin_add_overflow(a->cum, v, &a->cum)) {
						r = -EOVERFLOW;
						goto out;
					}
				}
				if (la && la->stamp != i + 1) {
					la->stamp = i + 1;
					if (__builtin_add_overflow(la->cum, v, &la->cum)) {
						r = -EOVERFLOW;
						goto out;
					}
				}
			}
		}
	}
	pick_lines(&rs, lines, nslots);

	/* Like pprof, drop rows that carry no value (or never occur). */
	for (i = 0, k = 0; i < rs.n_acc; i++)
		if (rs.acc[i].flat || rs.acc[i].cum)
			rs.acc[k++] = rs.acc[i];
	rs.n_acc = k;
	qsort(rs.acc, rs.n_acc, sizeof(*rs.acc),
	      o->by_cum ? top_acc__cmp_cum : top_acc__cmp_flat);
	n_rows = o->max_rows && o->max_rows < rs.n_acc ? o->max_rows : rs.n_acc;

	rows = calloc(n_rows ? n_rows : 1, sizeof(*rows));
	if (!rows) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n_rows; i++) {
		const struct top_acc *a = &rs.acc[i];
		const struct line_acc *l0 = a->best[0] ? &lines[a->best[0] - 1] : NULL;
		const struct line_acc *l1 = a->best[1] ? &lines[a->best[1] - 1] : NULL;

		rows[i].name = strdup(a->name);
		rows[i].file = strdup(l0 ? l0->file : a->file);
		if (!rows[i].name || !rows[i].file) {
			pprof_read__top_free(rows, i + 1);
			rows = NULL;
			r = -ENOMEM;
			goto out;
		}
		rows[i].line = l0 ? l0->line : 0;
		rows[i].flat = a->flat;
		rows[i].cum = a->cum;
		/* Within a tenth of the hottest: no line stands out. */
		if (l0 && l1) {
			int64_t v0 = a->flat ? l0->flat : l0->cum;
			int64_t v1 = a->flat ? l1->flat : l1->cum;

			if ((double)v1 >= PPROF_TOP_CLOSE * (double)v0) {
				rows[i].close_line = l1->line;
				rows[i].close_file_differs = l1->file != l0->file;
			}
		}
	}

	*ret_rows = rows;
	*ret_n = n_rows;
	if (ret_total)
		*ret_total = total;
	if (ret_focused)
		*ret_focused = focused;
	r = 0;
out:
	free(lines);
	resolved__fini(&rs);
	return r;
}

int pprof_read__top(const Perftools__Profiles__Profile *p, int sample_index,
		    size_t max_rows, struct pprof_top_row **ret_rows,
		    size_t *ret_n, int64_t *ret_total)
{
	struct pprof_top_opts o = {
		.sample_index = sample_index,
		.max_rows = max_rows,
	};

	return pprof_read__top_opts(p, &o, ret_rows, ret_n, ret_total, NULL);
}

void pprof_read__top_free(struct pprof_top_row *rows, size_t n)
{
	size_t i;

	if (!rows)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].name);
		free(rows[i].file);
	}
	free(rows);
}

/* ---- folded stacks ------------------------------------------------------ */

static int folded__cmp(const void *a, const void *b)
{
	const struct pprof_folded *x = a, *y = b;

	return strcmp(x->stack, y->stack);
}

/* Append @name to @buf at *@len, ';' first unless at the start; a ';' or
 * newline inside a name would split the frame: written as ':' and ' '. */
static int folded__append(char **buf, size_t *len, size_t *cap,
			  const char *name)
{
	size_t n = strlen(name), i;

	while (*len + n + 2 > *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		char *nb = realloc(*buf, nc);

		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	if (*len)
		(*buf)[(*len)++] = ';';
	for (i = 0; i < n; i++) {
		char c = name[i];

		(*buf)[(*len)++] = c == ';' ? ':' : (c == '\n' || c == '\r') ? ' ' : c;
	}
	(*buf)[*len] = 0;
	return 0;
}

int pprof_read__folded(const Perftools__Profiles__Profile *p, int sample_index,
		       const regex_t *focus, struct pprof_folded **ret,
		       size_t *ret_n)
{
	struct pprof_folded *out = NULL;
	struct resolved rs;
	size_t n = 0, i, j, k, len, cap = 0;
	char *buf = NULL;
	uint32_t idx;
	int r;

	if (sample_index < 0) {
		sample_index = pprof_read__sample_index(p, NULL);
		if (sample_index < 0)
			return sample_index;
	}
	if ((size_t)sample_index >= p->n_sample_type)
		return -EINVAL;
	r = resolve(p, focus, &rs);
	if (r < 0)
		goto out;
	out = calloc(p->n_sample ? p->n_sample : 1, sizeof(*out));
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
		bool keep = true;

		if (s->n_value != p->n_sample_type) {
			r = -EINVAL;
			goto out;
		}
		if (focus) {
			r = sample_focused(&rs, s, &keep);
			if (r < 0)
				goto out;
		}
		if (!keep || !s->value[sample_index])
			continue;
		/* Root first: the last location's outermost Line first. */
		len = 0;
		for (j = s->n_location_id; j-- > 0;) {
			r = idmap__get(&rs.locs, s->location_id[j], &idx);
			if (r < 0)
				goto out;
			for (k = rs.loc_off[idx + 1]; k-- > rs.loc_off[idx];) {
				r = folded__append(&buf, &len, &cap,
						   rs.acc[rs.frames[k].row].name);
				if (r < 0)
					goto out;
			}
		}
		if (!len)
			continue;
		out[n].stack = strdup(buf);
		if (!out[n].stack) {
			r = -ENOMEM;
			goto out;
		}
		out[n++].value = s->value[sample_index];
	}
	/* One line per distinct stack, sorted as stackcollapse-perf sorts. */
	qsort(out, n, sizeof(*out), folded__cmp);
	for (i = 0, k = 0; i < n; i++) {
		if (k && !strcmp(out[k - 1].stack, out[i].stack)) {
			if (__builtin_add_overflow(out[k - 1].value, out[i].value,
						   &out[k - 1].value)) {
				/* [k, i) were moved down or freed. */
				for (j = 0; j < n; j++)
					if (j < k || j >= i)
						free(out[j].stack);
				free(out);
				out = NULL;
				r = -EOVERFLOW;
				goto out;
			}
			free(out[i].stack);
			out[i].stack = NULL;
			continue;
		}
		out[k++] = out[i];
	}
	*ret = out;
	*ret_n = k;
	out = NULL;
	r = 0;
out:
	if (out)
		pprof_read__folded_free(out, n);
	free(buf);
	resolved__fini(&rs);
	return r;
}

void pprof_read__folded_free(struct pprof_folded *f, size_t n)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < n; i++)
		free(f[i].stack);
	free(f);
}
