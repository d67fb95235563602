/* Internal to src/wizard. */
#ifndef CW_WIZARD_INT_H
#define CW_WIZARD_INT_H

#include "certwiz/key.h"
#include "certwiz/wizard.h"
#include "certwiz/x509.h"

struct wiz {
	struct cw_config cfg;
	char *host;
	struct cw_secret_source pin;
	struct topo *topo;
	struct store *store;
	struct tok_ctx *tokens;
};

/* The PKCS#11 modules, loaded on first use. */
enum cw_err wiz_modules(struct wiz *w, struct tok_ctx **out);

/* The configured topology, loaded on first use. */
enum cw_err wiz_topology(struct wiz *w, const struct topo **out);

/* Opens the token uri names and logs in. */
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

/* Checks the chain against [trust] anchors (CW_ERR_CONFIG when unset). */
enum cw_err wiz_verify_chain(struct wiz *w, const struct store_cert *cert,
			     time_t now);

/* Opens the token of key and checks the key is there with the public key
 * the store recorded. The session is the caller's. */
enum cw_err wiz_key_on_token(struct wiz *w, const struct store_key *key,
			     struct tok_session **out);

/* The expanded topology usage of this host; CW_ERR_NOT_FOUND. */
enum cw_err wiz_usage(struct wiz *w, const char *usage,
		      struct topo_usage *out);

#endif
