/* The interface every protocol that submits and polls sits behind. */
#include "ca_int.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdlib.h>
#include <string.h>

void
ca_result_release(struct ca_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_certs; i++)
		cw_buf_release(&r->certs[i]);
	free(r->certs);
	free(r->reference);
	free(r->reason);
	memset(r, 0, sizeof(*r));
}

enum cw_err
ca_submit(struct ca_client *c, const struct cw_buf *csr, int wait,
          struct ca_result *out)
{
	memset(out, 0, sizeof(*out));
	return c->ops->submit(c, csr, wait, out);
}

enum cw_err
ca_poll(struct ca_client *c, const struct cw_buf *csr,
        const struct cw_buf *state, int wait, struct ca_result *out)
{
	memset(out, 0, sizeof(*out));
	return c->ops->poll(c, csr, state, wait, out);
}

enum cw_err
ca_cancel(struct ca_client *c, const struct cw_buf *csr,
          const struct cw_buf *state)
{
	return c->ops->cancel(c, csr, state);
}

void
ca_client_free(struct ca_client *c)
{
	if (c != NULL)
		c->ops->free(c);
}

enum cw_err
ca_result_add_cert(struct ca_result *r, const unsigned char *der, size_t n)
{
	struct cw_buf *v = realloc(r->certs, (r->n_certs + 1) * sizeof(*v));

	if (v == NULL)
		return CW_ERR_NOMEM;
	r->certs = v;
	cw_buf_init(&v[r->n_certs]);
	if (cw_buf_set(&v[r->n_certs], der, n) != CW_OK)
		return CW_ERR_NOMEM;
	r->n_certs++;
	return CW_OK;
}

enum cw_err
ca_result_set(struct ca_result *r, enum ca_answer a, const char *reason)
{
	r->answer = a;
	free(r->reason);
	r->reason = reason ? strdup(reason) : NULL;
	return reason && r->reason == NULL ? CW_ERR_NOMEM : CW_OK;
}

enum cw_err
ca_pem_csr(const struct cw_buf *der, struct cw_buf *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	enum cw_err rc = CW_ERR_NOMEM;

	if (b &&
	    PEM_write_bio(b, "CERTIFICATE REQUEST", "", der->data,
	                  (long)der->len) > 0 &&
	    (n = BIO_get_mem_data(b, &p)) > 0 &&
	    cw_buf_set(out, p, (size_t)n) == CW_OK &&
	    cw_buf_append(out, "", 1) == CW_OK)
		rc = CW_OK;
	BIO_free(b);
	return rc;
}

enum cw_err
ca_parse_pem_certs(const char *text, struct ca_result *out)
{
	BIO *b = BIO_new_mem_buf(text, -1);
	X509 *x;
	enum cw_err rc = b ? CW_OK : CW_ERR_NOMEM;

	while (rc == CW_OK && b &&
	       (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);

		rc = n > 0 ? ca_result_add_cert(out, der, (size_t)n)
		           : CW_ERR_PARSE;
		OPENSSL_free(der);
		X509_free(x);
	}
	ERR_clear_error(); /* the end of the text */
	BIO_free(b);
	return rc;
}

static bool
is(const struct cw_ca_profile *p, const char *protocol)
{
	return p->protocol && strcmp(p->protocol, protocol) == 0;
}

enum cw_err
ca_client_for(const struct cw_ca_profile *p, const struct ca_credentials *cr,
              const char *template, const struct ca_hooks *h,
              struct ca_client **out)
{
	const char *tpl = template ? template : p->template;

	if (is(p, "acme")) {
		struct ca_acme_opts o = {cr->account,      cr->account_spki,
		                         p->name,          p->challenge,
		                         p->http01_listen, p->http01_webroot,
		                         p->dns01_hook};

		return ca_acme_new(&o, h, out);
	}
	if (is(p, "cmp")) {
		struct ca_cmp_opts o = {p->server,    cr->reference, cr->secret,
		                        p->recipient, p->trust,      tpl,
		                        p->timeout};

		return ca_cmp_new(&o, h, out);
	}
	if (is(p, "helper")) {
		struct ca_helper_opts o = {p->command, tpl, p->name, cr->secret,
		                           p->timeout};

		return ca_helper_new(&o, h, out);
	}
	cw_error("CA '%s' does not submit and poll (protocol %s)", p->name,
	         p->protocol ? p->protocol : "none");
	return CW_ERR_INTERNAL;
}

bool
ca_needs_secret(const struct cw_ca_profile *p)
{
	return is(p, "cmp");
}

bool
ca_needs_account(const struct cw_ca_profile *p)
{
	return is(p, "acme");
}
