// SPDX-License-Identifier: GPL-2.0
/*
 * listen_auth: a remote listener's bearer token and TLS files
 * (listen_auth.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "listen_auth.h"

/*
 * config__check_file()'s rules for a credential, and no group access: the
 * push credentials may be shared with a group (0640), this token opens
 * every process's profile to whoever holds it.
 */
static int check_secret_file(const char *path, char *err, size_t errsize)
{
	struct stat st;
	int r;

	r = config__check_file(path, true, err, errsize);
	if (r < 0)
		return r;
	if (stat(path, &st) < 0) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errsize, "%s: a credential its group may read (mode %04o): refused (chmod 0600)",
			 path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
 * "/" ) *"=". */
static bool is_token(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') ||
			 (s[i] >= 'A' && s[i] <= 'Z') ||
			 (s[i] >= '0' && s[i] <= '9') || strchr("-._~+/", s[i])))
		i++;
	if (!i)
		return false;
	while (i < n && s[i] == '=')
		i++;
	return i == n;
}

int listen_auth__load(const char *path, struct listen_auth *ret, char *err,
		      size_t errsize)
{
	struct listen_auth a = {};
	size_t n;
	int r;

	r = check_secret_file(path, err, errsize);
	if (r < 0)
		return r;
	/* The first line, checked and bounded as every credential's. */
	r = config__read_secret(path, a.token, sizeof(a.token), err, errsize);
	if (r == -E2BIG) {
		snprintf(err, errsize, "%s: token longer than %d characters",
			 path, LISTEN_TOKEN_MAX - 1);
		goto out;
	}
	if (r == -EINVAL)	/* an empty first line */
		a.token[0] = 0;
	else if (r < 0)
		goto out;
	n = strlen(a.token);
	r = -EINVAL;
	if (n < LISTEN_TOKEN_MIN) {
		snprintf(err, errsize, "%s: token shorter than %d characters (make one with: openssl rand -hex 32)",
			 path, LISTEN_TOKEN_MIN);
	} else if (!is_token(a.token, n)) {
		snprintf(err, errsize, "%s: the first line is not a bearer token (letters, digits, - . _ ~ + /, then = only; make one with: openssl rand -hex 32)",
			 path);
	} else {
		a.len = n;
		*ret = a;
		r = 0;
	}
out:
	listen_auth__clear(&a);
	return r;
}

int listen_auth__check(const struct listen_auth *a, const char *authorization)
{
	const volatile unsigned char *want = (const unsigned char *)a->token;
	const char *s = authorization, *given;
	size_t glen, i;
	unsigned diff;

	if (!s || strncasecmp(s, "Bearer", 6) || (s[6] != ' ' && s[6] != '\t'))
		return -ENOKEY;
	given = s + 6;
	while (*given == ' ' || *given == '\t')
		given++;
	glen = strlen(given);
	/*
	 * Every byte of the stored token is looked at whatever is given, and
	 * nothing branches on the bytes: the time says only how long our own
	 * token is, which the file's rules already bound. A length
	 * difference is folded into the same accumulator.
	 */
	diff = glen != a->len;
	for (i = 0; i < a->len; i++)
		diff |= want[i] ^ (unsigned char)(i < glen ? given[i] : 0);
	return diff || !a->len ? -EACCES : 0;
}

void listen_auth__clear(struct listen_auth *a)
{
	volatile char *p;
	size_t i;

	if (!a)
		return;
	p = (volatile char *)a->token;
	for (i = 0; i < sizeof(a->token); i++)
		p[i] = 0;
	a->len = 0;
}

int listen_auth__read_pem(const char *path, bool secret, char **ret, char *err,
			  size_t errsize)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	r = secret ? check_secret_file(path, err, errsize) :
		     config__check_file(path, false, err, errsize);
	if (r < 0)
		return r;
	r = config__read_file(path, LISTEN_PEM_MAX, &data, &len);
	if (r < 0) {
		if (r == -EFBIG)
			snprintf(err, errsize, "%s: longer than %d KiB: not a PEM certificate or key",
				 path, LISTEN_PEM_MAX >> 10);
		else
			snprintf(err, errsize, "%s: %s", path, strerror(-r));
		return r;
	}
	if (strlen(data) != len || !strstr(data, "-----BEGIN ")) {
		snprintf(err, errsize, "%s: not PEM (no -----BEGIN line)", path);
		listen_auth__free_pem(data);
		return -EINVAL;
	}
	*ret = data;
	return 0;
}

void listen_auth__free_pem(char *pem)
{
	volatile char *p = pem;

	if (!pem)
		return;
	while (*p)
		*p++ = 0;
	free(pem);
}
