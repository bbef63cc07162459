/* SPDX-License-Identifier: GPL-2.0 */
/*
 * json: the one writer of the JSON profd sends (/v1/status). Strings are
 * escaped and invalid UTF-8 is replaced by U+FFFD (as Go's encoder does),
 * so no path or name taken from a process can break or forge the document.
 * Pure: no I/O. Errors stick: after the first, calls do nothing and
 * json__finish() returns it.
 *
 *	struct json j;
 *	json__init(&j, 1 << 20);
 *	json__obj_begin(&j, NULL);
 *	json__str(&j, "version", v);
 *	json__obj_end(&j);
 *	r = json__finish(&j, &buf, &len);
 */
#ifndef PROFD_JSON_H
#define PROFD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 16

struct json {
	char *buf;
	size_t len, cap;
	size_t max;			/* hard cap on the document */
	int err;			/* first error: -ENOMEM, -E2BIG, -EINVAL */
	unsigned depth;
	bool first[JSON_MAX_DEPTH];	/* no member yet at this depth */
};

void json__init(struct json *j, size_t max);
/* Frees the buffer (after an error, or instead of json__finish). */
void json__fini(struct json *j);

/* @key: the member's name inside an object, NULL at the top or in an array. */
void json__obj_begin(struct json *j, const char *key);
void json__obj_end(struct json *j);
void json__arr_begin(struct json *j, const char *key);
void json__arr_end(struct json *j);
void json__str(struct json *j, const char *key, const char *s);
void json__u64(struct json *j, const char *key, uint64_t v);
void json__i64(struct json *j, const char *key, int64_t v);
/* @decimals after the point; non-finite values are written as null. */
void json__double(struct json *j, const char *key, double v, int decimals);
/* @text is a whole JSON value built by a json writer: inserted as is. */
void json__raw(struct json *j, const char *key, const char *text);

/*
 * json__finish() - end the document (with a newline) and hand over the
 * buffer: 0 with *@ret (free() it) and *@ret_len, or the first error
 * (the buffer is freed). Unbalanced begin/end calls are -EINVAL.
 */
int json__finish(struct json *j, char **ret, size_t *ret_len);

/*
 * json__escape() - @s as a quoted JSON string into @dst, for code that
 * prints JSON with snprintf. Returns the length written; a result that
 * does not fit is cut at a character boundary and still closed with a
 * quote. @size must be at least 3.
 */
size_t json__escape(char *dst, size_t size, const char *s);

#endif /* PROFD_JSON_H */
