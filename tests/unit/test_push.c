// SPDX-License-Identifier: GPL-2.0
/*
 * push (pure parts) and metrics: the PushRequest's bytes decode back to
 * what went in (labels sorted, __name__/service_name/__delta__ set, the
 * UUID as the sample's ID); which answers are retried; backoff grows,
 * is capped and jittered within its half; the endpoint URL; the metrics
 * text has HELP/TYPE for every family and no names beyond counters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"
#include "pprof.h"
#include "pprof_read.h"
#include "push.h"
#include "push.pb-c.h"

static void test_encode(void)
{
	static const char prof[] = "\x1f\x8b pretend gzip";
	Push__V1__PushRequest *req;
	struct spool_meta m = {};
	void *buf = NULL;
	size_t len = 0, i;
	const Push__V1__RawProfileSeries *s;

	strcpy(m.uuid, "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
	strcpy(m.service, "nginx.service");
	m.nlabels = 3;
	strcpy(m.labels[0].name, "unit");
	strcpy(m.labels[0].value, "nginx.service");
	strcpy(m.labels[1].name, "host");
	strcpy(m.labels[1].value, "web-17");
	strcpy(m.labels[2].name, "service_name");	/* ignored: set by push */
	strcpy(m.labels[2].value, "evil");
	CHECK(push__encode(&m, "process_cpu", prof, sizeof(prof) - 1, &buf, &len) == 0, "");
	req = push__v1__push_request__unpack(NULL, len, buf);
	CHECK(req && req->n_series == 1, "");
	if (!req || req->n_series != 1)
		goto out;
	s = req->series[0];
	CHECK(s->n_labels == 5, "%zu", s->n_labels);
	for (i = 0; i + 1 < s->n_labels; i++)
		CHECK(strcmp(s->labels[i]->name, s->labels[i + 1]->name) < 0, "order");
	for (i = 0; i < s->n_labels; i++) {
		const char *n = s->labels[i]->name, *v = s->labels[i]->value;

		if (!strcmp(n, "__name__"))
			CHECK(!strcmp(v, "process_cpu"), "%s", v);
		else if (!strcmp(n, "service_name"))
			CHECK(!strcmp(v, "nginx.service"), "%s", v);
		else if (!strcmp(n, "__delta__"))
			CHECK(!strcmp(v, "false"), "%s", v);
		else if (!strcmp(n, "host"))
			CHECK(!strcmp(v, "web-17"), "%s", v);
		else if (!strcmp(n, "unit"))
			CHECK(!strcmp(v, "nginx.service"), "%s", v);
		else
			CHECK(0, "unexpected label %s", n);
	}
	CHECK(s->n_samples == 1 && !strcmp(s->samples[0]->id, m.uuid) &&
	      s->samples[0]->raw_profile.len == sizeof(prof) - 1 &&
	      !memcmp(s->samples[0]->raw_profile.data, prof, sizeof(prof) - 1), "");
out:
	push__v1__push_request__free_unpacked(req, NULL);
	free(buf);
	m.service[0] = 0;
	CHECK(push__encode(&m, "process_cpu", prof, 3, &buf, &len) == -EINVAL, "");
}

static void test_verdict_backoff(void)
{
	uint64_t d, r;
	unsigned a;

	CHECK(push__verdict(200, false) == PUSH_DONE, "");
	CHECK(push__verdict(204, false) == PUSH_DONE, "");
	CHECK(push__verdict(408, false) == PUSH_RETRY, "");
	CHECK(push__verdict(429, false) == PUSH_RETRY, "");
	CHECK(push__verdict(500, false) == PUSH_RETRY, "");
	CHECK(push__verdict(503, false) == PUSH_RETRY, "");
	CHECK(push__verdict(0, true) == PUSH_RETRY, "");
	CHECK(push__verdict(400, false) == PUSH_REJECT, "");
	CHECK(push__verdict(401, false) == PUSH_REJECT, "");
	CHECK(push__verdict(413, false) == PUSH_REJECT, "");
	CHECK(push__verdict(301, false) == PUSH_REJECT, "redirects are not followed");

	/* 500 ms doubling to 5 min; each within [d/2, d]. */
	for (a = 1; a < 40; a++) {
		uint64_t full = 500;
		unsigned i;

		for (i = 1; i < a && full < 300000; i++)
			full *= 2;
		if (full > 300000)
			full = 300000;
		for (r = 0; r < 5; r++) {
			d = push__backoff_ms(a, 500, 300000, r * 0x9e3779b97f4a7c15ULL);
			CHECK(d >= full / 2 && d <= full, "attempt %u: %llu of %llu", a,
			      (unsigned long long)d, (unsigned long long)full);
		}
	}
	CHECK(push__backoff_ms(1, 500, 300000, 0) == 250, "");
	CHECK(push__backoff_ms(100, 500, 300000, 0) == 150000, "");
	/* Jitter spreads: not all equal. */
	CHECK(push__backoff_ms(5, 500, 300000, 1) != push__backoff_ms(5, 500, 300000, 977), "");
}

static void test_endpoint(void)
{
	char buf[128];

	CHECK(push__endpoint("https://p.example:4040", buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, "https://p.example:4040/push.v1.PusherService/Push"), "%s", buf);
	CHECK(push__endpoint("http://127.0.0.1:9/base//", buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, "http://127.0.0.1:9/base/push.v1.PusherService/Push"), "%s", buf);
	CHECK(push__endpoint("ftp://x", buf, sizeof(buf)) == -EINVAL, "");
	CHECK(push__endpoint("file:///etc/passwd", buf, sizeof(buf)) == -EINVAL, "");
	CHECK(push__endpoint("https://p.example", buf, 20) == -ENAMETOOLONG, "");
}

static void test_metrics(void)
{
	struct metrics_input in = { .samples_total = 42, .samples_lost = 1 };
	char *buf = NULL, *line, *save;
	size_t len = 0;

	in.fleet.push.nerrors = 2;
	in.fleet.push.errors[0].code = 429;
	in.fleet.push.errors[0].n = 3;
	in.fleet.push.errors[1].code = 0;
	in.fleet.push.errors[1].n = 2;
	in.fleet.spool.files = 2;
	in.fleet.spool.oldest_end_ns = 1000000000;
	in.now_ns = 11000000000;
	CHECK(metrics__self(&in) == 0 && in.rss_bytes > 0, "");
	CHECK(metrics__write(&in, &buf, &len) == 0 && len == strlen(buf), "");
	CHECK(strstr(buf, "\nprofd_samples_total 42\n"), "");
	CHECK(strstr(buf, "profd_push_errors_total{code=\"429\"} 3\n"), "");
	CHECK(strstr(buf, "profd_push_errors_total{code=\"connection\"} 2\n"), "");
	CHECK(strstr(buf, "profd_spool_oldest_age_seconds 10.000\n"), "");
	/* Every sample line's family has a TYPE line before it. */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char fam[128], pat[160];

		if (line[0] == '#')
			continue;
		snprintf(fam, sizeof(fam), "%.*s", (int)strcspn(line, "{ "), line);
		snprintf(pat, sizeof(pat), "# TYPE %s ", fam);
		CHECK(memmem(buf, (size_t)(line - buf), pat, strlen(pat)), "%s", fam);
	}
	free(buf);
}

/* Two threads of one process on one stack: one sample once tid is gone. */
static void test_strip(void)
{
	static const char *const drop[] = { "pid", "tid", NULL };
	Perftools__Profiles__Profile *p = NULL;
	struct pprof *b = NULL;
	struct pprof_mapping_desc md = { .start = 0x1000, .limit = 0x2000,
					 .filename = "/bin/app" };
	struct pprof_line ln;
	uint64_t loc;
	int64_t v[2] = { 2, 20 };
	void *buf = NULL, *out = NULL;
	size_t len = 0, olen = 0, i;
	int tid;

	CHECK(pprof__new(&b) == 0, "new");
	pprof__add_sample_type(b, "samples", "count");
	pprof__add_sample_type(b, "cpu", "nanoseconds");
	pprof__add_comment(b, "CPU profile of pid 7");
	ln.function_id = (uint64_t)pprof__add_function(b, "work", "work", "a.c", 1);
	ln.line = 3;
	loc = (uint64_t)pprof__add_location(b, (uint64_t)pprof__add_mapping(b, &md),
					    0x1100, &ln, 1);
	for (tid = 7; tid < 9; tid++) {
		struct pprof_label l[3] = { { .key = "pid", .num = 7 },
					    { .key = "tid", .num = tid },
					    { .key = "thread", .str = "worker" } };

		pprof__add_sample(b, &loc, 1, v, 2, l, 3);
	}
	CHECK(pprof__write(b, true, &buf, &len) == 0, "");
	pprof__free(b);
	CHECK(push__strip_labels(buf, len, drop, &out, &olen) == 0, "");
	CHECK(out && pprof_read__decode(out, olen, &p) == 0, "");
	if (p) {
		CHECK(p->n_sample == 1 && p->sample[0]->value[0] == 4 &&
		      p->sample[0]->value[1] == 40, "%zu samples", p->n_sample);
		CHECK(p->n_sample == 1 && p->sample[0]->n_label == 1 &&
		      !strcmp(pprof_read__str(p, p->sample[0]->label[0]->key), "thread"), "");
		for (i = 0; i < p->n_comment; i++)
			if (!strcmp(pprof_read__str(p, p->comment[i]), "CPU profile of pid 7"))
				break;
		CHECK(i < p->n_comment, "comment lost");
		pprof_read__free(p);
	}
	CHECK(push__strip_labels("junk", 4, drop, &out, &olen) == -EINVAL, "");
	free(buf);
	free(out);
}

int main(void)
{
	test_encode();
	test_strip();
	test_verdict_backoff();
	test_endpoint();
	test_metrics();
	return check__done();
}
