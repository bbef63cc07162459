// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the JSON writer (daemon/json.c) that puts paths and names
 * taken from processes into /v1/status. Input: NUL-separated strings
 * (any bytes: invalid UTF-8, quotes, control characters), written as the
 * members and array items of a document, with numbers made of their
 * bytes, and each one escaped on its own into buffers of several sizes.
 * Every document and every escaped string must be valid JSON in valid
 * UTF-8, checked by the small independent validator below: no input may
 * break or forge the document. profctl's reader (common/json_read.c) gets
 * the raw input, and must read back every document written.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json_read.h"

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* An independent validator: RFC 8259 values, strings in valid UTF-8. */
struct rd {
	const unsigned char *p, *end;
	int depth;
};

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' ||
				 *r->p == '\t' || *r->p == '\r'))
		r->p++;
}

static int hexval(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* One UTF-8 character of 2-4 bytes (RFC 3629: no overlong, no surrogate). */
static int utf8(struct rd *r)
{
	const unsigned char *s = r->p;
	size_t left = (size_t)(r->end - s), n, i;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	r->p += n;
	return 1;
}

static int string(struct rd *r)
{
	if (r->p >= r->end || *r->p != '"')
		return 0;
	r->p++;
	while (r->p < r->end) {
		unsigned char c = *r->p;

		if (c == '"') {
			r->p++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (r->end - r->p < 2)
				return 0;
			c = r->p[1];
			if (c == 'u') {
				if (r->end - r->p < 6 || !hexval(r->p[2]) || !hexval(r->p[3]) ||
				    !hexval(r->p[4]) || !hexval(r->p[5]))
					return 0;
				r->p += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", c) || !c)
				return 0;
			r->p += 2;
			continue;
		}
		if (c >= 0x80) {
			if (!utf8(r))
				return 0;
			continue;
		}
		r->p++;
	}
	return 0;
}

static int number(struct rd *r)
{
	const unsigned char *s = r->p;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return 0;
	if (*r->p == '0')
		r->p++;
	else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return 0;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	return r->p > s;
}

static int literal(struct rd *r, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n))
		return 0;
	r->p += n;
	return 1;
}

static int value(struct rd *r)
{
	int ok = 1, first = 1;
	unsigned char close;

	ws(r);
	if (r->p >= r->end)
		return 0;
	switch (*r->p) {
	case '"':
		return string(r);
	case 't':
		return literal(r, "true");
	case 'f':
		return literal(r, "false");
	case 'n':
		return literal(r, "null");
	case '{':
	case '[':
		if (++r->depth > 64)
			return 0;
		close = *r->p == '{' ? '}' : ']';
		r->p++;
		ws(r);
		if (r->p < r->end && *r->p == close) {
			r->p++;
			r->depth--;
			return 1;
		}
		while (ok) {
			if (!first) {
				ws(r);
				if (r->p >= r->end || *r->p != ',')
					return 0;
				r->p++;
			}
			first = 0;
			if (close == '}') {
				ws(r);
				if (!string(r))
					return 0;
				ws(r);
				if (r->p >= r->end || *r->p != ':')
					return 0;
				r->p++;
			}
			ok = value(r);
			ws(r);
			if (ok && r->p < r->end && *r->p == close) {
				r->p++;
				r->depth--;
				return 1;
			}
		}
		return 0;
	default:
		return number(r);
	}
}

static int valid_json(const char *s, size_t len)
{
	struct rd r = { (const unsigned char *)s, (const unsigned char *)s + len, 0 };

	if (!value(&r))
		return 0;
	ws(&r);
	return r.p == r.end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 3, 4, 5, 7, 8, 16, 64, 1024 };
	const char *piece[64];
	size_t npieces = 0, i, k, len;
	char *buf, *doc = NULL, esc[1024];
	uint64_t u;
	struct json j;
	int r;

	if (size > 16384)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	for (i = 0; i <= size && npieces < 64; i += strlen(buf + i) + 1)
		piece[npieces++] = buf + i;

	/* Each piece escaped alone, into buffers of every size. */
	for (i = 0; i < npieces; i++) {
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			len = json__escape(esc, sizes[k], piece[i]);
			require(len < sizes[k] && esc[len] == 0);
			require(len >= 2 && valid_json(esc, len));
		}
	}

	/* A document: members named and valued by the pieces, an array
	 * of them, numbers made of their bytes. A small cap on some inputs
	 * exercises -E2BIG. */
	json__init(&j, data[0] & 1 ? 256 : 1 << 20);
	json__obj_begin(&j, NULL);
	for (i = 0; i + 1 < npieces; i += 2)
		json__str(&j, piece[i], piece[i + 1]);
	json__arr_begin(&j, npieces ? piece[0] : "a");
	for (i = 0; i < npieces; i++) {
		u = 0;
		memcpy(&u, piece[i], strnlen(piece[i], sizeof(u)));
		json__str(&j, NULL, piece[i]);
		json__u64(&j, NULL, u);
		json__i64(&j, NULL, (int64_t)u);
		json__double(&j, NULL, (double)(int64_t)u / 7.0, (int)(u % 10));
	}
	json__double(&j, NULL, NAN, 3);
	json__double(&j, NULL, -INFINITY, 3);
	json__arr_end(&j);
	json__obj_end(&j);
	r = json__finish(&j, &doc, &len);
	if (r == 0) {
		struct json_node *tree = NULL;

		require(doc && len > 0 && doc[len - 1] == '\n' && doc[len] == 0);
		require(valid_json(doc, len));
		r = json_read__parse(doc, len, &tree);
		require(r == 0 || r == -ENOMEM);
		if (r == 0 && npieces > 1)
			(void)json_read__str(tree, piece[0]);
		json_read__free(tree);
		free(doc);
	}
	/* The reader on the raw bytes: malformed, deep, anything. */
	{
		struct json_node *tree = NULL;

		r = json_read__parse((const char *)data, size, &tree);
		require(r == 0 || r == -EINVAL || r == -E2BIG || r == -ENOMEM);
		if (r == 0)
			(void)json_read__num(tree, "heap");
		json_read__free(tree);
	}
	free(buf);
	return 0;
}
