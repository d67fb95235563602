/* audit verify: the chain, its links, and the signed checkpoints. */
#include "wizard_int.h"

#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

void
wiz_audit_report_release(struct wiz_audit_report *r)
{
	if (r == NULL)
		return;
	free(r->kind);
	free(r->problem);
	memset(r, 0, sizeof(*r));
}

struct walk {
	struct wiz_audit_report *r;
	char prev[65];
	char (*hashes)[65]; /* by seq - 1 */
	size_t cap;
	struct wiz *w;
	const struct cw_buf *key_pem;
	struct cw_buf key;   /* the audit key's SPKI, once known */
	int64_t last_cp_seq;
	char last_cp_time[32];
};

/* Stops the walk with the first broken link. */
static enum cw_err
broken(struct walk *x, int64_t seq, const char *kind, char *problem)
{
	x->r->broken_seq = seq;
	x->r->kind = strdup(kind);
	x->r->problem = problem;
	return CW_ERR_CRYPTO;
}

static enum cw_err
on_event(void *user, const struct store_audit *a)
{
	struct walk *x = user;
	int64_t expected = x->r->events + 1;
	struct audit_event e;
	char hash[65];

	if (a->seq != expected)
		return broken(x, expected, "missing",
			      cw_printf("event %lld is missing (deleted); the "
					"next one is %lld",
					(long long)expected,
					(long long)a->seq));
	if (strcmp(a->prev_hash, x->prev) != 0)
		return broken(x, a->seq, "broken-link",
			      cw_printf("event %lld does not follow event %lld "
					"(an event was inserted, removed or "
					"reordered)",
					(long long)a->seq,
					(long long)a->seq - 1));
	memset(&e, 0, sizeof(e));
	e.seq = a->seq;
	snprintf(e.time, sizeof(e.time), "%s", a->time);
	e.uid = (unsigned)a->uid;
	e.user = a->user;
	e.host = a->host;
	e.operation = a->operation;
	e.target = a->target;
	e.outcome = a->outcome;
	e.reason = a->reason;
	if (audit_hash(x->prev, &e, hash) != CW_OK)
		return CW_ERR_NOMEM;
	if (strcmp(hash, a->hash) != 0)
		return broken(x, a->seq, "modified",
			      cw_printf("event %lld was modified or inserted (its "
					"hash does not match it)",
					(long long)a->seq));
	if ((size_t)a->seq > x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 1024;
		char(*v)[65] = realloc(x->hashes, cap * sizeof(*v));

		if (v == NULL)
			return CW_ERR_NOMEM;
		x->hashes = v;
		x->cap = cap;
	}
	memcpy(x->hashes[a->seq - 1], hash, 65);
	memcpy(x->prev, hash, 65);
	x->r->events++;
	return CW_OK;
}

static enum cw_err
key_from_pem(const struct cw_buf *pem, struct cw_buf *spki)
{
	BIO *b = BIO_new_mem_buf(pem->data, (int)pem->len);
	EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int len = k ? i2d_PUBKEY(k, &der) : -1;
	enum cw_err rc = len > 0 ? cw_buf_set(spki, der, (size_t)len)
				 : CW_ERR_CONFIG;

	if (rc == CW_ERR_CONFIG)
		cw_error("cannot read the audit public key (PEM)");
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	BIO_free(b);
	return rc;
}

/* The audit key: the exported PEM, else its public key on the token. */
static enum cw_err
expected_key(struct walk *x, const struct store_checkpoint *c)
{
	struct tok_session *tok = NULL;
	struct cw_pubkey pub;
	struct cw_buf id;
	enum cw_err rc;

	if (x->key.len > 0)
		return CW_OK;
	if (x->key_pem)
		return key_from_pem(x->key_pem, &x->key);
	cw_pubkey_init(&pub);
	cw_buf_init(&id);
	rc = x->w->cfg.token_uri ? wiz_open_token(x->w, x->w->cfg.token_uri,
						  &tok)
				 : CW_ERR_CONFIG;
	if (rc == CW_OK)
		rc = cw_unhex(c->cka_id, &id);
	if (rc == CW_OK)
		rc = tok_public_key(tok, &id, &pub);
	if (rc == CW_ERR_NO_KEY) {
		cw_buf_release(&id);
		return CW_OK; /* no such key: the comparison below fails */
	}
	if (rc == CW_OK)
		rc = x509_spki_from_pubkey(&pub, &x->key);
	cw_pubkey_release(&pub);
	cw_buf_release(&id);
	return rc;
}

static enum cw_err
on_checkpoint(void *user, const struct store_checkpoint *c)
{
	struct walk *x = user;
	char *msg;
	enum cw_err rc;

	x->r->checkpoints++;
	if (c->seq <= x->last_cp_seq || strcmp(c->time, x->last_cp_time) < 0)
		return broken(x, c->seq, "checkpoint-order",
			      cw_printf("checkpoint %lld (event %lld) is not "
					"after the one before it (replayed or "
					"reordered)",
					(long long)c->id, (long long)c->seq));
	if (c->seq > x->r->events)
		return broken(x, x->r->events + 1, "truncated",
			      cw_printf("the trail ends at event %lld but "
					"checkpoint %lld covers up to %lld "
					"(truncated)",
					(long long)x->r->events,
					(long long)c->id, (long long)c->seq));
	if (strcmp(c->hash, x->hashes[c->seq - 1]) != 0)
		return broken(x, c->seq, "checkpoint-mismatch",
			      cw_printf("checkpoint %lld does not match event "
					"%lld",
					(long long)c->id, (long long)c->seq));
	msg = audit_checkpoint_message(c->seq, c->hash, c->time);
	rc = msg ? x509_verify_sha256(&c->public_key, msg, strlen(msg),
				      &c->signature)
		 : CW_ERR_NOMEM;
	free(msg);
	if (rc == CW_ERR_CRYPTO)
		return broken(x, c->seq, "checkpoint-signature",
			      cw_printf("checkpoint %lld: the signature does "
					"not verify (forged)",
					(long long)c->id));
	if (rc == CW_OK)
		rc = expected_key(x, c);
	if (rc == CW_OK && (x->key.len != c->public_key.len ||
			    memcmp(x->key.data, c->public_key.data,
				   x->key.len) != 0))
		return broken(x, c->seq, "checkpoint-key",
			      cw_printf("checkpoint %lld was not signed by the "
					"audit key",
					(long long)c->id));
	x->last_cp_seq = c->seq;
	snprintf(x->last_cp_time, sizeof(x->last_cp_time), "%s", c->time);
	return rc;
}

enum cw_err
wiz_audit_verify(struct wiz *w, const struct cw_buf *key_pem,
		 struct wiz_audit_report *out)
{
	struct wiz_audit_report r;
	struct walk x;
	struct store *s = NULL;
	enum cw_err rc;

	memset(&r, 0, sizeof(r));
	memset(&x, 0, sizeof(x));
	x.r = &r;
	x.w = w;
	x.key_pem = key_pem;
	memcpy(x.prev, AUDIT_GENESIS, 65);
	cw_buf_init(&x.key);
	rc = wiz_store(w, &s);
	if (rc == CW_OK)
		rc = store_each_audit(s, NULL, on_event, &x);
	if (rc == CW_OK)
		rc = store_each_checkpoint(s, on_checkpoint, &x);
	free(x.hashes);
	cw_buf_release(&x.key);
	if (rc != CW_OK && r.kind == NULL) {
		wiz_audit_report_release(&r);
		return rc;
	}
	*out = r;
	if (r.kind != NULL)
		cw_error("audit trail broken at %lld: %s",
			 (long long)r.broken_seq, r.problem);
	return r.kind ? CW_ERR_CRYPTO : CW_OK;
}
