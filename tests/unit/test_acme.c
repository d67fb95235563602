/* ca/: Retry-After, Link, base64url, the ACME JSON parsers, the JWK
 * thumbprint and key authorization, and JWS signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/ca/ca_int.h"
#include "certwiz/ca.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <string.h>

static void
test_retry_after_takes_seconds_and_http_dates(void **state)
{
	time_t t = 0;

	(void)state;
	assert_int_equal(ca_retry_after_parse("120", 1000, &t), CW_OK);
	assert_int_equal(t, 1120);
	assert_int_equal(ca_retry_after_parse(" 0\r\n", 1000, &t), CW_OK);
	assert_int_equal(t, 1000);
	/* RFC 9110's example date, 1994-11-06T08:49:37Z */
	assert_int_equal(ca_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT",
					      784111700, &t),
			 CW_OK);
	assert_int_equal(t, 784111777);
}

static void
test_retry_after_is_clamped_and_refuses_garbage(void **state)
{
	time_t t = 0;

	(void)state;
	assert_int_equal(ca_retry_after_parse("99999999999999999999", 1000, &t),
			 CW_OK);
	assert_int_equal(t, 1000 + CA_RETRY_AFTER_MAX);
	/* a date in the past means now */
	assert_int_equal(ca_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT",
					      2000000000, &t),
			 CW_OK);
	assert_int_equal(t, 2000000000);
	assert_int_equal(ca_retry_after_parse("12x", 1000, &t), CW_ERR_PARSE);
	assert_int_equal(ca_retry_after_parse("soon", 1000, &t), CW_ERR_PARSE);
	assert_int_equal(ca_retry_after_parse("", 1000, &t), CW_ERR_PARSE);
}

static void
test_link_finds_the_relation_asked_for(void **state)
{
	char *url = NULL;

	(void)state;
	assert_int_equal(ca_link_parse("<https://ca/dir>;rel=\"index\", "
				       "<https://ca/cert/1/1>;rel=\"alternate\"",
				       "alternate", &url),
			 CW_OK);
	assert_string_equal(url, "https://ca/cert/1/1");
	free(url);
	assert_int_equal(ca_link_parse("<https://ca/a>; rel=\"up index\"",
				       "index", &url),
			 CW_OK);
	assert_string_equal(url, "https://ca/a");
	free(url);
	assert_int_equal(ca_link_parse("<https://ca/a>;rel=alternate",
				       "alternate", &url),
			 CW_OK);
	free(url);
	assert_int_equal(ca_link_parse("<https://ca/a>;rel=\"alternates\"",
				       "alternate", &url),
			 CW_ERR_NOT_FOUND);
	assert_int_equal(ca_link_parse("<https://ca/a", "up", &url),
			 CW_ERR_NOT_FOUND);
}

static void
test_base64url_round_trips_and_refuses_standard_alphabet(void **state)
{
	const unsigned char data[] = { 0xfb, 0xff, 0x00, 0x3e, 0x3f };
	struct cw_buf out;
	char *s = ca_base64url(data, sizeof(data));

	(void)state;
	cw_buf_init(&out);
	assert_string_equal(s, "-_8APj8");
	assert_int_equal(ca_unbase64url(s, strlen(s), &out), CW_OK);
	assert_int_equal(out.len, sizeof(data));
	assert_memory_equal(out.data, data, sizeof(data));
	assert_int_equal(ca_unbase64url("+/8APj8", 7, &out), CW_ERR_PARSE);
	assert_int_equal(ca_unbase64url("a", 1, &out), CW_ERR_PARSE);
	assert_true(ca_is_base64url("abc-_"));
	assert_false(ca_is_base64url("ab/c"));
	assert_false(ca_is_base64url(""));
	free(s);
	cw_buf_release(&out);
}

static void
test_order_parses_and_requires_what_rfc8555_requires(void **state)
{
	const char *valid =
		"{\"status\":\"valid\",\"expires\":\"2026-12-01T00:00:00Z\","
		"\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}],"
		"\"authorizations\":[\"https://ca/authz/1\"],"
		"\"finalize\":\"https://ca/finalize/1\","
		"\"certificate\":\"https://ca/cert/1\"}";
	struct acme_order o;

	(void)state;
	assert_int_equal(acme_parse_order(valid, strlen(valid), &o), CW_OK);
	assert_int_equal(o.status, ACME_VALID);
	assert_string_equal(o.certificate, "https://ca/cert/1");
	assert_string_equal(o.identifiers.v[0], "a.test");
	assert_int_equal(o.authorizations.n, 1);
	acme_order_release(&o);
	/* valid without a certificate URL, no finalize, unknown status */
	static const char *const bad[] = {
		"{\"status\":\"valid\",\"finalize\":\"x\","
		"\"authorizations\":[],\"identifiers\":[]}",
		"{\"status\":\"pending\",\"authorizations\":[],"
		"\"identifiers\":[]}",
		"{\"status\":\"done\",\"finalize\":\"x\","
		"\"authorizations\":[],\"identifiers\":[]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(acme_parse_order(bad[i], strlen(bad[i]), &o),
				 CW_ERR_PARSE);
	/* the same with what was missing is accepted */
	assert_int_equal(acme_parse_order("{\"status\":\"pending\","
					  "\"finalize\":\"x\","
					  "\"authorizations\":[],"
					  "\"identifiers\":[]}",
					  strlen("{\"status\":\"pending\","
						 "\"finalize\":\"x\","
						 "\"authorizations\":[],"
						 "\"identifiers\":[]}"),
					  &o),
			 CW_OK);
	acme_order_release(&o);
	assert_int_equal(acme_parse_order("[]", 2, &o), CW_ERR_PARSE);
}

static void
test_invalid_order_keeps_the_cas_error(void **state)
{
	const char *j = "{\"status\":\"invalid\",\"finalize\":\"https://ca/f\","
			"\"authorizations\":[],\"identifiers\":[],"
			"\"error\":{\"type\":\"urn:ietf:params:acme:error:"
			"unauthorized\",\"detail\":\"no such name\"}}";
	struct acme_order o;

	(void)state;
	assert_int_equal(acme_parse_order(j, strlen(j), &o), CW_OK);
	assert_int_equal(o.status, ACME_INVALID);
	assert_string_equal(o.error.detail, "no such name");
	acme_order_release(&o);
}

static void
test_authz_refuses_a_token_that_is_not_base64url(void **state)
{
	const char *good =
		"{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
		"\"value\":\"a.test\"},\"challenges\":[{\"type\":\"http-01\","
		"\"url\":\"https://ca/c/1\",\"token\":\"tok-1_x\","
		"\"status\":\"pending\"},{\"type\":\"dns-01\",\"url\":"
		"\"https://ca/c/2\",\"token\":\"tok2\",\"status\":\"invalid\","
		"\"error\":{\"detail\":\"NXDOMAIN\"}}]}";
	const char *evil =
		"{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
		"\"value\":\"a.test\"},\"challenges\":[{\"type\":\"http-01\","
		"\"url\":\"https://ca/c/1\",\"token\":\"../../etc/passwd\","
		"\"status\":\"pending\"}]}";
	struct acme_authz z;

	(void)state;
	assert_int_equal(acme_parse_authz(good, strlen(good), &z), CW_OK);
	assert_int_equal(z.n, 2);
	assert_string_equal(z.identifier, "a.test");
	assert_string_equal(z.v[0].token, "tok-1_x");
	assert_string_equal(z.v[1].error, "NXDOMAIN");
	acme_authz_release(&z);
	assert_int_equal(acme_parse_authz(evil, strlen(evil), &z), CW_ERR_PARSE);
}

static void
test_problem_lists_subproblems(void **state)
{
	const char *j =
		"{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
		"\"detail\":\"some names are refused\",\"status\":400,"
		"\"subproblems\":[{\"type\":\"urn:ietf:params:acme:error:"
		"rejectedIdentifier\",\"detail\":\"policy forbids it\","
		"\"identifier\":{\"type\":\"dns\",\"value\":\"bad.test\"}}]}";
	struct ca_problem p;

	(void)state;
	assert_int_equal(acme_parse_problem(j, strlen(j), &p), CW_OK);
	assert_string_equal(p.type,
			    "urn:ietf:params:acme:error:rejectedIdentifier");
	assert_string_equal(p.detail, "some names are refused; bad.test: "
				      "policy forbids it");
	assert_int_equal(p.status, 400);
	ca_problem_release(&p);
	assert_int_equal(acme_parse_problem("nope", 4, &p), CW_ERR_PARSE);
}

/* A P-256 point whose JWK thumbprint and dns-01 value for token
 * "tok123" were computed independently (Python hashlib). */
static const char point_hex[] =
	"048a28ef7a2084ea81bfcd70f06cb32b9ac16b27dc8e590bfa5890aa463673bad0"
	"6ffa016c63ec26a37c60868aad22cc8705fc10ab80cb7bb99ac85dbc982dd02d";

static enum cw_err
no_sign(void *user, const unsigned char *d, size_t n, struct cw_buf *sig)
{
	(void)user, (void)d, (void)n, (void)sig;
	return CW_ERR_INTERNAL;
}

static void
test_key_authorization_uses_the_rfc7638_thumbprint(void **state)
{
	struct cw_buf point;
	struct acme_opts o;
	struct acme *a = NULL;
	char *ka, *txt;

	(void)state;
	cw_buf_init(&point);
	assert_int_equal(cw_unhex(point_hex, &point), CW_OK);
	o = (struct acme_opts){ "https://ca.test/dir", NULL, &point, no_sign,
				NULL, 0 };
	assert_int_equal(acme_new(&o, &a), CW_OK);
	ka = acme_key_authorization(a, "tok123");
	txt = acme_dns01_value(a, "tok123");
	assert_string_equal(ka,
			    "tok123.YKMiM6REt4wshzI11-lnMGplWbcGBcEGKOeJiF3CX9w");
	assert_string_equal(txt, "z2oKgLvTcredmiPnYjklCEcnAQ1qXU0PMAwZ5FUDKRo");
	free(ka);
	free(txt);
	acme_free(a);
	/* no plain http */
	o.directory = "http://ca.test/dir";
	assert_int_equal(acme_new(&o, &a), CW_ERR_CONFIG);
	cw_buf_release(&point);
}

/* ES256 / ES384 with an OpenSSL key, as the token would: raw r||s. */
static size_t
coord_len(EVP_PKEY *pk)
{
	return EVP_PKEY_get_bits(pk) == 384 ? 48 : 32;
}

static const EVP_MD *
md_of(EVP_PKEY *pk)
{
	return coord_len(pk) == 48 ? EVP_sha384() : EVP_sha256();
}

static enum cw_err
sign_es(void *user, const unsigned char *d, size_t n, struct cw_buf *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[128], raw[96];
	const unsigned char *p = der;
	size_t len = sizeof(der), c = coord_len(user);
	ECDSA_SIG *s = NULL;

	if (EVP_DigestSignInit(ctx, NULL, md_of(user), NULL, user) != 1 ||
	    EVP_DigestSign(ctx, der, &len, d, n) != 1 ||
	    (s = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		return CW_ERR_CRYPTO;
	BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, (int)c);
	BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + c, (int)c);
	ECDSA_SIG_free(s);
	EVP_MD_CTX_free(ctx);
	return cw_buf_set(sig, raw, 2 * c);
}

static bool
verify_es(EVP_PKEY *pk, const char *input, const struct cw_buf *raw)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	int len, ok, c = (int)coord_len(pk);

	ECDSA_SIG_set0(s, BN_bin2bn(raw->data, c, NULL),
		       BN_bin2bn(raw->data + c, c, NULL));
	len = i2d_ECDSA_SIG(s, &der);
	ok = EVP_DigestVerifyInit(ctx, NULL, md_of(pk), NULL, pk) == 1 &&
	     EVP_DigestVerify(ctx, der, (size_t)len,
			      (const unsigned char *)input, strlen(input)) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(s);
	EVP_MD_CTX_free(ctx);
	return ok;
}

static void
jws_round_trip(const char *curve, const char *alg, size_t sig_len)
{
	EVP_PKEY *pk = EVP_EC_gen(curve);
	unsigned char pt[97];
	size_t ptlen = 0;
	struct cw_buf point, hdr, sig;
	struct jws_key k;
	char *body = NULL, *input;
	json_t *j, *h;

	cw_buf_init(&point);
	cw_buf_init(&hdr);
	cw_buf_init(&sig);
	assert_int_equal(EVP_PKEY_get_octet_string_param(
				 pk, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt),
				 &ptlen),
			 1);
	cw_buf_set(&point, pt, ptlen);
	assert_int_equal(jws_key_init(&k, &point, sign_es, pk), CW_OK);
	assert_int_equal(jws_sign(&k, "https://ca/acct/7", "bm9uY2U",
				  "https://ca/order", "{\"a\":1}", &body),
			 CW_OK);
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	input = cw_printf("%s.%s",
			  json_string_value(json_object_get(j, "protected")),
			  json_string_value(json_object_get(j, "payload")));
	assert_int_equal(ca_unbase64url(
				 json_string_value(json_object_get(j, "signature")),
				 strlen(json_string_value(
					 json_object_get(j, "signature"))),
				 &sig),
			 CW_OK);
	assert_int_equal(sig.len, sig_len);
	assert_true(verify_es(pk, input, &sig));
	assert_int_equal(ca_unbase64url(
				 json_string_value(json_object_get(j, "protected")),
				 strlen(json_string_value(
					 json_object_get(j, "protected"))),
				 &hdr),
			 CW_OK);
	h = json_loadb((const char *)hdr.data, hdr.len, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), alg);
	assert_string_equal(json_string_value(json_object_get(h, "kid")),
			    "https://ca/acct/7");
	assert_string_equal(json_string_value(json_object_get(h, "nonce")),
			    "bm9uY2U");
	assert_string_equal(json_string_value(json_object_get(h, "url")),
			    "https://ca/order");
	assert_null(json_object_get(h, "jwk"));
	json_decref(h);
	json_decref(j);
	free(input);
	free(body);
	jws_key_release(&k);
	cw_buf_release(&point);
	cw_buf_release(&hdr);
	cw_buf_release(&sig);
	EVP_PKEY_free(pk);
}

static void
test_jws_is_es256_over_the_protected_header_and_payload(void **state)
{
	(void)state;
	jws_round_trip("P-256", "ES256", 64);
}

static void
test_jws_with_a_p384_account_key_is_es384(void **state)
{
	(void)state;
	jws_round_trip("P-384", "ES384", 96);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after_takes_seconds_and_http_dates),
		cmocka_unit_test(test_retry_after_is_clamped_and_refuses_garbage),
		cmocka_unit_test(test_link_finds_the_relation_asked_for),
		cmocka_unit_test(
			test_base64url_round_trips_and_refuses_standard_alphabet),
		cmocka_unit_test(
			test_order_parses_and_requires_what_rfc8555_requires),
		cmocka_unit_test(test_invalid_order_keeps_the_cas_error),
		cmocka_unit_test(test_authz_refuses_a_token_that_is_not_base64url),
		cmocka_unit_test(test_problem_lists_subproblems),
		cmocka_unit_test(test_key_authorization_uses_the_rfc7638_thumbprint),
		cmocka_unit_test(
			test_jws_is_es256_over_the_protected_header_and_payload),
		cmocka_unit_test(test_jws_with_a_p384_account_key_is_es384),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
