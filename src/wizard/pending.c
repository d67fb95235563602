/* Process pending request: open online requests taken up again. */
#include "wizard_int.h"

#include "certwiz/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cw_err
wiz_pending_list(struct wiz *w, store_request_fn fn, void *user)
{
	struct store *s = NULL;
	enum cw_err rc = wiz_store(w, &s);

	return rc == CW_OK ? store_each_pending_request(s, fn, user) : rc;
}

struct ids {
	int64_t *v;
	size_t n;
	bool only_due;
	time_t now;
};

static enum cw_err
collect(void *user, const struct store_request *r)
{
	struct ids *l = user;
	int64_t *v;

	if (l->only_due && r->next_attempt > l->now)
		return CW_OK;
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v == NULL)
		return CW_ERR_NOMEM;
	l->v = v;
	l->v[l->n++] = r->id;
	return CW_OK;
}

/* Outcomes in the order of what the caller must hear first. */
static int
weight(enum cw_err rc)
{
	switch (rc) {
	case CW_OK: return 0;
	case CW_ERR_PENDING: return 1;
	case CW_ERR_UNREACHABLE: return 2;
	case CW_ERR_REJECTED: return 3;
	default: return 4;
	}
}

enum cw_err
wiz_pending_process(struct wiz *w, const int64_t *ids, size_t n,
		    const struct wiz_process_opts *o, wiz_outcome_fn fn,
		    void *user)
{
	struct wiz_acme_opts ao = {o->wait,     false,           o->eab_kid,
	                           o->eab_hmac, o->ca_reference, o->ca_secret,
	                           NULL};
	struct ids open = { NULL, 0, o->only_due, time(NULL) };
	enum cw_err rc = CW_OK, worst = CW_OK;

	if (n == 0) {
		rc = wiz_pending_list(w, collect, &open);
		ids = open.v;
		n = open.n;
		if (rc == CW_OK && n == 0) {
			cw_error(o->only_due ? "no pending request is due"
					     : "no pending request");
			rc = CW_ERR_UNAVAILABLE;
		}
	}
	for (size_t i = 0; rc == CW_OK && i < n; i++) {
		struct wiz_acme_outcome out;
		enum cw_err r;

		memset(&out, 0, sizeof(out));
		r = wiz_online_run(w, ids[i], &ao, &out);
		out.request_id = ids[i];
		if (weight(r) > weight(worst))
			worst = r;
		if (fn != NULL)
			rc = fn(user, &out, r);
		wiz_acme_outcome_release(&out);
	}
	free(open.v);
	return rc == CW_OK ? worst : rc;
}

static enum cw_err
has_cert(void *user, const struct store_cert *c)
{
	(void)c;
	*(bool *)user = true;
	return CW_OK;
}

enum cw_err
wiz_pending_cancel(struct wiz *w, int64_t id, struct wiz_cancel_result *out)
{
	struct store_request r;
	struct store_key k;
	struct store *s = NULL;
	struct tok_session *tok = NULL;
	struct cw_buf cka;
	char ids[24], *target = NULL, *why = NULL;
	bool certified = false;
	enum cw_err rc;

	memset(out, 0, sizeof(*out));
	memset(&k, 0, sizeof(k));
	rc = wiz_require_admin(w, "pending cancel");
	if (rc == CW_OK)
		rc = wiz_store(w, &s);
	if (rc != CW_OK)
		return rc;
	rc = store_request_get(s, id, &r);
	if (rc == CW_ERR_NOT_FOUND) {
		cw_error("there is no request %lld", (long long)id);
		return CW_ERR_UNAVAILABLE;
	}
	if (rc != CW_OK)
		return rc;
	if (strcmp(r.state, "issued") == 0 ||
	    strcmp(r.state, "rejected") == 0 ||
	    strcmp(r.state, "failed") == 0) {
		cw_error("request %lld is %s, not open: nothing to cancel",
		         (long long)id, r.state);
		store_request_release(&r);
		return CW_ERR_UNAVAILABLE;
	}
	wiz_online_withdraw(w, &r);
	rc = store_key_get(s, r.key_id, &k);
	if (rc == CW_OK)
		rc = store_each_cert_of_key(s, k.id, has_cert, &certified);
	/* the key goes with its request, unless a certificate was issued for
	 * it (then it is the certificate's) */
	cw_buf_init(&cka);
	if (rc == CW_OK && !certified && strcmp(k.state, "gone") != 0) {
		rc = wiz_key_on_token(w, &k, &tok);
		if (rc == CW_ERR_NO_KEY || rc == CW_ERR_NOT_FOUND) {
			rc = CW_OK; /* gone already */
		} else if (rc == CW_OK) {
			rc = cw_unhex(k.cka_id, &cka);
			if (rc == CW_OK)
				rc = tok_destroy_keys(tok, &cka);
			out->key_destroyed = rc == CW_OK;
		}
		if (rc != CW_OK)
			cw_error(
			    "request %lld is not cancelled: its key cannot "
			    "be destroyed on its token",
			    (long long)id);
	}
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	why = cw_printf("cancelled by %s", wiz_caller_name(w));
	target = audit_target("request", ids, "cka_id", k.cka_id, NULL);
	if (rc == CW_OK && (why == NULL || target == NULL))
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = store_begin(s);
	if (rc == CW_OK) {
		struct store_request_update u = {"failed", NULL, 0, why, false};

		rc = store_request_update(s, id, &u);
		if (rc == CW_OK && out->key_destroyed)
			rc = store_key_set_state(s, k.id, "gone");
		if (rc == CW_OK)
			rc =
			    wiz_audit(w, "request-cancelled", target, "success",
			              out->key_destroyed
			                  ? "its key destroyed on the token"
			              : certified ? "its key kept: a "
			                            "certificate was "
			                            "issued for it"
			                          : NULL);
		rc = store_end(s, rc);
	}
	if (rc == CW_OK)
		out->request_id = id;
	free(why);
	free(target);
	cw_buf_release(&cka);
	store_key_release(&k);
	store_request_release(&r);
	return rc;
}
