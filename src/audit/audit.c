/* Audit events: canonical form and hash chain. */
#include "certwiz/audit.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

char *
audit_canonical(const struct audit_event *e)
{
	json_t *target = json_loads(e->target ? e->target : "{}", 0, NULL);
	json_t *o;
	char *s;

	if (target == NULL)
		target = json_string(e->target);
	o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:o, s:s, s:s?}", "seq",
		      (json_int_t)e->seq, "time", e->time, "uid",
		      (json_int_t)e->uid, "user", e->user, "host", e->host,
		      "operation", e->operation, "target", target, "outcome",
		      e->outcome, "reason", e->reason);
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
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
