#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "certwiz/x509.h"

/* Plays the token: signs the request's data with a software key and
 * returns what PKCS#11 would (raw r||s for ECDSA). */
static void
sign_like_token(EVP_PKEY *k, const struct cw_sign_req *req, struct cw_buf *sig)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[1024];
	size_t len = sizeof(buf);

	assert_int_equal(EVP_DigestSignInit(md, NULL,
					    req->alg == CW_SIG_ECDSA_SHA384
						    ? EVP_sha384()
						    : EVP_sha256(),
					    NULL, k),
			 1);
	assert_int_equal(EVP_DigestSign(md, buf, &len, req->data, req->len), 1);
	EVP_MD_CTX_free(md);
	if (req->alg == CW_SIG_RSA_PKCS1_SHA256) {
		cw_buf_set(sig, buf, len);
	} else {
		const unsigned char *p = buf;
		ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
		int half = req->alg == CW_SIG_ECDSA_SHA384 ? 48 : 32;
		unsigned char raw[96];

		BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, half);
		BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + half, half);
		cw_buf_set(sig, raw, (size_t)(2 * half));
		ECDSA_SIG_free(s);
	}
}

static void
check_csr(EVP_PKEY *k, enum cw_sigalg alg)
{
	struct cw_strlist names, eku;
	struct cw_buf spki, sig, der;
	struct x509_csr *csr = NULL;
	struct cw_sign_req req;
	unsigned char *p = NULL;
	const unsigned char *q;
	X509_REQ *r;
	STACK_OF(X509_EXTENSION) *exts;
	int len = i2d_PUBKEY(k, &p);
	char subject[256];

	cw_strlist_init(&names);
	cw_strlist_init(&eku);
	cw_buf_init(&spki);
	cw_buf_init(&sig);
	cw_buf_init(&der);
	cw_buf_set(&spki, p, (size_t)len);
	OPENSSL_free(p);
	cw_strlist_add(&names, "pool.x.test");
	cw_strlist_add(&names, "*.x.test");
	cw_strlist_add(&names, "192.0.2.1");
	cw_strlist_add(&eku, "serverAuth");
	cw_strlist_add(&eku, "clientAuth");
	struct x509_csr_params params = { "CN=pool.x.test,O=Contoso\\, Inc",
					  &names, &eku, &spki, alg };
	assert_int_equal(x509_csr_prepare(&params, &csr, &req), CW_OK);
	sign_like_token(k, &req, &sig);
	assert_int_equal(x509_csr_finish(csr, &sig, &der), CW_OK);
	q = der.data;
	r = d2i_X509_REQ(NULL, &q, (long)der.len);
	assert_non_null(r);
	assert_int_equal(X509_REQ_verify(r, k), 1);
	X509_NAME_oneline(X509_REQ_get_subject_name(r), subject,
			  sizeof(subject));
	assert_string_equal(subject, "/O=Contoso, Inc/CN=pool.x.test");
	exts = X509_REQ_get_extensions(r);
	assert_int_equal(sk_X509_EXTENSION_num(exts), 3);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(r);
	/* a signature by another key is caught before the CSR leaves */
	x509_csr_free(csr);
	assert_int_equal(x509_csr_prepare(&params, &csr, &req), CW_OK);
	sig.data[sig.len / 2] ^= 1;
	assert_int_equal(x509_csr_finish(csr, &sig, &der), CW_ERR_CRYPTO);
	x509_csr_free(csr);
	cw_strlist_release(&names);
	cw_strlist_release(&eku);
	cw_buf_release(&spki);
	cw_buf_release(&sig);
	cw_buf_release(&der);
}

static void
test_csr_signed_outside_verifies_for_ec_and_rsa(void **state)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

	(void)state;
	check_csr(ec, CW_SIG_ECDSA_SHA256);
	check_csr(ec384, CW_SIG_ECDSA_SHA384);
	check_csr(rsa, CW_SIG_RSA_PKCS1_SHA256);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec384);
	EVP_PKEY_free(rsa);
}

static void
test_names_and_subjects_are_checked(void **state)
{
	static const char *good[] = { "a.test", "*.a.test", "xn--bcher-kva.test",
				      "10.0.0.1", "2001:db8::1", "a-b.c" };
	static const char *bad[] = { "", "a..b", "-a.test", "a-.test", "a b",
				     "a.test.", "*", "a.*.test", "a\n.test",
				     "300.1.1.1", "10.0.0.300", "a.123",
				     "b\xc3\xbc" "cher.test" };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(x509_check_name(good[i]), CW_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(x509_check_name(bad[i]), CW_ERR_USAGE);
	/* an internationalised name: the message gives its ASCII form */
	assert_int_equal(x509_check_name("b\xc3\xbc" "cher.test"), CW_ERR_USAGE);
	assert_non_null(strstr(cw_last_error(), "xn--bcher-kva.test"));
	assert_int_equal(x509_check_name("10.0.0.300"), CW_ERR_USAGE);
	assert_non_null(strstr(cw_last_error(), "not a valid IP address"));
	assert_int_equal(x509_check_subject("CN=a,O=b,C=FR"), CW_OK);
	assert_int_equal(x509_check_subject("CN="), CW_ERR_USAGE);
	assert_int_equal(x509_check_subject("nonsense"), CW_ERR_USAGE);
	assert_int_equal(x509_check_subject("XYZ=a"), CW_ERR_USAGE);
	assert_int_equal(x509_check_subject("CN=a\tb"), CW_ERR_USAGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr_signed_outside_verifies_for_ec_and_rsa),
		cmocka_unit_test(test_names_and_subjects_are_checked),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
