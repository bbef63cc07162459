/* SPDX-License-Identifier: GPL-2.0 */
/*
 * json_read: a small JSON reader for profctl (profd's /v1/status), into a
 * tree. Pure; bounded: input the caller already bounded, nesting at most
 * JSON_READ_MAX_DEPTH deep. Numbers are doubles (exact to 2^53).
 */
#ifndef PROFD_JSON_READ_H
#define PROFD_JSON_READ_H

#include <stddef.h>

#define JSON_READ_MAX_DEPTH 32

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUM,
	JSON_STR,
	JSON_ARR,
	JSON_OBJ,
};

struct json_node {
	enum json_type type;
	char *key;			/* member name inside an object */
	char *str;			/* JSON_STR, unescaped (UTF-8) */
	double num;			/* JSON_NUM; JSON_BOOL: 0 or 1 */
	struct json_node *child;	/* JSON_ARR, JSON_OBJ: first element */
	struct json_node *next;		/* next sibling */
};

/*
 * json_read__parse() - parse @len bytes of @text (one value, white space
 * around it). 0 and *ret (free with json_read__free()), -EINVAL for
 * malformed input, -E2BIG when nested too deep, -ENOMEM.
 */
int json_read__parse(const char *text, size_t len, struct json_node **ret);
void json_read__free(struct json_node *n);

/* Member @key of object @obj, NULL when @obj is no object or lacks it. */
const struct json_node *json_read__get(const struct json_node *obj,
				       const char *key);
/* Member @key as a number (0 when absent or not one) or string (""). */
double json_read__num(const struct json_node *obj, const char *key);
const char *json_read__str(const struct json_node *obj, const char *key);

#endif /* PROFD_JSON_READ_H */
