// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the remote listener's Authorization check
 * (daemon/listen_auth.c, listen_auth__check()). Input: the header's value
 * as libmicrohttpd hands it over (up to the first NUL). Besides the
 * sanitizers, the harness compares the answer with a plain reference
 * (scheme "Bearer" in any case, spaces or tabs, then exactly the token):
 * only the token opens, and every other header is -ENOKEY or -EACCES as
 * listen_auth.h says.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "listen_auth.h"

#define require(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static const char token[] = "Zm9vYmFyLXRva2VuLTEyMzQ1Njc4OTA=";

static int reference(const char *h)
{
	const char *t;

	if (strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t'))
		return -ENOKEY;
	t = h + 6 + strspn(h + 6, " \t");
	return strcmp(t, token) ? -EACCES : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct listen_auth a = {};
	char *h;
	int r;

	memcpy(a.token, token, sizeof(token) - 1);
	a.len = sizeof(token) - 1;
	/* Exactly the input's bytes: ASan sees any read past its end. */
	h = malloc(size + 1);
	if (!h)
		return 0;
	memcpy(h, data, size);
	h[size] = 0;
	r = listen_auth__check(&a, h);
	require(r == reference(h));
	require(r == 0 || r == -ENOKEY || r == -EACCES);
	free(h);
	return 0;
}
