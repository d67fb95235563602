/* Test helper: certificates made in memory with OpenSSL. */
#ifndef CW_TEST_CERTGEN_H
#define CW_TEST_CERTGEN_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>

/* A fresh P-256 key. */
EVP_PKEY *tg_key(void);
/* A certificate for subject signed by issuer_key (self-signed when issuer
 * is NULL); ca sets basicConstraints CA:TRUE; days may be negative. */
X509 *tg_cert(const char *cn, EVP_PKEY *key, X509 *issuer,
	      EVP_PKEY *issuer_key, bool ca, int days);
/* DER of a certificate; caller frees with OPENSSL_free. */
int tg_der(X509 *x, unsigned char **out);

#endif
