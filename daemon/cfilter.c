// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfilter.h"

static const char *const kind_names[CFILTER_KIND_MAX] = {
	[CFILTER_UNIT] = "unit",
	[CFILTER_CGROUP] = "cgroup",
	[CFILTER_COMM] = "comm",
	[CFILTER_UID] = "uid",
};

static int parse_term(const char *s, size_t len, struct cfilter_term *ret,
		      char *err, size_t errsize)
{
	const char *colon = memchr(s, ':', len);
	size_t klen, vlen;
	unsigned long v;
	char *end, num[16];
	unsigned k;

	if (!colon)
		goto bad;
	klen = (size_t)(colon - s);
	vlen = len - klen - 1;
	for (k = 0; k < CFILTER_KIND_MAX; k++)
		if (strlen(kind_names[k]) == klen &&
		    !memcmp(s, kind_names[k], klen))
			break;
	if (k == CFILTER_KIND_MAX || vlen == 0 || vlen >= CFILTER_VALUE_MAX)
		goto bad;
	memset(ret, 0, sizeof(*ret));
	ret->kind = (enum cfilter_kind)k;
	memcpy(ret->value, colon + 1, vlen);
	if (ret->kind == CFILTER_UID) {
		if (vlen >= sizeof(num))
			goto bad;
		memcpy(num, colon + 1, vlen);
		num[vlen] = 0;
		errno = 0;
		v = strtoul(num, &end, 10);
		if (errno || *end || num[0] < '0' || num[0] > '9' ||
		    v > 0xfffffffeUL)
			goto bad;
		ret->uid = (uid_t)v;
	}
	if (ret->kind == CFILTER_CGROUP && ret->value[0] != '/')
		goto bad;
	return 0;
bad:
	snprintf(err, errsize,
		 "bad filter term \"%.*s\": want unit:NAME, cgroup:/PATH, comm:NAME or uid:N",
		 (int)(len > 200 ? 200 : len), s);
	return -EINVAL;
}

int cfilter__parse(const char *text, struct cfilter *ret, char *err,
		   size_t errsize)
{
	struct cfilter *f;
	const char *p, *e;
	size_t len;
	int r = 0;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (p = text; p && *p; p = *e ? e + 1 : e) {
		e = strchr(p, ',');
		if (!e)
			e = p + strlen(p);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		len = (size_t)(e - p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (!len)
			continue;
		if (f->n == CFILTER_MAX_TERMS) {
			snprintf(err, errsize, "more than %d filter terms",
				 CFILTER_MAX_TERMS);
			r = -EINVAL;
			goto out;
		}
		r = parse_term(p, len, &f->t[f->n], err, errsize);
		if (r < 0)
			goto out;
		f->n++;
	}
	*ret = *f;
out:
	free(f);
	return r;
}

static bool under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (n == 1)	/* "/": everything */
		return true;
	return !strncmp(path, prefix, n) && (path[n] == 0 || path[n] == '/');
}

bool cfilter__match(const struct cfilter *f, const struct cfilter_proc *p)
{
	const struct cfilter_term *t;
	unsigned i;

	for (i = 0; i < f->n; i++) {
		t = &f->t[i];
		switch (t->kind) {
		case CFILTER_UNIT:
			if ((p->unit && !strcmp(p->unit, t->value)) ||
			    (p->service && !strcmp(p->service, t->value)))
				return true;
			break;
		case CFILTER_CGROUP:
			if (p->cgroup && p->cgroup[0] &&
			    under(p->cgroup, t->value))
				return true;
			break;
		case CFILTER_COMM:
			if (p->comm && !strcmp(p->comm, t->value))
				return true;
			break;
		case CFILTER_UID:
			if (p->uid == t->uid)
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

bool cfilter__wanted(const struct cfilter *include,
		     const struct cfilter *exclude,
		     const struct cfilter_proc *p)
{
	if (include->n && !cfilter__match(include, p))
		return false;
	return !cfilter__match(exclude, p);
}
