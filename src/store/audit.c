/* Audit rows, checkpoints and metadata. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#define AUDIT_COLS                                                            \
	"seq, time, uid, user, host, operation, target, outcome, reason, "     \
	"prev_hash, hash"
#define CHECKPOINT_COLS                                                       \
	"id, seq, hash, time, token_serial, cka_id, public_key, signature"

void
store_audit_release(struct store_audit *a)
{
	if (a == NULL)
		return;
	free(a->time);
	free(a->user);
	free(a->host);
	free(a->operation);
	free(a->target);
	free(a->outcome);
	free(a->reason);
	free(a->prev_hash);
	free(a->hash);
	memset(a, 0, sizeof(*a));
}

void
store_checkpoint_release(struct store_checkpoint *c)
{
	if (c == NULL)
		return;
	free(c->hash);
	free(c->time);
	free(c->token_serial);
	free(c->cka_id);
	cw_buf_release(&c->public_key);
	cw_buf_release(&c->signature);
	memset(c, 0, sizeof(*c));
}

static bool
read_audit(sqlite3_stmt *st, struct store_audit *a)
{
	memset(a, 0, sizeof(*a));
	a->seq = sqlite3_column_int64(st, 0);
	a->uid = sqlite3_column_int64(st, 2);
	return store_col_text(st, 1, &a->time) &&
	       store_col_text(st, 3, &a->user) &&
	       store_col_text(st, 4, &a->host) &&
	       store_col_text(st, 5, &a->operation) &&
	       store_col_text(st, 6, &a->target) &&
	       store_col_text(st, 7, &a->outcome) &&
	       store_col_text(st, 8, &a->reason) &&
	       store_col_text(st, 9, &a->prev_hash) &&
	       store_col_text(st, 10, &a->hash);
}

static bool
read_checkpoint(sqlite3_stmt *st, struct store_checkpoint *c)
{
	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	c->seq = sqlite3_column_int64(st, 1);
	return store_col_text(st, 2, &c->hash) &&
	       store_col_text(st, 3, &c->time) &&
	       store_col_text(st, 4, &c->token_serial) &&
	       store_col_text(st, 5, &c->cka_id) &&
	       store_col_blob(st, 6, &c->public_key) &&
	       store_col_blob(st, 7, &c->signature);
}

enum cw_err
store_audit_last(struct store *s, int64_t *seq, char **hash)
{
	sqlite3_stmt *st = store_prep(s, "SELECT seq, hash FROM audit ORDER "
					 "BY seq DESC LIMIT 1");
	enum cw_err rc = CW_OK;
	int r;

	if (st == NULL)
		return CW_ERR_STORE;
	*seq = 0;
	*hash = NULL;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		if (!store_col_text(st, 1, hash))
			rc = CW_ERR_NOMEM;
	} else if (r != SQLITE_DONE) {
		rc = store_fail(s, "audit");
	}
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_audit_add(struct store *s, const struct store_audit *a)
{
	sqlite3_stmt *st = store_prep(s, "INSERT INTO audit (" AUDIT_COLS
					 ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
					 "?7, ?8, ?9, ?10, ?11)");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, a->seq);
	store_bind_text(st, 2, a->time);
	sqlite3_bind_int64(st, 3, a->uid);
	store_bind_text(st, 4, a->user);
	store_bind_text(st, 5, a->host);
	store_bind_text(st, 6, a->operation);
	store_bind_text(st, 7, a->target);
	store_bind_text(st, 8, a->outcome);
	store_bind_text(st, 9, a->reason);
	store_bind_text(st, 10, a->prev_hash);
	store_bind_text(st, 11, a->hash);
	return store_exec_step(s, st, "audit");
}

enum cw_err
store_each_audit(struct store *s, const char *since, store_audit_fn fn,
		 void *user)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " AUDIT_COLS " FROM audit "
					 "WHERE ?1 IS NULL OR time >= ?1 "
					 "ORDER BY seq");
	enum cw_err rc = CW_OK;
	int r = SQLITE_DONE;

	if (st == NULL)
		return CW_ERR_STORE;
	store_bind_text(st, 1, since);
	while (rc == CW_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_audit a;

		rc = read_audit(st, &a) ? fn(user, &a) : CW_ERR_NOMEM;
		store_audit_release(&a);
	}
	if (rc == CW_OK && r != SQLITE_DONE)
		rc = store_fail(s, "audit");
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_checkpoint_add(struct store *s, struct store_checkpoint *c)
{
	sqlite3_stmt *st = store_prep(
		s, "INSERT INTO audit_checkpoints (seq, hash, time, "
		   "token_serial, cka_id, public_key, signature) VALUES (?1, "
		   "?2, ?3, ?4, ?5, ?6, ?7)");
	enum cw_err rc;

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, c->seq);
	store_bind_text(st, 2, c->hash);
	store_bind_text(st, 3, c->time);
	store_bind_text(st, 4, c->token_serial);
	store_bind_text(st, 5, c->cka_id);
	store_bind_blob(st, 6, &c->public_key);
	store_bind_blob(st, 7, &c->signature);
	rc = store_exec_step(s, st, "checkpoint");
	if (rc == CW_OK)
		c->id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

enum cw_err
store_each_checkpoint(struct store *s, store_checkpoint_fn fn, void *user)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " CHECKPOINT_COLS
					 " FROM audit_checkpoints ORDER BY id");
	enum cw_err rc = CW_OK;
	int r = SQLITE_DONE;

	if (st == NULL)
		return CW_ERR_STORE;
	while (rc == CW_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_checkpoint c;

		rc = read_checkpoint(st, &c) ? fn(user, &c) : CW_ERR_NOMEM;
		store_checkpoint_release(&c);
	}
	if (rc == CW_OK && r != SQLITE_DONE)
		rc = store_fail(s, "checkpoints");
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_checkpoint_last(struct store *s, struct store_checkpoint *out)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " CHECKPOINT_COLS
					 " FROM audit_checkpoints ORDER BY id "
					 "DESC LIMIT 1");
	enum cw_err rc;
	int r;

	if (st == NULL)
		return CW_ERR_STORE;
	r = sqlite3_step(st);
	if (r == SQLITE_DONE)
		rc = CW_ERR_NOT_FOUND;
	else if (r != SQLITE_ROW)
		rc = store_fail(s, "checkpoint");
	else
		rc = read_checkpoint(st, out) ? CW_OK : CW_ERR_NOMEM;
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_meta_get(struct store *s, const char *key, char **value)
{
	sqlite3_stmt *st = store_prep(s, "SELECT value FROM meta WHERE key=?1");
	enum cw_err rc = CW_OK;
	int r;

	if (st == NULL)
		return CW_ERR_STORE;
	store_bind_text(st, 1, key);
	*value = NULL;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW && !store_col_text(st, 0, value))
		rc = CW_ERR_NOMEM;
	else if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = store_fail(s, "meta");
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = store_prep(s, "INSERT INTO meta (key, value) VALUES "
					 "(?1, ?2) ON CONFLICT (key) DO UPDATE "
					 "SET value = excluded.value");

	if (st == NULL)
		return CW_ERR_STORE;
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, value);
	return store_exec_step(s, st, "meta");
}
