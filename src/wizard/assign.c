/* Assign and Remove. */
#include "wizard_int.h"

#include <stdlib.h>
#include <string.h>

void
wiz_assign_result_release(struct wiz_assign_result *r)
{
	if (r == NULL)
		return;
	free(r->sha256);
	free(r->subject);
	memset(r, 0, sizeof(*r));
}

static enum cw_err
find_cert(struct store *s, const char *ref, struct store_cert *out)
{
	enum cw_err rc = store_cert_find(s, ref, out);

	if (rc == CW_ERR_NOT_FOUND)
		cw_error("no certificate '%s' in the store (see 'certwiz list "
			 "--certs')",
			 ref);
	return rc;
}

/* Every usage exists for this host and the certificate fits each. */
static enum cw_err
check_fit(struct wiz *w, const struct wiz_assign_opts *o,
	  const struct store_cert *c, time_t now)
{
	enum cw_err rc = CW_OK;

	for (size_t i = 0; i < o->usages->n && rc == CW_OK; i++) {
		struct topo_usage u;
		struct cw_strlist why;

		rc = wiz_usage(w, o->usages->v[i], &u);
		if (rc != CW_OK)
			break;
		cw_strlist_init(&why);
		rc = wiz_fit_problems(c, &u, o->scheduled ? o->at : now, &why);
		for (size_t k = 0; k < why.n; k++)
			cw_error("certificate %.16s cannot serve usage '%s': %s",
				 c->sha256, u.name, why.v[k]);
		if (rc == CW_OK && why.n > 0)
			rc = CW_ERR_POLICY;
		cw_strlist_release(&why);
		topo_usage_release(&u);
	}
	return rc;
}

static enum cw_err
check_key(struct wiz *w, struct store *s, const struct store_cert *c)
{
	struct tok_session *tok = NULL;
	struct store_key key;
	enum cw_err rc;

	if (c->key_id == 0) {
		cw_error("certificate %.16s has no key certwiz knows", c->sha256);
		return CW_ERR_NO_KEY;
	}
	rc = store_key_get(s, c->key_id, &key);
	if (rc != CW_OK)
		return rc;
	if (strcmp(key.state, "ready") != 0) {
		cw_error("the key of certificate %.16s is %s", c->sha256,
			 key.state);
		rc = CW_ERR_NO_KEY;
	} else {
		rc = wiz_key_on_token(w, &key, &tok);
	}
	store_key_release(&key);
	return rc;
}

static enum cw_err
record(struct wiz *w, struct store *s, const struct wiz_assign_opts *o,
       const struct store_cert *c, time_t now)
{
	char *by = strdup(wiz_caller_name(w));
	enum cw_err rc = by ? store_begin(s) : CW_ERR_NOMEM;

	if (rc == CW_OK)
		rc = store_activate_due(s, now, wiz_audit_activated, w);
	for (size_t i = 0; i < o->usages->n && rc == CW_OK; i++) {
		struct store_assignment cur;

		if (!o->scheduled &&
		    store_assignment_serving(s, w->host, o->usages->v[i], now,
					     &cur) == CW_OK) {
			bool same = cur.cert_id == c->id;

			store_assignment_release(&cur);
			if (same) {
				cw_error("certificate %.16s already serves "
					 "usage '%s'",
					 c->sha256, o->usages->v[i]);
				rc = CW_ERR_EXISTS;
				break;
			}
		}
		rc = o->scheduled ? store_assign_at(s, w->host, o->usages->v[i],
						    c->id, by, now, o->at)
				  : store_assign_now(s, w->host,
						     o->usages->v[i], c->id, by,
						     now);
		if (rc == CW_OK)
			rc = wiz_audit_assignment(
				w,
				o->scheduled ? "assignment-scheduled"
					     : "assignment-made",
				o->usages->v[i], c->sha256,
				o->scheduled ? o->at : now);
	}
	rc = store_end(s, rc);
	free(by);
	return rc;
}

enum cw_err
wiz_assign(struct wiz *w, const struct wiz_assign_opts *o,
	   struct wiz_assign_result *out)
{
	struct store_cert c;
	struct store *s = NULL;
	time_t now = time(NULL);
	enum cw_err rc;

	memset(&c, 0, sizeof(c));
	if (o->usages->n == 0) {
		cw_error("at least one --usage is needed");
		return CW_ERR_USAGE;
	}
	if (o->scheduled && o->at <= now) {
		cw_error("--effective-at must be in the future");
		return CW_ERR_USAGE;
	}
	rc = wiz_store(w, &s);
	if (rc == CW_OK)
		rc = find_cert(s, o->cert, &c);
	if (rc == CW_OK)
		rc = check_fit(w, o, &c, now);
	if (rc == CW_OK)
		rc = wiz_verify_chain(w, &c, o->scheduled ? o->at : now);
	if (rc == CW_OK)
		rc = check_key(w, s, &c);
	if (rc == CW_OK)
		rc = record(w, s, o, &c, now);
	if (rc == CW_OK) {
		out->cert_id = c.id;
		out->sha256 = strdup(c.sha256);
		out->subject = strdup(c.subject);
		out->scheduled = o->scheduled;
		out->effective = o->scheduled ? o->at : now;
		if (!out->sha256 || !out->subject)
			rc = CW_ERR_NOMEM;
	}
	store_cert_release(&c);
	return rc;
}

enum cw_err
wiz_remove(struct wiz *w, const char *usage, int64_t *cert_id)
{
	struct store_assignment cur;
	struct topo_usage u;
	struct store *s = NULL;
	time_t now = time(NULL);
	int ended = 0;
	enum cw_err rc;

	rc = wiz_usage(w, usage, &u);
	if (rc != CW_OK)
		return rc;
	topo_usage_release(&u);
	rc = wiz_store(w, &s);
	if (rc == CW_OK)
		rc = store_begin(s);
	if (rc != CW_OK)
		return rc;
	rc = store_activate_due(s, now, wiz_audit_activated, w);
	if (rc == CW_OK)
		rc = store_assignment_serving(s, w->host, usage, now, &cur);
	if (rc == CW_ERR_NOT_FOUND) {
		cw_error("no certificate is assigned to usage '%s' of '%s'",
			 usage, w->host);
		rc = CW_ERR_UNAVAILABLE;
	}
	if (rc == CW_OK) {
		struct store_cert c;

		*cert_id = cur.cert_id;
		store_assignment_release(&cur);
		rc = store_unassign(s, w->host, usage, now, &ended);
		if (rc == CW_OK)
			rc = store_cert_get(s, *cert_id, &c);
		if (rc == CW_OK) {
			rc = wiz_audit_assignment(w, "assignment-removed", usage,
						  c.sha256, now);
			store_cert_release(&c);
		}
	}
	return store_end(s, rc);
}
