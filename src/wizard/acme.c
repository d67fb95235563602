/* Online requests over ACME: takes a request from where it stands
 * (created, submitted, pending) towards issued, one persisted step at a
 * time, so that a run cut short by --wait, the network or a crash is taken
 * up by the next run without a new order, key or certificate. */
#define _DEFAULT_SOURCE
#include "wizard_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Polling within a run: fast first (a quick CA answers in milliseconds),
 * then doubling up to a cap. */
#define POLL_FIRST_MS 50
#define POLL_MAX_MS   2000
/* Seconds a dns-01 hook may take. */
#define HOOK_TIMEOUT 120
/* The built-in http-01 responder lives as long as the run: after answering
 * through it, the run waits for the validation this long even past
 * --wait. */
#define RESPONDER_GRACE_MS 30000

struct run {
	struct wiz *w;
	struct store *s;
	const struct wiz_acme_opts *o;
	struct store_request req;
	const struct cw_ca_profile *prof;
	struct wiz_account acct;
	struct ca_http01 *http01;
	struct cw_strlist answered; /* challenge URLs answered in this run */
	struct acme_order order;
	bool have_order;
	bool reregistered;
	bool account_failed;       /* the CA refused the account, not the
				      request: it stays open */
	bool diagnose_only;        /* looking for why an order failed: no
				      challenge is answered */
	int64_t deadline_ms;
	int64_t responder_until_ms; /* see RESPONDER_GRACE_MS */
	unsigned delay_ms;
	time_t retry_at;           /* the next attempt the CA asked for */
	char *problem;             /* why the run stops short */
	struct wiz_import_result issued;
	struct cw_strlist assigned;
};

void
wiz_acme_outcome_release(struct wiz_acme_outcome *o)
{
	if (o == NULL)
		return;
	free(o->state);
	free(o->ca);
	free(o->order_url);
	free(o->problem);
	free(o->sha256);
	free(o->subject);
	cw_strlist_release(&o->assigned);
	memset(o, 0, sizeof(*o));
}

/* The CA's problem as the run's, and its Retry-After. */
static void
take_problem(struct run *r)
{
	const struct ca_problem *p = acme_problem(r->acct.acme);

	if (p->detail)
		wiz_set_text(&r->problem, p->detail);
	if (p->retry_after > r->retry_at)
		r->retry_at = p->retry_after;
}

/* After CW_ERR_NOT_FOUND (the CA forgot the account): registers again,
 * once per run, and says whether to repeat the call. */
static bool
again(struct run *r, enum cw_err *rc)
{
	if (*rc != CW_ERR_NOT_FOUND || r->reregistered)
		return false;
	r->reregistered = true;
	cw_warn("CA '%s' does not know the account any more; registering "
		"again",
		r->prof->name);
	*rc = wiz_account_register(r->w, r->prof, r->o, &r->acct);
	return *rc == CW_OK;
}

static char *
request_target(struct run *r, const char *extra_key, const char *extra)
{
	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long)r->req.id);
	return audit_target("request", id, "ca", r->prof->name, "order",
			    r->req.ca_ref, extra_key, extra, NULL);
}

/* Writes a state change with its audit event, in one transaction. */
static enum cw_err
record(struct run *r, const struct store_request_update *u,
       const char *operation, const char *outcome, const char *reason)
{
	return wiz_online_record(r->w, r->s, r->req.id,
	                         request_target(r, NULL, NULL), u, operation,
	                         outcome, reason);
}

/* A CSR certwiz itself made, for its request's key, and never for the
 * account key (RFC 8555 section 11.1). */
static enum cw_err
check_csr(struct run *r, struct cw_strlist *names)
{
	struct cw_buf spki;
	enum cw_err rc;

	cw_buf_init(&spki);
	rc = x509_csr_check(&r->req.csr, &spki);
	if (rc == CW_OK && spki.len == r->acct.spki.len &&
	    memcmp(spki.data, r->acct.spki.data, spki.len) == 0) {
		cw_error("request %lld uses the ACME account key; refused",
			 (long long)r->req.id);
		rc = CW_ERR_POLICY;
	}
	if (rc == CW_OK)
		rc = x509_csr_names(&r->req.csr, names, NULL);
	if (rc == CW_OK && names->n == 0) {
		cw_error("request %lld asks for no DNS name", (long long)r->req.id);
		rc = CW_ERR_USAGE;
	}
	cw_buf_release(&spki);
	return rc;
}

/* newOrder, then its URL is written before anything else happens. */
static enum cw_err
submit(struct run *r)
{
	struct cw_strlist names;
	struct store_request_update u = { "submitted", NULL, 0, NULL, false };
	enum cw_err rc;

	cw_strlist_init(&names);
	rc = check_csr(r, &names);
	if (rc == CW_OK)
		do
			rc = acme_order_new(r->acct.acme, &names, &r->order);
		while (again(r, &rc));
	if (rc == CW_OK) {
		r->have_order = true;
		u.ca_ref = r->order.url;
		free(r->req.ca_ref);
		r->req.ca_ref = strdup(r->order.url);
		rc = r->req.ca_ref ? record(r, &u, "request-submitted",
					    "success", "order created")
				   : CW_ERR_NOMEM;
		/* what is written is what this run goes on from */
		if (rc == CW_OK) {
			char *st = strdup("submitted");

			rc = st ? CW_OK : CW_ERR_NOMEM;
			if (st) {
				free(r->req.state);
				r->req.state = st;
			}
		}
	}
	cw_strlist_release(&names);
	cw_crashpoint("acme:after-order");
	return rc;
}

static enum cw_err
get_order(struct run *r)
{
	enum cw_err rc;

	acme_order_release(&r->order);
	r->have_order = false;
	do
		rc = acme_order_get(r->acct.acme, r->req.ca_ref, &r->order);
	while (again(r, &rc));
	r->have_order = rc == CW_OK;
	if (rc == CW_OK && r->order.retry_after > r->retry_at)
		r->retry_at = r->order.retry_after;
	return rc;
}

/* The dns-01 hook, with the tokens left to others while it runs. */
static enum cw_err
run_hook(struct run *r, const char *action, const char *name,
	 const char *value)
{
	enum cw_err rc, lock;

	wiz_tokens_release(r->w);
	rc = ca_hook_run(r->prof->dns01_hook, action, name, value, HOOK_TIMEOUT);
	lock = wiz_tokens_take(r->w);
	return rc == CW_OK ? lock : rc;
}

/* Publishes one challenge response where the CA will look for it. */
static enum cw_err
publish(struct run *r, const struct acme_authz *z,
	const struct acme_challenge *c, const char *type)
{
	struct store_challenge row;
	char *ka = acme_key_authorization(r->acct.acme, c->token);
	char *txt = NULL, *name = NULL;
	enum cw_err rc = ka ? CW_OK : CW_ERR_NOMEM;

	if (rc == CW_OK && !strcmp(type, "http-01") &&
	    r->prof->http01_webroot == NULL) {
		if (r->http01 == NULL)
			rc = ca_http01_start(r->prof->http01_listen
						     ? r->prof->http01_listen
						     : ":80",
					     &r->http01);
		if (rc == CW_OK)
			rc = ca_http01_add(r->http01, c->token, ka);
		r->responder_until_ms = cw_monotonic_ms() + RESPONDER_GRACE_MS;
		free(ka);
		return rc;
	}
	if (rc == CW_OK && !strcmp(type, "dns-01")) {
		txt = acme_dns01_value(r->acct.acme, c->token);
		name = cw_printf("_acme-challenge.%s", z->identifier);
		rc = txt && name ? CW_OK : CW_ERR_NOMEM;
	}
	/* recorded before it is published, so that a later run removes it */
	row = (struct store_challenge){ 0,	    r->req.id, z->url,
					(char *)type, z->identifier, c->token,
					txt ? txt : ka, 0 };
	if (rc == CW_OK)
		rc = store_end(r->s, store_begin(r->s) == CW_OK
					     ? store_challenge_add(r->s, &row)
					     : CW_ERR_STORE);
	if (rc == CW_OK && txt)
		rc = run_hook(r, "add", name, txt);
	else if (rc == CW_OK)
		rc = ca_webroot_put(r->prof->http01_webroot, c->token, ka);
	free(ka);
	free(txt);
	free(name);
	return rc;
}

/* Removes what a run published once its authorization is decided. */
static enum cw_err
unpublish(void *user, const struct store_challenge *c)
{
	struct run *r = user;
	char *name = NULL;
	enum cw_err rc = CW_OK;

	if (!strcmp(c->type, "dns-01") && r->prof->dns01_hook) {
		name = cw_printf("_acme-challenge.%s", c->name);
		rc = name ? run_hook(r, "del", name, c->value) : CW_ERR_NOMEM;
	} else if (!strcmp(c->type, "http-01") && r->prof->http01_webroot) {
		rc = ca_webroot_remove(r->prof->http01_webroot, c->token);
	}
	free(name);
	if (rc == CW_OK)
		rc = store_end(r->s, store_begin(r->s) == CW_OK
					     ? store_challenge_removed(r->s, c->id)
					     : CW_ERR_STORE);
	if (rc != CW_OK)
		cw_warn("the %s response for '%s' could not be removed; the "
			"next run tries again",
			c->type, c->name);
	return CW_OK; /* one failure does not stop the others */
}

static enum cw_err
answer(struct run *r, const struct acme_authz *z)
{
	const char *type = r->prof->challenge ? r->prof->challenge : "http-01";
	const struct acme_challenge *c = NULL;
	enum cw_err rc;

	for (size_t i = 0; i < z->n && c == NULL; i++)
		if (!strcmp(z->v[i].type, type))
			c = &z->v[i];
	if (c == NULL || c->token == NULL) {
		cw_error("CA '%s' offers no %s challenge for '%s'; choose "
			 "another challenge in the CA profile",
			 r->prof->name, type, z->identifier);
		return CW_ERR_CONFIG;
	}
	if (c->status != ACME_PENDING || r->diagnose_only ||
	    cw_strlist_contains(&r->answered, c->url))
		return CW_OK; /* being validated, or not to be answered */
	rc = publish(r, z, c, type);
	if (rc == CW_ERR_UNAVAILABLE || rc == CW_ERR_IO) {
		char *why = cw_printf("cannot publish the %s response for '%s' "
				      "yet: %s",
				      type, z->identifier, cw_last_error());

		wiz_set_text(&r->problem, why);
		free(why);
		return CW_ERR_PENDING; /* the authorization waits */
	}
	if (rc == CW_OK)
		rc = acme_challenge_respond(r->acct.acme, c->url);
	if (rc == CW_OK)
		rc = cw_strlist_add(&r->answered, c->url);
	if (rc == CW_OK)
		cw_info("answered the %s challenge for '%s'", type,
			z->identifier);
	return rc;
}

/* Looks at every authorization of a pending order; answers what waits. */
static enum cw_err
authorize(struct run *r)
{
	enum cw_err rc = CW_OK;

	for (size_t i = 0; rc == CW_OK && i < r->order.authorizations.n; i++) {
		struct acme_authz z;

		memset(&z, 0, sizeof(z));
		do
			rc = acme_authz_get(r->acct.acme,
					    r->order.authorizations.v[i], &z);
		while (again(r, &rc));
		if (rc != CW_OK)
			break;
		if (z.retry_after > r->retry_at)
			r->retry_at = z.retry_after;
		if (z.status == ACME_PENDING) {
			rc = answer(r, &z);
		} else if (z.status != ACME_VALID) {
			char *why = NULL;

			for (size_t k = 0; k < z.n && why == NULL; k++)
				if (z.v[k].error)
					why = cw_printf("%s: %s", z.identifier,
							z.v[k].error);
			wiz_set_text(&r->problem,
			             why ? why : "an authorization failed");
			free(why);
			rc = CW_ERR_REJECTED;
		}
		acme_authz_release(&z);
	}
	return rc;
}

/*
 * Waits before the next poll (the CA's Retry-After if it gave one), within
 * the deadline; CW_ERR_PENDING when the deadline comes first.
 */
static enum cw_err
wait_poll(struct run *r)
{
	int64_t now = cw_monotonic_ms(), ms = r->delay_ms, end = r->deadline_ms;
	time_t t = time(NULL);
	struct timespec ts;
	enum cw_err rc;

	/* what the built-in responder answered is validated while it runs */
	if (r->have_order && r->order.status == ACME_PENDING &&
	    r->responder_until_ms > end)
		end = r->responder_until_ms;
	if (r->retry_at > t)
		ms = (int64_t)(r->retry_at - t) * 1000;
	if (now + ms > end)
		return CW_ERR_PENDING;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	/* other certwiz processes may use the tokens meanwhile */
	wiz_tokens_release(r->w);
	nanosleep(&ts, NULL);
	rc = wiz_tokens_take(r->w);
	if (rc != CW_OK)
		return rc;
	if (r->delay_ms < POLL_MAX_MS)
		r->delay_ms = r->delay_ms * 2 > POLL_MAX_MS ? POLL_MAX_MS
							    : r->delay_ms * 2;
	r->retry_at = 0;
	return get_order(r);
}

/* The leaf is what was asked for (wiz_issued_check); a chain that does
 * not verify keeps the request open until the roots are fixed. */
static enum cw_err
check_issued(struct run *r, const struct x509_bundle *b)
{
	char *why = NULL;
	enum cw_err rc = wiz_issued_check(r->w, &r->req, b, &why);

	if (rc == CW_ERR_CONFIG && why != NULL) {
		char *more = cw_printf("%s; fix the roots and run 'certwiz "
		                       "pending process %lld'",
		                       why, (long long)r->req.id);

		free(why);
		why = more;
	} else if (rc == CW_ERR_CRYPTO && why != NULL) {
		cw_error("%s", why);
	}
	if (rc != CW_OK)
		wiz_set_text(&r->problem, why ? why : cw_last_error());
	free(why);
	return rc;
}

/* Downloads the chain (or an alternate one that verifies). */
static enum cw_err
download(struct run *r, struct x509_bundle *out)
{
	struct cw_strlist alt;
	const char *url = r->order.certificate;
	enum cw_err rc = CW_OK;

	cw_strlist_init(&alt);
	for (size_t next = 0; url != NULL; url = next < alt.n ? alt.v[next++]
							     : NULL) {
		struct cw_buf pem;

		cw_buf_init(&pem);
		do
			rc = acme_certificate(r->acct.acme, url, &pem, &alt);
		while (again(r, &rc));
		if (rc == CW_OK)
			rc = x509_bundle_parse(pem.data, pem.len, out);
		cw_buf_release(&pem);
		if (rc == CW_OK && (rc = check_issued(r, out)) == CW_OK)
			break;
		x509_bundle_release(out);
		/* another chain may verify; another key or names will not */
		if (rc != CW_ERR_CONFIG || next >= 4)
			break;
		if (next < alt.n)
			cw_info("trying the CA's alternate chain %zu", next + 1);
	}
	if (rc == CW_ERR_CONFIG && r->problem)
		cw_error("%s", r->problem);
	cw_strlist_release(&alt);
	return rc;
}

static enum cw_err
issue(struct run *r)
{
	struct x509_bundle b;
	enum cw_err rc;

	memset(&b, 0, sizeof(b));
	rc = download(r, &b);
	cw_crashpoint("acme:before-import");
	if (rc == CW_OK)
		rc = wiz_import_issued(r->w, &r->req, &b, &r->issued);
	x509_bundle_release(&b);
	if (rc == CW_OK && r->o->assign)
		rc = wiz_online_assign(r->w, &r->req, r->issued.cert_id,
		                       &r->assigned);
	return rc;
}

/* Whether the CA refused finalize only because the order was not ready
 * (RFC 8555 section 7.4: orderNotReady), which a later poll settles. */
static bool
not_ready(const struct run *r)
{
	const char *t = acme_problem(r->acct.acme)->type;

	return t && !strcmp(t, "urn:ietf:params:acme:error:orderNotReady");
}

static enum cw_err
drive(struct run *r)
{
	enum cw_err rc;

	rc = r->req.ca_ref == NULL ? submit(r) : get_order(r);
	while (rc == CW_OK) {
		switch (r->order.status) {
		case ACME_PENDING:
			rc = authorize(r);
			if (rc == CW_OK)
				rc = wait_poll(r);
			break;
		case ACME_READY: {
			struct acme_order next;

			do
				rc = acme_finalize(r->acct.acme, &r->order,
						   &r->req.csr, &next);
			while (again(r, &rc));
			if (rc == CW_OK) {
				acme_order_release(&r->order);
				r->order = next;
				cw_crashpoint("acme:after-finalize");
			} else if (rc == CW_ERR_REJECTED && not_ready(r)) {
				rc = wait_poll(r); /* the CA was not there yet */
			}
			break;
		}
		case ACME_PROCESSING:
			rc = wait_poll(r);
			break;
		case ACME_VALID:
			return issue(r);
		default:
			wiz_set_text(&r->problem,
			             r->order.error.detail
			                 ? r->order.error.detail
			                 : "the CA invalidated the order");
			if (!r->order.error.detail &&
			    r->order.authorizations.n > 0) {
				r->diagnose_only = true;
				authorize(r); /* the authorization's why */
			}
			return CW_ERR_REJECTED;
		}
	}
	return rc;
}

static const char *
open_state(const struct run *r)
{
	return r->req.ca_ref == NULL ? "created" : "pending";
}

/* Writes where the run left the request. */
static enum cw_err
conclude(struct run *r, enum cw_err rc)
{
	struct store_request_update u = { NULL, NULL, 0, r->problem, true };
	time_t now = time(NULL);
	bool settled = false;
	enum cw_err wr = CW_OK;

	if (rc == CW_ERR_PENDING || rc == CW_ERR_UNREACHABLE) {
		u.state = rc == CW_ERR_PENDING ? open_state(r) : r->req.state;
		u.next_attempt = r->retry_at > now
		                     ? r->retry_at
		                     : now + wiz_online_backoff(&r->req);
		if (u.problem == NULL)
			u.problem = r->have_order
					    ? acme_status_name(r->order.status)
					    : "waiting for the CA";
		wr = record(r, &u,
			    rc == CW_ERR_PENDING ? "request-pending"
						 : "ca-unreachable",
			    rc == CW_ERR_PENDING ? "success" : "failure",
			    u.problem);
		settled = r->have_order && r->order.status != ACME_PENDING;
	} else if (rc == CW_ERR_REJECTED && r->account_failed) {
		u.state = r->req.state;
		wr = record(r, &u, "acme-account-refused", "failure",
			    r->problem);
	} else if (rc == CW_ERR_REJECTED) {
		u.state = "rejected";
		wr = record(r, &u, "request-rejected", "failure", r->problem);
		settled = true;
	} else if (rc == CW_ERR_CRYPTO && r->have_order &&
		   r->order.status == ACME_VALID) {
		u.state = "failed";
		wr = record(r, &u, "request-failed", "failure", r->problem);
		settled = true;
	} else if (rc == CW_OK || rc == CW_ERR_POLICY) {
		settled = true; /* issued (the import wrote the state) */
	} else if (r->problem != NULL) {
		/* a failure on this side (configuration, token): the request
		 * stays where it stood, with the reason */
		u.state = r->req.state;
		u.next_attempt = r->req.next_attempt;
		wr = record(r, &u, "request-attempt-failed", "failure",
			    r->problem);
	}
	if (rc == CW_ERR_UNREACHABLE && !r->account_failed)
		cw_error("CA '%s' cannot be reached: %s; request %lld is kept "
			 "for 'certwiz pending process'",
			 r->prof->name, u.problem, (long long)r->req.id);
	else if (rc == CW_ERR_REJECTED && !r->account_failed)
		cw_error("CA '%s' rejected request %lld: %s", r->prof->name,
			 (long long)r->req.id, r->problem ? r->problem : "");
	else if (rc == CW_ERR_PENDING)
		cw_info("request %lld waits at CA '%s': %s", (long long)r->req.id,
			r->prof->name, u.problem);
	if (settled)
		store_each_published_challenge(r->s, r->req.id, unpublish, r);
	if (wr != CW_OK)
		cw_error("the state of request %lld could not be saved",
			 (long long)r->req.id);
	return wr == CW_OK ? rc : wr;
}

enum cw_err
wiz_acme_run(struct wiz *w, struct store_request *q,
	     const struct wiz_acme_opts *o, struct wiz_acme_outcome *out)
{
	struct run r;
	int64_t id = q->id;
	enum cw_err rc;

	memset(&r, 0, sizeof(r));
	r.w = w;
	r.o = o;
	r.req = *q; /* taken */
	memset(q, 0, sizeof(*q));
	r.delay_ms = POLL_FIRST_MS;
	r.deadline_ms =
	    cw_monotonic_ms() + (int64_t)(o->wait > 0 ? o->wait : 0) * 1000;
	rc = wiz_store(w, &r.s);
	if (rc == CW_OK && (r.prof = cw_config_ca(&w->cfg, r.req.ca)) == NULL) {
		cw_error("request %lld is for CA '%s', which the configuration "
			 "no longer names",
			 (long long)id, r.req.ca);
		rc = CW_ERR_CONFIG;
	}
	if (rc == CW_OK) {
		rc = wiz_account_open(w, r.prof, o, &r.acct);
		r.account_failed = rc != CW_OK;
		if (rc != CW_OK)
			wiz_set_text(&r.problem, cw_last_error());
	}
	if (rc == CW_OK)
		rc = drive(&r);
	if ((rc == CW_ERR_UNREACHABLE || rc == CW_ERR_REJECTED) && r.acct.acme &&
	    !r.account_failed)
		take_problem(&r);
	else if (rc == CW_ERR_UNREACHABLE && r.acct.acme)
		r.retry_at = acme_problem(r.acct.acme)->retry_after;
	if (r.req.id != 0 && r.prof != NULL)
		rc = conclude(&r, rc);
	if (rc == CW_OK || rc == CW_ERR_PENDING || rc == CW_ERR_UNREACHABLE ||
	    rc == CW_ERR_REJECTED) {
		enum cw_err f = wiz_online_fill(r.s, r.req.id, rc, &r.issued,
		                                &r.assigned, out);

		if (f == CW_OK)
			out->nonce_retries =
			    r.acct.acme ? acme_nonce_retries(r.acct.acme) : 0;
		if (f != CW_OK)
			rc = f;
	}
	ca_http01_stop(r.http01);
	wiz_account_close(&r.acct);
	acme_order_release(&r.order);
	store_request_release(&r.req);
	wiz_import_result_release(&r.issued);
	cw_strlist_release(&r.answered);
	cw_strlist_release(&r.assigned);
	free(r.problem);
	return rc;
}
