#define _DEFAULT_SOURCE
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
	int primary = code & 0xff;

	if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
		cw_error("store '%s': %s: %s; it is damaged or not a "
			 "certwiz store: restore it from a backup",
			 s->path, what, sqlite3_errmsg(s->db));
	else
		cw_error("store '%s': %s: %s", s->path, what,
			 sqlite3_errmsg(s->db));
	if (code == SQLITE_CONSTRAINT_UNIQUE ||
	    code == SQLITE_CONSTRAINT_PRIMARYKEY)
		return CW_ERR_DUPLICATE;
	if (primary == SQLITE_READONLY || primary == SQLITE_PERM ||
	    primary == SQLITE_AUTH || primary == SQLITE_CANTOPEN)
		return primary == SQLITE_CANTOPEN ? CW_ERR_STORE : CW_ERR_PERM;
	return CW_ERR_STORE;
}

sqlite3_stmt *
store_prep(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_fail(s, "cannot read");
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

/* Runs sql; a failure is reported as what (never the SQL text). */
static enum cw_err
exec(struct store *s, const char *sql, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		enum cw_err rc = store_fail(s, what);

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
	rc = exec(s,
		  "PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;"
		  "PRAGMA synchronous=FULL;",
		  "cannot configure the connection");
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

/* PRAGMA foreign_key_check finds nothing. */
static enum cw_err
foreign_keys_hold(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int r = sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &st,
	                           NULL);

	if (r == SQLITE_OK)
		r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r == SQLITE_DONE)
		return CW_OK;
	cw_error("store '%s': the upgrade leaves a reference dangling; "
	         "nothing is changed",
	         s->path);
	return CW_ERR_STORE;
}

/* Brings the schema up to date. A store at version 0 is one certwiz never
 * made: only create gives it a schema. */
static enum cw_err
migrate(struct store *s, bool create)
{
	char v[32];
	unsigned version;
	enum cw_err rc;

	rc = pragma_text(s, "PRAGMA user_version", v, sizeof(v));
	if (rc != CW_OK)
		return rc;
	version = (unsigned)strtoul(v, NULL, 10);
	s->schema = version;
	if (version > store_migration_count) {
		cw_error("store '%s': schema %u is newer than this certwiz "
			 "(%u)",
			 s->path, version, store_migration_count);
		return CW_ERR_STORE;
	}
	if (version == 0 && !create) {
		cw_error("store '%s' is not a certwiz store (no schema): "
			 "restore the store from a backup, or remove the file "
			 "and run 'certwiz init' to start a new one",
			 s->path);
		return CW_ERR_STORE;
	}
	if (version == store_migration_count)
		return CW_OK;
	/* a migration may rebuild a table (a CHECK constraint changes):
	 * foreign keys are off meanwhile, and checked before the commit */
	rc = exec(s, "PRAGMA foreign_keys=OFF", "cannot upgrade the store");
	if (rc == CW_OK)
		rc = store_begin(s);
	if (rc != CW_OK)
		return rc;
	/* Read again inside the transaction: another connection may have
	 * migrated meanwhile. */
	rc = pragma_text(s, "PRAGMA user_version", v, sizeof(v));
	version = (unsigned)strtoul(v, NULL, 10);
	for (; rc == CW_OK && version < store_migration_count; version++) {
		char *set = cw_printf("PRAGMA user_version=%u", version + 1);
		char *what = cw_printf("cannot upgrade to schema %u",
				       version + 1);

		rc = set && what ? exec(s, store_migrations[version], what)
				 : CW_ERR_NOMEM;
		if (rc == CW_OK)
			rc = exec(s, set, what);
		free(set);
		free(what);
	}
	if (rc == CW_OK)
		rc = foreign_keys_hold(s);
	s->schema = version;
	rc = store_end(s, rc);
	if (exec(s, "PRAGMA foreign_keys=ON",
	         "cannot configure the "
	         "connection") != CW_OK)
		rc = CW_ERR_STORE;
	return rc;
}

/*
 * The store's folder and files belong to this process's user (the
 * service's: folder 0700, files 0600). The folder must not be writable by
 * anyone else (it is refused, never changed); the files are checked, and
 * their modes narrowed to 0600, through descriptors opened without
 * following symbolic links, never by path; a file of another owner or a
 * link is refused. With the folder ours and closed to other writers,
 * nothing can be swapped between this check and SQLite's open.
 */
static enum cw_err
check_file(int dfd, const char *dir, const char *name)
{
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
					   O_CLOEXEC);
	enum cw_err rc = CW_OK;

	if (fd < 0 && errno == ENOENT)
		return CW_OK;
	if (fd < 0) {
		cw_error("store: cannot open '%s/%s': %s%s", dir, name,
			 strerror(errno),
			 errno == ELOOP ? " (a symbolic link; refused)" : "");
		return errno == EACCES ? CW_ERR_PERM : CW_ERR_STORE;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cw_error("store: '%s/%s' is not a regular file", dir, name);
		rc = CW_ERR_STORE;
	} else if (st.st_uid != geteuid()) {
		cw_error("store: '%s/%s' belongs to uid %u, not to this "
			 "process's user (uid %u): chown it",
			 dir, name, (unsigned)st.st_uid, (unsigned)geteuid());
		rc = CW_ERR_PERM;
	} else if ((st.st_mode & 077) && fchmod(fd, 0600) != 0) {
		cw_error("store: cannot narrow the mode of '%s/%s': %s", dir,
			 name, strerror(errno));
		rc = CW_ERR_STORE;
	}
	close(fd);
	return rc;
}

static enum cw_err
secure_files(const char *path)
{
	static const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	const char *base = slash ? slash + 1 : path;
	struct stat st;
	enum cw_err rc = CW_OK;
	int dfd;

	if (dir == NULL)
		return CW_ERR_NOMEM;
	if (dir[0] == 0) {
		free(dir);
		dir = strdup("/");
		if (dir == NULL)
			return CW_ERR_NOMEM;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		cw_error("store: cannot open the folder '%s': %s", dir,
			 strerror(errno));
		free(dir);
		return errno == EACCES ? CW_ERR_PERM : CW_ERR_STORE;
	}
	if (fstat(dfd, &st) != 0) {
		rc = CW_ERR_STORE;
	} else if (st.st_uid != geteuid()) {
		cw_error("store: the folder '%s' belongs to uid %u, not to "
			 "this process's user (uid %u): it must be the "
			 "service's own folder (chown it, mode 0700)",
			 dir, (unsigned)st.st_uid, (unsigned)geteuid());
		rc = CW_ERR_PERM;
	} else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		cw_error("store: the folder '%s' is writable by group or others "
			 "(mode %04o): it must be the service's own folder "
			 "(chmod 700)",
			 dir, (unsigned)(st.st_mode & 07777));
		rc = CW_ERR_PERM;
	}
	for (size_t i = 0; rc == CW_OK && i < 4; i++) {
		char *name = cw_printf("%s%s", base, suffixes[i]);

		rc = name ? check_file(dfd, dir, name) : CW_ERR_NOMEM;
		free(name);
	}
	close(dfd);
	free(dir);
	return rc;
}

/* Creates the file with a restrictive mode before SQLite opens it, so that
 * it never exists readable by others; without create, a missing or empty
 * file is refused. */
static enum cw_err
prepare_file(const char *path, bool create)
{
	struct stat st;
	int fd;

	if (!create) {
		if (stat(path, &st) != 0) {
			if (errno != ENOENT)
				return CW_OK; /* SQLite says why */
			cw_error("store '%s' does not exist: run 'certwiz init' "
				 "once to create it, or restore it from a "
				 "backup (or fix [store] path)",
				 path);
			return CW_ERR_STORE;
		}
		if (S_ISREG(st.st_mode) && st.st_size == 0) {
			cw_error("store '%s' is empty (0 bytes): restore it "
				 "from a backup, or remove it and run 'certwiz "
				 "init' to start a new one",
				 path);
			return CW_ERR_STORE;
		}
		return CW_OK;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd >= 0) {
		close(fd);
		return CW_OK;
	}
	if (errno != EEXIST) {
		cw_error("cannot create store '%s': %s", path,
			 strerror(errno));
		return errno == EACCES ? CW_ERR_PERM : CW_ERR_STORE;
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
		cw_error("store '%s' exists and is empty (0 bytes): it was "
			 "truncated or never made; restore it from a backup, or "
			 "remove it to start a new one",
			 path);
		return CW_ERR_STORE;
	}
	return CW_OK;
}

void
store_preload(void)
{
	sqlite3_initialize();
}

enum cw_err
store_open(const char *path, bool create, struct store **out)
{
	struct store *s = calloc(1, sizeof(*s));
	bool memory = strcmp(path, ":memory:") == 0;
	enum cw_err rc;

	if (s == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return CW_ERR_NOMEM;
	}
	if (!memory && (rc = secure_files(path)) != CW_OK)
		goto fail;
	if (!memory && (rc = prepare_file(path, create)) != CW_OK)
		goto fail;
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK) {
		rc = store_fail(s, "cannot open");
		goto fail;
	}
	rc = configure(s, memory);
	if (rc == CW_OK)
		rc = migrate(s, create || memory);
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

unsigned
store_schema(const struct store *s)
{
	return s->schema;
}

enum cw_err
store_begin(struct store *s)
{
	enum cw_err rc = exec(s, "BEGIN IMMEDIATE",
			      "cannot begin a transaction");
	char r[64];

	if (rc != CW_OK || s->checked)
		return rc;
	/* integrity_check, not quick_check: SQLite 3.40's quick_check reports
	 * NULLs that are not there in WITHOUT ROWID tables (cert_names) */
	rc = pragma_text(s, "PRAGMA integrity_check(1)", r, sizeof(r));
	if (rc == CW_OK && strcmp(r, "ok") != 0) {
		cw_error("store '%s' fails its check (%s): it is damaged, and "
			 "nothing is written to it; restore it from a backup",
			 s->path, r);
		rc = CW_ERR_STORE;
	}
	if (rc != CW_OK) {
		store_rollback(s);
		return rc;
	}
	s->checked = true;
	return CW_OK;
}

enum cw_err
store_commit(struct store *s)
{
	return exec(s, "COMMIT", "cannot commit");
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
		cw_error("store '%s' fails its integrity check: %s", s->path,
			 r);
		rc = CW_ERR_STORE;
	}
	return rc;
}
