/* certwiz: online certificate authorities (ACME, CMP, certmonger CA
 * helpers) behind one submit/poll interface. The only layer that includes
 * curl. */
#ifndef CW_CA_H
#define CW_CA_H

#include "certwiz/config.h"
#include "certwiz/err.h"
#include "certwiz/secret.h"
#include "certwiz/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * What crosses this interface is plain data: a DER CSR in, DER
 * certificates out. Signatures are made by a callback, so that the ACME
 * account key can stay on a token this layer never sees.
 */

/* What a CA said when it did not do what was asked (all owned). */
struct ca_problem {
	char *type;         /* ACME error type ("urn:...:badNonce") or NULL */
	char *detail;       /* the CA's words (subproblems appended), or what
			       failed on this side */
	long status;        /* HTTP status; 0 when no answer came */
	time_t retry_after; /* when to try again, absolute; 0: not said */
};

void ca_problem_release(struct ca_problem *p);

/* Retry-After values are clamped to at most a day from now. */
#define CA_RETRY_AFTER_MAX (24 * 3600)

/*
 * Parses a Retry-After header value: delta-seconds or an HTTP-date (RFC
 * 9110 section 10.2.3), clamped to [now, now + CA_RETRY_AFTER_MAX].
 * CW_ERR_PARSE when it is neither.
 */
enum cw_err ca_retry_after_parse(const char *value, time_t now, time_t *out);

/*
 * The target of the first Link header value with rel=REL ("up",
 * "alternate", "index") in one header line's value; CW_ERR_NOT_FOUND.
 * *out is a new string.
 */
enum cw_err ca_link_parse(const char *value, const char *rel, char **out);

/* base64url without padding (RFC 7515 section 2); NULL on failure. */
char *ca_base64url(const unsigned char *p, size_t n);
/* Whether s is non-empty base64url (a valid Replay-Nonce or token). */
bool ca_is_base64url(const char *s);
/* Decodes base64url (padding optional); CW_ERR_PARSE. */
enum cw_err ca_unbase64url(const char *s, size_t len, struct cw_buf *out);

/*
 * Signs the JWS signing input with the account key: ES256 (SHA-256, ECDSA
 * P-256, raw r||s of 64 bytes) or ES384 (SHA-384, P-384, 96 bytes), as the
 * account point's size says.
 */
typedef enum cw_err (*acme_sign_fn)(void *user, const unsigned char *data,
				    size_t len, struct cw_buf *sig);

struct acme_opts {
	const char *directory;   /* https URL of the ACME directory */
	const char *trust;       /* PEM bundle that verifies the CA's TLS
				    certificate; NULL: the system's */
	const struct cw_buf *account_point; /* uncompressed P-256 or P-384
					       point */
	acme_sign_fn sign;
	void *sign_user;
	long timeout;            /* seconds per HTTP exchange; 0: 30 */
};

/* An ACME client for one directory and one account key. */
struct acme;

/*
 * Checks the options (https only) without any network I/O; the directory
 * is fetched on first use.
 */
enum cw_err acme_new(const struct acme_opts *o, struct acme **out);
void acme_free(struct acme *a);

/*
 * The CA's last problem: set when a call returns CW_ERR_REJECTED,
 * CW_ERR_UNREACHABLE, CW_ERR_NOT_FOUND (account unknown to the CA) or
 * CW_ERR_CONFIG (TLS verification, scheme); borrowed until the next call.
 */
const struct ca_problem *acme_problem(const struct acme *a);

/* How many badNonce answers were retried so far (diagnostics, tests). */
unsigned acme_nonce_retries(const struct acme *a);

/*
 * Every call below returns CW_OK, or: CW_ERR_UNREACHABLE (no answer,
 * timeout, 5xx, 429, or badNonce six times in a row: try later; the
 * problem's retry_after says when if the CA did), CW_ERR_REJECTED (the CA
 * refused: its problem document is in acme_problem), CW_ERR_NOT_FOUND (the
 * account is unknown to the CA: register again), CW_ERR_CONFIG (the CA's
 * TLS certificate does not verify, a URL is not https), CW_ERR_PARSE (an
 * answer that is not what RFC 8555 says).
 */

/* External account binding (RFC 8555 section 7.3.4): the key id and the
 * MAC key as the CA hands it out (base64url text, in a secret). */
struct acme_eab {
	const char *kid;
	const struct cw_secret *hmac;
};

/*
 * Registers the account key (newAccount; an account that exists for this
 * key is returned as it is) with an optional contact ("mailto:...") and
 * EAB; afterwards the client signs with the account URL. *url is new.
 */
enum cw_err acme_register(struct acme *a, const char *contact,
			  const struct acme_eab *eab, char **url);
/* Uses an account registered earlier. */
enum cw_err acme_use_account(struct acme *a, const char *url);

enum acme_status {
	ACME_UNKNOWN = 0,
	ACME_PENDING,
	ACME_READY,
	ACME_PROCESSING,
	ACME_VALID,
	ACME_INVALID,
	ACME_EXPIRED,
	ACME_DEACTIVATED,
	ACME_REVOKED,
};

const char *acme_status_name(enum acme_status s);

struct acme_order {
	char *url;
	enum acme_status status;
	char *finalize;
	char *certificate;          /* when valid */
	struct cw_strlist authorizations;
	struct cw_strlist identifiers;
	struct ca_problem error;    /* when invalid, if the CA said why */
	time_t retry_after;         /* from the answer's header, or 0 */
};

void acme_order_release(struct acme_order *o);

/* newOrder for these DNS names; out->url is the order's URL. */
enum cw_err acme_order_new(struct acme *a, const struct cw_strlist *names,
			   struct acme_order *out);
/* POST-as-GET of an order. */
enum cw_err acme_order_get(struct acme *a, const char *url,
			   struct acme_order *out);
/* Sends the CSR (DER) to the order's finalize URL. */
enum cw_err acme_finalize(struct acme *a, const struct acme_order *o,
			  const struct cw_buf *csr, struct acme_order *out);

struct acme_challenge {
	char *type;   /* "http-01", "dns-01", ... */
	char *url;
	char *token;
	enum acme_status status;
	char *error;  /* the CA's detail when invalid */
};

struct acme_authz {
	char *url;
	char *identifier;
	bool wildcard;
	enum acme_status status;
	struct acme_challenge *v;
	size_t n;
	time_t retry_after;
};

void acme_authz_release(struct acme_authz *z);

enum cw_err acme_authz_get(struct acme *a, const char *url,
			   struct acme_authz *out);
/* Tells the CA the challenge is ready to be validated (POST {}). */
enum cw_err acme_challenge_respond(struct acme *a, const char *url);

/*
 * What a challenge needs published: the key authorization (http-01 file
 * content) and the dns-01 TXT value. New strings, NULL on failure.
 */
char *acme_key_authorization(const struct acme *a, const char *token);
char *acme_dns01_value(const struct acme *a, const char *token);

/*
 * Downloads a certificate chain (application/pem-certificate-chain).
 * alternates receives the URLs of alternate chains (Link rel=alternate).
 */
enum cw_err acme_certificate(struct acme *a, const char *url,
			     struct cw_buf *pem, struct cw_strlist *alternates);

/*
 * Parsers of the CA's JSON, pure (no I/O): used by the client and by the
 * fuzz target. CW_ERR_PARSE for anything RFC 8555 does not allow.
 */
enum cw_err acme_parse_order(const char *json, size_t len,
			     struct acme_order *out);
enum cw_err acme_parse_authz(const char *json, size_t len,
			     struct acme_authz *out);
enum cw_err acme_parse_problem(const char *json, size_t len,
			       struct ca_problem *out);

/*
 * Challenge responders.
 *
 * The built-in http-01 responder listens on ADDR:PORT ("127.0.0.1:5002",
 * "[::1]:80", ":80" for every address) in a thread of its own and answers
 * GET /.well-known/acme-challenge/TOKEN with the key authorization of the
 * tokens added; it stops with ca_http01_stop (NULL is fine), closing every
 * connection at once. Connections are served side by side, each with an
 * idle timeout (5 s) and a total deadline (10 s, or what
 * ca_http01_set_deadline says); one address holds at most 8 at once.
 * CW_ERR_UNAVAILABLE when it cannot listen (the port is taken).
 */
struct ca_http01;

enum cw_err ca_http01_start(const char *listen, struct ca_http01 **out);
enum cw_err ca_http01_add(struct ca_http01 *s, const char *token,
			  const char *keyauth);
void ca_http01_stop(struct ca_http01 *s);
/* Requests answered so far (diagnostics, tests). */
unsigned ca_http01_served(const struct ca_http01 *s);
/* The total deadline of each connection, in milliseconds (tests). */
void ca_http01_set_deadline(struct ca_http01 *s, int ms);

/*
 * http-01 through a web server's document root: writes (atomically, mode
 * 0644) or removes DIR/.well-known/acme-challenge/TOKEN. Removing a file
 * that is not there is not an error.
 */
enum cw_err ca_webroot_put(const char *dir, const char *token,
			   const char *keyauth);
enum cw_err ca_webroot_remove(const char *dir, const char *token);

/*
 * dns-01 through a hook: runs HOOK ACTION NAME VALUE (ACTION "add" or
 * "del", NAME "_acme-challenge.example.test") with posix_spawn (never
 * fork: the process holds PKCS#11 sessions) and waits for it, at most
 * timeout seconds. A non-zero exit or a timeout is CW_ERR_UNAVAILABLE.
 */
enum cw_err ca_hook_run(const char *hook, const char *action,
			const char *name, const char *value, int timeout);

/*
 * One interface for the CAs a request is sent to and asked again about
 * (ACME, CMP, certmonger CA helpers): a DER CSR goes in, and each call answers
 * issued (the certificates, leaf first), pending (a reference, the state a
 * later run resumes from, when to ask again), rejected (why) or
 * unreachable. What a protocol must remember between runs is opaque bytes
 * it hands to the save hook the moment it has them, so that a run cut
 * short anywhere is resumed, never sent again as a new request.
 */
enum ca_answer {
	CA_ISSUED = 1,
	CA_PENDING,
	CA_REJECTED,
	CA_UNREACHABLE,
};

struct ca_result {
	enum ca_answer answer;
	struct cw_buf *certs; /* issued: DER, leaf first */
	size_t n_certs;
	char *reference;      /* pending: what the CA calls the request */
	time_t next_attempt;  /* pending: not before (0: any time) */
	char *reason;         /* rejected, unreachable: in the CA's words */
};

void ca_result_release(struct ca_result *r);

/* Something a protocol published for the CA to look at (an ACME
 * challenge response), recorded through the hooks before it is
 * published, so that a later run removes it when this one cannot. */
struct ca_published {
	int64_t id;          /* the caller's, once recorded */
	const char *authz;   /* ACME: the authorization's URL */
	const char *type;    /* "http-01", "dns-01" */
	const char *name;    /* the identifier */
	const char *token;
	const char *value;   /* what was published */
};

/* Removes one published thing; CW_OK when it is gone. */
typedef enum cw_err (*ca_published_fn)(void *fnuser,
				       const struct ca_published *p);

struct ca_hooks {
	/* Writes the protocol's state (and the reference shown for it) at
	 * once; an error stops the call. */
	enum cw_err (*save)(void *user, const struct cw_buf *state,
			    const char *reference);
	/* Whether issued certificates are what was asked for (key, names,
	 * chain), before the protocol confirms them to the CA (CMP's
	 * certConf); CW_ERR_CRYPTO (key, names) or CW_ERR_CONFIG (the chain
	 * does not verify: another chain may) with *why set refuses them.
	 * NULL: yes. */
	enum cw_err (*check)(void *user, const struct cw_buf *certs, size_t n,
			     char **why);
	/* The call is about to wait (between polls, for a hook): what the
	 * caller holds may be left to others meanwhile. NULL: nothing. */
	void (*idle)(void *user);
	/* The CA no longer knows the credentials (ACME: the account): the
	 * caller renews them; CW_OK to try again. NULL: not renewed. */
	enum cw_err (*renew)(void *user);
	/* Records p before it is published (sets p->id). NULL: not kept. */
	enum cw_err (*publishing)(void *user, struct ca_published *p);
	/* Calls fn for each thing recorded and not yet removed, and forgets
	 * those fn removed. */
	enum cw_err (*each_published)(void *user, ca_published_fn fn,
				      void *fnuser);
	void *user;
};

struct ca_client;

/*
 * Each call returns CW_OK with out filled for the four answers, or an
 * error on this side or in what the CA sent (CW_ERR_CONFIG: the
 * credentials or the configuration; CW_ERR_PARSE: an answer that is not
 * the protocol's; CW_ERR_CRYPTO: issued certificates the check refused,
 * which the CA was told of where the protocol allows). wait is how long
 * the call may wait for the CA to decide, in seconds (0: ask once).
 */
enum cw_err ca_submit(struct ca_client *c, const struct cw_buf *csr,
		      int wait, struct ca_result *out);
/* Asks again about a request (its CSR, as submitted) from its saved
 * state. */
enum cw_err ca_poll(struct ca_client *c, const struct cw_buf *csr,
		    const struct cw_buf *state, int wait,
		    struct ca_result *out);
/* Tells the CA the request is withdrawn, and removes what was published
 * for it: CW_OK when the CA was told, CW_ERR_UNAVAILABLE when the
 * protocol has no way to (helpers, ACME) or there was nothing to tell
 * (decided, or never answered). */
enum cw_err ca_cancel(struct ca_client *c, const struct cw_buf *csr,
		      const struct cw_buf *state);
void ca_client_free(struct ca_client *c);

/* CMP (RFC 4210, RFC 9480): a p10cr protected by a password-based MAC
 * (reference and shared secret). */
struct ca_cmp_opts {
	const char *server;      /* http:// (libcrypto's client) or https://
				    (libcurl, TLS verified against trust) */
	const char *reference;   /* senderKID of the MAC */
	const struct cw_secret *secret;
	const char *recipient;   /* "/CN=..." or NULL */
	const char *trust;       /* PEM: TLS of an https server, and
				    signature-protected answers; NULL: none */
	const char *template;    /* certProfile (RFC 9480), or NULL */
	long timeout;            /* seconds per exchange; 0: 30 */
};

enum cw_err ca_cmp_new(const struct ca_cmp_opts *o, const struct ca_hooks *h,
		       struct ca_client **out);

/* certmonger's CA-helper protocol: the command is run without a shell
 * with CERTMONGER_OPERATION, CERTMONGER_CSR, CERTMONGER_CA_COOKIE and
 * CERTMONGER_CA_PROFILE, its exit code says what happened. */
struct ca_helper_opts {
	const char *command;     /* words, the first an absolute path */
	const char *template;    /* CERTMONGER_CA_PROFILE, or NULL */
	const char *nickname;    /* CERTMONGER_CA_NICKNAME */
	const struct cw_secret *secret; /* given on descriptor 3 when set */
	long timeout;            /* seconds the helper may take; 0: 60 */
};

enum cw_err ca_helper_new(const struct ca_helper_opts *o,
			  const struct ca_hooks *h, struct ca_client **out);

/* ACME (RFC 8555) behind the same interface: an order for the CSR's
 * names, its challenges answered, finalized with the CSR; the saved state
 * is the order's URL. */
struct ca_acme_opts {
	struct acme *account;     /* registered, signing with the account
				     key (borrowed); NULL: only ca_cancel */
	const struct cw_buf *account_spki; /* a CSR for this key is refused */
	const char *name;         /* the CA profile, in messages */
	const char *challenge;    /* "http-01" (NULL) or "dns-01" */
	const char *http01_listen;  /* the built-in responder's; NULL: ":80" */
	const char *http01_webroot; /* instead of the responder */
	const char *dns01_hook;
};

enum cw_err ca_acme_new(const struct ca_acme_opts *o, const struct ca_hooks *h,
			struct ca_client **out);

/* What a run gives a CA to know who asks (each protocol takes its own). */
struct ca_credentials {
	const char *reference;          /* CMP: the MAC's reference */
	const struct cw_secret *secret; /* CMP's MAC, a helper's fd 3 */
	struct acme *account;           /* ACME: the account's client */
	const struct cw_buf *account_spki; /* ACME: the account's key */
};

/*
 * A client for the CA profile p with this run's credentials and template
 * (NULL: the profile's).
 */
enum cw_err ca_client_for(const struct cw_ca_profile *p,
			  const struct ca_credentials *cr,
			  const char *template, const struct ca_hooks *h,
			  struct ca_client **out);
/* Whether p's protocol cannot go without a shared secret (CMP's MAC). */
bool ca_needs_secret(const struct cw_ca_profile *p);
/* Whether p's protocol sends with an account the caller opens (ACME). */
bool ca_needs_account(const struct cw_ca_profile *p);

/* Internal to the protocols: the table behind struct ca_client. */
struct ca_client_ops {
	enum cw_err (*submit)(struct ca_client *, const struct cw_buf *, int,
			      struct ca_result *);
	enum cw_err (*poll)(struct ca_client *, const struct cw_buf *,
			    const struct cw_buf *, int, struct ca_result *);
	enum cw_err (*cancel)(struct ca_client *, const struct cw_buf *,
			      const struct cw_buf *);
	void (*free)(struct ca_client *);
};

struct ca_client {
	const struct ca_client_ops *ops;
	struct ca_hooks hooks;
};

#endif
