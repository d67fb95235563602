/*
 * ACME behind the submit/poll interface: an order for the CSR's names,
 * its authorizations answered (http-01 by the built-in responder or a web
 * root, dns-01 by a hook), finalized with the CSR, the chain downloaded
 * and checked. The saved state is the order's URL, written the moment the
 * CA gives it, so that a run cut short by the wait, the network or a
 * crash is taken up by the next one without a new order.
 */
#define _DEFAULT_SOURCE
#include "ca_int.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Polling within a call: fast first (a quick CA answers in milliseconds),
 * then doubling up to a cap. */
#define POLL_FIRST_MS 50
#define POLL_MAX_MS   2000
/* Seconds a dns-01 hook may take. */
#define HOOK_TIMEOUT 120
/* The built-in http-01 responder lives as long as the call: after
 * answering through it, the call waits for the validation this long even
 * past its wait. */
#define RESPONDER_GRACE_MS 30000
/* Alternate chains tried when the CA's first does not verify. */
#define MAX_ALTERNATES 4

struct order_client {
	struct ca_client base;
	struct ca_acme_opts o;
};

/* One call: what it has seen and done. */
struct call {
	struct order_client *c;
	struct acme *a;
	const struct ca_hooks *h;
	const struct cw_buf *csr;
	char *url; /* the order's */
	struct acme_order order;
	bool have_order;
	bool renewed;       /* the account registered again */
	bool diagnose_only; /* looking for why an order failed: no
	                       challenge is answered */
	struct ca_http01 *http01;
	struct cw_strlist answered; /* challenge URLs answered */
	int64_t deadline_ms;
	int64_t responder_until_ms;
	unsigned delay_ms;
	time_t retry_at; /* the next attempt the CA asked for */
	char *problem;   /* why the call stops short */
};

static void
set_problem(struct call *k, const char *text)
{
	char *p = strdup(text ? text : "");

	if (p != NULL) {
		free(k->problem);
		k->problem = p;
	}
}

/* The CA's problem as the call's, and its Retry-After. */
static void
take_problem(struct call *k)
{
	const struct ca_problem *p = acme_problem(k->a);

	if (p->detail)
		set_problem(k, p->detail);
	if (p->retry_after > k->retry_at)
		k->retry_at = p->retry_after;
}

/* After CW_ERR_NOT_FOUND (the CA forgot the account): the caller
 * registers again, once per call; whether to repeat the call. */
static bool
again(struct call *k, enum cw_err *rc)
{
	if (*rc != CW_ERR_NOT_FOUND || k->renewed || k->h->renew == NULL)
		return false;
	k->renewed = true;
	cw_warn("CA '%s' does not know the account any more; registering "
	        "again",
	        k->c->o.name);
	*rc = k->h->renew(k->h->user);
	return *rc == CW_OK;
}

static void
idle(struct call *k)
{
	if (k->h->idle)
		k->h->idle(k->h->user);
}

/* The names a DER CSR asks for (subjectAltName DNS and IP), after its
 * self-signature verifies, and its public key (SPKI). */
static enum cw_err
csr_names(const struct cw_buf *der, struct cw_strlist *names,
          struct cw_buf *spki)
{
	const unsigned char *p = der->data;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)der->len);
	EVP_PKEY *pub = req ? X509_REQ_get0_pubkey(req) : NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	unsigned char *out = NULL;
	enum cw_err rc = CW_ERR_PARSE;
	int len;

	if (req != NULL && p == der->data + der->len && pub != NULL &&
	    X509_REQ_verify(req, pub) == 1 && (len = i2d_PUBKEY(pub, &out)) > 0)
		rc = cw_buf_set(spki, out, (size_t)len);
	else
		cw_error(
		    "the CSR is malformed or its signature does not verify");
	if (rc == CW_OK && (exts = X509_REQ_get_extensions(req)) != NULL)
		gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; rc == CW_OK && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char buf[INET6_ADDRSTRLEN];
		const unsigned char *d;
		int n;

		if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			n = ASN1_STRING_length(g->d.dNSName);
			rc = n > 0 && memchr(d, 0, (size_t)n) == NULL &&
			             (size_t)n < sizeof(buf)
			         ? CW_OK
			         : CW_ERR_PARSE;
			if (rc == CW_OK) {
				memcpy(buf, d, (size_t)n);
				buf[n] = 0;
				rc = cw_strlist_add(names, buf);
			}
		} else if (g->type == GEN_IPADD) {
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			n = ASN1_STRING_length(g->d.iPAddress);
			if ((n == 4 &&
			     inet_ntop(AF_INET, d, buf, sizeof(buf))) ||
			    (n == 16 &&
			     inet_ntop(AF_INET6, d, buf, sizeof(buf))))
				rc = cw_strlist_add(names, buf);
		}
	}
	if (rc == CW_ERR_PARSE && req != NULL && pub != NULL)
		cw_error("the CSR names a DNS name that is not text");
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	OPENSSL_free(out);
	X509_REQ_free(req);
	ERR_clear_error();
	return rc;
}

/* A CSR for the request's key, never the account key (RFC 8555 section
 * 11.1), with at least one name. */
static enum cw_err
check_csr(struct call *k, struct cw_strlist *names)
{
	struct cw_buf spki;
	const struct cw_buf *acct = k->c->o.account_spki;
	enum cw_err rc;

	cw_buf_init(&spki);
	rc = csr_names(k->csr, names, &spki);
	if (rc == CW_OK && acct && spki.len == acct->len &&
	    memcmp(spki.data, acct->data, spki.len) == 0) {
		cw_error("the request uses the ACME account key; refused");
		rc = CW_ERR_POLICY;
	}
	if (rc == CW_OK && names->n == 0) {
		cw_error("the request asks for no DNS name");
		rc = CW_ERR_USAGE;
	}
	cw_buf_release(&spki);
	return rc;
}

/* newOrder, then its URL is saved before anything else happens. */
static enum cw_err
new_order(struct call *k)
{
	struct cw_strlist names;
	struct cw_buf st;
	enum cw_err rc;

	cw_strlist_init(&names);
	cw_buf_init(&st);
	rc = check_csr(k, &names);
	if (rc == CW_OK)
		do
			rc = acme_order_new(k->a, &names, &k->order);
		while (again(k, &rc));
	if (rc == CW_OK) {
		k->have_order = true;
		k->url = strdup(k->order.url);
		rc = k->url ? cw_buf_set(&st, k->url, strlen(k->url))
		            : CW_ERR_NOMEM;
	}
	if (rc == CW_OK && k->h->save)
		rc = k->h->save(k->h->user, &st, k->url);
	cw_strlist_release(&names);
	cw_buf_release(&st);
	cw_crashpoint("acme:after-order");
	return rc;
}

static enum cw_err
get_order(struct call *k)
{
	enum cw_err rc;

	acme_order_release(&k->order);
	k->have_order = false;
	do
		rc = acme_order_get(k->a, k->url, &k->order);
	while (again(k, &rc));
	k->have_order = rc == CW_OK;
	if (rc == CW_OK && k->order.retry_after > k->retry_at)
		k->retry_at = k->order.retry_after;
	return rc;
}

/* The dns-01 hook, with what the caller holds left to others while it
 * runs. */
static enum cw_err
run_hook(struct call *k, const char *action, const char *name,
         const char *value)
{
	idle(k);
	return ca_hook_run(k->c->o.dns01_hook, action, name, value,
	                   HOOK_TIMEOUT);
}

/* Publishes one challenge response where the CA will look for it. */
static enum cw_err
publish(struct call *k, const struct acme_authz *z,
        const struct acme_challenge *c, const char *type)
{
	const struct ca_acme_opts *o = &k->c->o;
	struct ca_published p;
	char *ka = acme_key_authorization(k->a, c->token);
	char *txt = NULL, *name = NULL;
	enum cw_err rc = ka ? CW_OK : CW_ERR_NOMEM;

	if (rc == CW_OK && !strcmp(type, "http-01") &&
	    o->http01_webroot == NULL) {
		if (k->http01 == NULL)
			rc = ca_http01_start(o->http01_listen ? o->http01_listen
			                                      : ":80",
			                     &k->http01);
		if (rc == CW_OK)
			rc = ca_http01_add(k->http01, c->token, ka);
		k->responder_until_ms = cw_monotonic_ms() + RESPONDER_GRACE_MS;
		free(ka);
		return rc;
	}
	if (rc == CW_OK && !strcmp(type, "dns-01")) {
		txt = acme_dns01_value(k->a, c->token);
		name = cw_printf("_acme-challenge.%s", z->identifier);
		rc = txt && name ? CW_OK : CW_ERR_NOMEM;
	}
	/* recorded before it is published, so that a later run removes it */
	p = (struct ca_published){0,        z->url,        type, z->identifier,
	                          c->token, txt ? txt : ka};
	if (rc == CW_OK && k->h->publishing)
		rc = k->h->publishing(k->h->user, &p);
	if (rc == CW_OK && txt)
		rc = run_hook(k, "add", name, txt);
	else if (rc == CW_OK)
		rc = ca_webroot_put(o->http01_webroot, c->token, ka);
	free(ka);
	free(txt);
	free(name);
	return rc;
}

/* Removes one response published earlier (CW_OK: it is gone). */
static enum cw_err
unpublish(void *user, const struct ca_published *p)
{
	struct call *k = user;
	const struct ca_acme_opts *o = &k->c->o;
	char *name = NULL;
	enum cw_err rc = CW_OK;

	if (!strcmp(p->type, "dns-01") && o->dns01_hook) {
		name = cw_printf("_acme-challenge.%s", p->name);
		rc = name ? run_hook(k, "del", name, p->value) : CW_ERR_NOMEM;
	} else if (!strcmp(p->type, "http-01") && o->http01_webroot) {
		rc = ca_webroot_remove(o->http01_webroot, p->token);
	}
	free(name);
	if (rc != CW_OK)
		cw_warn("the %s response for '%s' could not be removed; the "
		        "next run tries again",
		        p->type, p->name);
	return rc;
}

static void
unpublish_all(struct call *k)
{
	if (k->h->each_published)
		k->h->each_published(k->h->user, unpublish, k);
}

static enum cw_err
answer(struct call *k, const struct acme_authz *z)
{
	const struct ca_acme_opts *o = &k->c->o;
	const char *type = o->challenge ? o->challenge : "http-01";
	const struct acme_challenge *c = NULL;
	enum cw_err rc;

	for (size_t i = 0; i < z->n && c == NULL; i++)
		if (!strcmp(z->v[i].type, type))
			c = &z->v[i];
	if (c == NULL || c->token == NULL) {
		cw_error("CA '%s' offers no %s challenge for '%s'; choose "
		         "another challenge in the CA profile",
		         o->name, type, z->identifier);
		return CW_ERR_CONFIG;
	}
	if (c->status != ACME_PENDING || k->diagnose_only ||
	    cw_strlist_contains(&k->answered, c->url))
		return CW_OK; /* being validated, or not to be answered */
	rc = publish(k, z, c, type);
	if (rc == CW_ERR_UNAVAILABLE || rc == CW_ERR_IO) {
		char *why = cw_printf("cannot publish the %s response for '%s' "
		                      "yet: %s",
		                      type, z->identifier, cw_last_error());

		set_problem(k, why);
		free(why);
		return CW_ERR_PENDING; /* the authorization waits */
	}
	if (rc == CW_OK)
		rc = acme_challenge_respond(k->a, c->url);
	if (rc == CW_OK)
		rc = cw_strlist_add(&k->answered, c->url);
	if (rc == CW_OK)
		cw_info("answered the %s challenge for '%s'", type,
		        z->identifier);
	return rc;
}

/* Looks at every authorization of a pending order; answers what waits. */
static enum cw_err
authorize(struct call *k)
{
	enum cw_err rc = CW_OK;

	for (size_t i = 0; rc == CW_OK && i < k->order.authorizations.n; i++) {
		struct acme_authz z;

		memset(&z, 0, sizeof(z));
		do
			rc = acme_authz_get(k->a, k->order.authorizations.v[i],
			                    &z);
		while (again(k, &rc));
		if (rc != CW_OK)
			break;
		if (z.retry_after > k->retry_at)
			k->retry_at = z.retry_after;
		if (z.status == ACME_PENDING) {
			rc = answer(k, &z);
		} else if (z.status != ACME_VALID) {
			char *why = NULL;

			for (size_t j = 0; j < z.n && why == NULL; j++)
				if (z.v[j].error)
					why = cw_printf("%s: %s", z.identifier,
					                z.v[j].error);
			set_problem(k, why ? why : "an authorization failed");
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
wait_poll(struct call *k)
{
	int64_t now = cw_monotonic_ms(), ms = k->delay_ms, end = k->deadline_ms;
	time_t t = time(NULL);
	struct timespec ts;

	/* what the built-in responder answered is validated while it runs */
	if (k->have_order && k->order.status == ACME_PENDING &&
	    k->responder_until_ms > end)
		end = k->responder_until_ms;
	if (k->retry_at > t)
		ms = (int64_t)(k->retry_at - t) * 1000;
	if (now + ms > end)
		return CW_ERR_PENDING;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	idle(k);
	nanosleep(&ts, NULL);
	if (k->delay_ms < POLL_MAX_MS)
		k->delay_ms = k->delay_ms * 2 > POLL_MAX_MS ? POLL_MAX_MS
		                                            : k->delay_ms * 2;
	k->retry_at = 0;
	return get_order(k);
}

/* Downloads the chain, or an alternate one the check accepts: another
 * chain may verify (CW_ERR_CONFIG), another key or names will not. */
static enum cw_err
download(struct call *k, struct ca_result *out)
{
	struct cw_strlist alt;
	const char *url = k->order.certificate;
	char *why = NULL;
	enum cw_err rc = CW_OK;

	cw_strlist_init(&alt);
	for (size_t next = 0; url != NULL;
	     url = next < alt.n ? alt.v[next++] : NULL) {
		struct cw_buf pem;

		cw_buf_init(&pem);
		ca_result_release(out);
		free(why);
		why = NULL;
		do
			rc = acme_certificate(k->a, url, &pem, &alt);
		while (again(k, &rc));
		if (rc == CW_OK && cw_buf_append(&pem, "", 1) != CW_OK)
			rc = CW_ERR_NOMEM;
		if (rc == CW_OK)
			rc = ca_parse_pem_certs((const char *)pem.data, out);
		if (rc == CW_OK && out->n_certs == 0) {
			cw_error("CA '%s' sent no certificate", k->c->o.name);
			rc = CW_ERR_PARSE;
		}
		cw_buf_release(&pem);
		if (rc == CW_OK && k->h->check)
			rc = k->h->check(k->h->user, out->certs, out->n_certs,
			                 &why);
		if (rc == CW_OK || why == NULL || rc != CW_ERR_CONFIG ||
		    next >= MAX_ALTERNATES)
			break;
		if (next < alt.n)
			cw_info("trying the CA's alternate chain %zu",
			        next + 1);
	}
	if (rc != CW_OK && why != NULL) {
		set_problem(k, why);
		if (rc == CW_ERR_CONFIG)
			cw_error("%s", why);
		else
			cw_error("the CA's certificate is refused: %s", why);
	}
	if (rc != CW_OK)
		ca_result_release(out);
	free(why);
	cw_strlist_release(&alt);
	return rc;
}

/* Whether the CA refused finalize only because the order was not ready
 * (RFC 8555 section 7.4: orderNotReady), which a later poll settles. */
static bool
not_ready(const struct call *k)
{
	const char *t = acme_problem(k->a)->type;

	return t && !strcmp(t, "urn:ietf:params:acme:error:orderNotReady");
}

static enum cw_err
drive(struct call *k, struct ca_result *out)
{
	enum cw_err rc = k->url == NULL ? new_order(k) : get_order(k);

	while (rc == CW_OK) {
		switch (k->order.status) {
		case ACME_PENDING:
			rc = authorize(k);
			if (rc == CW_OK)
				rc = wait_poll(k);
			break;
		case ACME_READY: {
			struct acme_order next;

			do
				rc = acme_finalize(k->a, &k->order, k->csr,
				                   &next);
			while (again(k, &rc));
			if (rc == CW_OK) {
				acme_order_release(&k->order);
				k->order = next;
				cw_crashpoint("acme:after-finalize");
			} else if (rc == CW_ERR_REJECTED && not_ready(k)) {
				rc =
				    wait_poll(k); /* the CA was not there yet */
			}
			break;
		}
		case ACME_PROCESSING: rc = wait_poll(k); break;
		case ACME_VALID:
			rc = download(k, out);
			if (rc == CW_OK) {
				cw_crashpoint("acme:before-import");
				rc = ca_result_set(out, CA_ISSUED, NULL);
			}
			return rc;
		default:
			set_problem(k, k->order.error.detail
			                   ? k->order.error.detail
			                   : "the CA invalidated the order");
			if (!k->order.error.detail &&
			    k->order.authorizations.n > 0) {
				k->diagnose_only = true;
				authorize(k); /* the authorization's why */
			}
			return CW_ERR_REJECTED;
		}
	}
	return rc;
}

/* The call's outcome as the interface's answer. */
static enum cw_err
conclude(struct call *k, enum cw_err rc, struct ca_result *out)
{
	bool settled = rc == CW_OK || rc == CW_ERR_CRYPTO;
	enum cw_err r = rc;

	if (rc == CW_ERR_UNREACHABLE || rc == CW_ERR_REJECTED)
		take_problem(k);
	if (rc == CW_ERR_PENDING || rc == CW_ERR_UNREACHABLE) {
		const char *why = k->problem;

		if (why == NULL)
			why = k->have_order ? acme_status_name(k->order.status)
			                    : "waiting for the CA";
		r = ca_result_set(
		    out, rc == CW_ERR_PENDING ? CA_PENDING : CA_UNREACHABLE,
		    why);
		out->next_attempt = k->retry_at;
		free(out->reference);
		out->reference = k->url ? strdup(k->url) : NULL;
		settled = k->have_order && k->order.status != ACME_PENDING;
	} else if (rc == CW_ERR_REJECTED) {
		r = ca_result_set(out, CA_REJECTED,
		                  k->problem ? k->problem : "rejected");
		settled = true;
	}
	if (settled)
		unpublish_all(k);
	return r;
}

static enum cw_err
order_call(struct ca_client *base, const struct cw_buf *csr,
           const struct cw_buf *state, int wait, struct ca_result *out)
{
	struct order_client *c = (struct order_client *)base;
	struct call k;
	enum cw_err rc = CW_OK;

	memset(&k, 0, sizeof(k));
	cw_strlist_init(&k.answered);
	k.c = c;
	k.a = c->o.account;
	k.h = &base->hooks;
	k.csr = csr;
	k.delay_ms = POLL_FIRST_MS;
	k.deadline_ms =
	    cw_monotonic_ms() + (int64_t)(wait > 0 ? wait : 0) * 1000;
	if (k.a == NULL) {
		cw_error("CA '%s': no ACME account to send the request with",
		         c->o.name);
		return CW_ERR_INTERNAL;
	}
	if (state != NULL) {
		k.url = strndup((const char *)state->data, state->len);
		if (k.url == NULL)
			rc = CW_ERR_NOMEM;
	}
	if (rc == CW_OK)
		rc = drive(&k, out);
	rc = conclude(&k, rc, out);
	ca_http01_stop(k.http01);
	acme_order_release(&k.order);
	cw_strlist_release(&k.answered);
	free(k.url);
	free(k.problem);
	return rc;
}

static enum cw_err
order_submit(struct ca_client *base, const struct cw_buf *csr, int wait,
             struct ca_result *out)
{
	return order_call(base, csr, NULL, wait, out);
}

static enum cw_err
order_poll(struct ca_client *base, const struct cw_buf *csr,
           const struct cw_buf *state, int wait, struct ca_result *out)
{
	if (state == NULL || state->len == 0) {
		cw_error("no saved ACME order to ask about");
		return CW_ERR_INTERNAL;
	}
	return order_call(base, csr, state, wait, out);
}

/* ACME cannot withdraw an order (RFC 8555 has no such request): what
 * was published for it is removed, the CA is not told. */
static enum cw_err
order_cancel(struct ca_client *base, const struct cw_buf *csr,
             const struct cw_buf *state)
{
	struct call k;

	(void)csr;
	(void)state;
	memset(&k, 0, sizeof(k));
	k.c = (struct order_client *)base;
	k.h = &base->hooks;
	unpublish_all(&k);
	return CW_ERR_UNAVAILABLE;
}

static void
order_free(struct ca_client *base)
{
	free(base);
}

static const struct ca_client_ops order_ops = {
    order_submit,
    order_poll,
    order_cancel,
    order_free,
};

enum cw_err
ca_acme_new(const struct ca_acme_opts *o, const struct ca_hooks *h,
            struct ca_client **out)
{
	struct order_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return CW_ERR_NOMEM;
	c->base.ops = &order_ops;
	c->base.hooks = *h;
	c->o = *o;
	*out = &c->base;
	return CW_OK;
}
