// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: profd.conf parsing (daemon/config.c, config__parse() and
 * config__set() under it, then config__validate()). Input: the file's
 * contents. Besides the sanitizers, the harness checks what config.h
 * promises: an error message always says where ("fuzz.conf:" first) and is
 * NUL-terminated within its buffer; values that were accepted are within
 * their documented ranges.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fleet_config c;
	char err[CONFIG_ERR_MAX];
	int r;

	memset(err, 0x55, sizeof(err));
	err[sizeof(err) - 1] = 0;
	config__init(&c);
	r = config__parse("fuzz.conf", (const char *)data, size, &c, err, sizeof(err));
	require(r == 0 || r == -EINVAL || r == -EFBIG || r == -ENOMEM);
	if (r < 0) {
		require(strnlen(err, sizeof(err)) < sizeof(err));
		require(!strncmp(err, "fuzz.conf", 9));
	}
	require(c.continuous_hz >= 1 && c.continuous_hz <= 10000);
	require(c.continuous_interval_s >= 1 && c.continuous_interval_s <= 3600);
	require(c.spool_max_bytes >= 1 << 20 && c.spool_max_bytes <= 1ULL << 40);
	require(c.spool_max_age_s >= 60 && c.spool_max_age_s <= 90 * 86400);
	require(!c.push_url || !strncasecmp(c.push_url, "http", 4));
	(void)config__validate(&c, 1000, err, sizeof(err));
	config__free(&c);
	return 0;
}
