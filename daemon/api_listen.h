/* SPDX-License-Identifier: GPL-2.0 */
/*
 * api_listen: the HTTP side of a listener with a bearer token and TLS
 * (listen_auth.h holds the credentials, access.c decides what a token
 * holder may do). api.c calls these for requests on the TCP listener when
 * it has a token, and when it starts that listener's server.
 */
#ifndef PROFD_API_LISTEN_H
#define PROFD_API_LISTEN_H

#include <stdbool.h>
#include <microhttpd.h>

#include "access.h"
#include "listen_auth.h"

/*
 * struct listen_keys: a token listener's credentials as they are now — the
 * token and, with TLS, the certificate chain and its key (PEM) — which
 * SIGHUP may replace while requests are served (main__listen_reload()).
 * Requests check the token under its lock; each TLS handshake builds its
 * certificate and key from the PEM current then (api_listen__tls_options()),
 * so a connection keeps what it was opened with and the next one gets the
 * new files. One per process: there is one TCP listener.
 */
struct listen_keys;

/*
 * listen_keys__new() - the credentials, from @token (copied) and the PEM
 * strings @cert_pem and @key_pem (both NULL: no TLS), which are checked to
 * be a certificate and its key and then belong to the keys (freed with
 * them, also on failure). 0, -EINVAL (@err says why), -ENOMEM.
 */
int listen_keys__new(const struct listen_auth *token, char *cert_pem,
		     char *key_pem, struct listen_keys **ret, char *err,
		     size_t errsize);

/*
 * listen_keys__replace() - the same onto @k, all or nothing: a pair that is
 * not a certificate and its key leaves @k as it was. TLS cannot be turned
 * on or off here (libmicrohttpd's daemon flags): -EINVAL then. The PEMs
 * belong to @k on success, are wiped and freed on failure.
 */
int listen_keys__replace(struct listen_keys *k, const struct listen_auth *token,
			 char *cert_pem, char *key_pem, char *err,
			 size_t errsize);

bool listen_keys__tls(const struct listen_keys *k);

/* Wipes the token and the key. NULL ok. After the server has stopped. */
void listen_keys__free(struct listen_keys *k);

/*
 * api_listen__peer() - who is calling on a token listener: the token in
 * the request's Authorization header, or no one. On success *@ret is the
 * token holder (uid 0, known, token: access__scope() narrows it); the
 * socket's owner, whom access__peer() may have found for a caller on this
 * machine, is not used — one rule for every caller of this listener.
 * 0, -ENOKEY (no Bearer header) or -EACCES (another token); *@ret
 * untouched then.
 */
int api_listen__peer(struct listen_keys *k, struct MHD_Connection *c,
		     struct peer *ret);

/*
 * api_listen__send_401() - the answer to api_listen__peer()'s error @err:
 * 401 with WWW-Authenticate (RFC 6750: error="invalid_token" when a token
 * was given), text/plain, X-Go-Pprof so `go tool pprof` shows it.
 */
enum MHD_Result api_listen__send_401(struct MHD_Connection *c, int err);

/*
 * api_listen__tls_options() - the libmicrohttpd options that make a server
 * speak TLS with @k's certificate and key (@k NULL or without TLS: none),
 * into @opts (2 items, MHD_OPTION_END-terminated, for MHD_OPTION_ARRAY).
 * Returns the flags to add (MHD_USE_TLS, or 0). @k must outlive the server.
 */
unsigned api_listen__tls_options(struct listen_keys *k,
				 struct MHD_OptionItem opts[2]);

#endif /* PROFD_API_LISTEN_H */
