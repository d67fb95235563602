/* The ACME account of a CA profile: its key on the token, its
 * registration with the CA, and JWS signatures made by the token. */
#include "wizard_int.h"

#include <stdlib.h>
#include <string.h>

#define ACCOUNT_KEY_SPEC "ec:P-256" /* unless the profile says ec:P-384 */

void
wiz_account_close(struct wiz_account *a)
{
	if (a == NULL)
		return;
	acme_free(a->acme);
	cw_buf_release(&a->key_id);
	cw_buf_release(&a->spki);
	store_account_release(&a->row);
	memset(a, 0, sizeof(*a));
}

/* ES256 with the account key: SHA-256 on the host, CKM_ECDSA on the token
 * (raw r||s, as JWS wants it). */
static enum cw_err
sign_jws(void *user, const unsigned char *data, size_t len,
	 struct cw_buf *sig)
{
	struct wiz_account *a = user;
	unsigned char digest[48];
	struct cw_sign_req req;
	bool p384 = a->p384;
	/* the tokens may have been left to others while the CA was waited
	 * for */
	enum cw_err rc = a->w ? wiz_tokens_take(a->w) : CW_OK;

	if (rc == CW_OK)
		rc = p384 ? x509_sha384(data, len, digest)
		          : x509_sha256(data, len, digest);

	if (rc != CW_OK)
		return rc;
	req = (struct cw_sign_req){ p384 ? CW_SIG_ECDSA_SHA384
					 : CW_SIG_ECDSA_SHA256,
				    data, len, digest, p384 ? 48 : 32 };
	return tok_sign(a->tok, &a->key_id, &req, sig);
}

static enum cw_err
audit_account(struct wiz *w, const struct cw_ca_profile *p,
	      const struct wiz_account *a, const char *operation,
	      const char *eab_kid)
{
	char *t = audit_target("ca", p->name, "directory", p->directory,
			       "cka_id", a->row.cka_id, "account",
			       a->row.url, "eab_kid", eab_kid, NULL);
	enum cw_err rc = t ? wiz_audit(w, operation, t, "success", NULL)
			   : CW_ERR_NOMEM;

	free(t);
	return rc;
}

/* A new account row (state generating) under a fresh CKA_ID. */
static enum cw_err
new_row(struct wiz *w, const struct cw_ca_profile *p, struct wiz_account *a)
{
	const struct tok_info *ti = tok_session_info(a->tok);
	struct store_token t = { 0, ti->serial, ti->label, ti->manufacturer,
				 ti->model };
	unsigned char rnd[16];
	bool used = true;
	enum cw_err rc = CW_OK;

	for (int i = 0; rc == CW_OK && used && i < 4; i++) {
		rc = cw_random(rnd, sizeof(rnd));
		if (rc == CW_OK)
			rc = cw_buf_set(&a->key_id, rnd, sizeof(rnd));
		if (rc == CW_OK)
			rc = tok_id_in_use(a->tok, &a->key_id, &used);
	}
	if (rc == CW_OK && used)
		rc = CW_ERR_TOKEN;
	a->row.ca = strdup(p->name);
	a->row.directory = strdup(p->directory);
	a->row.cka_id = cw_hex(a->key_id.data, a->key_id.len);
	if (rc == CW_OK && (!a->row.ca || !a->row.directory || !a->row.cka_id))
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = store_begin(w->store);
	if (rc == CW_OK)
		rc = store_token_ensure(w->store, &t, &a->row.token_id);
	if (rc == CW_OK)
		rc = store_account_add(w->store, &a->row);
	return store_end(w->store, rc);
}

/* The account key: read back from the token, else generated under the
 * row's CKA_ID; the row is then ready with the key's SPKI. */
static enum cw_err
account_key(struct wiz *w, const struct cw_ca_profile *p,
	    struct wiz_account *a, struct cw_pubkey *pub)
{
	struct cw_keyspec spec;
	struct tok_objects objs;
	char *label = NULL;
	bool made = false;
	enum cw_err rc = tok_find(a->tok, &a->key_id, &objs);

	if (rc == CW_OK && !objs.private_key) {
		label = cw_printf("certwiz-acme-%s", p->name);
		rc = label ? cw_keyspec_parse(p->account_key ? p->account_key
							     : ACCOUNT_KEY_SPEC,
					      &spec)
			   : CW_ERR_NOMEM;
		if (rc == CW_OK)
			rc = tok_keygen(a->tok, &spec, &a->key_id, label, pub);
		made = rc == CW_OK;
	} else if (rc == CW_OK) {
		rc = tok_public_key(a->tok, &a->key_id, pub);
	}
	if (rc == CW_OK)
		rc = x509_spki_from_pubkey(pub, &a->spki);
	if (rc == CW_OK)
		a->p384 = pub->ec_point.len == 97;
	if (rc == CW_OK && strcmp(a->row.state, "ready") == 0 &&
	    (a->spki.len != a->row.spki.len ||
	     memcmp(a->spki.data, a->row.spki.data, a->spki.len) != 0)) {
		cw_error("the ACME account key %s on token '%s' is not the "
			 "key certwiz recorded",
			 a->row.cka_id, tok_session_info(a->tok)->label);
		rc = CW_ERR_CRYPTO;
	}
	if (rc == CW_OK && strcmp(a->row.state, "ready") != 0) {
		rc = store_begin(w->store);
		if (rc == CW_OK)
			rc = store_account_update(w->store, a->row.id, &a->spki,
						  a->row.url);
		if (rc == CW_OK && made)
			rc = audit_account(w, p, a, "acme-account-key-generated",
					   NULL);
		rc = store_end(w->store, rc);
	}
	free(label);
	return rc;
}

/* The token of an existing row, by its identity. */
static enum cw_err
row_token(struct wiz *w, struct wiz_account *a)
{
	struct store_token t;
	char *uri = NULL;
	enum cw_err rc = store_token_get(w->store, a->row.token_id, &t);

	if (rc == CW_OK)
		rc = (uri = wiz_token_uri(&t)) ? CW_OK : CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = wiz_open_token(w, uri, &a->tok);
	if (rc == CW_OK)
		rc = cw_unhex(a->row.cka_id, &a->key_id);
	free(uri);
	store_token_release(&t);
	return rc;
}

/* The MAC key of credentials given for this run: from its file or
 * descriptor, else typed at the terminal (the tokens left to others
 * meanwhile). */
static enum cw_err
eab_key(struct wiz *w, const struct cw_secret_source *src, const char *kid,
	struct cw_secret **out)
{
	char *prompt;
	enum cw_err rc, lock;

	if (!cw_secret_source_prompts(src))
		return cw_secret_get(src, NULL, out);
	prompt = cw_printf("EAB MAC key for '%s'", kid);
	if (prompt == NULL)
		return CW_ERR_NOMEM;
	wiz_tokens_release(w);
	rc = cw_secret_prompt(prompt, out);
	lock = wiz_tokens_take(w);
	free(prompt);
	if (rc == CW_OK && lock != CW_OK) {
		cw_secret_free(*out);
		*out = NULL;
		rc = lock;
	}
	return rc;
}

enum cw_err
wiz_account_register(struct wiz *w, const struct cw_ca_profile *p,
		     const struct wiz_acme_opts *o, struct wiz_account *a)
{
	const char *kid = o->eab_kid ? o->eab_kid : p->eab_kid;
	struct cw_secret *hmac = NULL;
	struct acme_eab eab = { kid, NULL };
	char *url = NULL;
	enum cw_err rc = CW_OK;

	if (o->eab_kid != NULL)
		rc = eab_key(w, &o->eab_hmac, o->eab_kid, &hmac);
	else if (kid != NULL && p->eab_hmac_file != NULL)
		rc = cw_secret_from_file(p->eab_hmac_file, &hmac);
	if (rc != CW_OK)
		cw_error("cannot read the EAB MAC key of '%s'", kid);
	eab.hmac = hmac;
	if (rc == CW_OK)
		rc = acme_register(a->acme, p->contact, hmac ? &eab : NULL,
				   &url);
	cw_secret_free(hmac);
	if (rc != CW_OK) {
		if (acme_problem(a->acme)->detail && rc != CW_ERR_NOMEM)
			cw_error("CA '%s' did not register the account: %s",
				 p->name, acme_problem(a->acme)->detail);
		return rc;
	}
	free(a->row.url);
	a->row.url = url;
	rc = store_begin(w->store);
	if (rc == CW_OK)
		rc = store_account_update(w->store, a->row.id, NULL, url);
	if (rc == CW_OK)
		rc = audit_account(w, p, a, "acme-account-registered",
				   hmac ? kid : NULL);
	return store_end(w->store, rc);
}

enum cw_err
wiz_account_open(struct wiz *w, const struct cw_ca_profile *p,
		 const struct wiz_acme_opts *o, struct wiz_account *out)
{
	struct wiz_account a;
	struct cw_pubkey pub;
	struct acme_opts ao;
	struct store *s = NULL;
	enum cw_err rc;

	memset(&a, 0, sizeof(a));
	a.w = w;
	cw_pubkey_init(&pub);
	rc = wiz_store(w, &s);
	if (rc == CW_OK)
		rc = store_account_get(s, p->name, p->directory, &a.row);
	if (rc == CW_ERR_NOT_FOUND) {
		if (w->cfg.token_uri == NULL) {
			cw_error("no token for the ACME account key: set "
				 "[token] uri");
			rc = CW_ERR_CONFIG;
		} else {
			rc = wiz_open_token(w, w->cfg.token_uri, &a.tok);
		}
		if (rc == CW_OK)
			rc = new_row(w, p, &a);
		if (rc == CW_OK && (a.row.state = strdup("generating")) == NULL)
			rc = CW_ERR_NOMEM;
	} else if (rc == CW_OK) {
		rc = row_token(w, &a);
	}
	if (rc == CW_OK)
		rc = account_key(w, p, &a, &pub);
	ao = (struct acme_opts){ p->directory, p->trust, &pub.ec_point,
				 sign_jws, out, p->timeout };
	if (rc == CW_OK)
		rc = acme_new(&ao, &a.acme);
	/* the signer's user is out: the account is moved there below */
	if (rc == CW_OK && a.row.url)
		rc = acme_use_account(a.acme, a.row.url);
	cw_pubkey_release(&pub);
	*out = a;
	if (rc == CW_OK && out->row.url == NULL)
		rc = wiz_account_register(w, p, o, out);
	return rc;
}
