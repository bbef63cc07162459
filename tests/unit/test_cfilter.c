// SPDX-License-Identifier: GPL-2.0
/*
 * cfilter: continuous-include/-exclude terms, parsed and matched.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cfilter.h"
#include "check.h"

int main(void)
{
	static struct cfilter inc, exc, none;
	struct cfilter_proc web = {
		.unit = "web.service", .service = "web.service",
		.cgroup = "/system.slice/web.service", .comm = "nginx",
		.uid = 33,
	};
	struct cfilter_proc kthread = {
		.unit = "", .service = "kernel", .cgroup = "/", .comm = "kworker/0:1",
		.uid = 0,
	};
	char err[256];
	int r;

	r = cfilter__parse(NULL, &none, err, sizeof(err));
	CHECK(r == 0 && none.n == 0, "NULL: %d", r);
	CHECK(cfilter__wanted(&none, &none, &web), "no terms: everything");

	r = cfilter__parse(" unit:web.service, cgroup:/system.slice/ ,comm:x,uid:33 ,",
			   &inc, err, sizeof(err));
	CHECK(r == 0 && inc.n == 4, "four terms: %d %s", r, err);
	CHECK(inc.t[0].kind == CFILTER_UNIT && !strcmp(inc.t[0].value, "web.service"), "");
	CHECK(inc.t[3].kind == CFILTER_UID && inc.t[3].uid == 33, "");
	CHECK(cfilter__match(&inc, &web), "web matches");
	CHECK(!cfilter__match(&inc, &kthread), "kthread does not");

	/* cgroup: the path or below it, whole components only. */
	r = cfilter__parse("cgroup:/system.slice/web", &inc, err, sizeof(err));
	CHECK(r == 0 && !cfilter__match(&inc, &web), "prefix of a component");
	r = cfilter__parse("cgroup:/system.slice", &inc, err, sizeof(err));
	CHECK(r == 0 && cfilter__match(&inc, &web), "below");
	r = cfilter__parse("cgroup:/", &inc, err, sizeof(err));
	CHECK(r == 0 && cfilter__match(&inc, &web) && cfilter__match(&inc, &kthread), "root");

	/* Include, then exclude. */
	r = cfilter__parse("uid:33", &inc, err, sizeof(err));
	CHECK(r == 0, "");
	r = cfilter__parse("comm:nginx", &exc, err, sizeof(err));
	CHECK(r == 0, "");
	CHECK(!cfilter__wanted(&inc, &exc, &web), "excluded wins");
	CHECK(!cfilter__wanted(&inc, &none, &kthread), "not included");
	CHECK(cfilter__wanted(&none, &exc, &kthread), "not excluded");
	r = cfilter__parse("unit:kernel", &exc, err, sizeof(err));
	CHECK(r == 0 && !cfilter__wanted(&none, &exc, &kthread),
	      "the kernel service by its name");

	/* Refusals leave the filter as it was. */
	inc.n = 7;
	r = cfilter__parse("pid:1", &inc, err, sizeof(err));
	CHECK(r == -EINVAL && strstr(err, "pid:1") && inc.n == 7, "%s", err);
	CHECK(cfilter__parse("uid:", &inc, err, sizeof(err)) == -EINVAL, "");
	CHECK(cfilter__parse("uid:-1", &inc, err, sizeof(err)) == -EINVAL, "");
	CHECK(cfilter__parse("uid:12a", &inc, err, sizeof(err)) == -EINVAL, "");
	CHECK(cfilter__parse("uid:4294967295", &inc, err, sizeof(err)) == -EINVAL, "");
	CHECK(cfilter__parse("cgroup:system.slice", &inc, err, sizeof(err)) == -EINVAL, "");
	CHECK(cfilter__parse("comm", &inc, err, sizeof(err)) == -EINVAL, "");
	CHECK(cfilter__parse("unit:", &inc, err, sizeof(err)) == -EINVAL, "");
	{
		char many[CFILTER_MAX_TERMS * 8 + 16] = "";

		for (r = 0; r <= CFILTER_MAX_TERMS; r++)
			strcat(many, "uid:1,");
		CHECK(cfilter__parse(many, &inc, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "more than"), "%s", err);
	}
	return check__done();
}
