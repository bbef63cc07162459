// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_read.h"

struct parser {
	const char *s, *end;
};

static void skip_ws(struct parser *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' ||
				 *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static int hex4(const char *s, unsigned *ret)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

static size_t utf8(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at p->s (the opening quote), unescaped into a malloc'd copy. */
static int parse_string(struct parser *p, char **ret)
{
	const char *s = p->s + 1;
	char *out, *o;

	/* Unescaped, a string is never longer than its source text. */
	out = malloc((size_t)(p->end - s) + 1);
	if (!out)
		return -ENOMEM;
	o = out;
	while (s < p->end && *s != '"') {
		unsigned cp, lo;

		if ((unsigned char)*s < 0x20)
			goto bad;
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		if (++s >= p->end)
			goto bad;
		switch (*s) {
		case '"': case '\\': case '/':
			*o++ = *s;
			break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (p->end - s < 5 || hex4(s + 1, &cp) < 0)
				goto bad;
			s += 4;
			/* A surrogate pair: two escapes, one code point. */
			if (cp >= 0xd800 && cp < 0xdc00 && p->end - s >= 7 &&
			    s[1] == '\\' && s[2] == 'u' && hex4(s + 3, &lo) == 0 &&
			    lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			}
			o += utf8(cp, o);
			break;
		default:
			goto bad;
		}
		s++;
	}
	if (s >= p->end)
		goto bad;
	*o = 0;
	p->s = s + 1;
	*ret = out;
	return 0;
bad:
	free(out);
	return -EINVAL;
}

static int parse_value(struct parser *p, int depth, struct json_node **ret);

/* The members or elements of an object or array, after its opening. */
static int parse_members(struct parser *p, int depth, struct json_node *n,
			 char close)
{
	struct json_node **tail = &n->child;
	int r;

	skip_ws(p);
	if (p->s < p->end && *p->s == close) {
		p->s++;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		struct json_node *v;

		skip_ws(p);
		if (close == '}') {
			if (p->s >= p->end || *p->s != '"')
				return -EINVAL;
			r = parse_string(p, &key);
			if (r < 0)
				return r;
			skip_ws(p);
			if (p->s >= p->end || *p->s != ':') {
				free(key);
				return -EINVAL;
			}
			p->s++;
		}
		r = parse_value(p, depth + 1, &v);
		if (r < 0) {
			free(key);
			return r;
		}
		v->key = key;
		*tail = v;
		tail = &v->next;
		skip_ws(p);
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			continue;
		}
		if (p->s < p->end && *p->s == close) {
			p->s++;
			return 0;
		}
		return -EINVAL;
	}
}

static int parse_value(struct parser *p, int depth, struct json_node **ret)
{
	struct json_node *n;
	int r = 0;

	if (depth > JSON_READ_MAX_DEPTH)
		return -E2BIG;
	skip_ws(p);
	if (p->s >= p->end)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	switch (*p->s) {
	case '{':
	case '[':
		n->type = *p->s == '{' ? JSON_OBJ : JSON_ARR;
		p->s++;
		r = parse_members(p, depth, n, n->type == JSON_OBJ ? '}' : ']');
		break;
	case '"':
		n->type = JSON_STR;
		r = parse_string(p, &n->str);
		break;
	case 't':
	case 'f':
	case 'n': {
		static const struct { const char *word; enum json_type t; double v; } w[] = {
			{ "true", JSON_BOOL, 1 }, { "false", JSON_BOOL, 0 },
			{ "null", JSON_NULL, 0 },
		};
		size_t i;

		r = -EINVAL;
		for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
			size_t l = strlen(w[i].word);

			if ((size_t)(p->end - p->s) >= l && !strncmp(p->s, w[i].word, l)) {
				n->type = w[i].t;
				n->num = w[i].v;
				p->s += l;
				r = 0;
				break;
			}
		}
		break;
	}
	default: {
		char buf[64], *e;
		size_t l = 0;

		while (p->s + l < p->end && l < sizeof(buf) - 1 &&
		       strchr("+-0123456789.eE", p->s[l]))
			l++;
		memcpy(buf, p->s, l);
		buf[l] = 0;
		n->type = JSON_NUM;
		n->num = strtod(buf, &e);
		if (!l || *e)
			r = -EINVAL;
		p->s += l;
		break;
	}
	}
	if (r < 0) {
		json_read__free(n);
		return r;
	}
	*ret = n;
	return 0;
}

int json_read__parse(const char *text, size_t len, struct json_node **ret)
{
	struct parser p = { text, text + len };
	struct json_node *n;
	int r;

	r = parse_value(&p, 0, &n);
	if (r < 0)
		return r;
	skip_ws(&p);
	if (p.s != p.end) {
		json_read__free(n);
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

void json_read__free(struct json_node *n)
{
	while (n) {
		struct json_node *next = n->next;

		json_read__free(n->child);
		free(n->key);
		free(n->str);
		free(n);
		n = next;
	}
}

const struct json_node *json_read__get(const struct json_node *obj,
				       const char *key)
{
	const struct json_node *c;

	if (!obj || obj->type != JSON_OBJ)
		return NULL;
	for (c = obj->child; c; c = c->next)
		if (c->key && !strcmp(c->key, key))
			return c;
	return NULL;
}

double json_read__num(const struct json_node *obj, const char *key)
{
	const struct json_node *n = json_read__get(obj, key);

	return n && (n->type == JSON_NUM || n->type == JSON_BOOL) ? n->num : 0;
}

const char *json_read__str(const struct json_node *obj, const char *key)
{
	const struct json_node *n = json_read__get(obj, key);

	return n && n->type == JSON_STR ? n->str : "";
}
