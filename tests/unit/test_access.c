// SPDX-License-Identifier: GPL-2.0
/*
 * access: the decisions that need no process — who sees which CPU
 * windows in /v1/status, who sees the tracked processes, who may profile
 * the whole machine — for root, a user, a token holder and an anonymous
 * caller. (access__scope() is tested in test_listen_auth.c, access__check()
 * against real processes in tests/e2e/test_attack.py.)
 */
#include <errno.h>

#include "access.h"
#include "check.h"

static void test_see_session(void)
{
	struct peer root = { .uid = 0, .gid = 0, .known = true };
	struct peer user = { .uid = 1000, .gid = 1000, .known = true };
	struct peer token = { .uid = 0, .known = true, .tcp = true,
			      .token = true };
	struct peer tcp_user = { .uid = 1000, .known = true, .tcp = true };
	struct peer anon = { .uid = (uid_t)-1, .gid = (gid_t)-1,
			     .unknown_err = -ENOTCONN };
	/* An anonymous caller's uid field is -1: it must not match a
	 * window whose owner is -1 either (nobody's uid is 65534, but the
	 * check is on "known", not on the number). */
	uid_t owners[] = { 0, 1000, 1001, 65534, (uid_t)-1 };
	unsigned i;

	for (i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
		CHECK(access__may_see_session(&root, owners[i]) == 0, "root, owner %u",
		      owners[i]);
		CHECK(access__may_see_session(&token, owners[i]) == 0,
		      "token holder (root's view), owner %u", owners[i]);
		CHECK(access__may_see_session(&anon, owners[i]) == -EACCES,
		      "anonymous, owner %u", owners[i]);
	}
	CHECK(access__may_see_session(&user, 1000) == 0, "own window");
	CHECK(access__may_see_session(&tcp_user, 1000) == 0, "own window, TCP");
	CHECK(access__may_see_session(&user, 0) == -EACCES, "root's window");
	CHECK(access__may_see_session(&user, 1001) == -EACCES, "another user's");
	CHECK(access__may_see_session(&tcp_user, 0) == -EACCES, "root's, TCP");
}

static void test_root_only(void)
{
	struct peer root = { .uid = 0, .known = true };
	struct peer user = { .uid = 1000, .known = true };
	/* An orphaned TCP socket's owner the kernel shows as 0: not known,
	 * so not root. */
	struct peer anon0 = { .uid = 0, .known = false, .tcp = true };

	CHECK(access__may_list_processes(&root) == 0, "root lists");
	CHECK(access__may_list_processes(&user) == -EACCES, "user lists");
	CHECK(access__may_list_processes(&anon0) == -EACCES, "anonymous uid 0");
	CHECK(access__may_profile_machine(&root) == 0, "root, machine");
	CHECK(access__may_profile_machine(&user) == -EACCES, "user, machine");
	CHECK(access__may_profile_machine(&anon0) == -EACCES, "anon, machine");
	CHECK(access__may_read_history(&user) == -EACCES, "user, history");
	CHECK(access__identified(&user) == 0, "user identified");
	CHECK(access__identified(&anon0) == -EACCES, "anonymous");
	/* Anonymous uid 0 sees no window, not root's all. */
	CHECK(access__may_see_session(&anon0, 0) == -EACCES, "anon uid 0");
}

int main(void)
{
	test_see_session();
	test_root_only();
	return check__done();
}
