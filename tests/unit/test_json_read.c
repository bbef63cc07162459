// SPDX-License-Identifier: GPL-2.0
/*
 * json_read: values, nesting, escapes, and refusal of malformed or too
 * deeply nested input.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "json_read.h"

static int parse(const char *s, struct json_node **ret)
{
	return json_read__parse(s, strlen(s), ret);
}

int main(void)
{
	static const char *const bad[] = {
		"", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "tru", "\"abc",
		"\"a\\qb\"", "1 2", "{1:2}", "[1 2]", "\"\\u12\"", "\"a\nb\"",
	};
	const struct json_node *n;
	struct json_node *root;
	char deep[200];
	size_t i;
	int r;

	r = parse(" {\"version\":\"0.1.0\",\"up\":12.5,\"n\":-3e2,\"ok\":true,"
		  "\"none\":null,\"a\":[1,{\"pid\":42}],\"e\":{},\"s\":\"q\\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00\"} ",
		  &root);
	CHECK(r == 0, "parse: %d", r);
	if (r == 0) {
		CHECK(!strcmp(json_read__str(root, "version"), "0.1.0"), "string");
		CHECK(json_read__num(root, "up") == 12.5 && json_read__num(root, "n") == -300,
		      "numbers");
		CHECK(json_read__num(root, "ok") == 1, "true");
		n = json_read__get(root, "none");
		CHECK(n && n->type == JSON_NULL, "null");
		n = json_read__get(root, "a");
		CHECK(n && n->type == JSON_ARR && n->child && n->child->num == 1 &&
		      n->child->next && json_read__num(n->child->next, "pid") == 42,
		      "array of an object");
		n = json_read__get(root, "e");
		CHECK(n && n->type == JSON_OBJ && !n->child, "empty object");
		CHECK(!strcmp(json_read__str(root, "s"), "q\"\\/\n\xc3\xa9\xf0\x9f\x98\x80"),
		      "escapes: %s", json_read__str(root, "s"));
		CHECK(!json_read__get(root, "missing") && json_read__num(root, "missing") == 0 &&
		      !strcmp(json_read__str(root, "up"), ""), "absent and mistyped");
		json_read__free(root);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], &root) == -EINVAL, "refused: %s", bad[i]);
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = 0;
	CHECK(parse(deep, &root) == -E2BIG, "too deep");
	return check__done();
}
