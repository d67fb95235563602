#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <stdlib.h>
#include <string.h>

#include "certgen.h"
#include "certwiz/x509.h"

struct fix {
	EVP_PKEY *rk, *ik, *lk, *ok;
	X509 *root, *inter, *leaf, *other;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	f->rk = tg_key();
	f->ik = tg_key();
	f->lk = tg_key();
	f->ok = tg_key();
	f->root = tg_cert("root", f->rk, NULL, NULL, true, 3650);
	f->inter = tg_cert("inter", f->ik, f->root, f->rk, true, 3650);
	f->leaf = tg_cert("leaf", f->lk, f->inter, f->ik, false, 90);
	f->other = tg_cert("other", f->ok, f->inter, f->ik, false, 90);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	X509_free(f->root);
	X509_free(f->inter);
	X509_free(f->leaf);
	X509_free(f->other);
	EVP_PKEY_free(f->rk);
	EVP_PKEY_free(f->ik);
	EVP_PKEY_free(f->lk);
	EVP_PKEY_free(f->ok);
	free(f);
	return 0;
}

/* PEM of the certificates, in the order given. */
static struct cw_buf
pem(X509 *a, X509 *b, X509 *c)
{
	BIO *bio = BIO_new(BIO_s_mem());
	X509 *v[] = { a, b, c };
	struct cw_buf out;
	char *p;
	long n;

	for (int i = 0; i < 3; i++)
		if (v[i])
			PEM_write_bio_X509(bio, v[i]);
	n = BIO_get_mem_data(bio, &p);
	cw_buf_init(&out);
	cw_buf_set(&out, p, (size_t)n);
	BIO_free(bio);
	return out;
}

static struct cw_buf
p7(X509 *a, X509 *b, X509 *c, bool as_pem)
{
	PKCS7 *p = PKCS7_new();
	X509 *v[] = { a, b, c };
	struct cw_buf out;
	unsigned char *der = NULL;
	int len;

	PKCS7_set_type(p, NID_pkcs7_signed);
	PKCS7_content_new(p, NID_pkcs7_data);
	for (int i = 0; i < 3; i++)
		if (v[i])
			PKCS7_add_certificate(p, v[i]);
	cw_buf_init(&out);
	if (as_pem) {
		BIO *bio = BIO_new(BIO_s_mem());
		char *q;
		long n;

		PEM_write_bio_PKCS7(bio, p);
		n = BIO_get_mem_data(bio, &q);
		cw_buf_set(&out, q, (size_t)n);
		BIO_free(bio);
	} else {
		len = i2d_PKCS7(p, &der);
		cw_buf_set(&out, der, (size_t)len);
		OPENSSL_free(der);
	}
	PKCS7_free(p);
	return out;
}

static void
assert_chain(struct cw_buf in, X509 *leaf, size_t n)
{
	struct x509_bundle b = { NULL, 0 };
	unsigned char *der = NULL;
	int len = tg_der(leaf, &der);

	assert_int_equal(x509_bundle_parse(in.data, in.len, &b), CW_OK);
	assert_int_equal(b.n, n);
	assert_int_equal(b.certs[0].len, len);
	assert_memory_equal(b.certs[0].data, der, (size_t)len);
	OPENSSL_free(der);
	x509_bundle_release(&b);
	cw_buf_release(&in);
}

static void
test_pem_any_order_gives_leaf_then_issuers(void **state)
{
	struct fix *f = *state;

	assert_chain(pem(f->leaf, NULL, NULL), f->leaf, 1);
	assert_chain(pem(f->root, f->leaf, f->inter), f->leaf, 3);
	assert_chain(pem(f->inter, f->leaf, NULL), f->leaf, 2);
}

static void
test_der_and_pkcs7_are_read(void **state)
{
	struct fix *f = *state;
	struct cw_buf der;
	unsigned char *p = NULL;
	int len = tg_der(f->leaf, &p);

	cw_buf_init(&der);
	cw_buf_set(&der, p, (size_t)len);
	OPENSSL_free(p);
	assert_chain(der, f->leaf, 1);
	assert_chain(p7(f->root, f->leaf, f->inter, false), f->leaf, 3);
	assert_chain(p7(f->inter, f->root, f->leaf, true), f->leaf, 3);
}

static void
expect(struct cw_buf in, enum cw_err want)
{
	struct x509_bundle b = { NULL, 0 };

	assert_int_equal(x509_bundle_parse(in.data, in.len, &b), want);
	assert_int_equal(b.n, 0);
	cw_buf_release(&in);
}

static struct cw_buf
text(const char *s)
{
	struct cw_buf b;

	cw_buf_init(&b);
	cw_buf_set(&b, s, strlen(s));
	return b;
}

static void
test_bad_responses_are_refused(void **state)
{
	struct fix *f = *state;
	struct cw_buf der;
	unsigned char *p = NULL;
	int len = tg_der(f->leaf, &p);

	expect(text("hello, this is not a certificate\n"), CW_ERR_PARSE);
	expect(text(""), CW_ERR_PARSE);
	cw_buf_init(&der);
	cw_buf_set(&der, p, (size_t)len - 10); /* truncated DER */
	expect(der, CW_ERR_PARSE);
	OPENSSL_free(p);
	expect(p7(NULL, NULL, NULL, false), CW_ERR_PARSE); /* empty PKCS#7 */
	expect(p7(NULL, NULL, NULL, true), CW_ERR_PARSE);
	expect(text("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
		    "-----END CERTIFICATE REQUEST-----\n"),
	       CW_ERR_PARSE);
	expect(text("-----BEGIN CERTIFICATE-----\n!!!!\n"
		    "-----END CERTIFICATE-----\n"),
	       CW_ERR_PARSE);
	/* two end-entity certificates: which one is meant? */
	expect(pem(f->leaf, f->other, f->inter), CW_ERR_AMBIGUOUS);
}

static void
test_info_reads_names_eku_key_and_validity(void **state)
{
	struct fix *f = *state;
	struct x509_info i;
	unsigned char *p = NULL;
	int len = tg_der(f->leaf, &p);

	assert_int_equal(x509_info_parse(p, (size_t)len, &i), CW_OK);
	assert_string_equal(i.subject, "CN=leaf");
	assert_string_equal(i.issuer, "CN=inter");
	assert_int_equal(i.names.n, 2);
	assert_string_equal(i.names.v[0], "www.example.test");
	assert_string_equal(i.names.v[1], "192.0.2.7");
	assert_int_equal(i.eku.n, 1);
	assert_string_equal(i.eku.v[0], "serverAuth");
	assert_string_equal(i.key_alg, "ec:P-256");
	assert_false(i.is_ca);
	assert_true(i.not_after > i.not_before);
	assert_int_equal(strlen(i.sha256), 64);
	assert_int_equal(strlen(i.sha1), 40);
	assert_true(i.serial_der.len > 2 && i.serial_der.data[0] == 0x02);
	x509_info_release(&i);
	OPENSSL_free(p);
}

static void
test_chain_join_and_split_round_trip(void **state)
{
	struct fix *f = *state;
	struct cw_buf in = pem(f->root, f->leaf, f->inter), joined;
	struct x509_bundle b = { NULL, 0 }, back = { NULL, 0 };

	cw_buf_init(&joined);
	assert_int_equal(x509_bundle_parse(in.data, in.len, &b), CW_OK);
	assert_int_equal(x509_chain_join(b.certs, b.n, &joined), CW_OK);
	assert_int_equal(x509_chain_split(joined.data, joined.len, &back),
			 CW_OK);
	assert_int_equal(back.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_memory_equal(back.certs[i].data, b.certs[i].data,
				    b.certs[i].len);
	x509_bundle_release(&b);
	x509_bundle_release(&back);
	cw_buf_release(&joined);
	cw_buf_release(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pem_any_order_gives_leaf_then_issuers),
		cmocka_unit_test(test_der_and_pkcs7_are_read),
		cmocka_unit_test(test_bad_responses_are_refused),
		cmocka_unit_test(test_info_reads_names_eku_key_and_validity),
		cmocka_unit_test(test_chain_join_and_split_round_trip),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, setup, teardown);
}
