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

#endif
