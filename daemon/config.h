/* SPDX-License-Identifier: GPL-2.0 */
/*
 * config: the fleet options (issue 13), from /etc/profd/profd.conf and
 * the command line. The file has one "key = value" a line, keys the long
 * options' names without "--", '#' starting a comment (a whole line, or
 * after whitespace), blank lines ignored. Command-line options win over
 * the file; SIGHUP reads the file again (config__load_file() onto a fresh
 * config, then the command line's again).
 *
 * The file, and every credential file it names, must be a regular file
 * owned by root (or profd's user) that no one else may write — a file
 * others could change would let them redirect profiles or credentials —
 * and credential files no one else may read either; anything else is
 * refused with the reason.
 *
 * Pure except config__load_file() and config__read_secret() (which read a
 * file); errors come back as text for the caller to log.
 */
#ifndef PROFD_CONFIG_H
#define PROFD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH	"/etc/profd/profd.conf"
#define CONFIG_DEFAULT_SPOOL	"/var/lib/profd/spool"
#define CONFIG_LINE_MAX		4096
#define CONFIG_FILE_MAX		(1 << 20)
#define CONFIG_ERR_MAX		512

struct fleet_config {
	bool continuous;		/* sample every process (continuous.h) */
	bool continuous_fp;		/* frame pointers, no stack copies */
	unsigned continuous_hz;		/* 19 */
	/* Which processes (cfilter.h); NULL: every one, none excluded. */
	char *continuous_include, *continuous_exclude;
	unsigned continuous_interval_s;	/* 10 */
	char *push_url;			/* NULL: no push */
	char *push_token_file;
	char *push_basic_auth_file;
	char *push_ca_file;
	char *tenant;
	char *host_label;		/* NULL: the hostname */
	char *spool_dir;		/* NULL: CONFIG_DEFAULT_SPOOL */
	uint64_t spool_max_bytes;	/* 256 MiB */
	uint64_t spool_max_age_s;	/* 24 h */
	bool push_label_pid, push_label_tid;	/* push-labels */
	/* The --listen listener (listen_auth.h): the address at start only
	 * (a change needs a restart), the three files also on reload
	 * (main__listen_reload()). listen: --listen's HOST:PORT when the
	 * command line has none. */
	char *listen;
	char *listen_token_file;
	char *listen_tls_cert, *listen_tls_key;
	/* Tests: close an interval of this profile every interval. */
	char *test_interval_profile;
};

/* The keys, in --help's order, NULL-terminated; each takes a value. */
extern const char *const config__keys[];

void config__init(struct fleet_config *c);	/* the defaults */
void config__free(struct fleet_config *c);	/* strings; c stays valid */

/**
 * config__set() - set option @key to @value.
 * Return: 0, -ENOENT (no such key), -EINVAL (bad value; @err says why).
 */
int config__set(struct fleet_config *c, const char *key, const char *value,
		char *err, size_t errsize);

/**
 * config__parse() - apply the settings in @text (@len bytes, the contents
 * of a config file called @name in errors) onto @c. Pure.
 * Return: 0, -EINVAL (a bad line; @err "NAME:LINE: what"), -EFBIG, -ENOMEM.
 */
int config__parse(const char *name, const char *text, size_t len,
		  struct fleet_config *c, char *err, size_t errsize);

/**
 * config__load_file() - apply the settings in file @path onto @c.
 * @err: on failure, "PATH:LINE: what" or "PATH: what".
 * Return: 0, -ENOENT (no such file), -EPERM (owner or mode unsafe),
 * -EINVAL (a bad line), -EFBIG, or the read's -errno.
 */
int config__load_file(const char *path, struct fleet_config *c, char *err,
		      size_t errsize);

/* Cross-option checks: continuous-hz <= @max_hz, ... 0 or -EINVAL. */
int config__validate(const struct fleet_config *c, unsigned max_hz, char *err,
		     size_t errsize);

/*
 * config__check_file() - is @path safe to take settings from? A regular
 * file, owned by root or the effective uid, not writable by group or
 * others; with @secret not readable by others either. 0, -EPERM (@err says
 * why), or stat's -errno.
 */
int config__check_file(const char *path, bool secret, char *err,
		       size_t errsize);

/*
 * config__read_file() - at most @max bytes of @path into a malloc'd,
 * NUL-terminated *@ret (length *@ret_len): -EFBIG past @max, -errno.
 * What was read is wiped before it is freed on failure (secrets).
 */
int config__read_file(const char *path, size_t max, char **ret,
		      size_t *ret_len);

/*
 * config__read_secret() - the first line of credential file @path (checked
 * with config__check_file(secret)), without its newline, into @buf.
 * 0, -EPERM, -EINVAL (empty), -E2BIG (longer than @size - 1), -errno;
 * @err says why (never with the secret).
 */
int config__read_secret(const char *path, char *buf, size_t size, char *err,
			size_t errsize);

/* A command-line setting, applied over the file's. */
struct config_override {
	const char *key, *value;
};

/**
 * config__load_all() - the configuration: defaults, then file @path (when
 * it exists; when @required, a missing file is an error too), then the
 * command line's @ov, then config__validate(@max_hz); credential and CA
 * files are checked (config__check_file()) here too, so an unsafe one
 * stops profd before anything is loaded, and fails a reload.
 * @ret: set on success (free with config__free()), untouched on failure.
 * Return: 0 or -errno with @err saying what and where.
 */
int config__load_all(const char *path, bool required,
		     const struct config_override *ov, size_t nov,
		     unsigned max_hz, struct fleet_config *ret, char *err,
		     size_t errsize);

#endif /* PROFD_CONFIG_H */
