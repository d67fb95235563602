/* Rows of the store: requests, ACME accounts and published challenges. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REQUEST_COLS                                                          \
	"r.id, r.host, r.usages, r.key_id, r.csr, r.protocol, r.ca, r.state, " \
	"r.created_by, r.created, r.updated, r.out_path, r.ca_ref, "           \
	"r.next_attempt, r.problem, r.attempts, r.created_uid"

void
store_request_release(struct store_request *r)
{
	if (r == NULL)
		return;
	free(r->host);
	cw_strlist_release(&r->usages);
	cw_buf_release(&r->csr);
	free(r->protocol);
	free(r->ca);
	free(r->state);
	free(r->created_by);
	free(r->out_path);
	free(r->ca_ref);
	free(r->problem);
	memset(r, 0, sizeof(*r));
}

static bool
read_request(sqlite3_stmt *st, int c, struct store_request *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, c);
	r->key_id = sqlite3_column_int64(st, c + 3);
	r->created = sqlite3_column_int64(st, c + 9);
	r->updated = sqlite3_column_int64(st, c + 10);
	r->next_attempt = sqlite3_column_int64(st, c + 13);
	r->attempts = sqlite3_column_int64(st, c + 15);
	r->created_uid = (unsigned)sqlite3_column_int64(st, c + 16);
	return store_col_text(st, c + 1, &r->host) &&
	       store_strlist_from_json((const char *)sqlite3_column_text(st, c + 2),
				&r->usages) &&
	       store_col_blob(st, c + 4, &r->csr) &&
	       store_col_text(st, c + 5, &r->protocol) &&
	       store_col_text(st, c + 6, &r->ca) &&
	       store_col_text(st, c + 7, &r->state) &&
	       store_col_text(st, c + 8, &r->created_by) &&
	       store_col_text(st, c + 11, &r->out_path) &&
	       store_col_text(st, c + 12, &r->ca_ref) &&
	       store_col_text(st, c + 14, &r->problem);
}

enum cw_err
store_request_add(struct store *s, struct store_request *r)
{
	sqlite3_stmt *st = store_prep(
		s, "INSERT INTO requests (host, usages, key_id, csr, protocol, "
		   "ca, state, created_by, created, updated, out_path, "
		   "created_uid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		   "?9, ?10, ?11)");
	char *usages = store_strlist_to_json(&r->usages);
	enum cw_err rc;

	if (st == NULL || usages == NULL) {
		sqlite3_finalize(st);
		free(usages);
		return st ? CW_ERR_NOMEM : CW_ERR_STORE;
	}
	r->created = r->updated = time(NULL);
	store_bind_text(st, 1, r->host);
	store_bind_text(st, 2, usages);
	sqlite3_bind_int64(st, 3, r->key_id);
	store_bind_blob(st, 4, &r->csr);
	store_bind_text(st, 5, r->protocol);
	store_bind_text(st, 6, r->ca);
	store_bind_text(st, 7, r->state);
	store_bind_text(st, 8, r->created_by);
	sqlite3_bind_int64(st, 9, r->created);
	store_bind_text(st, 10, r->out_path);
	sqlite3_bind_int64(st, 11, r->created_uid);
	free(usages);
	rc = store_exec_step(s, st, "request");
	if (rc == CW_OK)
		r->id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

enum cw_err
store_request_set_state(struct store *s, int64_t id, const char *state)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE requests SET state=?2, "
					 "updated=?3 WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, state);
	sqlite3_bind_int64(st, 3, time(NULL));
	return store_exec_step(s, st, "request");
}

/* The newest request of key_id whose state is in states (SQL list). */
static enum cw_err
newest_of_key(struct store *s, int64_t key_id, const char *sql,
	      struct store_request *out)
{
	sqlite3_stmt *st = store_prep(s, sql);

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, key_id);
	QUERY_ONE(s, st, read_request, out, "request");
}

enum cw_err
store_request_awaiting(struct store *s, int64_t key_id,
		       struct store_request *out)
{
	return newest_of_key(s, key_id,
			     "SELECT " REQUEST_COLS " FROM requests r WHERE "
			     "key_id=?1 AND state IN ('awaiting-response', "
			     "'submitted', 'pending') ORDER BY id DESC",
			     out);
}

enum cw_err
store_request_latest(struct store *s, int64_t key_id,
		     struct store_request *out)
{
	return newest_of_key(s, key_id,
			     "SELECT " REQUEST_COLS " FROM requests r WHERE "
			     "key_id=?1 AND state IN ('awaiting-response', "
			     "'submitted', 'pending', 'issued') ORDER BY id "
			     "DESC",
			     out);
}

static enum cw_err
walk_requests(struct store *s, sqlite3_stmt *st, store_request_fn fn,
	      void *user)
{
	enum cw_err rc = CW_OK;
	int r = SQLITE_DONE;

	if (st == NULL)
		return CW_ERR_STORE;
	while (rc == CW_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_request q;

		rc = read_request(st, 0, &q) ? fn(user, &q) : CW_ERR_NOMEM;
		store_request_release(&q);
	}
	if (rc == CW_OK && r != SQLITE_DONE)
		rc = store_fail(s, "requests");
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_each_request(struct store *s, store_request_fn fn, void *user)
{
	return walk_requests(s,
			     store_prep(s, "SELECT " REQUEST_COLS
					   " FROM requests r ORDER BY r.id"),
			     fn, user);
}

enum cw_err
store_each_open_request(struct store *s, const char *host, const char *usage,
			store_request_fn fn, void *user)
{
	sqlite3_stmt *st = store_prep(
		s, "SELECT " REQUEST_COLS " FROM requests r WHERE host=?1 "
		   "AND state NOT IN ('issued', 'rejected', 'failed') AND "
		   "EXISTS (SELECT 1 FROM json_each(r.usages) WHERE "
		   "value=?2) ORDER BY r.id");

	if (st != NULL) {
		store_bind_text(st, 1, host);
		store_bind_text(st, 2, usage);
	}
	return walk_requests(s, st, fn, user);
}

enum cw_err
store_request_get(struct store *s, int64_t id, struct store_request *out)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " REQUEST_COLS
					 " FROM requests r WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	QUERY_ONE(s, st, read_request, out, "request");
}

enum cw_err
store_request_update(struct store *s, int64_t id,
		     const struct store_request_update *u)
{
	sqlite3_stmt *st = store_prep(
		s, "UPDATE requests SET state=?2, ca_ref=coalesce(?3, ca_ref), "
		   "next_attempt=?4, problem=?5, attempts=attempts+?6, "
		   "updated=?7 WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, u->state);
	store_bind_text(st, 3, u->ca_ref);
	if (u->next_attempt > 0)
		sqlite3_bind_int64(st, 4, u->next_attempt);
	store_bind_text(st, 5, u->problem);
	sqlite3_bind_int(st, 6, u->attempted ? 1 : 0);
	sqlite3_bind_int64(st, 7, time(NULL));
	return store_exec_step(s, st, "request");
}

enum cw_err
store_request_set_ca_state(struct store *s, int64_t id,
                           const struct cw_buf *state, const char *ref)
{
	sqlite3_stmt *st = store_prep(
	    s, "UPDATE requests SET ca_state=?2, ca_ref=?3, updated=?4 "
	       "WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	store_bind_blob(st, 2, state);
	store_bind_text(st, 3, ref);
	sqlite3_bind_int64(st, 4, time(NULL));
	return store_exec_step(s, st, "request");
}

static bool
read_ca_state(sqlite3_stmt *st, int col, struct cw_buf *out)
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	cw_buf_init(out);
	return p == NULL || cw_buf_set(out, p, (size_t)n) == CW_OK;
}

enum cw_err
store_request_ca_state(struct store *s, int64_t id, struct cw_buf *out)
{
	sqlite3_stmt *st =
	    store_prep(s, "SELECT ca_state FROM requests WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	QUERY_ONE(s, st, read_ca_state, out, "request");
}

enum cw_err
store_each_pending_request(struct store *s, store_request_fn fn, void *user)
{
	return walk_requests(
		s,
		store_prep(s, "SELECT " REQUEST_COLS " FROM requests r WHERE "
			      "state IN ('created', 'submitted', 'pending') "
			      "AND protocol <> 'offline' ORDER BY r.id"),
		fn, user);
}

void
store_account_release(struct store_account *a)
{
	if (a == NULL)
		return;
	free(a->ca);
	free(a->directory);
	free(a->cka_id);
	cw_buf_release(&a->spki);
	free(a->url);
	free(a->state);
	memset(a, 0, sizeof(*a));
}

#define ACCOUNT_COLS                                                          \
	"id, ca, directory, token_id, cka_id, spki, url, state, created"

static bool
read_account(sqlite3_stmt *st, int c, struct store_account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, c);
	a->token_id = sqlite3_column_int64(st, c + 3);
	a->created = sqlite3_column_int64(st, c + 8);
	return store_col_text(st, c + 1, &a->ca) &&
	       store_col_text(st, c + 2, &a->directory) &&
	       store_col_text(st, c + 4, &a->cka_id) &&
	       store_col_blob(st, c + 5, &a->spki) &&
	       store_col_text(st, c + 6, &a->url) &&
	       store_col_text(st, c + 7, &a->state);
}

enum cw_err
store_account_get(struct store *s, const char *ca, const char *directory,
		  struct store_account *out)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " ACCOUNT_COLS
					 " FROM acme_accounts WHERE ca=?1 "
					 "AND directory=?2");

	if (st == NULL)
		return CW_ERR_STORE;
	store_bind_text(st, 1, ca);
	store_bind_text(st, 2, directory);
	QUERY_ONE(s, st, read_account, out, "account");
}

enum cw_err
store_account_add(struct store *s, struct store_account *a)
{
	sqlite3_stmt *st = store_prep(
		s, "INSERT INTO acme_accounts (ca, directory, token_id, cka_id, "
		   "state, created) VALUES (?1, ?2, ?3, ?4, 'generating', ?5)");
	enum cw_err rc;

	if (st == NULL)
		return CW_ERR_STORE;
	a->created = time(NULL);
	store_bind_text(st, 1, a->ca);
	store_bind_text(st, 2, a->directory);
	sqlite3_bind_int64(st, 3, a->token_id);
	store_bind_text(st, 4, a->cka_id);
	sqlite3_bind_int64(st, 5, a->created);
	rc = store_exec_step(s, st, "account");
	if (rc == CW_OK)
		a->id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

enum cw_err
store_account_update(struct store *s, int64_t id, const struct cw_buf *spki,
		     const char *url)
{
	sqlite3_stmt *st = store_prep(
		s, "UPDATE acme_accounts SET spki=coalesce(?2, spki), "
		   "url=?3, state=CASE WHEN ?2 IS NULL THEN state ELSE 'ready' "
		   "END WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	if (spki != NULL)
		store_bind_blob(st, 2, spki);
	store_bind_text(st, 3, url);
	return store_exec_step(s, st, "account");
}

enum cw_err
store_each_account(struct store *s, store_account_fn fn, void *user)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " ACCOUNT_COLS
					 " FROM acme_accounts ORDER BY id");
	enum cw_err rc = CW_OK;
	int r = SQLITE_DONE;

	if (st == NULL)
		return CW_ERR_STORE;
	while (rc == CW_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_account a;

		rc = read_account(st, 0, &a) ? fn(user, &a) : CW_ERR_NOMEM;
		store_account_release(&a);
	}
	if (rc == CW_OK && r != SQLITE_DONE)
		rc = store_fail(s, "accounts");
	sqlite3_finalize(st);
	return rc;
}

void
store_challenge_release(struct store_challenge *c)
{
	if (c == NULL)
		return;
	free(c->authz);
	free(c->type);
	free(c->name);
	free(c->token);
	free(c->value);
	memset(c, 0, sizeof(*c));
}

enum cw_err
store_challenge_add(struct store *s, struct store_challenge *c)
{
	sqlite3_stmt *st = store_prep(
		s, "INSERT INTO acme_challenges (request_id, authz, type, name, "
		   "token, value, published) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
		   "?7) ON CONFLICT (request_id, authz) DO UPDATE SET "
		   "type=excluded.type, name=excluded.name, "
		   "token=excluded.token, value=excluded.value, "
		   "published=excluded.published, removed=NULL RETURNING id");
	int r;

	if (st == NULL)
		return CW_ERR_STORE;
	c->published = time(NULL);
	sqlite3_bind_int64(st, 1, c->request_id);
	store_bind_text(st, 2, c->authz);
	store_bind_text(st, 3, c->type);
	store_bind_text(st, 4, c->name);
	store_bind_text(st, 5, c->token);
	store_bind_text(st, 6, c->value);
	sqlite3_bind_int64(st, 7, c->published);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		c->id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? CW_OK : store_fail(s, "challenge");
}

enum cw_err
store_challenge_removed(struct store *s, int64_t id)
{
	sqlite3_stmt *st = store_prep(
		s, "UPDATE acme_challenges SET removed=?2 WHERE id=?1");

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, time(NULL));
	return store_exec_step(s, st, "challenge");
}

enum cw_err
store_each_published_challenge(struct store *s, int64_t request_id,
			       store_challenge_fn fn, void *user)
{
	sqlite3_stmt *st = store_prep(
		s, "SELECT id, request_id, authz, type, name, token, value, "
		   "published FROM acme_challenges WHERE request_id=?1 AND "
		   "removed IS NULL ORDER BY id");
	enum cw_err rc = CW_OK;
	int r = SQLITE_DONE;

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, request_id);
	while (rc == CW_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_challenge c;

		memset(&c, 0, sizeof(c));
		c.id = sqlite3_column_int64(st, 0);
		c.request_id = sqlite3_column_int64(st, 1);
		c.published = sqlite3_column_int64(st, 7);
		if (store_col_text(st, 2, &c.authz) &&
		    store_col_text(st, 3, &c.type) &&
		    store_col_text(st, 4, &c.name) &&
		    store_col_text(st, 5, &c.token) &&
		    store_col_text(st, 6, &c.value))
			rc = fn(user, &c);
		else
			rc = CW_ERR_NOMEM;
		store_challenge_release(&c);
	}
	if (rc == CW_OK && r != SQLITE_DONE)
		rc = store_fail(s, "challenges");
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_requests_open_by(struct store *s, unsigned uid, int64_t *n)
{
	sqlite3_stmt *st = store_prep(
		s, "SELECT count(*) FROM requests WHERE created_uid=?1 AND "
		   "state IN ('created', 'awaiting-response', 'submitted', "
		   "'pending')");
	enum cw_err rc = CW_OK;

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, uid);
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		rc = store_fail(s, "requests");
	sqlite3_finalize(st);
	return rc;
}

enum cw_err
store_issued_unassigned(struct store *s, const char *host, const char *usage,
                        int64_t serving, int64_t after, int64_t *cert_id)
{
	/* the newest certificate issued for a request of (host, usage),
	 * newer than the one serving (recorded after it, and not expiring
	 * before it: two issuances within a second have one not_after),
	 * never assigned: what a renewal interrupted before its takeover
	 * left */
	sqlite3_stmt *st = store_prep(
	    s,
	    "SELECT c.id FROM certificates c JOIN requests r ON r.id = "
	    "c.request_id WHERE r.host = ?1 AND r.state = 'issued' AND "
	    "EXISTS (SELECT 1 FROM json_each(r.usages) WHERE value = ?2) "
	    "AND c.id > ?4 AND c.not_after >= ?3 AND NOT EXISTS (SELECT 1 FROM "
	    "assignments a WHERE a.cert_id = c.id) ORDER BY c.id DESC "
	    "LIMIT 1");
	int r;

	if (st == NULL)
		return CW_ERR_STORE;
	store_bind_text(st, 1, host);
	store_bind_text(st, 2, usage);
	sqlite3_bind_int64(st, 3, after);
	sqlite3_bind_int64(st, 4, serving);
	r = sqlite3_step(st);
	*cert_id = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return r == SQLITE_ROW    ? CW_OK
	       : r == SQLITE_DONE ? CW_ERR_NOT_FOUND
	                          : store_fail(s, "certificates");
}
