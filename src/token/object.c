#include "token_int.h"

#include <stdlib.h>
#include <string.h>

enum cw_err
tok_find_objects(struct tok_session *s, long cls, const struct cw_buf *id,
		 CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *n)
{
	CK_OBJECT_CLASS c = (CK_OBJECT_CLASS)cls;
	CK_ATTRIBUTE t[2];
	CK_ULONG nt = 0;
	CK_RV rv, rv2;

	t[nt].type = CKA_ID;
	t[nt].pValue = id->data;
	t[nt].ulValueLen = id->len;
	nt++;
	if (cls >= 0) {
		t[nt].type = CKA_CLASS;
		t[nt].pValue = &c;
		t[nt].ulValueLen = sizeof(c);
		nt++;
	}
	rv = s->m->C_FindObjectsInit(s->h, t, nt);
	if (rv != CKR_OK)
		return tok_fail("C_FindObjectsInit", rv);
	rv = s->m->C_FindObjects(s->h, out, max, n);
	rv2 = s->m->C_FindObjectsFinal(s->h);
	if (rv != CKR_OK)
		return tok_fail("C_FindObjects", rv);
	if (rv2 != CKR_OK)
		return tok_fail("C_FindObjectsFinal", rv2);
	return CW_OK;
}

enum cw_err
tok_get_attr(struct tok_session *s, CK_OBJECT_HANDLE o,
	     CK_ATTRIBUTE_TYPE type, struct cw_buf *out)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	unsigned char *p;
	CK_RV rv;

	rv = s->m->C_GetAttributeValue(s->h, o, &a, 1);
	if (rv != CKR_OK)
		return tok_fail("C_GetAttributeValue", rv);
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 65536)
		return tok_fail("C_GetAttributeValue", CKR_ATTRIBUTE_SENSITIVE);
	p = malloc(a.ulValueLen ? a.ulValueLen : 1);
	if (p == NULL)
		return CW_ERR_NOMEM;
	a.pValue = p;
	rv = s->m->C_GetAttributeValue(s->h, o, &a, 1);
	if (rv == CKR_OK && cw_buf_set(out, p, a.ulValueLen) != CW_OK)
		rv = CKR_HOST_MEMORY;
	free(p);
	if (rv != CKR_OK)
		return tok_fail("C_GetAttributeValue", rv);
	return CW_OK;
}

enum cw_err
tok_private_by_label(struct tok_session *s, const char *label,
		     struct cw_buf *id, size_t *count)
{
	CK_OBJECT_CLASS c = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[2] = { { CKA_CLASS, &c, sizeof(c) },
			      { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE h[8];
	CK_ULONG n = 0;
	CK_RV rv, rv2;
	enum cw_err rc = CW_OK;

	rv = s->m->C_FindObjectsInit(s->h, t, 2);
	if (rv != CKR_OK)
		return tok_fail("C_FindObjectsInit", rv);
	rv = s->m->C_FindObjects(s->h, h, 8, &n);
	rv2 = s->m->C_FindObjectsFinal(s->h);
	if (rv != CKR_OK)
		return tok_fail("C_FindObjects", rv);
	if (rv2 != CKR_OK)
		return tok_fail("C_FindObjectsFinal", rv2);
	*count = n;
	if (n > 0)
		rc = tok_get_attr(s, h[0], CKA_ID, id);
	return rc;
}

enum cw_err
tok_private_keys(struct tok_session *s, struct cw_strlist *ids,
		 struct cw_strlist *labels)
{
	CK_OBJECT_CLASS c = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[1] = { { CKA_CLASS, &c, sizeof(c) } };
	CK_OBJECT_HANDLE h[64], *all = NULL;
	CK_ULONG n = 0, total = 0;
	CK_RV rv, rv2;
	enum cw_err rc = CW_OK;

	rv = s->m->C_FindObjectsInit(s->h, t, 1);
	if (rv != CKR_OK)
		return tok_fail("C_FindObjectsInit", rv);
	do { /* bounded: a token holds far fewer keys */
		rv = s->m->C_FindObjects(s->h, h, 64, &n);
		if (rv == CKR_OK && n > 0) {
			CK_OBJECT_HANDLE *p = realloc(all, (total + n) *
								  sizeof(*p));

			if (p == NULL) {
				rc = CW_ERR_NOMEM;
				break;
			}
			all = p;
			memcpy(all + total, h, n * sizeof(*h));
			total += n;
		}
	} while (rv == CKR_OK && n == 64 && total < TOK_MAX_OBJECTS);
	rv2 = s->m->C_FindObjectsFinal(s->h);
	if (rc == CW_OK && rv != CKR_OK)
		rc = tok_fail("C_FindObjects", rv);
	if (rc == CW_OK && rv2 != CKR_OK)
		rc = tok_fail("C_FindObjectsFinal", rv2);
	for (CK_ULONG i = 0; rc == CW_OK && i < total; i++) {
		struct cw_buf id, label;
		char *hex = NULL, *text = NULL;

		cw_buf_init(&id);
		cw_buf_init(&label);
		rc = tok_get_attr(s, all[i], CKA_ID, &id);
		if (rc == CW_OK)
			rc = tok_get_attr(s, all[i], CKA_LABEL, &label);
		if (rc == CW_OK) {
			hex = cw_hex(id.data, id.len);
			text = strndup(label.data ? (const char *)label.data
						  : "",
				       label.len);
			rc = hex && text ? cw_strlist_add(ids, hex)
					 : CW_ERR_NOMEM;
		}
		if (rc == CW_OK)
			rc = cw_strlist_add(labels, text);
		free(hex);
		free(text);
		cw_buf_release(&id);
		cw_buf_release(&label);
	}
	free(all);
	return rc;
}

static bool
all_true(struct tok_session *s, CK_OBJECT_HANDLE o)
{
	CK_BBOOL local = CK_FALSE, as = CK_FALSE, ne = CK_FALSE;
	CK_ATTRIBUTE t[] = {
		{ CKA_LOCAL, &local, sizeof(local) },
		{ CKA_ALWAYS_SENSITIVE, &as, sizeof(as) },
		{ CKA_NEVER_EXTRACTABLE, &ne, sizeof(ne) },
	};

	if (s->m->C_GetAttributeValue(s->h, o, t, 3) != CKR_OK)
		return false;
	return local == CK_TRUE && as == CK_TRUE && ne == CK_TRUE;
}

enum cw_err
tok_lookup(struct tok_session *s, const struct cw_buf *id,
	   struct tok_handles *out)
{
	CK_OBJECT_HANDLE h[8];
	CK_ULONG n = 0;
	struct tok_handles r = { CK_INVALID_HANDLE, CK_INVALID_HANDLE,
				 CK_INVALID_HANDLE };
	enum cw_err rc = tok_find_objects(s, -1, id, h, 8, &n);

	for (CK_ULONG i = 0; rc == CW_OK && i < n; i++) {
		CK_OBJECT_CLASS c = CKO_DATA;
		CK_ATTRIBUTE a = { CKA_CLASS, &c, sizeof(c) };
		CK_RV rv = s->m->C_GetAttributeValue(s->h, h[i], &a, 1);

		if (rv != CKR_OK)
			rc = tok_fail("C_GetAttributeValue", rv);
		else if (c == CKO_PRIVATE_KEY)
			r.priv = h[i];
		else if (c == CKO_PUBLIC_KEY)
			r.pub = h[i];
		else if (c == CKO_CERTIFICATE)
			r.cert = h[i];
	}
	if (rc != CW_OK)
		return rc;
	s->no_cert.id_len = 0;
	if (r.cert == CK_INVALID_HANDLE && id->len <= sizeof(s->no_cert.id)) {
		memcpy(s->no_cert.id, id->data, id->len);
		s->no_cert.id_len = id->len;
	}
	if (r.priv != CK_INVALID_HANDLE)
		tok_key_remember(s, id, r.priv);
	*out = r;
	return CW_OK;
}

/* One lookup by CKA_ID (a module may scan every object to answer it). */
enum cw_err
tok_find(struct tok_session *s, const struct cw_buf *id, struct tok_objects *out)
{
	struct tok_handles h;
	struct tok_objects o;
	enum cw_err rc = tok_lookup(s, id, &h);

	if (rc != CW_OK)
		return rc;
	memset(&o, 0, sizeof(o));
	o.private_key = h.priv != CK_INVALID_HANDLE;
	o.public_key = h.pub != CK_INVALID_HANDLE;
	o.certificate = h.cert != CK_INVALID_HANDLE;
	o.generated_on_token = o.private_key && all_true(s, h.priv);
	*out = o;
	return CW_OK;
}

/* DigestInfo prefix of SHA-256 for CKM_RSA_PKCS (RFC 8017 section 9.2). */
static const unsigned char sha256_prefix[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

static bool
can_sign(struct tok_session *s, CK_MECHANISM_TYPE t)
{
	CK_MECHANISM_INFO mi;

	return s->m->C_GetMechanismInfo(s->slot, t, &mi) == CKR_OK &&
	       (mi.flags & CKF_SIGN);
}

/* Chooses the mechanism and the input: combined hash-and-sign where the
 * token has it, otherwise the host's digest. */
static enum cw_err
sign_input(struct tok_session *s, const struct cw_sign_req *req,
	   CK_MECHANISM_TYPE *mech, struct cw_buf *in)
{
	CK_MECHANISM_TYPE combined;

	switch (req->alg) {
	case CW_SIG_ECDSA_SHA256: combined = CKM_ECDSA_SHA256; break;
	case CW_SIG_ECDSA_SHA384: combined = CKM_ECDSA_SHA384; break;
	case CW_SIG_RSA_PKCS1_SHA256: combined = CKM_SHA256_RSA_PKCS; break;
	default: return CW_ERR_INTERNAL;
	}
	if (can_sign(s, combined)) {
		*mech = combined;
		return cw_buf_set(in, req->data, req->len);
	}
	if (req->alg == CW_SIG_RSA_PKCS1_SHA256) {
		CW_RETURN_IF_FAIL(req->digest_len == 32, CW_ERR_INTERNAL);
		*mech = CKM_RSA_PKCS;
		if (cw_buf_set(in, sha256_prefix, sizeof(sha256_prefix)) !=
			    CW_OK ||
		    cw_buf_append(in, req->digest, req->digest_len) != CW_OK)
			return CW_ERR_NOMEM;
		return CW_OK;
	}
	*mech = CKM_ECDSA;
	return cw_buf_set(in, req->digest, req->digest_len);
}

void
tok_key_remember(struct tok_session *s, const struct cw_buf *id,
		 CK_OBJECT_HANDLE h)
{
	struct tok_key_handle *k;

	if (id->len > sizeof(k->id))
		return;
	tok_key_forget(s, id);
	k = &s->keys[s->next_key++ % TOK_KEY_CACHE];
	memcpy(k->id, id->data, id->len);
	k->id_len = id->len;
	k->h = h;
}

bool
tok_key_known(const struct tok_session *s, const struct cw_buf *id,
	      CK_OBJECT_HANDLE *h)
{
	for (size_t i = 0; i < TOK_KEY_CACHE; i++) {
		const struct tok_key_handle *k = &s->keys[i];

		if (k->id_len == id->len && id->len > 0 &&
		    memcmp(k->id, id->data, id->len) == 0) {
			*h = k->h;
			return true;
		}
	}
	return false;
}

void
tok_key_forget(struct tok_session *s, const struct cw_buf *id)
{
	for (size_t i = 0; i < TOK_KEY_CACHE; i++) {
		struct tok_key_handle *k = &s->keys[i];

		if (k->id_len == id->len &&
		    memcmp(k->id, id->data, id->len) == 0)
			k->id_len = 0;
	}
}

/* The private key under id: from the cache, else found and cached. */
static enum cw_err
private_key(struct tok_session *s, const struct cw_buf *id,
	    CK_OBJECT_HANDLE *h)
{
	CK_ULONG n = 0;
	enum cw_err rc;

	if (tok_key_known(s, id, h))
		return CW_OK;
	rc = tok_find_objects(s, CKO_PRIVATE_KEY, id, h, 1, &n);
	if (rc != CW_OK)
		return rc;
	if (n == 0) {
		cw_error("the private key is not on token '%s'", s->info.label);
		return CW_ERR_NO_KEY;
	}
	tok_key_remember(s, id, *h);
	return CW_OK;
}

enum cw_err
tok_sign(struct tok_session *s, const struct cw_buf *id,
	 const struct cw_sign_req *req, struct cw_buf *sig)
{
	CK_OBJECT_HANDLE h;
	CK_ULONG len = 0;
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_BBOOL always = CK_FALSE;
	CK_ATTRIBUTE aa = { CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always) };
	struct cw_buf in;
	unsigned char *out = NULL;
	enum cw_err rc;
	CK_RV rv;

	cw_buf_init(&in);
	rc = private_key(s, id, &h);
	if (rc != CW_OK)
		return rc;
	rv = s->m->C_GetAttributeValue(s->h, h, &aa, 1);
	if (rv == CKR_OBJECT_HANDLE_INVALID) {
		/* destroyed behind this session's back: look it up again */
		tok_key_forget(s, id);
		rc = private_key(s, id, &h);
		if (rc != CW_OK)
			return rc;
		rv = s->m->C_GetAttributeValue(s->h, h, &aa, 1);
	}
	if (rv == CKR_OK && always == CK_TRUE) {
		cw_error("the key needs a login for every signature "
			 "(CKA_ALWAYS_AUTHENTICATE); certwiz does not support "
			 "such keys");
		return CW_ERR_TOKEN;
	}
	rc = sign_input(s, req, &mech.mechanism, &in);
	if (rc != CW_OK)
		goto out;
	rv = s->m->C_SignInit(s->h, &mech, h);
	if (rv != CKR_OK) {
		rc = tok_fail("C_SignInit", rv);
		goto out;
	}
	rv = s->m->C_Sign(s->h, in.data, in.len, NULL, &len);
	if (rv == CKR_OK && len > 0 && len <= 1024) {
		out = malloc(len);
		rv = out ? s->m->C_Sign(s->h, in.data, in.len, out, &len)
			 : CKR_HOST_MEMORY;
	} else if (rv == CKR_OK) {
		rv = CKR_GENERAL_ERROR;
	}
	if (rv != CKR_OK) {
		rc = tok_fail("C_Sign", rv);
		goto out;
	}
	rc = cw_buf_set(sig, out, len);
out:
	free(out);
	cw_buf_release(&in);
	return rc;
}

static enum cw_err
destroy_class(struct tok_session *s, CK_OBJECT_CLASS cls,
	      const struct cw_buf *id)
{
	CK_OBJECT_HANDLE h[8];
	CK_ULONG n = 0;
	enum cw_err rc = tok_find_objects(s, (long)cls, id, h, 8, &n);

	for (CK_ULONG i = 0; rc == CW_OK && i < n; i++) {
		CK_RV rv = s->m->C_DestroyObject(s->h, h[i]);

		if (rv != CKR_OK)
			rc = tok_fail("C_DestroyObject", rv);
	}
	return rc;
}

enum cw_err
tok_destroy_keys(struct tok_session *s, const struct cw_buf *id)
{
	enum cw_err rc;

	tok_key_forget(s, id);
	rc = destroy_class(s, CKO_PRIVATE_KEY, id);

	if (rc == CW_OK)
		rc = destroy_class(s, CKO_PUBLIC_KEY, id);
	return rc;
}

enum cw_err
tok_read_cert(struct tok_session *s, const struct cw_buf *id,
	      struct cw_buf *der)
{
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;
	enum cw_err rc = tok_find_objects(s, CKO_CERTIFICATE, id, &h, 1, &n);

	if (rc != CW_OK)
		return rc;
	if (n == 0)
		return CW_ERR_NOT_FOUND;
	return tok_get_attr(s, h, CKA_VALUE, der);
}

enum cw_err
tok_destroy_cert(struct tok_session *s, const struct cw_buf *id)
{
	return destroy_class(s, CKO_CERTIFICATE, id);
}

enum cw_err
tok_write_cert(struct tok_session *s, const struct tok_cert *c)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_ID, c->id->data, c->id->len },
		{ CKA_LABEL, (void *)c->label, strlen(c->label) },
		{ CKA_SUBJECT, c->subject->data, c->subject->len },
		{ CKA_ISSUER, c->issuer->data, c->issuer->len },
		{ CKA_SERIAL_NUMBER, c->serial->data, c->serial->len },
		{ CKA_VALUE, c->der->data, c->der->len },
	};
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;
	enum cw_err rc;
	CK_RV rv;

	/* the lookup that found the key just now saw no certificate */
	if (s->no_cert.id_len == c->id->len && c->id->len > 0 &&
	    memcmp(s->no_cert.id, c->id->data, c->id->len) == 0) {
		n = 0;
	} else {
		rc = tok_find_objects(s, CKO_CERTIFICATE, c->id, &h, 1, &n);
		if (rc != CW_OK)
			return rc;
	}
	s->no_cert.id_len = 0;
	if (n > 0)
		return CW_ERR_DUPLICATE; /* the caller decides what it means */
	rv = s->m->C_CreateObject(s->h, t, sizeof(t) / sizeof(t[0]), &h);
	if (rv != CKR_OK)
		return tok_fail("C_CreateObject", rv);
	return CW_OK;
}
