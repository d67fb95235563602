/* Whether a certificate can serve a usage: validity, names, EKU, chain,
 * and its key on the token. */
#include "wizard_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum cw_err
wiz_usage(struct wiz *w, const char *usage, struct topo_usage *out)
{
	const struct topo *t = NULL;
	enum cw_err rc = wiz_topology(w, &t);

	return rc == CW_OK ? topo_expand(t, w->host, usage, out) : rc;
}

/* Names and EKUs of cert, from the row or (schema 1 rows) the DER. */
static enum cw_err
names_of(const struct store_cert *cert, struct x509_info *parsed,
	 const struct cw_strlist **names, const struct cw_strlist **eku,
	 bool *eku_any)
{
	enum cw_err rc;

	if (cert->names_known) {
		*names = &cert->names;
		*eku = &cert->eku;
		*eku_any = cert->eku_any;
		return CW_OK;
	}
	rc = x509_info_parse(cert->der.data, cert->der.len, parsed);
	if (rc != CW_OK)
		return rc;
	*names = &parsed->names;
	*eku = &parsed->eku;
	*eku_any = !parsed->has_eku;
	return CW_OK;
}

static bool
covered(const struct cw_strlist *names, const char *need)
{
	for (size_t i = 0; i < names->n; i++)
		if (x509_name_covers(names->v[i], need))
			return true;
	return false;
}

static enum cw_err
add(struct cw_strlist *out, char *line)
{
	enum cw_err rc = line ? cw_strlist_add(out, line) : CW_ERR_NOMEM;

	free(line);
	return rc;
}

enum cw_err
wiz_fit_problems(const struct store_cert *cert, const struct topo_usage *u,
		 time_t now, struct cw_strlist *out)
{
	const struct cw_strlist *names = NULL, *eku = NULL;
	struct x509_info parsed;
	bool eku_any = false;
	enum cw_err rc;

	memset(&parsed, 0, sizeof(parsed));
	char end[32], at[32];

	cw_time_format(cert->not_after, end, sizeof(end));
	cw_time_format(now, at, sizeof(at));
	if (cert->not_after <= now && cert->not_after <= time(NULL))
		rc = add(out, cw_printf("expired on %s", end));
	else if (cert->not_after <= now)
		rc = add(out, cw_printf("expires on %s, before the time it "
					"would take over (%s)", end, at));
	else if (cert->not_before > now)
		rc = add(out, cw_printf("not yet valid at %s", at));
	else
		rc = CW_OK;
	if (rc == CW_OK)
		rc = names_of(cert, &parsed, &names, &eku, &eku_any);
	for (size_t i = 0; rc == CW_OK && i < u->names.n; i++)
		if (!covered(names, u->names.v[i]))
			rc = add(out, cw_printf("lacks name %s",
						u->names.v[i]));
	for (size_t i = 0; rc == CW_OK && !eku_any && i < u->eku.n; i++)
		if (!cw_strlist_contains(eku, u->eku.v[i]))
			rc = add(out, cw_printf("lacks extended key usage %s",
						u->eku.v[i]));
	x509_info_release(&parsed);
	return rc;
}

enum cw_err
wiz_cert_chain(const struct store_cert *cert, struct x509_bundle *out)
{
	return x509_chain_split(cert->chain.data, cert->chain.len, out);
}

enum cw_err
wiz_anchors(const struct wiz *w, struct cw_strlist *out)
{
	enum cw_err rc = CW_OK;

	cw_strlist_init(out);
	if (w->cfg.trust_anchors != NULL)
		rc = cw_strlist_add(out, w->cfg.trust_anchors);
	for (size_t i = 0; rc == CW_OK && i < w->cfg.n_cas; i++)
		if (w->cfg.cas[i].roots != NULL &&
		    !cw_strlist_contains(out, w->cfg.cas[i].roots))
			rc = cw_strlist_add(out, w->cfg.cas[i].roots);
	return rc;
}

enum cw_err
wiz_verify_bundle(struct wiz *w, const struct cw_buf *leaf,
		  const struct x509_bundle *issuers, time_t now)
{
	struct cw_strlist anchors;
	enum cw_err rc = wiz_anchors(w, &anchors);

	if (rc == CW_OK)
		rc = x509_verify_chain(leaf, issuers, &anchors, now);
	cw_strlist_release(&anchors);
	return rc;
}

enum cw_err
wiz_verify_chain(struct wiz *w, const struct store_cert *cert, time_t now)
{
	struct x509_bundle chain = { NULL, 0 };
	enum cw_err rc;

	rc = wiz_cert_chain(cert, &chain);
	if (rc == CW_OK)
		rc = wiz_verify_bundle(w, &cert->der, &chain, now);
	x509_bundle_release(&chain);
	return rc;
}

enum cw_err
wiz_key_on_token(struct wiz *w, const struct store_key *key,
		 struct tok_session **out)
{
	struct store_token token;
	struct tok_session *tok = NULL;
	struct cw_pubkey pub;
	struct cw_buf id, spki;
	char *uri = NULL, *hash = NULL;
	struct store *s = NULL;
	enum cw_err rc;

	memset(&token, 0, sizeof(token));
	cw_pubkey_init(&pub);
	cw_buf_init(&id);
	cw_buf_init(&spki);
	rc = wiz_store(w, &s);
	if (rc == CW_OK)
		rc = store_token_get(s, key->token_id, &token);
	if (rc == CW_OK)
		rc = (uri = wiz_token_uri(&token)) ? CW_OK : CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = cw_unhex(key->cka_id, &id);
	if (rc == CW_OK)
		rc = wiz_open_token(w, uri, &tok);
	if (rc == CW_OK)
		rc = tok_public_key(tok, &id, &pub);
	if (rc == CW_ERR_NO_KEY)
		cw_error("key %s is not on token '%s'", key->cka_id,
			 token.label);
	if (rc == CW_OK)
		rc = x509_spki_from_pubkey(&pub, &spki);
	if (rc == CW_OK &&
	    ((hash = x509_sha256_hex(spki.data, spki.len)) == NULL ||
	     key->spki_sha256 == NULL || strcmp(hash, key->spki_sha256))) {
		cw_error("the key under CKA_ID %s on token '%s' is not the key "
			 "certwiz recorded",
			 key->cka_id, token.label);
		rc = CW_ERR_CRYPTO;
	}
	if (rc == CW_OK)
		*out = tok;
	free(hash);
	free(uri);
	cw_buf_release(&spki);
	cw_buf_release(&id);
	cw_pubkey_release(&pub);
	store_token_release(&token);
	return rc;
}
