/* SPDX-License-Identifier: GPL-2.0 */
/*
 * api_listen: the HTTP side of a listener with a bearer token and TLS
 * (listen_auth.h holds the credentials, access.c decides what a token
 * holder may do). api.c calls these for requests on the TCP listener when
 * it has a token, and when it starts that listener's server.
 */
#ifndef PROFD_API_LISTEN_H
#define PROFD_API_LISTEN_H

#include <microhttpd.h>

#include "access.h"
#include "listen_auth.h"

/*
 * api_listen__peer() - who is calling on a token listener: the token in
 * the request's Authorization header, or no one. On success *@ret is the
 * token holder (uid 0, known, token: access__scope() narrows it); the
 * socket's owner, whom access__peer() may have found for a caller on this
 * machine, is not used — one rule for every caller of this listener.
 * 0, -ENOKEY (no Bearer header) or -EACCES (another token); *@ret
 * untouched then.
 */
int api_listen__peer(const struct listen_auth *auth, struct MHD_Connection *c,
		     struct peer *ret);

/*
 * api_listen__send_401() - the answer to api_listen__peer()'s error @err:
 * 401 with WWW-Authenticate (RFC 6750: error="invalid_token" when a token
 * was given), text/plain, X-Go-Pprof so `go tool pprof` shows it.
 */
enum MHD_Result api_listen__send_401(struct MHD_Connection *c, int err);

/*
 * api_listen__tls_options() - the libmicrohttpd options that make a server
 * speak TLS with @cert_pem and @key_pem (both NULL: none), into @opts (3
 * items, MHD_OPTION_END-terminated, for MHD_OPTION_ARRAY). Returns the
 * flags to add (MHD_USE_TLS, or 0). The PEM strings must outlive the
 * server.
 */
unsigned api_listen__tls_options(const char *cert_pem, const char *key_pem,
				 struct MHD_OptionItem opts[3]);

#endif /* PROFD_API_LISTEN_H */
