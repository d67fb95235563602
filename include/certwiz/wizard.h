/* certwiz: the wizard's operations, as library functions. */
#ifndef CW_WIZARD_H
#define CW_WIZARD_H

#include "certwiz/config.h"
#include "certwiz/err.h"
#include "certwiz/secret.h"
#include "certwiz/store.h"
#include "certwiz/token.h"
#include "certwiz/topology.h"
#include "certwiz/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/*
 * The context of one invocation: configuration, host, PIN source, and the
 * store, topology and PKCS#11 modules, each opened on first use and closed
 * by wiz_free (modules are initialised once per process).
 */
struct wiz;

/*
 * config_path NULL: $CERTWIZ_CONF, else /etc/certwiz/certwiz.conf. host
 * NULL: the machine's FQDN.
 */
enum cw_err wiz_new(const char *config_path, const char *host,
		    struct wiz **out);
void wiz_free(struct wiz *w);

/* Where the PIN comes from (borrowed for the wizard's lifetime). */
void wiz_set_pin_source(struct wiz *w, const struct cw_secret_source *src);
const struct cw_config *wiz_config(const struct wiz *w);
const char *wiz_host(const struct wiz *w);

/* Every slot and token the configured modules show. */
enum cw_err wiz_tokens(struct wiz *w, struct tok_info **out, size_t *n);

/*
 * Loads a topology file (or the configured one when path is NULL) and
 * checks every expanded subject and name. The topology belongs to the
 * caller.
 */
enum cw_err wiz_topology_load(struct wiz *w, const char *path,
			      struct topo **out);

/* What the certificate for a set of usages of this host must carry. */
struct wiz_plan {
	char *subject;
	struct cw_strlist names;
	struct cw_strlist eku;
	char *key;  /* key spec */
	char *ca;   /* CA profile named by the topology, or NULL */
};

void wiz_plan_release(struct wiz_plan *p);

/*
 * The plan for usages (the union of their names and EKUs; subject, key and
 * CA of the first) plus extra names. CW_ERR_NOT_FOUND for an unknown host
 * or usage, CW_ERR_USAGE for a bad extra name.
 */
enum cw_err wiz_plan(struct wiz *w, const struct cw_strlist *usages,
		     const struct cw_strlist *extra_names,
		     struct wiz_plan *out);

struct wiz_request_opts {
	const struct cw_strlist *usages;
	const struct cw_strlist *extra_names;
	const char *token_uri; /* NULL: [token] uri of the configuration */
	const char *key;       /* NULL: the topology's, else ec:P-256 */
	const char *out_path;
	bool force;            /* replace out_path */
};

struct wiz_request_result {
	int64_t request_id;
	char *cka_id;     /* lowercase hex */
	char *key_label;
	char *key_alg;
	char *key_uri;
	char *token_label;
	char *subject;
	struct cw_strlist names;
	char *out_path;
};

void wiz_request_result_release(struct wiz_request_result *r);

/*
 * Request, offline: generates the key pair on the token, has the token sign
 * a CSR with the plan's subject and names, writes it atomically to
 * out_path and records the request (awaiting-response) and its key. On any
 * failure after key generation the new pair is destroyed; where the token
 * cannot be reached to do so, the key stays in the store (state
 * "generating") so that nothing on the token is left untracked.
 */
enum cw_err wiz_request_offline(struct wiz *w,
				const struct wiz_request_opts *o,
				struct wiz_request_result *out);

struct wiz_import_result {
	int64_t cert_id;
	int64_t request_id; /* 0 when no request awaited this certificate */
	char *sha256;
	char *subject;
	char *issuer;
	time_t not_after;
	bool expired;
	char *cka_id;
	char *token_label;
	size_t chain_len;   /* issuers stored with the certificate */
};

void wiz_import_result_release(struct wiz_import_result *r);

/*
 * Import certificate: reads a CA response (PEM, DER, PKCS#7), finds the
 * leaf, matches it by public key to a key in the store and on its token,
 * writes the certificate object to the token under the key's CKA_ID and
 * label, and stores certificate and chain (marking the awaiting request
 * issued) in one store transaction.
 */
enum cw_err wiz_import(struct wiz *w, const char *path,
		       struct wiz_import_result *out);

/* The store, opened on first use (borrowed). */
enum cw_err wiz_store(struct wiz *w, struct store **out);

#endif
