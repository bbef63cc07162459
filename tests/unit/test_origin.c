// SPDX-License-Identifier: GPL-2.0
/* origin: Host, Origin and Sec-Fetch-Site of requests from web pages and from tools. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "origin.h"

static int check(const struct origin_listener *l, const char *host, const char *origin,
		 const char *site)
{
	char why[320] = "";
	int r = origin__check(l, host, origin, site, why, sizeof(why));

	if (r < 0 && (!why[0] || strchr(why, '\n') || strlen(why) > 300))
		return -1000;	/* every refusal says why, on one line */
	return r;
}

int main(void)
{
	const struct origin_listener tcp = { .tcp = true, .host = "localhost", .port = 6060 };
	const struct origin_listener named = { .tcp = true, .host = "lo-alias", .port = 6060 };
	const struct origin_listener unx = { .tcp = false };
	const struct origin_listener token = { .tcp = true, .host = "10.0.0.17", .port = 6060,
					       .any_host = true };
	static const char *const hosts_ok[] = {
		"127.0.0.1:6060", "127.0.0.1", "127.1.2.3:6060", "localhost:6060", "LOCALHOST",
		"localhost.:6060", "[::1]:6060", "[::1]", "[0:0:0:0:0:0:0:1]:7070",
	};
	static const char *const hosts_bad[] = {
		"evil.example:6060", "evil.example", "127.0.0.1.evil.example:6060",
		"localhost.evil.example", "10.0.0.1:6060", "[::2]:6060", "[::1:6060", "[::1]x",
		"127.1:6060", "2130706433:6060", "localhost:", "localhost:99999", "localhost:60a",
		":6060", "", "[]:6060", "lo-alias:6060", "0.0.0.0:6060",
	};
	size_t i;
	char longhost[400];

	for (i = 0; i < sizeof(hosts_ok) / sizeof(*hosts_ok); i++)
		CHECK(check(&tcp, hosts_ok[i], NULL, NULL) == 0, "host %s", hosts_ok[i]);
	for (i = 0; i < sizeof(hosts_bad) / sizeof(*hosts_bad); i++)
		CHECK(check(&tcp, hosts_bad[i], NULL, NULL) == -EPERM, "host %s", hosts_bad[i]);
	/* A token listener: any Host (or none), but still no page's
	 * cross-site request. */
	for (i = 0; i < sizeof(hosts_bad) / sizeof(*hosts_bad); i++)
		CHECK(check(&token, hosts_bad[i], NULL, NULL) == 0, "token, host %s", hosts_bad[i]);
	CHECK(check(&token, NULL, NULL, NULL) == 0, "token, no Host");
	CHECK(check(&token, "web-17:6060", NULL, "cross-site") == -EPERM, "token, cross-site");
	CHECK(check(&token, "web-17:6060", "http://evil.example", NULL) == -EPERM, "token, Origin");
	CHECK(check(&tcp, NULL, NULL, NULL) == -EPERM, "no Host over TCP");
	CHECK(check(&named, "lo-alias:6060", NULL, NULL) == 0, "--listen's own name");
	memset(longhost, 'a', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = 0;
	CHECK(check(&tcp, longhost, NULL, NULL) == -EPERM, "long host");
	CHECK(check(&tcp, "evil\n\x01:6060", NULL, NULL) == -EPERM, "control bytes quoted safely");

	/* The Unix socket: any Host (curl sends localhost, others anything). */
	CHECK(check(&unx, NULL, NULL, NULL) == 0, "unix, no Host");
	CHECK(check(&unx, "whatever", NULL, NULL) == 0, "unix, any Host");

	CHECK(check(&tcp, "localhost:6060", NULL, "none") == 0, "typed in the address bar");
	CHECK(check(&tcp, "localhost:6060", NULL, "same-origin") == 0, "same origin");
	CHECK(check(&tcp, "localhost:6060", NULL, "same-site") == -EPERM, "same site");
	CHECK(check(&tcp, "localhost:6060", NULL, "cross-site") == -EPERM, "cross site");
	CHECK(check(&tcp, "localhost:6060", NULL, "bogus") == -EPERM, "unknown Sec-Fetch-Site");
	CHECK(check(&unx, NULL, NULL, "cross-site") == -EPERM, "cross site on unix");

	CHECK(check(&tcp, "localhost:6060", "http://localhost:6060", NULL) == 0, "own origin");
	CHECK(check(&tcp, "localhost:6060", "http://127.0.0.1:6060", NULL) == 0, "own origin by address");
	CHECK(check(&tcp, "localhost:6060", "http://[::1]:6060", "same-origin") == 0, "own origin v6");
	CHECK(check(&tcp, "localhost:6060", "http://localhost:6061", NULL) == -EPERM, "another port");
	CHECK(check(&tcp, "localhost:6060", "http://localhost", NULL) == -EPERM, "port 80");
	CHECK(check(&tcp, "localhost:6060", "https://localhost:6060", NULL) == -EPERM, "https");
	CHECK(check(&tcp, "localhost:6060", "http://evil.example:6060", NULL) == -EPERM, "foreign");
	CHECK(check(&tcp, "localhost:6060", "null", NULL) == -EPERM, "null origin");
	CHECK(check(&tcp, "localhost:6060", "", NULL) == -EPERM, "empty origin");
	CHECK(check(&unx, NULL, "http://localhost:6060", NULL) == -EPERM, "origin on unix");
	return check__done();
}
