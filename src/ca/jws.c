/* JWS for ACME (RFC 7515, RFC 8555 section 6.2): base64url, the account
 * JWK and its thumbprint, ES256 signatures made by the caller's callback,
 * and the HS256 external account binding. */
#define _DEFAULT_SOURCE
#include "ca_int.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

char *
ca_base64url(const unsigned char *p, size_t n)
{
	char *s = cw_base64(p, n);
	size_t k = 0;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '=')
			break;
		s[k++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	}
	s[k] = 0;
	return s;
}

enum cw_err
ca_unbase64url(const char *s, size_t len, struct cw_buf *out)
{
	char *t;
	size_t k = 0;
	enum cw_err rc;

	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1 || len > (1u << 24))
		return CW_ERR_PARSE;
	t = malloc(len + 4);
	if (t == NULL)
		return CW_ERR_NOMEM;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '+' || c == '/') {
			free(t);
			return CW_ERR_PARSE; /* standard alphabet, not url */
		}
		t[k++] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	while (k % 4)
		t[k++] = '=';
	t[k] = 0;
	rc = k ? cw_unbase64(t, out) : cw_buf_set(out, "", 0);
	explicit_bzero(t, k);
	free(t);
	return rc;
}

enum cw_err
jws_key_init(struct jws_key *k, const struct cw_buf *point, acme_sign_fn sign,
	     void *user)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char *x = NULL, *y = NULL;
	size_t c; /* coordinate length */

	memset(k, 0, sizeof(*k));
	if ((point->len != 65 && point->len != 97) || point->data[0] != 0x04) {
		cw_error("the ACME account key is not an uncompressed P-256 or "
			 "P-384 point");
		return CW_ERR_CRYPTO;
	}
	c = (point->len - 1) / 2;
	k->alg = c == 32 ? "ES256" : "ES384";
	k->sig_len = 2 * c;
	x = ca_base64url(point->data + 1, c);
	y = ca_base64url(point->data + 1 + c, c);
	/* RFC 7638: the required members in lexicographic order, no
	 * white space; this string is both the JWK sent and the one hashed */
	k->jwk = x && y ? cw_printf("{\"crv\":\"%s\",\"kty\":\"EC\","
				    "\"x\":\"%s\",\"y\":\"%s\"}",
				    c == 32 ? "P-256" : "P-384", x, y)
			: NULL;
	free(x);
	free(y);
	if (k->jwk == NULL)
		return CW_ERR_NOMEM;
	SHA256((const unsigned char *)k->jwk, strlen(k->jwk), digest);
	k->thumbprint = ca_base64url(digest, sizeof(digest));
	if (k->thumbprint == NULL) {
		jws_key_release(k);
		return CW_ERR_NOMEM;
	}
	k->sign = sign;
	k->user = user;
	return CW_OK;
}

void
jws_key_release(struct jws_key *k)
{
	if (k == NULL)
		return;
	free(k->jwk);
	free(k->thumbprint);
	memset(k, 0, sizeof(*k));
}

/* The pieces of one JWS on their way to the body. */
struct parts {
	char *hp;    /* protected header, JSON */
	char *b64p;  /* base64url of it */
	char *b64d;  /* base64url of the payload */
	char *input; /* "b64p.b64d", what is signed */
	char *b64s;  /* base64url of the signature */
};

static void
parts_release(struct parts *p)
{
	free(p->hp);
	free(p->b64p);
	free(p->b64d);
	free(p->input);
	free(p->b64s);
}

/* Encodes the header (p->hp) and payload and makes the signing input. */
static enum cw_err
assemble(struct parts *p, const char *payload)
{
	p->b64p = ca_base64url((const unsigned char *)p->hp, strlen(p->hp));
	p->b64d = ca_base64url((const unsigned char *)payload, strlen(payload));
	p->input = p->b64p && p->b64d ? cw_printf("%s.%s", p->b64p, p->b64d)
				      : NULL;
	return p->input ? CW_OK : CW_ERR_NOMEM;
}

static char *
body(const char *b64p, const char *b64d, const char *b64s)
{
	return cw_printf("{\"protected\":\"%s\",\"payload\":\"%s\","
			 "\"signature\":\"%s\"}",
			 b64p, b64d, b64s);
}

enum cw_err
jws_sign(const struct jws_key *k, const char *kid, const char *nonce,
	 const char *url, const char *payload, char **out)
{
	json_t *h = json_pack("{s:s, s:s, s:s}", "alg", k->alg, "nonce",
			      nonce, "url", url);
	struct parts p = { NULL, NULL, NULL, NULL, NULL };
	struct cw_buf sig;
	enum cw_err rc = h ? CW_OK : CW_ERR_NOMEM;

	cw_buf_init(&sig);
	if (rc == CW_OK && kid != NULL)
		rc = json_object_set_new(h, "kid", json_string(kid))
			     ? CW_ERR_NOMEM
			     : CW_OK;
	else if (rc == CW_OK)
		rc = json_object_set_new(h, "jwk", json_loads(k->jwk, 0, NULL))
			     ? CW_ERR_NOMEM
			     : CW_OK;
	if (rc == CW_OK && (p.hp = json_dumps(h, JSON_COMPACT)) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = assemble(&p, payload ? payload : "");
	if (rc == CW_OK)
		rc = k->sign(k->user, (const unsigned char *)p.input,
			     strlen(p.input), &sig);
	if (rc == CW_OK && sig.len != k->sig_len) {
		/* RFC 7518 section 3.4: exactly r||s, each the curve's size */
		cw_error("the account key gave a %zu-byte %s signature (%zu "
			 "expected)",
			 sig.len, k->alg, k->sig_len);
		rc = CW_ERR_CRYPTO;
	}
	if (rc == CW_OK && (p.b64s = ca_base64url(sig.data, sig.len)) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK && (*out = body(p.b64p, p.b64d, p.b64s)) == NULL)
		rc = CW_ERR_NOMEM;
	json_decref(h);
	parts_release(&p);
	cw_buf_release(&sig);
	return rc;
}

enum cw_err
jws_eab(const struct jws_key *k, const char *kid,
	const struct cw_secret *hmac_b64url, const char *url, json_t **out)
{
	json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", kid,
			      "url", url);
	struct parts p = { NULL, NULL, NULL, NULL, NULL };
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	struct cw_buf key;
	enum cw_err rc = h ? CW_OK : CW_ERR_NOMEM;

	cw_buf_init(&key);
	if (rc == CW_OK && (p.hp = json_dumps(h, JSON_COMPACT)) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK) {
		rc = ca_unbase64url((const char *)cw_secret_data(hmac_b64url),
				    cw_secret_len(hmac_b64url), &key);
		if (rc == CW_OK && key.len == 0)
			rc = CW_ERR_PARSE;
		if (rc != CW_OK)
			cw_error("the EAB MAC key is not base64url text");
	}
	if (rc == CW_OK)
		rc = assemble(&p, k->jwk);
	if (rc == CW_OK &&
	    HMAC(EVP_sha256(), key.data, (int)key.len,
		 (const unsigned char *)p.input, strlen(p.input), mac,
		 &mac_len) == NULL) {
		cw_error_openssl("HMAC");
		rc = CW_ERR_CRYPTO;
	}
	if (rc == CW_OK && (p.b64s = ca_base64url(mac, mac_len)) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK) {
		*out = json_pack("{s:s, s:s, s:s}", "protected", p.b64p,
				 "payload", p.b64d, "signature", p.b64s);
		rc = *out ? CW_OK : CW_ERR_NOMEM;
	}
	explicit_bzero(mac, sizeof(mac));
	if (key.data)
		explicit_bzero(key.data, key.cap);
	cw_buf_release(&key);
	json_decref(h);
	parts_release(&p);
	return rc;
}
