/* Keys that come from outside: found by public key, or imported. */
#include "token_int.h"

#include <stdlib.h>
#include <string.h>

/* The DER OCTET STRING that PKCS#11 2.40 puts around CKA_EC_POINT. */
static enum cw_err
wrap_point(const struct cw_buf *point, struct cw_buf *out)
{
	unsigned char hdr[3];
	size_t h = 0;

	if (point->len > 255)
		return CW_ERR_POLICY;
	hdr[h++] = 0x04;
	if (point->len > 127)
		hdr[h++] = 0x81;
	hdr[h++] = (unsigned char)point->len;
	if (cw_buf_set(out, hdr, h) != CW_OK ||
	    cw_buf_append(out, point->data, point->len) != CW_OK)
		return CW_ERR_NOMEM;
	return CW_OK;
}

static enum cw_err
find_by(struct tok_session *s, CK_OBJECT_CLASS cls, CK_ATTRIBUTE *t,
	CK_ULONG nt, CK_OBJECT_HANDLE *h, CK_ULONG *n)
{
	CK_ATTRIBUTE all[4];
	CK_RV rv, rv2;

	all[0].type = CKA_CLASS;
	all[0].pValue = &cls;
	all[0].ulValueLen = sizeof(cls);
	memcpy(all + 1, t, nt * sizeof(*t));
	rv = s->m->C_FindObjectsInit(s->h, all, nt + 1);
	if (rv != CKR_OK)
		return tok_fail("C_FindObjectsInit", rv);
	rv = s->m->C_FindObjects(s->h, h, 1, n);
	rv2 = s->m->C_FindObjectsFinal(s->h);
	if (rv != CKR_OK)
		return tok_fail("C_FindObjects", rv);
	return rv2 == CKR_OK ? CW_OK : tok_fail("C_FindObjectsFinal", rv2);
}

/* A public (or, for RSA, private) key object holding pub. */
static enum cw_err
find_public(struct tok_session *s, const struct cw_pubkey *pub,
	    CK_OBJECT_HANDLE *h, CK_ULONG *n)
{
	struct cw_buf wrapped;
	CK_ATTRIBUTE t[2];
	enum cw_err rc;

	*n = 0;
	if (pub->type == CW_KEY_RSA) {
		t[0] = (CK_ATTRIBUTE){ CKA_MODULUS, pub->modulus.data,
				       pub->modulus.len };
		t[1] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, pub->exponent.data,
				       pub->exponent.len };
		rc = find_by(s, CKO_PUBLIC_KEY, t, 2, h, n);
		if (rc == CW_OK && *n == 0)
			rc = find_by(s, CKO_PRIVATE_KEY, t, 2, h, n);
		return rc;
	}
	cw_buf_init(&wrapped);
	rc = wrap_point(&pub->ec_point, &wrapped);
	t[0] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, pub->ec_params.data,
			       pub->ec_params.len };
	t[1] = (CK_ATTRIBUTE){ CKA_EC_POINT, wrapped.data, wrapped.len };
	if (rc == CW_OK)
		rc = find_by(s, CKO_PUBLIC_KEY, t, 2, h, n);
	if (rc == CW_OK && *n == 0) { /* tokens that store the bare point */
		t[1] = (CK_ATTRIBUTE){ CKA_EC_POINT, pub->ec_point.data,
				       pub->ec_point.len };
		rc = find_by(s, CKO_PUBLIC_KEY, t, 2, h, n);
	}
	cw_buf_release(&wrapped);
	return rc;
}

enum cw_err
tok_find_key(struct tok_session *s, const struct cw_pubkey *pub,
	     struct cw_buf *id, struct tok_objects *objs)
{
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;
	struct cw_buf found;
	enum cw_err rc;

	cw_buf_init(&found);
	rc = find_public(s, pub, &h, &n);
	if (rc == CW_OK && n == 0)
		rc = CW_ERR_NO_KEY;
	if (rc == CW_OK)
		rc = tok_get_attr(s, h, CKA_ID, &found);
	if (rc == CW_OK && found.len == 0) {
		cw_error("the matching key on token '%s' has no CKA_ID",
			 s->info.label);
		rc = CW_ERR_NO_KEY;
	}
	if (rc == CW_OK)
		rc = tok_find(s, &found, objs);
	if (rc == CW_OK && !objs->private_key)
		rc = CW_ERR_NO_KEY;
	if (rc == CW_OK) {
		cw_buf_release(id);
		*id = found;
		cw_buf_init(&found);
	}
	cw_buf_release(&found);
	return rc;
}

#define ADD(t, n, a, val, len)                                                 \
	do {                                                                   \
		t[n].type = (a);                                               \
		t[n].pValue = (void *)(val);                                   \
		t[n].ulValueLen = (len);                                       \
		n++;                                                           \
	} while (0)
#define ADD_BUF(t, n, a, b) ADD(t, n, a, (b).data, (b).len)

static enum cw_err
check_imported(struct tok_session *s, CK_OBJECT_HANDLE h)
{
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, sign = CK_FALSE;
	CK_ATTRIBUTE t[] = {
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
		{ CKA_SIGN, &sign, sizeof(sign) },
	};
	CK_RV rv = s->m->C_GetAttributeValue(s->h, h, t, 3);

	if (rv != CKR_OK)
		return tok_fail("C_GetAttributeValue", rv);
	if (sens != CK_TRUE || extr != CK_FALSE || sign != CK_TRUE) {
		cw_error("token '%s' did not keep the imported key sensitive "
			 "and not extractable; it is destroyed",
			 s->info.label);
		return CW_ERR_POLICY;
	}
	return CW_OK;
}

enum cw_err
tok_import_key(struct tok_session *s, const struct cw_privkey *k,
	       const struct cw_buf *id, const char *label)
{
	CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY, pub_cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = k->type == CW_KEY_RSA ? CKK_RSA : CKK_EC;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pv[20], pb[10];
	CK_ULONG np = 0, nb = 0;
	CK_OBJECT_HANDLE hpriv = CK_INVALID_HANDLE, hpub = CK_INVALID_HANDLE;
	struct cw_buf wrapped;
	enum cw_err rc = CW_OK;
	CK_RV rv;

	cw_buf_init(&wrapped);
	ADD(pv, np, CKA_CLASS, &priv_cls, sizeof(priv_cls));
	ADD(pv, np, CKA_KEY_TYPE, &kt, sizeof(kt));
	ADD(pv, np, CKA_TOKEN, &yes, sizeof(yes));
	ADD(pv, np, CKA_PRIVATE, &yes, sizeof(yes));
	ADD(pv, np, CKA_SENSITIVE, &yes, sizeof(yes));
	ADD(pv, np, CKA_EXTRACTABLE, &no, sizeof(no));
	ADD(pv, np, CKA_SIGN, &yes, sizeof(yes));
	ADD(pv, np, CKA_DECRYPT, &no, sizeof(no));
	ADD(pv, np, CKA_UNWRAP, &no, sizeof(no));
	ADD(pv, np, CKA_DERIVE, &no, sizeof(no));
	ADD_BUF(pv, np, CKA_ID, *id);
	ADD(pv, np, CKA_LABEL, label, strlen(label));
	ADD(pb, nb, CKA_CLASS, &pub_cls, sizeof(pub_cls));
	ADD(pb, nb, CKA_KEY_TYPE, &kt, sizeof(kt));
	ADD(pb, nb, CKA_TOKEN, &yes, sizeof(yes));
	ADD(pb, nb, CKA_PRIVATE, &no, sizeof(no));
	ADD(pb, nb, CKA_VERIFY, &yes, sizeof(yes));
	ADD_BUF(pb, nb, CKA_ID, *id);
	ADD(pb, nb, CKA_LABEL, label, strlen(label));
	if (k->type == CW_KEY_RSA) {
		ADD_BUF(pv, np, CKA_MODULUS, k->n);
		ADD_BUF(pv, np, CKA_PUBLIC_EXPONENT, k->e);
		ADD_BUF(pv, np, CKA_PRIVATE_EXPONENT, k->d);
		ADD_BUF(pv, np, CKA_PRIME_1, k->p);
		ADD_BUF(pv, np, CKA_PRIME_2, k->q);
		ADD_BUF(pv, np, CKA_EXPONENT_1, k->dp);
		ADD_BUF(pv, np, CKA_EXPONENT_2, k->dq);
		ADD_BUF(pv, np, CKA_COEFFICIENT, k->qinv);
		ADD_BUF(pb, nb, CKA_MODULUS, k->n);
		ADD_BUF(pb, nb, CKA_PUBLIC_EXPONENT, k->e);
	} else {
		rc = wrap_point(&k->ec_point, &wrapped);
		ADD_BUF(pv, np, CKA_EC_PARAMS, k->ec_params);
		ADD_BUF(pv, np, CKA_VALUE, k->ec_value);
		ADD_BUF(pb, nb, CKA_EC_PARAMS, k->ec_params);
		ADD_BUF(pb, nb, CKA_EC_POINT, wrapped);
	}
	if (rc != CW_OK)
		goto out;
	rv = s->m->C_CreateObject(s->h, pv, np, &hpriv);
	if (rv != CKR_OK) {
		rc = tok_fail("C_CreateObject(private key)", rv);
		goto out;
	}
	rc = check_imported(s, hpriv);
	if (rc == CW_OK) {
		rv = s->m->C_CreateObject(s->h, pb, nb, &hpub);
		if (rv != CKR_OK)
			rc = tok_fail("C_CreateObject(public key)", rv);
	}
	if (rc != CW_OK)
		s->m->C_DestroyObject(s->h, hpriv);
out:
	cw_buf_release(&wrapped);
	return rc;
}
