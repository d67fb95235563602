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
	cw_strlist_release(&r->mismatch);
	free(r->replaced);
	cw_strlist_release(&r->completed);
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
	bool already_issued; /* the request was issued before (a corrected
				certificate answers it again) */
	bool key_recorded; /* a row this import added */
	bool key_imported; /* a key this import put on the token */
	struct cw_strlist why;      /* how the leaf differs from what was
				       asked */
	enum store_chain chain_state;
	struct x509_info replaced;  /* the certificate the token held for the
				       key before (when replaced) */
	bool has_replaced;
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
	c->chain_state = m->chain_state;
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
differs(struct imp *m, char *line)
{
	enum cw_err rc = line ? cw_strlist_add(&m->why, line) : CW_ERR_NOMEM;

	free(line);
	return rc;
}

/*
 * Verifies leaf with issuers against the trust anchors, quietly: *state
 * says how far it got, and a chain that does not verify is a difference.
 * A leaf outside its validity is checked without looking at validity
 * periods, so that its expiry is said once, as such.
 */
static enum cw_err
chain_check(struct wiz *w, struct imp *m, const struct x509_info *leaf,
	    const struct x509_bundle *issuers, enum store_chain *state)
{
	struct cw_strlist anchors;
	time_t now = time(NULL), at = now;
	int level = cw_log_get_level();
	enum cw_err rc = wiz_anchors(w, &anchors);
	size_t n = anchors.n;

	cw_strlist_release(&anchors);
	*state = STORE_CHAIN_UNKNOWN;
	if (rc != CW_OK || n == 0)
		return rc;
	if (leaf->not_after <= now || leaf->not_before > now)
		at = X509_ANY_TIME; /* said once, as such */
	if (level < CW_LOG_DEBUG)
		cw_log_set_level(CW_LOG_QUIET);
	rc = wiz_verify_bundle(w, &leaf->der, issuers, at);
	cw_log_set_level((enum cw_log_level)level);
	if (rc == CW_OK) {
		*state = STORE_CHAIN_COMPLETE;
	} else if (rc == CW_ERR_NOT_FOUND) {
		*state = STORE_CHAIN_INCOMPLETE;
	} else if (rc == CW_ERR_CRYPTO) {
		return m ? differs(m, cw_printf("fails its chain check: %s",
						cw_last_error()))
			 : CW_OK;
	} else {
		if (rc != CW_ERR_NOMEM) /* unreadable anchors, say */
			cw_error("%s", cw_last_error());
		return rc;
	}
	return CW_OK;
}

/* What any server certificate must be: a leaf, valid now, whose chain
 * verifies to the trust anchors. Nothing is opened or changed. */
static enum cw_err
compare_generic(struct wiz *w, struct imp *m)
{
	struct x509_bundle issuers = { m->bundle.certs + 1, m->bundle.n - 1 };
	time_t now = time(NULL);
	char t[32];
	enum cw_err rc = CW_OK;

	if (m->leaf.is_ca)
		rc = differs(m, cw_printf("is a CA certificate "
					  "(basicConstraints CA:TRUE), not a "
					  "server's"));
	if (rc == CW_OK && m->leaf.not_after <= now) {
		cw_time_format(m->leaf.not_after, t, sizeof(t));
		rc = differs(m, cw_printf("expired on %s", t));
	} else if (rc == CW_OK && m->leaf.not_before > now) {
		cw_time_format(m->leaf.not_before, t, sizeof(t));
		rc = differs(m, cw_printf("is not valid before %s", t));
	}
	if (rc == CW_OK)
		rc = chain_check(w, m, &m->leaf, &issuers, &m->chain_state);
	return rc;
}

/* What the key's request asked for: names and extended key usages. */
static enum cw_err
compare_asked(struct imp *m)
{
	struct store_request req;
	struct cw_strlist names, eku;
	enum cw_err rc;

	memset(&req, 0, sizeof(req));
	if (m->has_request)
		rc = store_request_get(m->store, m->req.id, &req);
	else
		rc = store_request_latest(m->store, m->key.id, &req);
	if (rc == CW_ERR_NOT_FOUND)
		return CW_OK; /* made elsewhere: nothing was asked */
	if (rc != CW_OK)
		return rc;
	cw_strlist_init(&names);
	cw_strlist_init(&eku);
	rc = x509_csr_names(&req.csr, &names, &eku);
	for (size_t i = 0; rc == CW_OK && i < names.n; i++)
		if (!cw_strlist_contains(&m->leaf.names, names.v[i]))
			rc = differs(m, cw_printf("lacks the name %s that "
						  "request %lld asked for",
						  names.v[i],
						  (long long)req.id));
	for (size_t i = 0; rc == CW_OK && i < m->leaf.names.n; i++)
		if (!cw_strlist_contains(&names, m->leaf.names.v[i]))
			rc = differs(m, cw_printf("carries the name %s that "
						  "request %lld did not ask "
						  "for",
						  m->leaf.names.v[i],
						  (long long)req.id));
	for (size_t i = 0; rc == CW_OK && m->leaf.has_eku && i < eku.n; i++)
		if (!cw_strlist_contains(&m->leaf.eku, eku.v[i]))
			rc = differs(m, cw_printf("lacks the extended key "
						  "usage %s that request %lld "
						  "asked for",
						  eku.v[i], (long long)req.id));
	cw_strlist_release(&names);
	cw_strlist_release(&eku);
	store_request_release(&req);
	return rc;
}

/* The differences found: refused, or (accept_mismatch) recorded. */
static enum cw_err
judge(struct imp *m)
{
	if (m->why.n == 0)
		return CW_OK;
	for (size_t i = 0; i < m->why.n; i++) {
		if (m->o->accept_mismatch)
			cw_warn("certificate %.16s %s (accepted: "
				"--accept-mismatch)",
				m->leaf.sha256, m->why.v[i]);
		else
			cw_error("certificate %.16s %s", m->leaf.sha256,
				 m->why.v[i]);
	}
	if (m->o->accept_mismatch)
		return CW_OK;
	cw_error("nothing is imported; if the CA meant it, import it with "
		 "--accept-mismatch (the differences are recorded and shown "
		 "by status)");
	return CW_ERR_POLICY;
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
	if (rc == CW_OK)
		rc = tok_check_sign(m->tok, m->p12.key.type);
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
	if (rc == CW_ERR_NOT_FOUND) {
		/* a corrected certificate answers the request issued before */
		rc = store_request_latest(m->store, m->key.id, &m->req);
		m->already_issued = rc == CW_OK;
	}
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
	char req[24], *t, *diff, *why;
	enum cw_err rc;

	snprintf(req, sizeof(req), "%lld", (long long)m->req.id);
	t = audit_target("certificate", m->leaf.sha256, "subject",
			 m->leaf.subject, "cka_id", m->key.cka_id,
			 "token_serial", m->token.serial, "request",
			 m->has_request ? req : NULL, NULL);
	diff = m->why.n ? cw_strlist_join(&m->why, "; ") : NULL;
	why = cw_printf("%s%s%s%s", m->is_p12 ? "from PKCS#12" : "",
			m->is_p12 && diff ? "; " : "",
			diff ? "accepted with --accept-mismatch: " : "",
			diff ? diff : "");

	rc = t && why && (diff || !m->why.n)
		     ? wiz_audit(w, "certificate-imported", t, "success",
				 why[0] ? why : NULL)
		     : CW_ERR_NOMEM;
	free(diff);
	free(why);
	if (rc == CW_OK && m->has_request && !m->already_issued)
		rc = wiz_audit(w, "request-issued", t, "success", NULL);
	free(t);
	return rc;
}

/* The token object of the certificate a replacement took off. */
static void
put_back_replaced(struct imp *m)
{
	struct tok_cert old = { &m->id,
				m->key.label,
				&m->replaced.der,
				&m->replaced.subject_der,
				&m->replaced.issuer_der,
				&m->replaced.serial_der };

	if (tok_write_cert(m->tok, &old) != CW_OK)
		cw_warn("the certificate %.16s that token '%s' held for key "
			"%s could not be put back; import it again",
			m->replaced.sha256, m->token.label, m->key.cka_id);
}

/*
 * The token holds another certificate for the key: a corrected one from
 * the CA takes its place. The old one stays in the store (token state
 * none), and the replacement is audited; inside bind_cert's transaction.
 */
static enum cw_err
replace_on_token(struct wiz *w, struct imp *m, const struct tok_cert *tc,
		 bool *on_token)
{
	struct store_cert old;
	struct cw_buf der;
	char *t = NULL;
	enum cw_err rc;

	memset(&old, 0, sizeof(old));
	cw_buf_init(&der);
	rc = tok_read_cert(m->tok, &m->id, &der);
	if (rc == CW_OK)
		rc = x509_info_parse(der.data, der.len, &m->replaced);
	cw_buf_release(&der);
	if (rc != CW_OK) {
		cw_error("token '%s' holds a certificate for key %s that "
			 "certwiz cannot read; it is left as it is",
			 m->token.label, m->key.cka_id);
		return rc == CW_ERR_NOMEM ? rc : CW_ERR_DUPLICATE;
	}
	m->has_replaced = true;
	rc = store_cert_by_sha256(m->store, m->replaced.sha256, &old);
	if (rc == CW_OK)
		rc = store_cert_set_token_state(m->store, old.id, "none");
	else if (rc == CW_ERR_NOT_FOUND)
		rc = CW_OK; /* put there outside certwiz */
	if (rc == CW_OK) {
		t = audit_target("certificate", m->leaf.sha256, "replaced",
				 m->replaced.sha256, "cka_id", m->key.cka_id,
				 "token_serial", m->token.serial, NULL);
		rc = t ? wiz_audit(w, "certificate-replaced", t, "success",
				   "a later certificate for the same key")
		       : CW_ERR_NOMEM;
	}
	if (rc == CW_OK)
		rc = tok_destroy_cert(m->tok, &m->id);
	if (rc == CW_OK) {
		rc = tok_write_cert(m->tok, tc);
		*on_token = rc == CW_OK;
		if (rc != CW_OK)
			put_back_replaced(m);
	}
	if (rc == CW_OK)
		cw_info("certificate %.16s takes the place of %.16s on token "
			"'%s'; the old one stays in the store",
			m->leaf.sha256, m->replaced.sha256, m->token.label);
	free(t);
	store_cert_release(&old);
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
	if (rc == CW_OK && m->why.n > 0 &&
	    (c.mismatch = cw_strlist_join(&m->why, "\n")) == NULL)
		rc = CW_ERR_NOMEM;
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
		rc = replace_on_token(w, m, &tc, &on_token);
	cw_crashpoint("import:after-token-write");
	if (rc == CW_OK && cw_failpoint("import:commit"))
		rc = CW_ERR_STORE;
	rc = store_end(m->store, rc);
	if (rc != CW_OK && on_token)
		tok_destroy_cert(m->tok, &m->id);
	if (rc != CW_OK && on_token && m->has_replaced)
		put_back_replaced(m);
	if (rc == CW_OK)
		*cert_id = c.id;
	cw_buf_release(&c.chain);
	free(c.mismatch);
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
	r.cka_id = strdup(m->key.cka_id ? m->key.cka_id : "");
	r.token_label = strdup(m->token.label ? m->token.label : "");
	r.key_origin = strdup(m->key.origin ? m->key.origin : "");
	r.key_recorded = m->key_recorded;
	r.chain_len = m->bundle.n - 1;
	r.chain_state = m->chain_state;
	for (size_t i = 0; i < m->why.n; i++)
		if (cw_strlist_add(&r.mismatch, m->why.v[i]) != CW_OK) {
			wiz_import_result_release(&r);
			return CW_ERR_NOMEM;
		}
	if (!r.sha256 || !r.subject || !r.issuer || !r.cka_id ||
	    !r.token_label || !r.key_origin) {
		wiz_import_result_release(&r);
		return CW_ERR_NOMEM;
	}
	*out = r;
	return CW_OK;
}

/* Issuers of stored (leaf der, chain) merged with the input's: the longer
 * chain and how far it verifies, when it is longer. */
static enum cw_err
merged_chain(struct wiz *w, struct imp *m, const struct store_cert *c,
	     struct cw_buf *joined, enum store_chain *state, size_t *issuers,
	     bool *grew)
{
	struct x509_bundle stored = { NULL, 0 }, merged = { NULL, 0 };
	struct x509_info leaf;
	struct cw_buf *all = NULL;
	size_t n = 0;
	enum cw_err rc = wiz_cert_chain(c, &stored);

	*grew = false;
	memset(&leaf, 0, sizeof(leaf));
	if (rc == CW_OK &&
	    (all = calloc(stored.n + m->bundle.n, sizeof(*all))) == NULL)
		rc = CW_ERR_NOMEM;
	for (size_t i = 0; rc == CW_OK && i < stored.n; i++)
		all[n++] = stored.certs[i];
	for (size_t i = 0; rc == CW_OK && i < m->bundle.n; i++)
		all[n++] = m->bundle.certs[i];
	if (rc == CW_OK)
		rc = x509_chain_build(&c->der, all, n, &merged);
	*issuers = stored.n;
	if (rc == CW_OK && merged.n > stored.n) {
		rc = x509_info_parse(c->der.data, c->der.len, &leaf);
		if (rc == CW_OK)
			rc = chain_check(w, NULL, &leaf, &merged, state);
		if (rc == CW_OK && *state != STORE_CHAIN_UNKNOWN)
			rc = x509_chain_join(merged.certs, merged.n, joined);
		*grew = rc == CW_OK && *state != STORE_CHAIN_UNKNOWN;
		if (*grew)
			*issuers = merged.n;
	}
	free(all); /* the buffers belong to stored and m->bundle */
	x509_info_release(&leaf);
	x509_bundle_release(&stored);
	x509_bundle_release(&merged);
	return rc;
}

static enum cw_err
audit_chain(struct wiz *w, const struct store_cert *c, enum store_chain st)
{
	char *t = audit_target("certificate", c->sha256, NULL);
	enum cw_err rc = t ? wiz_audit(w, "chain-completed", t, "success",
				       st == STORE_CHAIN_COMPLETE
					       ? "it verifies to the trust "
						 "anchors"
					       : "an issuer is still missing")
			   : CW_ERR_NOMEM;

	free(t);
	return rc;
}

static enum cw_err
note_completed(struct wiz_import_result *r, const struct store_cert *c)
{
	char *line = cw_printf("%lld %s", (long long)c->id, c->sha256);
	enum cw_err rc = line ? cw_strlist_add(&r->completed, line)
			      : CW_ERR_NOMEM;

	free(line);
	return rc;
}

/*
 * A certificate the store has: its chain completed with the input's
 * issuers, its object put back on the token when it is gone from there;
 * else CW_ERR_DUPLICATE.
 */
static enum cw_err
import_known(struct wiz *w, struct imp *m, struct store_cert *known,
	     struct wiz_import_result *out)
{
	struct cw_buf chain, der;
	enum store_chain state = known->chain_state;
	bool grew = false, restore = false, written = false;
	size_t issuers = 0;
	enum cw_err rc = CW_OK;

	cw_buf_init(&chain);
	cw_buf_init(&der);
	if (m->o->usages && m->o->usages->n > 0) {
		cw_error("certificate %.16s is already imported (id %lld): "
			 "assign it with 'certwiz assign %lld --usage ...'",
			 m->leaf.sha256, (long long)known->id,
			 (long long)known->id);
		return CW_ERR_DUPLICATE;
	}
	if (known->chain_state != STORE_CHAIN_COMPLETE && m->bundle.n > 1)
		rc = merged_chain(w, m, known, &chain, &state, &issuers,
				  &grew);
	if (rc == CW_OK && known->key_id != 0) {
		rc = store_key_get(m->store, known->key_id, &m->key);
		if (rc == CW_OK)
			rc = store_token_get(m->store, m->key.token_id,
					     &m->token);
		if (rc == CW_OK)
			rc = cw_unhex(m->key.cka_id, &m->id);
		if (rc == CW_OK && !strcmp(m->key.state, "ready") &&
		    wiz_key_on_token(w, &m->key, &m->tok) == CW_OK) {
			rc = tok_read_cert(m->tok, &m->id, &der);
			restore = rc == CW_ERR_NOT_FOUND;
			rc = rc == CW_ERR_NOT_FOUND ? CW_OK : rc;
		}
	}
	if (rc == CW_OK && !grew && !restore) {
		cw_error("certificate %.16s is already imported (id %lld)%s",
			 m->leaf.sha256, (long long)known->id,
			 known->chain_state == STORE_CHAIN_INCOMPLETE
				 ? "; its chain still lacks an issuer, which "
				   "this file does not bring"
				 : "");
		rc = CW_ERR_DUPLICATE;
	}
	if (rc == CW_OK)
		rc = store_begin(m->store);
	if (rc == CW_OK && grew)
		rc = store_cert_set_chain(m->store, known->id, &chain, state);
	if (rc == CW_OK && grew)
		rc = audit_chain(w, known, state);
	if (rc == CW_OK && restore) {
		struct tok_cert tc = { &m->id,		     m->key.label,
				       &m->leaf.der,	     &m->leaf.subject_der,
				       &m->leaf.issuer_der, &m->leaf.serial_der };
		char *t = audit_target("certificate", known->sha256, "cka_id",
				       m->key.cka_id, "token_serial",
				       m->token.serial, NULL);

		rc = store_cert_set_token_state(m->store, known->id, "present");
		if (rc == CW_OK)
			rc = t ? wiz_audit(w, "certificate-restored", t,
					   "success",
					   "written to the token again")
			       : CW_ERR_NOMEM;
		free(t);
		if (rc == CW_OK)
			rc = tok_write_cert(m->tok, &tc);
		written = rc == CW_OK;
	}
	rc = store_end(m->store, rc);
	if (rc != CW_OK && written)
		tok_destroy_cert(m->tok, &m->id);
	if (rc == CW_OK) {
		m->chain_state = state;
		rc = fill_result(m, known->id, out);
	}
	if (rc == CW_OK) {
		out->kind = WIZ_IMPORT_RESTORED;
		out->chain_len = issuers;
		if (grew)
			rc = note_completed(out, known);
	}
	cw_buf_release(&chain);
	cw_buf_release(&der);
	return rc;
}

struct incomplete {
	int64_t *ids;
	size_t n;
};

static enum cw_err
collect_incomplete(void *user, const struct store_cert *c)
{
	struct incomplete *x = user;
	int64_t *v;

	if (c->chain_state == STORE_CHAIN_COMPLETE)
		return CW_OK;
	v = realloc(x->ids, (x->n + 1) * sizeof(*v));
	if (v == NULL)
		return CW_ERR_NOMEM;
	x->ids = v;
	x->ids[x->n++] = c->id;
	return CW_OK;
}

/* CA certificates alone: the stored chains they complete. */
static enum cw_err
complete_chains(struct wiz *w, struct imp *m, struct wiz_import_result *out)
{
	struct incomplete todo = { NULL, 0 };
	enum cw_err rc = store_each_cert(m->store, collect_incomplete, &todo);

	for (size_t i = 0; rc == CW_OK && i < todo.n; i++) {
		struct store_cert c;
		struct cw_buf chain;
		enum store_chain state = STORE_CHAIN_UNKNOWN;
		bool grew = false;

		size_t issuers = 0;

		cw_buf_init(&chain);
		rc = store_cert_get(m->store, todo.ids[i], &c);
		if (rc == CW_OK)
			rc = merged_chain(w, m, &c, &chain, &state, &issuers,
					  &grew);
		if (rc == CW_OK && grew) {
			rc = store_begin(m->store);
			if (rc == CW_OK)
				rc = store_cert_set_chain(m->store, c.id,
							  &chain, state);
			if (rc == CW_OK)
				rc = audit_chain(w, &c, state);
			rc = store_end(m->store, rc);
			if (rc == CW_OK)
				rc = note_completed(out, &c);
		}
		store_cert_release(&c);
		cw_buf_release(&chain);
	}
	free(todo.ids);
	if (rc == CW_OK && out->completed.n == 0) {
		cw_error("'%s' holds CA certificates only (%s), and no stored "
			 "certificate's chain needs them",
			 m->o->path, m->leaf.subject);
		rc = CW_ERR_NOT_FOUND;
	}
	if (rc == CW_OK) {
		out->kind = WIZ_IMPORT_COMPLETED;
		out->subject = strdup(m->leaf.subject);
		out->sha256 = strdup(m->leaf.sha256);
		out->issuer = strdup(m->leaf.issuer);
		out->not_after = m->leaf.not_after;
		rc = out->subject && out->sha256 && out->issuer ? CW_OK
								: CW_ERR_NOMEM;
	}
	return rc;
}

/* Everything after the input is read: checks, key, binding. */
static enum cw_err
import_new(struct wiz *w, struct imp *m, struct wiz_import_result *out)
{
	int64_t cert_id = 0;
	enum cw_err rc = compare_generic(w, m);

	/* before a PKCS#12 key goes onto the token; else the key's own
	 * problems ("no key matches") are said first */
	if (rc == CW_OK && m->is_p12 && m->why.n > 0 && !m->o->accept_mismatch)
		rc = judge(m);
	if (rc == CW_OK)
		rc = find_key(w, m);
	if (rc == CW_OK)
		rc = compare_asked(m);
	if (rc == CW_OK)
		rc = judge(m);
	if (rc == CW_OK && m->chain_state == STORE_CHAIN_INCOMPLETE)
		cw_warn("the chain of certificate %.16s lacks an issuer (%s): "
			"it is imported, and can be assigned once an import of "
			"the issuer's certificate completes it",
			m->leaf.sha256, cw_last_error());
	else if (rc == CW_OK && m->chain_state == STORE_CHAIN_UNKNOWN)
		cw_warn("no trust anchors are configured: the chain of "
			"certificate %.16s is not checked",
			m->leaf.sha256);
	if (rc == CW_OK)
		rc = bind_cert(w, m, &cert_id);
	if (rc == CW_OK)
		rc = fill_result(m, cert_id, out);
	if (rc == CW_OK && m->has_replaced) {
		out->kind = WIZ_IMPORT_REPLACED;
		out->replaced = strdup(m->replaced.sha256);
		rc = out->replaced ? CW_OK : CW_ERR_NOMEM;
	}
	if (rc != CW_OK && m->store != NULL)
		undo(w, m);
	return rc;
}

static enum cw_err
import_read(struct wiz *w, struct imp *m, struct wiz_import_result *out)
{
	struct store_cert known;
	struct store_key key;
	enum cw_err rc = CW_OK;

	memset(&known, 0, sizeof(known));
	memset(&key, 0, sizeof(key));
	memset(out, 0, sizeof(*out));
	if (m->o->usages && m->o->usages->n > 0)
		rc = precheck_usages(w, m);
	if (rc == CW_OK)
		rc = wiz_store(w, &m->store);
	if (rc == CW_OK) {
		rc = store_cert_by_sha256(m->store, m->leaf.sha256, &known);
		if (rc == CW_OK && m->issued_for == NULL && !m->is_p12) {
			rc = import_known(w, m, &known, out);
			goto out;
		}
		if (rc == CW_OK) {
			cw_error("certificate %.16s is already imported (id "
				 "%lld)",
				 m->leaf.sha256, (long long)known.id);
			rc = CW_ERR_DUPLICATE;
		}
		rc = rc == CW_ERR_NOT_FOUND ? CW_OK : rc;
	}
	/* A CA certificate whose key certwiz does not hold: issuers for
	 * stored chains. */
	if (rc == CW_OK && m->leaf.is_ca && !m->is_p12 &&
	    m->issued_for == NULL &&
	    store_key_by_spki(m->store, m->leaf.spki_sha256, &key) ==
		    CW_ERR_NOT_FOUND) {
		rc = complete_chains(w, m, out);
		goto out;
	}
	if (rc == CW_OK)
		rc = import_new(w, m, out);
	if (rc == CW_OK && out->expired)
		cw_warn("certificate '%s' has expired; it is imported but "
			"cannot be assigned",
			m->leaf.subject);
out:
	if (rc != CW_OK)
		wiz_import_result_release(out);
	store_cert_release(&known);
	store_key_release(&key);
	x509_bundle_release(&m->bundle);
	x509_p12_release(&m->p12);
	x509_info_release(&m->leaf);
	x509_info_release(&m->replaced);
	store_key_release(&m->key);
	store_token_release(&m->token);
	store_request_release(&m->req);
	cw_buf_release(&m->id);
	cw_strlist_release(&m->why);
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
