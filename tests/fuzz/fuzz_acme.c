/*
 * Fuzz target: what an ACME CA sends back. The first byte chooses the
 * parser (order, authorization, problem document, Retry-After, Link,
 * Replay-Nonce / base64url); the rest is the CA's bytes.
 */
#include "certwiz/ca.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data + 1;
	size_t n = size - 1;
	char *text;
	struct acme_order o;
	struct acme_authz z;
	struct ca_problem p;
	struct cw_buf b;
	time_t t;
	char *url = NULL;

	if (size < 1)
		return 0;
	cw_log_set_level(CW_LOG_QUIET);
	switch (data[0] % 6) {
	case 0:
		if (acme_parse_order(body, n, &o) == CW_OK)
			acme_order_release(&o);
		return 0;
	case 1:
		if (acme_parse_authz(body, n, &z) == CW_OK)
			acme_authz_release(&z);
		return 0;
	case 2:
		if (acme_parse_problem(body, n, &p) == CW_OK)
			ca_problem_release(&p);
		return 0;
	default:
		break;
	}
	/* header values are NUL-terminated strings */
	if ((text = malloc(n + 1)) == NULL)
		return 0;
	memcpy(text, body, n);
	text[n] = 0;
	if (data[0] % 6 == 3) {
		(void)ca_retry_after_parse(text, 1700000000, &t);
	} else if (data[0] % 6 == 4) {
		if (ca_link_parse(text, "alternate", &url) == CW_OK)
			free(url);
	} else {
		cw_buf_init(&b);
		if (ca_is_base64url(text))
			(void)ca_unbase64url(text, n, &b);
		cw_buf_release(&b);
	}
	free(text);
	return 0;
}
