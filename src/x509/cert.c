/* Certificates: what certwiz records of each. */
#define _DEFAULT_SOURCE
#include "x509_int.h"

#include <openssl/crypto.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

void
x509_info_release(struct x509_info *i)
{
	if (i == NULL)
		return;
	cw_buf_release(&i->der);
	free(i->sha256);
	free(i->sha1);
	free(i->subject);
	free(i->issuer);
	free(i->serial);
	cw_strlist_release(&i->names);
	cw_strlist_release(&i->eku);
	free(i->key_alg);
	cw_buf_release(&i->spki);
	free(i->spki_sha256);
	cw_buf_release(&i->subject_der);
	cw_buf_release(&i->issuer_der);
	cw_buf_release(&i->serial_der);
	memset(i, 0, sizeof(*i));
}

static enum cw_err
asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!ASN1_TIME_to_tm(t, &tm))
		return CW_ERR_PARSE;
	*out = timegm(&tm);
	return CW_OK;
}

enum cw_err
x509_general_names(const GENERAL_NAMES *gens, struct cw_strlist *out)
{
	enum cw_err rc = CW_OK;

	for (int k = 0; gens && k < sk_GENERAL_NAME_num(gens) && !rc; k++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
		char buf[64];

		if (g->type == GEN_DNS) {
			const ASN1_STRING *s = g->d.dNSName;
			char *v = strndup((const char *)ASN1_STRING_get0_data(s),
					  (size_t)ASN1_STRING_length(s));

			rc = v ? cw_strlist_add(out, v) : CW_ERR_NOMEM;
			free(v);
		} else if (g->type == GEN_IPADD) {
			const ASN1_OCTET_STRING *s = g->d.iPAddress;
			int len = ASN1_STRING_length(s);
			const unsigned char *d = ASN1_STRING_get0_data(s);

			if ((len == 4 && inet_ntop(AF_INET, d, buf,
						   sizeof(buf))) ||
			    (len == 16 && inet_ntop(AF_INET6, d, buf,
						    sizeof(buf))))
				rc = cw_strlist_add(out, buf);
		}
	}
	return rc;
}

static enum cw_err
read_names(X509 *x, struct x509_info *i)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
					       NULL);
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL,
						   NULL);
	enum cw_err rc = x509_general_names(gens, &i->names);

	i->has_eku = eku != NULL;
	if (rc == CW_OK)
		rc = x509_eku_list(eku, &i->eku);
	GENERAL_NAMES_free(gens);
	EXTENDED_KEY_USAGE_free(eku);
	return rc;
}

static char *
key_alg(EVP_PKEY *pk)
{
	char group[64];

	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		return cw_printf("rsa:%d", EVP_PKEY_get_bits(pk));
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL))
			return strdup("ec");
		if (strcmp(group, "prime256v1") == 0)
			return strdup("ec:P-256");
		if (strcmp(group, "secp384r1") == 0)
			return strdup("ec:P-384");
		if (strcmp(group, "secp521r1") == 0)
			return strdup("ec:P-521");
		return cw_printf("ec:%s", group);
	default:
		return cw_printf("%s", OBJ_nid2sn(EVP_PKEY_get_base_id(pk)));
	}
}

/* i2d into a buffer; the length must be known before the pointer is read,
 * so each is its own statement. */
static enum cw_err
der_pubkey(X509 *x, struct cw_buf *out)
{
	unsigned char *p = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &p);

	return x509_i2d_buf(len, p, out);
}

static enum cw_err
der_name(const X509_NAME *n, struct cw_buf *out)
{
	unsigned char *p = NULL;
	int len = i2d_X509_NAME(n, &p);

	return x509_i2d_buf(len, p, out);
}

static enum cw_err
der_integer(const ASN1_INTEGER *v, struct cw_buf *out)
{
	unsigned char *p = NULL;
	int len = i2d_ASN1_INTEGER(v, &p);

	return x509_i2d_buf(len, p, out);
}

static enum cw_err
fill(X509 *x, struct x509_info *i)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	EVP_PKEY *pk = X509_get0_pubkey(x);
	enum cw_err rc = CW_ERR_PARSE;

	BN_free(bn);
	if (hex == NULL || pk == NULL)
		goto out;
	i->serial = strdup(hex);
	for (char *c = i->serial; c && *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
	i->sha256 = x509_sha256_hex(i->der.data, i->der.len);
	i->sha1 = x509_sha1_hex(i->der.data, i->der.len);
	i->subject = x509_name_string(X509_get_subject_name(x));
	i->issuer = x509_name_string(X509_get_issuer_name(x));
	i->key_alg = key_alg(pk);
	if (!i->serial || !i->sha256 || !i->sha1 || !i->subject ||
	    !i->issuer || !i->key_alg) {
		rc = CW_ERR_NOMEM;
		goto out;
	}
	if (asn1_time(X509_get0_notBefore(x), &i->not_before) != CW_OK ||
	    asn1_time(X509_get0_notAfter(x), &i->not_after) != CW_OK)
		goto out;
	if ((rc = der_pubkey(x, &i->spki)) != CW_OK ||
	    (rc = der_name(X509_get_subject_name(x), &i->subject_der)) !=
		    CW_OK ||
	    (rc = der_name(X509_get_issuer_name(x), &i->issuer_der)) != CW_OK ||
	    (rc = der_integer(serial, &i->serial_der)) != CW_OK)
		goto out;
	i->spki_sha256 = x509_sha256_hex(i->spki.data, i->spki.len);
	if (i->spki_sha256 == NULL) {
		rc = CW_ERR_NOMEM;
		goto out;
	}
	/* basicConstraints CA:TRUE, whatever the key usage says
	 * (X509_check_ca also wants keyCertSign) */
	i->is_ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
	rc = read_names(x, i);
out:
	OPENSSL_free(hex);
	return rc;
}

enum cw_err
x509_info_parse(const unsigned char *der, size_t n, struct x509_info *out)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)n);
	struct x509_info i;
	enum cw_err rc;

	memset(&i, 0, sizeof(i));
	if (x == NULL || p != der + n) {
		X509_free(x);
		ERR_clear_error();
		cw_error("not a DER certificate");
		return CW_ERR_PARSE;
	}
	rc = cw_buf_set(&i.der, der, n);
	if (rc == CW_OK)
		rc = fill(x, &i);
	X509_free(x);
	if (rc != CW_OK) {
		if (rc == CW_ERR_PARSE)
			cw_error("certificate has fields certwiz cannot read");
		x509_info_release(&i);
		return rc;
	}
	*out = i;
	return CW_OK;
}

void
x509_preload(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
}
