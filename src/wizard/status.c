/* Status: the wizard's screen for each usage, from the store alone. */
#include "wizard_int.h"

#include <stdlib.h>
#include <string.h>


static void
status_release(struct wiz_status *v)
{
	free(v->usage);
	store_cert_release(&v->cert);
	store_assignment_release(&v->assignment);
	free(v->key_origin);
	store_cert_release(&v->next_cert);
	store_assignment_release(&v->next);
	cw_strlist_release(&v->requests);
	cw_strlist_release(&v->problems);
	free(v->severity);
	store_deployment_release(&v->deployment);
	store_renewal_release(&v->renewal);
}

void
wiz_status_free(struct wiz_status *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		status_release(&v[i]);
	free(v);
}

struct ctx {
	struct wiz *w;
	struct wiz_status *v;
	const struct topo_usage *u;
	time_t now;
	int warn_days;
	bool anchors; /* something to verify chains with */
};

static enum cw_err
on_request(void *user, const struct store_request *r)
{
	struct ctx *c = user;
	char next[40] = "", *line;
	enum cw_err rc;

	if (r->next_attempt > 0) {
		memcpy(next, " next ", 6);
		cw_time_format((time_t)r->next_attempt, next + 6,
		               sizeof(next) - 6);
	}
	/* "ID STATE PROTOCOL", then for an online one its CA, the CA's
	 * reference and the next attempt */
	if (strcmp(r->protocol, "offline") == 0)
		line = cw_printf("%lld %s %s", (long long)r->id, r->state,
		                 r->protocol);
	else
		line = cw_printf("%lld %s %s ca %s reference %s%s",
		                 (long long)r->id, r->state, r->protocol,
		                 r->ca ? r->ca : "-",
		                 r->ca_ref ? r->ca_ref : "-", next);
	rc = line ? cw_strlist_add(&c->v->requests, line) : CW_ERR_NOMEM;

	/* an online request the CA has not finished can be taken up; an
	 * offline one waits for an import instead */
	if (strcmp(r->protocol, "offline") != 0)
		c->v->can_process_pending = true;
	free(line);
	return rc;
}

/* Stops at the first certificate that could be assigned. */
static enum cw_err
on_candidate(void *user, const struct store_cert *cert)
{
	struct ctx *c = user;
	struct cw_strlist why;
	enum cw_err rc;

	if (c->v->assigned && cert->id == c->v->cert.id)
		return CW_OK;
	cw_strlist_init(&why);
	rc = wiz_fit_problems(cert, c->u, c->now, &why);
	if (rc == CW_OK && why.n == 0) {
		int level = cw_log_get_level();

		cw_log_set_level(CW_LOG_QUIET); /* a misfit is not an error */
		if (wiz_verify_chain(c->w, cert, c->now) != CW_OK)
			rc = cw_strlist_add(&why, "chain");
		cw_log_set_level((enum cw_log_level)level);
	}
	if (rc == CW_OK && why.n == 0) {
		c->v->assign_candidate = cert->id;
		rc = CW_ERR_EXISTS; /* found: stop the walk */
	}
	cw_strlist_release(&why);
	return rc;
}

/* Gives the problems added since the last call their severity. */
static enum cw_err
rate(struct wiz_status *v, enum wiz_severity sev)
{
	size_t from = v->n_severity;
	enum wiz_severity *p;

	if (from == v->problems.n)
		return CW_OK;
	p = realloc(v->severity, v->problems.n * sizeof(*p));
	if (p == NULL)
		return CW_ERR_NOMEM;
	v->severity = p;
	for (size_t i = from; i < v->problems.n; i++)
		p[i] = sev;
	v->n_severity = v->problems.n;
	return CW_OK;
}

static enum cw_err
add_problem(struct wiz_status *v, enum wiz_severity sev, char *line)
{
	enum cw_err rc = line ? cw_strlist_add(&v->problems, line)
			      : CW_ERR_NOMEM;

	free(line);
	return rc == CW_OK ? rate(v, sev) : rc;
}

/* The token's word at the last refresh. */
static enum cw_err
token_problem(struct store *s, const struct store_key *key,
	      struct wiz_status *v)
{
	struct store_token t;
	char since[32];
	enum cw_err rc = store_token_get(s, key->token_id, &t);

	if (rc != CW_OK)
		return rc;
	if (t.problem != NULL) {
		cw_time_format((time_t)t.problem_since, since, sizeof(since));
		rc = add_problem(v, WIZ_CRITICAL,
				 cw_printf("token '%s' could not be opened "
					   "at the last refresh (since %s): %s",
					   t.label, since, t.problem));
	}
	store_token_release(&t);
	return rc;
}

/* What is wrong with the serving certificate, as the store knows it. */
static enum cw_err
problems(struct store *s, struct ctx *c)
{
	struct wiz_status *v = c->v;
	struct store_key key;
	enum cw_err rc;
	long days = (long)((v->cert.not_after - c->now) / 86400);

	rc = wiz_fit_problems(&v->cert, c->u, c->now, &v->problems);
	if (rc == CW_OK)
		rc = rate(v, WIZ_CRITICAL);
	if (rc == CW_OK && v->cert.not_after > c->now && days < c->warn_days)
		rc = add_problem(v, WIZ_WARNING,
				 cw_printf("expires in %ld days", days));
	if (rc == CW_OK && v->cert.chain_state == STORE_CHAIN_INCOMPLETE)
		rc = add_problem(v, WIZ_CRITICAL,
				 cw_printf("its chain lacks an issuer: import "
					   "the issuer's certificate"));
	if (rc == CW_OK && v->cert.mismatch != NULL)
		rc = add_problem(v, WIZ_WARNING,
				 cw_printf("imported with --accept-mismatch: "
					   "%s",
					   v->cert.mismatch));
	if (rc == CW_OK && strcmp(v->cert.token_state, "missing") == 0)
		rc = add_problem(v, WIZ_WARNING,
				 cw_printf("certificate missing from the "
					   "token"));
	if (rc != CW_OK || v->cert.key_id == 0)
		return rc == CW_OK && v->cert.key_id == 0
			       ? add_problem(v, WIZ_WARNING,
					     cw_printf("key not known"))
			       : rc;
	rc = store_key_get(s, v->cert.key_id, &key);
	if (rc != CW_OK)
		return rc;
	v->key_origin = strdup(key.origin);
	if (strcmp(key.state, "gone") == 0)
		rc = add_problem(v, WIZ_CRITICAL,
				 cw_printf("key missing from the token"));
	if (rc == CW_OK)
		rc = token_problem(s, &key, v);
	if (rc == CW_OK && strcmp(key.origin, "imported") == 0)
		rc = add_problem(v, WIZ_NOTE,
				 cw_printf("key was imported (it was "
					   "outside the hardware once)"));
	store_key_release(&key);
	return rc;
}

/* When the usage is due for renewal, and how the last attempt went. */
static enum cw_err
renewal(struct wiz *w, struct store *s, const char *usage, time_t now,
        struct wiz_status *v)
{
	struct store_renewal *r = &v->renewal;
	char t[32];
	enum cw_err rc;

	if (v->assigned)
		v->renew_due = wiz_renew_due(&w->cfg, &v->cert);
	rc = store_renewal_get(s, w->host, usage, r);
	if (rc == CW_ERR_NOT_FOUND)
		return CW_OK;
	if (rc != CW_OK || strcmp(r->state, "failed") != 0 ||
	    (v->assigned && r->from_cert_id != v->cert.id))
		return rc;
	cw_time_format(r->next_attempt, t, sizeof(t));
	/* critical once the certificate it should replace has fewer than
	 * [renew] critical_days left */
	return add_problem(v,
	                   v->assigned && v->cert.not_after - now <
	                                      w->cfg.renew_critical_days * 86400
	                       ? WIZ_CRITICAL
	                       : WIZ_WARNING,
	                   cw_printf("renewal failed %lld time%s (next try "
	                             "%s): %s",
	                             (long long)r->attempts,
	                             r->attempts == 1 ? "" : "s", t,
	                             r->problem ? r->problem : "?"));
}

/* What the usage's [deploy] files name, and whether that is a problem. */
static enum cw_err
deployment(struct wiz *w, struct store *s, const char *usage,
           struct wiz_status *v)
{
	struct store_deployment *d = &v->deployment;
	int64_t serving = v->assigned ? v->assignment.cert_id : 0;
	char t[32];
	enum cw_err rc;

	if (cw_config_deploy(&w->cfg, usage) == NULL ||
	    strcmp(w->host, w->own_host) != 0)
		return CW_OK;
	v->has_deploy = true;
	rc = store_deployment_get(s, w->host, usage, d);
	if (rc == CW_ERR_NOT_FOUND) {
		d->cert_id = -1;
		return serving ? add_problem(v, WIZ_WARNING,
		                             cw_printf("not deployed yet "
		                                       "(certwizd deploys it)"))
		               : CW_OK;
	}
	if (rc != CW_OK)
		return rc;
	if (strcmp(d->state, "failed") == 0) {
		cw_time_format(d->next_attempt, t, sizeof(t));
		return add_problem(v, WIZ_CRITICAL,
		                   cw_printf("deployment failed %lld time%s "
		                             "(next try %s): %s",
		                             (long long)d->attempts,
		                             d->attempts == 1 ? "" : "s", t,
		                             d->problem ? d->problem : "?"));
	}
	if (d->cert_id != serving)
		return add_problem(v, WIZ_WARNING,
		                   cw_printf("the deployed files name %s "
		                             "(certwizd deploys the change)",
		                             d->cert_id ? "another certificate"
		                                        : "no certificate"));
	return CW_OK;
}

static enum cw_err
one_usage(struct wiz *w, struct store *s, const char *usage, time_t now,
	  int warn_days, struct wiz_status *v)
{
	struct topo_usage u;
	struct ctx c = { w, v, &u, now, warn_days, false };
	struct cw_strlist anchors;
	enum cw_err rc = wiz_usage(w, usage, &u);

	if (rc != CW_OK)
		return rc;
	if (wiz_anchors(w, &anchors) == CW_OK)
		c.anchors = anchors.n > 0;
	cw_strlist_release(&anchors);
	v->usage = strdup(usage);
	v->can_request = true;
	rc = store_assignment_serving(s, w->host, usage, now, &v->assignment);
	if (rc == CW_OK) {
		v->assigned = v->can_remove = v->can_view = true;
		rc = store_cert_get(s, v->assignment.cert_id, &v->cert);
		if (rc == CW_OK)
			rc = problems(s, &c);
	} else if (rc == CW_ERR_NOT_FOUND) {
		rc = CW_OK;
	}
	if (rc == CW_OK &&
	    store_assignment_next(s, w->host, usage, now, &v->next) == CW_OK) {
		v->has_next = true;
		rc = store_cert_get(s, v->next.cert_id, &v->next_cert);
	}
	if (rc == CW_OK)
		rc = store_each_open_request(s, w->host, usage, on_request, &c);
	if (rc == CW_OK)
		rc = deployment(w, s, usage, v);
	if (rc == CW_OK)
		rc = renewal(w, s, usage, now, v);
	if (rc == CW_OK && !c.anchors) {
		/* nothing can be assigned: say why instead of offering it */
		rc = add_problem(v, WIZ_WARNING,
				 cw_printf("no trust anchors configured ([trust] "
					   "anchors or a CA profile's roots): "
					   "nothing can be assigned"));
	} else if (rc == CW_OK) {
		/* Only certificates that carry the usage's first name can
		 * fit: the index finds them. */
		rc = store_each_valid_cert(s, now,
					   u.names.n ? u.names.v[0] : NULL,
					   on_candidate, &c);
		if (rc == CW_ERR_EXISTS)
			rc = CW_OK;
		v->can_assign = v->assign_candidate != 0;
	}
	topo_usage_release(&u);
	return rc;
}

enum cw_err
wiz_status(struct wiz *w, const char *usage, int warn_days,
	   struct wiz_status **out, size_t *n)
{
	const struct topo *t = NULL;
	struct cw_strlist usages;
	struct wiz_status *v = NULL;
	struct store *s = NULL;
	time_t now = time(NULL);
	enum cw_err rc;

	cw_strlist_init(&usages);
	rc = wiz_topology(w, &t);
	if (rc == CW_OK)
		rc = usage ? cw_strlist_add(&usages, usage)
			   : topo_host_usages(t, w->host, &usages);
	if (rc == CW_OK)
		rc = wiz_store(w, &s);
	if (rc == CW_OK && (v = calloc(usages.n + 1, sizeof(*v))) == NULL)
		rc = CW_ERR_NOMEM;
	for (size_t i = 0; rc == CW_OK && i < usages.n; i++)
		rc = one_usage(w, s, usages.v[i], now,
			       warn_days != 0 ? warn_days : WIZ_WARN_DAYS,
			       &v[i]);
	if (rc == CW_OK) {
		*out = v;
		*n = usages.n;
	} else {
		wiz_status_free(v, usages.n);
	}
	cw_strlist_release(&usages);
	return rc;
}
