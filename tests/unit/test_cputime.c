// SPDX-License-Identifier: GPL-2.0
/* cputime: /proc/PID/stat parsing and the missing-samples decision. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "cputime.h"

#define MS (1000ULL * 1000)
#define S (1000ULL * MS)

static void test_parse(void)
{
	uint64_t t = 7;

	CHECK(cputime__parse("4242 (split) R 1 4242 4242 0 -1 4194304 100 0 0 0 "
			     "250 17 0 0 20 0 1 0 12345 2801664 200 1844\n", &t) == 0 &&
	      t == 267, "plain: %llu", (unsigned long long)t);
	/* A name with spaces and parentheses: the last ')' ends it. */
	CHECK(cputime__parse("7 (a) b (c)) S 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 9",
			     &t) == 0 && t == 7, "odd comm: %llu", (unsigned long long)t);
	/* The last two fields, at the end of the text. */
	CHECK(cputime__parse("1 (x) S 0 1 1 0 -1 0 0 0 0 0 5 6", &t) == 0 && t == 11,
	      "at the end: %llu", (unsigned long long)t);
	t = 99;
	CHECK(cputime__parse("1 (x) S 0 1 1 0 -1 0 0 0 0 0 5", &t) == -EINVAL && t == 99,
	      "stime missing, output untouched");
	CHECK(cputime__parse("1 (x) S 0 1 1 0 -1 0 0 0 0 0 -5 6", &t) == -EINVAL,
	      "negative");
	CHECK(cputime__parse("1 (x S 0 1 1 0 -1 0 0 0 0 0 5 6", &t) == -EINVAL, "no ')'");
	CHECK(cputime__parse("", &t) == -EINVAL, "empty");
}

static void test_read_self(void)
{
	uint64_t a = 0, b = 0;
	volatile uint64_t x = 0;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0, "open /proc/self/stat");
	if (fd < 0)
		return;
	CHECK(cputime__read(fd, &a) == 0, "first read");
	while (b < a + 30 * MS) {	/* burn ~30 ms: at least 2 ticks */
		for (int i = 0; i < 1000000; i++)
			x += (uint64_t)i;
		if (cputime__read(fd, &b) < 0)
			break;
	}
	CHECK(b >= a + 30 * MS && (b - a) % (10 * MS) == 0,
	      "%llu -> %llu ns", (unsigned long long)a, (unsigned long long)b);
	close(fd);
}

static void test_missing(void)
{
	const uint64_t p99 = S / 99, p1 = S;

	/* 5 s at 99 Hz: ~495 expected. */
	CHECK(cputime__samples_missing(5 * S, p99, 0), "none at all");
	CHECK(cputime__samples_missing(5 * S, p99, 49), "under a tenth");
	CHECK(!cputime__samples_missing(5 * S, p99, 50), "a tenth");
	CHECK(!cputime__samples_missing(5 * S, p99, 400), "-20%%: normal");
	CHECK(!cputime__samples_missing(5 * S, p99, 600), "more: not missing");
	/* The CPU-time floor: 0.25 s. */
	CHECK(!cputime__samples_missing(240 * MS, p99, 0), "below 0.25 s");
	CHECK(cputime__samples_missing(250 * MS, p99, 2), "0.25 s, 2 of ~24");
	CHECK(!cputime__samples_missing(250 * MS, p99, 3), "0.25 s, 3 of ~24");
	/* Low rates: at least 10 expected samples before anything counts. */
	CHECK(!cputime__samples_missing(9 * S, p1, 0), "1 Hz, 9 s: 9 expected");
	CHECK(cputime__samples_missing(10 * S, p1, 0), "1 Hz, 10 s: 10 expected");
	CHECK(!cputime__samples_missing(10 * S, p1, 1), "1 Hz, 1 of 10");
	CHECK(!cputime__samples_missing(0, p99, 0), "idle process");
	CHECK(!cputime__samples_missing(5 * S, 0, 0), "no period");
	/* No overflow at the extremes. */
	CHECK(cputime__samples_missing(UINT64_MAX, 100000, 0), "huge CPU time");
	CHECK(!cputime__samples_missing(UINT64_MAX, 100000, UINT64_MAX / 100000),
	      "huge sample count");
}

int main(void)
{
	test_parse();
	test_read_self();
	test_missing();
	return check__done();
}
