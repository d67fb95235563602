/*
 * Online requests, whatever the protocol: `request --ca`, `pending
 * process`, renewal and refresh come through wiz_online_run, which drives
 * ACME, CMP and certmonger CA helpers alike through the submit/poll
 * interface of src/ca. What the wizard owns lives here: the credentials
 * (an ACME account, a CMP secret), the protocol's state written the moment
 * it has it, what was published for the CA recorded and removed, the
 * checks of what a CA issued, the import, the back-off and the outcome.
 */
#define _DEFAULT_SOURCE
#include "wizard_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Between runs, without word from the CA: 30 s doubling up to an hour. */
#define RETRY_FIRST 30
#define RETRY_MAX   3600

static void
set_text(char **slot, const char *text)
{
	char *p = strdup(text ? text : "");

	if (p != NULL) {
		free(*slot);
		*slot = p;
	}
}

static time_t
backoff(const struct store_request *q)
{
	int64_t d = RETRY_FIRST;

	for (int64_t i = 0; i < q->attempts && d < RETRY_MAX; i++)
		d *= 2;
	return (time_t)(d > RETRY_MAX ? RETRY_MAX : d);
}

static bool
still_open(const struct store_request *q)
{
	return strcmp(q->protocol, "offline") != 0 &&
	       (!strcmp(q->state, "created") ||
	        !strcmp(q->state, "submitted") || !strcmp(q->state, "pending"));
}

/* Whether the chain verifies to the trust anchors (OpenSSL's reason is
 * the last error; the caller reports it). */
static bool
chain_verifies(struct wiz *w, const struct x509_bundle *b)
{
	struct x509_bundle issuers = {b->certs + 1, b->n - 1};
	int level = cw_log_get_level();
	enum cw_err rc;

	cw_log_set_level(CW_LOG_QUIET);
	rc = wiz_verify_bundle(w, &b->certs[0], &issuers, time(NULL));
	cw_log_set_level((enum cw_log_level)level);
	return rc == CW_OK;
}

static enum cw_err
issued_check(struct wiz *w, const struct store_request *req,
             const struct x509_bundle *b, char **problem)
{
	struct x509_info leaf;
	struct cw_strlist asked, anchors;
	struct cw_buf spki;
	char *why = NULL;
	enum cw_err rc;

	*problem = NULL;
	cw_strlist_init(&asked);
	cw_strlist_init(&anchors);
	cw_buf_init(&spki);
	memset(&leaf, 0, sizeof(leaf));
	rc = b->n > 0
	         ? x509_info_parse(b->certs[0].data, b->certs[0].len, &leaf)
	         : CW_ERR_PARSE;
	if (rc == CW_OK)
		rc = x509_csr_check(&req->csr, &spki);
	if (rc == CW_OK)
		rc = x509_csr_names(&req->csr, &asked, NULL);
	if (rc == CW_OK && (spki.len != leaf.spki.len ||
	                    memcmp(spki.data, leaf.spki.data, spki.len) != 0))
		why = cw_printf("the CA's certificate is for another key than "
		                "request %lld's",
		                (long long)req->id);
	for (size_t i = 0; rc == CW_OK && !why && i < leaf.names.n; i++)
		if (!cw_strlist_contains(&asked, leaf.names.v[i]))
			why =
			    cw_printf("the CA's certificate names '%s', which "
			              "request %lld did not ask for",
			              leaf.names.v[i], (long long)req->id);
	for (size_t i = 0; rc == CW_OK && !why && i < asked.n; i++)
		if (!cw_strlist_contains(&leaf.names, asked.v[i]))
			why = cw_printf("the CA's certificate lacks '%s'",
			                asked.v[i]);
	if (why != NULL)
		rc = CW_ERR_CRYPTO;
	if (rc == CW_OK)
		rc = wiz_anchors(w, &anchors);
	if (rc == CW_OK && anchors.n == 0) {
		why = cw_printf("nothing to verify the CA's chain with: set "
		                "roots in [ca \"%s\"] or [trust] anchors",
		                req->ca);
		rc = CW_ERR_CONFIG;
	}
	if (rc == CW_OK && !chain_verifies(w, b)) {
		why = cw_printf("the CA's chain does not verify to the trust "
		                "anchors (%s)",
		                cw_last_error());
		rc = CW_ERR_CONFIG;
	}
	if (rc != CW_OK && why == NULL)
		why = strdup(cw_last_error());
	*problem = why;
	x509_info_release(&leaf);
	cw_strlist_release(&asked);
	cw_strlist_release(&anchors);
	cw_buf_release(&spki);
	return rc;
}

static enum cw_err
assign_issued(struct wiz *w, const struct store_request *req, int64_t cert_id,
              struct cw_strlist *assigned)
{
	struct wiz_assign_opts ao;
	struct wiz_assign_result ar;
	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long)cert_id);
	ao = (struct wiz_assign_opts){id, &req->usages, false, 0};
	if (wiz_assign(w, &ao, &ar) != CW_OK) {
		cw_error(
		    "certificate %lld is issued and imported, but it could "
		    "not be assigned",
		    (long long)cert_id);
		return CW_ERR_POLICY;
	}
	for (size_t i = 0; i < req->usages.n; i++)
		cw_strlist_add(assigned, req->usages.v[i]);
	wiz_assign_result_release(&ar);
	return CW_OK;
}

static enum cw_err
fill_outcome(struct store *s, int64_t id, enum cw_err rc,
             const struct wiz_import_result *issued,
             struct cw_strlist *assigned, struct wiz_acme_outcome *out)
{
	struct store_request now;
	struct wiz_acme_outcome o;

	memset(&o, 0, sizeof(o));
	if (store_request_get(s, id, &now) != CW_OK)
		return CW_ERR_STORE;
	o.request_id = now.id;
	o.state = now.state;
	o.ca = now.ca;
	o.order_url = now.ca_ref;
	o.problem = now.problem;
	o.next_attempt = rc == CW_OK ? 0 : now.next_attempt;
	now.state = now.ca = now.ca_ref = now.problem = NULL;
	store_request_release(&now);
	if (issued && issued->cert_id) {
		o.cert_id = issued->cert_id;
		o.sha256 = strdup(issued->sha256);
		o.subject = strdup(issued->subject);
		o.not_after = issued->not_after;
	}
	o.assigned = *assigned;
	cw_strlist_init(assigned);
	*out = o;
	return CW_OK;
}

/* One run of an online request. */
struct run {
	struct wiz *w;
	struct store *s;
	const struct wiz_acme_opts *o;
	const struct cw_ca_profile *prof;
	struct store_request req;
	struct cw_secret *secret;
	const char *reference;   /* CMP: the MAC's, as used */
	bool alternate;          /* credentials given for this run */
	struct wiz_account acct; /* ACME */
	bool account_refused;    /* the CA refused the account, not the
	                            request: it stays open */
	enum cw_err checked;     /* what the last check of issued
	                            certificates said */
	char *problem;
	struct wiz_import_result issued;
	struct cw_strlist assigned;
};

static char *
target(struct run *r)
{
	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long)r->req.id);
	return audit_target("request", id, "ca", r->prof->name, "protocol",
	                    r->req.protocol, "reference", r->req.ca_ref, NULL);
}

static enum cw_err
record(struct run *r, const struct store_request_update *u,
       const char *operation, const char *outcome, const char *reason)
{
	char *t = target(r);
	enum cw_err rc = t ? store_begin(r->s) : CW_ERR_NOMEM;

	if (rc == CW_OK)
		rc = store_request_update(r->s, r->req.id, u);
	if (rc == CW_OK && operation)
		rc = wiz_audit(r->w, operation, t, outcome, reason);
	rc = store_end(r->s, rc);
	free(t);
	return rc;
}

/* The protocol's save hook: its state is written at once; the first save
 * marks the request submitted (a later run resumes it, never sends it as
 * a new one). */
static enum cw_err
save(void *user, const struct cw_buf *state, const char *reference)
{
	struct run *r = user;
	bool first = !strcmp(r->req.state, "created");
	char *ref = strdup(reference ? reference : "");
	enum cw_err rc = ref ? store_begin(r->s) : CW_ERR_NOMEM;

	if (rc == CW_OK)
		rc = store_request_set_ca_state(r->s, r->req.id, state,
		                                reference);
	if (rc == CW_OK) {
		free(r->req.ca_ref);
		r->req.ca_ref = ref;
		ref = NULL;
	}
	if (rc == CW_OK && first) {
		struct store_request_update u = {"submitted", NULL, 0, NULL,
		                                 false};
		char *t = target(r);

		rc = t ? store_request_update(r->s, r->req.id, &u)
		       : CW_ERR_NOMEM;
		char *why =
		    r->alternate
		        ? cw_printf("alternate credentials used "
		                    "(reference %s)",
		                    r->reference ? r->reference : "none")
		        : strdup("sent to the CA");

		if (rc == CW_OK)
			rc = why ? wiz_audit(r->w, "request-submitted", t,
			                     "success", why)
			         : CW_ERR_NOMEM;
		free(why);
		free(t);
	}
	rc = store_end(r->s, rc);
	free(ref);
	if (rc == CW_OK && first) {
		char *st = strdup("submitted");

		if (st) {
			free(r->req.state);
			r->req.state = st;
		}
	}
	cw_crashpoint(first ? "ca:after-submit-saved" : "ca:after-saved");
	return rc;
}

static enum cw_err
check(void *user, const struct cw_buf *certs, size_t n, char **why)
{
	struct run *r = user;
	struct x509_bundle b = {(struct cw_buf *)certs, n};

	r->checked = issued_check(r->w, &r->req, &b, why);
	if (r->checked == CW_ERR_CONFIG || r->checked == CW_OK)
		return r->checked;
	return CW_ERR_CRYPTO;
}

/* Others may use the tokens while the CA is waited for; what needs them
 * again takes them (the account's signatures, the import). */
static void
idle(void *user)
{
	struct run *r = user;

	wiz_tokens_release(r->w);
}

static enum cw_err
renew(void *user)
{
	struct run *r = user;

	return wiz_account_register(r->w, r->prof, r->o, &r->acct);
}

static enum cw_err
publishing(void *user, struct ca_published *p)
{
	struct run *r = user;
	struct store_challenge row = {0,
	                              r->req.id,
	                              (char *)p->authz,
	                              (char *)p->type,
	                              (char *)p->name,
	                              (char *)p->token,
	                              (char *)p->value,
	                              0};
	enum cw_err rc = store_end(r->s, store_begin(r->s) == CW_OK
	                                     ? store_challenge_add(r->s, &row)
	                                     : CW_ERR_STORE);

	p->id = row.id;
	return rc;
}

struct removal {
	struct run *r;
	ca_published_fn fn;
	void *fnuser;
};

static enum cw_err
remove_one(void *user, const struct store_challenge *c)
{
	struct removal *m = user;
	struct store *s = m->r->s;
	struct ca_published p = {c->id,   c->authz, c->type,
	                         c->name, c->token, c->value};

	if (m->fn(m->fnuser, &p) == CW_OK &&
	    store_end(s, store_begin(s) == CW_OK
	                     ? store_challenge_removed(s, c->id)
	                     : CW_ERR_STORE) != CW_OK)
		cw_warn("the %s response for '%s' is removed, but the store "
		        "could not record it",
		        c->type, c->name);
	return CW_OK; /* one failure does not stop the others */
}

static enum cw_err
each_published(void *user, ca_published_fn fn, void *fnuser)
{
	struct run *r = user;
	struct removal m = {r, fn, fnuser};

	return store_each_published_challenge(r->s, r->req.id, remove_one, &m);
}

/* The credentials of this run: the ACME account (opened, registered on
 * first use); for the others the secret given for the run, else the
 * profile's file, else asked for when the protocol cannot go without one.
 * A cancel (account false) needs no account. */
static enum cw_err
credentials(struct run *r, bool account)
{
	const struct wiz_acme_opts *o = r->o;
	bool given = o->ca_secret.file || o->ca_secret.fd >= 0 ||
	             o->ca_secret.value || o->ca_secret.error != CW_OK;
	enum cw_err rc = CW_OK;

	if (ca_needs_account(r->prof)) {
		if (!account)
			return CW_OK;
		rc = wiz_account_open(r->w, r->prof, o, &r->acct);
		r->account_refused = rc == CW_ERR_REJECTED;
		if (rc != CW_OK)
			set_text(&r->problem, cw_last_error());
		return rc;
	}
	r->reference = o->ca_reference ? o->ca_reference : r->prof->reference;
	r->alternate = given || o->ca_reference != NULL;
	if (given ||
	    (ca_needs_secret(r->prof) && r->prof->secret_file == NULL)) {
		char *prompt =
		    cw_printf("Secret for reference '%s' at CA '%s': ",
		              r->reference ? r->reference : "", r->prof->name);

		rc = prompt ? cw_secret_get(&o->ca_secret, prompt, &r->secret)
		            : CW_ERR_NOMEM;
		free(prompt);
	} else if (r->prof->secret_file != NULL) {
		rc = cw_secret_from_file(r->prof->secret_file, &r->secret);
	}
	if (rc != CW_OK)
		set_text(&r->problem, cw_last_error());
	return rc;
}

static enum cw_err
client(struct run *r, struct ca_client **out)
{
	struct ca_hooks h = {save,       check,          idle, renew,
	                     publishing, each_published, r};
	struct ca_credentials cr = {r->reference, r->secret, r->acct.acme,
	                            r->acct.acme ? &r->acct.spki : NULL};

	return ca_client_for(r->prof, &cr, r->o->template, &h, out);
}

static enum cw_err
issue(struct run *r, struct ca_result *res)
{
	struct x509_bundle b = {res->certs, res->n_certs};
	enum cw_err rc;

	cw_crashpoint("ca:before-import");
	rc = wiz_import_issued(r->w, &r->req, &b, &r->issued);
	/* the bundle took the certificates */
	res->certs = b.certs;
	res->n_certs = b.n;
	if (rc == CW_OK && r->o->assign)
		rc = assign_issued(r->w, &r->req, r->issued.cert_id,
		                   &r->assigned);
	return rc;
}

/* When to ask again: when the CA said, else the back-off. */
static time_t
next_attempt(const struct run *r, time_t said)
{
	time_t now = time(NULL);

	return said > now ? said : now + backoff(&r->req);
}

/* Writes where the run left the request; the outcome's code. */
static enum cw_err
conclude(struct run *r, enum cw_err rc, struct ca_result *res)
{
	struct store_request_update u = {r->req.state, NULL, 0, NULL, true};
	enum cw_err wr = CW_OK;

	if (rc == CW_OK && res->answer == CA_PENDING) {
		char *why =
		    res->reason
		        ? strdup(res->reason)
		        : cw_printf("waiting for approval (reference %s)",
		                    res->reference ? res->reference : "");

		u.state = "pending";
		u.next_attempt = next_attempt(r, res->next_attempt);
		u.problem = why;
		wr = why ? record(r, &u, "request-pending", "success", why)
		         : CW_ERR_NOMEM;
		if (wr == CW_OK)
			cw_info("request %lld waits at CA '%s': %s",
			        (long long)r->req.id, r->prof->name, why);
		free(why);
		return wr == CW_OK ? CW_ERR_PENDING : wr;
	}
	if (rc == CW_OK && res->answer == CA_REJECTED) {
		u.state = "rejected";
		u.problem = res->reason;
		wr = record(r, &u, "request-rejected", "failure", res->reason);
		cw_error("CA '%s' rejected request %lld: %s", r->prof->name,
		         (long long)r->req.id, res->reason ? res->reason : "");
		return wr == CW_OK ? CW_ERR_REJECTED : wr;
	}
	if (rc == CW_ERR_UNREACHABLE) {
		/* the account could not be opened: the CA is not there */
		res->answer = CA_UNREACHABLE;
		res->reason = strdup(r->problem ? r->problem : "");
		res->next_attempt =
		    r->acct.acme ? acme_problem(r->acct.acme)->retry_after : 0;
		rc = CW_OK;
	}
	if (rc == CW_OK && res->answer == CA_UNREACHABLE) {
		u.next_attempt = next_attempt(r, res->next_attempt);
		u.problem = res->reason;
		wr = record(r, &u, "ca-unreachable", "failure", res->reason);
		cw_error("CA '%s' cannot be reached: %s; request %lld is kept "
		         "for 'certwiz pending process'",
		         r->prof->name, res->reason ? res->reason : "",
		         (long long)r->req.id);
		return wr == CW_OK ? CW_ERR_UNREACHABLE : wr;
	}
	if (rc == CW_ERR_REJECTED && r->account_refused) {
		wr = record(r, &u, "acme-account-refused", "failure",
		            r->problem);
		return wr == CW_OK ? rc : wr;
	}
	if (rc == CW_OK && res->answer == CA_ISSUED) {
		rc = issue(r, res);
		if (rc == CW_OK || rc == CW_ERR_POLICY)
			return rc; /* the import wrote the state */
		if (rc == CW_ERR_CRYPTO) {
			/* the import's own checks refused it */
			set_text(&r->problem, cw_last_error());
		}
	}
	if (rc == CW_ERR_CRYPTO) {
		/* a certificate that is not what was asked for: refused (CMP
		 * told the CA), nothing bound, the request is over */
		u.state = "failed";
		u.problem = r->problem ? r->problem : cw_last_error();
		wr = record(r, &u, "request-failed", "failure", u.problem);
		return wr == CW_OK ? rc : wr;
	}
	/* a failure on this side or in what the CA sent: the request stays
	 * where it stood, with the reason */
	if (r->problem == NULL)
		set_text(&r->problem, cw_last_error());
	if (rc == CW_ERR_CONFIG && r->checked == CW_ERR_CONFIG) {
		char *more = cw_printf("%s; fix the roots and run 'certwiz "
		                       "pending process %lld'",
		                       r->problem, (long long)r->req.id);

		if (more) {
			free(r->problem);
			r->problem = more;
		}
	}
	u.next_attempt = r->req.next_attempt;
	u.problem = r->problem;
	wr = record(r, &u, "request-attempt-failed", "failure", r->problem);
	return wr == CW_OK ? rc : wr;
}

static void
run_release(struct run *r)
{
	cw_secret_free(r->secret);
	wiz_account_close(&r->acct);
	store_request_release(&r->req);
	wiz_import_result_release(&r->issued);
	cw_strlist_release(&r->assigned);
	free(r->problem);
}

/* Takes the open request q (taken) from where it stands towards issued:
 * submitted when the CA has never seen it, else asked again from its
 * saved state. */
static enum cw_err
online_run(struct wiz *w, struct store_request *q,
           const struct wiz_acme_opts *o, struct wiz_acme_outcome *out)
{
	struct run r;
	struct ca_client *c = NULL;
	struct ca_result res;
	struct cw_buf state;
	int64_t id = q->id;
	enum cw_err rc;

	memset(&r, 0, sizeof(r));
	memset(&res, 0, sizeof(res));
	cw_buf_init(&state);
	cw_strlist_init(&r.assigned);
	r.w = w;
	r.o = o;
	r.req = *q; /* taken */
	memset(q, 0, sizeof(*q));
	rc = wiz_store(w, &r.s);
	if (rc != CW_OK) {
		run_release(&r);
		return rc;
	}
	r.prof = cw_config_ca(&w->cfg, r.req.ca);
	if (r.prof == NULL || strcmp(r.prof->protocol, r.req.protocol) != 0) {
		cw_error("request %lld is for %s CA '%s', which the "
		         "configuration no longer names as such",
		         (long long)id, r.req.protocol, r.req.ca);
		run_release(&r);
		return CW_ERR_CONFIG;
	}
	rc = credentials(&r, true);
	if (rc == CW_OK)
		rc = client(&r, &c);
	if (rc == CW_OK)
		rc = store_request_ca_state(r.s, id, &state);
	if (rc == CW_OK) {
		/* the CA may take long to answer: others use the tokens */
		wiz_tokens_release(w);
		if (state.len == 0)
			rc = ca_submit(c, &r.req.csr, o->wait, &res);
		else
			rc = ca_poll(c, &r.req.csr, &state, o->wait, &res);
		if (rc != CW_OK)
			set_text(&r.problem, cw_last_error());
		enum cw_err t = wiz_tokens_take(w);

		if (rc == CW_OK && t != CW_OK)
			rc = t;
	}
	rc = conclude(&r, rc, &res);
	if (rc == CW_OK || rc == CW_ERR_PENDING || rc == CW_ERR_UNREACHABLE ||
	    rc == CW_ERR_REJECTED) {
		enum cw_err f =
		    fill_outcome(r.s, id, rc, &r.issued, &r.assigned, out);

		if (f == CW_OK && r.acct.acme)
			out->nonce_retries = acme_nonce_retries(r.acct.acme);
		if (f != CW_OK)
			rc = f;
	}
	ca_client_free(c);
	ca_result_release(&res);
	cw_buf_release(&state);
	run_release(&r);
	return rc;
}

void
wiz_online_withdraw(struct wiz *w, const struct store_request *q)
{
	struct wiz_acme_opts o;
	struct run r;
	struct ca_client *c = NULL;
	struct cw_buf state;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	cw_buf_init(&state);
	o.eab_hmac.fd = o.ca_secret.fd = -1;
	r.w = w;
	r.o = &o;
	if (!strcmp(q->protocol, "offline") || q->ca == NULL)
		return;
	r.prof = cw_config_ca(&w->cfg, q->ca);
	if (r.prof == NULL || strcmp(r.prof->protocol, q->protocol) != 0)
		return;
	if (ca_needs_secret(r.prof) && r.prof->secret_file == NULL) {
		cw_warn("CA '%s' is not told that request %lld is withdrawn: "
		        "its profile has no secret_file",
		        q->ca, (long long)q->id);
		return;
	}
	r.req.id = q->id;
	if (wiz_store(w, &r.s) == CW_OK && credentials(&r, false) == CW_OK &&
	    client(&r, &c) == CW_OK &&
	    store_request_ca_state(r.s, q->id, &state) == CW_OK &&
	    state.len > 0 && ca_cancel(c, &q->csr, &state) == CW_OK)
		cw_info("CA '%s' is told that request %lld is withdrawn", q->ca,
		        (long long)q->id);
	ca_client_free(c);
	cw_buf_release(&state);
	cw_secret_free(r.secret);
	free(r.problem);
}

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

enum cw_err
wiz_online_run(struct wiz *w, int64_t id, const struct wiz_acme_opts *o,
               struct wiz_acme_outcome *out)
{
	struct store *s = NULL;
	struct store_request q;
	enum cw_err rc = wiz_store(w, &s);

	memset(out, 0, sizeof(*out));
	if (rc == CW_OK)
		rc = store_request_get(s, id, &q);
	if (rc == CW_ERR_NOT_FOUND)
		cw_error("no request %lld", (long long)id);
	if (rc != CW_OK)
		return rc;
	if (!still_open(&q)) {
		cw_error("request %lld is %s %s; nothing to process",
		         (long long)id, q.protocol, q.state);
		store_request_release(&q);
		return CW_ERR_UNAVAILABLE;
	}
	return online_run(w, &q, o, out);
}
