/* Audit events: canonical form and hash chain. */
#include "certwiz/audit.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ,"key":VALUE with VALUE as JSON text (a string encoded, or raw). */
static bool
put(struct cw_buf *b, const char *key, const char *value, bool raw)
{
	json_t *j = raw ? NULL : json_string(value);
	char *enc = raw ? NULL : (j ? json_dumps(j, JSON_ENCODE_ANY) : NULL);
	const char *v = raw ? value : enc;
	bool ok = v != NULL && cw_buf_append(b, b->len > 1 ? "," : "",
					     b->len > 1) == CW_OK &&
		  cw_buf_append(b, "\"", 1) == CW_OK &&
		  cw_buf_append(b, key, strlen(key)) == CW_OK &&
		  cw_buf_append(b, "\":", 2) == CW_OK &&
		  cw_buf_append(b, v, strlen(v)) == CW_OK;

	free(enc);
	json_decref(j);
	return ok;
}

/*
 * {"host":..,"operation":..,"outcome":..,"reason":.. or null,"seq":N,
 * "target":T,"time":..,"uid":N,"user":..}, keys sorted, no spaces (what
 * jansson's compact, sorted output gives, as earlier releases hashed),
 * with the target's stored text put in as it is: the hash covers the exact bytes of every field, so that text
 * that parses to something else (a key given twice) cannot keep a hash.
 * The target certwiz writes is already in this form (audit_target).
 */
char *
audit_canonical(const struct audit_event *e)
{
	struct cw_buf b;
	char seq[24], uid[24];

	snprintf(seq, sizeof(seq), "%lld", (long long)e->seq);
	snprintf(uid, sizeof(uid), "%u", e->uid);
	cw_buf_init(&b);
	if (cw_buf_append(&b, "{", 1) != CW_OK ||
	    !put(&b, "host", e->host, false) ||
	    !put(&b, "operation", e->operation, false) ||
	    !put(&b, "outcome", e->outcome, false) ||
	    !put(&b, "reason", e->reason ? e->reason : "null", !e->reason) ||
	    !put(&b, "seq", seq, true) ||
	    !put(&b, "target", e->target ? e->target : "{}", true) ||
	    !put(&b, "time", e->time, false) || !put(&b, "uid", uid, true) ||
	    !put(&b, "user", e->user, false) ||
	    cw_buf_append(&b, "}", 1) != CW_OK) {
		cw_buf_release(&b);
		return NULL;
	}
	return (char *)b.data;
}

bool
audit_target_canonical(const char *target)
{
	json_t *j = json_loads(target, JSON_REJECT_DUPLICATES, NULL);
	char *again = json_is_object(j)
			      ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)
			      : NULL;
	bool yes = again != NULL && strcmp(again, target) == 0;

	free(again);
	json_decref(j);
	return yes;
}

enum cw_err
audit_hash(const char *prev, const struct audit_event *e, char out[65])
{
	char *canon = audit_canonical(e);
	unsigned char d[32];
	unsigned int len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *hex = NULL;
	enum cw_err rc = CW_ERR_NOMEM;

	if (canon != NULL && md != NULL &&
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(md, prev, strlen(prev)) &&
	    EVP_DigestUpdate(md, canon, strlen(canon)) &&
	    EVP_DigestFinal_ex(md, d, &len) && (hex = cw_hex(d, len))) {
		memcpy(out, hex, 65);
		rc = CW_OK;
	}
	free(hex);
	free(canon);
	EVP_MD_CTX_free(md);
	return rc;
}

char *
audit_checkpoint_message(int64_t seq, const char *hash, const char *time)
{
	return cw_printf("certwiz audit checkpoint\nseq %lld\nhash %s\ntime "
			 "%s\n",
			 (long long)seq, hash, time);
}

char *
audit_target(const char *key, ...)
{
	json_t *o = json_object();
	va_list ap;
	char *s;

	va_start(ap, key);
	while (o && key) {
		const char *v = va_arg(ap, const char *);

		if (v != NULL)
			json_object_set_new(o, key, json_string(v));
		key = va_arg(ap, const char *);
	}
	va_end(ap);
	s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	return s;
}
