/* CA responses: certificates in PEM, DER or PKCS#7, in any order. */
#include "x509_int.h"

#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <stdlib.h>
#include <string.h>

void
x509_bundle_release(struct x509_bundle *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++)
		cw_buf_release(&b->certs[i]);
	free(b->certs);
	b->certs = NULL;
	b->n = 0;
}

static enum cw_err
push(STACK_OF(X509) *sk, X509 *x)
{
	if (sk_X509_num(sk) >= X509_MAX_CERTS) {
		X509_free(x);
		cw_error("the response holds more than %d certificates",
			 X509_MAX_CERTS);
		return CW_ERR_PARSE;
	}
	if (!sk_X509_push(sk, x)) {
		X509_free(x);
		return CW_ERR_NOMEM;
	}
	return CW_OK;
}

static enum cw_err
from_pkcs7(PKCS7 *p7, STACK_OF(X509) *sk)
{
	STACK_OF(X509) *certs = NULL;

	if (p7 == NULL) {
		cw_error("malformed PKCS#7");
		return CW_ERR_PARSE;
	}
	if (OBJ_obj2nid(p7->type) == NID_pkcs7_signed && p7->d.sign != NULL)
		certs = p7->d.sign->cert;
	else if (OBJ_obj2nid(p7->type) == NID_pkcs7_signedAndEnveloped &&
		 p7->d.signed_and_enveloped != NULL)
		certs = p7->d.signed_and_enveloped->cert;
	for (int i = 0; certs && i < sk_X509_num(certs); i++) {
		X509 *x = X509_dup(sk_X509_value(certs, i));
		enum cw_err rc = x ? push(sk, x) : CW_ERR_NOMEM;

		if (rc != CW_OK)
			return rc;
	}
	return CW_OK;
}

/* A DER certificate or DER PKCS#7 that fills the whole input. */
static enum cw_err
parse_der(const unsigned char *data, size_t n, STACK_OF(X509) *sk)
{
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)n);
	PKCS7 *p7;
	enum cw_err rc;

	if (x != NULL && p == data + n)
		return push(sk, x);
	X509_free(x);
	p = data;
	p7 = d2i_PKCS7(NULL, &p, (long)n);
	if (p7 != NULL && p == data + n) {
		rc = from_pkcs7(p7, sk);
		PKCS7_free(p7);
		return rc;
	}
	PKCS7_free(p7);
	ERR_clear_error();
	cw_error("the response is neither a certificate nor PKCS#7 (PEM or "
		 "DER), or it is truncated");
	return CW_ERR_PARSE;
}

static enum cw_err
parse_pem_block(const char *name, const unsigned char *der, long len,
		STACK_OF(X509) *sk)
{
	const unsigned char *p = der;

	if (!strcmp(name, "CERTIFICATE") || !strcmp(name, "X509 CERTIFICATE")) {
		X509 *x = d2i_X509(NULL, &p, len);

		if (x == NULL || p != der + len) {
			X509_free(x);
			cw_error("a PEM certificate in the response is "
				 "malformed");
			return CW_ERR_PARSE;
		}
		return push(sk, x);
	}
	if (!strcmp(name, "PKCS7") || !strcmp(name, "CERTIFICATE CHAIN")) {
		PKCS7 *p7 = d2i_PKCS7(NULL, &p, len);
		enum cw_err rc = from_pkcs7(p7, sk);

		PKCS7_free(p7);
		return rc;
	}
	if (strstr(name, "REQUEST") != NULL) {
		cw_error("the file is a certificate request, not a CA response");
		return CW_ERR_PARSE;
	}
	if (strstr(name, "PRIVATE KEY") != NULL) {
		cw_error("the file holds a private key; certwiz imports keys "
			 "only from PKCS#12");
		return CW_ERR_PARSE;
	}
	cw_warn("ignoring PEM block '%s'", name);
	return CW_OK;
}

static size_t
count(const unsigned char *data, size_t n, const char *marker)
{
	size_t m = strlen(marker), c = 0;

	for (size_t i = 0; i + m <= n; i++)
		if (data[i] == '-' && memcmp(data + i, marker, m) == 0)
			c++;
	return c;
}

static enum cw_err
parse_pem(const unsigned char *data, size_t n, STACK_OF(X509) *sk)
{
	BIO *bio;
	enum cw_err rc = CW_OK;

	/* A block cut short (a response truncated in transit) must not pass
	 * for a shorter chain. */
	if (count(data, n, "-----BEGIN ") != count(data, n, "-----END ")) {
		cw_error("the response is truncated: a PEM block has no end "
			 "line");
		return CW_ERR_PARSE;
	}
	bio = BIO_new_mem_buf(data, (int)n);
	if (bio == NULL)
		return CW_ERR_NOMEM;
	while (rc == CW_OK) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long len = 0;

		if (!PEM_read_bio(bio, &name, &header, &der, &len)) {
			unsigned long e = ERR_peek_last_error();

			if (ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
				cw_error("malformed PEM in the response");
				rc = CW_ERR_PARSE;
			}
			ERR_clear_error();
			break;
		}
		rc = parse_pem_block(name, der, len, sk);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
	}
	BIO_free(bio);
	return rc;
}

/* Whether x issued another certificate of sk. */
static bool
issues_another(STACK_OF(X509) *sk, X509 *x)
{
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *y = sk_X509_value(sk, i);

		if (y != x && X509_check_issued(x, y) == X509_V_OK)
			return true;
	}
	return false;
}

static int
find_leaf(STACK_OF(X509) *sk)
{
	int leaf = -1, count = 0, ee = -1, ee_count = 0;

	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);

		if (issues_another(sk, x))
			continue;
		count++;
		leaf = i;
		if (!X509_check_ca(x)) {
			ee_count++;
			ee = i;
		}
	}
	if (count == 1)
		return leaf;
	if (ee_count == 1)
		return ee;
	return -1;
}

/* Appends a copy of n bytes of DER as the next certificate of b. */
static enum cw_err
bundle_append(struct x509_bundle *b, const unsigned char *p, size_t n)
{
	struct cw_buf *v = realloc(b->certs, (b->n + 1) * sizeof(*v));

	if (v == NULL)
		return CW_ERR_NOMEM;
	b->certs = v;
	cw_buf_init(&v[b->n]);
	b->n++;
	return cw_buf_set(&v[b->n - 1], p, n);
}

static enum cw_err
add_der(struct x509_bundle *b, X509 *x)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	enum cw_err rc;

	if (len <= 0)
		return CW_ERR_CRYPTO;
	rc = bundle_append(b, der, (size_t)len);
	OPENSSL_free(der);
	return rc;
}

/* Leaf first, then each issuer found in sk; with warn, says how many
 * certificates belong to no chain of the leaf. */
static enum cw_err
order_chain(STACK_OF(X509) *sk, int leaf, bool warn, struct x509_bundle *b)
{
	X509 *cur = sk_X509_value(sk, leaf);
	size_t used = 1;
	enum cw_err rc = add_der(b, cur);

	while (rc == CW_OK && X509_check_issued(cur, cur) != X509_V_OK) {
		X509 *next = NULL;

		for (int i = 0; i < sk_X509_num(sk) && !next; i++) {
			X509 *y = sk_X509_value(sk, i);

			if (y != cur && X509_check_issued(y, cur) == X509_V_OK)
				next = y;
		}
		if (next == NULL || used >= (size_t)sk_X509_num(sk))
			break;
		cur = next;
		used++;
		rc = add_der(b, cur);
	}
	if (rc == CW_OK && warn && used < (size_t)sk_X509_num(sk))
		cw_warn("%zu certificate(s) in the response are not in the "
			"leaf's chain and are ignored",
			(size_t)sk_X509_num(sk) - used);
	return rc;
}

static bool
looks_pem(const unsigned char *data, size_t n)
{
	const char *marker = "-----BEGIN ";
	size_t m = strlen(marker);

	for (size_t i = 0; i + m <= n && i < 4096; i++)
		if (memcmp(data + i, marker, m) == 0)
			return true;
	return false;
}

enum cw_err
x509_bundle_parse(const unsigned char *data, size_t n,
		  struct x509_bundle *out)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	struct x509_bundle b = { NULL, 0 };
	enum cw_err rc;

	if (sk == NULL)
		return CW_ERR_NOMEM;
	if (n == 0 || n > X509_MAX_RESPONSE) {
		cw_error("the response is empty or larger than %d bytes",
			 X509_MAX_RESPONSE);
		rc = CW_ERR_PARSE;
		goto out;
	}
	rc = looks_pem(data, n) ? parse_pem(data, n, sk)
				: parse_der(data, n, sk);
	if (rc != CW_OK)
		goto out;
	rc = x509_bundle_from_stack(sk, &b);
	if (rc != CW_OK)
		goto out;
	*out = b;
	b.certs = NULL;
	b.n = 0;
out:
	ERR_clear_error();
	x509_bundle_release(&b);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

enum cw_err
x509_bundle_from_stack(STACK_OF(X509) *sk, struct x509_bundle *out)
{
	struct x509_bundle b = { NULL, 0 };
	enum cw_err rc;
	int leaf;

	if (sk_X509_num(sk) == 0) {
		cw_error("the response contains no certificate");
		return CW_ERR_PARSE;
	}
	leaf = find_leaf(sk);
	if (leaf < 0) {
		cw_error("the response holds several end-entity certificates; "
			 "import them one at a time");
		return CW_ERR_AMBIGUOUS;
	}
	rc = order_chain(sk, leaf, true, &b);
	if (rc != CW_OK) {
		x509_bundle_release(&b);
		return rc;
	}
	*out = b;
	return CW_OK;
}

/* DER into a new X509 pushed onto sk. */
static enum cw_err
push_der(STACK_OF(X509) *sk, const struct cw_buf *der)
{
	const unsigned char *p = der->data;
	X509 *x = d2i_X509(NULL, &p, (long)der->len);

	if (x == NULL) {
		ERR_clear_error();
		cw_error("a stored certificate is malformed");
		return CW_ERR_PARSE;
	}
	return push(sk, x);
}

enum cw_err
x509_chain_build(const struct cw_buf *leaf, const struct cw_buf *certs,
		 size_t n, struct x509_bundle *out)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	struct x509_bundle b = { NULL, 0 };
	enum cw_err rc = sk ? push_der(sk, leaf) : CW_ERR_NOMEM;

	for (size_t i = 0; rc == CW_OK && i < n; i++)
		rc = push_der(sk, &certs[i]);
	if (rc == CW_OK)
		rc = order_chain(sk, 0, false, &b);
	if (rc == CW_OK) {
		/* issuers only */
		cw_buf_release(&b.certs[0]);
		memmove(b.certs, b.certs + 1, (b.n - 1) * sizeof(b.certs[0]));
		b.n--;
		*out = b;
	} else {
		x509_bundle_release(&b);
	}
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

enum cw_err
x509_chain_join(const struct cw_buf *certs, size_t n, struct cw_buf *out)
{
	struct cw_buf b;

	cw_buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		if (cw_buf_append(&b, certs[i].data, certs[i].len) != CW_OK) {
			cw_buf_release(&b);
			return CW_ERR_NOMEM;
		}
	}
	cw_buf_release(out);
	*out = b;
	return CW_OK;
}

enum cw_err
x509_chain_split(const unsigned char *p, size_t n, struct x509_bundle *out)
{
	struct x509_bundle b = { NULL, 0 };
	const unsigned char *end = p + n;

	while (p < end) {
		const unsigned char *start = p;
		X509 *x = d2i_X509(NULL, &p, (long)(end - p));
		enum cw_err rc;

		if (x == NULL) {
			ERR_clear_error();
			x509_bundle_release(&b);
			return CW_ERR_PARSE;
		}
		X509_free(x);
		rc = bundle_append(&b, start, (size_t)(p - start));
		if (rc != CW_OK) {
			x509_bundle_release(&b);
			return rc;
		}
	}
	*out = b;
	return CW_OK;
}
