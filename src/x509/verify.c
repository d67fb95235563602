/* Chain verification against configured trust anchors. */
#include "x509_int.h"

#include <stdlib.h>
#include <strings.h>
#include <string.h>

static X509 *
d2i(const struct cw_buf *b)
{
	const unsigned char *p = b->data;

	return d2i_X509(NULL, &p, (long)b->len);
}

enum cw_err
x509_verify_chain(const struct cw_buf *leaf, const struct x509_bundle *chain,
		  const struct cw_strlist *anchors, time_t at)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509 *x = d2i(leaf);
	enum cw_err rc = CW_ERR_NOMEM;
	int err;

	if (store == NULL || ctx == NULL || untrusted == NULL)
		goto out;
	if (x == NULL) {
		rc = CW_ERR_PARSE;
		goto out;
	}
	if (anchors == NULL || anchors->n == 0) {
		cw_error("no trust anchors: set [trust] anchors (or a CA "
			 "profile's roots) in the configuration");
		rc = CW_ERR_CONFIG;
		goto out;
	}
	for (size_t i = 0; i < anchors->n; i++) {
		if (X509_STORE_load_file(store, anchors->v[i]) != 1) {
			cw_error_openssl("cannot read trust anchors");
			cw_error("trust anchors '%s' are not a readable PEM file",
				 anchors->v[i]);
			rc = CW_ERR_CONFIG;
			goto out;
		}
	}
	for (size_t i = 0; chain && i < chain->n; i++) {
		X509 *c = d2i(&chain->certs[i]);

		if (c == NULL || !sk_X509_push(untrusted, c)) {
			X509_free(c);
			goto out;
		}
	}
	if (!X509_STORE_CTX_init(ctx, store, x, untrusted))
		goto out;
	if (at == X509_ANY_TIME)
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
	else
		X509_STORE_CTX_set_time(ctx, 0, at);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
		    err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY) {
			X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
			char *issuer = cur ? x509_name_string(
						     X509_get_issuer_name(cur))
					   : NULL;

			cw_error("the chain does not verify to the trust "
				 "anchors: it is incomplete, the issuer '%s' is "
				 "neither in it nor a trust anchor",
				 issuer ? issuer : "?");
			free(issuer);
			rc = CW_ERR_NOT_FOUND;
			goto out;
		}
		cw_error("the chain does not verify to the trust anchors: %s",
			 X509_verify_cert_error_string(err));
		rc = CW_ERR_CRYPTO;
		goto out;
	}
	rc = CW_OK;
out:
	ERR_clear_error();
	X509_free(x);
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

bool
x509_name_covers(const char *pattern, const char *name)
{
	const char *dot;

	if (strcasecmp(pattern, name) == 0)
		return true;
	/* "*.b.c" covers "a.b.c", one label only (RFC 6125 6.4.3). */
	if (strncmp(pattern, "*.", 2) != 0)
		return false;
	dot = strchr(name, '.');
	return dot != NULL && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
}
