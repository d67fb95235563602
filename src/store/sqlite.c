/* The SQLite connection: open, pragmas, migrations, transactions. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum cw_err
store_fail(struct store *s, const char *what)
{
	int code = sqlite3_extended_errcode(s->db);

	cw_error("store: %s: %s", what, sqlite3_errmsg(s->db));
	if (code == SQLITE_CONSTRAINT_UNIQUE ||
	    code == SQLITE_CONSTRAINT_PRIMARYKEY)
		return CW_ERR_DUPLICATE;
	if (code == SQLITE_READONLY || code == SQLITE_PERM ||
	    code == SQLITE_AUTH)
		return CW_ERR_PERM;
	return CW_ERR_STORE;
}

sqlite3_stmt *
store_prep(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_fail(s, "prepare");
		return NULL;
	}
	return st;
}

int
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

int
store_bind_blob(sqlite3_stmt *st, int i, const struct cw_buf *b)
{
	if (b == NULL || b->data == NULL)
		return sqlite3_bind_zeroblob(st, i, 0);
	return sqlite3_bind_blob(st, i, b->data, (int)b->len,
				 SQLITE_TRANSIENT);
}

int
store_bind_id(sqlite3_stmt *st, int i, int64_t v)
{
	if (v == 0)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_int64(st, i, v);
}

bool
store_col_text(sqlite3_stmt *st, int i, char **out)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	*out = NULL;
	if (t == NULL)
		return sqlite3_column_type(st, i) == SQLITE_NULL;
	*out = strdup((const char *)t);
	return *out != NULL;
}

bool
store_col_blob(sqlite3_stmt *st, int i, struct cw_buf *out)
{
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);

	cw_buf_init(out);
	if (p == NULL || n == 0)
		return true;
	return cw_buf_set(out, p, (size_t)n) == CW_OK;
}

enum cw_err
store_exec_step(struct store *s, sqlite3_stmt *st, const char *what)
{
	int r = sqlite3_step(st);
	enum cw_err rc = CW_OK;

	if (r != SQLITE_DONE && r != SQLITE_ROW)
		rc = store_fail(s, what);
	sqlite3_finalize(st);
	return rc;
}

static enum cw_err
exec(struct store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		enum cw_err rc = store_fail(s, sql);

		sqlite3_free(msg);
		return rc;
	}
	return CW_OK;
}

static enum cw_err
pragma_text(struct store *s, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *st = store_prep(s, sql);
	enum cw_err rc = CW_ERR_STORE;

	if (st == NULL)
		return CW_ERR_STORE;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		strncpy(out, (const char *)sqlite3_column_text(st, 0),
			size - 1);
		out[size - 1] = 0;
		rc = CW_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

static enum cw_err
configure(struct store *s, bool memory)
{
	char mode[32], sync[32];
	enum cw_err rc;

	sqlite3_busy_timeout(s->db, 30000);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	rc = exec(s, "PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;"
		     "PRAGMA synchronous=FULL;");
	if (rc == CW_OK && !memory)
		rc = pragma_text(s, "PRAGMA journal_mode=WAL", mode,
				 sizeof(mode));
	if (rc == CW_OK)
		rc = pragma_text(s, "PRAGMA synchronous", sync, sizeof(sync));
	if (rc != CW_OK)
		return rc;
	if ((!memory && strcmp(mode, "wal") != 0) || strcmp(sync, "2") != 0) {
		cw_error("store: cannot set WAL mode and synchronous=FULL "
			 "(got %s, %s)",
			 memory ? "memory" : mode, sync);
		return CW_ERR_STORE;
	}
	return CW_OK;
}

static enum cw_err
migrate(struct store *s)
{
	char v[32];
	unsigned version;
	enum cw_err rc;

	rc = store_begin(s);
	if (rc != CW_OK)
		return rc;
	rc = pragma_text(s, "PRAGMA user_version", v, sizeof(v));
	if (rc != CW_OK)
		goto out;
	version = (unsigned)strtoul(v, NULL, 10);
	if (version > store_migration_count) {
		cw_error("store schema %u is newer than this certwiz (%u)",
			 version, store_migration_count);
		rc = CW_ERR_STORE;
		goto out;
	}
	for (; version < store_migration_count; version++) {
		char *set = cw_printf("PRAGMA user_version=%u", version + 1);

		rc = set ? exec(s, store_migrations[version]) : CW_ERR_NOMEM;
		if (rc == CW_OK)
			rc = exec(s, set);
		free(set);
		if (rc != CW_OK)
			goto out;
	}
	rc = store_commit(s);
out:
	if (rc != CW_OK)
		store_rollback(s);
	return rc;
}

/* Creates the file with a restrictive mode before SQLite opens it, so that
 * it never exists world-readable. */
static enum cw_err
create_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0640);

	if (fd >= 0) {
		close(fd);
		return CW_OK;
	}
	if (errno == EEXIST)
		return CW_OK;
	cw_error("cannot create store '%s': %s", path, strerror(errno));
	return errno == EACCES ? CW_ERR_PERM : CW_ERR_STORE;
}

enum cw_err
store_open(const char *path, struct store **out)
{
	struct store *s = calloc(1, sizeof(*s));
	bool memory = strcmp(path, ":memory:") == 0;
	struct stat st;
	enum cw_err rc;

	if (s == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return CW_ERR_NOMEM;
	}
	if (!memory && stat(path, &st) == 0 && (st.st_mode & S_IWOTH)) {
		cw_error("store '%s' is writable by others; refusing it", path);
		rc = CW_ERR_STORE;
		goto fail;
	}
	if (!memory && stat(path, &st) == 0 && access(path, R_OK | W_OK) != 0) {
		/* Not ours to write: say so rather than fail inside SQLite. */
		cw_error("permission denied: the store '%s' is not writable "
			 "by this user",
			 path);
		rc = CW_ERR_PERM;
		goto fail;
	}
	if (!memory && (rc = create_file(path)) != CW_OK)
		goto fail;
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK) {
		rc = store_fail(s, "open");
		goto fail;
	}
	rc = configure(s, memory);
	if (rc == CW_OK)
		rc = migrate(s);
	if (rc != CW_OK)
		goto fail;
	*out = s;
	return CW_OK;
fail:
	store_close(s);
	return rc;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
}

enum cw_err
store_begin(struct store *s)
{
	return exec(s, "BEGIN IMMEDIATE");
}

enum cw_err
store_commit(struct store *s)
{
	return exec(s, "COMMIT");
}

void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

enum cw_err
store_end(struct store *s, enum cw_err rc)
{
	if (rc == CW_OK)
		rc = store_commit(s);
	if (rc != CW_OK)
		store_rollback(s);
	return rc;
}

enum cw_err
store_check_integrity(struct store *s)
{
	char r[64];
	enum cw_err rc = pragma_text(s, "PRAGMA integrity_check", r, sizeof(r));

	if (rc == CW_OK && strcmp(r, "ok") != 0) {
		cw_error("store integrity check: %s", r);
		rc = CW_ERR_STORE;
	}
	return rc;
}
