/* certwiz: error codes shared by every layer. */
#ifndef CW_ERR_H
#define CW_ERR_H

#include <stdbool.h>

/*
 * Every fallible function of libcertwiz returns one of these. Results go out
 * through trailing out-parameters that are written only on CW_OK. The
 * function that meets a foreign error (CK_RV, OpenSSL, sqlite3, jansson)
 * reports it once with cw_error() and returns the mapped code.
 */
enum cw_err {
	CW_OK = 0,
	CW_ERR_INTERNAL,      /* programmer error, broken precondition */
	CW_ERR_NOMEM,
	CW_ERR_USAGE,         /* bad argument value */
	CW_ERR_IO,            /* file system */
	CW_ERR_EXISTS,        /* output exists, or object already there */
	CW_ERR_NOT_FOUND,     /* unknown id, usage, host, file */
	CW_ERR_AMBIGUOUS,     /* a prefix or URI matches several */
	CW_ERR_PARSE,         /* malformed input (response, JSON, DER) */
	CW_ERR_TOPOLOGY,      /* topology document invalid or incomplete */
	CW_ERR_CONFIG,        /* configuration invalid */
	CW_ERR_POLICY,        /* refused by policy (key spec, permissions) */
	CW_ERR_TOKEN,         /* token or module failure */
	CW_ERR_TOKEN_ABSENT,  /* no token matches */
	CW_ERR_TOKEN_NOT_INIT,
	CW_ERR_PIN_INCORRECT,
	CW_ERR_PIN_LOCKED,
	CW_ERR_MECHANISM,     /* token cannot do the key spec */
	CW_ERR_STORE,
	CW_ERR_CRYPTO,        /* signature, verification, key mismatch */
	CW_ERR_NO_KEY,        /* certificate's key is not on any token */
	CW_ERR_DUPLICATE,     /* already imported / already bound */
	CW_ERR_UNAVAILABLE,   /* nothing assigned / nothing pending */
	CW_ERR_PERM,
	CW_ERR_PENDING,
	CW_ERR_REJECTED,
	CW_ERR_UNREACHABLE,
	CW_ERR_DEPLOY,        /* done, but its deployment failed (retried) */
	CW_ERR__MAX
};

/* A short fixed description of the code; never NULL. */
const char *cw_strerror(enum cw_err err);

/*
 * The process exit code for an error (ARCHITECTURE.md): 0 done, 1 failed,
 * 2 usage, 3 pending, 4 not available, 5 permission denied, 6 token error,
 * 7 rejected by the CA, 8 CA unreachable, 9 done but needs attention
 * (a deployment failed).
 */
int cw_exit_code(enum cw_err err);

#define CW_RETURN_IF_FAIL(expr, code)                                         \
	do {                                                                  \
		if (!(expr)) {                                                \
			cw_error("internal error: %s failed at %s:%d", #expr, \
				 __FILE__, __LINE__);                         \
			return (code);                                        \
		}                                                             \
	} while (0)

/*
 * Named test points between persisted steps (docs/design.md): when the
 * environment variable CERTWIZ_CRASHPOINT names the point, the process
 * kills itself there (SIGKILL, as a crash would); when CERTWIZ_FAILPOINT
 * names it, cw_failpoint returns true and the caller fails the step as if
 * the token or store had refused it. Both are ignored in setuid/setgid
 * processes (secure_getenv).
 */
void cw_crashpoint(const char *name);
bool cw_failpoint(const char *name);

/* Diagnostics on stderr, prefixed "certwiz: ". Level set by the front end. */
enum cw_log_level { CW_LOG_QUIET = 0, CW_LOG_ERROR, CW_LOG_INFO, CW_LOG_DEBUG };
void cw_log_set_level(enum cw_log_level level);
enum cw_log_level cw_log_get_level(void);
void cw_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cw_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cw_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cw_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The text of the last error reported (empty when none), for the audit. */
const char *cw_last_error(void);

/* Reports the OpenSSL error queue under the name of the failed call. */
void cw_error_openssl(const char *what);

#endif
