/* Internal to src/store. */
#ifndef CW_STORE_INT_H
#define CW_STORE_INT_H

#include "certwiz/store.h"

#include <sqlite3.h>

struct store {
	sqlite3 *db;
	char *path;
	unsigned schema;
	bool checked; /* quick_check passed on this connection */
};

/* The numbered migrations of src/store/schema/, generated at build time. */
extern const char *const store_migrations[];
extern const unsigned store_migration_count;

/* Reports an sqlite error under what and returns CW_ERR_STORE (or
 * CW_ERR_DUPLICATE for a UNIQUE violation). */
enum cw_err store_fail(struct store *s, const char *what);

/* Prepares sql; NULL after reporting the error. */
sqlite3_stmt *store_prep(struct store *s, const char *sql);

/* Binds text, or NULL when v is NULL. */
int store_bind_text(sqlite3_stmt *st, int i, const char *v);
int store_bind_blob(sqlite3_stmt *st, int i, const struct cw_buf *b);
/* Binds an id, or NULL when it is 0. */
int store_bind_id(sqlite3_stmt *st, int i, int64_t v);

/* Copies column i (NULL stays NULL); false on allocation failure. */
bool store_col_text(sqlite3_stmt *st, int i, char **out);
bool store_col_blob(sqlite3_stmt *st, int i, struct cw_buf *out);

/* Runs a statement that returns no rows. */
enum cw_err store_exec_step(struct store *s, sqlite3_stmt *st,
			    const char *what);

/* Steps a one-row query and reads the row with read; CW_ERR_NOT_FOUND when
 * there is none. */
#define QUERY_ONE(s, st, read, out, what)                                      \
	do {                                                                   \
		int r_ = sqlite3_step(st);                                     \
		enum cw_err rc_ = CW_OK;                                       \
		if (r_ == SQLITE_DONE)                                         \
			rc_ = CW_ERR_NOT_FOUND;                                \
		else if (r_ != SQLITE_ROW)                                     \
			rc_ = store_fail(s, what);                             \
		else if (!read(st, 0, out))                                    \
			rc_ = CW_ERR_NOMEM;                                    \
		sqlite3_finalize(st);                                          \
		return rc_;                                                    \
	} while (0)

/* JSON arrays of strings, for list columns. */
bool store_strlist_from_json(const char *text, struct cw_strlist *out);
char *store_strlist_to_json(const struct cw_strlist *l);

#endif
