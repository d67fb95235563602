/* audit verify: the chain, its links, the signed checkpoints, an anchor. */
#include "wizard_int.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#define ANCHOR_FORMAT "certwiz-audit-anchor/1"

void
wiz_audit_report_release(struct wiz_audit_report *r)
{
	if (r == NULL)
		return;
	free(r->key_source);
	free(r->kind);
	free(r->problem);
	memset(r, 0, sizeof(*r));
}

struct walk {
	struct wiz_audit_report *r;
	char prev[65];
	char (*hashes)[65]; /* by seq - 1 */
	size_t cap;
	struct cw_buf key;   /* the audit key's SPKI; empty: none known */
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
keep_hash(struct walk *x, int64_t seq, const char *hash)
{
	if ((size_t)seq > x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 1024;
		char(*v)[65];

		while (cap < (size_t)seq)
			cap *= 2;
		v = realloc(x->hashes, cap * sizeof(*v));
		if (v == NULL)
			return CW_ERR_NOMEM;
		x->hashes = v;
		x->cap = cap;
	}
	memcpy(x->hashes[seq - 1], hash, 65);
	return CW_OK;
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
	if (!audit_target_canonical(a->target))
		return broken(x, a->seq, "modified",
			      cw_printf("event %lld's target is not in the form "
					"certwiz writes (edited by hand)",
					(long long)a->seq));
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
		return broken(x, a->seq, "modified",
			      cw_printf("event %lld cannot be read (not valid "
					"text)",
					(long long)a->seq));
	if (strcmp(hash, a->hash) != 0)
		return broken(x, a->seq, "modified",
			      cw_printf("event %lld was modified or inserted (its "
					"hash does not match it)",
					(long long)a->seq));
	if (keep_hash(x, a->seq, hash) != CW_OK)
		return CW_ERR_NOMEM;
	memcpy(x->prev, hash, 65);
	x->r->events++;
	return CW_OK;
}

static enum cw_err
key_from_pem(const struct cw_buf *pem, const char *what, struct cw_buf *spki)
{
	BIO *b = BIO_new_mem_buf(pem->data, (int)pem->len);
	EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int len = k ? i2d_PUBKEY(k, &der) : -1;
	enum cw_err rc = len > 0 ? cw_buf_set(spki, der, (size_t)len)
				 : CW_ERR_CONFIG;

	if (rc == CW_ERR_CONFIG)
		cw_error("cannot read the audit public key (%s, PEM)", what);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

/* The audit key on the audit token, by its label (CW_OK with nothing in
 * spki when there is none). */
static enum cw_err
key_on_token(struct wiz *w, struct cw_buf *spki)
{
	struct tok_session *tok = NULL;
	struct cw_pubkey pub;
	struct cw_buf id;
	size_t n = 0;
	enum cw_err rc;

	if (wiz_audit_token(w) == NULL)
		return CW_OK;
	cw_pubkey_init(&pub);
	cw_buf_init(&id);
	rc = wiz_open_token(w, wiz_audit_token(w), &tok);
	if (rc == CW_OK)
		rc = tok_private_by_label(tok, AUDIT_KEY_LABEL, &id, &n);
	if (rc == CW_OK && n > 1) {
		cw_error("the audit token holds %zu keys labelled '%s'; pin "
			 "the right one ([audit] public_key, or --key)",
			 n, AUDIT_KEY_LABEL);
		rc = CW_ERR_AMBIGUOUS;
	}
	if (rc == CW_OK && n == 1)
		rc = tok_public_key(tok, &id, &pub);
	if (rc == CW_OK && n == 1)
		rc = x509_spki_from_pubkey(&pub, spki);
	cw_pubkey_release(&pub);
	cw_buf_release(&id);
	return rc;
}

/* The audit key: --key, else the configuration's, else the token's. */
static enum cw_err
expected_key(struct wiz *w, const struct cw_buf *key_pem, struct walk *x)
{
	struct cw_buf file;
	enum cw_err rc;

	if (key_pem != NULL) {
		x->r->key_source = strdup("--key");
		return key_from_pem(key_pem, "--key", &x->key);
	}
	if (w->cfg.audit_public_key != NULL) {
		cw_buf_init(&file);
		rc = cw_file_read(w->cfg.audit_public_key, 64 * 1024, &file);
		if (rc == CW_OK)
			rc = key_from_pem(&file, "[audit] public_key", &x->key);
		cw_buf_release(&file);
		x->r->key_source = strdup("[audit] public_key");
		return rc;
	}
	rc = key_on_token(w, &x->key);
	if (rc == CW_OK && x->key.len > 0)
		x->r->key_source = strdup("token");
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
	if (x->key.len == 0)
		return broken(x, c->seq, "checkpoint-key",
			      cw_printf("checkpoint %lld cannot be checked: no "
					"audit key (configure [audit] "
					"public_key or give --key)",
					(long long)c->id));
	if (x->key.len != c->public_key.len ||
	    memcmp(x->key.data, c->public_key.data, x->key.len) != 0)
		return broken(x, c->seq, "checkpoint-key",
			      cw_printf("checkpoint %lld was not signed by the "
					"audit key",
					(long long)c->id));
	msg = audit_checkpoint_message(c->seq, c->hash, c->time);
	rc = msg ? x509_verify_sha256(&x->key, msg, strlen(msg),
				      &c->signature)
		 : CW_ERR_NOMEM;
	free(msg);
	if (rc == CW_ERR_CRYPTO)
		return broken(x, c->seq, "checkpoint-signature",
			      cw_printf("checkpoint %lld: the signature does "
					"not verify (forged)",
					(long long)c->id));
	x->last_cp_seq = c->seq;
	snprintf(x->last_cp_time, sizeof(x->last_cp_time), "%s", c->time);
	return rc;
}

/* What an anchor file holds. */
struct anchor {
	int64_t seq;
	const char *hash, *time;
	struct cw_buf sig, key;
};

static enum cw_err
read_anchor(json_t *j, struct anchor *a)
{
	const char *sig = json_string_value(json_object_get(j, "signature"));
	const char *key = json_string_value(json_object_get(j, "public_key"));
	const char *fmt = json_string_value(json_object_get(j, "format"));

	a->seq = json_integer_value(json_object_get(j, "seq"));
	a->hash = json_string_value(json_object_get(j, "hash"));
	a->time = json_string_value(json_object_get(j, "time"));
	if (fmt == NULL || strcmp(fmt, ANCHOR_FORMAT) != 0 || a->seq < 1 ||
	    a->hash == NULL || strlen(a->hash) != 64 || a->time == NULL ||
	    sig == NULL || key == NULL || cw_unbase64(sig, &a->sig) != CW_OK ||
	    cw_unbase64(key, &a->key) != CW_OK) {
		cw_error("not an audit anchor (written by 'certwiz audit "
			 "anchor')");
		return CW_ERR_PARSE;
	}
	return CW_OK;
}

/* The trail must reach the anchor's event with the anchor's hash, and the
 * anchor must carry the audit key's signature. */
static enum cw_err
check_anchor(struct walk *x, const struct cw_buf *text)
{
	json_t *j = json_loadb((const char *)text->data, text->len,
			       JSON_REJECT_DUPLICATES, NULL);
	struct anchor a;
	char *msg = NULL;
	enum cw_err rc;

	memset(&a, 0, sizeof(a));
	rc = read_anchor(j, &a);
	if (rc != CW_OK)
		goto out;
	x->r->anchor_seq = a.seq;
	msg = audit_checkpoint_message(a.seq, a.hash, a.time);
	if (msg == NULL ||
	    x509_verify_sha256(&a.key, msg, strlen(msg), &a.sig) != CW_OK) {
		rc = broken(x, a.seq, "anchor-signature",
			    cw_printf("the anchor's signature does not verify"));
		goto out;
	}
	if (x->key.len > 0 && (x->key.len != a.key.len ||
			       memcmp(x->key.data, a.key.data, a.key.len))) {
		rc = broken(x, a.seq, "anchor-key",
			    cw_printf("the anchor was signed by another key "
				      "than the audit key"));
		goto out;
	}
	if (a.seq > x->r->events) {
		rc = broken(x, x->r->events + 1, "truncated",
			    cw_printf("the trail ends at event %lld, but the "
				      "anchor written on %s covers up to "
				      "%lld (events were deleted)",
				      (long long)x->r->events, a.time,
				      (long long)a.seq));
		goto out;
	}
	if (strcmp(x->hashes[a.seq - 1], a.hash) != 0)
		rc = broken(x, a.seq, "anchor-mismatch",
			    cw_printf("the trail differs from the anchor at "
				      "event %lld: the history up to it was "
				      "rewritten",
				      (long long)a.seq));
out:
	free(msg);
	cw_buf_release(&a.sig);
	cw_buf_release(&a.key);
	json_decref(j);
	return rc;
}

enum cw_err
wiz_audit_verify(struct wiz *w, const struct cw_buf *key_pem,
		 const struct cw_buf *anchor, struct wiz_audit_report *out)
{
	struct wiz_audit_report r;
	struct walk x;
	struct store *s = NULL;
	enum cw_err rc;

	memset(&r, 0, sizeof(r));
	memset(&x, 0, sizeof(x));
	x.r = &r;
	memcpy(x.prev, AUDIT_GENESIS, 65);
	cw_buf_init(&x.key);
	rc = wiz_store(w, &s);
	if (rc == CW_OK)
		rc = expected_key(w, key_pem, &x);
	if (rc == CW_OK)
		rc = store_each_audit(s, NULL, on_event, &x);
	if (rc == CW_OK)
		rc = store_each_checkpoint(s, on_checkpoint, &x);
	/* an audit key exists, yet nothing was ever signed: the checkpoints
	 * were deleted */
	if (rc == CW_OK && r.checkpoints == 0 && x.key.len > 0)
		rc = broken(&x, 1, "no-checkpoint",
			    cw_printf("an audit key exists (%s) but the trail "
				      "has no checkpoint: they were deleted",
				      r.key_source));
	if (rc == CW_OK && anchor != NULL)
		rc = check_anchor(&x, anchor);
	r.unsigned_events = r.events - x.last_cp_seq;
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

enum cw_err
wiz_audit_anchor(struct wiz *w, char **text, int64_t *seq)
{
	struct store_checkpoint c;
	struct wiz_checkpoint cp;
	struct store *s = NULL;
	int64_t last = 0;
	char *hash = NULL, *sig = NULL, *key = NULL;
	json_t *j = NULL;
	enum cw_err rc;

	memset(&c, 0, sizeof(c));
	memset(&cp, 0, sizeof(cp));
	rc = wiz_store(w, &s);
	if (rc == CW_OK)
		rc = store_audit_last(s, &last, &hash);
	if (rc == CW_OK && store_checkpoint_last(s, &c) == CW_OK &&
	    c.seq == last)
		goto have;
	store_checkpoint_release(&c);
	if (rc == CW_OK)
		rc = wiz_audit_checkpoint(w, false, &cp);
	if (rc == CW_OK)
		rc = store_checkpoint_last(s, &c);
have:
	if (rc == CW_OK) {
		sig = cw_base64(c.signature.data, c.signature.len);
		key = cw_base64(c.public_key.data, c.public_key.len);
		j = sig && key ? json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}",
					   "format", ANCHOR_FORMAT, "seq",
					   (json_int_t)c.seq, "hash", c.hash,
					   "time", c.time, "signature", sig,
					   "public_key", key)
			       : NULL;
		*text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
			  : NULL;
		rc = *text ? CW_OK : CW_ERR_NOMEM;
		*seq = c.seq;
	}
	json_decref(j);
	free(sig);
	free(key);
	free(hash);
	wiz_checkpoint_release(&cp);
	store_checkpoint_release(&c);
	return rc;
}
