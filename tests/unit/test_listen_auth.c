// SPDX-License-Identifier: GPL-2.0
/*
 * listen_auth: the remote listener's token file rules, the Authorization
 * header check and PEM loading; access__scope(): what a token holder may
 * ask.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "check.h"
#include "listen_auth.h"

static char dir[] = "/tmp/test_listen_auth.XXXXXX";

static void write_file(const char *name, const char *text, mode_t mode,
		       char *path)
{
	int fd;

	sprintf(path, "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		perror(path);
	if (fd >= 0)
		close(fd);
	chmod(path, mode);
}

static const char tok[] = "0123456789abcdef0123456789ABCDEF-._~+/==";

static void test_load(void)
{
	struct listen_auth a = { .len = 7 };
	char path[256], err[LISTEN_AUTH_ERR_MAX], line[128];
	struct passwd *nobody;

	snprintf(line, sizeof(line), "%s\nsecond line ignored\n", tok);
	write_file("ok", line, 0600, path);
	CHECK(listen_auth__load(path, &a, err, sizeof(err)) == 0, "%s", err);
	CHECK(a.len == strlen(tok) && !memcmp(a.token, tok, a.len), "len %zu", a.len);
	chmod(path, 0400);
	CHECK(listen_auth__load(path, &a, err, sizeof(err)) == 0, "%s", err);

	/* Unsafe files: others or the group may read, others may write. */
	a.len = 7;
	chmod(path, 0644);
	CHECK(listen_auth__load(path, &a, err, sizeof(err)) == -EPERM, "0644");
	CHECK(strstr(err, "0644") && !strstr(err, tok), "%s", err);
	CHECK(a.len == 7, "ret untouched on failure");
	chmod(path, 0640);
	CHECK(listen_auth__load(path, &a, err, sizeof(err)) == -EPERM, "0640");
	chmod(path, 0602);
	CHECK(listen_auth__load(path, &a, err, sizeof(err)) == -EPERM, "0602");
	chmod(path, 0600);
	nobody = getpwnam("nobody");
	if (!geteuid() && nobody) {
		CHECK(chown(path, nobody->pw_uid, nobody->pw_gid) == 0, "chown");
		CHECK(listen_auth__load(path, &a, err, sizeof(err)) == -EPERM,
		      "owned by nobody");
		CHECK(strstr(err, "owned by uid"), "%s", err);
	}
	CHECK(listen_auth__load("/nonexistent/token", &a, err, sizeof(err)) == -ENOENT, "");
	CHECK(listen_auth__load(dir, &a, err, sizeof(err)) == -EPERM, "a directory");

	/* Not tokens. */
	write_file("short", "abc123\n", 0600, path);
	CHECK(listen_auth__load(path, &a, err, sizeof(err)) == -EINVAL, "short");
	CHECK(strstr(err, "token shorter than 16 characters") && !strstr(err, "abc123"),
	      "%s", err);
	write_file("space", "0123456789abcdef 0123456789\n", 0600, path);
	CHECK(listen_auth__load(path, &a, err, sizeof(err)) == -EINVAL, "space");
	write_file("eqmid", "0123456789abcdef=0123456789\n", 0600, path);
	CHECK(listen_auth__load(path, &a, err, sizeof(err)) == -EINVAL, "= inside");
	write_file("empty", "\n", 0600, path);
	CHECK(listen_auth__load(path, &a, err, sizeof(err)) == -EINVAL, "empty");
	CHECK(strstr(err, "token shorter than 16 characters"), "%s", err);
	{
		char big[LISTEN_TOKEN_MAX + 2];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		write_file("long", big, 0600, path);
		CHECK(listen_auth__load(path, &a, err, sizeof(err)) == -E2BIG, "long");
		CHECK(strstr(err, "token longer than 511 characters"), "%s", err);
		big[LISTEN_TOKEN_MAX - 1] = 0;
		write_file("longest", big, 0600, path);
		CHECK(listen_auth__load(path, &a, err, sizeof(err)) == 0,
		      "%d characters: %s", LISTEN_TOKEN_MAX - 1, err);
	}
}

static void test_check(void)
{
	struct listen_auth a = {};
	char h[600];

	memcpy(a.token, tok, strlen(tok));
	a.len = strlen(tok);
	snprintf(h, sizeof(h), "Bearer %s", tok);
	CHECK(listen_auth__check(&a, h) == 0, "%s", h);
	snprintf(h, sizeof(h), "bearer \t  %s", tok);
	CHECK(listen_auth__check(&a, h) == 0, "scheme case, several spaces");
	CHECK(listen_auth__check(&a, NULL) == -ENOKEY, "absent");
	CHECK(listen_auth__check(&a, "") == -ENOKEY, "empty");
	CHECK(listen_auth__check(&a, "Bearer") == -ENOKEY, "no token");
	snprintf(h, sizeof(h), "Bearer%s", tok);
	CHECK(listen_auth__check(&a, h) == -ENOKEY, "no space");
	snprintf(h, sizeof(h), "Basic %s", tok);
	CHECK(listen_auth__check(&a, h) == -ENOKEY, "Basic");
	CHECK(listen_auth__check(&a, "Bearer ") == -EACCES, "empty token");
	snprintf(h, sizeof(h), "Bearer %.*s", (int)strlen(tok) - 1, tok);
	CHECK(listen_auth__check(&a, h) == -EACCES, "a prefix");
	snprintf(h, sizeof(h), "Bearer %sx", tok);
	CHECK(listen_auth__check(&a, h) == -EACCES, "longer");
	snprintf(h, sizeof(h), "Bearer %s", tok);
	h[7] ^= 1;
	CHECK(listen_auth__check(&a, h) == -EACCES, "first byte differs");
	snprintf(h, sizeof(h), "Bearer %s", tok);
	h[strlen(h) - 1] = 'x';
	CHECK(listen_auth__check(&a, h) == -EACCES, "last byte differs");
	/* The token followed by a NUL and more: strlen stops there, so it
	 * is the token; nothing past the header's end is read. */
	listen_auth__clear(&a);
	CHECK(a.len == 0 && !a.token[0], "cleared");
	snprintf(h, sizeof(h), "Bearer %s", tok);
	CHECK(listen_auth__check(&a, h) == -EACCES, "a cleared token matches nothing");
	CHECK(listen_auth__check(&a, "Bearer ") == -EACCES, "not even an empty one");
}

static void test_pem(void)
{
	char path[256], err[LISTEN_AUTH_ERR_MAX], *pem = NULL;

	write_file("cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		   0644, path);
	CHECK(listen_auth__read_pem(path, false, &pem, err, sizeof(err)) == 0, "%s", err);
	CHECK(pem && !strncmp(pem, "-----BEGIN CERT", 15), "");
	listen_auth__free_pem(pem);
	pem = NULL;
	CHECK(listen_auth__read_pem(path, true, &pem, err, sizeof(err)) == -EPERM,
	      "a key readable by others");
	chmod(path, 0666);
	CHECK(listen_auth__read_pem(path, false, &pem, err, sizeof(err)) == -EPERM,
	      "a certificate others may write");
	write_file("notpem", "hello\n", 0600, path);
	CHECK(listen_auth__read_pem(path, true, &pem, err, sizeof(err)) == -EINVAL, "");
	CHECK(pem == NULL, "untouched");
	listen_auth__free_pem(NULL);
}

static void test_scope(void)
{
	struct peer unix_root = { .uid = 0, .known = true };
	struct peer token = { .uid = 0, .known = true, .tcp = true, .token = true };
	static const char *const ok[] = {
		"/debug/pprof/profile", "/debug/pprof/block", "/debug/pprof/mutex",
		"/debug/pprof/goroutine", "/debug/pprof/threadcreate", "/v1/history",
		"/metrics", "/v1/status", "/debug/pprof/", "/",
	};
	static const char *const no[] = {
		"/debug/pprof/heap", "/debug/pprof/allocs", "/v1/heap/start",
		"/v1/heap/stop", "/v1/profile/stop", "/debug/pprof/profile/",
		"/debug/pprof/cmdline", "/nonexistent",
	};
	char why[320];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		CHECK(access__scope(&token, "GET", ok[i], why, sizeof(why)) == 0, "%s", ok[i]);
		CHECK(access__scope(&token, "POST", ok[i], why, sizeof(why)) == -EPERM,
		      "POST %s", ok[i]);
	}
	for (i = 0; i < sizeof(no) / sizeof(*no); i++) {
		CHECK(access__scope(&token, "GET", no[i], why, sizeof(why)) == -EPERM, "%s", no[i]);
		CHECK(access__scope(&token, "POST", no[i], why, sizeof(why)) == -EPERM, "%s", no[i]);
		CHECK(access__scope(&unix_root, "POST", no[i], why, sizeof(why)) == 0,
		      "the Unix socket's callers: their uid decides, later");
	}
	CHECK(strstr(why, "refused") && !strchr(why, '\n'), "%s", why);
}

int main(void)
{
	char cmd[128];

	if (!mkdtemp(dir))
		return check__skip("mkdtemp failed");
	chmod(dir, 0755);
	test_load();
	test_check();
	test_pem();
	test_scope();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return check__done();
}
