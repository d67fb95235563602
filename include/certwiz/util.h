/* certwiz: buffers, string lists, hex, files and time. */
#ifndef CW_UTIL_H
#define CW_UTIL_H

#include "certwiz/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * A growable byte buffer, embedded by value. cw_buf_release frees the data
 * and leaves an empty buffer. Appending returns CW_ERR_NOMEM on failure and
 * leaves the buffer as it was.
 */
struct cw_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

void cw_buf_init(struct cw_buf *b);
void cw_buf_release(struct cw_buf *b);
enum cw_err cw_buf_append(struct cw_buf *b, const void *p, size_t n);
enum cw_err cw_buf_set(struct cw_buf *b, const void *p, size_t n);

/* A list of owned strings. cw_strlist_add copies the string. */
struct cw_strlist {
	char **v;
	size_t n;
	size_t cap;
};

void cw_strlist_init(struct cw_strlist *l);
void cw_strlist_release(struct cw_strlist *l);
enum cw_err cw_strlist_add(struct cw_strlist *l, const char *s);
/* Adds s unless an equal string (case-insensitive) is already there. */
enum cw_err cw_strlist_add_unique(struct cw_strlist *l, const char *s);
bool cw_strlist_contains(const struct cw_strlist *l, const char *s);
/* A decimal integer from min to max, the whole of s. */
bool cw_parse_int(const char *s, long min, long max, int *out);
/* The strings joined with sep (a new string; "" for none). */
char *cw_strlist_join(const struct cw_strlist *l, const char *sep);

/* Lowercase hex. Returns a new string owned by the caller, or NULL. */
char *cw_hex(const unsigned char *p, size_t n);
/* Decodes hex (either case); CW_ERR_PARSE on odd length or bad digit. */
enum cw_err cw_unhex(const char *hex, struct cw_buf *out);

/* Standard base64 (RFC 4648 section 4). cw_base64 returns a new string or
 * NULL; cw_unbase64 gives CW_ERR_PARSE for bad input. */
char *cw_base64(const unsigned char *p, size_t n);
enum cw_err cw_unbase64(const char *s, struct cw_buf *out);

/* strdup that reports failure as NULL; NULL in gives NULL out. */
char *cw_strdup(const char *s);
/* asprintf-like; returns NULL on failure. */
char *cw_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* path made absolute against the working directory (not resolved). */
char *cw_abspath(const char *path);

/* Reads a whole regular file of at most max bytes. */
enum cw_err cw_file_read(const char *path, size_t max, struct cw_buf *out);

/*
 * Atomic output file. cw_atomic_open creates a temporary file beside path
 * (O_EXCL|O_NOFOLLOW) so that an unwritable directory is found before any
 * work is done; cw_atomic_write writes the data and fsyncs it;
 * cw_atomic_commit publishes it under path and fsyncs the directory;
 * cw_atomic_abort removes the temporary file (and is a no-op after a
 * commit). Without force, an existing path is CW_ERR_EXISTS at open and
 * again at commit, where link() refuses to replace a file that appeared
 * meanwhile.
 */
struct cw_atomic {
	char *path;
	char *tmp;
	int fd;
	bool force;
};

enum cw_err cw_atomic_open(struct cw_atomic *a, const char *path, int mode,
			   bool force);
enum cw_err cw_atomic_write(struct cw_atomic *a, const void *data, size_t n);
enum cw_err cw_atomic_commit(struct cw_atomic *a);
void cw_atomic_abort(struct cw_atomic *a);

/* Writes a whole file atomically (open, write, commit). */
enum cw_err cw_file_write_atomic(const char *path, const void *data, size_t n,
				 int mode, bool force);

/* The name of the real user, from the password database (never from the
 * environment); "uid:N" when it has no entry. Caller frees. */
char *cw_user_name(void);

/* RFC 3339 UTC ("2026-11-22T10:00:00Z") into buf of at least 21 bytes. */
void cw_time_format(time_t t, char *buf, size_t size);
/* Milliseconds of the monotonic clock, for deadlines. */
int64_t cw_monotonic_ms(void);
/*
 * Parses RFC 3339 / ISO 8601 in UTC ("2026-11-22T10:00:00Z", also with a
 * space or without seconds, or a date alone) or "+Nd", "-Nd", "+Nh", "+Nm",
 * "+Ns" relative to now. CW_ERR_PARSE when unparsable.
 */
enum cw_err cw_time_parse(const char *s, time_t now, time_t *out);

/* Fills p with n random bytes from the operating system. */
enum cw_err cw_random(void *p, size_t n);

#endif
