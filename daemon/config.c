// SPDX-License-Identifier: GPL-2.0
/*
 * config: the fleet options and their file (config.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfilter.h"
#include "config.h"

const char *const config__keys[] = {
	"continuous", "continuous-hz", "continuous-interval", "push-url",
	"push-token-file", "push-basic-auth-file", "push-ca-file", "tenant",
	"host-label", "spool-dir", "spool-max-bytes", "spool-max-age",
	"push-labels", "test-interval-profile", "continuous-include",
	"continuous-exclude", "listen-token-file", "listen-tls-cert",
	"listen-tls-key", "listen", "continuous-fp", NULL,
};

void config__init(struct fleet_config *c)
{
	memset(c, 0, sizeof(*c));
	c->continuous_hz = 19;
	c->continuous_interval_s = 10;
	c->spool_max_bytes = 256ULL << 20;
	c->spool_max_age_s = 24 * 3600;
}

void config__free(struct fleet_config *c)
{
	free(c->continuous_include);
	free(c->continuous_exclude);
	free(c->push_url);
	free(c->push_token_file);
	free(c->push_basic_auth_file);
	free(c->push_ca_file);
	free(c->tenant);
	free(c->host_label);
	free(c->spool_dir);
	free(c->test_interval_profile);
	free(c->listen);
	free(c->listen_token_file);
	free(c->listen_tls_cert);
	free(c->listen_tls_key);
	c->listen = c->listen_token_file = NULL;
	c->listen_tls_cert = c->listen_tls_key = NULL;
	c->push_url = c->push_token_file = c->push_basic_auth_file = NULL;
	c->push_ca_file = c->tenant = c->host_label = c->spool_dir = NULL;
	c->test_interval_profile = NULL;
	c->continuous_include = c->continuous_exclude = NULL;
}

static int parse_bool(const char *v, bool *ret)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	    !strcasecmp(v, "on") || !strcmp(v, "1"))
		*ret = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
		 !strcasecmp(v, "off") || !strcmp(v, "0"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

/* A number with an optional unit suffix from @units (each with its factor). */
static int parse_scaled(const char *v, const char *const *units,
			const uint64_t *factors, uint64_t min, uint64_t max,
			uint64_t *ret)
{
	unsigned long long n;
	uint64_t f = 1;
	char *end;
	size_t i;

	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		for (i = 0; units[i] && strcmp(end, units[i]); i++)
			;
		if (!units[i])
			return -EINVAL;
		f = factors[i];
	}
	if (n && f > UINT64_MAX / n)
		return -EINVAL;
	n *= f;
	if (n < min || n > max)
		return -EINVAL;
	*ret = n;
	return 0;
}

static const char *const size_units[] = { "K", "KiB", "M", "MiB", "G", "GiB", NULL };
static const uint64_t size_factors[] = { 1ULL << 10, 1ULL << 10, 1ULL << 20,
					 1ULL << 20, 1ULL << 30, 1ULL << 30 };
static const char *const time_units[] = { "s", "m", "min", "h", "d", NULL };
static const uint64_t time_factors[] = { 1, 60, 60, 3600, 86400 };

/* Printable, no spaces at the ends (they were trimmed), bounded. */
static int set_str(char **dst, const char *v, size_t max, bool spaces)
{
	const char *p;
	char *d;

	if (!v[0] || strlen(v) > max)
		return -EINVAL;
	for (p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || (!spaces && *p == ' '))
			return -EINVAL;
	d = strdup(v);
	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

static int set_path(char **dst, const char *v)
{
	if (v[0] != '/')
		return -EINVAL;
	return set_str(dst, v, 4095, true);
}

int config__set(struct fleet_config *c, const char *key, const char *v,
		char *err, size_t errsize)
{
	const char *want;
	uint64_t n;
	int r;

#define IS(k) (!strcmp(key, k))
	if (IS("continuous")) {
		want = "yes or no";
		r = parse_bool(v, &c->continuous);
	} else if (IS("continuous-fp")) {
		want = "yes or no";
		r = parse_bool(v, &c->continuous_fp);
	} else if (IS("continuous-hz")) {
		want = "a frequency in Hz, 1 to 10000";
		r = parse_scaled(v, (const char *const[]){ NULL }, NULL, 1, 10000, &n);
		if (!r)
			c->continuous_hz = (unsigned)n;
	} else if (IS("continuous-interval")) {
		want = "a duration, 1s to 1h (suffix s, m, h; seconds without)";
		r = parse_scaled(v, time_units, time_factors, 1, 3600, &n);
		if (!r)
			c->continuous_interval_s = (unsigned)n;
	} else if (IS("continuous-include") || IS("continuous-exclude")) {
		struct cfilter f;
		char ferr[CONFIG_ERR_MAX];

		want = "a comma-separated list of unit:NAME, cgroup:/PATH, comm:NAME, uid:N";
		r = cfilter__parse(v, &f, ferr, sizeof(ferr));
		if (!r)
			r = set_str(IS("continuous-include") ?
				    &c->continuous_include :
				    &c->continuous_exclude, v, 8000, true);
	} else if (IS("push-url")) {
		want = "an http:// or https:// URL, the collector's base";
		r = (strncasecmp(v, "http://", 7) && strncasecmp(v, "https://", 8)) ?
		    -EINVAL : set_str(&c->push_url, v, 2000, false);
	} else if (IS("push-token-file")) {
		want = "an absolute path";
		r = set_path(&c->push_token_file, v);
	} else if (IS("push-basic-auth-file")) {
		want = "an absolute path";
		r = set_path(&c->push_basic_auth_file, v);
	} else if (IS("push-ca-file")) {
		want = "an absolute path";
		r = set_path(&c->push_ca_file, v);
	} else if (IS("tenant")) {
		want = "a tenant id (printable, no spaces, at most 256 bytes)";
		r = set_str(&c->tenant, v, 256, false);
	} else if (IS("host-label")) {
		want = "a label value (printable, at most 255 bytes)";
		r = set_str(&c->host_label, v, 255, true);
	} else if (IS("spool-dir")) {
		want = "an absolute path";
		r = set_path(&c->spool_dir, v);
	} else if (IS("spool-max-bytes")) {
		want = "a size, 1M to 1T (suffix K, M, G; bytes without)";
		r = parse_scaled(v, size_units, size_factors, 1ULL << 20, 1ULL << 40, &n);
		if (!r)
			c->spool_max_bytes = n;
	} else if (IS("spool-max-age")) {
		want = "a duration, 1m to 90d (suffix s, m, h, d; seconds without)";
		r = parse_scaled(v, time_units, time_factors, 60, 90 * 86400, &n);
		if (!r)
			c->spool_max_age_s = n;
	} else if (IS("push-labels")) {
		/* Comma-separated opt-ins; "none" for none. */
		char buf[64], *tok, *save;
		bool pid = false, tid = false;

		want = "none, or pid, tid or pid,tid";
		r = strlen(v) < sizeof(buf) ? 0 : -EINVAL;
		if (!r) {
			strcpy(buf, v);
			for (tok = strtok_r(buf, ",", &save); tok && !r;
			     tok = strtok_r(NULL, ",", &save)) {
				while (*tok == ' ')
					tok++;
				tok[strcspn(tok, " ")] = 0;
				if (!strcmp(tok, "pid"))
					pid = true;
				else if (!strcmp(tok, "tid"))
					tid = true;
				else if (strcmp(tok, "none"))
					r = -EINVAL;
			}
		}
		if (!r) {
			c->push_label_pid = pid;
			c->push_label_tid = tid;
		}
	} else if (IS("listen")) {
		/* main.c resolves and checks it; here only its shape. */
		want = "HOST:PORT";
		r = strchr(v, ':') ? set_str(&c->listen, v, 300, false) : -EINVAL;
	} else if (IS("listen-token-file")) {
		want = "an absolute path";
		r = set_path(&c->listen_token_file, v);
	} else if (IS("listen-tls-cert")) {
		want = "an absolute path";
		r = set_path(&c->listen_tls_cert, v);
	} else if (IS("listen-tls-key")) {
		want = "an absolute path";
		r = set_path(&c->listen_tls_key, v);
	} else if (IS("test-interval-profile")) {
		want = "an absolute path";
		r = set_path(&c->test_interval_profile, v);
	} else {
		snprintf(err, errsize, "unknown option '%.100s'", key);
		return -ENOENT;
	}
#undef IS
	if (r == -EINVAL)
		snprintf(err, errsize, "bad value '%.200s' for %s: want %s", v, key, want);
	else if (r < 0)
		snprintf(err, errsize, "%s: %s", key, strerror(-r));
	return r;
}

int config__check_file(const char *path, bool secret, char *err,
		       size_t errsize)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errsize, "%s: not a regular file", path);
		return -EPERM;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errsize, "%s: owned by uid %u, not root: refused (whoever owns it could change what profd does; chown root)",
			 path, (unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errsize, "%s: writable by %s (mode %04o): refused (chmod go-w)",
			 path, st.st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (secret && (st.st_mode & S_IROTH)) {
		snprintf(err, errsize, "%s: a credential readable by others (mode %04o): refused (chmod o-r)",
			 path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int config__read_file(const char *path, size_t max, char **ret,
		      size_t *ret_len)
{
	size_t len = 0;
	ssize_t n;
	char *buf;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (!n)
			break;
		len += (size_t)n;
		if (len > max) {
			r = -EFBIG;
			break;
		}
	}
	close(fd);
	if (r < 0) {
		/* It may be a secret: no copy left in freed memory. */
		memset(buf, 0, len < max + 1 ? len : max + 1);
		free(buf);
		return r;
	}
	buf[len] = 0;
	*ret = buf;
	*ret_len = len;
	return 0;
}

int config__read_secret(const char *path, char *buf, size_t size, char *err,
			size_t errsize)
{
	char *data = NULL;
	size_t len = 0, n;
	int r;

	r = config__check_file(path, true, err, errsize);
	if (r < 0)
		return r;
	r = config__read_file(path, 65536, &data, &len);
	if (r < 0) {
		snprintf(err, errsize, "%s: %s", path,
			 r == -EFBIG ? "longer than 64 KiB" : strerror(-r));
		return r == -EFBIG ? -E2BIG : r;
	}
	n = strcspn(data, "\r\n");
	if (!n) {
		snprintf(err, errsize, "%s: empty first line", path);
		r = -EINVAL;
	} else if (n >= size) {
		snprintf(err, errsize, "%s: first line longer than %zu bytes", path,
			 size - 1);
		r = -E2BIG;
	} else {
		memcpy(buf, data, n);
		buf[n] = 0;
	}
	memset(data, 0, len);
	free(data);
	return r;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

int config__parse(const char *name, const char *text, size_t len,
		  struct fleet_config *c, char *err, size_t errsize)
{
	char *data, *line, *next, *eq, *key, *val, *hash, msg[CONFIG_ERR_MAX];
	unsigned lineno = 0;
	int r;

	if (len > CONFIG_FILE_MAX) {
		snprintf(err, errsize, "%s: larger than 1 MiB", name);
		return -EFBIG;
	}
	if (memchr(text, 0, len)) {
		snprintf(err, errsize, "%s: not a text file (a NUL byte)", name);
		return -EINVAL;
	}
	data = malloc(len + 1);
	if (!data)
		return -ENOMEM;
	memcpy(data, text, len);
	data[len] = 0;
	for (line = data; line; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (strlen(line) > CONFIG_LINE_MAX) {
			snprintf(err, errsize, "%s:%u: line longer than %d bytes",
				 name, lineno, CONFIG_LINE_MAX);
			r = -EINVAL;
			goto out;
		}
		/* '#' starts a comment at the start or after whitespace. */
		for (hash = line; (hash = strchr(hash, '#')); hash++)
			if (hash == line || hash[-1] == ' ' || hash[-1] == '\t') {
				*hash = 0;
				break;
			}
		line = trim(line);
		if (!*line)
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			snprintf(err, errsize, "%s:%u: want 'key = value', got '%.100s'",
				 name, lineno, line);
			r = -EINVAL;
			goto out;
		}
		*eq = 0;
		key = trim(line);
		val = trim(eq + 1);
		if (!*val) {
			snprintf(err, errsize, "%s:%u: %.100s has no value", name, lineno, key);
			r = -EINVAL;
			goto out;
		}
		r = config__set(c, key, val, msg, sizeof(msg));
		if (r < 0) {
			snprintf(err, errsize, "%s:%u: %s", name, lineno, msg);
			if (r == -ENOENT)
				r = -EINVAL;
			goto out;
		}
	}
	r = 0;
out:
	free(data);
	return r;
}

int config__load_file(const char *path, struct fleet_config *c, char *err,
		      size_t errsize)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	r = config__check_file(path, false, err, errsize);
	if (r < 0)
		return r;
	r = config__read_file(path, CONFIG_FILE_MAX, &data, &len);
	if (r < 0) {
		snprintf(err, errsize, "%s: %s", path,
			 r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return r;
	}
	r = config__parse(path, data, len, c, err, errsize);
	free(data);
	return r;
}

/* http://127.x, http://localhost, http://[::1]: never leaves the machine. */
static bool loopback_url(const char *url)
{
	const char *h = url + 7;
	size_t n = strcspn(h, ":/");

	if (!strncmp(h, "[::1]", 5))
		return true;
	return (n == 9 && !strncasecmp(h, "localhost", 9)) || !strncmp(h, "127.", 4);
}

int config__validate(const struct fleet_config *c, unsigned max_hz, char *err,
		     size_t errsize)
{
	if (c->continuous_hz > max_hz) {
		snprintf(err, errsize, "continuous-hz %u is above max-hz %u",
			 c->continuous_hz, max_hz);
		return -EINVAL;
	}
	if (c->push_token_file && c->push_basic_auth_file) {
		snprintf(err, errsize, "push-token-file and push-basic-auth-file: give one, not both");
		return -EINVAL;
	}
	if ((c->push_token_file || c->push_basic_auth_file || c->push_ca_file ||
	     c->tenant) && !c->push_url) {
		snprintf(err, errsize, "push credentials, CA or tenant without push-url");
		return -EINVAL;
	}
	if (!c->listen_tls_cert != !c->listen_tls_key) {
		snprintf(err, errsize, "listen-tls-cert and listen-tls-key: give both (the certificate and its key) or neither");
		return -EINVAL;
	}
	if (c->push_url && !strncasecmp(c->push_url, "http://", 7) &&
	    !loopback_url(c->push_url) &&
	    (c->push_token_file || c->push_basic_auth_file)) {
		snprintf(err, errsize, "push-url %s is plain http: credentials would cross the network in the clear; use https (plain http only to loopback)",
			 c->push_url);
		return -EINVAL;
	}
	return 0;
}

int config__load_all(const char *path, bool required,
		     const struct config_override *ov, size_t nov,
		     unsigned max_hz, struct fleet_config *ret, char *err,
		     size_t errsize)
{
	struct fleet_config c;
	char msg[CONFIG_ERR_MAX];
	size_t i;
	int r;

	config__init(&c);
	r = config__load_file(path, &c, err, errsize);
	if (r == -ENOENT && !required)
		r = 0;
	else if (r == -ENOENT)
		snprintf(err, errsize, "%s: no such file", path);
	for (i = 0; i < nov && !r; i++) {
		r = config__set(&c, ov[i].key, ov[i].value, msg, sizeof(msg));
		if (r < 0)
			snprintf(err, errsize, "--%s: %s", ov[i].key, msg);
	}
	if (!r)
		r = config__validate(&c, max_hz, err, errsize);
	if (!r && c.push_token_file)
		r = config__check_file(c.push_token_file, true, err, errsize);
	if (!r && c.push_basic_auth_file)
		r = config__check_file(c.push_basic_auth_file, true, err, errsize);
	if (!r && c.push_ca_file)
		r = config__check_file(c.push_ca_file, false, err, errsize);
	/* The listener's files: listen_auth.c adds its stricter rules when
	 * main loads them. */
	if (!r && c.listen_token_file)
		r = config__check_file(c.listen_token_file, true, err, errsize);
	if (!r && c.listen_tls_key)
		r = config__check_file(c.listen_tls_key, true, err, errsize);
	if (!r && c.listen_tls_cert)
		r = config__check_file(c.listen_tls_cert, false, err, errsize);
	if (r < 0) {
		config__free(&c);
		return r;
	}
	*ret = c;
	return 0;
}
