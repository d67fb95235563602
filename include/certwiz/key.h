/* certwiz: key specifications and the plain key types shared by layers. */
#ifndef CW_KEY_H
#define CW_KEY_H

#include "certwiz/err.h"
#include "certwiz/util.h"

#include <stdbool.h>
#include <stddef.h>

enum cw_key_type { CW_KEY_EC = 1, CW_KEY_RSA };

/*
 * A key specification: "ec:P-256", "ec:P-384", "rsa:2048", "rsa:3072",
 * "rsa:4096". ec_params is the DER OID of the curve (static storage).
 */
struct cw_keyspec {
	enum cw_key_type type;
	unsigned bits;
	const char *name; /* canonical spelling, static */
	const unsigned char *ec_params;
	size_t ec_params_len;
};

/*
 * Parses and checks a key spec against certwiz's policy: RSA 2048, 3072 or
 * 4096 with e=65537, EC P-256 or P-384. CW_ERR_POLICY with a message that
 * says what is allowed.
 */
enum cw_err cw_keyspec_parse(const char *s, struct cw_keyspec *out);

/* The spec for a curve given by its DER OID; CW_ERR_NOT_FOUND otherwise. */
enum cw_err cw_keyspec_from_ec_params(const unsigned char *p, size_t n,
				      struct cw_keyspec *out);

/*
 * A public key as the token holds it, in plain bytes. For EC: ec_params
 * (DER OID) and ec_point (the uncompressed point, not wrapped in an OCTET
 * STRING). For RSA: modulus and exponent, big-endian.
 */
struct cw_pubkey {
	enum cw_key_type type;
	struct cw_buf ec_params;
	struct cw_buf ec_point;
	struct cw_buf modulus;
	struct cw_buf exponent;
};

void cw_pubkey_init(struct cw_pubkey *k);
void cw_pubkey_release(struct cw_pubkey *k);

/*
 * A private key on its way from a PKCS#12 file into a token, in plain
 * bytes; cw_privkey_release wipes every buffer. EC: ec_params, ec_value
 * (the scalar) and ec_point; RSA: all CRT components.
 */
struct cw_privkey {
	enum cw_key_type type;
	struct cw_buf ec_params, ec_value, ec_point;
	struct cw_buf n, e, d, p, q, dp, dq, qinv;
};

void cw_privkey_init(struct cw_privkey *k);
void cw_privkey_release(struct cw_privkey *k);

/* Signature algorithms certwiz produces. */
enum cw_sigalg {
	CW_SIG_ECDSA_SHA256 = 1,
	CW_SIG_ECDSA_SHA384,
	CW_SIG_RSA_PKCS1_SHA256,
};

/* The algorithm used for a key: P-384 with SHA-384, else SHA-256. */
enum cw_sigalg cw_sigalg_for(const struct cw_keyspec *spec);

/*
 * What the token is asked to sign: the data and, computed on the host, its
 * digest (for tokens without a combined hash-and-sign mechanism). ECDSA
 * signatures come back as raw r||s; RSA as the PKCS#1 v1.5 block.
 */
struct cw_sign_req {
	enum cw_sigalg alg;
	const unsigned char *data;
	size_t len;
	const unsigned char *digest;
	size_t digest_len;
};

/* Whether an extended key usage name is one certwiz knows: serverAuth,
 * clientAuth, codeSigning, emailProtection, timeStamping, OCSPSigning. */
bool cw_eku_known(const char *name);

#endif
