/* Request: key pair on the token, token-signed CSR, recorded request. */
#include "wizard_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
wiz_request_result_release(struct wiz_request_result *r)
{
	if (r == NULL)
		return;
	free(r->cka_id);
	free(r->key_label);
	free(r->key_alg);
	free(r->key_uri);
	free(r->token_label);
	free(r->subject);
	cw_strlist_release(&r->names);
	free(r->out_path);
	wiz_acme_outcome_release(&r->online);
	memset(r, 0, sizeof(*r));
}

/* A fresh random CKA_ID (16 bytes) that nothing on the token carries. */
static enum cw_err
new_id(struct tok_session *tok, struct cw_buf *id)
{
	for (int tries = 0; tries < 4; tries++) {
		unsigned char rnd[16];
		bool used = true;
		enum cw_err rc = cw_random(rnd, sizeof(rnd));

		if (rc == CW_OK)
			rc = cw_buf_set(id, rnd, sizeof(rnd));
		if (rc == CW_OK)
			rc = tok_id_in_use(tok, id, &used);
		if (rc != CW_OK)
			return rc;
		if (!used)
			return CW_OK;
	}
	cw_error("cannot find a free CKA_ID on the token");
	return CW_ERR_TOKEN;
}

/* Everything a request needs before the token is touched. */
struct job {
	struct wiz_plan plan;
	struct cw_keyspec spec;
	struct tok_session *tok;
	struct store *store;
	struct store_key key;
	struct cw_buf id;
	struct cw_buf spki;
	struct cw_buf csr;
	bool key_recorded;
	bool key_made;
};

/* An online request: a known CA profile, an administrator (talking to the
 * organisation's CA), something to verify the issued chain with, and EAB
 * options that go together. */
static enum cw_err
check_online(struct wiz *w, const struct wiz_request_opts *o)
{
	const struct cw_ca_profile *p = cw_config_ca(&w->cfg, o->ca);
	enum cw_err rc = wiz_require_admin(w, "request --ca");

	if (rc != CW_OK)
		return rc;
	if (p == NULL) {
		cw_error("no CA profile '%s' in the configuration ([ca \"%s\"])",
			 o->ca, o->ca);
		return CW_ERR_NOT_FOUND;
	}
	/* the account's options for ACME, the others' credentials for the
	 * rest */
	if (!ca_needs_account(p) &&
	    (o->eab_kid || !cw_secret_source_prompts(&o->eab_hmac))) {
		cw_error("the --eab options are for ACME; CA '%s' speaks %s "
		         "(--ca-reference, --ca-secret-file, --ca-secret-fd)",
		         o->ca, p->protocol);
		return CW_ERR_USAGE;
	}
	if (ca_needs_account(p) &&
	    (o->ca_reference || o->template ||
	     !cw_secret_source_prompts(&o->ca_secret))) {
		cw_error(
		    "--ca-reference, --ca-secret-file, --ca-secret-fd and "
		    "--template are for CMP and CA helpers; CA '%s' speaks "
		    "ACME (--eab-kid)",
		    o->ca);
		return CW_ERR_USAGE;
	}
	/* CMP's shared secret will be asked for: find out now, before any
	 * key is made, whether it can be */
	if (ca_needs_secret(p) && p->secret_file == NULL &&
	    cw_secret_source_prompts(&o->ca_secret) &&
	    !cw_secret_can_prompt()) {
		cw_error("no terminal to ask for the secret of CA '%s'; give "
		         "--ca-secret-file or --ca-secret-fd, or set "
		         "secret_file in its profile",
		         o->ca);
		return CW_ERR_USAGE;
	}
	if (o->template != NULL &&
	    (!*o->template || strlen(o->template) > 120 ||
	     strpbrk(o->template, "\n\r") != NULL)) {
		cw_error("--template: 1 to 120 characters on one line");
		return CW_ERR_USAGE;
	}
	if (o->eab_kid == NULL && !cw_secret_source_prompts(&o->eab_hmac)) {
		cw_error("--eab-hmac-file and --eab-hmac-fd need --eab-kid");
		return CW_ERR_USAGE;
	}
	/* the MAC key will be asked for: find out now, before any key is
	 * made, whether it can be */
	if (o->eab_kid != NULL && cw_secret_source_prompts(&o->eab_hmac) &&
	    !cw_secret_can_prompt()) {
		cw_error("no terminal to ask for the EAB MAC key of '%s'; give "
			 "--eab-hmac-file or --eab-hmac-fd",
			 o->eab_kid);
		return CW_ERR_USAGE;
	}
	if (p->roots == NULL && w->cfg.trust_anchors == NULL) {
		/* (what issued chains must verify to: wiz_anchors) */
		cw_error("nothing to verify the chain of CA '%s' with: set roots "
			 "in its profile or [trust] anchors",
			 o->ca);
		return CW_ERR_CONFIG;
	}
	return CW_OK;
}

static enum cw_err
prepare(struct wiz *w, const struct wiz_request_opts *o, struct job *j)
{
	const char *uri = o->token_uri ? o->token_uri : w->cfg.token_uri;
	enum cw_err rc;

	rc = wiz_plan(w, o->usages, o->extra_names, &j->plan);
	if (rc != CW_OK)
		return rc;
	if (o->key != NULL && cw_keyspec_parse(o->key, &j->spec) != CW_OK)
		return CW_ERR_USAGE;
	if (o->key == NULL &&
	    (rc = cw_keyspec_parse(j->plan.key, &j->spec)) != CW_OK)
		return rc;
	if ((rc = x509_check_subject(j->plan.subject)) != CW_OK)
		return rc;
	if (uri == NULL) {
		cw_error("no token: give --token or set [token] uri");
		return CW_ERR_CONFIG;
	}
	if ((rc = tok_uri_check(uri)) != CW_OK)
		return rc;
	if (o->ca != NULL)
		rc = check_online(w, o);
	else if (o->out_path == NULL)
		rc = CW_ERR_USAGE;
	if (rc == CW_OK)
		rc = wiz_store(w, &j->store);
	if (rc == CW_OK)
		rc = wiz_open_token(w, uri, &j->tok);
	if (rc == CW_OK)
		rc = tok_check_mechanism(j->tok, &j->spec);
	return rc;
}

/* Records the key before it exists (state generating), so that a crash
 * during generation leaves a row that says which CKA_ID to look for. */
static enum cw_err
record_intent(struct wiz *w, const struct wiz_request_opts *o, struct job *j)
{
	const struct tok_info *ti = tok_session_info(j->tok);
	struct store_token t = { 0, ti->serial, ti->label, ti->manufacturer,
				 ti->model };
	enum cw_err rc;

	(void)w;
	rc = new_id(j->tok, &j->id);
	if (rc != CW_OK)
		return rc;
	j->key.cka_id = cw_hex(j->id.data, j->id.len);
	j->key.label = cw_printf("certwiz-%s-%.8s", o->usages->v[0],
				 j->key.cka_id ? j->key.cka_id : "");
	j->key.algorithm = strdup(j->spec.name);
	j->key.origin = strdup("generated");
	j->key.state = strdup("generating");
	if (!j->key.cka_id || !j->key.label || !j->key.algorithm ||
	    !j->key.origin || !j->key.state)
		return CW_ERR_NOMEM;
	rc = store_begin(j->store);
	if (rc == CW_OK)
		rc = store_token_ensure(j->store, &t, &j->key.token_id);
	if (rc == CW_OK)
		rc = store_key_add(j->store, &j->key);
	if (rc == CW_OK)
		rc = store_commit(j->store);
	if (rc != CW_OK)
		store_rollback(j->store);
	else
		j->key_recorded = true;
	return rc;
}

static enum cw_err
make_csr(struct job *j)
{
	struct cw_pubkey pub;
	struct x509_csr *csr = NULL;
	struct cw_sign_req req;
	struct cw_buf sig;
	struct x509_csr_params p;
	enum cw_err rc;

	cw_pubkey_init(&pub);
	cw_buf_init(&sig);
	rc = tok_keygen(j->tok, &j->spec, &j->id, j->key.label, &pub);
	if (rc != CW_OK)
		goto out;
	j->key_made = true;
	cw_crashpoint("request:after-keygen");
	if (cw_failpoint("request:after-keygen")) {
		rc = CW_ERR_TOKEN;
		goto out;
	}
	rc = x509_spki_from_pubkey(&pub, &j->spki);
	if (rc != CW_OK)
		goto out;
	p.subject = j->plan.subject;
	p.names = &j->plan.names;
	p.eku = &j->plan.eku;
	p.spki = &j->spki;
	p.alg = cw_sigalg_for(&j->spec);
	rc = x509_csr_prepare(&p, &csr, &req);
	if (rc == CW_OK && cw_failpoint("request:sign"))
		rc = CW_ERR_TOKEN;
	if (rc == CW_OK)
		rc = tok_sign(j->tok, &j->id, &req, &sig);
	if (rc == CW_OK)
		rc = x509_csr_finish(csr, &sig, &j->csr);
out:
	x509_csr_free(csr);
	cw_buf_release(&sig);
	cw_pubkey_release(&pub);
	return rc;
}

/* The two events of a request: the key made on the token, the request. */
static enum cw_err
audit_request(struct wiz *w, const struct wiz_request_opts *o, struct job *j,
	      int64_t id)
{
	const struct tok_info *ti = tok_session_info(j->tok);
	char req[24], *usages = NULL, *t1, *t2;
	enum cw_err rc;

	snprintf(req, sizeof(req), "%lld", (long long)id);
	for (size_t i = 0; i < o->usages->n; i++) {
		char *u = cw_printf("%s%s%s", usages ? usages : "",
				    usages ? "," : "", o->usages->v[i]);

		free(usages);
		usages = u;
	}
	t1 = audit_target("token", ti->label, "token_serial", ti->serial,
			  "cka_id", j->key.cka_id, "algorithm", j->spec.name,
			  NULL);
	t2 = audit_target("request", req, "usages", usages, "cka_id",
	                  j->key.cka_id, "protocol",
	                  o->ca ? cw_config_ca(&w->cfg, o->ca)->protocol
	                        : "offline",
	                  "ca", o->ca, NULL);
	rc = t1 && t2 && usages ? wiz_audit(w, "key-generated", t1, "success",
					    "generated on the token")
				: CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = wiz_audit(w, "request-created", t2, "success",
			       o->ca ? "created" : "awaiting-response");
	free(t1);
	free(t2);
	free(usages);
	return rc;
}

/* One transaction: the key becomes ready, the request is recorded, and the
 * CSR is published just before the commit (taken back if it fails). */
static enum cw_err
record_request(struct wiz *w, const struct wiz_request_opts *o, struct job *j,
	       int64_t *request_id)
{
	struct store_request r;
	char *spki_hash = x509_sha256_hex(j->spki.data, j->spki.len);
	struct cw_buf pem;
	bool offline = o->ca == NULL, published = false;
	enum cw_err rc;

	cw_buf_init(&pem);
	memset(&r, 0, sizeof(r));
	r.host = w->host;
	r.usages = *o->usages;
	r.key_id = j->key.id;
	r.csr = j->csr;
	r.protocol =
	    offline ? "offline" : cw_config_ca(&w->cfg, o->ca)->protocol;
	r.ca = (char *)o->ca;
	r.state = offline ? "awaiting-response" : "created";
	r.created_by = (char *)wiz_caller_name(w);
	r.created_uid = wiz_caller_uid(w);
	rc = spki_hash ? CW_OK : CW_ERR_NOMEM;
	if (rc == CW_OK && offline)
		rc = x509_pem("CERTIFICATE REQUEST", &j->csr, &pem);
	if (rc == CW_OK && offline)
		rc = wiz_out_stage(w, o->out_path, pem.data, pem.len, 0644,
				   o->force);
	if (rc == CW_OK)
		rc = store_begin(j->store);
	if (rc == CW_OK)
		rc = store_key_set_ready(j->store, j->key.id, &j->spki,
					 spki_hash);
	if (rc == CW_OK)
		rc = store_request_add(j->store, &r);
	if (rc == CW_OK)
		rc = audit_request(w, o, j, r.id);
	if (rc == CW_OK && offline)
		rc = wiz_out_publish(w, o->out_path);
	published = rc == CW_OK;
	cw_crashpoint("request:before-commit");
	if (rc == CW_OK && cw_failpoint("request:commit"))
		rc = CW_ERR_STORE;
	if (rc == CW_OK)
		rc = store_commit(j->store);
	if (rc != CW_OK) {
		store_rollback(j->store);
		if (published && offline)
			wiz_out_retract(w, o->out_path);
	} else {
		*request_id = r.id;
	}
	free(spki_hash);
	cw_buf_release(&pem);
	return rc;
}

/* Undoes what a failed request made: the key pair goes, and its row with
 * it; if the token cannot be reached, the row stays so that the key is
 * listed for cleanup rather than left untracked. */
static void
undo(struct wiz *w, struct job *j)
{
	char *target;
	enum cw_err rc;

	if (!j->key_recorded)
		return;
	rc = tok_destroy_keys(j->tok, &j->id);
	target = audit_target("cka_id", j->key.cka_id, "token_serial",
			      tok_session_info(j->tok)->serial, NULL);
	if (rc == CW_OK)
		rc = store_begin(j->store);
	if (rc == CW_OK)
		rc = store_key_delete(j->store, j->key.id);
	if (rc == CW_OK && j->key_made)
		rc = wiz_audit(w, "key-destroyed", target, "success",
			       "the request failed after key generation");
	rc = store_end(j->store, rc);
	free(target);
	if (rc == CW_OK)
		return;
	if (j->key_made)
		cw_warn("key %s could not be removed; it is recorded (state "
			"generating) for 'certwiz refresh'",
			j->key.cka_id);
}

static enum cw_err
fill_result(struct wiz *w, const struct wiz_request_opts *o, struct job *j,
	    struct wiz_request_result *out)
{
	const struct tok_info *ti = tok_session_info(j->tok);
	struct wiz_request_result r;

	(void)w;
	memset(&r, 0, sizeof(r));
	r.cka_id = strdup(j->key.cka_id);
	r.key_label = strdup(j->key.label);
	r.key_alg = strdup(j->spec.name);
	r.key_uri =
	    tok_key_uri(ti->label, ti->serial, ti->manufacturer, &j->id);
	r.token_label = strdup(ti->label);
	r.subject = strdup(j->plan.subject);
	r.out_path = o->out_path ? strdup(o->out_path) : NULL;
	r.names = j->plan.names;
	cw_strlist_init(&j->plan.names);
	if (!r.cka_id || !r.key_label || !r.key_alg || !r.key_uri ||
	    !r.token_label || !r.subject || (o->out_path && !r.out_path)) {
		wiz_request_result_release(&r);
		return CW_ERR_NOMEM;
	}
	*out = r;
	return CW_OK;
}

/* The steps both kinds of request share: the key pair, the CSR, the
 * record; *id is the request. */
static enum cw_err
create(struct wiz *w, const struct wiz_request_opts *o,
       struct wiz_request_result *out, int64_t *id)
{
	struct job j;
	enum cw_err rc;

	memset(&j, 0, sizeof(j));
	rc = prepare(w, o, &j);
	if (rc == CW_OK)
		rc = record_intent(w, o, &j);
	cw_crashpoint("request:after-intent");
	if (rc == CW_OK)
		rc = make_csr(&j);
	if (rc == CW_OK)
		rc = record_request(w, o, &j, id);
	if (rc == CW_OK)
		rc = fill_result(w, o, &j, out);
	if (rc == CW_OK)
		out->request_id = *id;
	else if (*id == 0)
		undo(w, &j);
	wiz_plan_release(&j.plan);
	store_key_release(&j.key);
	cw_buf_release(&j.id);
	cw_buf_release(&j.spki);
	cw_buf_release(&j.csr);
	return rc;
}

enum cw_err
wiz_request_offline(struct wiz *w, const struct wiz_request_opts *o,
		    struct wiz_request_result *out)
{
	int64_t id = 0;

	CW_RETURN_IF_FAIL(o->ca == NULL && o->out_path, CW_ERR_INTERNAL);
	return create(w, o, out, &id);
}

enum cw_err
wiz_request_online(struct wiz *w, const struct wiz_request_opts *o,
		   struct wiz_request_result *out)
{
	struct wiz_acme_opts ao = {o->wait,     o->assign,       o->eab_kid,
	                           o->eab_hmac, o->ca_reference, o->ca_secret,
	                           o->template};
	int64_t id = 0;
	enum cw_err rc;

	CW_RETURN_IF_FAIL(o->ca != NULL, CW_ERR_INTERNAL);
	rc = create(w, o, out, &id);
	if (rc != CW_OK)
		return rc;
	rc = wiz_online_run(w, id, &ao, &out->online);
	if (rc != CW_OK && rc != CW_ERR_PENDING && rc != CW_ERR_UNREACHABLE &&
	    rc != CW_ERR_REJECTED)
		wiz_request_result_release(out);
	return rc;
}
