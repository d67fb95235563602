/* Refresh: the store reconciled with the tokens. */
#include "wizard_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An intent younger than this may belong to a request still running. */
#define INTENT_GRACE_SECONDS 600

void
wiz_refresh_report_release(struct wiz_refresh_report *r)
{
	for (size_t i = 0; r && i < r->n; i++) {
		free(r->v[i].kind);
		free(r->v[i].detail);
	}
	if (r) {
		free(r->v);
		r->v = NULL;
		r->n = 0;
	}
}

/* The kinds of event an operator must act on: refresh exits non-zero. */
static const char *const attention[] = {
	"key-missing",	      "cert-missing",	  "interrupted-key",
	"token-unreachable",  "request-rejected", "ca-unreachable",
	"request-error",      "unknown-key",
};

static enum cw_err
event(struct wiz_refresh_report *r, const char *kind, char *detail)
{
	struct wiz_event *v;
	bool act = false;

	for (size_t i = 0; i < sizeof(attention) / sizeof(attention[0]); i++)
		act = act || strcmp(kind, attention[i]) == 0;

	if (detail == NULL)
		return CW_ERR_NOMEM;
	v = realloc(r->v, (r->n + 1) * sizeof(*v));
	if (v == NULL) {
		free(detail);
		return CW_ERR_NOMEM;
	}
	r->v = v;
	v[r->n].kind = strdup(kind);
	v[r->n].detail = detail;
	v[r->n].attention = act;
	r->n++;
	r->attention += act;
	return v[r->n - 1].kind ? CW_OK : CW_ERR_NOMEM;
}

/* Keys of the store, grouped by token in id order. */
struct key_row {
	struct store_key key;
	struct store_token token;
};

struct keys {
	struct key_row *v;
	size_t n;
};

static enum cw_err
collect_key(void *user, const struct store_key *k, const struct store_token *t)
{
	struct keys *ks = user;
	struct key_row *v = realloc(ks->v, (ks->n + 1) * sizeof(*v));
	struct key_row *r;

	if (v == NULL)
		return CW_ERR_NOMEM;
	ks->v = v;
	r = &v[ks->n++];
	memset(r, 0, sizeof(*r));
	r->key = *k;
	r->key.cka_id = strdup(k->cka_id);
	r->key.label = strdup(k->label);
	r->key.algorithm = strdup(k->algorithm);
	r->key.spki_sha256 = cw_strdup(k->spki_sha256);
	r->key.origin = strdup(k->origin);
	r->key.state = strdup(k->state);
	cw_buf_init(&r->key.spki);
	r->token = *t;
	r->token.serial = strdup(t->serial);
	r->token.label = strdup(t->label);
	r->token.manufacturer = strdup(t->manufacturer);
	r->token.model = strdup(t->model);
	r->token.problem = cw_strdup(t->problem);
	return r->key.cka_id && r->key.state && r->token.serial &&
			       r->token.model
		       ? CW_OK
		       : CW_ERR_NOMEM;
}

/*
 * Ends a repair's transaction: change is the result of the change made
 * after BEGIN; the audit event goes into the same transaction, and the
 * report gets the detail once it is committed.
 */
static enum cw_err
repair(struct wiz *w, struct wiz_refresh_report *r, enum cw_err change,
       const char *kind, char *detail)
{
	char op[64];
	enum cw_err rc = detail ? change : CW_ERR_NOMEM;

	snprintf(op, sizeof(op), "refresh-%s", kind);
	if (rc == CW_OK)
		rc = wiz_audit(w, op, NULL, "success", detail);
	rc = store_end(w->store, rc);
	if (rc != CW_OK) {
		free(detail);
		return rc;
	}
	return event(r, kind, detail);
}

/* BEGIN, then call: the change a repair makes. */
#define CHANGE(s, call) (store_begin(s) == CW_OK ? (call) : CW_ERR_STORE)

struct certs_ctx {
	struct wiz *w;
	struct store *s;
	struct wiz_refresh_report *r;
	const struct tok_objects *objs;
	const struct cw_buf *token_der; /* the certificate on the token */
	bool token_der_known;
	const char *label;
};

static enum cw_err
check_cert(void *user, const struct store_cert *c)
{
	struct certs_ctx *x = user;
	bool present = !strcmp(c->token_state, "present");
	bool missing = !strcmp(c->token_state, "missing");
	bool same = x->token_der->len == c->der.len &&
		    memcmp(x->token_der->data, c->der.data, c->der.len) == 0;

	if (same)
		x->token_der_known = true;
	if (present && !x->objs->certificate)
		return repair(x->w, x->r,
			      CHANGE(x->s, store_cert_set_token_state(
						   x->s, c->id, "missing")),
			      "cert-missing",
			      cw_printf("certificate %lld (%.16s) was deleted "
					"from token '%s'; its assignments are "
					"flagged",
					(long long)c->id, c->sha256, x->label));
	if (missing && same)
		return repair(x->w, x->r,
			      CHANGE(x->s, store_cert_set_token_state(
						   x->s, c->id, "present")),
			      "cert-restored",
			      cw_printf("certificate %lld is on token '%s' "
					"again",
					(long long)c->id, x->label));
	return CW_OK;
}

/* A certificate under a known key that the store does not have. */
static enum cw_err
discover(struct wiz *w, const struct key_row *k, const struct cw_buf *der,
	 struct wiz_refresh_report *r)
{
	struct x509_info i;
	struct store_cert c;
	enum cw_err rc = x509_info_parse(der->data, der->len, &i);

	if (rc != CW_OK)
		return event(r, "cert-discovered",
			     cw_printf("token '%s' holds an unreadable "
				       "certificate under key %s",
				       k->token.label, k->key.cka_id));
	if (k->key.spki_sha256 == NULL || strcmp(i.spki_sha256, k->key.spki_sha256)) {
		rc = event(r, "cert-discovered",
			   cw_printf("token '%s' holds certificate %.16s under "
				     "key %s, but for another key; not "
				     "recorded",
				     k->token.label, i.sha256, k->key.cka_id));
		x509_info_release(&i);
		return rc;
	}
	memset(&c, 0, sizeof(c));
	c.der = i.der;
	c.sha256 = i.sha256;
	c.sha1 = i.sha1;
	c.subject = i.subject;
	c.issuer = i.issuer;
	c.serial = i.serial;
	c.not_before = i.not_before;
	c.not_after = i.not_after;
	c.key_id = k->key.id;
	c.origin = "imported";
	c.names = i.names;
	c.eku = i.eku;
	c.eku_any = !i.has_eku;
	c.key_alg = i.key_alg;
	c.token_state = "present";
	rc = store_begin(w->store);
	if (rc == CW_OK)
		rc = store_cert_add(w->store, &c);
	rc = repair(w, r, rc, "cert-discovered",
		    cw_printf("certificate %lld (%s) found on token '%s' under "
			      "key %s; recorded, ready to assign",
			      (long long)c.id, i.subject, k->token.label,
			      k->key.cka_id));
	x509_info_release(&i);
	return rc;
}

/* Whether a certificate of the key serves a usage, or is scheduled to. */
static bool
serves(struct wiz *w, int64_t key_id)
{
	bool yes = false;

	return store_key_assigned(w->store, key_id, &yes) == CW_OK && yes;
}

/* With an inventory of the token (inv), lookups come from it. */
static enum cw_err
check_key(struct wiz *w, struct tok_session *tok,
	  const struct tok_inventory *inv, const struct key_row *k,
	  struct wiz_refresh_report *r, time_t now)
{
	struct store *s = w->store;
	struct tok_objects o;
	struct cw_buf id, der;
	const char *state = k->key.state;
	enum cw_err rc;

	cw_buf_init(&id);
	cw_buf_init(&der);
	rc = cw_unhex(k->key.cka_id, &id);
	if (rc == CW_OK && inv != NULL)
		tok_inventory_lookup(inv, &id, &o);
	else if (rc == CW_OK)
		rc = tok_find(tok, &id, &o);
	if (rc != CW_OK)
		goto out;
	if (!strcmp(state, "generating")) {
		if (o.private_key || o.public_key)
			rc = event(r, "interrupted-key",
				   cw_printf("key %s on token '%s' was left by "
					     "an interrupted request (state "
					     "generating); delete it with "
					     "pkcs11-tool if it is not wanted",
					     k->key.cka_id, k->token.label));
		else if (now - k->key.created > INTENT_GRACE_SECONDS)
			rc = repair(w, r,
				    CHANGE(s, store_key_delete(s, k->key.id)),
				    "intent-cleared",
				    cw_printf("request intent for key %s never "
					      "produced a key; cleared",
					      k->key.cka_id));
		goto out;
	}
	if (!strcmp(state, "ready") && !o.private_key)
		rc = repair(w, r,
			    CHANGE(s, store_key_set_state(s, k->key.id, "gone")),
			    "key-missing",
			    cw_printf("key %s was deleted from token '%s'; its "
				      "certificates cannot serve",
				      k->key.cka_id, k->token.label));
	else if (!strcmp(state, "gone") && !o.private_key &&
		 serves(w, k->key.id))
		rc = event(r, "key-missing",
			   cw_printf("key %s is still missing from token '%s' "
				     "and a certificate of it is assigned: "
				     "request a new certificate",
				     k->key.cka_id, k->token.label));
	else if (!strcmp(state, "gone") && o.private_key)
		rc = repair(w, r,
			    CHANGE(s, store_key_set_state(s, k->key.id,
							  "ready")),
			    "key-restored",
			    cw_printf("key %s is on token '%s' again",
				      k->key.cka_id, k->token.label));
	if (rc == CW_OK && o.certificate)
		rc = inv ? tok_inventory_cert(tok, inv, &id, &der)
			 : tok_read_cert(tok, &id, &der);
	if (rc == CW_OK) {
		struct certs_ctx x = { w, s, r, &o, &der, false,
				       k->token.label };

		rc = store_each_cert_of_key(s, k->key.id, check_cert, &x);
		if (rc == CW_OK && o.certificate && !x.token_der_known)
			rc = discover(w, k, &der, r);
	}
out:
	cw_buf_release(&id);
	cw_buf_release(&der);
	return rc;
}

struct activation {
	struct wiz *w;
	struct wiz_refresh_report *r;
};

static enum cw_err
on_activated(void *user, const struct store_assignment *a)
{
	struct activation *x = user;
	char t[32];
	enum cw_err rc = wiz_audit_activated(x->w, a);

	if (rc != CW_OK)
		return rc;
	cw_time_format(a->effective_from, t, sizeof(t));
	return event(x->r, "assignment-activated",
		     cw_printf("usage '%s' of '%s' is served by certificate "
			       "%lld since %s",
			       a->usage, a->host, (long long)a->cert_id, t));
}

/*
 * Keys from *i on that share ks->v[*i]'s token (*i moves past them). Each
 * is looked up by CKA_ID; where the module answers every lookup with a
 * scan of all objects and there are several keys, one inventory of the
 * token answers them all instead (design.md).
 */
#define INVENTORY_FROM 4

static enum cw_err
check_token_keys(struct wiz *w, struct tok_session *tok, struct keys *ks,
		 size_t *i, struct wiz_refresh_report *r, time_t now,
		 enum cw_err rc)
{
	int64_t token_id = ks->v[*i].key.token_id;
	struct tok_inventory *inv = NULL;
	size_t end = *i;

	while (end < ks->n && ks->v[end].key.token_id == token_id)
		end++;
	if (rc == CW_OK && tok != NULL && tok_find_is_scan(tok) &&
	    end - *i >= INVENTORY_FROM) {
		rc = tok_inventory_take(tok, &inv);
		if (rc == CW_OK)
			cw_debug("token '%s': one inventory (%zu objects) for "
				 "%zu keys",
				 tok_session_info(tok)->label,
				 tok_inventory_count(inv), end - *i);
	}
	for (; *i < end; (*i)++)
		if (rc == CW_OK && tok != NULL)
			rc = check_key(w, tok, inv, &ks->v[*i], r, now);
	tok_inventory_free(inv);
	return rc;
}

/* Records whether the token could be opened (status shows it), and
 * reports it when it could not. */
static enum cw_err
token_seen(struct wiz *w, const struct store_token *t, enum cw_err open_rc,
	   struct wiz_refresh_report *r, time_t now)
{
	struct store *s = w->store;
	char *why = NULL;
	enum cw_err rc = CW_OK;

	if (open_rc == CW_OK && t->problem == NULL)
		return CW_OK;
	if (open_rc != CW_OK &&
	    (why = strdup(cw_last_error()[0] ? cw_last_error()
					      : cw_strerror(open_rc))) == NULL)
		return CW_ERR_NOMEM;
	rc = store_end(s, CHANGE(s, store_token_set_problem(s, t->id, why,
							    now)));
	if (rc == CW_OK && open_rc != CW_OK)
		rc = event(r, "token-unreachable",
			   cw_printf("token '%s' (serial %s) could not be "
				     "opened (%s); its keys are left as they "
				     "are",
				     t->label, t->serial, why));
	free(why);
	return rc;
}

static enum cw_err
check_tokens(struct wiz *w, struct keys *ks, struct wiz_refresh_report *r,
	     time_t now)
{
	enum cw_err rc = CW_OK;

	for (size_t i = 0; i < ks->n && rc == CW_OK;) {
		struct tok_session *tok = NULL;
		char *uri = wiz_token_uri(&ks->v[i].token);
		enum cw_err open_rc = uri ? wiz_open_token(w, uri, &tok)
					  : CW_ERR_NOMEM;

		if (open_rc == CW_ERR_PIN_INCORRECT ||
		    open_rc == CW_ERR_PIN_LOCKED || open_rc == CW_ERR_NOMEM)
			rc = open_rc; /* do not go on asking for PINs */
		else
			rc = token_seen(w, &ks->v[i].token, open_rc, r, now);
		rc = check_token_keys(w, tok, ks, &i, r, now, rc);
		free(uri);
	}
	return rc;
}

static int
by_token(const void *a, const void *b)
{
	const struct key_row *x = a, *y = b;

	if (x->key.token_id != y->key.token_id)
		return x->key.token_id < y->key.token_id ? -1 : 1;
	return x->key.id < y->key.id ? -1 : x->key.id > y->key.id;
}

/* Each online request taken up by refresh, as an event. */
static enum cw_err
on_request(void *user, const struct wiz_acme_outcome *o, enum cw_err rc)
{
	const char *kind = rc == CW_OK		       ? "request-issued"
			   : rc == CW_ERR_PENDING      ? "request-pending"
			   : rc == CW_ERR_REJECTED     ? "request-rejected"
			   : rc == CW_ERR_UNREACHABLE ? "ca-unreachable"
						       : "request-error";
	char t[32];

	if (rc == CW_OK)
		return event(user, kind,
			     cw_printf("request %lld: certificate %lld (%.16s) "
				       "from CA '%s'",
				       (long long)o->request_id,
				       (long long)o->cert_id, o->sha256, o->ca));
	if (o->state == NULL)
		return event(user, kind,
			     cw_printf("request %lld: %s", (long long)o->request_id,
				       cw_last_error()[0] ? cw_last_error()
							  : cw_strerror(rc)));
	cw_time_format((time_t)o->next_attempt, t, sizeof(t));
	return event(user, kind,
		     cw_printf("request %lld at CA '%s': %s%s%s",
			       (long long)o->request_id, o->ca,
			       o->problem ? o->problem : o->state,
			       rc == CW_ERR_REJECTED ? "" : "; next attempt ",
			       rc == CW_ERR_REJECTED ? "" : t));
}

/* Online requests whose next attempt time has come, taken up once, each
 * waiting at most REFRESH_WAIT seconds (a quick CA finishes within a run);
 * what the CAs say are events, never a failure of refresh. */
#define REFRESH_WAIT 10

static enum cw_err
check_requests(struct wiz *w, struct wiz_refresh_report *r)
{
	struct wiz_process_opts o = {REFRESH_WAIT,     true, NULL,
	                             {NULL, -1, NULL}, NULL, {NULL, -1, NULL}};
	enum cw_err rc;
	int level = cw_log_get_level();

	/* "nothing due" is not worth a message here */
	if (level < CW_LOG_DEBUG)
		cw_log_set_level(CW_LOG_QUIET);
	rc = wiz_pending_process(w, NULL, 0, &o, on_request, r);
	cw_log_set_level((enum cw_log_level)level);
	return rc == CW_ERR_NOMEM || rc == CW_ERR_STORE ? rc : CW_OK;
}

/* Private keys under certwiz's labels on one token that the store does
 * not know: a store replaced by an older or an empty one. */
static enum cw_err
unknown_on(struct wiz *w, struct tok_session *tok,
	   struct wiz_refresh_report *r)
{
	struct cw_strlist ids, labels;
	enum cw_err rc;

	cw_strlist_init(&ids);
	cw_strlist_init(&labels);
	rc = tok_private_keys(tok, &ids, &labels);
	for (size_t i = 0; rc == CW_OK && i < ids.n; i++) {
		bool known = true;

		if (strncmp(labels.v[i], "certwiz-", 8) != 0)
			continue;
		rc = store_cka_id_known(w->store, ids.v[i], &known);
		if (rc == CW_OK && !known)
			rc = event(r, "unknown-key",
				   cw_printf("token '%s' holds key %s (label "
					     "'%s') that the store does not "
					     "know: was the store replaced or "
					     "restored from an old backup? "
					     "(delete the key with pkcs11-tool "
					     "if it is not wanted)",
					     tok_session_info(tok)->label,
					     ids.v[i], labels.v[i]));
	}
	cw_strlist_release(&ids);
	cw_strlist_release(&labels);
	return rc;
}

/* Every token this run opened, and the configured one. */
static enum cw_err
check_unknown(struct wiz *w, struct wiz_refresh_report *r)
{
	struct tok_session *tok = NULL;
	enum cw_err rc = CW_OK;

	if (w->cfg.token_uri != NULL &&
	    wiz_open_token(w, w->cfg.token_uri, &tok) != CW_OK) {
		bool reported = false;

		for (size_t i = 0; i < r->n; i++)
			reported = reported ||
				   !strcmp(r->v[i].kind, "token-unreachable");
		if (!reported)
			rc = event(r, "token-unreachable",
				   cw_printf("the configured token (%s) could "
					     "not be opened: %s",
					     w->cfg.token_uri,
					     cw_last_error()));
	}
	for (size_t i = 0; rc == CW_OK && i < w->n_sessions; i++)
		rc = unknown_on(w, w->sessions[i], r);
	return rc;
}

enum cw_err
wiz_refresh(struct wiz *w, struct wiz_refresh_report *out)
{
	struct wiz_refresh_report r = { NULL, 0, 0 };
	struct keys ks = { NULL, 0 };
	struct store *s = NULL;
	time_t now = time(NULL);
	enum cw_err rc;

	struct activation act = { w, &r };

	rc = wiz_store(w, &s);
	if (rc == CW_OK)
		rc = store_end(s, CHANGE(s, store_activate_due(s, now,
							       on_activated,
							       &act)));
	if (rc == CW_OK)
		rc = store_each_key(s, collect_key, &ks);
	if (rc == CW_OK && ks.n > 0) {
		qsort(ks.v, ks.n, sizeof(ks.v[0]), by_token);
		rc = check_tokens(w, &ks, &r, now);
	}
	if (rc == CW_OK)
		rc = check_unknown(w, &r);
	if (rc == CW_OK)
		rc = check_requests(w, &r);
	for (size_t i = 0; i < ks.n; i++) {
		store_key_release(&ks.v[i].key);
		store_token_release(&ks.v[i].token);
	}
	free(ks.v);
	if (rc != CW_OK) {
		wiz_refresh_report_release(&r);
		return rc;
	}
	*out = r;
	return CW_OK;
}
