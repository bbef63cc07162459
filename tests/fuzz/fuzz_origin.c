// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the web-page check of every request (daemon/origin.c):
 * the Host, Origin and Sec-Fetch-Site headers against the listener the
 * request came on. Input: a byte choosing the listener (Unix socket, or
 * TCP with or without a --listen host name, on one of a few ports) and
 * which headers are present, then the headers' values, NUL-separated.
 * Besides the sanitizers, the harness checks the rules origin.h states
 * that do not need a second implementation: a cross-site Sec-Fetch-Site,
 * a TCP request without Host (but on a token listener) and an Origin on
 * the Unix socket are always refused; a token listener takes any Host;
 * a refusal's reason is printable ASCII (it is sent back).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "origin.h"

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned ports[] = { 6060, 80, 1, 65535 };
	struct origin_listener l = { 0 };
	const char *hdr[3] = { NULL, NULL, NULL };
	char *buf, why[256], *p;
	size_t i, n;
	uint8_t sel;
	int r;

	if (size < 1 || size > 4096)
		return 0;
	sel = data[0];
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = 0;
	l.tcp = sel & 1;
	l.host = sel & 2 ? "profd.example" : NULL;
	l.port = ports[(sel >> 2) & 3];
	l.any_host = sel & 128;		/* a token listener */
	for (i = 0, p = buf; i < 3; i++) {
		if (sel & (16 << i))
			hdr[i] = p;
		p += strlen(p);
		if (p < buf + size - 1)
			p++;
	}

	memset(why, 0x55, sizeof(why));
	why[sizeof(why) - 1] = 0;
	r = origin__check(&l, hdr[0], hdr[1], hdr[2], why, sizeof(why));
	require(r == 0 || r == -EPERM);
	if (hdr[2] && strcmp(hdr[2], "none") && strcmp(hdr[2], "same-origin"))
		require(r == -EPERM);
	if (l.tcp && !l.any_host && !hdr[0])
		require(r == -EPERM);
	/* A token listener decides by the token, not the Host. */
	if (l.tcp && l.any_host && !hdr[1] && !hdr[2])
		require(r == 0);
	if (!l.tcp && hdr[1])
		require(r == -EPERM);
	if (!l.tcp && !hdr[1] && !hdr[2])
		require(r == 0);
	if (r < 0) {
		n = strnlen(why, sizeof(why));
		require(n > 0 && n < sizeof(why));
		for (i = 0; i < n; i++)
			require(why[i] >= 0x20 && why[i] < 0x7f);
	}
	free(buf);
	return 0;
}
