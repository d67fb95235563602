/* Import certificate: a CA response, a certificate made elsewhere, or a
 * PKCS#12 file with its key, bound to the key on the token. */
#define _DEFAULT_SOURCE
#include "wizard_int.h"

#include <stdio.h>
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
	free(r->key_origin);
	memset(r, 0, sizeof(*r));
}

struct imp {
	const struct wiz_import_opts *o;
	const struct store_request *issued_for; /* online: the request */
	struct x509_bundle bundle;
	struct x509_p12 p12;
	bool is_p12;
	struct x509_info leaf;
	struct store *store;
	struct store_key key;
	struct store_token token;
	struct store_request req;
	struct tok_session *tok;
	struct cw_buf id;
	bool has_request;
	bool key_recorded; /* a row this import added */
	bool key_imported; /* a key this import put on the token */
};

static enum cw_err
read_p12(struct wiz *w, const struct cw_buf *data, struct imp *m)
{
	struct cw_secret *pass = NULL;
	char *prompt = cw_printf("password for '%s'", m->o->path);
	enum cw_err rc;

	if (!w->cfg.allow_key_import) {
		cw_error("'%s' is PKCS#12 with a key: importing keys is not "
			 "allowed ([policy] allow_key_import)",
			 m->o->path);
		free(prompt);
		return CW_ERR_POLICY;
	}
	rc = prompt ? cw_secret_get(m->o->password, prompt, &pass)
		    : CW_ERR_NOMEM;
	free(prompt);
	if (rc == CW_OK)
		rc = x509_pkcs12_parse(data->data, data->len, pass, &m->p12);
	cw_secret_free(pass);
	if (rc == CW_OK && m->p12.n_keys != 1) {
		cw_error(m->p12.n_keys == 0
				 ? "the PKCS#12 file holds no private key; "
				   "import the certificate as PEM or DER"
				 : "the PKCS#12 file holds several private "
				   "keys; certwiz imports one at a time");
		rc = CW_ERR_POLICY;
	}
	if (rc == CW_OK) {
		m->is_p12 = true;
		m->bundle = m->p12.certs;
		memset(&m->p12.certs, 0, sizeof(m->p12.certs));
	}
	return rc;
}

static enum cw_err
read_input(struct wiz *w, struct imp *m)
{
	struct cw_buf data;
	enum cw_err rc;

	cw_buf_init(&data);
	if (m->o->data != NULL) {
		rc = m->o->data->len > X509_MAX_RESPONSE ? CW_ERR_PARSE
			: cw_buf_set(&data, m->o->data->data, m->o->data->len);
		if (rc == CW_ERR_PARSE)
			cw_error("'%s' is larger than %d bytes", m->o->path,
				 (int)X509_MAX_RESPONSE);
	} else {
		rc = cw_file_read(m->o->path, X509_MAX_RESPONSE, &data);
	}
	if (rc == CW_OK && x509_is_pkcs12(data.data, data.len))
		rc = read_p12(w, &data, m);
	else if (rc == CW_OK)
		rc = x509_bundle_parse(data.data, data.len, &m->bundle);
	if (rc == CW_OK)
		rc = x509_info_parse(m->bundle.certs[0].data,
				     m->bundle.certs[0].len, &m->leaf);
	if (rc != CW_OK)
		cw_error("cannot import '%s'", m->o->path);
	if (data.data != NULL)
		explicit_bzero(data.data, data.cap);
	cw_buf_release(&data);
	return rc;
}

/* The leaf as a store row (fields borrowed from m). */
static void
leaf_row(struct imp *m, struct store_cert *c)
{
	memset(c, 0, sizeof(*c));
	c->der = m->leaf.der;
	c->sha256 = m->leaf.sha256;
	c->sha1 = m->leaf.sha1;
	c->subject = m->leaf.subject;
	c->issuer = m->leaf.issuer;
	c->serial = m->leaf.serial;
	c->not_before = m->leaf.not_before;
	c->not_after = m->leaf.not_after;
	c->key_id = m->key.id;
	c->request_id = m->has_request ? m->req.id : 0;
	c->origin = m->has_request ? "issued" : "imported";
	c->names = m->leaf.names;
	c->eku = m->leaf.eku;
	c->eku_any = !m->leaf.has_eku;
	c->names_known = true;
	c->key_alg = m->leaf.key_alg;
	c->token_state = "present";
}

/* With --usage: the checks of assign, before anything changes. */
static enum cw_err
precheck_usages(struct wiz *w, struct imp *m)
{
	struct store_cert c;
	enum cw_err rc = CW_OK;
	time_t now = time(NULL);

	leaf_row(m, &c);
	rc = x509_chain_join(m->bundle.certs + 1, m->bundle.n - 1, &c.chain);
	for (size_t i = 0; rc == CW_OK && i < m->o->usages->n; i++) {
		struct topo_usage u;
		struct cw_strlist why;

		rc = wiz_usage(w, m->o->usages->v[i], &u);
		if (rc != CW_OK)
			break;
		cw_strlist_init(&why);
		rc = wiz_fit_problems(&c, &u, now, &why);
		for (size_t k = 0; k < why.n; k++)
			cw_error("certificate %.16s cannot serve usage '%s': %s",
				 c.sha256, u.name, why.v[k]);
		if (rc == CW_OK && why.n > 0)
			rc = CW_ERR_POLICY;
		cw_strlist_release(&why);
		topo_usage_release(&u);
	}
	if (rc == CW_OK)
		rc = wiz_verify_chain(w, &c, now);
	cw_buf_release(&c.chain);
	return rc;
}

static enum cw_err
not_known_yet(struct imp *m)
{
	struct store_cert known;
	enum cw_err rc = store_cert_by_sha256(m->store, m->leaf.sha256, &known);

	if (rc == CW_OK) {
		cw_error("certificate %.16s is already imported (id %lld)",
			 m->leaf.sha256, (long long)known.id);
		store_cert_release(&known);
		return CW_ERR_DUPLICATE;
	}
	return rc == CW_ERR_NOT_FOUND ? CW_OK : rc;
}

/* Opens the configured token (where keys not yet known are looked for or
 * imported) and records it. */
static enum cw_err
open_configured(struct wiz *w, struct imp *m)
{
	const struct tok_info *ti;
	struct store_token t;
	enum cw_err rc;

	if (w->cfg.token_uri == NULL) {
		cw_error("no token: set [token] uri");
		return CW_ERR_CONFIG;
	}
	rc = wiz_open_token(w, w->cfg.token_uri, &m->tok);
	if (rc != CW_OK)
		return rc;
	ti = tok_session_info(m->tok);
	t = (struct store_token){ 0, ti->serial, ti->label, ti->manufacturer,
				  ti->model };
	rc = store_end(m->store, store_begin(m->store) == CW_OK
					 ? store_token_ensure(m->store, &t,
							      &m->key.token_id)
					 : CW_ERR_STORE);
	if (rc == CW_OK)
		rc = store_token_get(m->store, m->key.token_id, &m->token);
	return rc;
}

static enum cw_err
audit_key(struct wiz *w, struct imp *m, const char *op, const char *reason)
{
	char *t = audit_target("cka_id", m->key.cka_id, "token_serial",
			       m->token.serial, "origin", m->key.origin,
			       "algorithm", m->key.algorithm, NULL);
	enum cw_err rc = t ? wiz_audit(w, op, t, "success", reason)
			   : CW_ERR_NOMEM;

	free(t);
	return rc;
}

/* Records the key row: state generating for a key about to be imported
 * (so that a crash leaves a trace), ready for one already on the token. */
static enum cw_err
record_key(struct wiz *w, struct imp *m, const char *origin,
	   const char *state)
{
	char *hex = cw_hex(m->id.data, m->id.len);
	enum cw_err rc;

	m->key.cka_id = hex;
	m->key.label = cw_printf("certwiz-import-%.8s", hex ? hex : "");
	m->key.algorithm = strdup(m->leaf.key_alg);
	m->key.origin = strdup(origin);
	m->key.state = strdup(state);
	if (!hex || !m->key.label || !m->key.algorithm || !m->key.origin ||
	    !m->key.state)
		return CW_ERR_NOMEM;
	rc = store_begin(m->store);
	if (rc == CW_OK)
		rc = store_key_add(m->store, &m->key);
	if (rc == CW_OK && !strcmp(state, "ready"))
		rc = store_key_set_ready(m->store, m->key.id, &m->leaf.spki,
					 m->leaf.spki_sha256);
	if (rc == CW_OK && !strcmp(state, "ready"))
		rc = audit_key(w, m, "key-recorded", "found on the token");
	rc = store_end(m->store, rc);
	m->key_recorded = rc == CW_OK;
	return rc;
}

static enum cw_err
label_of_token_key(struct wiz *w, struct imp *m)
{
	struct tok_objects o;
	struct cw_pubkey pub;
	enum cw_err rc;

	cw_pubkey_init(&pub);
	rc = x509_pubkey_from_spki(&m->leaf.spki, &pub);
	if (rc == CW_OK)
		rc = tok_find_key(m->tok, &pub, &m->id, &o);
	cw_pubkey_release(&pub);
	if (rc == CW_ERR_NO_KEY)
		cw_error("no key on token '%s' or in the store matches the "
			 "public key of '%s'",
			 m->token.label, m->leaf.subject);
	if (rc == CW_OK)
		rc = record_key(w, m, o.generated_on_token ? "generated"
							   : "imported",
				"ready");
	return rc;
}

/* The PKCS#12 key goes onto the token, sensitive and not extractable. */
static enum cw_err
import_key(struct wiz *w, struct imp *m)
{
	struct cw_pubkey pub;
	struct tok_objects o;
	struct cw_buf found;
	bool used = true;
	enum cw_err rc;

	cw_pubkey_init(&pub);
	cw_buf_init(&found);
	rc = x509_pubkey_from_spki(&m->leaf.spki, &pub);
	if (rc == CW_OK) {
		rc = tok_find_key(m->tok, &pub, &found, &o);
		if (rc == CW_OK) {
			cw_error("the PKCS#12 key is already on token '%s'; "
				 "import the certificate alone",
				 m->token.label);
			rc = CW_ERR_DUPLICATE;
		} else if (rc == CW_ERR_NO_KEY) {
			rc = CW_OK;
		}
	}
	for (int i = 0; rc == CW_OK && used && i < 4; i++) {
		unsigned char b[16];

		rc = cw_random(b, sizeof(b));
		if (rc == CW_OK)
			rc = cw_buf_set(&m->id, b, sizeof(b));
		if (rc == CW_OK)
			rc = tok_id_in_use(m->tok, &m->id, &used);
	}
	if (rc == CW_OK)
		rc = record_key(w, m, "imported", "generating");
	if (rc == CW_OK) {
		rc = tok_import_key(m->tok, &m->p12.key, &m->id, m->key.label);
		m->key_imported = rc == CW_OK;
	}
	cw_privkey_release(&m->p12.key); /* not needed any more: wipe */
	if (rc == CW_OK)
		rc = store_begin(m->store);
	if (rc == CW_OK)
		rc = store_key_set_ready(m->store, m->key.id, &m->leaf.spki,
					 m->leaf.spki_sha256);
	if (rc == CW_OK)
		rc = audit_key(w, m, "key-imported",
			       "from PKCS#12: sensitive, not extractable");
	rc = store_end(m->store, rc); /* a no-op when nothing was begun */
	cw_pubkey_release(&pub);
	cw_buf_release(&found);
	return rc;
}

/* The key of the leaf: in the store (then checked on its token), else on
 * the configured token, else (PKCS#12) imported. */
static enum cw_err
find_key(struct wiz *w, struct imp *m)
{
	enum cw_err rc = store_key_by_spki(m->store, m->leaf.spki_sha256,
					   &m->key);

	if (rc == CW_OK && m->is_p12) {
		cw_error("the PKCS#12 key is already known to certwiz (key %s); "
			 "import the certificate alone",
			 m->key.cka_id);
		return CW_ERR_DUPLICATE;
	}
	if (rc == CW_OK) {
		rc = store_token_get(m->store, m->key.token_id, &m->token);
		if (rc == CW_OK)
			rc = cw_unhex(m->key.cka_id, &m->id);
		if (rc == CW_OK)
			rc = wiz_key_on_token(w, &m->key, &m->tok);
	} else if (rc == CW_ERR_NOT_FOUND) {
		store_key_release(&m->key);
		rc = open_configured(w, m);
		if (rc == CW_OK)
			rc = m->is_p12 ? import_key(w, m)
				       : label_of_token_key(w, m);
	}
	if (rc != CW_OK)
		return rc;
	if (m->issued_for != NULL) {
		if (m->key.id != m->issued_for->key_id) {
			cw_error("the CA's certificate is not for the key of "
				 "request %lld",
				 (long long)m->issued_for->id);
			return CW_ERR_CRYPTO;
		}
		rc = store_request_get(m->store, m->issued_for->id, &m->req);
		m->has_request = rc == CW_OK;
		return rc;
	}
	rc = store_request_awaiting(m->store, m->key.id, &m->req);
	m->has_request = rc == CW_OK;
	return rc == CW_ERR_NOT_FOUND ? CW_OK : rc;
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
assign_usages(struct wiz *w, struct imp *m, int64_t cert_id)
{
	time_t now = time(NULL);
	char *by = strdup(wiz_caller_name(w));
	enum cw_err rc = by ? store_activate_due(m->store, now,
						 wiz_audit_activated, w)
			    : CW_ERR_NOMEM;

	for (size_t i = 0; rc == CW_OK && m->o->usages &&
			   i < m->o->usages->n;
	     i++) {
		rc = store_assign_now(m->store, w->host, m->o->usages->v[i],
				      cert_id, by, now);
		if (rc == CW_OK)
			rc = wiz_audit_assignment(w, "assignment-made",
						  m->o->usages->v[i],
						  m->leaf.sha256, now);
	}
	free(by);
	return rc;
}

static enum cw_err
audit_import(struct wiz *w, struct imp *m)
{
	char req[24], *t;
	enum cw_err rc;

	snprintf(req, sizeof(req), "%lld", (long long)m->req.id);
	t = audit_target("certificate", m->leaf.sha256, "subject",
			 m->leaf.subject, "cka_id", m->key.cka_id,
			 "token_serial", m->token.serial, "request",
			 m->has_request ? req : NULL, NULL);
	rc = t ? wiz_audit(w, "certificate-imported", t, "success",
			   m->is_p12 ? "from PKCS#12" : NULL)
	       : CW_ERR_NOMEM;
	if (rc == CW_OK && m->has_request)
		rc = wiz_audit(w, "request-issued", t, "success", NULL);
	free(t);
	return rc;
}

static enum cw_err
bind_cert(struct wiz *w, struct imp *m, int64_t *cert_id)
{
	struct store_cert c;
	struct tok_cert tc = { &m->id, m->key.label, &m->leaf.der,
			       &m->leaf.subject_der, &m->leaf.issuer_der,
			       &m->leaf.serial_der };
	bool on_token = false;
	enum cw_err rc;

	leaf_row(m, &c);
	rc = x509_chain_join(m->bundle.certs + 1, m->bundle.n - 1, &c.chain);
	if (rc == CW_OK)
		rc = store_begin(m->store);
	if (rc == CW_OK)
		rc = store_cert_add(m->store, &c);
	if (rc == CW_OK && m->has_request)
		rc = store_request_set_state(m->store, m->req.id, "issued");
	if (rc == CW_OK)
		rc = audit_import(w, m);
	if (rc == CW_OK)
		rc = assign_usages(w, m, c.id);
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
	rc = store_end(m->store, rc);
	if (rc != CW_OK && on_token)
		tok_destroy_cert(m->tok, &m->id);
	if (rc == CW_OK)
		*cert_id = c.id;
	cw_buf_release(&c.chain);
	return rc;
}

/* A failed import takes back what it added: an imported key and the row
 * of a key it recorded. */
static void
undo(struct wiz *w, struct imp *m)
{
	enum cw_err rc;

	if (m->key_imported && tok_destroy_keys(m->tok, &m->id) != CW_OK) {
		cw_warn("imported key %s could not be removed; it stays "
			"recorded (state %s) for 'certwiz refresh'",
			m->key.cka_id, m->key.state);
		return;
	}
	if (!m->key_recorded)
		return;
	rc = store_begin(m->store);
	if (rc == CW_OK)
		rc = store_key_delete(m->store, m->key.id);
	if (rc == CW_OK)
		rc = audit_key(w, m, m->key_imported ? "key-destroyed"
						     : "key-forgotten",
			       "the import failed");
	if (store_end(m->store, rc) != CW_OK)
		cw_warn("key row %lld could not be removed",
			(long long)m->key.id);
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
	r.key_origin = strdup(m->key.origin);
	r.key_recorded = m->key_recorded;
	r.chain_len = m->bundle.n - 1;
	if (!r.sha256 || !r.subject || !r.issuer || !r.cka_id ||
	    !r.token_label || !r.key_origin) {
		wiz_import_result_release(&r);
		return CW_ERR_NOMEM;
	}
	*out = r;
	return CW_OK;
}

/* Everything after the input is read: checks, key, binding. */
static enum cw_err
import_read(struct wiz *w, struct imp *m, struct wiz_import_result *out)
{
	int64_t cert_id = 0;
	enum cw_err rc = CW_OK;

	if (m->o->usages && m->o->usages->n > 0)
		rc = precheck_usages(w, m);
	if (rc == CW_OK)
		rc = wiz_store(w, &m->store);
	if (rc == CW_OK)
		rc = not_known_yet(m);
	if (rc == CW_OK)
		rc = find_key(w, m);
	if (rc == CW_OK)
		rc = bind_cert(w, m, &cert_id);
	if (rc == CW_OK)
		rc = fill_result(m, cert_id, out);
	if (rc != CW_OK && m->store != NULL)
		undo(w, m);
	if (rc == CW_OK && out->expired)
		cw_warn("certificate '%s' has expired; it is imported but "
			"cannot be assigned",
			m->leaf.subject);
	x509_bundle_release(&m->bundle);
	x509_p12_release(&m->p12);
	x509_info_release(&m->leaf);
	store_key_release(&m->key);
	store_token_release(&m->token);
	store_request_release(&m->req);
	cw_buf_release(&m->id);
	return rc;
}

enum cw_err
wiz_import(struct wiz *w, const struct wiz_import_opts *o,
	   struct wiz_import_result *out)
{
	struct imp m;
	enum cw_err rc;

	memset(&m, 0, sizeof(m));
	m.o = o;
	rc = read_input(w, &m);
	if (rc != CW_OK) {
		x509_bundle_release(&m.bundle);
		x509_p12_release(&m.p12);
		x509_info_release(&m.leaf);
		return rc;
	}
	return import_read(w, &m, out);
}

enum cw_err
wiz_import_issued(struct wiz *w, const struct store_request *req,
		  struct x509_bundle *bundle, struct wiz_import_result *out)
{
	struct wiz_import_opts o = { "the CA's answer", NULL, NULL };
	struct imp m;
	enum cw_err rc;

	memset(&m, 0, sizeof(m));
	m.o = &o;
	m.issued_for = req;
	m.bundle = *bundle;
	memset(bundle, 0, sizeof(*bundle));
	rc = x509_info_parse(m.bundle.certs[0].data, m.bundle.certs[0].len,
			     &m.leaf);
	if (rc != CW_OK) {
		x509_bundle_release(&m.bundle);
		return rc;
	}
	return import_read(w, &m, out);
}
