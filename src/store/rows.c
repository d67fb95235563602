/* Rows of the store: tokens, keys, requests, certificates. */
#include "store_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
store_token_release(struct store_token *t)
{
	if (t == NULL)
		return;
	free(t->serial);
	free(t->label);
	free(t->manufacturer);
	free(t->model);
	free(t->problem);
	memset(t, 0, sizeof(*t));
}

void
store_key_release(struct store_key *k)
{
	if (k == NULL)
		return;
	free(k->cka_id);
	free(k->label);
	free(k->algorithm);
	cw_buf_release(&k->spki);
	free(k->spki_sha256);
	free(k->origin);
	free(k->state);
	memset(k, 0, sizeof(*k));
}

void
store_cert_release(struct store_cert *c)
{
	if (c == NULL)
		return;
	cw_buf_release(&c->der);
	free(c->sha256);
	free(c->sha1);
	free(c->subject);
	free(c->issuer);
	free(c->serial);
	cw_buf_release(&c->chain);
	free(c->origin);
	cw_strlist_release(&c->names);
	cw_strlist_release(&c->eku);
	free(c->key_alg);
	free(c->token_state);
	free(c->mismatch);
	memset(c, 0, sizeof(*c));
}

/* Column lists and readers, one per table, kept side by side. */
#define TOKEN_COLS                                                            \
	"t.id, t.serial, t.label, t.manufacturer, t.model, t.problem, "        \
	"t.problem_since"
#define KEY_COLS                                                              \
	"k.id, k.token_id, k.cka_id, k.label, k.algorithm, k.spki, "           \
	"k.spki_sha256, k.origin, k.state, k.created"
#define CERT_COLS                                                             \
	"c.id, c.der, c.sha256, c.sha1, c.subject, c.issuer, c.serial, "       \
	"c.not_before, c.not_after, c.key_id, c.request_id, c.chain, "         \
	"c.origin, c.created, c.names, c.eku, c.key_alg, c.token_state, "     \
	"c.mismatch, c.chain_complete"

static enum cw_err add_names(struct store *s, int64_t id,
			     const struct cw_strlist *names);

static bool
read_token(sqlite3_stmt *st, int c, struct store_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(st, c);
	t->problem_since = sqlite3_column_int64(st, c + 6);
	return store_col_text(st, c + 1, &t->serial) &&
	       store_col_text(st, c + 2, &t->label) &&
	       store_col_text(st, c + 3, &t->manufacturer) &&
	       store_col_text(st, c + 4, &t->model) &&
	       store_col_text(st, c + 5, &t->problem);
}

static bool
read_key(sqlite3_stmt *st, int c, struct store_key *k)
{
	memset(k, 0, sizeof(*k));
	k->id = sqlite3_column_int64(st, c);
	k->token_id = sqlite3_column_int64(st, c + 1);
	k->created = sqlite3_column_int64(st, c + 9);
	return store_col_text(st, c + 2, &k->cka_id) &&
	       store_col_text(st, c + 3, &k->label) &&
	       store_col_text(st, c + 4, &k->algorithm) &&
	       store_col_blob(st, c + 5, &k->spki) &&
	       store_col_text(st, c + 6, &k->spki_sha256) &&
	       store_col_text(st, c + 7, &k->origin) &&
	       store_col_text(st, c + 8, &k->state);
}

bool
store_strlist_from_json(const char *text, struct cw_strlist *out)
{
	json_t *arr = json_loads(text ? text : "[]", 0, NULL);
	json_t *v;
	size_t i;
	bool ok = json_is_array(arr);

	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) ||
		    cw_strlist_add(out, json_string_value(v)) != CW_OK)
			ok = false;
	}
	json_decref(arr);
	return ok;
}

char *
store_strlist_to_json(const struct cw_strlist *l)
{
	json_t *arr = json_array();
	char *s;

	for (size_t i = 0; arr && i < l->n; i++)
		json_array_append_new(arr, json_string(l->v[i]));
	s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	return s;
}

static bool
read_cert(sqlite3_stmt *st, int c, struct store_cert *x)
{
	memset(x, 0, sizeof(*x));
	x->id = sqlite3_column_int64(st, c);
	x->not_before = sqlite3_column_int64(st, c + 7);
	x->not_after = sqlite3_column_int64(st, c + 8);
	x->key_id = sqlite3_column_int64(st, c + 9);
	x->request_id = sqlite3_column_int64(st, c + 10);
	x->created = sqlite3_column_int64(st, c + 13);
	x->names_known = sqlite3_column_type(st, c + 14) != SQLITE_NULL;
	x->eku_any = sqlite3_column_type(st, c + 15) == SQLITE_NULL;
	x->chain_state = sqlite3_column_type(st, c + 19) == SQLITE_NULL
				 ? STORE_CHAIN_UNKNOWN
			 : sqlite3_column_int(st, c + 19) ? STORE_CHAIN_COMPLETE
							  : STORE_CHAIN_INCOMPLETE;
	return store_col_text(st, c + 18, &x->mismatch) &&
	       store_strlist_from_json(
		       (const char *)sqlite3_column_text(st, c + 14),
		       &x->names) &&
	       store_strlist_from_json(
		       (const char *)sqlite3_column_text(st, c + 15), &x->eku) &&
	       store_col_text(st, c + 16, &x->key_alg) &&
	       store_col_text(st, c + 17, &x->token_state) &&
	       store_col_blob(st, c + 1, &x->der) &&
	       store_col_text(st, c + 2, &x->sha256) &&
	       store_col_text(st, c + 3, &x->sha1) &&
	       store_col_text(st, c + 4, &x->subject) &&
	       store_col_text(st, c + 5, &x->issuer) &&
	       store_col_text(st, c + 6, &x->serial) &&
	       store_col_blob(st, c + 11, &x->chain) &&
	       store_col_text(st, c + 12, &x->origin);
}

/* A serial that names one token (tpm2-pkcs11 gives all its tokens
 * 0000000000000000). */
static bool
serial_names_one(const char *serial)
{
	for (const char *p = serial; *p; p++)
		if (*p != '0' && *p != ' ')
			return true;
	return false;
}

/* ?1 serial, ?2 label, ?3 manufacturer, ?4 model */
static void
bind_token(sqlite3_stmt *st, const struct store_token *t)
{
	store_bind_text(st, 1, t->serial);
	store_bind_text(st, 2, t->label);
	store_bind_text(st, 3, t->manufacturer);
	store_bind_text(st, 4, t->model);
}

enum cw_err
store_token_ensure(struct store *s, const struct store_token *t, int64_t *id)
{
	bool by_serial = serial_names_one(t->serial);
	sqlite3_stmt *st = store_prep(
	    s, by_serial ? "SELECT id FROM tokens WHERE manufacturer=?3 AND "
	                   "model=?4 AND serial=?1 ORDER BY label=?2 DESC"
	                 : "SELECT id FROM tokens WHERE manufacturer=?3 AND "
	                   "model=?4 AND serial=?1 AND label=?2");
	enum cw_err rc;
	int r;

	if (st == NULL)
		return CW_ERR_STORE;
	bind_token(st, t);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return store_fail(s, "token");
	if (r == SQLITE_ROW) {
		/* a relabelled token (by serial): the row follows */
		st = store_prep(s, "UPDATE tokens SET label=?2 WHERE id=?1");
		if (st == NULL)
			return CW_ERR_STORE;
		sqlite3_bind_int64(st, 1, *id);
		store_bind_text(st, 2, t->label);
		return store_exec_step(s, st, "token");
	}
	st = store_prep(s, "INSERT INTO tokens (serial, label, manufacturer, "
	                   "model) VALUES (?1, ?2, ?3, ?4)");
	if (st == NULL)
		return CW_ERR_STORE;
	bind_token(st, t);
	rc = store_exec_step(s, st, "token");
	if (rc == CW_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

enum cw_err
store_token_get(struct store *s, int64_t id, struct store_token *out)
{
	sqlite3_stmt *st =
		store_prep(s, "SELECT " TOKEN_COLS " FROM tokens t WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	QUERY_ONE(s, st, read_token, out, "token");
}

enum cw_err
store_key_add(struct store *s, struct store_key *k)
{
	sqlite3_stmt *st = store_prep(
		s, "INSERT INTO keys (token_id, cka_id, label, algorithm, spki, "
		   "spki_sha256, origin, state, created) VALUES "
		   "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
	enum cw_err rc;

	if (st == NULL)
		return CW_ERR_STORE;
	k->created = time(NULL);
	sqlite3_bind_int64(st, 1, k->token_id);
	store_bind_text(st, 2, k->cka_id);
	store_bind_text(st, 3, k->label);
	store_bind_text(st, 4, k->algorithm);
	if (k->spki.len > 0)
		store_bind_blob(st, 5, &k->spki);
	store_bind_text(st, 6, k->spki_sha256);
	store_bind_text(st, 7, k->origin);
	store_bind_text(st, 8, k->state);
	sqlite3_bind_int64(st, 9, k->created);
	rc = store_exec_step(s, st, "key");
	if (rc == CW_OK)
		k->id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

enum cw_err
store_key_set_ready(struct store *s, int64_t id, const struct cw_buf *spki,
		    const char *spki_sha256)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE keys SET spki=?2, "
					 "spki_sha256=?3, state='ready' "
					 "WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	store_bind_blob(st, 2, spki);
	store_bind_text(st, 3, spki_sha256);
	return store_exec_step(s, st, "key");
}

enum cw_err
store_key_delete(struct store *s, int64_t id)
{
	sqlite3_stmt *st = store_prep(s, "DELETE FROM keys WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	return store_exec_step(s, st, "key");
}

enum cw_err
store_key_get(struct store *s, int64_t id, struct store_key *out)
{
	sqlite3_stmt *st =
		store_prep(s, "SELECT " KEY_COLS " FROM keys k WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	QUERY_ONE(s, st, read_key, out, "key");
}

enum cw_err
store_key_by_spki(struct store *s, const char *spki_sha256,
		  struct store_key *out)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " KEY_COLS " FROM keys k "
					 "WHERE spki_sha256=?1 AND "
					 "state='ready' ORDER BY id DESC");

	if (st == NULL)
		return CW_ERR_STORE;
	store_bind_text(st, 1, spki_sha256);
	QUERY_ONE(s, st, read_key, out, "key");
}

enum cw_err
store_cert_add(struct store *s, struct store_cert *c)
{
	sqlite3_stmt *st = store_prep(
		s, "INSERT INTO certificates (der, sha256, sha1, subject, "
		   "issuer, serial, not_before, not_after, key_id, request_id, "
		   "chain, origin, created, names, eku, key_alg, token_state, "
		   "mismatch, chain_complete) "
		   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
		   "?13, ?14, ?15, ?16, ?17, ?18, ?19)");
	char *names = store_strlist_to_json(&c->names);
	char *eku = c->eku_any ? NULL : store_strlist_to_json(&c->eku);
	enum cw_err rc;

	if (st == NULL || names == NULL || (!c->eku_any && eku == NULL)) {
		sqlite3_finalize(st);
		free(names);
		free(eku);
		return st ? CW_ERR_NOMEM : CW_ERR_STORE;
	}
	c->created = time(NULL);
	store_bind_blob(st, 1, &c->der);
	store_bind_text(st, 2, c->sha256);
	store_bind_text(st, 3, c->sha1);
	store_bind_text(st, 4, c->subject);
	store_bind_text(st, 5, c->issuer);
	store_bind_text(st, 6, c->serial);
	sqlite3_bind_int64(st, 7, c->not_before);
	sqlite3_bind_int64(st, 8, c->not_after);
	store_bind_id(st, 9, c->key_id);
	store_bind_id(st, 10, c->request_id);
	store_bind_blob(st, 11, &c->chain);
	store_bind_text(st, 12, c->origin);
	sqlite3_bind_int64(st, 13, c->created);
	store_bind_text(st, 14, names);
	store_bind_text(st, 15, eku);
	store_bind_text(st, 16, c->key_alg);
	store_bind_text(st, 17, c->token_state ? c->token_state : "present");
	store_bind_text(st, 18, c->mismatch);
	if (c->chain_state != STORE_CHAIN_UNKNOWN)
		sqlite3_bind_int(st, 19,
				 c->chain_state == STORE_CHAIN_COMPLETE);
	free(names);
	free(eku);
	rc = store_exec_step(s, st, "certificate");
	if (rc == CW_OK)
		c->id = sqlite3_last_insert_rowid(s->db);
	if (rc == CW_OK)
		rc = add_names(s, c->id, &c->names);
	return rc;
}

enum cw_err
store_cert_by_sha256(struct store *s, const char *sha256,
		     struct store_cert *out)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " CERT_COLS
					 " FROM certificates c WHERE sha256=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	store_bind_text(st, 1, sha256);
	QUERY_ONE(s, st, read_cert, out, "certificate");
}

/* Steps st (bound already) and calls fn for each key row with its
 * token. */
static enum cw_err
walk_keys(struct store *s, sqlite3_stmt *st, store_key_fn fn, void *user)
{
	enum cw_err rc = CW_OK;
	int r = SQLITE_DONE;

	while (rc == CW_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_key k;
		struct store_token t;

		if (!read_key(st, 0, &k) || !read_token(st, 10, &t))
			rc = CW_ERR_NOMEM;
		else
			rc = fn(user, &k, &t);
		store_key_release(&k);
		store_token_release(&t);
	}
	if (rc == CW_OK && r != SQLITE_DONE)
		rc = store_fail(s, "keys");
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_each_key(struct store *s, store_key_fn fn, void *user)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " KEY_COLS ", " TOKEN_COLS
	                                 " FROM keys k JOIN tokens t ON "
	                                 "t.id = k.token_id ORDER BY k.id");

	return st ? walk_keys(s, st, fn, user) : CW_ERR_STORE;
}

enum cw_err
store_each_prunable_key(struct store *s, int64_t now, int64_t keep_expired,
                        int64_t keep_superseded, store_key_fn fn, void *user)
{
	/* ready keys with certificates, none of them serving or scheduled,
	 * no open request, and every certificate past its retention:
	 * expired for keep_expired seconds, or superseded (assigned once,
	 * every assignment ended) for keep_superseded */
	sqlite3_stmt *st = store_prep(
	    s, "SELECT " KEY_COLS ", " TOKEN_COLS " FROM keys k JOIN tokens t "
	       "ON t.id = k.token_id WHERE k.state = 'ready' AND EXISTS "
	       "(SELECT 1 FROM certificates c WHERE c.key_id = k.id) AND NOT "
	       "EXISTS (SELECT 1 FROM requests r WHERE r.key_id = k.id AND "
	       "r.state IN ('created', 'awaiting-response', 'submitted', "
	       "'pending')) AND NOT EXISTS (SELECT 1 FROM assignments a JOIN "
	       "certificates c ON c.id = a.cert_id WHERE c.key_id = k.id AND "
	       "a.state IN ('current', 'scheduled')) AND NOT EXISTS (SELECT 1 "
	       "FROM certificates c WHERE c.key_id = k.id AND NOT (c.not_after "
	       "+ ?2 <= ?1 OR coalesce((SELECT max(a.ended_at) FROM "
	       "assignments a WHERE a.cert_id = c.id), ?1) + ?3 <= ?1 AND "
	       "EXISTS (SELECT 1 FROM assignments a WHERE a.cert_id = c.id))) "
	       "ORDER BY k.id");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, keep_expired);
	sqlite3_bind_int64(st, 3, keep_superseded);
	return walk_keys(s, st, fn, user);
}

enum cw_err
store_cert_of_request(struct store *s, int64_t request_id, int64_t *cert_id)
{
	sqlite3_stmt *st = store_prep(s, "SELECT id FROM certificates WHERE "
	                                 "request_id = ?1 ORDER BY id DESC "
	                                 "LIMIT 1");
	int r;

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, request_id);
	r = sqlite3_step(st);
	*cert_id = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return r == SQLITE_ROW    ? CW_OK
	       : r == SQLITE_DONE ? CW_ERR_NOT_FOUND
	                          : store_fail(s, "certificates");
}

enum cw_err
store_key_retire(struct store *s, int64_t id, int64_t now)
{
	sqlite3_stmt *st = store_prep(
	    s, "UPDATE keys SET state = 'gone', retired = ?2 WHERE id = ?1");
	enum cw_err rc;

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	rc = store_exec_step(s, st, "key");
	if (rc != CW_OK)
		return rc;
	st = store_prep(s, "UPDATE certificates SET token_state = 'none' "
	                   "WHERE key_id = ?1");
	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	return store_exec_step(s, st, "certificate");
}

/* Steps st (bound already) and calls fn for each certificate row. */
static enum cw_err
walk_certs(struct store *s, sqlite3_stmt *st, store_cert_fn fn, void *user)
{
	enum cw_err rc = CW_OK;
	int r = SQLITE_DONE;

	if (st == NULL)
		return CW_ERR_STORE;
	while (rc == CW_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_cert c;

		rc = read_cert(st, 0, &c) ? fn(user, &c) : CW_ERR_NOMEM;
		store_cert_release(&c);
	}
	if (rc == CW_OK && r != SQLITE_DONE)
		rc = store_fail(s, "certificates");
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_each_cert(struct store *s, store_cert_fn fn, void *user)
{
	return walk_certs(s,
			  store_prep(s, "SELECT " CERT_COLS
					" FROM certificates c ORDER BY c.id"),
			  fn, user);
}

enum cw_err
store_each_cert_of_key(struct store *s, int64_t key_id, store_cert_fn fn,
		       void *user)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " CERT_COLS
					 " FROM certificates c WHERE "
					 "c.key_id=?1 ORDER BY c.id");

	if (st != NULL)
		sqlite3_bind_int64(st, 1, key_id);
	return walk_certs(s, st, fn, user);
}

enum cw_err
store_each_valid_cert(struct store *s, int64_t now, const char *name,
		      store_cert_fn fn, void *user)
{
	const char *dot = name ? strchr(name, '.') : NULL;
	char *lower = NULL, *wild = NULL;
	sqlite3_stmt *st;

	if (name != NULL) {
		lower = strdup(name);
		for (char *p = lower; p && *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		wild = cw_printf("*%s", dot && lower ? lower + (dot - name)
						      : "");
		if (lower == NULL || wild == NULL) {
			free(lower);
			free(wild);
			return CW_ERR_NOMEM;
		}
	}
	st = store_prep(s, name ? "SELECT " CERT_COLS " FROM certificates c "
				  "JOIN keys k ON k.id = c.key_id WHERE c.id "
				  "IN (SELECT cert_id FROM cert_names WHERE "
				  "name IN (?2, ?3)) AND c.not_after > ?1 AND "
				  "c.not_before <= ?1 AND k.state = 'ready' "
				  "AND c.token_state = 'present' ORDER BY "
				  "c.not_after DESC"
				: "SELECT " CERT_COLS " FROM certificates c "
				  "JOIN keys k ON k.id = c.key_id WHERE "
				  "c.not_after > ?1 AND c.not_before <= ?1 AND "
				  "k.state = 'ready' AND c.token_state = "
				  "'present' ORDER BY c.not_after DESC");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, now);
		store_bind_text(st, 2, lower);
		store_bind_text(st, 3, wild);
	}
	free(lower);
	free(wild);
	return walk_certs(s, st, fn, user);
}

/* Indexes the names of a new certificate (lowercase). */
static enum cw_err
add_names(struct store *s, int64_t id, const struct cw_strlist *names)
{
	sqlite3_stmt *st = store_prep(s, "INSERT OR IGNORE INTO cert_names "
					 "(cert_id, name) VALUES (?1, "
					 "lower(?2))");
	enum cw_err rc = CW_OK;

	if (st == NULL)
		return CW_ERR_STORE;
	for (size_t i = 0; i < names->n && rc == CW_OK; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		store_bind_text(st, 2, names->v[i]);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_fail(s, "certificate names");
	}
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_cert_get(struct store *s, int64_t id, struct store_cert *out)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " CERT_COLS
					 " FROM certificates c WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	QUERY_ONE(s, st, read_cert, out, "certificate");
}

static bool
all_digits(const char *s, size_t min)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!(*s >= '0' && *s <= '9'))
			return false;
	return n >= min;
}

/* The one certificate whose thumbprint starts with ref (hex, 4 digits at
 * least); CW_ERR_NOT_FOUND, CW_ERR_AMBIGUOUS (reported). */
static enum cw_err
cert_by_prefix(struct store *s, const char *ref, struct store_cert *out)
{
	sqlite3_stmt *st;
	char *like = cw_printf("%s%%", ref);
	enum cw_err rc;
	int r;

	st = store_prep(s, "SELECT " CERT_COLS " FROM certificates c WHERE "
			   "sha256 LIKE ?1 ORDER BY c.id LIMIT 2");
	if (st == NULL || like == NULL) {
		sqlite3_finalize(st);
		free(like);
		return st ? CW_ERR_NOMEM : CW_ERR_STORE;
	}
	for (char *p = like; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
	store_bind_text(st, 1, like);
	free(like);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = CW_ERR_NOT_FOUND;
	} else if (r != SQLITE_ROW) {
		rc = store_fail(s, "certificate");
	} else if (!read_cert(st, 0, out)) {
		rc = CW_ERR_NOMEM;
	} else if (sqlite3_step(st) == SQLITE_ROW) {
		cw_error("'%s' matches several certificates (%.16s..., "
			 "%.16s...); give more of the thumbprint",
			 ref, out->sha256,
			 (const char *)sqlite3_column_text(st, 2));
		store_cert_release(out);
		rc = CW_ERR_AMBIGUOUS;
	} else {
		rc = CW_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* A reference of decimal digits is an id, and may also be the start of a
 * thumbprint (about 2% of 8-digit prefixes are all decimal): when both
 * match, and not the same certificate, it is ambiguous. */
static enum cw_err
cert_by_digits(struct store *s, const char *ref, struct store_cert *out)
{
	struct store_cert by_id, by_prefix;
	enum cw_err rc_id, rc_pre = CW_ERR_NOT_FOUND;

	/* either may be released whatever it came to (a lookup that finds
	 * nothing leaves its struct untouched) */
	memset(&by_id, 0, sizeof(by_id));
	memset(&by_prefix, 0, sizeof(by_prefix));
	rc_id = store_cert_get(s, strtoll(ref, NULL, 10), &by_id);
	if (rc_id != CW_OK && rc_id != CW_ERR_NOT_FOUND)
		return rc_id;
	if (strlen(ref) >= 4)
		rc_pre = cert_by_prefix(s, ref, &by_prefix);
	if (rc_pre != CW_OK && rc_pre != CW_ERR_NOT_FOUND) {
		store_cert_release(&by_id);
		return rc_pre;
	}
	if (rc_id == CW_OK && rc_pre == CW_OK && by_id.id != by_prefix.id) {
		cw_error("'%s' is the id of certificate %lld and the start of "
			 "the thumbprint of certificate %lld (%.16s...); give "
			 "more of the thumbprint",
			 ref, (long long)by_id.id, (long long)by_prefix.id,
			 by_prefix.sha256);
		store_cert_release(&by_id);
		store_cert_release(&by_prefix);
		return CW_ERR_AMBIGUOUS;
	}
	if (rc_id == CW_OK) {
		if (rc_pre == CW_OK)
			store_cert_release(&by_prefix);
		*out = by_id;
		return CW_OK;
	}
	if (rc_pre == CW_OK)
		*out = by_prefix;
	return rc_pre;
}

enum cw_err
store_cert_find(struct store *s, const char *ref, struct store_cert *out)
{
	size_t n = strlen(ref);

	if (all_digits(ref, 1) && n < 12)
		return cert_by_digits(s, ref, out);
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF", ref[i]))
			return CW_ERR_NOT_FOUND;
	if (n < 4) {
		cw_error("thumbprint prefix '%s' is too short (4 hex digits "
			 "at least)",
			 ref);
		return CW_ERR_USAGE;
	}
	return cert_by_prefix(s, ref, out);
}

enum cw_err
store_cert_set_token_state(struct store *s, int64_t id, const char *state)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE certificates SET "
					 "token_state=?2 WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, state);
	return store_exec_step(s, st, "certificate");
}

enum cw_err
store_cert_set_chain(struct store *s, int64_t id, const struct cw_buf *chain,
		     enum store_chain state)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE certificates SET chain=?2, "
					 "chain_complete=?3 WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	store_bind_blob(st, 2, chain);
	if (state != STORE_CHAIN_UNKNOWN)
		sqlite3_bind_int(st, 3, state == STORE_CHAIN_COMPLETE);
	return store_exec_step(s, st, "certificate");
}

enum cw_err
store_token_set_problem(struct store *s, int64_t id, const char *problem,
			int64_t now)
{
	sqlite3_stmt *st = store_prep(
		s, "UPDATE tokens SET problem=?2, problem_since=CASE WHEN ?2 "
		   "IS NULL THEN NULL WHEN problem IS NULL THEN ?3 ELSE "
		   "problem_since END WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, problem);
	sqlite3_bind_int64(st, 3, now);
	return store_exec_step(s, st, "token");
}

enum cw_err
store_key_set_state(struct store *s, int64_t id, const char *state)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE keys SET state=?2 WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, state);
	return store_exec_step(s, st, "key");
}

enum cw_err
store_cka_id_known(struct store *s, const char *cka_id, bool *known)
{
	sqlite3_stmt *st = store_prep(
		s, "SELECT 1 FROM keys WHERE cka_id=?1 UNION ALL SELECT 1 "
		   "FROM acme_accounts WHERE cka_id=?1 UNION ALL SELECT 1 FROM "
		   "meta WHERE key='audit_key_id' AND value=?1");
	int r;

	if (st == NULL)
		return CW_ERR_STORE;
	store_bind_text(st, 1, cka_id);
	r = sqlite3_step(st);
	*known = r == SQLITE_ROW;
	sqlite3_finalize(st);
	return r == SQLITE_ROW || r == SQLITE_DONE ? CW_OK
						   : store_fail(s, "keys");
}
