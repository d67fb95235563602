/* What a token holds, taken in one pass: for modules that answer every
 * C_FindObjects by checking each object (SoftHSM2's file store), N lookups
 * by CKA_ID cost N scans, and one inventory costs one. */
#include "token_int.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	unsigned char id[64];
	size_t id_len;
	CK_OBJECT_CLASS cls;
	CK_OBJECT_HANDLE h;
};

struct tok_inventory {
	struct entry *v;
	size_t n;
};

/* Modules known to scan every object for each C_FindObjects. */
static const char *const scanning_manufacturers[] = {
	"SoftHSM project",
};

bool
tok_find_is_scan(const struct tok_session *s)
{
	for (size_t i = 0; i < sizeof(scanning_manufacturers) /
				       sizeof(scanning_manufacturers[0]);
	     i++)
		if (strcmp(s->info.manufacturer, scanning_manufacturers[i]) == 0)
			return true;
	return false;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
	int c = memcmp(x->id, y->id, n);

	if (c != 0)
		return c;
	if (x->id_len != y->id_len)
		return x->id_len < y->id_len ? -1 : 1;
	return x->cls < y->cls ? -1 : x->cls > y->cls;
}

/* Every object handle of the session's token. */
static enum cw_err
all_handles(struct tok_session *s, CK_OBJECT_HANDLE **out, size_t *n)
{
	CK_OBJECT_HANDLE *v = NULL;
	size_t cap = 0, len = 0;
	CK_RV rv, rv2;

	rv = s->m->C_FindObjectsInit(s->h, NULL, 0);
	if (rv != CKR_OK)
		return tok_fail("C_FindObjectsInit", rv);
	for (;;) {
		CK_ULONG got = 0;

		if (len + 256 > cap) {
			CK_OBJECT_HANDLE *p = realloc(v, (cap + 1024) * sizeof(*p));

			if (p == NULL) {
				rv = CKR_HOST_MEMORY;
				break;
			}
			v = p;
			cap += 1024;
		}
		rv = s->m->C_FindObjects(s->h, v + len, 256, &got);
		if (rv != CKR_OK || got == 0)
			break;
		len += got;
	}
	rv2 = s->m->C_FindObjectsFinal(s->h);
	if (rv == CKR_OK && rv2 != CKR_OK)
		rv = rv2;
	if (rv != CKR_OK) {
		free(v);
		return rv == CKR_HOST_MEMORY ? CW_ERR_NOMEM
					     : tok_fail("C_FindObjects", rv);
	}
	*out = v;
	*n = len;
	return CW_OK;
}

enum cw_err
tok_inventory_take(struct tok_session *s, struct tok_inventory **out)
{
	struct tok_inventory *inv = calloc(1, sizeof(*inv));
	CK_OBJECT_HANDLE *h = NULL;
	size_t n = 0;
	enum cw_err rc = inv ? all_handles(s, &h, &n) : CW_ERR_NOMEM;

	if (rc == CW_OK && n > 0 && (inv->v = calloc(n, sizeof(*inv->v))) == NULL)
		rc = CW_ERR_NOMEM;
	for (size_t i = 0; rc == CW_OK && i < n; i++) {
		struct entry *e = &inv->v[inv->n];
		CK_ATTRIBUTE a[] = { { CKA_CLASS, &e->cls, sizeof(e->cls) },
				     { CKA_ID, e->id, sizeof(e->id) } };
		CK_RV rv = s->m->C_GetAttributeValue(s->h, h[i], a, 2);

		/* an object without an ID, or with one longer than certwiz
		 * makes, is not one of certwiz's */
		if (rv == CKR_ATTRIBUTE_TYPE_INVALID ||
		    rv == CKR_BUFFER_TOO_SMALL || rv == CKR_OBJECT_HANDLE_INVALID)
			continue;
		if (rv != CKR_OK) {
			rc = tok_fail("C_GetAttributeValue", rv);
			break;
		}
		e->id_len = a[1].ulValueLen;
		e->h = h[i];
		inv->n++;
	}
	free(h);
	if (rc != CW_OK) {
		tok_inventory_free(inv);
		return rc;
	}
	if (inv->n > 1)
		qsort(inv->v, inv->n, sizeof(*inv->v), cmp_entry);
	*out = inv;
	return CW_OK;
}

void
tok_inventory_free(struct tok_inventory *inv)
{
	if (inv == NULL)
		return;
	free(inv->v);
	free(inv);
}

size_t
tok_inventory_count(const struct tok_inventory *inv)
{
	return inv->n;
}

/* The first entry with this id, or NULL. */
static const struct entry *
first(const struct tok_inventory *inv, const struct cw_buf *id)
{
	struct entry key;
	size_t lo = 0, hi = inv->n;

	if (id->len > sizeof(key.id))
		return NULL;
	memset(&key, 0, sizeof(key));
	memcpy(key.id, id->data, id->len);
	key.id_len = id->len;
	key.cls = 0; /* CKO_DATA sorts first */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_entry(&inv->v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < inv->n && inv->v[lo].id_len == id->len &&
	    memcmp(inv->v[lo].id, id->data, id->len) == 0)
		return &inv->v[lo];
	return NULL;
}

void
tok_inventory_lookup(const struct tok_inventory *inv, const struct cw_buf *id,
		     struct tok_objects *out)
{
	const struct entry *e = first(inv, id), *end = inv->v + inv->n;

	memset(out, 0, sizeof(*out));
	for (; e && e < end && e->id_len == id->len &&
	       memcmp(e->id, id->data, id->len) == 0;
	     e++) {
		if (e->cls == CKO_PRIVATE_KEY)
			out->private_key = true;
		else if (e->cls == CKO_PUBLIC_KEY)
			out->public_key = true;
		else if (e->cls == CKO_CERTIFICATE)
			out->certificate = true;
	}
}

enum cw_err
tok_inventory_cert(struct tok_session *s, const struct tok_inventory *inv,
		   const struct cw_buf *id, struct cw_buf *der)
{
	const struct entry *e = first(inv, id), *end = inv->v + inv->n;

	for (; e && e < end && e->id_len == id->len &&
	       memcmp(e->id, id->data, id->len) == 0;
	     e++)
		if (e->cls == CKO_CERTIFICATE)
			return tok_get_attr(s, e->h, CKA_VALUE, der);
	return CW_ERR_NOT_FOUND;
}
