// SPDX-License-Identifier: GPL-2.0
/*
 * config: a profd.conf with every option parses to what it says; a bad
 * line is reported as FILE:LINE with the reason; unsafe files (writable by
 * others, by the group, owned by another user; credentials readable by
 * others) are refused; credentials are read without their newline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static char dir[] = "/tmp/profd-test-config-XXXXXX";

static void write_file(const char *name, const char *text, mode_t mode, char *ret_path)
{
	FILE *f;

	sprintf(ret_path, "%s/%s", dir, name);
	f = fopen(ret_path, "w");
	fputs(text, f);
	fclose(f);
	chmod(ret_path, mode);
}

static void test_good(void)
{
	struct fleet_config c;
	char path[256], err[CONFIG_ERR_MAX] = "";

	write_file("good.conf",
		   "# fleet\n"
		   "continuous = yes\n"
		   "continuous-hz = 49   # at most max-hz\n"
		   "\n"
		   "  continuous-interval=30s\n"
		   "push-url = https://pyroscope.example:4040/a#b\n"
		   "push-token-file = /etc/profd/token\n"
		   "push-ca-file = /etc/profd/ca.pem\n"
		   "tenant = team-a\n"
		   "host-label = web 17\n"
		   "spool-dir = /var/tmp/spool\n"
		   "spool-max-bytes = 64M\n"
		   "spool-max-age = 2h\n"
		   "push-labels = pid, tid\n", 0644, path);
	config__init(&c);
	CHECK(config__load_file(path, &c, err, sizeof(err)) == 0, "%s", err);
	CHECK(c.continuous && c.continuous_hz == 49 && c.continuous_interval_s == 30, "");
	CHECK(c.push_url && !strcmp(c.push_url, "https://pyroscope.example:4040/a#b"), "%s",
	      c.push_url);
	CHECK(c.push_token_file && !strcmp(c.push_token_file, "/etc/profd/token"), "");
	CHECK(c.tenant && !strcmp(c.tenant, "team-a"), "");
	CHECK(c.host_label && !strcmp(c.host_label, "web 17"), "");
	CHECK(c.spool_max_bytes == 64ULL << 20 && c.spool_max_age_s == 7200, "");
	CHECK(c.push_label_pid && c.push_label_tid, "");
	CHECK(config__validate(&c, 1000, err, sizeof(err)) == 0, "%s", err);
	CHECK(config__validate(&c, 40, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "max-hz"), "%s", err);
	config__free(&c);

	/* Defaults */
	config__init(&c);
	CHECK(c.continuous_hz == 19 && c.continuous_interval_s == 10 && !c.continuous &&
	      !c.push_url && !c.push_label_pid, "");
	config__free(&c);
}

static void test_bad(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "continuous = maybe\n", ":1: bad value 'maybe' for continuous" },
		{ "\n\nno-such = 1\n", ":3: unknown option 'no-such'" },
		{ "continuous\n", ":1: want 'key = value'" },
		{ "push-url =\n", ":1: push-url has no value" },
		{ "push-url = ftp://x\n", ":1: bad value" },
		{ "push-token-file = relative/token\n", "absolute path" },
		{ "continuous-hz = 0\n", "continuous-hz" },
		{ "continuous-interval = 2d\n", "continuous-interval" },
		{ "spool-max-bytes = 12Q\n", "spool-max-bytes" },
		{ "spool-max-bytes = 99999999999999999999999\n", "spool-max-bytes" },
		{ "push-labels = pid,comm\n", "push-labels" },
		{ "tenant = a b\n", "tenant" },
	};
	struct fleet_config c;
	char path[256], err[CONFIG_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		write_file("bad.conf", cases[i].text, 0600, path);
		config__init(&c);
		CHECK(config__load_file(path, &c, err, sizeof(err)) == -EINVAL &&
		      strstr(err, cases[i].want) && !strncmp(err, path, strlen(path)),
		      "%zu: %s", i, err);
		config__free(&c);
	}
	/* Cross-option */
	config__init(&c);
	config__set(&c, "push-token-file", "/x", err, sizeof(err));
	CHECK(config__validate(&c, 1000, err, sizeof(err)) == -EINVAL, "no url");
	config__set(&c, "push-url", "http://pyroscope.example", err, sizeof(err));
	CHECK(config__validate(&c, 1000, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "https"), "%s", err);
	config__set(&c, "push-url", "http://127.0.0.1:4040", err, sizeof(err));
	CHECK(config__validate(&c, 1000, err, sizeof(err)) == 0, "%s", err);
	config__set(&c, "push-basic-auth-file", "/y", err, sizeof(err));
	CHECK(config__validate(&c, 1000, err, sizeof(err)) == -EINVAL, "both");
	config__free(&c);
}

static void test_perms(void)
{
	struct fleet_config c;
	char path[256], err[CONFIG_ERR_MAX], secret[64];

	write_file("w.conf", "continuous = yes\n", 0666, path);
	config__init(&c);
	CHECK(config__load_file(path, &c, err, sizeof(err)) == -EPERM &&
	      strstr(err, "writable by others"), "%s", err);
	chmod(path, 0664);
	CHECK(config__load_file(path, &c, err, sizeof(err)) == -EPERM &&
	      strstr(err, "group"), "%s", err);
	chmod(path, 0644);
	CHECK(config__load_file(path, &c, err, sizeof(err)) == 0, "%s", err);
	if (geteuid() == 0) {
		CHECK(chown(path, 65534, 65534) == 0, "");
		CHECK(config__load_file(path, &c, err, sizeof(err)) == -EPERM &&
		      strstr(err, "owned by uid 65534"), "%s", err);
	}
	CHECK(config__load_file("/nonexistent/profd.conf", &c, err, sizeof(err)) == -ENOENT, "");
	config__free(&c);

	write_file("token", "s3cr3t\n", 0644, path);
	CHECK(config__read_secret(path, secret, sizeof(secret), err, sizeof(err)) == -EPERM, "world-readable");
	chmod(path, 0640);
	CHECK(config__read_secret(path, secret, sizeof(secret), err, sizeof(err)) == 0 &&
	      !strcmp(secret, "s3cr3t"), "%s", secret);
	CHECK(config__read_secret(path, secret, 4, err, sizeof(err)) == -E2BIG, "");
	write_file("empty", "\n", 0600, path);
	CHECK(config__read_secret(path, secret, sizeof(secret), err, sizeof(err)) == -EINVAL, "");
}

int main(void)
{
	char cmd[128];

	if (!mkdtemp(dir))
		return check__skip("mkdtemp failed");
	chmod(dir, 0755);
	test_good();
	test_bad();
	test_perms();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return check__done();
}
