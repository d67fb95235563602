/* PKCS#12 files and key components. */
#include "x509_int.h"

#include <openssl/core_names.h>
#include <openssl/pkcs12.h>
#include <string.h>

/* A KDF or MAC iteration count above this is refused (a DoS guard). */
#define MAX_ITERATIONS 10000000

static enum cw_err
bn_param(EVP_PKEY *k, const char *name, struct cw_buf *out, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int len;
	enum cw_err rc;

	if (!EVP_PKEY_get_bn_param(k, name, &bn))
		return CW_ERR_CRYPTO;
	len = pad > 0 ? BN_bn2binpad(bn, buf, pad)
		      : (BN_num_bytes(bn) <= (int)sizeof(buf) ? BN_bn2bin(bn, buf)
							       : -1);
	BN_clear_free(bn);
	if (len < 0)
		return CW_ERR_CRYPTO;
	rc = cw_buf_set(out, buf, (size_t)len);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static enum cw_err
ec_spec(EVP_PKEY *k, struct cw_keyspec *spec)
{
	char group[64];

	if (!EVP_PKEY_get_group_name(k, group, sizeof(group), NULL))
		return CW_ERR_CRYPTO;
	if (strcmp(group, "prime256v1") == 0)
		return cw_keyspec_parse("ec:P-256", spec);
	if (strcmp(group, "secp384r1") == 0)
		return cw_keyspec_parse("ec:P-384", spec);
	cw_error("EC curve '%s' is not supported (P-256, P-384)", group);
	return CW_ERR_POLICY;
}

static enum cw_err
ec_point(EVP_PKEY *k, struct cw_buf *out)
{
	unsigned char buf[256];
	size_t len = 0;

	EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
				       "uncompressed");
	if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, buf,
					     sizeof(buf), &len))
		return CW_ERR_CRYPTO;
	return cw_buf_set(out, buf, len);
}

static enum cw_err
public_of(EVP_PKEY *k, struct cw_pubkey *out)
{
	struct cw_keyspec spec;
	enum cw_err rc;

	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		out->type = CW_KEY_RSA;
		rc = bn_param(k, OSSL_PKEY_PARAM_RSA_N, &out->modulus, 0);
		return rc ? rc : bn_param(k, OSSL_PKEY_PARAM_RSA_E, &out->exponent, 0);
	case EVP_PKEY_EC:
		out->type = CW_KEY_EC;
		rc = ec_spec(k, &spec);
		if (rc == CW_OK)
			rc = cw_buf_set(&out->ec_params, spec.ec_params,
					spec.ec_params_len);
		return rc ? rc : ec_point(k, &out->ec_point);
	default:
		cw_error("key type %s is not supported (EC, RSA)",
			 OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
		return CW_ERR_POLICY;
	}
}

enum cw_err
x509_pubkey_from_spki(const struct cw_buf *spki, struct cw_pubkey *out)
{
	const unsigned char *p = spki->data;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)spki->len);
	struct cw_pubkey pub;
	enum cw_err rc;

	if (k == NULL) {
		ERR_clear_error();
		return CW_ERR_PARSE;
	}
	cw_pubkey_init(&pub);
	rc = public_of(k, &pub);
	EVP_PKEY_free(k);
	if (rc != CW_OK) {
		cw_pubkey_release(&pub);
		return rc;
	}
	cw_pubkey_release(out);
	*out = pub;
	return CW_OK;
}

static enum cw_err
private_of(EVP_PKEY *k, struct cw_privkey *out)
{
	struct cw_keyspec spec;
	enum cw_err rc = CW_OK;

	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
		static const char *const names[] = {
			OSSL_PKEY_PARAM_RSA_N,	       OSSL_PKEY_PARAM_RSA_E,
			OSSL_PKEY_PARAM_RSA_D,	       OSSL_PKEY_PARAM_RSA_FACTOR1,
			OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
			OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
		};
		struct cw_buf *slots[] = { &out->n,  &out->e,  &out->d,
					   &out->p,  &out->q,  &out->dp,
					   &out->dq, &out->qinv };

		out->type = CW_KEY_RSA;
		if (EVP_PKEY_get_bits(k) < 2048) {
			cw_error("RSA keys under 2048 bits are not imported");
			return CW_ERR_POLICY;
		}
		for (size_t i = 0; i < 8 && rc == CW_OK; i++)
			rc = bn_param(k, names[i], slots[i], 0);
		return rc;
	}
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
		cw_error("key type %s is not supported (EC, RSA)",
			 OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
		return CW_ERR_POLICY;
	}
	out->type = CW_KEY_EC;
	rc = ec_spec(k, &spec);
	if (rc == CW_OK)
		rc = cw_buf_set(&out->ec_params, spec.ec_params,
				spec.ec_params_len);
	if (rc == CW_OK)
		rc = bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &out->ec_value,
			      (int)(spec.bits / 8));
	return rc ? rc : ec_point(k, &out->ec_point);
}

bool
x509_is_pkcs12(const unsigned char *data, size_t n)
{
	const unsigned char *p = data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)n);
	bool yes = p12 != NULL && p == data + n;

	PKCS12_free(p12);
	ERR_clear_error();
	return yes;
}

/* How many private keys the file's bags hold. */
static size_t
count_keys(PKCS12 *p12, const char *pass)
{
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
	size_t n = 0;

	for (int i = 0; safes && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;

		if (OBJ_obj2nid(p7->type) == NID_pkcs7_data)
			bags = PKCS12_unpack_p7data(p7);
		else if (OBJ_obj2nid(p7->type) == NID_pkcs7_encrypted)
			bags = PKCS12_unpack_p7encdata(p7, pass, -1);
		for (int j = 0; bags && j < sk_PKCS12_SAFEBAG_num(bags); j++) {
			int nid = PKCS12_SAFEBAG_get_nid(
				sk_PKCS12_SAFEBAG_value(bags, j));

			n += nid == NID_keyBag || nid == NID_pkcs8ShroudedKeyBag;
		}
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	return n;
}

static enum cw_err
check_mac(PKCS12 *p12, const char *pass)
{
	const ASN1_INTEGER *iter = NULL;

	PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
	if (iter != NULL && ASN1_INTEGER_get(iter) > MAX_ITERATIONS) {
		cw_error("the PKCS#12 file asks for %ld MAC iterations; "
			 "refused",
			 ASN1_INTEGER_get(iter));
		return CW_ERR_PARSE;
	}
	if (PKCS12_mac_present(p12) && !PKCS12_verify_mac(p12, pass, -1)) {
		cw_error("wrong password for the PKCS#12 file");
		return CW_ERR_CRYPTO;
	}
	return CW_OK;
}

static bool
key_matches(EVP_PKEY *k, const struct cw_buf *leaf)
{
	const unsigned char *p = leaf->data;
	X509 *x = d2i_X509(NULL, &p, (long)leaf->len);
	bool yes = x != NULL && X509_check_private_key(x, k) == 1;

	X509_free(x);
	ERR_clear_error();
	return yes;
}

static enum cw_err
unpack(PKCS12 *p12, const char *pass, struct x509_p12 *r)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	enum cw_err rc = CW_ERR_PARSE;

	if (!PKCS12_parse(p12, pass, &key, &cert, &ca)) {
		cw_error_openssl("PKCS12_parse");
		return CW_ERR_PARSE;
	}
	if (ca == NULL)
		ca = sk_X509_new_null();
	if (ca != NULL && cert != NULL && sk_X509_push(ca, cert))
		cert = NULL;
	if (ca != NULL)
		rc = x509_bundle_from_stack(ca, &r->certs);
	if (rc == CW_OK && key != NULL) {
		if (!key_matches(key, &r->certs.certs[0])) {
			cw_error("the PKCS#12 key does not belong to its "
				 "certificate");
			rc = CW_ERR_POLICY;
		} else {
			rc = private_of(key, &r->key);
		}
	}
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	return rc;
}

enum cw_err
x509_pkcs12_parse(const unsigned char *data, size_t n,
		  const struct cw_secret *password, struct x509_p12 *out)
{
	const unsigned char *p = data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)n);
	const char *pass = password ? (const char *)cw_secret_data(password)
				    : "";
	struct x509_p12 r;
	enum cw_err rc;

	memset(&r, 0, sizeof(r));
	if (p12 == NULL || p != data + n) {
		PKCS12_free(p12);
		ERR_clear_error();
		cw_error("not a PKCS#12 file");
		return CW_ERR_PARSE;
	}
	rc = check_mac(p12, pass);
	if (rc == CW_OK) {
		r.n_keys = count_keys(p12, pass);
		rc = unpack(p12, pass, &r);
	}
	PKCS12_free(p12);
	ERR_clear_error();
	if (rc != CW_OK) {
		x509_p12_release(&r);
		return rc;
	}
	*out = r;
	return CW_OK;
}

void
x509_p12_release(struct x509_p12 *p)
{
	if (p == NULL)
		return;
	x509_bundle_release(&p->certs);
	cw_privkey_release(&p->key);
	p->n_keys = 0;
}
