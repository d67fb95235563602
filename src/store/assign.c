/* Assignments: which certificate serves which usage of which host. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#define ASSIGN_COLS                                                           \
	"a.id, a.host, a.usage, a.cert_id, a.effective_from, a.state, "        \
	"a.assigned_by, a.assigned_at, a.ended_at"

void
store_assignment_release(struct store_assignment *a)
{
	if (a == NULL)
		return;
	free(a->host);
	free(a->usage);
	free(a->state);
	free(a->assigned_by);
	memset(a, 0, sizeof(*a));
}

static bool
read_assignment(sqlite3_stmt *st, int c, struct store_assignment *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, c);
	a->cert_id = sqlite3_column_int64(st, c + 3);
	a->effective_from = sqlite3_column_int64(st, c + 4);
	a->assigned_at = sqlite3_column_int64(st, c + 7);
	a->ended_at = sqlite3_column_int64(st, c + 8);
	return store_col_text(st, c + 1, &a->host) &&
	       store_col_text(st, c + 2, &a->usage) &&
	       store_col_text(st, c + 5, &a->state) &&
	       store_col_text(st, c + 6, &a->assigned_by);
}

static enum cw_err
one(struct store *s, sqlite3_stmt *st, struct store_assignment *out)
{
	int r = sqlite3_step(st);
	enum cw_err rc = CW_OK;

	if (r == SQLITE_DONE)
		rc = CW_ERR_NOT_FOUND;
	else if (r != SQLITE_ROW)
		rc = store_fail(s, "assignment");
	else if (!read_assignment(st, 0, out))
		rc = CW_ERR_NOMEM;
	sqlite3_finalize(st);
	return rc;
}

static sqlite3_stmt *
prep_usage(struct store *s, const char *sql, const char *host,
	   const char *usage, int64_t now)
{
	sqlite3_stmt *st = store_prep(s, sql);

	if (st != NULL) {
		store_bind_text(st, 1, host);
		store_bind_text(st, 2, usage);
		sqlite3_bind_int64(st, 3, now);
	}
	return st;
}

enum cw_err
store_assignment_serving(struct store *s, const char *host, const char *usage,
			 int64_t now, struct store_assignment *out)
{
	/* A due scheduled row wins over the current one. */
	sqlite3_stmt *st = prep_usage(
		s, "SELECT " ASSIGN_COLS " FROM assignments a WHERE host=?1 "
		   "AND usage=?2 AND (state='current' OR (state='scheduled' "
		   "AND effective_from <= ?3)) ORDER BY state='scheduled' DESC, "
		   "effective_from DESC LIMIT 1",
		host, usage, now);

	return st ? one(s, st, out) : CW_ERR_STORE;
}

enum cw_err
store_assignment_next(struct store *s, const char *host, const char *usage,
		      int64_t now, struct store_assignment *out)
{
	sqlite3_stmt *st = prep_usage(
		s, "SELECT " ASSIGN_COLS " FROM assignments a WHERE host=?1 "
		   "AND usage=?2 AND state='scheduled' AND effective_from > ?3 "
		   "ORDER BY effective_from LIMIT 1",
		host, usage, now);

	return st ? one(s, st, out) : CW_ERR_STORE;
}

static enum cw_err
run(struct store *s, sqlite3_stmt *st)
{
	return st ? store_exec_step(s, st, "assignment") : CW_ERR_STORE;
}

/* The current row of (host, usage) becomes previous at now. */
static enum cw_err
retire_current(struct store *s, const char *host, const char *usage,
	       int64_t now)
{
	return run(s, prep_usage(s, "UPDATE assignments SET state='previous', "
				    "ended_at=?3 WHERE host=?1 AND usage=?2 "
				    "AND state='current'",
				 host, usage, now));
}

static enum cw_err
insert(struct store *s, const char *host, const char *usage, int64_t cert_id,
       const char *state, const char *by, int64_t from, int64_t now)
{
	sqlite3_stmt *st = prep_usage(
		s, "INSERT INTO assignments (host, usage, cert_id, "
		   "effective_from, state, assigned_by, assigned_at) VALUES "
		   "(?1, ?2, ?4, ?5, ?6, ?7, ?3)",
		host, usage, now);

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 4, cert_id);
	sqlite3_bind_int64(st, 5, from);
	store_bind_text(st, 6, state);
	store_bind_text(st, 7, by);
	return run(s, st);
}

enum cw_err
store_assign_now(struct store *s, const char *host, const char *usage,
		 int64_t cert_id, const char *by, int64_t now)
{
	enum cw_err rc = retire_current(s, host, usage, now);

	if (rc == CW_OK)
		rc = insert(s, host, usage, cert_id, "current", by, now, now);
	return rc;
}

enum cw_err
store_assign_at(struct store *s, const char *host, const char *usage,
		int64_t cert_id, const char *by, int64_t now, int64_t at)
{
	enum cw_err rc = run(
		s, prep_usage(s, "UPDATE assignments SET state='removed', "
				 "ended_at=?3 WHERE host=?1 AND usage=?2 AND "
				 "state='scheduled'",
			      host, usage, now));

	if (rc == CW_OK)
		rc = insert(s, host, usage, cert_id, "scheduled", by, at, now);
	return rc;
}

enum cw_err
store_unassign(struct store *s, const char *host, const char *usage,
	       int64_t now, int *ended)
{
	enum cw_err rc = run(
		s, prep_usage(s, "UPDATE assignments SET state='removed', "
				 "ended_at=?3 WHERE host=?1 AND usage=?2 AND "
				 "state IN ('current', 'scheduled')",
			      host, usage, now));

	if (rc == CW_OK)
		*ended = sqlite3_changes(s->db);
	return rc;
}

static enum cw_err
walk(struct store *s, sqlite3_stmt *st, store_assignment_fn fn, void *user)
{
	enum cw_err rc = CW_OK;
	int r = SQLITE_DONE;

	if (st == NULL)
		return CW_ERR_STORE;
	while (rc == CW_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_assignment a;

		rc = read_assignment(st, 0, &a) ? fn(user, &a) : CW_ERR_NOMEM;
		store_assignment_release(&a);
	}
	if (rc == CW_OK && r != SQLITE_DONE)
		rc = store_fail(s, "assignments");
	sqlite3_finalize(st);
	return rc;
}

struct due {
	struct store_assignment *v;
	size_t n;
};

static enum cw_err
collect(void *user, const struct store_assignment *a)
{
	struct due *d = user;
	struct store_assignment *v = realloc(d->v, (d->n + 1) * sizeof(*v));

	if (v == NULL)
		return CW_ERR_NOMEM;
	d->v = v;
	memset(&v[d->n], 0, sizeof(v[0]));
	v[d->n] = *a;
	v[d->n].host = strdup(a->host);
	v[d->n].usage = strdup(a->usage);
	v[d->n].state = strdup(a->state);
	v[d->n].assigned_by = strdup(a->assigned_by);
	d->n++;
	return v[d->n - 1].host && v[d->n - 1].usage && v[d->n - 1].state &&
			       v[d->n - 1].assigned_by
		       ? CW_OK
		       : CW_ERR_NOMEM;
}

enum cw_err
store_activate_due(struct store *s, int64_t now, store_assignment_fn fn,
		   void *user)
{
	struct due d = { NULL, 0 };
	sqlite3_stmt *st = store_prep(
		s, "SELECT " ASSIGN_COLS " FROM assignments a WHERE "
		   "state='scheduled' AND effective_from <= ?1 ORDER BY "
		   "effective_from");
	enum cw_err rc;

	if (st != NULL)
		sqlite3_bind_int64(st, 1, now);
	rc = walk(s, st, collect, &d);
	for (size_t i = 0; i < d.n && rc == CW_OK; i++) {
		struct store_assignment *a = &d.v[i];
		sqlite3_stmt *up;

		/* The one it replaces ends when the new one began. */
		rc = retire_current(s, a->host, a->usage, a->effective_from);
		up = store_prep(s, "UPDATE assignments SET state='current' "
				   "WHERE id=?1");
		if (rc == CW_OK && up != NULL)
			sqlite3_bind_int64(up, 1, a->id);
		if (rc == CW_OK)
			rc = run(s, up);
		else
			sqlite3_finalize(up);
		if (rc == CW_OK && fn != NULL)
			rc = fn(user, a);
	}
	for (size_t i = 0; i < d.n; i++)
		store_assignment_release(&d.v[i]);
	free(d.v);
	return rc;
}

enum cw_err
store_each_assignment(struct store *s, const char *host, const char *usage,
		      store_assignment_fn fn, void *user)
{
	return walk(s,
		    prep_usage(s, "SELECT " ASSIGN_COLS " FROM assignments a "
				  "WHERE host=?1 AND usage=?2 AND ?3 = ?3 "
				  "ORDER BY a.id DESC",
			       host, usage, 0),
		    fn, user);
}

enum cw_err
store_cert_usages(struct store *s, int64_t cert_id, store_assignment_fn fn,
		  void *user)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " ASSIGN_COLS
					 " FROM assignments a WHERE cert_id=?1 "
					 "AND state IN ('current', "
					 "'scheduled') ORDER BY a.id");

	if (st != NULL)
		sqlite3_bind_int64(st, 1, cert_id);
	return walk(s, st, fn, user);
}

enum cw_err
store_key_assigned(struct store *s, int64_t key_id, bool *yes)
{
	sqlite3_stmt *st = store_prep(
		s, "SELECT 1 FROM assignments a JOIN certificates c ON "
		   "c.id = a.cert_id WHERE c.key_id = ?1 AND a.state IN "
		   "('current', 'scheduled') LIMIT 1");
	int r;

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 1, key_id);
	r = sqlite3_step(st);
	*yes = r == SQLITE_ROW;
	sqlite3_finalize(st);
	return r == SQLITE_ROW || r == SQLITE_DONE ? CW_OK
						   : store_fail(s, "assignments");
}

/* Deployments: what the files of a usage's server last named. */

void
store_deployment_release(struct store_deployment *d)
{
	if (d == NULL)
		return;
	free(d->state);
	free(d->problem);
	memset(d, 0, sizeof(*d));
}

/* A deployments row (cert_id, state, attempts, problem, attempted_at,
 * next_attempt from column c on); out released on failure. */
static bool
read_deployment(sqlite3_stmt *st, int c, struct store_deployment *out)
{
	memset(out, 0, sizeof(*out));
	out->cert_id = sqlite3_column_int64(st, c);
	out->attempts = sqlite3_column_int64(st, c + 2);
	out->attempted_at = sqlite3_column_int64(st, c + 4);
	out->next_attempt = sqlite3_column_int64(st, c + 5);
	if (store_col_text(st, c + 1, &out->state) &&
	    store_col_text(st, c + 3, &out->problem))
		return true;
	store_deployment_release(out);
	return false;
}

enum cw_err
store_deployment_get(struct store *s, const char *host, const char *usage,
                     struct store_deployment *out)
{
	sqlite3_stmt *st = prep_usage(
	    s,
	    "SELECT coalesce(cert_id, 0), state, attempts, problem, "
	    "attempted_at, coalesce(next_attempt, 0) FROM deployments "
	    "WHERE host=?1 AND usage=?2",
	    host, usage, 0);

	if (st == NULL)
		return CW_ERR_STORE;
	QUERY_ONE(s, st, read_deployment, out, "deployment");
}

enum cw_err
store_deployment_set(struct store *s, const char *host, const char *usage,
                     const struct store_deployment *d)
{
	sqlite3_stmt *st = prep_usage(
	    s,
	    "INSERT INTO deployments (host, usage, cert_id, state, "
	    "attempts, problem, attempted_at, next_attempt) VALUES (?1, "
	    "?2, nullif(?4, 0), ?5, ?6, ?7, ?3, nullif(?8, 0)) ON "
	    "CONFLICT (host, usage) DO UPDATE SET cert_id=excluded.cert_id, "
	    "state=excluded.state, attempts=excluded.attempts, "
	    "problem=excluded.problem, attempted_at=excluded.attempted_at, "
	    "next_attempt=excluded.next_attempt",
	    host, usage, d->attempted_at);

	if (st == NULL)
		return CW_ERR_STORE;
	sqlite3_bind_int64(st, 4, d->cert_id);
	store_bind_text(st, 5, d->state);
	sqlite3_bind_int64(st, 6, d->attempts);
	store_bind_text(st, 7, d->problem);
	sqlite3_bind_int64(st, 8, d->next_attempt);
	return run(s, st);
}

/* Renewals: the last renewal attempt of a usage. */

void
store_renewal_release(struct store_renewal *r)
{
	if (r == NULL)
		return;
	free(r->state);
	free(r->problem);
	memset(r, 0, sizeof(*r));
}

/* A renewals row (state, from_cert_id, cert_id, request_id, attempts,
 * problem, attempted_at, next_attempt from column c on); out released on
 * failure. */
static bool
read_renewal(sqlite3_stmt *st, int c, struct store_renewal *out)
{
	memset(out, 0, sizeof(*out));
	out->from_cert_id = sqlite3_column_int64(st, c + 1);
	out->cert_id = sqlite3_column_int64(st, c + 2);
	out->request_id = sqlite3_column_int64(st, c + 3);
	out->attempts = sqlite3_column_int64(st, c + 4);
	out->attempted_at = sqlite3_column_int64(st, c + 6);
	out->next_attempt = sqlite3_column_int64(st, c + 7);
	if (store_col_text(st, c, &out->state) &&
	    store_col_text(st, c + 5, &out->problem))
		return true;
	store_renewal_release(out);
	return false;
}

enum cw_err
store_renewal_get(struct store *s, const char *host, const char *usage,
                  struct store_renewal *out)
{
	sqlite3_stmt *st = prep_usage(
	    s,
	    "SELECT state, coalesce(from_cert_id, 0), "
	    "coalesce(cert_id, 0), coalesce(request_id, 0), attempts, "
	    "problem, attempted_at, coalesce(next_attempt, 0) FROM "
	    "renewals WHERE host=?1 AND usage=?2",
	    host, usage, 0);

	if (st == NULL)
		return CW_ERR_STORE;
	QUERY_ONE(s, st, read_renewal, out, "renewal");
}

enum cw_err
store_renewal_set(struct store *s, const char *host, const char *usage,
                  const struct store_renewal *r)
{
	sqlite3_stmt *st = prep_usage(
	    s,
	    "INSERT INTO renewals (host, usage, state, from_cert_id, "
	    "cert_id, request_id, attempts, problem, attempted_at, "
	    "next_attempt) VALUES (?1, ?2, ?4, nullif(?5, 0), "
	    "nullif(?6, 0), nullif(?7, 0), ?8, ?9, ?3, nullif(?10, 0)) "
	    "ON CONFLICT (host, usage) DO UPDATE SET "
	    "state=excluded.state, from_cert_id=excluded.from_cert_id, "
	    "cert_id=excluded.cert_id, request_id=excluded.request_id, "
	    "attempts=excluded.attempts, problem=excluded.problem, "
	    "attempted_at=excluded.attempted_at, "
	    "next_attempt=excluded.next_attempt",
	    host, usage, r->attempted_at);

	if (st == NULL)
		return CW_ERR_STORE;
	store_bind_text(st, 4, r->state);
	sqlite3_bind_int64(st, 5, r->from_cert_id);
	sqlite3_bind_int64(st, 6, r->cert_id);
	sqlite3_bind_int64(st, 7, r->request_id);
	sqlite3_bind_int64(st, 8, r->attempts);
	store_bind_text(st, 9, r->problem);
	sqlite3_bind_int64(st, 10, r->next_attempt);
	return run(s, st);
}
