/* View and Export: the certificate serving a usage. */
#include "wizard_int.h"

#include <stdlib.h>
#include <string.h>

void
wiz_view_release(struct wiz_view *v)
{
	if (v == NULL)
		return;
	store_assignment_release(&v->assignment);
	store_cert_release(&v->cert);
	x509_info_release(&v->info);
	store_key_release(&v->key);
	store_token_release(&v->token);
	free(v->key_uri);
	x509_bundle_release(&v->chain);
	cw_strlist_release(&v->chain_subjects);
	memset(v, 0, sizeof(*v));
}

static enum cw_err
load_key(struct store *s, struct wiz_view *v)
{
	struct cw_buf id;
	enum cw_err rc;

	if (v->cert.key_id == 0)
		return CW_OK;
	cw_buf_init(&id);
	rc = store_key_get(s, v->cert.key_id, &v->key);
	if (rc == CW_OK)
		rc = store_token_get(s, v->key.token_id, &v->token);
	if (rc == CW_OK)
		rc = cw_unhex(v->key.cka_id, &id);
	if (rc == CW_OK &&
	    (v->key_uri = tok_key_uri(v->token.label, v->token.serial,
	                              v->token.manufacturer, &id)) == NULL)
		rc = CW_ERR_NOMEM;
	cw_buf_release(&id);
	return rc;
}

static enum cw_err
load_chain(struct wiz_view *v)
{
	enum cw_err rc = wiz_cert_chain(&v->cert, &v->chain);

	for (size_t i = 0; rc == CW_OK && i < v->chain.n; i++) {
		struct x509_info ci;

		rc = x509_info_parse(v->chain.certs[i].data,
				     v->chain.certs[i].len, &ci);
		if (rc == CW_OK) {
			rc = cw_strlist_add(&v->chain_subjects, ci.subject);
			x509_info_release(&ci);
		}
	}
	return rc;
}

enum cw_err
wiz_view(struct wiz *w, const char *usage, struct wiz_view *out)
{
	struct topo_usage u;
	struct store *s = NULL;
	struct wiz_view v;
	enum cw_err rc;

	memset(&v, 0, sizeof(v));
	rc = wiz_usage(w, usage, &u);
	if (rc != CW_OK)
		return rc;
	topo_usage_release(&u);
	rc = wiz_store(w, &s);
	if (rc == CW_OK)
		rc = store_assignment_serving(s, w->host, usage, time(NULL),
					      &v.assignment);
	if (rc == CW_ERR_NOT_FOUND) {
		cw_error("no certificate is assigned to usage '%s' of '%s'",
			 usage, w->host);
		rc = CW_ERR_UNAVAILABLE;
	}
	if (rc == CW_OK)
		rc = store_cert_get(s, v.assignment.cert_id, &v.cert);
	if (rc == CW_OK)
		rc = x509_info_parse(v.cert.der.data, v.cert.der.len, &v.info);
	if (rc == CW_OK)
		rc = load_key(s, &v);
	if (rc == CW_OK)
		rc = load_chain(&v);
	if (rc != CW_OK) {
		wiz_view_release(&v);
		return rc;
	}
	*out = v;
	return CW_OK;
}

enum cw_err
wiz_view_pem(const struct wiz_view *v, struct cw_buf *out)
{
	struct cw_buf pem;
	enum cw_err rc;

	cw_buf_init(&pem);
	rc = x509_pem("CERTIFICATE", &v->cert.der, &pem);
	if (rc == CW_OK)
		rc = cw_buf_append(out, pem.data, pem.len);
	for (size_t i = 0; rc == CW_OK && i < v->chain.n; i++) {
		rc = x509_pem("CERTIFICATE", &v->chain.certs[i], &pem);
		if (rc == CW_OK)
			rc = cw_buf_append(out, pem.data, pem.len);
	}
	cw_buf_release(&pem);
	return rc;
}

void
wiz_export_result_release(struct wiz_export_result *r)
{
	if (r == NULL)
		return;
	free(r->chain_path);
	free(r->uri_path);
	free(r->key_uri);
	for (size_t i = 0; i < r->n_files; i++)
		free(r->files[i]);
	free(r->access);
	memset(r, 0, sizeof(*r));
}

enum cw_err
wiz_export(struct wiz *w, const char *usage, const char *dir,
           const struct wiz_export_opts *o, struct wiz_export_result *out)
{
	struct wiz_export_result r;
	struct wiz_view v;
	struct cw_buf pem;
	char *line = NULL, *contents[WIZ_EXPORT_FILES] = {NULL};
	enum cw_err rc;

	memset(&r, 0, sizeof(r));
	cw_buf_init(&pem);
	rc = wiz_view(w, usage, &v);
	if (rc != CW_OK)
		return rc;
	if (v.key_uri == NULL) {
		cw_error("the key of the certificate serving '%s' is not known",
			 usage);
		rc = CW_ERR_NO_KEY;
	}
	/* a server pointed at a key that is gone would fail at its next
	 * start: the key is looked up on its token first */
	if (rc == CW_OK) {
		struct tok_session *tok = NULL;

		rc = wiz_key_on_token(w, &v.key, &tok);
		if (rc != CW_OK)
			cw_error("nothing is exported for usage '%s': its key "
				 "cannot be used (request a new certificate, or "
				 "run 'certwiz refresh' once the token is back)",
				 usage);
	}
	if (rc == CW_OK)
		rc = wiz_view_pem(&v, &pem);
	r.chain_path = cw_printf("%s/%s.chain.pem", dir, usage);
	r.uri_path = cw_printf("%s/%s.key.uri", dir, usage);
	r.key_uri = cw_strdup(v.key_uri);
	line = cw_printf("%s\n", v.key_uri ? v.key_uri : "");
	if (rc == CW_OK && (!r.chain_path || !r.uri_path || !r.key_uri || !line))
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK && o != NULL && o->server != NULL)
		rc = wiz_export_server(w, usage, dir, o, &r, contents);
	/* all staged before any is published */
	if (rc == CW_OK)
		rc = wiz_out_stage(w, r.chain_path, pem.data, pem.len, 0644,
				   true);
	if (rc == CW_OK)
		rc = wiz_out_stage(w, r.uri_path, line, strlen(line), 0644,
				   true);
	for (size_t i = 0; rc == CW_OK && i < r.n_files; i++)
		rc = wiz_out_stage(w, r.files[i], contents[i],
		                   strlen(contents[i]), 0644, true);
	if (rc == CW_OK)
		rc = wiz_out_publish(w, r.chain_path);
	if (rc == CW_OK)
		rc = wiz_out_publish(w, r.uri_path);
	for (size_t i = 0; rc == CW_OK && i < r.n_files; i++)
		rc = wiz_out_publish(w, r.files[i]);
	if (rc == CW_OK) {
		*out = r;
		memset(&r, 0, sizeof(r));
	}
	free(line);
	for (size_t i = 0; i < WIZ_EXPORT_FILES; i++)
		free(contents[i]);
	cw_buf_release(&pem);
	wiz_view_release(&v);
	wiz_export_result_release(&r);
	return rc;
}
