/* Public keys and certificate signing requests. */
#include "x509_int.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

enum cw_err
x509_i2d_buf(int len, unsigned char *der, struct cw_buf *out)
{
	enum cw_err rc;

	if (len <= 0 || der == NULL) {
		cw_error_openssl("DER encoding");
		return CW_ERR_CRYPTO;
	}
	rc = cw_buf_set(out, der, (size_t)len);
	OPENSSL_free(der);
	return rc;
}

static char *
digest_hex(const EVP_MD *md, const void *p, size_t n)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!EVP_Digest(p, n, d, &len, md, NULL))
		return NULL;
	return cw_hex(d, len);
}

static enum cw_err
digest(const EVP_MD *md, const void *p, size_t n, unsigned char *out,
       unsigned int want)
{
	unsigned int len = 0;

	return EVP_Digest(p, n, out, &len, md, NULL) && len == want
		       ? CW_OK
		       : CW_ERR_CRYPTO;
}

enum cw_err
x509_sha256(const void *p, size_t n, unsigned char out[32])
{
	return digest(EVP_sha256(), p, n, out, 32);
}

enum cw_err
x509_sha384(const void *p, size_t n, unsigned char out[48])
{
	return digest(EVP_sha384(), p, n, out, 48);
}

enum cw_err
x509_verify_sha256(const struct cw_buf *spki, const void *msg, size_t n,
		   const struct cw_buf *sig)
{
	const unsigned char *q = spki->data;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &q, (long)spki->len);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = k != NULL && md != NULL &&
		 EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
		 EVP_DigestVerify(md, sig->data, sig->len, msg, n) == 1;

	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok ? CW_OK : CW_ERR_CRYPTO;
}

char *
x509_sha256_hex(const void *p, size_t n)
{
	return digest_hex(EVP_sha256(), p, n);
}

char *
x509_sha1_hex(const void *p, size_t n)
{
	return digest_hex(EVP_sha1(), p, n);
}

enum cw_err
x509_spki_from_pubkey(const struct cw_pubkey *k, struct cw_buf *spki)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *der = NULL;
	struct cw_keyspec spec;
	enum cw_err rc = CW_ERR_CRYPTO;
	int len;

	if (bld == NULL)
		return CW_ERR_NOMEM;
	if (k->type == CW_KEY_EC) {
		if (cw_keyspec_from_ec_params(k->ec_params.data,
					      k->ec_params.len,
					      &spec) != CW_OK) {
			cw_error("unsupported EC curve");
			rc = CW_ERR_POLICY;
			goto out;
		}
		if (!OSSL_PARAM_BLD_push_utf8_string(
			    bld, OSSL_PKEY_PARAM_GROUP_NAME,
			    spec.bits == 256 ? "prime256v1" : "secp384r1", 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(
			    bld, OSSL_PKEY_PARAM_PUB_KEY, k->ec_point.data,
			    k->ec_point.len))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	} else {
		n = BN_bin2bn(k->modulus.data, (int)k->modulus.len, NULL);
		e = BN_bin2bn(k->exponent.data, (int)k->exponent.len, NULL);
		if (n == NULL || e == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	if (ctx == NULL || params == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		cw_error_openssl("public key from token");
		goto out;
	}
	len = i2d_PUBKEY(pkey, &der);
	rc = x509_i2d_buf(len, der, spki);
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return rc;
}

struct x509_csr {
	X509_REQ *req;
	EVP_PKEY *pub;
	enum cw_sigalg alg;
	struct cw_buf tbs;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len;
};

void
x509_csr_free(struct x509_csr *csr)
{
	if (csr == NULL)
		return;
	X509_REQ_free(csr->req);
	EVP_PKEY_free(csr->pub);
	cw_buf_release(&csr->tbs);
	free(csr);
}

static int
push_ext(STACK_OF(X509_EXTENSION) *exts, int nid, int crit, void *value)
{
	X509_EXTENSION *ext = X509V3_EXT_i2d(nid, crit, value);

	if (ext == NULL)
		return 0;
	if (!sk_X509_EXTENSION_push(exts, ext)) {
		X509_EXTENSION_free(ext);
		return 0;
	}
	return 1;
}

static enum cw_err
add_san(STACK_OF(X509_EXTENSION) *exts, const struct cw_strlist *names)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	enum cw_err rc = CW_ERR_CRYPTO;

	if (gens == NULL)
		return CW_ERR_NOMEM;
	for (size_t i = 0; i < names->n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		unsigned char ip[16];
		int iplen;

		if (g == NULL)
			goto out;
		if (x509_is_ip(names->v[i], ip, &iplen)) {
			ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();

			if (os == NULL || !ASN1_OCTET_STRING_set(os, ip, iplen)) {
				ASN1_OCTET_STRING_free(os);
				GENERAL_NAME_free(g);
				goto out;
			}
			GENERAL_NAME_set0_value(g, GEN_IPADD, os);
		} else {
			ASN1_IA5STRING *s = ASN1_IA5STRING_new();

			if (s == NULL ||
			    !ASN1_STRING_set(s, names->v[i], -1)) {
				ASN1_IA5STRING_free(s);
				GENERAL_NAME_free(g);
				goto out;
			}
			GENERAL_NAME_set0_value(g, GEN_DNS, s);
		}
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	if (push_ext(exts, NID_subject_alt_name, 0, gens))
		rc = CW_OK;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

static enum cw_err
add_eku(STACK_OF(X509_EXTENSION) *exts, const struct cw_strlist *eku)
{
	EXTENDED_KEY_USAGE *e = sk_ASN1_OBJECT_new_null();
	enum cw_err rc = CW_ERR_CRYPTO;

	if (e == NULL)
		return CW_ERR_NOMEM;
	for (size_t i = 0; i < eku->n; i++) {
		int nid = x509_eku_nid(eku->v[i]);

		if (nid == NID_undef) {
			cw_error("unknown extended key usage '%s'", eku->v[i]);
			rc = CW_ERR_USAGE;
			goto out;
		}
		if (!sk_ASN1_OBJECT_push(e, OBJ_nid2obj(nid)))
			goto out;
	}
	if (push_ext(exts, NID_ext_key_usage, 0, e))
		rc = CW_OK;
out:
	sk_ASN1_OBJECT_free(e); /* OBJ_nid2obj objects are static */
	return rc;
}

static enum cw_err
add_key_usage(STACK_OF(X509_EXTENSION) *exts, bool rsa)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	int ok;

	if (ku == NULL)
		return CW_ERR_NOMEM;
	ok = ASN1_BIT_STRING_set_bit(ku, 0, 1) && /* digitalSignature */
	     (!rsa || ASN1_BIT_STRING_set_bit(ku, 2, 1)) && /* keyEnciph. */
	     push_ext(exts, NID_key_usage, 1, ku);
	ASN1_BIT_STRING_free(ku);
	return ok ? CW_OK : CW_ERR_CRYPTO;
}

static enum cw_err
build_req(struct x509_csr *c, const struct x509_csr_params *p)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_NAME *name = NULL;
	X509_ALGOR *alg = X509_ALGOR_new();
	const unsigned char *q = p->spki->data;
	bool rsa = p->alg == CW_SIG_RSA_PKCS1_SHA256;
	int nid = rsa ? NID_sha256WithRSAEncryption
		      : p->alg == CW_SIG_ECDSA_SHA384 ? NID_ecdsa_with_SHA384
						      : NID_ecdsa_with_SHA256;
	enum cw_err rc;

	if (exts == NULL || alg == NULL) {
		rc = CW_ERR_NOMEM;
		goto out;
	}
	rc = x509_name_parse(p->subject, &name);
	if (rc != CW_OK)
		goto out;
	rc = CW_ERR_CRYPTO;
	c->pub = d2i_PUBKEY(NULL, &q, (long)p->spki->len);
	if (c->pub == NULL || !X509_REQ_set_version(c->req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(c->req, name) ||
	    !X509_REQ_set_pubkey(c->req, c->pub))
		goto out;
	if ((p->names->n > 0 && (rc = add_san(exts, p->names)) != CW_OK) ||
	    (p->eku->n > 0 && (rc = add_eku(exts, p->eku)) != CW_OK) ||
	    (rc = add_key_usage(exts, rsa)) != CW_OK)
		goto out;
	rc = CW_ERR_CRYPTO;
	/* BR 7.1.3.2: NULL parameters for RSA, absent for ECDSA. */
	if (!X509_REQ_add_extensions(c->req, exts) ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(nid),
			     rsa ? V_ASN1_NULL : V_ASN1_UNDEF, NULL) ||
	    !X509_REQ_set1_signature_algo(c->req, alg))
		goto out;
	rc = CW_OK;
out:
	if (rc == CW_ERR_CRYPTO)
		cw_error_openssl("building the CSR");
	X509_ALGOR_free(alg);
	X509_NAME_free(name);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

enum cw_err
x509_csr_prepare(const struct x509_csr_params *p, struct x509_csr **out,
		 struct cw_sign_req *req)
{
	struct x509_csr *c = calloc(1, sizeof(*c));
	unsigned char *tbs = NULL;
	const EVP_MD *md;
	enum cw_err rc;
	int len;

	if (c == NULL)
		return CW_ERR_NOMEM;
	for (size_t i = 0; i < p->names->n; i++)
		if ((rc = x509_check_name(p->names->v[i])) != CW_OK)
			goto out;
	c->alg = p->alg;
	c->req = X509_REQ_new();
	if (c->req == NULL) {
		rc = CW_ERR_NOMEM;
		goto out;
	}
	rc = build_req(c, p);
	if (rc != CW_OK)
		goto out;
	len = i2d_re_X509_REQ_tbs(c->req, &tbs);
	rc = x509_i2d_buf(len, tbs, &c->tbs);
	if (rc != CW_OK)
		goto out;
	md = p->alg == CW_SIG_ECDSA_SHA384 ? EVP_sha384() : EVP_sha256();
	if (!EVP_Digest(c->tbs.data, c->tbs.len, c->digest, &c->digest_len, md,
			NULL)) {
		cw_error_openssl("digest of the CSR");
		rc = CW_ERR_CRYPTO;
		goto out;
	}
	req->alg = p->alg;
	req->data = c->tbs.data;
	req->len = c->tbs.len;
	req->digest = c->digest;
	req->digest_len = c->digest_len;
	*out = c;
	c = NULL;
	rc = CW_OK;
out:
	x509_csr_free(c);
	return rc;
}

/* Raw r||s (PKCS#11 ECDSA) to the DER ECDSA-Sig-Value X.509 wants. */
enum cw_err
x509_ecdsa_raw_to_der(const struct cw_buf *raw, struct cw_buf *der)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *p = NULL;
	size_t half = raw->len / 2;
	int len;

	if (sig == NULL)
		return CW_ERR_NOMEM;
	if (raw->len == 0 || raw->len % 2 != 0) {
		ECDSA_SIG_free(sig);
		cw_error("the token returned an ECDSA signature of odd length");
		return CW_ERR_CRYPTO;
	}
	r = BN_bin2bn(raw->data, (int)half, NULL);
	s = BN_bin2bn(raw->data + half, (int)half, NULL);
	if (r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return CW_ERR_NOMEM;
	}
	len = i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	return x509_i2d_buf(len, p, der);
}

enum cw_err
x509_csr_finish(struct x509_csr *c, const struct cw_buf *sig,
		struct cw_buf *der)
{
	struct cw_buf encoded;
	ASN1_BIT_STRING *bits = NULL;
	unsigned char *p = NULL;
	enum cw_err rc;
	int len;

	cw_buf_init(&encoded);
	if (c->alg == CW_SIG_RSA_PKCS1_SHA256)
		rc = cw_buf_set(&encoded, sig->data, sig->len);
	else
		rc = x509_ecdsa_raw_to_der(sig, &encoded);
	if (rc != CW_OK)
		goto out;
	bits = ASN1_BIT_STRING_new();
	if (bits == NULL ||
	    !ASN1_BIT_STRING_set(bits, encoded.data, (int)encoded.len)) {
		ASN1_BIT_STRING_free(bits);
		rc = CW_ERR_NOMEM;
		goto out;
	}
	bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	X509_REQ_set0_signature(c->req, bits);
	/* Proof of possession: the token's signature must verify with the
	 * public key read from the token. */
	if (X509_REQ_verify(c->req, c->pub) != 1) {
		cw_error_openssl("the token's signature on the CSR does not "
				 "verify");
		rc = CW_ERR_CRYPTO;
		goto out;
	}
	len = i2d_X509_REQ(c->req, &p);
	rc = x509_i2d_buf(len, p, der);
out:
	cw_buf_release(&encoded);
	return rc;
}

enum cw_err
x509_pem(const char *label, const struct cw_buf *der, struct cw_buf *pem)
{
	BIO *bio = BIO_new(BIO_s_mem());
	enum cw_err rc = CW_ERR_CRYPTO;
	char *p;
	long n;

	if (bio == NULL)
		return CW_ERR_NOMEM;
	if (PEM_write_bio(bio, label, "", der->data, (long)der->len) > 0) {
		n = BIO_get_mem_data(bio, &p);
		rc = cw_buf_set(pem, p, (size_t)n);
	}
	BIO_free(bio);
	return rc;
}

enum cw_err
x509_csr_check(const struct cw_buf *der, struct cw_buf *spki)
{
	const unsigned char *p = der->data;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)der->len);
	EVP_PKEY *pub = req ? X509_REQ_get0_pubkey(req) : NULL;
	unsigned char *out = NULL;
	enum cw_err rc = CW_ERR_PARSE;
	int len;

	if (req != NULL && p == der->data + der->len && pub != NULL &&
	    X509_REQ_verify(req, pub) == 1) {
		len = i2d_PUBKEY(pub, &out);
		rc = x509_i2d_buf(len, out, spki);
	} else {
		cw_error("the CSR is malformed or its signature does not verify");
	}
	ERR_clear_error();
	X509_REQ_free(req);
	return rc;
}

enum cw_err
x509_csr_names(const struct cw_buf *der, struct cw_strlist *names,
	       struct cw_strlist *eku)
{
	const unsigned char *p = der->data;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)der->len);
	STACK_OF(X509_EXTENSION) *exts = req ? X509_REQ_get_extensions(req)
					     : NULL;
	GENERAL_NAMES *gens = exts ? X509V3_get_d2i(exts, NID_subject_alt_name,
						    NULL, NULL)
				   : NULL;
	EXTENDED_KEY_USAGE *e = exts && eku ? X509V3_get_d2i(exts,
							    NID_ext_key_usage,
							    NULL, NULL)
					    : NULL;
	enum cw_err rc = CW_ERR_PARSE;

	if (req == NULL || p != der->data + der->len)
		cw_error("the stored CSR is malformed");
	else
		rc = x509_general_names(gens, names);
	if (rc == CW_OK && eku != NULL)
		rc = x509_eku_list(e, eku);
	GENERAL_NAMES_free(gens);
	EXTENDED_KEY_USAGE_free(e);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	ERR_clear_error();
	return rc;
}
