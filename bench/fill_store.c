/*
 * Fills a certwiz store through libcertwiz's own store functions with N
 * distinct certificates (signed by a throwaway CA), each bound to a key
 * row, most for other hosts and a few that fit HOST's usage; the newest
 * fitting one is assigned to USAGE. For benchmarks only.
 *
 * usage: fill_store STORE N HOST USAGE NAME...
 */
#include "certwiz/store.h"
#include "certwiz/x509.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static X509 *
make_cert(EVP_PKEY *key, EVP_PKEY *ca, long serial, const char *san)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)"bench", -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 90L * 86400 + serial);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage,
				"serverAuth,clientAuth");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	X509_sign(x, ca, EVP_sha256());
	return x;
}

static char *
san_of(int argc, char **argv, long i, int fits)
{
	size_t len = 64;
	char *s;

	for (int k = 5; k < argc; k++)
		len += strlen(argv[k]) + 8;
	s = calloc(1, len);
	if (!fits) {
		snprintf(s, len, "DNS:host%ld.other.test", i);
		return s;
	}
	for (int k = 5; k < argc; k++) {
		strcat(s, k > 5 ? ",DNS:" : "DNS:");
		strcat(s, argv[k]);
	}
	return s;
}

int
main(int argc, char **argv)
{
	struct store *s = NULL;
	struct store_token t = { 0, "bench", "bench", "bench", "bench" };
	EVP_PKEY *key, *ca;
	long n, last_fit = 0;
	int64_t token = 0;

	if (argc < 6) {
		fprintf(stderr, "usage: fill_store STORE N HOST USAGE NAME...\n");
		return 2;
	}
	n = atol(argv[2]);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (store_open(argv[1], true, &s) != CW_OK || store_begin(s) != CW_OK ||
	    store_token_ensure(s, &t, &token) != CW_OK)
		return 1;
	for (long i = 1; i <= n; i++) {
		int fits = i % 1000 == 0 || i == n; /* one in a thousand */
		char *san = san_of(argc, argv, i, fits);
		X509 *x = make_cert(key, ca, i, san);
		unsigned char *der = NULL;
		int len = i2d_X509(x, &der);
		struct x509_info info;
		struct store_key k;
		struct store_cert c;
		char cka[32];

		if (x509_info_parse(der, (size_t)len, &info) != CW_OK)
			return 1;
		memset(&k, 0, sizeof(k));
		snprintf(cka, sizeof(cka), "%016lx", i);
		k.token_id = token;
		k.cka_id = cka;
		k.label = "bench";
		k.algorithm = "ec:P-256";
		k.origin = "generated";
		k.state = "generating";
		memset(&c, 0, sizeof(c));
		c.der = info.der;
		c.sha256 = info.sha256;
		c.sha1 = info.sha1;
		c.subject = info.subject;
		c.issuer = info.issuer;
		c.serial = info.serial;
		c.not_before = info.not_before;
		c.not_after = info.not_after;
		c.origin = "imported";
		c.names = info.names;
		c.eku = info.eku;
		c.key_alg = info.key_alg;
		c.token_state = "present";
		if (store_key_add(s, &k) != CW_OK ||
		    store_key_set_ready(s, k.id, &info.spki,
					info.spki_sha256) != CW_OK)
			return 1;
		c.key_id = k.id;
		if (store_cert_add(s, &c) != CW_OK)
			return 1;
		if (fits)
			last_fit = (long)c.id;
		x509_info_release(&info);
		OPENSSL_free(der);
		X509_free(x);
		free(san);
		if (i % 10000 == 0 && (store_commit(s) != CW_OK ||
				       store_begin(s) != CW_OK))
			return 1;
	}
	if (store_assign_now(s, argv[3], argv[4], last_fit, "bench",
			     time(NULL)) != CW_OK ||
	    store_commit(s) != CW_OK)
		return 1;
	store_close(s);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca);
	printf("%ld certificates, certificate %ld assigned to %s\n", n,
	       last_fit, argv[4]);
	return 0;
}
