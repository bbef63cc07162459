/* SPDX-License-Identifier: GPL-2.0 */
/*
 * origin: could a web page have sent this request? Pure (no I/O): the
 * request's Host, Origin and Sec-Fetch-Site headers against the listener
 * it arrived on. A browser lets any page send GET requests to a loopback
 * port, and a page whose name was rebound to 127.0.0.1 (DNS rebinding) read
 * the answers. Browsers always send Host and, on requests one page makes
 * to another site, Sec-Fetch-Site (and Origin on most); curl and
 * `go tool pprof` send neither of the last two, so they are not affected.
 */
#ifndef PROFD_ORIGIN_H
#define PROFD_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

struct origin_listener {
	bool tcp;		/* false: the Unix socket */
	const char *host;	/* TCP: --listen's HOST (no brackets) or NULL */
	unsigned port;		/* TCP: the port listened on */
	bool any_host;		/* TCP with a bearer token: any Host (scrapers
				 * name the host as they know it, and a page
				 * cannot send the token) */
};

/*
 * origin__check() - 0 when the request may be served, else -EPERM with a
 * sentence for the client in @why. Over TCP, Host must be present and a
 * loopback name or address (localhost, 127.0.0.0/8, [::1], or --listen's
 * HOST), any port (any Host at all with @l->any_host). On both transports Sec-Fetch-Site may only be absent,
 * "none" (typed in the address bar) or "same-origin", and Origin only
 * absent or, over TCP, the listener's own (http://loopback-host:PORT).
 * Any header may be NULL (absent).
 */
int origin__check(const struct origin_listener *l, const char *host,
		  const char *origin, const char *fetch_site, char *why,
		  size_t whylen);

#endif /* PROFD_ORIGIN_H */
