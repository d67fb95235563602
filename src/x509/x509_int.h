/* Internal to src/x509. */
#ifndef CW_X509_INT_H
#define CW_X509_INT_H

#include "certwiz/x509.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

int x509_eku_nid(const char *name);
const char *x509_eku_name(int nid);
/* Appends the names (or dotted OIDs) of eku's purposes to out. */
enum cw_err x509_eku_list(const EXTENDED_KEY_USAGE *eku,
			  struct cw_strlist *out);
bool x509_is_ip(const char *s, unsigned char *out, int *len);
enum cw_err x509_name_parse(const char *dn, X509_NAME **out);
char *x509_name_string(const X509_NAME *name);
/* i2d into a cw_buf. */
enum cw_err x509_i2d_buf(int len, unsigned char *der, struct cw_buf *out);

/* Appends the DNS and IP names of gens (NULL: none) to out. */
enum cw_err x509_general_names(const GENERAL_NAMES *gens,
			       struct cw_strlist *out);

/* Orders sk (which it does not free) into a bundle, leaf first. */
enum cw_err x509_bundle_from_stack(STACK_OF(X509) *sk, struct x509_bundle *out);

#endif
