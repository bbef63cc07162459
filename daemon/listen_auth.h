/* SPDX-License-Identifier: GPL-2.0 */
/*
 * listen_auth: the credentials of a TCP listener that serves beyond the
 * machine (--listen on an address that is not loopback), for Parca's and
 * Alloy's scrapes. Over such a listener the kernel cannot say who is
 * calling (sock_diag only knows this machine's sockets), so the caller
 * proves itself with a bearer token, "Authorization: Bearer TOKEN"
 * (RFC 6750), read from a file only root may read. TLS (the certificate
 * and key, PEM, handed to libmicrohttpd's GnuTLS) keeps the token and the
 * profiles off the wire; it does not say who the caller is, so it comes
 * with a token, never instead of one.
 *
 * What a caller holding the token may do is access.c's to decide
 * (access__scope()): the token is not a uid.
 *
 * Pure except the two loaders, which read files; errors come back as text
 * (never with the secret in it) for main to log.
 */
#ifndef PROFD_LISTEN_AUTH_H
#define PROFD_LISTEN_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Long enough that guessing is hopeless (`openssl rand -hex 32`: 64). */
#define LISTEN_TOKEN_MIN	16
#define LISTEN_TOKEN_MAX	512
/* A certificate chain or a key in PEM: a few KiB; bound what is read. */
#define LISTEN_PEM_MAX		(256 << 10)
#define LISTEN_AUTH_ERR_MAX	512

struct listen_auth {
	size_t len;
	char token[LISTEN_TOKEN_MAX];
};

/*
 * listen_auth__load() - the token in file @path: its first line, made of
 * RFC 6750's token characters (A-Z a-z 0-9 - . _ ~ + / and trailing =),
 * LISTEN_TOKEN_MIN to LISTEN_TOKEN_MAX - 1 of them. The file must be a
 * regular file owned by root (or profd's uid) that only its owner may read
 * or write (0600, 0400): config__check_file()'s rules for credentials, and
 * no group access either, since this token opens every process's profile.
 * @ret: set on success only. 0, -EPERM (unsafe file), -EINVAL (not a
 * token), -E2BIG, or the read's -errno; @err says why.
 */
int listen_auth__load(const char *path, struct listen_auth *ret, char *err,
		      size_t errsize);

/*
 * listen_auth__check() - does @authorization (the request's Authorization
 * header, NULL when absent) carry @a's token? The scheme is matched
 * without regard to case, then one or more spaces, then the token, which
 * is compared in time that depends on the stored token's length only, not
 * on where the first difference is. 0, -ENOKEY (no header, or not a
 * Bearer one: ask for one) or -EACCES (a Bearer token, not this one).
 */
int listen_auth__check(const struct listen_auth *a, const char *authorization);

/* Forget the token (memset that is not optimised away). NULL ok. */
void listen_auth__clear(struct listen_auth *a);

/*
 * listen_auth__read_pem() - the contents of PEM file @path, NUL-terminated,
 * in *@ret (free with listen_auth__free_pem()), for MHD_OPTION_HTTPS_MEM_*.
 * @secret (the key): checked as a credential, with listen_auth__load()'s
 * rules; else (the certificate) only as a file others cannot change. At
 * most LISTEN_PEM_MAX bytes, and it must hold "-----BEGIN ".
 * 0, -EPERM, -EINVAL, -EFBIG, -ENOMEM or the read's -errno; @err says why.
 */
int listen_auth__read_pem(const char *path, bool secret, char **ret, char *err,
			  size_t errsize);

/* Zero (a key) and free what listen_auth__read_pem() gave. NULL ok. */
void listen_auth__free_pem(char *pem);

#endif /* PROFD_LISTEN_AUTH_H */
