/* Import certificate: a CA response bound to its key on the token. */
#include "wizard_int.h"

#include <stdlib.h>
#include <string.h>

void
wiz_import_result_release(struct wiz_import_result *r)
{
	if (r == NULL)
		return;
	free(r->sha256);
	free(r->subject);
	free(r->issuer);
	free(r->cka_id);
	free(r->token_label);
	memset(r, 0, sizeof(*r));
}

struct imp {
	struct x509_bundle bundle;
	struct x509_info leaf;
	struct store *store;
	struct store_key key;
	struct store_token token;
	struct store_request req;
	struct tok_session *tok;
	struct cw_buf id;
	bool has_request;
};

static enum cw_err
read_response(const char *path, struct imp *m)
{
	struct cw_buf data;
	enum cw_err rc;

	cw_buf_init(&data);
	rc = cw_file_read(path, X509_MAX_RESPONSE, &data);
	if (rc == CW_OK)
		rc = x509_bundle_parse(data.data, data.len, &m->bundle);
	if (rc == CW_OK)
		rc = x509_info_parse(m->bundle.certs[0].data,
				     m->bundle.certs[0].len, &m->leaf);
	if (rc != CW_OK)
		cw_error("cannot import '%s'", path);
	cw_buf_release(&data);
	return rc;
}

/* The stored key whose public key is the leaf's, and its token. */
static enum cw_err
find_key(struct imp *m)
{
	struct store_cert known;
	enum cw_err rc;

	rc = store_cert_by_sha256(m->store, m->leaf.sha256, &known);
	if (rc == CW_OK) {
		cw_error("certificate %.16s is already imported (id %lld)",
			 m->leaf.sha256, (long long)known.id);
		store_cert_release(&known);
		return CW_ERR_DUPLICATE;
	}
	if (rc != CW_ERR_NOT_FOUND)
		return rc;
	rc = store_key_by_spki(m->store, m->leaf.spki_sha256, &m->key);
	if (rc == CW_ERR_NOT_FOUND) {
		cw_error("no key known to certwiz matches the public key of "
			 "'%s'",
			 m->leaf.subject);
		return CW_ERR_NO_KEY;
	}
	if (rc == CW_OK)
		rc = store_token_get(m->store, m->key.token_id, &m->token);
	if (rc == CW_OK)
		rc = cw_unhex(m->key.cka_id, &m->id);
	if (rc != CW_OK)
		return rc;
	rc = store_request_awaiting(m->store, m->key.id, &m->req);
	m->has_request = rc == CW_OK;
	return rc == CW_ERR_NOT_FOUND ? CW_OK : rc;
}

/* The key must still be on its token, with the leaf's public key. */
static enum cw_err
check_token(struct wiz *w, struct imp *m)
{
	char *uri = wiz_token_uri(&m->token);
	struct cw_pubkey pub;
	struct cw_buf spki;
	enum cw_err rc;

	cw_pubkey_init(&pub);
	cw_buf_init(&spki);
	rc = uri ? wiz_open_token(w, uri, &m->tok) : CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = tok_public_key(m->tok, &m->id, &pub);
	if (rc == CW_ERR_NO_KEY)
		cw_error("key %s is no longer on token '%s'", m->key.cka_id,
			 m->token.label);
	if (rc == CW_OK)
		rc = x509_spki_from_pubkey(&pub, &spki);
	if (rc == CW_OK && (spki.len != m->leaf.spki.len ||
			    memcmp(spki.data, m->leaf.spki.data, spki.len))) {
		cw_error("the key on token '%s' does not match the "
			 "certificate's public key",
			 m->token.label);
		rc = CW_ERR_CRYPTO;
	}
	cw_buf_release(&spki);
	cw_pubkey_release(&pub);
	free(uri);
	return rc;
}

/* Whether the certificate object under the key's CKA_ID is this leaf. */
static bool
same_cert_on_token(struct imp *m)
{
	struct cw_buf der;
	bool same;

	cw_buf_init(&der);
	same = tok_read_cert(m->tok, &m->id, &der) == CW_OK &&
	       der.len == m->leaf.der.len &&
	       memcmp(der.data, m->leaf.der.data, der.len) == 0;
	cw_buf_release(&der);
	if (same)
		cw_info("the certificate is already on the token (an earlier "
			"import was interrupted); recording it");
	return same;
}

static enum cw_err
bind_cert(struct imp *m, int64_t *cert_id)
{
	struct store_cert c;
	struct tok_cert tc = { &m->id, m->key.label, &m->leaf.der,
			       &m->leaf.subject_der, &m->leaf.issuer_der,
			       &m->leaf.serial_der };
	bool on_token = false;
	enum cw_err rc;

	memset(&c, 0, sizeof(c));
	c.der = m->leaf.der;
	c.sha256 = m->leaf.sha256;
	c.sha1 = m->leaf.sha1;
	c.subject = m->leaf.subject;
	c.issuer = m->leaf.issuer;
	c.serial = m->leaf.serial;
	c.not_before = m->leaf.not_before;
	c.not_after = m->leaf.not_after;
	c.key_id = m->key.id;
	c.request_id = m->has_request ? m->req.id : 0;
	c.origin = m->has_request ? "issued" : "imported";
	c.names = m->leaf.names;
	c.eku = m->leaf.eku;
	c.eku_any = !m->leaf.has_eku;
	c.key_alg = m->leaf.key_alg;
	c.token_state = "present";
	cw_buf_init(&c.chain);
	rc = x509_chain_join(m->bundle.certs + 1, m->bundle.n - 1, &c.chain);
	if (rc == CW_OK)
		rc = store_begin(m->store);
	if (rc == CW_OK)
		rc = store_cert_add(m->store, &c);
	if (rc == CW_OK && m->has_request)
		rc = store_request_set_state(m->store, m->req.id, "issued");
	if (rc == CW_OK)
		rc = tok_write_cert(m->tok, &tc);
	on_token = rc == CW_OK;
	if (rc == CW_ERR_DUPLICATE && same_cert_on_token(m))
		rc = CW_OK; /* left by an interrupted import: adopt it */
	else if (rc == CW_ERR_DUPLICATE)
		cw_error("token '%s' already holds another certificate for key "
			 "%s (already bound)",
			 m->token.label, m->key.cka_id);
	cw_crashpoint("import:after-token-write");
	if (rc == CW_OK && cw_failpoint("import:commit"))
		rc = CW_ERR_STORE;
	if (rc == CW_OK)
		rc = store_commit(m->store);
	if (rc != CW_OK) {
		store_rollback(m->store);
		if (on_token)
			tok_destroy_cert(m->tok, &m->id);
	} else {
		*cert_id = c.id;
	}
	cw_buf_release(&c.chain);
	return rc;
}

static enum cw_err
fill_result(struct imp *m, int64_t cert_id, struct wiz_import_result *out)
{
	struct wiz_import_result r;

	memset(&r, 0, sizeof(r));
	r.cert_id = cert_id;
	r.request_id = m->has_request ? m->req.id : 0;
	r.sha256 = strdup(m->leaf.sha256);
	r.subject = strdup(m->leaf.subject);
	r.issuer = strdup(m->leaf.issuer);
	r.not_after = m->leaf.not_after;
	r.expired = m->leaf.not_after < time(NULL);
	r.cka_id = strdup(m->key.cka_id);
	r.token_label = strdup(m->token.label);
	r.chain_len = m->bundle.n - 1;
	if (!r.sha256 || !r.subject || !r.issuer || !r.cka_id ||
	    !r.token_label) {
		wiz_import_result_release(&r);
		return CW_ERR_NOMEM;
	}
	*out = r;
	return CW_OK;
}

enum cw_err
wiz_import(struct wiz *w, const char *path, struct wiz_import_result *out)
{
	struct imp m;
	int64_t cert_id = 0;
	enum cw_err rc;

	memset(&m, 0, sizeof(m));
	rc = read_response(path, &m);
	if (rc == CW_OK)
		rc = wiz_store(w, &m.store);
	if (rc == CW_OK)
		rc = find_key(&m);
	if (rc == CW_OK)
		rc = check_token(w, &m);
	if (rc == CW_OK)
		rc = bind_cert(&m, &cert_id);
	if (rc == CW_OK)
		rc = fill_result(&m, cert_id, out);
	if (rc == CW_OK && out->expired)
		cw_warn("certificate '%s' has expired; it is imported but "
			"cannot be assigned",
			m.leaf.subject);
	tok_session_close(m.tok);
	x509_bundle_release(&m.bundle);
	x509_info_release(&m.leaf);
	store_key_release(&m.key);
	store_token_release(&m.token);
	store_request_release(&m.req);
	cw_buf_release(&m.id);
	return rc;
}
