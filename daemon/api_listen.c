// SPDX-License-Identifier: GPL-2.0
/*
 * api_listen: a token listener's requests (api_listen.h).
 */
#include <errno.h>
#include <string.h>

#include "api_listen.h"

int api_listen__peer(const struct listen_auth *auth, struct MHD_Connection *c,
		     struct peer *ret)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	int r = listen_auth__check(auth, h);

	if (r < 0)
		return r;
	*ret = (struct peer){ .uid = 0, .gid = 0, .known = true, .tcp = true,
			      .token = true };
	return 0;
}

enum MHD_Result api_listen__send_401(struct MHD_Connection *c, int err)
{
	static const char no_token[] =
		"unauthorized: this listener serves requests with its bearer token only (Authorization: Bearer TOKEN; curl --oauth2-bearer, Parca's authorization.credentials_file)\n";
	static const char bad_token[] =
		"unauthorized: that is not this listener's token\n";
	const char *body = err == -EACCES ? bad_token : no_token;
	struct MHD_Response *resp;
	enum MHD_Result r;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Go-Pprof", "1");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				err == -EACCES ?
				"Bearer realm=\"profd\", error=\"invalid_token\"" :
				"Bearer realm=\"profd\"");
	r = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, resp);
	MHD_destroy_response(resp);
	return r;
}

unsigned api_listen__tls_options(const char *cert_pem, const char *key_pem,
				 struct MHD_OptionItem opts[3])
{
	unsigned n = 0;

	if (cert_pem && key_pem) {
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
						     (void *)cert_pem };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
						     (void *)key_pem };
	}
	opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return n ? MHD_USE_TLS : 0;
}
