/* An ACME client (RFC 8555): directory, nonces, account, orders,
 * authorizations, challenges, finalization and certificate download. */
#define _DEFAULT_SOURCE
#include "ca_int.h"

#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* badNonce answers retried in a row before giving up (RFC 8555 6.5). */
#define NONCE_RETRIES 5

struct acme {
	struct ca_http *http;
	char *directory;
	struct jws_key key;
	char *kid;           /* account URL, once known */
	char *nonce;         /* the next nonce to use, if any */
	char *new_nonce, *new_account, *new_order;
	bool eab_required;
	struct ca_problem problem;
	unsigned nonce_retries;
};

static const char *const status_names[] = {
	[ACME_UNKNOWN] = "unknown",	      [ACME_PENDING] = "pending",
	[ACME_READY] = "ready",		      [ACME_PROCESSING] = "processing",
	[ACME_VALID] = "valid",		      [ACME_INVALID] = "invalid",
	[ACME_EXPIRED] = "expired",	      [ACME_DEACTIVATED] = "deactivated",
	[ACME_REVOKED] = "revoked",
};

const char *
acme_status_name(enum acme_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0])
		       ? status_names[s]
		       : "unknown";
}

static enum acme_status
status_of(const char *s)
{
	for (size_t i = 1; s && i < sizeof(status_names) / sizeof(*status_names);
	     i++)
		if (strcmp(s, status_names[i]) == 0)
			return (enum acme_status)i;
	return ACME_UNKNOWN;
}

enum cw_err
acme_new(const struct acme_opts *o, struct acme **out)
{
	struct acme *a;
	enum cw_err rc;

	if (o->directory == NULL || strncasecmp(o->directory, "https://", 8)) {
		cw_error("the ACME directory '%s' is not an https URL",
			 o->directory ? o->directory : "");
		return CW_ERR_CONFIG;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return CW_ERR_NOMEM;
	rc = ca_http_new(o->trust, o->timeout, &a->http);
	if (rc == CW_OK)
		rc = jws_key_init(&a->key, o->account_point, o->sign,
				  o->sign_user);
	if (rc == CW_OK && (a->directory = strdup(o->directory)) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc != CW_OK) {
		acme_free(a);
		return rc;
	}
	*out = a;
	return CW_OK;
}

void
acme_free(struct acme *a)
{
	if (a == NULL)
		return;
	ca_http_free(a->http);
	jws_key_release(&a->key);
	free(a->directory);
	free(a->kid);
	free(a->nonce);
	free(a->new_nonce);
	free(a->new_account);
	free(a->new_order);
	ca_problem_release(&a->problem);
	free(a);
}

const struct ca_problem *
acme_problem(const struct acme *a)
{
	return &a->problem;
}

unsigned
acme_nonce_retries(const struct acme *a)
{
	return a->nonce_retries;
}

/* Sets the problem to a local description (printf-like). */
static enum cw_err set_problem(struct acme *a, enum cw_err rc,
			       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum cw_err
set_problem(struct acme *a, enum cw_err rc, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ca_problem_release(&a->problem);
	a->problem.detail = strdup(buf);
	return a->problem.detail ? rc : CW_ERR_NOMEM;
}

static json_t *
parse_json(const struct cw_buf *b)
{
	return json_loadb((const char *)b->data, b->len, JSON_REJECT_DUPLICATES,
			  NULL);
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

enum cw_err
acme_parse_problem(const char *json, size_t len, struct ca_problem *out)
{
	json_t *j = json_loadb(json, len, 0, NULL), *subs, *s;
	struct cw_buf d;
	const char *type, *detail;
	size_t i;
	enum cw_err rc = CW_OK;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j)) {
		json_decref(j);
		return CW_ERR_PARSE;
	}
	cw_buf_init(&d);
	type = jstr(j, "type");
	detail = jstr(j, "detail");
	out->status = (long)json_integer_value(json_object_get(j, "status"));
	if (detail)
		rc = cw_buf_append(&d, detail, strlen(detail));
	subs = json_object_get(j, "subproblems");
	json_array_foreach(subs, i, s) {
		const char *sd = jstr(s, "detail");
		const char *id = jstr(json_object_get(s, "identifier"), "value");
		char *line = cw_printf("%s%s%s%s", d.len ? "; " : "",
				       id ? id : "", id ? ": " : "",
				       sd ? sd : "(no detail)");

		if (rc == CW_OK)
			rc = line ? cw_buf_append(&d, line, strlen(line))
				  : CW_ERR_NOMEM;
		free(line);
	}
	if (rc == CW_OK)
		rc = cw_buf_append(&d, "", 1);
	if (rc == CW_OK) {
		out->type = type ? strdup(type) : NULL;
		out->detail = strdup(d.len > 1 ? (char *)d.data
					       : "(the CA gave no detail)");
		if ((type && !out->type) || !out->detail)
			rc = CW_ERR_NOMEM;
	}
	if (rc != CW_OK)
		ca_problem_release(out);
	cw_buf_release(&d);
	json_decref(j);
	return rc;
}

/* Turns an HTTP answer that is not a success into a problem and code. */
static enum cw_err
answer_problem(struct acme *a, const char *url, struct ca_http_resp *r)
{
	struct ca_problem p;
	enum cw_err rc;

	if (acme_parse_problem((const char *)r->body.data, r->body.len, &p) !=
	    CW_OK) {
		memset(&p, 0, sizeof(p));
		p.detail = cw_printf("HTTP %ld from '%s'", r->status, url);
		if (p.detail == NULL)
			return CW_ERR_NOMEM;
	}
	p.status = r->status;
	p.retry_after = r->retry_after;
	ca_problem_release(&a->problem);
	a->problem = p;
	if (r->status >= 500 || r->status == 429 ||
	    (p.type && !strcmp(p.type, "urn:ietf:params:acme:error:rateLimited")))
		rc = CW_ERR_UNREACHABLE;
	else if (p.type &&
		 !strcmp(p.type,
			 "urn:ietf:params:acme:error:accountDoesNotExist"))
		rc = CW_ERR_NOT_FOUND;
	else
		rc = CW_ERR_REJECTED;
	return rc;
}

static enum cw_err
exchange(struct acme *a, const char *method, const char *url,
	 const char *body, struct ca_http_resp *r)
{
	enum cw_err rc = ca_http_do(a->http, method, url, body, r, &a->problem);

	if (rc != CW_OK) {
		free(a->problem.type);
		a->problem.type = NULL;
		a->problem.retry_after = 0;
	}
	return rc;
}

static enum cw_err
directory(struct acme *a)
{
	struct ca_http_resp r;
	json_t *j = NULL;
	enum cw_err rc;

	if (a->new_order != NULL)
		return CW_OK;
	rc = exchange(a, "GET", a->directory, NULL, &r);
	if (rc == CW_OK && r.status != 200)
		rc = answer_problem(a, a->directory, &r);
	/* (json_is_object is a macro that evaluates its argument twice) */
	if (rc == CW_OK)
		j = parse_json(&r.body);
	if (rc == CW_OK && !json_is_object(j))
		rc = set_problem(a, CW_ERR_PARSE,
				 "'%s' is not an ACME directory", a->directory);
	if (rc == CW_OK) {
		const char *nn = jstr(j, "newNonce"), *na = jstr(j, "newAccount");
		const char *no = jstr(j, "newOrder");

		if (!nn || !na || !no)
			rc = set_problem(a, CW_ERR_PARSE,
					 "the ACME directory '%s' lacks "
					 "newNonce, newAccount or newOrder",
					 a->directory);
		else if (!(a->new_nonce = strdup(nn)) ||
			 !(a->new_account = strdup(na)) ||
			 !(a->new_order = strdup(no)))
			rc = CW_ERR_NOMEM;
		a->eab_required = json_is_true(json_object_get(
			json_object_get(j, "meta"), "externalAccountRequired"));
	}
	json_decref(j);
	ca_http_resp_release(&r);
	return rc;
}

static enum cw_err
fresh_nonce(struct acme *a)
{
	struct ca_http_resp r;
	enum cw_err rc;

	if (a->nonce != NULL)
		return CW_OK;
	rc = exchange(a, "HEAD", a->new_nonce, NULL, &r);
	if (rc == CW_OK && r.nonce == NULL)
		rc = r.status >= 400 ? answer_problem(a, a->new_nonce, &r)
				     : set_problem(a, CW_ERR_PARSE,
						   "'%s' gave no nonce",
						   a->new_nonce);
	if (rc == CW_OK) {
		a->nonce = r.nonce;
		r.nonce = NULL;
	}
	ca_http_resp_release(&r);
	return rc;
}

static bool
is_bad_nonce(const struct ca_http_resp *r)
{
	struct ca_problem p;
	bool yes;

	if (r->status != 400 ||
	    acme_parse_problem((const char *)r->body.data, r->body.len, &p))
		return false;
	yes = p.type && !strcmp(p.type, "urn:ietf:params:acme:error:badNonce");
	ca_problem_release(&p);
	return yes;
}

/*
 * A signed POST (payload NULL: POST-as-GET). badNonce is retried with the
 * nonce the error carried, up to NONCE_RETRIES times. An answer that is
 * not 2xx becomes the problem; *r holds a 2xx answer on CW_OK.
 */
static enum cw_err
post(struct acme *a, const char *url, const char *payload, bool use_jwk,
     struct ca_http_resp *r)
{
	enum cw_err rc;

	memset(r, 0, sizeof(*r));
	rc = directory(a);

	for (int attempt = 0; rc == CW_OK; attempt++) {
		char *body = NULL;

		rc = fresh_nonce(a);
		if (rc == CW_OK)
			rc = jws_sign(&a->key, use_jwk ? NULL : a->kid,
				      a->nonce, url, payload, &body);
		free(a->nonce);
		a->nonce = NULL;
		if (rc == CW_OK)
			rc = exchange(a, "POST", url, body, r);
		free(body);
		if (rc != CW_OK)
			break;
		a->nonce = r->nonce; /* the next request's, even on error */
		r->nonce = NULL;
		if (!is_bad_nonce(r))
			break;
		if (attempt == NONCE_RETRIES) {
			answer_problem(a, url, r);
			ca_http_resp_release(r);
			return set_problem(a, CW_ERR_UNREACHABLE,
					   "the CA refused %d fresh nonces in "
					   "a row (badNonce); try again later",
					   NONCE_RETRIES + 1);
		}
		a->nonce_retries++;
		cw_debug("badNonce from '%s': retrying with the nonce of the "
			 "error answer",
			 url);
		ca_http_resp_release(r);
	}
	if (rc == CW_OK && (r->status < 200 || r->status > 299)) {
		rc = answer_problem(a, url, r);
		ca_http_resp_release(r);
	}
	return rc;
}

enum cw_err
acme_use_account(struct acme *a, const char *url)
{
	char *k = strdup(url);

	if (k == NULL)
		return CW_ERR_NOMEM;
	free(a->kid);
	a->kid = k;
	return CW_OK;
}

enum cw_err
acme_register(struct acme *a, const char *contact, const struct acme_eab *eab,
	      char **url)
{
	json_t *p = json_pack("{s:b}", "termsOfServiceAgreed", 1), *b = NULL;
	struct ca_http_resp r;
	char *payload = NULL;
	enum cw_err rc = p ? directory(a) : CW_ERR_NOMEM;

	memset(&r, 0, sizeof(r));
	if (rc == CW_OK && a->eab_required && (eab == NULL || !eab->kid))
		rc = set_problem(a, CW_ERR_REJECTED,
				 "the CA requires an external account binding: "
				 "set eab_kid and eab_hmac_file in the CA "
				 "profile, or give --eab-kid");
	if (rc == CW_OK && contact)
		rc = json_object_set_new(p, "contact",
					 json_pack("[s]", contact))
			     ? CW_ERR_NOMEM
			     : CW_OK;
	if (rc == CW_OK && eab && eab->kid) {
		rc = jws_eab(&a->key, eab->kid, eab->hmac, a->new_account, &b);
		if (rc == CW_OK && json_object_set_new(
					   p, "externalAccountBinding", b))
			rc = CW_ERR_NOMEM;
	}
	if (rc == CW_OK && (payload = json_dumps(p, JSON_COMPACT)) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = post(a, a->new_account, payload, true, &r);
	if (rc == CW_OK && r.location == NULL)
		rc = set_problem(a, CW_ERR_PARSE,
				 "newAccount answered without the account URL");
	if (rc == CW_OK)
		rc = acme_use_account(a, r.location);
	if (rc == CW_OK && (*url = strdup(r.location)) == NULL)
		rc = CW_ERR_NOMEM;
	free(payload);
	json_decref(p);
	ca_http_resp_release(&r);
	return rc;
}

void
acme_order_release(struct acme_order *o)
{
	if (o == NULL)
		return;
	free(o->url);
	free(o->finalize);
	free(o->certificate);
	cw_strlist_release(&o->authorizations);
	cw_strlist_release(&o->identifiers);
	ca_problem_release(&o->error);
	memset(o, 0, sizeof(*o));
}

static enum cw_err
strings_of(json_t *arr, const char *member, struct cw_strlist *out)
{
	json_t *v;
	size_t i;

	if (!json_is_array(arr))
		return CW_ERR_PARSE;
	json_array_foreach(arr, i, v) {
		const char *s = member ? jstr(v, member) : json_string_value(v);
		enum cw_err rc;

		if (s == NULL)
			return CW_ERR_PARSE;
		if ((rc = cw_strlist_add(out, s)) != CW_OK)
			return rc;
	}
	return CW_OK;
}

enum cw_err
acme_parse_order(const char *json, size_t len, struct acme_order *out)
{
	json_t *j = json_loadb(json, len, 0, NULL), *err;
	struct acme_order o;
	enum cw_err rc = CW_OK;

	memset(&o, 0, sizeof(o));
	if (!json_is_object(j)) {
		json_decref(j);
		return CW_ERR_PARSE;
	}
	o.status = status_of(jstr(j, "status"));
	if (o.status == ACME_UNKNOWN || jstr(j, "finalize") == NULL)
		rc = CW_ERR_PARSE;
	if (rc == CW_OK)
		rc = strings_of(json_object_get(j, "authorizations"), NULL,
				&o.authorizations);
	if (rc == CW_OK)
		rc = strings_of(json_object_get(j, "identifiers"), "value",
				&o.identifiers);
	if (rc == CW_OK && (o.finalize = strdup(jstr(j, "finalize"))) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK && jstr(j, "certificate") &&
	    (o.certificate = strdup(jstr(j, "certificate"))) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK && (err = json_object_get(j, "error")) != NULL) {
		char *text = json_dumps(err, JSON_COMPACT);

		rc = text ? acme_parse_problem(text, strlen(text), &o.error)
			  : CW_ERR_NOMEM;
		free(text);
	}
	if (rc == CW_OK && o.status == ACME_VALID && o.certificate == NULL)
		rc = CW_ERR_PARSE;
	json_decref(j);
	if (rc != CW_OK) {
		acme_order_release(&o);
		return rc;
	}
	*out = o;
	return CW_OK;
}

/* A 2xx answer carrying an order. */
static enum cw_err
order_answer(struct acme *a, const char *url, struct ca_http_resp *r,
	     struct acme_order *out)
{
	enum cw_err rc = acme_parse_order((const char *)r->body.data,
					  r->body.len, out);

	if (rc == CW_ERR_PARSE)
		return set_problem(a, rc, "'%s' did not answer with an order",
				   url);
	if (rc == CW_OK && (out->url = strdup(url)) == NULL) {
		acme_order_release(out);
		return CW_ERR_NOMEM;
	}
	if (rc == CW_OK)
		out->retry_after = r->retry_after;
	return rc;
}

enum cw_err
acme_order_new(struct acme *a, const struct cw_strlist *names,
	       struct acme_order *out)
{
	json_t *ids = json_array(), *p;
	struct ca_http_resp r;
	char *payload = NULL;
	enum cw_err rc;

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; ids && i < names->n; i++)
		json_array_append_new(ids, json_pack("{s:s, s:s}", "type",
						     "dns", "value",
						     names->v[i]));
	p = ids ? json_pack("{s:o}", "identifiers", ids) : NULL;
	payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	rc = payload ? directory(a) : CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = post(a, a->new_order, payload, false, &r);
	if (rc == CW_OK && r.location == NULL)
		rc = set_problem(a, CW_ERR_PARSE,
				 "newOrder answered without the order URL");
	if (rc == CW_OK)
		rc = order_answer(a, r.location, &r, out);
	free(payload);
	ca_http_resp_release(&r);
	return rc;
}

enum cw_err
acme_order_get(struct acme *a, const char *url, struct acme_order *out)
{
	struct ca_http_resp r;
	enum cw_err rc = post(a, url, NULL, false, &r);

	if (rc == CW_OK)
		rc = order_answer(a, url, &r, out);
	ca_http_resp_release(&r);
	return rc;
}

enum cw_err
acme_finalize(struct acme *a, const struct acme_order *o,
	      const struct cw_buf *csr, struct acme_order *out)
{
	char *b64 = ca_base64url(csr->data, csr->len);
	char *payload = b64 ? cw_printf("{\"csr\":\"%s\"}", b64) : NULL;
	struct ca_http_resp r;
	enum cw_err rc = payload ? post(a, o->finalize, payload, false, &r)
				 : CW_ERR_NOMEM;

	/* the answer is the order; its URL is the one we hold */
	if (rc == CW_OK)
		rc = order_answer(a, o->url, &r, out);
	if (payload)
		ca_http_resp_release(&r);
	free(b64);
	free(payload);
	return rc;
}

void
acme_authz_release(struct acme_authz *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->n; i++) {
		free(z->v[i].type);
		free(z->v[i].url);
		free(z->v[i].token);
		free(z->v[i].error);
	}
	free(z->v);
	free(z->url);
	free(z->identifier);
	memset(z, 0, sizeof(*z));
}

static enum cw_err
parse_challenge(json_t *c, struct acme_challenge *out)
{
	const char *type = jstr(c, "type"), *url = jstr(c, "url");
	const char *token = jstr(c, "token");
	json_t *err = json_object_get(c, "error");

	memset(out, 0, sizeof(*out));
	if (type == NULL || url == NULL)
		return CW_ERR_PARSE;
	/* a token is used in a file name and a URL path: base64url only */
	if (token && !ca_is_base64url(token))
		return CW_ERR_PARSE;
	out->status = status_of(jstr(c, "status"));
	out->type = strdup(type);
	out->url = strdup(url);
	out->token = token ? strdup(token) : NULL;
	if (err && jstr(err, "detail"))
		out->error = strdup(jstr(err, "detail"));
	if (!out->type || !out->url || (token && !out->token))
		return CW_ERR_NOMEM;
	return CW_OK;
}

enum cw_err
acme_parse_authz(const char *json, size_t len, struct acme_authz *out)
{
	json_t *j = json_loadb(json, len, 0, NULL), *chs, *c;
	struct acme_authz z;
	const char *id;
	size_t i;
	enum cw_err rc = CW_OK;

	memset(&z, 0, sizeof(z));
	if (!json_is_object(j)) {
		json_decref(j);
		return CW_ERR_PARSE;
	}
	id = jstr(json_object_get(j, "identifier"), "value");
	chs = json_object_get(j, "challenges");
	z.status = status_of(jstr(j, "status"));
	z.wildcard = json_is_true(json_object_get(j, "wildcard"));
	if (id == NULL || !json_is_array(chs) || z.status == ACME_UNKNOWN ||
	    json_array_size(chs) > 16)
		rc = CW_ERR_PARSE;
	if (rc == CW_OK && (z.identifier = strdup(id)) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK && json_array_size(chs) > 0 &&
	    (z.v = calloc(json_array_size(chs), sizeof(*z.v))) == NULL)
		rc = CW_ERR_NOMEM;
	json_array_foreach(chs, i, c) {
		if (rc != CW_OK)
			break;
		rc = parse_challenge(c, &z.v[i]);
		z.n = i + 1;
	}
	json_decref(j);
	if (rc != CW_OK) {
		acme_authz_release(&z);
		return rc;
	}
	*out = z;
	return CW_OK;
}

enum cw_err
acme_authz_get(struct acme *a, const char *url, struct acme_authz *out)
{
	struct ca_http_resp r;
	enum cw_err rc = post(a, url, NULL, false, &r);

	if (rc != CW_OK)
		return rc;
	rc = acme_parse_authz((const char *)r.body.data, r.body.len, out);
	if (rc == CW_ERR_PARSE)
		rc = set_problem(a, rc,
				 "'%s' did not answer with an authorization",
				 url);
	if (rc == CW_OK && (out->url = strdup(url)) == NULL) {
		acme_authz_release(out);
		rc = CW_ERR_NOMEM;
	}
	if (rc == CW_OK)
		out->retry_after = r.retry_after;
	ca_http_resp_release(&r);
	return rc;
}

enum cw_err
acme_challenge_respond(struct acme *a, const char *url)
{
	struct ca_http_resp r;
	enum cw_err rc = post(a, url, "{}", false, &r);

	ca_http_resp_release(&r);
	return rc;
}

char *
acme_key_authorization(const struct acme *a, const char *token)
{
	return cw_printf("%s.%s", token, a->key.thumbprint);
}

char *
acme_dns01_value(const struct acme *a, const char *token)
{
	char *ka = acme_key_authorization(a, token), *v;
	unsigned char d[SHA256_DIGEST_LENGTH];

	if (ka == NULL)
		return NULL;
	SHA256((const unsigned char *)ka, strlen(ka), d);
	free(ka);
	v = ca_base64url(d, sizeof(d));
	return v;
}

enum cw_err
acme_certificate(struct acme *a, const char *url, struct cw_buf *pem,
		 struct cw_strlist *alternates)
{
	struct ca_http_resp r;
	enum cw_err rc = post(a, url, NULL, false, &r);

	if (rc != CW_OK)
		return rc;
	if (r.content_type &&
	    strncasecmp(r.content_type, "application/pem-certificate-chain",
			33) != 0)
		rc = set_problem(a, CW_ERR_PARSE,
				 "'%s' answered '%s', not a PEM chain", url,
				 r.content_type);
	for (size_t i = 0; rc == CW_OK && i < r.links_alternate.n; i++)
		rc = cw_strlist_add(alternates, r.links_alternate.v[i]);
	if (rc == CW_OK)
		rc = cw_buf_set(pem, r.body.data, r.body.len);
	ca_http_resp_release(&r);
	return rc;
}
