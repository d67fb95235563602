/* certwiz: PKCS#11 tokens. The only layer that includes PKCS#11 headers. */
#ifndef CW_TOKEN_H
#define CW_TOKEN_H

#include "certwiz/err.h"
#include "certwiz/key.h"
#include "certwiz/secret.h"
#include "certwiz/util.h"

#include <stdbool.h>
#include <stddef.h>

/* Loaded and initialised PKCS#11 modules (p11-kit managed loading). */
struct tok_ctx;
/* One read-write session on one token; logged in after tok_login. */
struct tok_session;

/* A slot and its token, in plain strings (owned by the array). */
struct tok_info {
	char *module;         /* module file name */
	size_t module_index;  /* which loaded module (tok_ctx order) */
	unsigned long slot;   /* for display only, never for selection */
	char *slot_description;
	bool present;
	bool initialized;
	bool login_required;
	bool protected_auth;
	bool pin_count_low;
	bool pin_final_try;
	bool pin_locked;
	bool pin_to_be_changed;
	/* what a wrong PIN leaves to see: "flags" (the token sets
	 * CKF_USER_PIN_COUNT_LOW/FINAL_TRY/LOCKED), "none" (a module known to
	 * set none of them), "unknown"; a static string */
	const char *pin_counter;
	char *label;
	char *serial;
	char *manufacturer;
	char *model;
	char *uri;            /* RFC 7512 token URI, no PIN in it */
};

/*
 * Loads module_path, or every module p11-kit has registered when NULL, and
 * initialises them once for this process. Release with tok_ctx_free, which
 * finalises them.
 */
enum cw_err tok_ctx_open(const char *module_path, struct tok_ctx **out);
void tok_ctx_free(struct tok_ctx *ctx);

/* Every slot of every module. The array and its strings belong to the
 * caller: free with tok_info_free_array. */
enum cw_err tok_list(struct tok_ctx *ctx, struct tok_info **out, size_t *n);
void tok_info_free_array(struct tok_info *infos, size_t n);

/*
 * Checks that uri is a PKCS#11 URI that certwiz may act on: no pin-value,
 * no module-path, no slot-id (tokens are chosen by identity), no attribute
 * p11-kit does not know. CW_ERR_USAGE with a message otherwise.
 */
enum cw_err tok_uri_check(const char *uri);

/*
 * Chooses the one initialised token of infos that uri matches (token
 * attributes: label, serial, manufacturer, model). CW_ERR_TOKEN_ABSENT
 * when none matches, CW_ERR_TOKEN_NOT_INIT when only an uninitialised
 * token matches, CW_ERR_AMBIGUOUS when several do. Pure: no token I/O.
 */
enum cw_err tok_select(const char *uri, const struct tok_info *infos,
		       size_t n, size_t *index);

/*
 * RFC 7512 URIs built from a token's identity (no I/O, no PIN): token=,
 * serial= and manufacturer=, never model= (tpm2-pkcs11 pads its model with
 * NUL bytes, not spaces, so a model= written from the text matches for
 * certwiz and libp11 but not for p11-kit and GnuTLS, which compare the
 * padded field; label, serial and manufacturer already name one token).
 * tok_key_uri adds id= (and type=private). NULL on allocation failure;
 * caller frees.
 */
char *tok_token_uri(const char *label, const char *serial,
                    const char *manufacturer);
char *tok_key_uri(const char *label, const char *serial,
                  const char *manufacturer, const struct cw_buf *id);

/* Opens a read-write session on the token uri selects. */
enum cw_err tok_open(struct tok_ctx *ctx, const char *uri,
		     struct tok_session **out);
void tok_session_close(struct tok_session *s);
/* Whether the session's token is one uri selects (no I/O, no message). */
bool tok_session_matches(const struct tok_session *s, const char *uri);
const struct tok_info *tok_session_info(const struct tok_session *s);

/*
 * Logs in as the user, once. The PIN comes from the URI's pin-source, else
 * from src (file, descriptor, or the terminal). Token flags are read first:
 * a locked PIN or a final try is refused without calling C_Login; a wrong
 * PIN is CW_ERR_PIN_INCORRECT and is never retried. Tokens with a protected
 * authentication path log in without a PIN. The PIN is wiped on return.
 */
enum cw_err tok_login(struct tok_session *s, const char *uri,
		      const struct cw_secret_source *src);

/*
 * The checks of tok_login that need no PIN (a locked PIN, a final try, a
 * PIN to be changed), so that a caller can refuse before asking for one;
 * and whether tok_login would prompt on the terminal (a PIN is needed and
 * neither the URI's pin-source nor src gives one).
 */
enum cw_err tok_login_preflight(struct tok_session *s);
bool tok_login_prompts(const struct tok_session *s, const char *uri,
		       const struct cw_secret_source *src);

/* Whether the token can sign with a key of this type (a PKCS#12 key to
 * be imported); CW_ERR_MECHANISM, reported, when it cannot. */
enum cw_err tok_check_sign(struct tok_session *s, enum cw_key_type type);
/*
 * Checks with C_GetMechanismInfo that the token can generate and sign with
 * a key of this spec and that the size is within its range.
 */
enum cw_err tok_check_mechanism(struct tok_session *s,
				const struct cw_keyspec *spec);

/* Whether any object on the token carries this CKA_ID. */
enum cw_err tok_id_in_use(struct tok_session *s, const struct cw_buf *id,
			  bool *in_use);

/*
 * Generates a key pair with certwiz's explicit template (private key:
 * token, private, sensitive, not extractable, sign only), reads the
 * attributes back and destroys the pair if any does not hold (CW_ERR_POLICY).
 * pub receives the public key.
 */
enum cw_err tok_keygen(struct tok_session *s, const struct cw_keyspec *spec,
		       const struct cw_buf *id, const char *label,
		       struct cw_pubkey *pub);

/* What the token holds under one CKA_ID. */
struct tok_objects {
	bool private_key;
	bool public_key;
	bool certificate;
	bool generated_on_token; /* LOCAL && ALWAYS_SENSITIVE && NEVER_EXTR. */
};

enum cw_err tok_find(struct tok_session *s, const struct cw_buf *id,
		     struct tok_objects *out);

/*
 * What a token holds, taken in one pass (C_FindObjects without a template,
 * then the class and CKA_ID of each object), for callers that look up many
 * CKA_IDs on a module whose every C_FindObjects is a scan of all objects
 * (tok_find_is_scan: SoftHSM2). The inventory is a snapshot: objects made
 * or destroyed after it was taken are not in it.
 */
struct tok_inventory;

bool tok_find_is_scan(const struct tok_session *s);
enum cw_err tok_inventory_take(struct tok_session *s,
			       struct tok_inventory **out);
void tok_inventory_free(struct tok_inventory *inv);
size_t tok_inventory_count(const struct tok_inventory *inv);
/* As tok_find, from the inventory (generated_on_token is not filled). */
void tok_inventory_lookup(const struct tok_inventory *inv,
			  const struct cw_buf *id, struct tok_objects *out);
/* The DER of the certificate object under id; CW_ERR_NOT_FOUND. */
enum cw_err tok_inventory_cert(struct tok_session *s,
			       const struct tok_inventory *inv,
			       const struct cw_buf *id, struct cw_buf *der);

/* The private keys labelled label: how many (*count) and the CKA_ID of
 * the first (id, when there is one). */
enum cw_err tok_private_by_label(struct tok_session *s, const char *label,
				 struct cw_buf *id, size_t *count);

/* Every private key of the token: its CKA_ID (hex) and label, in step.
 * At most TOK_MAX_OBJECTS. */
#define TOK_MAX_OBJECTS 100000
enum cw_err tok_private_keys(struct tok_session *s, struct cw_strlist *ids,
			     struct cw_strlist *labels);

/* The public key of the pair under id (public object, else private). */
enum cw_err tok_public_key(struct tok_session *s, const struct cw_buf *id,
			   struct cw_pubkey *out);

/*
 * The key pair whose public key is pub: the token looks its public key
 * objects up by CKA_EC_POINT or CKA_MODULUS (no enumeration by certwiz),
 * then the private key under the same CKA_ID. CW_ERR_NO_KEY when there is
 * none; id and objs describe the pair found.
 */
enum cw_err tok_find_key(struct tok_session *s, const struct cw_pubkey *pub,
			 struct cw_buf *id, struct tok_objects *objs);

/*
 * Creates a private key (sensitive, not extractable, sign only) and its
 * public key under id and label from k, and reads the private key back.
 * Such a key is not LOCAL: it was outside the token once.
 */
enum cw_err tok_import_key(struct tok_session *s, const struct cw_privkey *k,
			   const struct cw_buf *id, const char *label);

/* Signs with the private key under id. See struct cw_sign_req. */
enum cw_err tok_sign(struct tok_session *s, const struct cw_buf *id,
		     const struct cw_sign_req *req, struct cw_buf *sig);

/* Destroys the private and public keys under id. */
enum cw_err tok_destroy_keys(struct tok_session *s, const struct cw_buf *id);

/* A certificate to store on the token, in DER pieces. */
struct tok_cert {
	const struct cw_buf *id;
	const char *label;
	const struct cw_buf *der;
	const struct cw_buf *subject;
	const struct cw_buf *issuer;
	const struct cw_buf *serial; /* DER INTEGER */
};

/*
 * Creates the certificate object. CW_ERR_DUPLICATE, without a message, when
 * a certificate with that CKA_ID is already there.
 */
enum cw_err tok_write_cert(struct tok_session *s, const struct tok_cert *c);

/* The DER of the certificate object under id; CW_ERR_NOT_FOUND. */
enum cw_err tok_read_cert(struct tok_session *s, const struct cw_buf *id,
			  struct cw_buf *der);

/* Destroys the certificate objects under id. */
enum cw_err tok_destroy_cert(struct tok_session *s, const struct cw_buf *id);

#endif
