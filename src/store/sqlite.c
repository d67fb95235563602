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
 * it never exists readable by others. */
static enum cw_err
create_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);

	if (fd >= 0) {
		close(fd);
		return CW_OK;
	}
	if (errno == EEXIST)
		return CW_OK;
	cw_error("cannot create store '%s': %s", path, strerror(errno));
	return errno == EACCES ? CW_ERR_PERM : CW_ERR_STORE;
}

void
store_preload(void)
{
	sqlite3_initialize();
}

enum cw_err
store_open(const char *path, struct store **out)
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
