/*
 * Prune: keys whose certificates are all past their retention (expired
 * for [renew] retain_expired days, or superseded for retain_superseded
 * days) and that nothing needs (no certificate of theirs serving or
 * scheduled, no open request) are destroyed on their token with their
 * certificates' objects, and marked retired in the store; each
 * destruction is audited. Tokens fill up otherwise: every renewal leaves a
 * key pair and a certificate behind.
 */
#define _GNU_SOURCE
#include "wizard_int.h"

#include "certwiz/audit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void
wiz_prune_items_free(struct wiz_prune_item *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].cka_id);
		free(v[i].label);
		free(v[i].token);
		free(v[i].problem);
	}
	free(v);
}

struct found {
	struct wiz_prune_item *v;
	size_t n;
	struct store_key *keys;
};

static enum cw_err
collect(void *user, const struct store_key *k, const struct store_token *t)
{
	struct found *f = user;
	struct wiz_prune_item *v = realloc(f->v, (f->n + 1) * sizeof(*v));
	struct store_key *keys;

	if (v == NULL)
		return CW_ERR_NOMEM;
	f->v = v;
	keys = realloc(f->keys, (f->n + 1) * sizeof(*keys));
	if (keys == NULL)
		return CW_ERR_NOMEM;
	f->keys = keys;
	memset(&v[f->n], 0, sizeof(v[f->n]));
	memset(&keys[f->n], 0, sizeof(keys[f->n]));
	v[f->n].key_id = k->id;
	v[f->n].cka_id = cw_strdup(k->cka_id);
	v[f->n].label = cw_strdup(k->label);
	v[f->n].token = cw_strdup(t->label);
	keys[f->n].id = k->id;
	keys[f->n].token_id = k->token_id;
	keys[f->n].cka_id = cw_strdup(k->cka_id);
	keys[f->n].spki_sha256 =
	    k->spki_sha256 ? cw_strdup(k->spki_sha256) : NULL;
	keys[f->n].label = cw_strdup(k->label);
	f->n++;
	if (!v[f->n - 1].cka_id || !v[f->n - 1].label || !v[f->n - 1].token ||
	    !keys[f->n - 1].cka_id || !keys[f->n - 1].label)
		return CW_ERR_NOMEM;
	return CW_OK;
}

/* Destroys one key and its certificate objects, then records it. */
static enum cw_err
retire(struct wiz *w, struct store_key *k, struct wiz_prune_item *it,
       int64_t now)
{
	struct tok_session *tok = NULL;
	struct cw_buf id;
	char *target;
	enum cw_err rc = wiz_key_on_token(w, k, &tok);
	bool gone = rc == CW_ERR_NO_KEY || rc == CW_ERR_NOT_FOUND;

	cw_buf_init(&id);
	if (rc == CW_OK)
		rc = cw_unhex(k->cka_id, &id);
	/* the certificates first: a key is never left without its pair */
	if (rc == CW_OK) {
		enum cw_err c = tok_destroy_cert(tok, &id);

		rc = c == CW_ERR_NOT_FOUND ? CW_OK : c;
	}
	if (rc == CW_OK)
		rc = tok_destroy_keys(tok, &id);
	cw_buf_release(&id);
	if (gone)
		rc = CW_OK; /* destroyed outside certwiz: record it so */
	if (rc != CW_OK) {
		it->problem = cw_strdup(cw_last_error());
		return rc;
	}
	target = audit_target("cka_id", k->cka_id, "label", k->label, NULL);
	rc = target ? store_begin(w->store) : CW_ERR_NOMEM;
	if (rc == CW_OK) {
		rc = store_key_retire(w->store, k->id, now);
		if (rc == CW_OK)
			rc = wiz_audit(w, "key-retired", target, "success",
			               gone ? "already gone from the token"
			                    : "destroyed on the token with its "
			                      "certificates");
		rc = store_end(w->store, rc);
	}
	free(target);
	if (rc == CW_OK)
		it->destroyed = true;
	return rc;
}

enum cw_err
wiz_prune(struct wiz *w, bool dry_run, struct wiz_prune_item **out, size_t *n)
{
	struct found f = {NULL, 0, NULL};
	struct store *s = NULL;
	int64_t now = time(NULL);
	enum cw_err rc = wiz_store(w, &s), worst = CW_OK;

	*out = NULL;
	*n = 0;
	if (rc == CW_OK)
		rc = store_each_prunable_key(
		    s, now, (int64_t)w->cfg.retain_expired * 86400,
		    (int64_t)w->cfg.retain_superseded * 86400, collect, &f);
	for (size_t i = 0; rc == CW_OK && !dry_run && i < f.n; i++) {
		enum cw_err r = retire(w, &f.keys[i], &f.v[i], now);

		/* one key that cannot be destroyed does not stop the rest */
		if (r != CW_OK && worst == CW_OK)
			worst = r;
	}
	for (size_t i = 0; i < f.n; i++)
		store_key_release(&f.keys[i]);
	free(f.keys);
	if (rc != CW_OK) {
		wiz_prune_items_free(f.v, f.n);
		return rc;
	}
	*out = f.v;
	*n = f.n;
	return worst;
}
