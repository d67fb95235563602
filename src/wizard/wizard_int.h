/* Internal to src/wizard. */
#ifndef CW_WIZARD_INT_H
#define CW_WIZARD_INT_H

#include "certwiz/audit.h"
#include "certwiz/ca.h"
#include "certwiz/policy.h"

#include <jansson.h>
#include "certwiz/key.h"
#include "certwiz/wizard.h"
#include "certwiz/x509.h"

struct wiz {
	struct cw_config cfg;
	char *host;                    /* the host meant (--host) */
	char *own_host;                /* this machine's ([topology] host) */
	struct cw_secret_source pin;
	struct topo *topo;
	struct store *store;
	struct tok_ctx *tokens;
	struct tok_session **sessions; /* logged in, one per token */
	size_t n_sessions;
	char *user;                    /* the caller's name */
	unsigned uid;                  /* the caller's uid */
	bool admin;                    /* the caller is an administrator */
	bool caller_set;
	bool changing;                 /* see wiz_set_changing */
	int tokens_lock;               /* fd of the tokens lock, or -1 */
	bool tokens_locked;
	const struct wiz_output *output;
#define WIZ_MAX_STAGED 8
	struct cw_atomic staged[WIZ_MAX_STAGED]; /* without an output */
};

/* The files a verb produces, through the front end's output (output.c):
 * see struct wiz_output. wiz_out_write stages and publishes. */
enum cw_err wiz_out_stage(struct wiz *w, const char *path, const void *data,
			  size_t n, int mode, bool force);
enum cw_err wiz_out_publish(struct wiz *w, const char *path);
void wiz_out_retract(struct wiz *w, const char *path);
enum cw_err wiz_out_write(struct wiz *w, const char *path, const void *data,
			  size_t n, int mode, bool force);
void wiz_out_release(struct wiz *w);

/* export --server (serve.c): adds the server's files to r (paths) and
 * their contents to contents[0..3], in the same order. */
enum cw_err wiz_export_server(struct wiz *w, const char *usage, const char *dir,
                              const struct wiz_export_opts *o,
                              struct wiz_export_result *r, char **contents);

/* A renewal event: logged, and given to [renew] notify (notify.c). c:
 * the certificate concerned, or NULL. */
void wiz_notify(struct wiz *w, const char *event, const char *severity,
		const char *usage, const struct store_cert *c,
		const char *detail);

/* The PKCS#11 modules, loaded on first use (after wiz_tokens_take). */
enum cw_err wiz_modules(struct wiz *w, struct tok_ctx **out);

/*
 * certwiz processes that share a store take turns at the tokens: a module
 * may not be safe for several processes at once (SoftHSM2's file store
 * rewrites its token file in place). wiz_tokens_take waits (at most two
 * minutes) for the lock, a file beside the store, before the modules are
 * initialised; it is held until the process ends, except between
 * wiz_tokens_release and the next wiz_tokens_take (an online request
 * waiting for its CA). No store configured: no lock.
 */
enum cw_err wiz_tokens_take(struct wiz *w);
void wiz_tokens_release(struct wiz *w);

/* The configured topology, loaded on first use. */
enum cw_err wiz_topology(struct wiz *w, const struct topo **out);

/*
 * The logged-in session of the token uri names: opened and logged in on
 * first use, then reused, so that a process logs in to a token once. The
 * session belongs to the wizard (closed by wiz_free).
 */
enum cw_err wiz_open_token(struct wiz *w, const char *uri,
			   struct tok_session **out);

/* Copies a store token row into the URI of that token. */
char *wiz_token_uri(const struct store_token *t);

/*
 * Why cert cannot serve usage u at now, one line per reason (expired, not
 * yet valid, a name or EKU the usage needs and the certificate lacks);
 * empty when it fits. Key and chain are checked elsewhere.
 */
enum cw_err wiz_fit_problems(const struct store_cert *cert,
			     const struct topo_usage *u, time_t now,
			     struct cw_strlist *out);

/* The certificate's issuers as stored. */
enum cw_err wiz_cert_chain(const struct store_cert *cert,
			   struct x509_bundle *out);

/*
 * What certificates must chain to, one notion at issuance, import and
 * assignment: [trust] anchors and every CA profile's roots (files; empty
 * when none is configured).
 */
enum cw_err wiz_anchors(const struct wiz *w, struct cw_strlist *out);

/* Checks a stored certificate's chain, or a leaf with its issuers, against
 * wiz_anchors (CW_ERR_CONFIG when there is none; CW_ERR_NOT_FOUND when an
 * issuer is missing). */
enum cw_err wiz_verify_chain(struct wiz *w, const struct store_cert *cert,
			     time_t now);
enum cw_err wiz_verify_bundle(struct wiz *w, const struct cw_buf *leaf,
			      const struct x509_bundle *issuers, time_t now);

/* Opens the token of key and checks the key is there with the public key
 * the store recorded. The session is borrowed from the wizard. */
enum cw_err wiz_key_on_token(struct wiz *w, const struct store_key *key,
			     struct tok_session **out);

/* The expanded topology usage of this host; CW_ERR_NOT_FOUND. */
enum cw_err wiz_usage(struct wiz *w, const char *usage,
		      struct topo_usage *out);

/*
 * Appends one audit event inside the open write transaction (the change
 * and its record commit together). target is a JSON object (audit_target).
 */
enum cw_err wiz_audit(struct wiz *w, const char *operation,
		      const char *target, const char *outcome,
		      const char *reason);

/* The same, for an actor other than the caller: the service itself
 * (configuration and topology changes it notices). */
enum cw_err wiz_audit_as(struct wiz *w, unsigned uid, const char *user,
			 const char *operation, const char *target,
			 const char *outcome, const char *reason);
/* An event whose actor is the service's own user. */
enum cw_err wiz_audit_service(struct wiz *w, const char *operation,
			      const char *target, const char *outcome,
			      const char *reason);

enum cw_err wiz_audit_assignment(struct wiz *w, const char *operation,
				 const char *usage, const char *sha256,
				 time_t at);

/* The label of the audit key on its token. */
#define AUDIT_KEY_LABEL "certwiz-audit"

/* The audit key's token: [audit] token, else [token] uri. */
const char *wiz_audit_token(const struct wiz *w);

/* store_activate_due callback (user is the wizard): audits each. */
enum cw_err wiz_audit_activated(void *w, const struct store_assignment *a);

/* A login refused by a token, recorded. */
void wiz_audit_token_failure(struct wiz *w, const struct tok_info *t,
			     enum cw_err rc);

/* Records configuration and topology changes since the last run. */
void wiz_audit_config_changes(struct wiz *w);

/* Options of one run of an online request (request --ca, pending
 * process, refresh). */
struct wiz_acme_opts {
	int wait;                 /* seconds to wait for the CA */
	bool assign;              /* assign to the request's usages */
	const char *eab_kid;      /* alternate credentials, else the */
	struct cw_secret_source eab_hmac; /* profile's (see wizard.h) */
	/* CMP and helpers: alternate credentials and template */
	const char *ca_reference;
	struct cw_secret_source ca_secret;
	const char *template;
};

/* The ACME account of a CA profile, ready to sign with its key on the
 * token (account.c). */
struct wiz_account {
	struct wiz *w;            /* its signatures take the tokens */
	struct acme *acme;
	struct tok_session *tok;  /* borrowed from the wizard */
	struct cw_buf key_id;
	struct cw_buf spki;
	bool p384;                /* ES384, else ES256 */
	struct store_account row;
};

/*
 * Opens the account of profile p: its key is found on the token (made on
 * first use: EC P-256, sign only, recorded before it is generated), and the
 * account registered with the CA once (with the EAB of o, else of p).
 * out is filled as far as it got, also on failure (acme_problem of
 * out->acme tells what the CA said): release it with wiz_account_close
 * either way, and do not move it while in use (the signer points at it).
 */
enum cw_err wiz_account_open(struct wiz *w, const struct cw_ca_profile *p,
			     const struct wiz_acme_opts *o,
			     struct wiz_account *out);
/* Registers again (the CA forgot the account). */
enum cw_err wiz_account_register(struct wiz *w,
				 const struct cw_ca_profile *p,
				 const struct wiz_acme_opts *o,
				 struct wiz_account *a);
void wiz_account_close(struct wiz_account *a);

/*
 * Takes online request id from where it stands towards issued through
 * src/ca's interface, whatever its protocol (online.c); every state change
 * is written before the next step. The outcome is filled for CW_OK,
 * CW_ERR_PENDING, CW_ERR_UNREACHABLE and CW_ERR_REJECTED. CW_ERR_NOT_FOUND
 * and CW_ERR_UNAVAILABLE (not an open online request) are reported.
 */
enum cw_err wiz_online_run(struct wiz *w, int64_t id,
			   const struct wiz_acme_opts *o,
			   struct wiz_acme_outcome *out);

/* Tells q's CA that it is withdrawn, where the protocol can (CMP: an
 * error message ends the transaction), and removes what was published
 * for it (ACME's challenge responses); failures are warnings. */
void wiz_online_withdraw(struct wiz *w, const struct store_request *q);

/*
 * Imports a chain an online CA issued for req (its leaf first): the leaf's
 * key must be the request's key. Marks the request issued in the same
 * transaction. Takes the bundle's certificates (bundle left empty).
 */
enum cw_err wiz_import_issued(struct wiz *w, const struct store_request *req,
			      struct x509_bundle *bundle,
			      struct wiz_import_result *out);

#endif
