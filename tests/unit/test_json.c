// SPDX-License-Identifier: GPL-2.0
/* json: escaping (quotes, backslashes, control bytes, invalid UTF-8), nesting, caps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json.h"

static int doc(void (*build)(struct json *), size_t max, char **ret)
{
	struct json j;
	size_t len;

	json__init(&j, max);
	build(&j);
	return json__finish(&j, ret, &len);
}

static void status_like(struct json *j)
{
	json__obj_begin(j, NULL);
	json__str(j, "version", "0.1.0");
	json__double(j, "uptime", 1.23456, 3);
	json__obj_begin(j, "heap");
	json__u64(j, "tracked", 2);
	json__arr_begin(j, "procs");
	json__obj_begin(j, NULL);
	json__i64(j, "pid", -1);
	json__str(j, "allocator", "/tmp/lib\"x\",\"pid\":1\\.so");
	json__obj_end(j);
	json__raw(j, NULL, "{\"pid\":2}");
	json__arr_end(j);
	json__obj_end(j);
	json__raw(j, "sessions", "[]");
	json__double(j, "nan", 0.0 / 0.0, 1);
	json__obj_end(j);
}

static void unbalanced(struct json *j)
{
	json__obj_begin(j, NULL);
	json__arr_begin(j, "a");
	json__obj_end(j);
}

static void closes_too_much(struct json *j)
{
	json__obj_begin(j, NULL);
	json__obj_end(j);
	json__obj_end(j);
}

static void too_deep(struct json *j)
{
	int i;

	for (i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json__arr_begin(j, NULL);
	for (i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json__arr_end(j);
}

static void big(struct json *j)
{
	int i;

	json__arr_begin(j, NULL);
	for (i = 0; i < 1000; i++)
		json__str(j, NULL, "0123456789");
	json__arr_end(j);
}

int main(void)
{
	char e[64], small[8], *s = NULL;
	size_t n;
	int r;

	n = json__escape(e, sizeof(e), "a\"b\\c\n\t\r\x01\x1f\x7f/");
	CHECK(!strcmp(e, "\"a\\\"b\\\\c\\n\\t\\r\\u0001\\u001f\x7f/\""), "escaped: %s", e);
	CHECK(n == strlen(e), "length %zu", n);
	/* Valid UTF-8 kept; invalid bytes, overlong forms, surrogates and a
	 * sequence cut by the NUL become U+FFFD, one per byte. */
	json__escape(e, sizeof(e), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	CHECK(!strcmp(e, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""), "utf-8 kept: %s", e);
	json__escape(e, sizeof(e), "\xff\xc0\xaf\xed\xa0\x80\xe2\x82");
	CHECK(!strcmp(e, "\"" "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "\""), "invalid replaced: %s", e);
	/* Cut at a character, still closed. */
	n = json__escape(small, sizeof(small), "ab\"cdef");
	CHECK(!strcmp(small, "\"ab\\\"c\"") && n == 7, "cut: %s (%zu)", small, n);
	n = json__escape(small, sizeof(small), "\"\"\"");
	CHECK(!strcmp(small, "\"\\\"\\\"\"") && n == 6, "cut between escapes: %s", small);

	r = doc(status_like, 4096, &s);
	CHECK(r == 0, "status: %d", r);
	CHECK(s && !strcmp(s, "{\"version\":\"0.1.0\",\"uptime\":1.235,\"heap\":{\"tracked\":2,"
			      "\"procs\":[{\"pid\":-1,\"allocator\":\"/tmp/lib\\\"x\\\",\\\"pid\\\":1\\\\.so\"},"
			      "{\"pid\":2}]},\"sessions\":[],\"nan\":null}\n"),
	      "document: %s", s ? s : "(null)");
	free(s);
	s = NULL;
	CHECK(doc(unbalanced, 4096, &s) == -EINVAL && !s, "unbalanced");
	CHECK(doc(closes_too_much, 4096, &s) == -EINVAL && !s, "closes too much");
	CHECK(doc(too_deep, 4096, &s) == -EINVAL && !s, "too deep");
	CHECK(doc(big, 1000, &s) == -E2BIG && !s, "over the cap");
	r = doc(big, 1 << 20, &s);
	CHECK(r == 0 && s && strlen(s) == 1000 * 12 + 999 + 2 + 1, "grows: %d %zu", r, s ? strlen(s) : 0);
	free(s);
	return check__done();
}
