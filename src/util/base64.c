#define _DEFAULT_SOURCE
/* Base64 (RFC 4648 section 4) through OpenSSL. */
#include "certwiz/util.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

char *
cw_base64(const unsigned char *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);

	if (s != NULL)
		EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

enum cw_err
cw_unbase64(const char *s, struct cw_buf *out)
{
	size_t len = strlen(s), pad = 0;
	unsigned char *d;
	int n;
	enum cw_err rc;

	if (len == 0 || len % 4 != 0)
		return CW_ERR_PARSE;
	pad = (s[len - 1] == '=') + (len > 1 && s[len - 2] == '=');
	d = malloc(len / 4 * 3 + 1);
	if (d == NULL)
		return CW_ERR_NOMEM;
	n = EVP_DecodeBlock(d, (const unsigned char *)s, (int)len);
	rc = n < 0 ? CW_ERR_PARSE : cw_buf_set(out, d, (size_t)n - pad);
	explicit_bzero(d, len / 4 * 3 + 1); /* it may have held a key */
	free(d);
	return rc;
}
