/* The audit trail: events written with the changes they record, signed
 * checkpoints, verification. */
#include "wizard_int.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A checkpoint is due after this many events, or this many seconds. */
#define CHECKPOINT_EVENTS 100
#define CHECKPOINT_SECONDS 86400

static enum cw_err audit_add(struct wiz *w, unsigned uid, const char *user,
			     const char *host, const char *operation,
			     const char *target, const char *outcome,
			     const char *reason);

enum cw_err
wiz_audit(struct wiz *w, const char *operation, const char *target,
	  const char *outcome, const char *reason)
{
	return wiz_audit_as(w, wiz_caller_uid(w), wiz_caller_name(w),
			    operation, target, outcome, reason);
}

/* A copy of s with control characters (C0, DEL) written as \xNN: what an
 * event records is text, never a terminal command or a line break. */
static char *
plain(const char *s)
{
	size_t n = 0;
	char *out, *q;

	if (s == NULL)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += *p < 0x20 || *p == 0x7f ? 4 : 1;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	q = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			q += sprintf(q, "\\x%02x", *p);
		else
			*q++ = (char)*p;
	}
	*q = 0;
	return out;
}

enum cw_err
wiz_audit_as(struct wiz *w, unsigned uid, const char *user,
	     const char *operation, const char *target, const char *outcome,
	     const char *reason)
{
	char *u = plain(user), *h = plain(w->host), *r = plain(reason);
	enum cw_err rc = u && h && (r || !reason)
				 ? audit_add(w, uid, u, h, operation, target,
					     outcome, r)
				 : CW_ERR_NOMEM;

	free(u);
	free(h);
	free(r);
	return rc;
}

static enum cw_err
audit_add(struct wiz *w, unsigned uid, const char *user, const char *host,
	  const char *operation, const char *target, const char *outcome,
	  const char *reason)
{
	struct audit_event e;
	struct store_audit row;
	char hash[65];
	char *prev = NULL;
	int64_t seq = 0;
	enum cw_err rc;

	rc = store_audit_last(w->store, &seq, &prev);
	if (rc != CW_OK)
		return rc;
	memset(&e, 0, sizeof(e));
	e.seq = seq + 1;
	cw_time_format(time(NULL), e.time, sizeof(e.time));
	e.uid = uid;
	e.user = user;
	e.host = host;
	e.operation = operation;
	e.target = target ? target : "{}";
	e.outcome = outcome;
	e.reason = reason;
	rc = audit_hash(prev ? prev : AUDIT_GENESIS, &e, hash);
	if (rc == CW_OK) {
		row = (struct store_audit){ e.seq,
					    e.time,
					    e.uid,
					    (char *)e.user,
					    (char *)e.host,
					    (char *)operation,
					    (char *)e.target,
					    (char *)outcome,
					    (char *)reason,
					    prev ? prev : AUDIT_GENESIS,
					    hash };
		rc = store_audit_add(w->store, &row);
	}
	if (rc != CW_OK)
		cw_error("cannot write the audit event; nothing is changed");
	free(prev);
	return rc;
}

enum cw_err
wiz_audit_service(struct wiz *w, const char *operation, const char *target,
		  const char *outcome, const char *reason)
{
	char *name = cw_uid_name((unsigned)geteuid());
	enum cw_err rc = wiz_audit_as(w, (unsigned)geteuid(),
				      name ? name : "certwizd", operation,
				      target, outcome, reason);

	free(name);
	return rc;
}

enum cw_err
wiz_audit_assignment(struct wiz *w, const char *operation, const char *usage,
		     const char *sha256, time_t at)
{
	char t[32], *target;
	enum cw_err rc;

	cw_time_format(at, t, sizeof(t));
	target = audit_target("host", w->host, "usage", usage, "certificate",
			      sha256, "effective", t, NULL);
	rc = target ? wiz_audit(w, operation, target, "success", NULL)
		    : CW_ERR_NOMEM;
	free(target);
	return rc;
}

enum cw_err
wiz_audit_activated(void *user, const struct store_assignment *a)
{
	struct wiz *w = user;
	struct store_cert c;
	enum cw_err rc = store_cert_get(w->store, a->cert_id, &c);

	if (rc == CW_OK)
		rc = wiz_audit_assignment(w, "assignment-activated", a->usage,
					  c.sha256, a->effective_from);
	store_cert_release(&c);
	return rc;
}

void
wiz_audit_failure(struct wiz *w, const char *operation, const char *target,
		  enum cw_err rc)
{
	struct store *s = NULL;
	const char *reason = cw_last_error()[0] ? cw_last_error()
						 : cw_strerror(rc);
	int level = cw_log_get_level();
	enum cw_err r;

	cw_log_set_level(CW_LOG_QUIET); /* the failure is already reported */
	r = wiz_store(w, &s);
	if (r == CW_OK)
		r = store_end(s, store_begin(s) == CW_OK
					 ? wiz_audit(w, operation, target,
						     rc == CW_ERR_PERM ? "denied"
								       : "failure",
						     reason)
					 : CW_ERR_STORE);
	cw_log_set_level((enum cw_log_level)level);
	if (r != CW_OK)
		cw_warn("the failure could not be recorded in the audit trail");
}

void
wiz_audit_token_failure(struct wiz *w, const struct tok_info *t,
			enum cw_err rc)
{
	char *target = audit_target("token", t->label, "token_serial",
				    t->serial, NULL);

	wiz_audit_failure(w, "token-login", target, rc);
	free(target);
}

/* The SHA-256 of a file's content, or "absent". */
static char *
file_hash(const char *path)
{
	struct cw_buf b;
	char *h;

	cw_buf_init(&b);
	if (path == NULL || cw_file_read(path, 4 << 20, &b) != CW_OK)
		return strdup("absent");
	h = x509_sha256_hex(b.data, b.len);
	cw_buf_release(&b);
	return h;
}

static enum cw_err
note_change(struct wiz *w, const char *key, const char *path,
	    const char *operation)
{
	char *now = file_hash(path), *before = NULL, *target = NULL;
	enum cw_err rc = now ? store_meta_get(w->store, key, &before)
			     : CW_ERR_NOMEM;

	if (rc == CW_OK && (before == NULL || strcmp(before, now) != 0)) {
		target = audit_target("file", path, "sha256", now,
				      "previous_sha256", before, NULL);
		rc = store_begin(w->store);
		if (rc == CW_OK)
			rc = wiz_audit_service(w, operation, target, "success",
					       before ? "changed since the "
							"last run"
						      : "first seen");
		if (rc == CW_OK)
			rc = store_meta_set(w->store, key, now);
		rc = store_end(w->store, rc);
	}
	free(now);
	free(before);
	free(target);
	return rc;
}

void
wiz_audit_config_changes(struct wiz *w)
{
	int level = cw_log_get_level();

	cw_log_set_level(CW_LOG_QUIET);
	if (note_change(w, "config_sha256", w->cfg.path,
			"configuration-changed") == CW_OK)
		note_change(w, "topology_sha256", w->cfg.topology_file,
			    "topology-changed");
	cw_log_set_level((enum cw_log_level)level);
}

void
wiz_checkpoint_release(struct wiz_checkpoint *c)
{
	if (c == NULL)
		return;
	free(c->hash);
	free(c->time);
	free(c->cka_id);
	memset(c, 0, sizeof(*c));
}

const char *
wiz_audit_token(const struct wiz *w)
{
	return w->cfg.audit_token ? w->cfg.audit_token : w->cfg.token_uri;
}

/* The audit key's algorithm, from what the token offers: EC P-256 where
 * it can make and use one, else RSA-3072, else RSA-2048. */
static enum cw_err
audit_spec(struct tok_session *tok, struct cw_keyspec *spec)
{
	static const char *const choices[] = { "ec:P-256", "rsa:3072",
					       "rsa:2048" };
	int level = cw_log_get_level();
	enum cw_err rc = CW_ERR_MECHANISM;

	cw_log_set_level(CW_LOG_QUIET);
	for (size_t i = 0; i < 3 && rc != CW_OK; i++)
		if (cw_keyspec_parse(choices[i], spec) == CW_OK)
			rc = tok_check_mechanism(tok, spec);
	cw_log_set_level((enum cw_log_level)level);
	if (rc != CW_OK)
		cw_error("token '%s' can make neither an EC P-256 nor an RSA "
			 "key for the audit trail",
			 tok_session_info(tok)->label);
	return rc;
}

/* The audit key on the session's token: found by the id in meta, else
 * generated (sign only, like every certwiz key) and recorded. */
static enum cw_err
audit_key(struct wiz *w, struct tok_session *tok, struct cw_buf *id,
	  struct cw_buf *spki, enum cw_key_type *type)
{
	struct cw_pubkey pub;
	struct cw_keyspec spec;
	char *hex = NULL;
	bool used = true;
	enum cw_err rc = store_meta_get(w->store, "audit_key_id", &hex);

	cw_pubkey_init(&pub);
	if (rc == CW_OK && hex != NULL) {
		rc = cw_unhex(hex, id);
		if (rc == CW_OK)
			rc = tok_public_key(tok, id, &pub);
	} else if (rc == CW_OK) {
		unsigned char b[16];

		rc = audit_spec(tok, &spec);
		if (rc == CW_OK)
			rc = cw_random(b, sizeof(b));
		if (rc == CW_OK)
			rc = cw_buf_set(id, b, sizeof(b));
		if (rc == CW_OK)
			rc = tok_id_in_use(tok, id, &used);
		if (rc == CW_OK && used)
			rc = CW_ERR_TOKEN;
		if (rc == CW_OK)
			rc = tok_keygen(tok, &spec, id, AUDIT_KEY_LABEL, &pub);
		free(hex);
		hex = rc == CW_OK ? cw_hex(id->data, id->len) : NULL;
		if (rc == CW_OK)
			rc = store_end(w->store,
				       store_begin(w->store) == CW_OK
					       ? store_meta_set(w->store,
								"audit_key_id",
								hex)
					       : CW_ERR_STORE);
	}
	if (rc == CW_OK)
		rc = x509_spki_from_pubkey(&pub, spki);
	*type = pub.type;
	free(hex);
	cw_pubkey_release(&pub);
	return rc;
}

static bool
due(struct wiz *w, int64_t seq)
{
	struct store_checkpoint last;
	time_t t = 0;
	bool yes;

	if (store_checkpoint_last(w->store, &last) != CW_OK)
		return seq >= CHECKPOINT_EVENTS;
	cw_time_parse(last.time, 0, &t);
	yes = seq - last.seq >= CHECKPOINT_EVENTS ||
	      (seq > last.seq && time(NULL) - t >= CHECKPOINT_SECONDS);
	store_checkpoint_release(&last);
	return yes;
}

static struct tok_session *
cached_session(struct wiz *w, const char *uri)
{
	for (size_t i = 0; uri && i < w->n_sessions; i++)
		if (tok_session_matches(w->sessions[i], uri))
			return w->sessions[i];
	return NULL;
}

static enum cw_err
sign_checkpoint(struct wiz *w, struct tok_session *tok,
		struct store_checkpoint *c)
{
	struct cw_buf id, raw;
	unsigned char digest[32];
	char *msg = audit_checkpoint_message(c->seq, c->hash, c->time);
	enum cw_key_type type = CW_KEY_EC;
	struct cw_sign_req req;
	enum cw_err rc = msg ? CW_OK : CW_ERR_NOMEM;

	cw_buf_init(&id);
	cw_buf_init(&raw);
	if (rc == CW_OK)
		rc = audit_key(w, tok, &id, &c->public_key, &type);
	if (rc == CW_OK)
		rc = x509_sha256(msg, strlen(msg), digest);
	if (rc == CW_OK) {
		req = (struct cw_sign_req){ type == CW_KEY_RSA
						    ? CW_SIG_RSA_PKCS1_SHA256
						    : CW_SIG_ECDSA_SHA256,
					    (const unsigned char *)msg,
					    strlen(msg), digest, 32 };
		rc = tok_sign(tok, &id, &req, &raw);
	}
	/* ECDSA comes back as r||s; a PKCS#1 signature is kept as it is */
	if (rc == CW_OK && type == CW_KEY_RSA)
		rc = cw_buf_set(&c->signature, raw.data, raw.len);
	else if (rc == CW_OK)
		rc = x509_ecdsa_raw_to_der(&raw, &c->signature);
	if (rc == CW_OK && (c->cka_id = cw_hex(id.data, id.len)) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK &&
	    (c->token_serial = strdup(tok_session_info(tok)->serial)) == NULL)
		rc = CW_ERR_NOMEM;
	free(msg);
	cw_buf_release(&id);
	cw_buf_release(&raw);
	return rc;
}

enum cw_err
wiz_audit_checkpoint(struct wiz *w, bool only_if_due,
		     struct wiz_checkpoint *out)
{
	struct store_checkpoint c;
	struct tok_session *tok = NULL;
	struct store *s = NULL;
	char t[32], *target = NULL;
	enum cw_err rc;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	rc = wiz_store(w, &s);
	if (rc != CW_OK)
		return rc;
	if (wiz_audit_token(w) == NULL) {
		cw_error("no token for the audit key: set [audit] token or "
			 "[token] uri");
		return CW_ERR_CONFIG;
	}
	rc = store_audit_last(s, &c.seq, &c.hash);
	if (rc != CW_OK || (only_if_due && !due(w, c.seq)))
		goto out;
	tok = cached_session(w, wiz_audit_token(w));
	if (tok == NULL && only_if_due)
		goto out;
	if (tok == NULL &&
	    (rc = wiz_open_token(w, wiz_audit_token(w), &tok)) != CW_OK)
		goto out;
	if (c.hash == NULL) {
		cw_error("the audit trail is empty; nothing to checkpoint");
		rc = CW_ERR_UNAVAILABLE;
		goto out;
	}
	cw_time_format(time(NULL), t, sizeof(t));
	c.time = strdup(t);
	rc = c.time ? sign_checkpoint(w, tok, &c) : CW_ERR_NOMEM;
	target = audit_target("audit_key", c.cka_id, "token_serial",
			      c.token_serial, NULL);
	if (rc == CW_OK)
		rc = store_begin(s);
	if (rc == CW_OK)
		rc = store_checkpoint_add(s, &c);
	if (rc == CW_OK)
		rc = wiz_audit(w, "audit-checkpoint", target, "success", NULL);
	rc = store_end(s, rc);
	if (rc == CW_OK) {
		out->written = true;
		out->seq = c.seq;
		out->hash = strdup(c.hash);
		out->time = strdup(c.time);
		out->cka_id = strdup(c.cka_id);
	}
out:
	free(target);
	store_checkpoint_release(&c);
	return rc;
}

enum cw_err
wiz_audit_events(struct wiz *w, const char *since, store_audit_fn fn,
		 void *user)
{
	struct store *s = NULL;
	enum cw_err rc = wiz_store(w, &s);

	return rc == CW_OK ? store_each_audit(s, since, fn, user) : rc;
}
