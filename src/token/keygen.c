#include "token_int.h"

#include <stdlib.h>
#include <string.h>

static enum cw_err
mech_info(struct tok_session *s, CK_MECHANISM_TYPE type, CK_FLAGS need,
	  const char *what, CK_MECHANISM_INFO *out)
{
	CK_RV rv = s->m->C_GetMechanismInfo(s->slot, type, out);

	if (rv == CKR_MECHANISM_INVALID || (rv == CKR_OK &&
					    (out->flags & need) != need)) {
		cw_error("token '%s' cannot %s", s->info.label, what);
		return CW_ERR_MECHANISM;
	}
	if (rv != CKR_OK)
		return tok_fail("C_GetMechanismInfo", rv);
	return CW_OK;
}

enum cw_err
tok_check_mechanism(struct tok_session *s, const struct cw_keyspec *spec)
{
	CK_MECHANISM_INFO gen, sign;
	bool rsa = spec->type == CW_KEY_RSA;
	enum cw_err rc;

	rc = mech_info(s, rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN,
		       CKF_GENERATE_KEY_PAIR,
		       rsa ? "generate RSA key pairs" : "generate EC key pairs",
		       &gen);
	if (rc != CW_OK)
		return rc;
	rc = mech_info(s, rsa ? CKM_RSA_PKCS : CKM_ECDSA, CKF_SIGN,
		       rsa ? "sign with RSA PKCS#1" : "sign with ECDSA", &sign);
	if (rc != CW_OK)
		return rc;
	/* Sizes are in bits for RSA and EC (PKCS#11 2.40 section 2.3). */
	if (spec->bits < gen.ulMinKeySize || spec->bits > gen.ulMaxKeySize) {
		cw_error("token '%s' refuses %s: key sizes from %lu to %lu "
			 "bits",
			 s->info.label, spec->name,
			 (unsigned long)gen.ulMinKeySize,
			 (unsigned long)gen.ulMaxKeySize);
		return CW_ERR_MECHANISM;
	}
	return CW_OK;
}

enum cw_err
tok_check_sign(struct tok_session *s, enum cw_key_type type)
{
	CK_MECHANISM_INFO mi;
	bool rsa = type == CW_KEY_RSA;
	CK_MECHANISM_TYPE plain = rsa ? CKM_RSA_PKCS : CKM_ECDSA;
	CK_MECHANISM_TYPE hashed = rsa ? CKM_SHA256_RSA_PKCS : CKM_ECDSA_SHA256;

	if ((s->m->C_GetMechanismInfo(s->slot, plain, &mi) == CKR_OK &&
	     (mi.flags & CKF_SIGN)) ||
	    (s->m->C_GetMechanismInfo(s->slot, hashed, &mi) == CKR_OK &&
	     (mi.flags & CKF_SIGN)))
		return CW_OK;
	cw_error("token '%s' cannot sign with an %s key: it would hold a key "
	         "no server could use",
	         s->info.label, rsa ? "RSA" : "EC");
	return CW_ERR_MECHANISM;
}

enum cw_err
tok_id_in_use(struct tok_session *s, const struct cw_buf *id, bool *in_use)
{
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;
	enum cw_err rc = tok_find_objects(s, -1, id, &h, 1, &n);

	if (rc == CW_OK)
		*in_use = n > 0;
	return rc;
}

/* The attributes that prove the key was made inside the token. */
static enum cw_err
check_private(struct tok_session *s, CK_OBJECT_HANDLE priv)
{
	static const struct {
		CK_ATTRIBUTE_TYPE type;
		CK_BBOOL want;
		const char *name;
	} want[] = {
		{ CKA_TOKEN, CK_TRUE, "CKA_TOKEN" },
		{ CKA_PRIVATE, CK_TRUE, "CKA_PRIVATE" },
		{ CKA_SENSITIVE, CK_TRUE, "CKA_SENSITIVE" },
		{ CKA_ALWAYS_SENSITIVE, CK_TRUE, "CKA_ALWAYS_SENSITIVE" },
		{ CKA_EXTRACTABLE, CK_FALSE, "CKA_EXTRACTABLE" },
		{ CKA_NEVER_EXTRACTABLE, CK_TRUE, "CKA_NEVER_EXTRACTABLE" },
		{ CKA_LOCAL, CK_TRUE, "CKA_LOCAL" },
		{ CKA_SIGN, CK_TRUE, "CKA_SIGN" },
		{ CKA_DECRYPT, CK_FALSE, "CKA_DECRYPT" },
		{ CKA_UNWRAP, CK_FALSE, "CKA_UNWRAP" },
		{ CKA_DERIVE, CK_FALSE, "CKA_DERIVE" },
	};
	enum { N = sizeof(want) / sizeof(want[0]) };
	CK_BBOOL got[N];
	CK_ATTRIBUTE t[N];
	CK_RV rv;

	for (size_t i = 0; i < N; i++) {
		got[i] = 0xff;
		t[i].type = want[i].type;
		t[i].pValue = &got[i];
		t[i].ulValueLen = sizeof(got[i]);
	}
	rv = s->m->C_GetAttributeValue(s->h, priv, t, N);
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID &&
	    rv != CKR_ATTRIBUTE_SENSITIVE)
		return tok_fail("C_GetAttributeValue", rv);
	for (size_t i = 0; i < N; i++) {
		if (t[i].ulValueLen != sizeof(CK_BBOOL) ||
		    got[i] != want[i].want) {
			cw_error("token '%s' did not keep %s %s on the new key; "
				 "the key pair is destroyed",
				 s->info.label, want[i].name,
				 want[i].want ? "true" : "false");
			return CW_ERR_POLICY;
		}
	}
	return CW_OK;
}

/* Removes the DER OCTET STRING around an EC point when there is one. */
static enum cw_err
unwrap_point(const struct cw_buf *raw, size_t want, struct cw_buf *out)
{
	const unsigned char *p = raw->data;
	size_t n = raw->len;

	if (n == want)
		return cw_buf_set(out, p, n);
	if (n == want + 2 && p[0] == 0x04 && p[1] == want)
		return cw_buf_set(out, p + 2, want);
	if (n == want + 3 && p[0] == 0x04 && p[1] == 0x81 && p[2] == want)
		return cw_buf_set(out, p + 3, want);
	cw_error("the token returned an EC point of unexpected size %zu", n);
	return CW_ERR_TOKEN;
}

static enum cw_err
read_public(struct tok_session *s, CK_OBJECT_HANDLE o, CK_KEY_TYPE kt,
	    struct cw_pubkey *out)
{
	struct cw_pubkey k;
	struct cw_buf raw;
	struct cw_keyspec spec;
	enum cw_err rc;

	cw_pubkey_init(&k);
	cw_buf_init(&raw);
	if (kt == CKK_RSA) {
		k.type = CW_KEY_RSA;
		rc = tok_get_attr(s, o, CKA_MODULUS, &k.modulus);
		if (rc == CW_OK)
			rc = tok_get_attr(s, o, CKA_PUBLIC_EXPONENT,
					  &k.exponent);
	} else if (kt == CKK_EC) {
		k.type = CW_KEY_EC;
		rc = tok_get_attr(s, o, CKA_EC_PARAMS, &k.ec_params);
		if (rc == CW_OK)
			rc = tok_get_attr(s, o, CKA_EC_POINT, &raw);
		if (rc == CW_OK &&
		    cw_keyspec_from_ec_params(k.ec_params.data, k.ec_params.len,
					      &spec) != CW_OK) {
			cw_error("key on token '%s' uses a curve certwiz does "
				 "not support",
				 s->info.label);
			rc = CW_ERR_POLICY;
		}
		if (rc == CW_OK)
			rc = unwrap_point(&raw, 1 + 2 * (spec.bits / 8),
					  &k.ec_point);
	} else {
		cw_error("key type 0x%lx is not supported", (unsigned long)kt);
		rc = CW_ERR_POLICY;
	}
	cw_buf_release(&raw);
	if (rc != CW_OK) {
		cw_pubkey_release(&k);
		return rc;
	}
	cw_pubkey_release(out);
	*out = k;
	return CW_OK;
}

enum cw_err
tok_key_type(struct tok_session *s, CK_OBJECT_HANDLE o, CK_KEY_TYPE *kt)
{
	CK_ATTRIBUTE a = { CKA_KEY_TYPE, kt, sizeof(*kt) };
	CK_RV rv = s->m->C_GetAttributeValue(s->h, o, &a, 1);

	if (rv != CKR_OK)
		return tok_fail("C_GetAttributeValue(CKA_KEY_TYPE)", rv);
	return CW_OK;
}

enum cw_err
tok_public_key(struct tok_session *s, const struct cw_buf *id,
	       struct cw_pubkey *out)
{
	struct tok_handles hs;
	CK_OBJECT_HANDLE h;
	CK_KEY_TYPE kt;
	enum cw_err rc;

	rc = tok_lookup(s, id, &hs);
	if (rc != CW_OK)
		return rc;
	/* No public object: an RSA private key still carries the modulus
	 * and exponent. */
	h = hs.pub != CK_INVALID_HANDLE ? hs.pub : hs.priv;
	if (h == CK_INVALID_HANDLE) {
		cw_error("no key on token '%s' has this CKA_ID",
			 s->info.label);
		return CW_ERR_NO_KEY;
	}
	rc = tok_key_type(s, h, &kt);
	if (rc != CW_OK)
		return rc;
	return read_public(s, h, kt, out);
}

/* What a token answers to a template it will not take (some say
 * CKR_GENERAL_ERROR instead of CKR_TEMPLATE_INCONSISTENT). */
static bool
refused_template(CK_RV rv)
{
	return rv == CKR_TEMPLATE_INCONSISTENT ||
	       rv == CKR_ATTRIBUTE_VALUE_INVALID ||
	       rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_GENERAL_ERROR ||
	       rv == CKR_FUNCTION_FAILED;
}

/* Objects under a fresh CKA_ID after a failed generation: a module that
 * fails halfway may leave one behind; the ID is certwiz's own, so they
 * go. */
static void
drop_leftovers(struct tok_session *s, const struct cw_buf *id)
{
	CK_OBJECT_HANDLE h[4];
	CK_ULONG n = 0;

	if (tok_find_objects(s, -1, id, h, 4, &n) != CW_OK)
		return;
	for (CK_ULONG i = 0; i < n; i++)
		s->m->C_DestroyObject(s->h, h[i]);
}

enum cw_err
tok_keygen(struct tok_session *s, const struct cw_keyspec *spec,
	   const struct cw_buf *id, const char *label, struct cw_pubkey *pub)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = spec->bits;
	CK_BYTE e65537[] = { 0x01, 0x00, 0x01 };
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
	CK_ATTRIBUTE pubt[9], privt[11];
	CK_ULONG np = 0, nv = 0;
	enum cw_err rc;
	CK_RV rv;

#define ADD(t, n, a, val, len)                                                 \
	do {                                                                   \
		t[n].type = (a);                                               \
		t[n].pValue = (void *)(val);                                   \
		t[n].ulValueLen = (len);                                       \
		n++;                                                           \
	} while (0)
	ADD(pubt, np, CKA_TOKEN, &yes, sizeof(yes));
	ADD(pubt, np, CKA_PRIVATE, &no, sizeof(no));
	ADD(pubt, np, CKA_VERIFY, &yes, sizeof(yes));
	ADD(pubt, np, CKA_ENCRYPT, &no, sizeof(no));
	ADD(pubt, np, CKA_WRAP, &no, sizeof(no));
	ADD(pubt, np, CKA_ID, id->data, id->len);
	ADD(pubt, np, CKA_LABEL, label, strlen(label));
	if (spec->type == CW_KEY_RSA) {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		ADD(pubt, np, CKA_MODULUS_BITS, &bits, sizeof(bits));
		ADD(pubt, np, CKA_PUBLIC_EXPONENT, e65537, sizeof(e65537));
	} else {
		ADD(pubt, np, CKA_EC_PARAMS, spec->ec_params,
		    spec->ec_params_len);
	}
	ADD(privt, nv, CKA_TOKEN, &yes, sizeof(yes));
	ADD(privt, nv, CKA_PRIVATE, &yes, sizeof(yes));
	ADD(privt, nv, CKA_SENSITIVE, &yes, sizeof(yes));
	ADD(privt, nv, CKA_EXTRACTABLE, &no, sizeof(no));
	ADD(privt, nv, CKA_SIGN, &yes, sizeof(yes));
	ADD(privt, nv, CKA_DECRYPT, &no, sizeof(no));
	ADD(privt, nv, CKA_UNWRAP, &no, sizeof(no));
	ADD(privt, nv, CKA_DERIVE, &no, sizeof(no));
	ADD(privt, nv, CKA_ID, id->data, id->len);
	ADD(privt, nv, CKA_LABEL, label, strlen(label));

	rv = s->m->C_GenerateKeyPair(s->h, &mech, pubt, np, privt, nv, &hpub,
				     &hpriv);
#undef ADD
	if (refused_template(rv)) {
		/* Some tokens refuse the public key's usage attributes
		 * (tpm2-pkcs11 derives CKA_VERIFY from the TPM's decrypt bit
		 * and then finds CKA_VERIFY=TRUE inconsistent): once more
		 * without the public key's CKA_VERIFY and CKA_ENCRYPT (the
		 * token's defaults for a public key). The private template
		 * is never changed, and check_private below reads every
		 * property back as before. */
		cw_debug("token '%s' refused the key template (0x%lx); "
		         "trying without the public key's usage attributes",
		         s->info.label, (unsigned long)rv);
		drop_leftovers(s, id);
		memmove(&pubt[2], &pubt[4], (np - 4) * sizeof(pubt[0]));
		np -= 2;
		rv = s->m->C_GenerateKeyPair(s->h, &mech, pubt, np, privt, nv,
		                             &hpub, &hpriv);
	}
	if (rv != CKR_OK) {
		drop_leftovers(s, id);
		return tok_fail("C_GenerateKeyPair", rv);
	}
	rc = check_private(s, hpriv);
	if (rc == CW_OK)
		rc = read_public(s, hpub, spec->type == CW_KEY_RSA ? CKK_RSA
								  : CKK_EC,
				 pub);
	if (rc != CW_OK) {
		s->m->C_DestroyObject(s->h, hpriv);
		s->m->C_DestroyObject(s->h, hpub);
	} else {
		tok_key_remember(s, id, hpriv);
	}
	return rc;
}
