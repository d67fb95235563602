/*
 * Deployment: after a usage's certificate changes (assign, remove, a
 * scheduled assignment taking effect), what its [deploy] section names is
 * brought up to date: the chain and the key's URI go to the service's
 * deployer (the part of certwizd that writes the server's files and runs
 * its check and reload command), and the result is recorded per usage in
 * the store and in the audit trail. A failed deployment is tried again
 * with a growing delay by the service's own schedule (wiz_due).
 */
#define _GNU_SOURCE
#include "wizard_int.h"

#include "certwiz/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct wiz_deployer *deployer;

void
wiz_set_deployer(const struct wiz_deployer *d)
{
	deployer = d;
}

/* The delay before attempt number n + 1 after n failures: [deploy]
 * retry (a minute), doubling, at most an hour. */
static int64_t
backoff(const struct cw_deploy *dep, int64_t failures)
{
	int64_t d = dep->retry > 0 ? dep->retry : 60;

	for (int64_t i = 1; i < failures && d < 3600; i++)
		d *= 2;
	return d < 3600 ? d : 3600;
}

/* What the usage's files must name: its serving certificate's key URI and
 * chain, or nothing (the usage has none: the server is told to refuse). */
static enum cw_err
serving_files(struct wiz *w, const char *usage, int64_t cert_id, char **uri,
              struct cw_buf *chain, char **sha256, char **why)
{
	struct wiz_view v;
	enum cw_err rc;

	if (cert_id == 0)
		return CW_OK;
	rc = wiz_view(w, usage, &v);
	if (rc != CW_OK) {
		*why = cw_printf("cannot read usage '%s': %s", usage,
		                 cw_last_error());
		return rc;
	}
	if (v.key_uri == NULL) {
		*why =
		    cw_printf("the key of the certificate serving '%s' is not "
		              "known",
		              usage);
		rc = CW_ERR_NO_KEY;
	} else {
		struct tok_session *tok = NULL;

		/* a server pointed at a key that is gone fails at its next
		 * start: the key is looked up on its token first */
		rc = wiz_key_on_token(w, &v.key, &tok);
		if (rc != CW_OK)
			*why = cw_printf("the key of the certificate serving "
			                 "'%s' cannot be used: %s",
			                 usage, cw_last_error());
	}
	if (rc == CW_OK)
		rc = wiz_view_pem(&v, chain);
	if (rc == CW_OK && ((*uri = cw_strdup(v.key_uri)) == NULL ||
	                    (*sha256 = cw_strdup(v.cert.sha256)) == NULL))
		rc = CW_ERR_NOMEM;
	wiz_view_release(&v);
	return rc;
}

/* Records an attempt: the deployment row and its audit event, together. */
static enum cw_err
record(struct wiz *w, const struct cw_deploy *dep, const char *usage,
       int64_t cert_id, const char *sha256, const char *why, int64_t now)
{
	struct store_deployment prev, d;
	struct store *s = NULL;
	char *target;
	enum cw_err rc = wiz_store(w, &s);

	if (rc == CW_OK)
		rc = store_begin(s);
	if (rc != CW_OK)
		return rc;
	memset(&d, 0, sizeof(d));
	d.cert_id = cert_id;
	d.state = why ? "failed" : "done";
	d.problem = (char *)why;
	d.attempted_at = now;
	if (why != NULL) {
		d.attempts = 1;
		if (store_deployment_get(s, w->host, usage, &prev) == CW_OK) {
			if (strcmp(prev.state, "failed") == 0 &&
			    prev.cert_id == cert_id)
				d.attempts = prev.attempts + 1;
			store_deployment_release(&prev);
		}
		d.next_attempt = now + backoff(dep, d.attempts);
	}
	rc = store_deployment_set(s, w->host, usage, &d);
	target = audit_target("host", w->host, "usage", usage, "certificate",
	                      sha256 ? sha256 : "none", NULL);
	if (rc == CW_OK)
		rc = target ? wiz_audit(w, "deploy", target,
		                        why ? "failure" : "success", why)
		            : CW_ERR_NOMEM;
	free(target);
	return store_end(s, rc);
}

enum cw_err
wiz_deploy(struct wiz *w, const char *usage)
{
	const struct cw_deploy *d = cw_config_deploy(&w->cfg, usage);
	struct store_assignment a;
	struct cw_buf chain;
	struct store *s = NULL;
	int64_t now = time(NULL), cert_id = 0;
	char *why = NULL, *sha256 = NULL, *uri = NULL;
	enum cw_err rc;

	/* the deploy sections are this machine's servers */
	if (d == NULL || strcmp(w->host, w->own_host) != 0)
		return CW_OK;
	rc = wiz_store(w, &s);
	if (rc != CW_OK)
		return rc;
	rc = store_assignment_serving(s, w->host, usage, now, &a);
	if (rc == CW_OK) {
		cert_id = a.cert_id;
		store_assignment_release(&a);
	} else if (rc != CW_ERR_NOT_FOUND) {
		return rc;
	}
	cw_buf_init(&chain);
	rc = serving_files(w, usage, cert_id, &uri, &chain, &sha256, &why);
	if (rc == CW_OK && deployer == NULL)
		why = cw_strdup("no deployer: deployments are made by certwizd "
		                "(started as root, it keeps a process that may "
		                "write the server's files and reload it)");
	else if (rc == CW_OK)
		why = deployer->deploy(deployer->user, d, usage, uri, &chain);
	else if (why == NULL)
		why = cw_strdup(cw_last_error());
	rc = record(w, d, usage, cert_id, sha256, why, now);
	if (why != NULL) {
		cw_error("usage '%s': deployment failed: %s (tried again by "
		         "certwizd; 'certwiz status' shows it)",
		         usage, why);
		if (rc == CW_OK)
			rc = CW_ERR_DEPLOY;
	} else if (rc == CW_OK) {
		cw_info("usage '%s': deployed to %s%s%s", usage, d->out,
		        d->command ? ", then " : "",
		        d->command ? d->command : "");
	}
	free(why);
	free(sha256);
	free(uri);
	cw_buf_release(&chain);
	return rc;
}

/* Whether usage needs a deployment now; *next: when it will, or stays. */
static enum cw_err
due(struct wiz *w, const char *usage, int64_t now, bool *now_due, int64_t *next)
{
	struct store_deployment d;
	struct store_assignment a;
	int64_t serving = 0;
	enum cw_err rc;

	*now_due = false;
	rc = store_assignment_serving(w->store, w->host, usage, now, &a);
	if (rc == CW_OK) {
		serving = a.cert_id;
		store_assignment_release(&a);
	} else if (rc != CW_ERR_NOT_FOUND) {
		return rc;
	}
	rc = store_assignment_next(w->store, w->host, usage, now, &a);
	if (rc == CW_OK) {
		if (*next == 0 || a.effective_from < *next)
			*next = a.effective_from;
		store_assignment_release(&a);
	} else if (rc != CW_ERR_NOT_FOUND) {
		return rc;
	}
	rc = store_deployment_get(w->store, w->host, usage, &d);
	if (rc == CW_ERR_NOT_FOUND) {
		*now_due = serving != 0; /* never deployed */
		return CW_OK;
	}
	if (rc != CW_OK)
		return rc;
	if (d.cert_id != serving) {
		*now_due = true;
	} else if (strcmp(d.state, "failed") == 0) {
		if (d.next_attempt <= now)
			*now_due = true;
		else if (*next == 0 || d.next_attempt < *next)
			*next = d.next_attempt;
	}
	store_deployment_release(&d);
	return CW_OK;
}

enum cw_err
wiz_due(struct wiz *w, int64_t *next)
{
	struct store *s = NULL;
	int64_t now = time(NULL);
	enum cw_err rc = wiz_store(w, &s), worst = CW_OK;

	*next = 0;
	if (rc == CW_OK)
		rc = store_begin(s);
	/* scheduled assignments whose time has come take effect now, not
	 * when someone next runs a command */
	if (rc == CW_OK)
		rc = store_end(
		    s, store_activate_due(s, now, wiz_audit_activated, w));
	for (size_t i = 0; rc == CW_OK && i < w->cfg.n_deploys; i++) {
		const char *usage = w->cfg.deploys[i].usage;
		bool go = false;

		rc = due(w, usage, now, &go, next);
		if (rc == CW_OK && go) {
			enum cw_err r = wiz_deploy(w, usage);

			if (r == CW_ERR_DEPLOY) {
				worst = r;
				/* its retry time, now recorded */
				rc = due(w, usage, time(NULL), &go, next);
			} else {
				rc = r;
			}
		}
	}
	if (rc == CW_OK && w->cfg.renew_auto) {
		struct wiz_renew_opts ro = {NULL, false, false,
		                            (int)w->cfg.renew_wait};
		struct wiz_renew_item *items = NULL;
		size_t n = 0;

		rc = wiz_renew(w, &ro, &items, &n);
		for (size_t i = 0; rc == CW_OK && i < n; i++) {
			if (items[i].next_at > 0 &&
			    (*next == 0 || items[i].next_at < *next))
				*next = items[i].next_at;
		}
		wiz_renew_items_free(items, n);
		if (rc == CW_OK && w->cfg.renew_prune) {
			struct wiz_prune_item *pv = NULL;
			size_t pn = 0;

			/* a key that cannot be destroyed is reported and
			 * tried again at the next pass */
			(void)wiz_prune(w, false, &pv, &pn);
			for (size_t i = 0; i < pn; i++)
				if (pv[i].destroyed)
					cw_info("pruned key %s (%s)",
					        pv[i].cka_id, pv[i].label);
			wiz_prune_items_free(pv, pn);
		}
	}
	return rc != CW_OK ? rc : worst;
}
