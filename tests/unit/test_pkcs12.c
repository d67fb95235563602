#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/pkcs12.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certgen.h"
#include "certwiz/x509.h"

static struct cw_secret *
secret(const char *s)
{
	int fds[2];
	struct cw_secret *out = NULL;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], s, strlen(s)), (ssize_t)strlen(s));
	close(fds[1]);
	assert_int_equal(cw_secret_from_fd(fds[0], &out), CW_OK);
	close(fds[0]);
	return out;
}

/* A PKCS#12 with the given keys (0, 1 or 2) and the leaf. */
static struct cw_buf
p12(EVP_PKEY *k1, EVP_PKEY *k2, X509 *leaf, const char *pass)
{
	STACK_OF(PKCS12_SAFEBAG) *bags = sk_PKCS12_SAFEBAG_new_null();
	STACK_OF(PKCS7) *safes = sk_PKCS7_new_null();
	PKCS12 *p;
	unsigned char *der = NULL;
	struct cw_buf out;
	int len;

	PKCS12_add_cert(&bags, leaf);
	if (k1)
		PKCS12_add_key(&bags, k1, 0, PKCS12_DEFAULT_ITER,
			       NID_aes_256_cbc, pass);
	if (k2)
		PKCS12_add_key(&bags, k2, 0, PKCS12_DEFAULT_ITER,
			       NID_aes_256_cbc, pass);
	PKCS12_add_safe(&safes, bags, -1, 0, NULL);
	p = PKCS12_add_safes(safes, 0);
	PKCS12_set_mac(p, pass, -1, NULL, 0, PKCS12_DEFAULT_ITER, NULL);
	len = i2d_PKCS12(p, &der);
	cw_buf_init(&out);
	cw_buf_set(&out, der, (size_t)len);
	OPENSSL_free(der);
	PKCS12_free(p);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return out;
}

static void
test_pkcs12_key_count_password_and_components(void **state)
{
	EVP_PKEY *k = tg_key(), *other = tg_key();
	X509 *leaf = tg_cert("p12", k, NULL, NULL, false, 30);
	struct cw_secret *good = secret("s3cret"), *bad = secret("nope");
	struct cw_buf one = p12(k, NULL, leaf, "s3cret");
	struct cw_buf two = p12(k, other, leaf, "s3cret");
	struct cw_buf none = p12(NULL, NULL, leaf, "s3cret");
	struct x509_p12 r;

	(void)state;
	assert_true(x509_is_pkcs12(one.data, one.len));
	assert_false(x509_is_pkcs12((const unsigned char *)"x", 1));
	assert_int_equal(x509_pkcs12_parse(one.data, one.len, good, &r), CW_OK);
	assert_int_equal(r.n_keys, 1);
	assert_int_equal(r.certs.n, 1);
	assert_int_equal(r.key.type, CW_KEY_EC);
	assert_int_equal(r.key.ec_value.len, 32);
	assert_int_equal(r.key.ec_point.len, 65);
	x509_p12_release(&r);
	assert_int_equal(x509_pkcs12_parse(one.data, one.len, bad, &r),
			 CW_ERR_CRYPTO);
	assert_int_equal(x509_pkcs12_parse(two.data, two.len, good, &r), CW_OK);
	assert_int_equal(r.n_keys, 2);
	x509_p12_release(&r);
	assert_int_equal(x509_pkcs12_parse(none.data, none.len, good, &r),
			 CW_OK);
	assert_int_equal(r.n_keys, 0);
	x509_p12_release(&r);
	assert_int_equal(x509_pkcs12_parse(one.data, one.len - 9, good, &r),
			 CW_ERR_PARSE);
	cw_buf_release(&one);
	cw_buf_release(&two);
	cw_buf_release(&none);
	cw_secret_free(good);
	cw_secret_free(bad);
	X509_free(leaf);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void
test_pubkey_from_spki_round_trips(void **state)
{
	EVP_PKEY *k = tg_key();
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(k, &der);
	struct cw_buf spki = { der, (size_t)len, (size_t)len }, back;
	struct cw_pubkey pub;

	(void)state;
	cw_pubkey_init(&pub);
	cw_buf_init(&back);
	assert_int_equal(x509_pubkey_from_spki(&spki, &pub), CW_OK);
	assert_int_equal(pub.type, CW_KEY_EC);
	assert_int_equal(x509_spki_from_pubkey(&pub, &back), CW_OK);
	assert_int_equal(back.len, spki.len);
	assert_memory_equal(back.data, spki.data, spki.len);
	cw_pubkey_release(&pub);
	cw_buf_release(&back);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkcs12_key_count_password_and_components),
		cmocka_unit_test(test_pubkey_from_spki_round_trips),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
