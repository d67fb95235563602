/* certwiz: X.509, CSRs and CA responses (OpenSSL only; no PKCS#11). */
#ifndef CW_X509_H
#define CW_X509_H

#include "certwiz/err.h"
#include "certwiz/key.h"
#include "certwiz/secret.h"
#include "certwiz/util.h"

#include <stdbool.h>
#include <time.h>

/* Largest CA response accepted, and most certificates in one. */
#define X509_MAX_RESPONSE (1024 * 1024)
#define X509_MAX_CERTS 16

/* The DER SubjectPublicKeyInfo of a token public key. */
enum cw_err x509_spki_from_pubkey(const struct cw_pubkey *k,
				  struct cw_buf *spki);

/* The token-shaped public key of a DER SubjectPublicKeyInfo (EC P-256 or
 * P-384, RSA); CW_ERR_POLICY for other keys. */
enum cw_err x509_pubkey_from_spki(const struct cw_buf *spki,
				  struct cw_pubkey *out);

/* SHA-256 of bytes into out. */
enum cw_err x509_sha256(const void *p, size_t n, unsigned char out[32]);
enum cw_err x509_sha384(const void *p, size_t n, unsigned char out[48]);

/* Raw r||s (PKCS#11 ECDSA) to DER ECDSA-Sig-Value. */
enum cw_err x509_ecdsa_raw_to_der(const struct cw_buf *raw, struct cw_buf *der);

/* Verifies a DER ECDSA/RSA signature over msg (SHA-256) with spki. */
enum cw_err x509_verify_sha256(const struct cw_buf *spki, const void *msg,
			       size_t n, const struct cw_buf *sig);

/* Lowercase hex SHA-256 / SHA-1 of bytes; caller frees. */
char *x509_sha256_hex(const void *p, size_t n);
char *x509_sha1_hex(const void *p, size_t n);

/*
 * Checks a subject ("CN=a,O=b", RFC 4514 order) and names (DNS names,
 * wildcards "*.x", IPv4/IPv6 addresses). CW_ERR_USAGE with the reason.
 */
enum cw_err x509_check_subject(const char *subject);
enum cw_err x509_check_name(const char *name);
/* Whether an EKU name is known (serverAuth, clientAuth, codeSigning,
 * emailProtection, timeStamping, OCSPSigning). */
bool x509_eku_known(const char *eku);

/*
 * A CSR in two steps, so that the token signs it without x509/ knowing
 * PKCS#11: x509_csr_prepare builds the request and fills req with what must
 * be signed (pointers into the draft, valid until x509_csr_free);
 * x509_csr_finish takes the signature (raw r||s for ECDSA), checks it
 * against the public key and returns the DER CSR.
 */
struct x509_csr;

struct x509_csr_params {
	const char *subject;
	const struct cw_strlist *names;
	const struct cw_strlist *eku;
	const struct cw_buf *spki;
	enum cw_sigalg alg;
};

enum cw_err x509_csr_prepare(const struct x509_csr_params *p,
			     struct x509_csr **out, struct cw_sign_req *req);
enum cw_err x509_csr_finish(struct x509_csr *csr, const struct cw_buf *sig,
			    struct cw_buf *der);
void x509_csr_free(struct x509_csr *csr);

/* Checks a DER CSR's self-signature and returns its public key (SPKI). */
enum cw_err x509_csr_check(const struct cw_buf *der, struct cw_buf *spki);
/* The subjectAltNames (DNS, IP) a CSR asks for and, when eku is not NULL,
 * its extended key usages. */
enum cw_err x509_csr_names(const struct cw_buf *der, struct cw_strlist *names,
			   struct cw_strlist *eku);

/* PEM armour of DER with the given label ("CERTIFICATE REQUEST"). */
enum cw_err x509_pem(const char *label, const struct cw_buf *der,
		     struct cw_buf *pem);

/* What certwiz needs to know of a certificate. All owned by the struct. */
struct x509_info {
	struct cw_buf der;
	char *sha256;        /* thumbprint, lowercase hex */
	char *sha1;
	char *subject;       /* RFC 2253 */
	char *issuer;
	char *serial;        /* lowercase hex */
	time_t not_before;
	time_t not_after;
	struct cw_strlist names; /* DNS and IP subjectAltNames */
	struct cw_strlist eku;
	bool has_eku;        /* false: no EKU extension (any purpose) */
	char *key_alg;       /* "ec:P-256", "rsa:2048", ... */
	struct cw_buf spki;
	char *spki_sha256;
	struct cw_buf subject_der;
	struct cw_buf issuer_der;
	struct cw_buf serial_der; /* DER INTEGER, for CKA_SERIAL_NUMBER */
	bool is_ca;          /* basicConstraints CA:TRUE */
};

enum cw_err x509_info_parse(const unsigned char *der, size_t n,
			    struct x509_info *out);
void x509_info_release(struct x509_info *info);

/*
 * A CA response: PEM (certificates and/or PKCS#7), DER certificate, or DER
 * PKCS#7, certificates in any order. certs[0] is the leaf, followed by its
 * issuers as far as the bundle holds them; certificates that belong to no
 * chain of the leaf are dropped with a warning. CW_ERR_PARSE for garbage,
 * truncated DER, a CSR or key given by mistake, or no certificate at all;
 * CW_ERR_AMBIGUOUS when several end-entity certificates are present.
 */
struct x509_bundle {
	struct cw_buf *certs;
	size_t n;
};

enum cw_err x509_bundle_parse(const unsigned char *data, size_t n,
			      struct x509_bundle *out);
void x509_bundle_release(struct x509_bundle *b);

/*
 * Verifies leaf (DER) through the untrusted issuers chain to the trust
 * anchors in the PEM files anchors (one or more), at time at (or, with
 * X509_ANY_TIME, without looking at validity periods). CW_ERR_CRYPTO
 * with OpenSSL's reason on failure; CW_ERR_NOT_FOUND when an issuer is
 * missing (neither in chain nor an anchor: the chain is incomplete);
 * CW_ERR_CONFIG when an anchors file cannot be read or none is given.
 */
#define X509_ANY_TIME ((time_t)-1)
enum cw_err x509_verify_chain(const struct cw_buf *leaf,
			      const struct x509_bundle *chain,
			      const struct cw_strlist *anchors, time_t at);

/* Whether cert name pattern (possibly "*.example.test") covers name. */
bool x509_name_covers(const char *pattern, const char *name);

/* Whether data is a DER PKCS#12 (PFX) structure. */
bool x509_is_pkcs12(const unsigned char *data, size_t n);

/*
 * A PKCS#12 file: its certificates (leaf first, as x509_bundle_parse
 * orders them), its private key in plain bytes (wiped by
 * x509_p12_release) and how many keys it holds. CW_ERR_CRYPTO for a wrong
 * password, CW_ERR_PARSE for a malformed file, CW_ERR_POLICY for a key
 * type certwiz does not take or a key that is not the leaf's.
 */
struct x509_p12 {
	struct x509_bundle certs;
	struct cw_privkey key;
	size_t n_keys;
};

enum cw_err x509_pkcs12_parse(const unsigned char *data, size_t n,
			      const struct cw_secret *password,
			      struct x509_p12 *out);
void x509_p12_release(struct x509_p12 *p);

/* The issuers of leaf found among certs, in order (leaf excluded);
 * certificates that belong to no chain of leaf are left out. */
enum cw_err x509_chain_build(const struct cw_buf *leaf,
			     const struct cw_buf *certs, size_t n,
			     struct x509_bundle *out);
/* Concatenated DER of certs[from..] (a stored chain) and back. */
enum cw_err x509_chain_join(const struct cw_buf *certs, size_t n,
			    struct cw_buf *out);
enum cw_err x509_chain_split(const unsigned char *p, size_t n,
			     struct x509_bundle *out);

/* OpenSSL's configuration, loaded once (for a process that forks). */
void x509_preload(void);

#endif
