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
	int64_t line, flat, cum;
	size_t stamp;			/* last sample (index + 1) counted in cum */
	bool line_from_leaf;
};

/* One Line of a Location, resolved to its row. */
struct top_frame {
	uint32_t row;
	int64_t line;
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

static int top_acc__cmp(const void *a, const void *b)
{
	const struct top_acc *x = a, *y = b;

	if (x->flat != y->flat)
		return x->flat > y->flat ? -1 : 1;
	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	return strcmp(x->name, y->name);
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

int pprof_read__top(const Perftools__Profiles__Profile *p, int sample_index,
		    size_t max_rows, struct pprof_top_row **ret_rows,
		    size_t *ret_n, int64_t *ret_total)
{
	struct idmap funcs = { 0 }, locs = { 0 }, maps = { 0 };
	struct top_key *keys = NULL;
	struct top_acc *acc = NULL;
	struct top_frame *frames = NULL;
	struct pprof_top_row *rows = NULL;
	uint32_t *key_row = NULL, idx;
	size_t *loc_off = NULL;
	char **map_names = NULL;
	size_t nf = p->n_function, nl = p->n_location, nm = p->n_mapping;
	size_t n_keys, n_frames = 0, n_acc = 0, n_rows = 0, i, j, k;
	int64_t total = 0;
	int r;

	if (sample_index < 0) {
		sample_index = pprof_read__sample_index(p, NULL);
		if (sample_index < 0)
			return sample_index;
	}
	if ((size_t)sample_index >= p->n_sample_type)
		return -EINVAL;
	if (nf >= UINT32_MAX || nl >= UINT32_MAX || nm >= UINT32_MAX ||
	    nf + nm >= UINT32_MAX)
		return -E2BIG;

	r = idmap__init(&funcs, nf);
	if (r < 0)
		goto out;
	for (i = 0; i < nf; i++) {
		r = idmap__add(&funcs, p->function[i]->id, (uint32_t)i);
		if (r < 0)
			goto out;
	}
	r = idmap__init(&maps, nm);
	if (r < 0)
		goto out;
	for (i = 0; i < nm; i++) {
		r = idmap__add(&maps, p->mapping[i]->id, (uint32_t)i);
		if (r < 0)
			goto out;
	}
	r = idmap__init(&locs, nl);
	if (r < 0)
		goto out;
	for (i = 0; i < nl; i++) {
		const Perftools__Profiles__Location *l = p->location[i];

		r = idmap__add(&locs, l->id, (uint32_t)i);
		if (r < 0)
			goto out;
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
	keys = calloc(n_keys, sizeof(*keys));
	acc = calloc(n_keys, sizeof(*acc));
	key_row = calloc(n_keys, sizeof(*key_row));
	map_names = calloc(nm ? nm : 1, sizeof(*map_names));
	loc_off = calloc(nl + 1, sizeof(*loc_off));
	frames = calloc(n_frames ? n_frames : 1, sizeof(*frames));
	if (!keys || !acc || !key_row || !map_names || !loc_off || !frames) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nf; i++) {
		keys[i].name = pprof_read__str(p, p->function[i]->name);
		keys[i].src = i;
	}
	for (i = 0; i < nm; i++) {
		r = top__mapping_name(p, p->mapping[i], &map_names[i]);
		if (r < 0)
			goto out;
		keys[nf + i].name = map_names[i] ? map_names[i] : TOP_UNKNOWN;
		keys[nf + i].src = nf + i;
		keys[nf + i].bare = true;
	}
	keys[nf + nm].name = TOP_UNKNOWN;
	keys[nf + nm].src = nf + nm;
	keys[nf + nm].bare = true;
	qsort(keys, n_keys, sizeof(*keys), top_key__cmp);
	for (i = 0; i < n_keys; i++) {
		const char *file = "";

		if (!i || strcmp(keys[i - 1].name, keys[i].name) ||
		    keys[i - 1].bare != keys[i].bare) {
			acc[n_acc].name = keys[i].name;
			acc[n_acc].file = "";
			n_acc++;
		}
		key_row[keys[i].src] = (uint32_t)(n_acc - 1);
		if (keys[i].src < nf)
			file = pprof_read__str(p, p->function[keys[i].src]->filename);
		/* Same name in several files: show the first file known. */
		if (!*acc[n_acc - 1].file)
			acc[n_acc - 1].file = file;
	}

	/* Resolve every location once to its rows, innermost Line first. */
	for (i = 0, n_frames = 0; i < nl; i++) {
		const Perftools__Profiles__Location *l = p->location[i];

		loc_off[i] = n_frames;
		if (!loc_has_lines(l)) {
			/* Only followed here: a bad mapping_id elsewhere is harmless. */
			if (l->mapping_id) {
				r = idmap__get(&maps, l->mapping_id, &idx);
				if (r < 0)
					goto out;
				k = nf + idx;
			} else {
				k = nf + nm;
			}
			frames[n_frames].row = key_row[k];
			frames[n_frames++].line = 0;
			continue;
		}
		for (j = 0; j < l->n_line; j++) {
			const Perftools__Profiles__Line *ln = l->line[j];

			/* function_id 0 is legal: a Line without a function. */
			if (!ln->function_id)
				continue;
			r = idmap__get(&funcs, ln->function_id, &idx);
			if (r < 0)
				goto out;
			frames[n_frames].row = key_row[idx];
			frames[n_frames++].line = ln->line;
		}
	}
	loc_off[nl] = n_frames;

	for (i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
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
		for (j = 0; j < s->n_location_id; j++) {
			r = idmap__get(&locs, s->location_id[j], &idx);
			if (r < 0)
				goto out;
			for (k = loc_off[idx]; k < loc_off[idx + 1]; k++) {
				struct top_acc *a = &acc[frames[k].row];
				bool leaf = j == 0 && k == loc_off[idx];

				if (leaf && __builtin_add_overflow(a->flat, v, &a->flat)) {
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
				/* Prefer where it burns (leaf); else a call site. */
				if (frames[k].line && !a->line_from_leaf &&
				    (leaf || !a->line)) {
					a->line = frames[k].line;
					a->line_from_leaf = leaf;
				}
			}
		}
	}

	/* Like pprof, drop rows that carry no value (or never occur). */
	for (i = 0, k = 0; i < n_acc; i++)
		if (acc[i].flat || acc[i].cum)
			acc[k++] = acc[i];
	n_acc = k;
	qsort(acc, n_acc, sizeof(*acc), top_acc__cmp);
	n_rows = max_rows && max_rows < n_acc ? max_rows : n_acc;

	rows = calloc(n_rows ? n_rows : 1, sizeof(*rows));
	if (!rows) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n_rows; i++) {
		rows[i].name = strdup(acc[i].name);
		rows[i].file = strdup(acc[i].file);
		if (!rows[i].name || !rows[i].file) {
			pprof_read__top_free(rows, i + 1);
			rows = NULL;
			r = -ENOMEM;
			goto out;
		}
		rows[i].line = acc[i].line;
		rows[i].flat = acc[i].flat;
		rows[i].cum = acc[i].cum;
	}

	*ret_rows = rows;
	*ret_n = n_rows;
	if (ret_total)
		*ret_total = total;
	r = 0;
out:
	idmap__fini(&funcs);
	idmap__fini(&maps);
	idmap__fini(&locs);
	if (map_names)
		for (i = 0; i < nm; i++)
			free(map_names[i]);
	free(map_names);
	free(keys);
	free(acc);
	free(key_row);
	free(loc_off);
	free(frames);
	return r;
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
