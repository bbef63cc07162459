// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Length of the valid UTF-8 sequence at @s (1-4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		/* No overlong forms (e0 80..9f), no surrogates (ed a0..bf). */
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0;
		return (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		/* No overlong forms (f0 80..8f), nothing past U+10FFFF. */
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 &&
		       (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/*
 * The next character of @s as it goes into a JSON string: into @out (at
 * most 6 bytes), its length returned, the input bytes used in *@used. A
 * NUL in a continuation position fails the check above, so @s is never
 * read past its terminator.
 */
static size_t escape_char(const unsigned char *s, char out[8], size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = utf8_len(s);

	*used = n ? n : 1;
	if (!n) {
		memcpy(out, "\xef\xbf\xbd", 3);	/* U+FFFD */
		return 3;
	}
	if (n > 1) {
		memcpy(out, s, n);
		return n;
	}
	switch (s[0]) {
	case '"':
		memcpy(out, "\\\"", 2);
		return 2;
	case '\\':
		memcpy(out, "\\\\", 2);
		return 2;
	case '\n':
		memcpy(out, "\\n", 2);
		return 2;
	case '\t':
		memcpy(out, "\\t", 2);
		return 2;
	case '\r':
		memcpy(out, "\\r", 2);
		return 2;
	}
	if (s[0] < 0x20) {
		memcpy(out, "\\u00", 4);
		out[4] = hex[s[0] >> 4];
		out[5] = hex[s[0] & 15];
		return 6;
	}
	out[0] = (char)s[0];
	return 1;
}

size_t json__escape(char *dst, size_t size, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, n, used;
	char ch[8];

	if (size < 3)
		return 0;
	dst[len++] = '"';
	while (*p) {
		n = escape_char(p, ch, &used);
		if (len + n + 2 > size)	/* room for the quote and NUL */
			break;
		memcpy(dst + len, ch, n);
		len += n;
		p += used;
	}
	dst[len++] = '"';
	dst[len] = 0;
	return len;
}

void json__init(struct json *j, size_t max)
{
	memset(j, 0, sizeof(*j));
	j->max = max;
	j->first[0] = true;
}

void json__fini(struct json *j)
{
	free(j->buf);
	j->buf = NULL;
	j->len = j->cap = 0;
}

static void json__put(struct json *j, const char *s, size_t n)
{
	size_t cap;
	char *nb;

	if (j->err)
		return;
	if (j->len + n + 1 > j->max) {
		j->err = -E2BIG;
		return;
	}
	if (j->len + n + 1 > j->cap) {
		cap = j->cap ? j->cap : 1024;
		while (cap < j->len + n + 1)
			cap *= 2;
		if (cap > j->max)
			cap = j->max;
		nb = realloc(j->buf, cap);
		if (!nb) {
			j->err = -ENOMEM;
			return;
		}
		j->buf = nb;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = 0;
}

static void put_str(struct json *j, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, used;
	char ch[8];

	json__put(j, "\"", 1);
	while (*p && !j->err) {
		n = escape_char(p, ch, &used);
		json__put(j, ch, n);
		p += used;
	}
	json__put(j, "\"", 1);
}

/* The separator and the member's name before a value. */
static void member(struct json *j, const char *key)
{
	if (j->err)
		return;
	if (!j->first[j->depth])
		json__put(j, ",", 1);
	j->first[j->depth] = false;
	if (key) {
		put_str(j, key);
		json__put(j, ":", 1);
	}
}

static void open_(struct json *j, const char *key, const char *c)
{
	member(j, key);
	if (j->err)
		return;
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->err = -EINVAL;
		return;
	}
	json__put(j, c, 1);
	j->first[++j->depth] = true;
}

static void close_(struct json *j, const char *c)
{
	if (j->err)
		return;
	if (!j->depth) {
		j->err = -EINVAL;
		return;
	}
	j->depth--;
	json__put(j, c, 1);
}

void json__obj_begin(struct json *j, const char *key)
{
	open_(j, key, "{");
}

void json__obj_end(struct json *j)
{
	close_(j, "}");
}

void json__arr_begin(struct json *j, const char *key)
{
	open_(j, key, "[");
}

void json__arr_end(struct json *j)
{
	close_(j, "]");
}

void json__str(struct json *j, const char *key, const char *s)
{
	member(j, key);
	put_str(j, s ? s : "");
}

static void put_fmt(struct json *j, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void put_fmt(struct json *j, const char *key, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	member(j, key);
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		if (!j->err)
			j->err = -EINVAL;
		return;
	}
	json__put(j, buf, (size_t)n);
}

void json__u64(struct json *j, const char *key, uint64_t v)
{
	put_fmt(j, key, "%" PRIu64, v);
}

void json__i64(struct json *j, const char *key, int64_t v)
{
	put_fmt(j, key, "%" PRId64, v);
}

void json__double(struct json *j, const char *key, double v, int decimals)
{
	if (!isfinite(v))
		put_fmt(j, key, "null");
	else
		put_fmt(j, key, "%.*f", decimals, v);
}

void json__raw(struct json *j, const char *key, const char *text)
{
	member(j, key);
	json__put(j, text, strlen(text));
}

int json__finish(struct json *j, char **ret, size_t *ret_len)
{
	int r;

	if (!j->err && j->depth)
		j->err = -EINVAL;
	json__put(j, "\n", 1);
	r = j->err;
	if (r < 0) {
		json__fini(j);
		return r;
	}
	*ret = j->buf;
	*ret_len = j->len;
	j->buf = NULL;
	j->len = j->cap = 0;
	return 0;
}
