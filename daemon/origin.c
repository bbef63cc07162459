// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "origin.h"

/* A header's value fit to quote back: printable ASCII, bounded. */
static const char *shown(const char *s, char *buf, size_t size)
{
	size_t i, max = size - 4;	/* room for "..." and the NUL */

	for (i = 0; s[i] && i < max; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i])
		strcpy(buf + i, "...");
	else
		buf[i] = 0;
	return buf;
}

/*
 * Split "name", "name:port", "[v6]" or "[v6]:port" into @name (brackets
 * removed) and *@ret_port (0 when none). False when malformed.
 */
static bool split_hostport(const char *s, char *name, size_t size,
			   unsigned *ret_port)
{
	const char *colon, *end, *p;
	unsigned long port = 0;
	size_t n;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return false;
		n = (size_t)(end - s - 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (!colon && end[1])
			return false;
		s++;
	} else {
		colon = strrchr(s, ':');
		n = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (!n || n >= size)
		return false;
	memcpy(name, s, n);
	name[n] = 0;
	if (colon) {
		if (!colon[1] || strlen(colon + 1) > 5)
			return false;
		for (p = colon + 1; *p; p++) {
			if (*p < '0' || *p > '9')
				return false;
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (!port || port > 65535)
			return false;
	}
	*ret_port = (unsigned)port;
	return true;
}

/* localhost, 127.0.0.0/8 in dotted-quad form, ::1, or --listen's name. */
static bool loopback_name(const struct origin_listener *l, const char *name)
{
	struct in6_addr a6;
	struct in_addr a4;
	char n[256];
	size_t len = strlen(name);

	if (len >= sizeof(n))
		return false;
	memcpy(n, name, len + 1);
	/* "localhost." is the same name, fully qualified. */
	if (len > 1 && n[len - 1] == '.')
		n[len - 1] = 0;
	if (!strcasecmp(n, "localhost"))
		return true;
	/* inet_pton takes only the four-part decimal form, which is what
	 * browsers put in Host for any spelling of an IPv4 address. */
	if (inet_pton(AF_INET, n, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, n, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return l->host && !strcasecmp(n, l->host);
}

int origin__check(const struct origin_listener *l, const char *host,
		  const char *origin, const char *fetch_site, char *why,
		  size_t whylen)
{
	char name[256], buf[80];
	unsigned port;

	if (fetch_site && strcmp(fetch_site, "none") &&
	    strcmp(fetch_site, "same-origin")) {
		snprintf(why, whylen, "refused: a request from another site's web page (Sec-Fetch-Site: %s)",
			 shown(fetch_site, buf, sizeof(buf)));
		return -EPERM;
	}
	/* With any_host the token says who asks, not the name used. */
	if (l->tcp && !l->any_host && !host) {
		snprintf(why, whylen, "refused: no Host header; over TCP profd serves requests for a loopback host only");
		return -EPERM;
	}
	if (l->tcp && !l->any_host &&
	    (!split_hostport(host, name, sizeof(name), &port) ||
	     !loopback_name(l, name))) {
		snprintf(why, whylen, "refused: Host \"%s\" is not a loopback name or address (localhost, 127.0.0.1, [::1]); a web page whose name was rebound to 127.0.0.1 sends that",
			 shown(host, buf, sizeof(buf)));
		return -EPERM;
	}
	if (!origin)
		return 0;
	if (l->tcp && !strncmp(origin, "http://", 7) &&
	    split_hostport(origin + 7, name, sizeof(name), &port) &&
	    loopback_name(l, name) && (port ? port : 80) == l->port)
		return 0;
	snprintf(why, whylen, "refused: a request from a web page (Origin: %s) that is not profd's own",
		 shown(origin, buf, sizeof(buf)));
	return -EPERM;
}
