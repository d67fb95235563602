/* Internal to src/ca. */
#ifndef CW_CA_INT_H
#define CW_CA_INT_H

#include "certwiz/ca.h"

#include <jansson.h>

/* Answers larger than this are cut off and refused. */
#define CA_MAX_BODY (1u << 20)

/* One HTTPS connection (reused between exchanges). */
struct ca_http;

struct ca_http_resp {
	long status;
	struct cw_buf body;
	char *content_type;
	char *nonce;        /* Replay-Nonce, when it is valid base64url */
	char *location;
	time_t retry_after; /* 0 when absent */
	struct cw_strlist links_alternate;
};

void ca_http_resp_release(struct ca_http_resp *r);

/*
 * trust: CA bundle (NULL: the system's); timeout in seconds. TLS
 * verification is always on; only https is allowed, redirects are not
 * followed.
 */
enum cw_err ca_http_new(const char *trust, long timeout, struct ca_http **out);
void ca_http_free(struct ca_http *h);

/*
 * One exchange: method "GET", "HEAD" or "POST" (body sent as
 * application/jose+json). A transport failure fills problem and returns
 * CW_ERR_UNREACHABLE, or CW_ERR_CONFIG when TLS verification failed or the
 * URL is not https; any HTTP status is CW_OK with out filled.
 */
enum cw_err ca_http_do(struct ca_http *h, const char *method, const char *url,
		       const char *body, struct ca_http_resp *out,
		       struct ca_problem *problem);

/* For CMP: http is allowed too (every message carries its own
 * protection), and each exchange has a connection of its own (a CA may
 * tie a transaction to a connection that stays open). */
void ca_http_for_cmp(struct ca_http *h);

/* A POST of body (binary) as content_type, the same way. */
enum cw_err ca_http_post(struct ca_http *h, const char *url,
			 const char *content_type, const struct cw_buf *body,
			 struct ca_http_resp *out, struct ca_problem *problem);

/* JWS (RFC 7515, flattened JSON serialization) signed with ES256 (P-256)
 * or ES384 (P-384), as the account key's curve says. */
struct jws_key {
	char *jwk;        /* canonical JWK JSON of the public key */
	char *thumbprint; /* RFC 7638, base64url */
	const char *alg;  /* "ES256" | "ES384" */
	size_t sig_len;   /* raw r||s: 64 | 96 */
	acme_sign_fn sign;
	void *user;
};

enum cw_err jws_key_init(struct jws_key *k, const struct cw_buf *point,
			 acme_sign_fn sign, void *user);
void jws_key_release(struct jws_key *k);

/*
 * The JWS body for url with nonce; kid NULL: the JWK goes in the header
 * (newAccount). payload NULL: POST-as-GET (empty payload). eab, when set,
 * is included in the payload object as externalAccountBinding... built by
 * jws_eab and passed as part of payload by the caller.
 */
enum cw_err jws_sign(const struct jws_key *k, const char *kid,
		     const char *nonce, const char *url, const char *payload,
		     char **out);

/* The externalAccountBinding object (a JWS made with HS256 over the JWK). */
enum cw_err jws_eab(const struct jws_key *k, const char *kid,
		    const struct cw_secret *hmac_b64url, const char *url,
		    json_t **out);


/* Appends one DER certificate to an issued result. */
enum cw_err ca_result_add_cert(struct ca_result *r, const unsigned char *der,
			       size_t n);
/* A DER CSR as PEM text, NUL-terminated. */
enum cw_err ca_pem_csr(const struct cw_buf *der, struct cw_buf *out);
/* Every PEM certificate in text, appended to out (DER). */
enum cw_err ca_parse_pem_certs(const char *text, struct ca_result *out);
/* Sets the answer and a copy of reason (NULL: none). */
enum cw_err ca_result_set(struct ca_result *r, enum ca_answer a,
			  const char *reason);

#endif
