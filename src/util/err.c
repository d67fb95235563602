#define _GNU_SOURCE
#include "certwiz/err.h"

#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
cw_strerror(enum cw_err err)
{
	switch (err) {
	case CW_OK: return "success";
	case CW_ERR_INTERNAL: return "internal error";
	case CW_ERR_NOMEM: return "out of memory";
	case CW_ERR_USAGE: return "invalid argument";
	case CW_ERR_IO: return "input/output error";
	case CW_ERR_EXISTS: return "already exists";
	case CW_ERR_NOT_FOUND: return "not found";
	case CW_ERR_AMBIGUOUS: return "ambiguous";
	case CW_ERR_PARSE: return "malformed input";
	case CW_ERR_TOPOLOGY: return "topology error";
	case CW_ERR_CONFIG: return "configuration error";
	case CW_ERR_POLICY: return "refused by policy";
	case CW_ERR_TOKEN: return "token error";
	case CW_ERR_TOKEN_ABSENT: return "token not found";
	case CW_ERR_TOKEN_NOT_INIT: return "token not initialised";
	case CW_ERR_PIN_INCORRECT: return "PIN incorrect";
	case CW_ERR_PIN_LOCKED: return "PIN locked";
	case CW_ERR_MECHANISM: return "mechanism not supported by the token";
	case CW_ERR_STORE: return "store error";
	case CW_ERR_CRYPTO: return "cryptographic check failed";
	case CW_ERR_NO_KEY: return "key not on any token";
	case CW_ERR_DUPLICATE: return "already imported";
	case CW_ERR_UNAVAILABLE: return "not available";
	case CW_ERR_PERM: return "permission denied";
	case CW_ERR_PENDING: return "pending at the CA";
	case CW_ERR_REJECTED: return "rejected by the CA";
	case CW_ERR_UNREACHABLE: return "CA unreachable";
	case CW_ERR_DEPLOY: return "deployment failed";
	case CW_ERR__MAX: break;
	}
	return "unknown error";
}

int
cw_exit_code(enum cw_err err)
{
	switch (err) {
	case CW_OK: return 0;
	case CW_ERR_USAGE: return 2;
	case CW_ERR_PENDING: return 3;
	case CW_ERR_UNAVAILABLE: return 4;
	case CW_ERR_PERM: return 5;
	case CW_ERR_TOKEN:
	case CW_ERR_TOKEN_ABSENT:
	case CW_ERR_TOKEN_NOT_INIT:
	case CW_ERR_PIN_INCORRECT:
	case CW_ERR_PIN_LOCKED:
	case CW_ERR_MECHANISM: return 6;
	case CW_ERR_REJECTED: return 7;
	case CW_ERR_UNREACHABLE: return 8;
	case CW_ERR_DEPLOY: return 9;
	default: return 1;
	}
}

static enum cw_log_level log_level = CW_LOG_ERROR;
static char last_error[512];

const char *
cw_last_error(void)
{
	return last_error;
}

void
cw_log_set_level(enum cw_log_level level)
{
	log_level = level;
}

enum cw_log_level
cw_log_get_level(void)
{
	return log_level;
}

static void __attribute__((format(printf, 3, 0)))
vlog(enum cw_log_level level, const char *prefix, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	fputs("certwiz: ", stderr);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cw_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	vlog(CW_LOG_ERROR, "", fmt, ap);
	va_end(ap);
}

void
cw_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(CW_LOG_ERROR, "warning: ", fmt, ap);
	va_end(ap);
}

void
cw_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(CW_LOG_INFO, "", fmt, ap);
	va_end(ap);
}

void
cw_debug(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(CW_LOG_DEBUG, "debug: ", fmt, ap);
	va_end(ap);
}

void
cw_crashpoint(const char *name)
{
	const char *want = secure_getenv("CERTWIZ_CRASHPOINT");

	if (want != NULL && strcmp(want, name) == 0)
		raise(SIGKILL);
}

bool
cw_failpoint(const char *name)
{
	const char *want = secure_getenv("CERTWIZ_FAILPOINT");

	if (want == NULL || strcmp(want, name) != 0)
		return false;
	cw_error("failing at '%s' (CERTWIZ_FAILPOINT)", name);
	return true;
}
