/* PKCS#12 files and key components. */
#include "x509_int.h"

#include <openssl/core_names.h>
#include <openssl/pkcs12.h>
#include <string.h>

/* A KDF or MAC iteration count above this is refused before any
 * derivation (a DoS guard; exports use 2,048 to 600,000). */
#define MAX_ITERATIONS 1000000

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

/*
 * The iteration count a password-based encryption asks for: PBES2 with
 * PBKDF2 (what OpenSSL 3 writes), or the PKCS#5 v1 and PKCS#12 schemes
 * (one PBEPARAM). -1 for a malformed or unknown scheme (refused too: the
 * count could not be bounded).
 */
static long
pbe_iterations(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj = NULL;
	const void *param = NULL;
	int ptype = 0;
	long iter = -1;

	X509_ALGOR_get0(&obj, &ptype, &param, alg);
	if (ptype != V_ASN1_SEQUENCE || param == NULL)
		return -1;
	if (OBJ_obj2nid(obj) == NID_pbes2) {
		PBE2PARAM *p2 = ASN1_TYPE_unpack_sequence(
			ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
		PBKDF2PARAM *kdf = NULL;

		if (p2 != NULL && OBJ_obj2nid(p2->keyfunc->algorithm) ==
					  NID_id_pbkdf2)
			kdf = ASN1_TYPE_unpack_sequence(
				ASN1_ITEM_rptr(PBKDF2PARAM),
				p2->keyfunc->parameter);
		if (kdf != NULL)
			iter = ASN1_INTEGER_get(kdf->iter);
		PBKDF2PARAM_free(kdf);
		PBE2PARAM_free(p2);
	} else {
		PBEPARAM *pbe = ASN1_TYPE_unpack_sequence(
			ASN1_ITEM_rptr(PBEPARAM), alg->parameter);

		if (pbe != NULL)
			iter = ASN1_INTEGER_get(pbe->iter);
		PBEPARAM_free(pbe);
	}
	ERR_clear_error();
	return iter;
}

static enum cw_err
check_iterations(const X509_ALGOR *alg, const char *what)
{
	long iter = pbe_iterations(alg);

	if (iter < 1 || iter > MAX_ITERATIONS) {
		cw_error("the PKCS#12 file's %s asks for %s%ld iterations of its "
			 "key derivation (at most %d are accepted); refused "
			 "before any derivation",
			 what, iter < 1 ? "an unreadable count of " : "", iter,
			 MAX_ITERATIONS);
		return CW_ERR_PARSE;
	}
	return CW_OK;
}

/* Counts the keys of bags, checking each encrypted key's iterations; a
 * bag of bags is looked into (at most a few levels deep). */
static enum cw_err
walk_bags(const STACK_OF(PKCS12_SAFEBAG) *bags, int depth, size_t *keys)
{
	enum cw_err rc = CW_OK;

	for (int j = 0; rc == CW_OK && j < sk_PKCS12_SAFEBAG_num(bags); j++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);
		int nid = PKCS12_SAFEBAG_get_nid(bag);

		if (nid == NID_pkcs8ShroudedKeyBag) {
			const X509_ALGOR *alg = NULL;

			X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg,
				      NULL);
			rc = check_iterations(alg, "key");
		}
		if (nid == NID_keyBag || nid == NID_pkcs8ShroudedKeyBag)
			(*keys)++;
		if (nid == NID_safeContentsBag && depth < 4)
			rc = walk_bags(PKCS12_SAFEBAG_get0_safes(bag), depth + 1,
				       keys);
		else if (nid == NID_safeContentsBag)
			rc = CW_ERR_PARSE;
	}
	return rc;
}

/*
 * How many private keys the file's bags hold, once every key derivation
 * they ask for is within bounds: an encrypted part's count is checked
 * before it is decrypted, each encrypted key's before PKCS12_parse would
 * derive its key (a count of 2^31 would hold the service for hours).
 */
static enum cw_err
inspect_bags(PKCS12 *p12, const char *pass, size_t *keys)
{
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
	enum cw_err rc = safes ? CW_OK : CW_ERR_PARSE;

	*keys = 0;
	for (int i = 0; rc == CW_OK && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
		int nid = OBJ_obj2nid(p7->type);

		if (nid == NID_pkcs7_encrypted) {
			rc = p7->d.encrypted && p7->d.encrypted->enc_data
				     ? check_iterations(
					       p7->d.encrypted->enc_data
						       ->algorithm,
					       "certificates")
				     : CW_ERR_PARSE;
			if (rc == CW_OK)
				bags = PKCS12_unpack_p7encdata(p7, pass, -1);
		} else if (nid == NID_pkcs7_data) {
			bags = PKCS12_unpack_p7data(p7);
		}
		if (rc == CW_OK && bags != NULL)
			rc = walk_bags(bags, 0, keys);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	if (safes == NULL)
		cw_error("the PKCS#12 file's contents cannot be read");
	sk_PKCS7_pop_free(safes, PKCS7_free);
	ERR_clear_error();
	return rc;
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
	if (rc == CW_OK)
		rc = inspect_bags(p12, pass, &r.n_keys);
	if (rc == CW_OK)
		rc = unpack(p12, pass, &r);
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
