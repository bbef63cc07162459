// SPDX-License-Identifier: GPL-2.0
/*
 * api_listen: a token listener's requests (api_listen.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

#include "api_listen.h"

/* A certificate chain longer than this is refused (a leaf and a few
 * intermediates is what servers send). */
#define TLS_CHAIN_MAX 16

struct listen_keys {
	pthread_mutex_t lock;		/* guards all below */
	struct listen_auth token;
	char *cert_pem, *key_pem;	/* NULL: no TLS */
};

/*
 * The handshake callback has no argument of ours (gnutls passes the
 * session only): the one listener's keys. Set before its server starts.
 */
static struct listen_keys *tls_keys;

/* Are @cert_pem and @key_pem a certificate chain and its key? gnutls's own
 * check, the one libmicrohttpd's start would make (key mismatch too). */
static int check_pair(const char *cert_pem, const char *key_pem, char *err,
		      size_t errsize)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t c = { (unsigned char *)cert_pem, (unsigned)strlen(cert_pem) };
	gnutls_datum_t k = { (unsigned char *)key_pem, (unsigned)strlen(key_pem) };
	int r;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return -ENOMEM;
	r = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM,
						 NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (r < 0) {
		snprintf(err, errsize, "listen-tls-cert, listen-tls-key: not a certificate and its key (%s)",
			 gnutls_strerror(r));
		return -EINVAL;
	}
	return 0;
}

int listen_keys__new(const struct listen_auth *token, char *cert_pem,
		     char *key_pem, struct listen_keys **ret, char *err,
		     size_t errsize)
{
	struct listen_keys *k;
	int r;

	if (!cert_pem != !key_pem) {
		snprintf(err, errsize, "a certificate without its key, or a key without its certificate");
		r = -EINVAL;
		goto fail;
	}
	if (cert_pem) {
		r = check_pair(cert_pem, key_pem, err, errsize);
		if (r < 0)
			goto fail;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		r = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&k->lock, NULL);
	k->token = *token;
	k->cert_pem = cert_pem;
	k->key_pem = key_pem;
	*ret = k;
	return 0;
fail:
	listen_auth__free_pem(cert_pem);
	listen_auth__free_pem(key_pem);
	return r;
}

int listen_keys__replace(struct listen_keys *k, const struct listen_auth *token,
			 char *cert_pem, char *key_pem, char *err,
			 size_t errsize)
{
	char *old_cert, *old_key;
	int r;

	if (!cert_pem != !k->cert_pem || !key_pem != !k->key_pem) {
		snprintf(err, errsize, "TLS is turned %s only by a restart",
			 k->cert_pem ? "off" : "on");
		r = -EINVAL;
		goto fail;
	}
	if (cert_pem) {
		r = check_pair(cert_pem, key_pem, err, errsize);
		if (r < 0)
			goto fail;
	}
	pthread_mutex_lock(&k->lock);
	listen_auth__clear(&k->token);
	k->token = *token;
	old_cert = k->cert_pem;
	old_key = k->key_pem;
	k->cert_pem = cert_pem;
	k->key_pem = key_pem;
	pthread_mutex_unlock(&k->lock);
	/* Handshakes copy what they use under the lock: nobody holds these. */
	listen_auth__free_pem(old_cert);
	listen_auth__free_pem(old_key);
	return 0;
fail:
	listen_auth__free_pem(cert_pem);
	listen_auth__free_pem(key_pem);
	return r;
}

bool listen_keys__tls(const struct listen_keys *k)
{
	return k && k->cert_pem;
}

void listen_keys__free(struct listen_keys *k)
{
	if (!k)
		return;
	if (tls_keys == k)
		tls_keys = NULL;
	listen_auth__clear(&k->token);
	listen_auth__free_pem(k->cert_pem);
	listen_auth__free_pem(k->key_pem);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/*
 * gnutls_certificate_retrieve_function3: this handshake's certificate chain
 * and key, parsed from the current PEM, owned by the session
 * (GNUTLS_CERT_RETR_DEINIT_ALL: gnutls frees them with it), so a reload
 * never frees what a connection still uses. Costs a parse of the key per
 * handshake (tens of microseconds for RSA 2048), next to the handshake's
 * own signature; scrapers connect every few seconds at most.
 */
static int tls_retrieve(gnutls_session_t session,
			const struct gnutls_cert_retr_st *info,
			gnutls_pcert_st **certs, unsigned int *ncerts,
			gnutls_ocsp_data_st **ocsp, unsigned int *nocsp,
			gnutls_privkey_t *privkey, unsigned int *flags)
{
	struct listen_keys *k = tls_keys;
	gnutls_pcert_st *list = NULL;
	gnutls_privkey_t key = NULL;
	gnutls_datum_t d;
	unsigned n = TLS_CHAIN_MAX, i;
	int r = -1;

	(void)session;
	(void)info;
	if (!k)
		return -1;
	list = gnutls_malloc(TLS_CHAIN_MAX * sizeof(*list));
	if (!list || gnutls_privkey_init(&key) < 0)
		goto fail;
	pthread_mutex_lock(&k->lock);
	d = (gnutls_datum_t){ (unsigned char *)k->cert_pem,
			      (unsigned)strlen(k->cert_pem) };
	r = gnutls_pcert_list_import_x509_raw(list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (r >= 0) {
		d = (gnutls_datum_t){ (unsigned char *)k->key_pem,
				      (unsigned)strlen(k->key_pem) };
		r = gnutls_privkey_import_x509_raw(key, &d, GNUTLS_X509_FMT_PEM,
						   NULL, 0);
		if (r < 0) {
			for (i = 0; i < n; i++)
				gnutls_pcert_deinit(&list[i]);
		}
	}
	pthread_mutex_unlock(&k->lock);
	if (r < 0)
		goto fail;
	*certs = list;
	*ncerts = n;
	*ocsp = NULL;
	*nocsp = 0;
	*privkey = key;
	*flags = GNUTLS_CERT_RETR_DEINIT_ALL;
	return 0;
fail:
	if (key)
		gnutls_privkey_deinit(key);
	gnutls_free(list);
	return -1;
}

int api_listen__peer(struct listen_keys *k, struct MHD_Connection *c,
		     struct peer *ret)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	int r;

	pthread_mutex_lock(&k->lock);
	r = listen_auth__check(&k->token, h);
	pthread_mutex_unlock(&k->lock);
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

unsigned api_listen__tls_options(struct listen_keys *k,
				 struct MHD_OptionItem opts[2])
{
	unsigned n = 0;

	if (listen_keys__tls(k)) {
		tls_keys = k;
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_CERT_CALLBACK2, 0,
						     (void *)tls_retrieve };
	}
	opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return n ? MHD_USE_TLS : 0;
}
