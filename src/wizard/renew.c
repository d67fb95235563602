/*
 * Renewal: a usage whose certificate is due gets a new one from the CA
 * its topology names, with a fresh key pair generated in the token (never
 * the old key), a CSR from the topology as it is now, and the takeover
 * made at issuance (the old certificate stays valid until it expires, and
 * in the history). A request the CA still holds is resumed, never made
 * again. Each attempt is recorded per usage (store and audit); a failed
 * one is tried again after [renew] retry seconds, doubling.
 */
#define _GNU_SOURCE
#include "wizard_int.h"

#include "certwiz/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t
wiz_renew_due(const struct cw_config *cfg, const struct store_cert *c)
{
	int64_t life = c->not_after - c->not_before, before, spread = 0;
	int64_t by_days = (int64_t)cfg->renew_days * 86400;

	if (life <= 0)
		return c->not_after;
	/* a third of the lifetime left, or the configured days before
	 * expiry, whichever comes first; never before a third of the
	 * lifetime has passed (days longer than the lifetime would renew
	 * every new certificate at once) */
	before = life / 3;
	if (by_days > before)
		before = by_days < 2 * life / 3 ? by_days : 2 * life / 3;
	/* the same spread for a certificate at every pass: from its
	 * thumbprint, at most a tenth of its lifetime */
	if (cfg->renew_spread > 0 && c->sha256 != NULL) {
		unsigned long h =
		    strtoul((char[9]){c->sha256[0], c->sha256[1], c->sha256[2],
		                      c->sha256[3], c->sha256[4], c->sha256[5],
		                      c->sha256[6], c->sha256[7], 0},
		            NULL, 16);
		int64_t max = cfg->renew_spread < life / 10 ? cfg->renew_spread
		                                            : life / 10;

		spread = max > 0 ? (int64_t)(h % (unsigned long)(max + 1)) : 0;
	}
	return c->not_after - before - spread;
}

void
wiz_renew_items_free(struct wiz_renew_item *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].usage);
		free(v[i].detail);
		free(v[i].note);
	}
	free(v);
}

/* Finds the usage's open online request (the first one). */
struct open_req {
	int64_t id;
};

static enum cw_err
on_open(void *user, const struct store_request *r)
{
	struct open_req *o = user;

	if (o->id == 0 && strcmp(r->protocol, "offline") != 0)
		o->id = r->id;
	return CW_OK;
}

static enum cw_err
keep_outcome(void *user, const struct wiz_acme_outcome *o, enum cw_err rc)
{
	struct wiz_renew_item *it = user;

	it->request_id = o->request_id;
	if (rc == CW_OK)
		it->new_cert_id = o->cert_id;
	else if (o->problem != NULL && it->detail == NULL)
		it->detail = cw_strdup(o->problem);
	return CW_OK;
}

/* Records the attempt: the renewal row and its audit event, together. */
static enum cw_err
record(struct wiz *w, struct wiz_renew_item *it, const char *usage,
       enum cw_err outcome, int64_t now)
{
	struct store_renewal prev, r;
	struct store *s = NULL;
	char *target, from[24], to[24];
	enum cw_err rc = wiz_store(w, &s);
	bool failed = outcome != CW_OK && outcome != CW_ERR_PENDING;

	if (rc == CW_OK)
		rc = store_begin(s);
	if (rc != CW_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	r.state = failed ? "failed" : outcome == CW_OK ? "renewed" : "pending";
	r.from_cert_id = it->cert_id;
	r.cert_id = it->new_cert_id;
	r.request_id = it->request_id;
	r.problem = failed ? it->detail : NULL;
	r.attempted_at = now;
	if (failed) {
		int64_t d = w->cfg.renew_retry;

		r.attempts = 1;
		if (store_renewal_get(s, w->host, usage, &prev) == CW_OK) {
			if (strcmp(prev.state, "failed") == 0 &&
			    prev.from_cert_id == it->cert_id)
				r.attempts = prev.attempts + 1;
			store_renewal_release(&prev);
		}
		for (int64_t i = 1; i < r.attempts && d < 86400; i++)
			d *= 2;
		r.next_attempt = now + (d < 86400 ? d : 86400);
		it->next_at = r.next_attempt;
	}
	rc = store_renewal_set(s, w->host, usage, &r);
	snprintf(from, sizeof(from), "%lld", (long long)it->cert_id);
	snprintf(to, sizeof(to), "%lld", (long long)it->new_cert_id);
	target =
	    audit_target("host", w->host, "usage", usage, "certificate", from,
	                 "renewed_by", it->new_cert_id ? to : "none", NULL);
	if (rc == CW_OK)
		rc = target ? wiz_audit(w, "renewal", target,
		                        failed ? "failure" : "success",
		                        outcome == CW_ERR_PENDING
		                            ? "pending: the CA has the request"
		                            : it->detail)
		            : CW_ERR_NOMEM;
	free(target);
	return store_end(s, rc);
}

/* The new certificate takes over: now, or after [renew] overlap seconds
 * (the old one serving, and deployed, until then). */
static enum cw_err
takeover(struct wiz *w, struct wiz_renew_item *it,
         const struct cw_strlist *group, int64_t now)
{
	struct wiz_assign_opts ao;
	struct wiz_assign_result ar;
	char id[24];
	enum cw_err rc;

	snprintf(id, sizeof(id), "%lld", (long long)it->new_cert_id);
	ao = (struct wiz_assign_opts){id, group, w->cfg.renew_overlap > 0,
	                              (time_t)(now + w->cfg.renew_overlap)};
	if (ao.scheduled && ao.at <= time(NULL))
		ao.at = time(NULL) + 1;
	rc = wiz_assign(w, &ao, &ar);
	if (rc == CW_OK) {
		it->takeover_at = ar.effective;
		wiz_assign_result_release(&ar);
	} else {
		it->detail =
		    cw_printf("certificate %lld is issued, but it "
		              "could not be assigned: %s",
		              (long long)it->new_cert_id, cw_last_error());
	}
	return rc;
}

/* Tells the notifier what the attempt came to. */
static void
notify(struct wiz *w, const struct wiz_renew_item *it, const char *usage,
       enum cw_err rc, int64_t now)
{
	struct store_cert c;
	int64_t show = rc == CW_OK ? it->new_cert_id : it->cert_id;
	bool have = store_cert_get(w->store, show, &c) == CW_OK;

	if (rc == CW_OK)
		wiz_notify(w, "renewed", "info", usage, have ? &c : NULL,
		           it->takeover_at > now ? "takes over later" : NULL);
	else if (rc == CW_ERR_PENDING)
		wiz_notify(w, "pending", "info", usage, have ? &c : NULL,
		           "the CA holds the request");
	else
		/* critical once the certificate it should replace has fewer
		 * than [renew] critical_days left, as check says */
		wiz_notify(w, "failed",
		           it->not_after - now <
		                   w->cfg.renew_critical_days * 86400
		               ? "critical"
		               : "warning",
		           usage, have ? &c : NULL, it->detail);
	if (have)
		store_cert_release(&c);
}

/* The end of an attempt: recorded, notified, and the new certificate
 * deployed (a later takeover: when the service activates it). */
static enum cw_err
finish(struct wiz *w, struct wiz_renew_item *it, const struct cw_strlist *group,
       enum cw_err rc, int64_t now)
{
	enum cw_err r2 = CW_OK;

	if (rc != CW_OK && rc != CW_ERR_PENDING) {
		it->action = "failed";
		if (it->detail == NULL)
			it->detail = cw_strdup(cw_last_error());
	}
	it->rc = rc;
	/* each usage of the group has its renewal row, event and
	 * deployment */
	for (size_t i = 0; r2 == CW_OK && i < group->n; i++)
		r2 = record(w, it, group->v[i], rc, now);
	if (r2 != CW_OK)
		return r2;
	for (size_t i = 0; i < group->n; i++) {
		notify(w, it, group->v[i], rc, now);
		if (rc == CW_OK && it->takeover_at <= now)
			(void)wiz_deploy(w, group->v[i]);
	}
	if (rc == CW_OK && it->takeover_at > now &&
	    (it->next_at == 0 || it->takeover_at < it->next_at))
		it->next_at = it->takeover_at;
	return CW_OK;
}

/* Finds the usage's open offline request (the newest one). */
static enum cw_err
on_offline(void *user, const struct store_request *r)
{
	int64_t *id = user;

	if (strcmp(r->protocol, "offline") == 0)
		*id = r->id;
	return CW_OK;
}

/*
 * A usage whose CA is offline: the CSR of a fresh key goes to [renew]
 * outbox (written by the service itself), the renewal is pending until
 * its response is imported, and the next run makes the takeover.
 */
static enum cw_err
renew_offline(struct wiz *w, const struct wiz_renew_opts *o,
              struct wiz_renew_item *it, const struct cw_strlist *group,
              int64_t now)
{
	struct store_renewal last;
	int64_t open = 0, issued = 0;
	enum cw_err rc = CW_OK;

	/* the request of an earlier run, answered since: the takeover */
	if (store_renewal_get(w->store, w->host, it->usage, &last) == CW_OK) {
		if (strcmp(last.state, "pending") == 0 && last.request_id &&
		    last.from_cert_id == it->cert_id &&
		    store_cert_of_request(w->store, last.request_id, &issued) !=
		        CW_OK)
			issued = 0;
		it->request_id = last.request_id;
		store_renewal_release(&last);
	}
	if (rc == CW_OK)
		rc = store_each_open_request(w->store, w->host, it->usage,
		                             on_offline, &open);
	if (rc != CW_OK)
		return rc;
	if (o->dry_run) {
		it->action = issued ? "would-take-over"
		             : open ? "awaiting-response"
		                    : "would-renew";
		return CW_OK;
	}
	if (issued != 0) {
		it->action = "renewed";
		it->new_cert_id = issued;
		rc = takeover(w, it, group, now);
	} else if (open != 0) {
		bool known = it->request_id == open;

		it->action = "awaiting-response";
		it->request_id = open;
		it->next_at = now + w->cfg.renew_retry;
		it->rc = CW_ERR_PENDING;
		/* a request made by hand is remembered, so that its
		 * certificate takes over once imported */
		for (size_t i = 0; !known && rc == CW_OK && i < group->n; i++)
			rc = record(w, it, group->v[i], CW_ERR_PENDING, now);
		return rc;
	} else {
		const struct wiz_output *out = w->output;
		struct wiz_request_opts ro;
		struct wiz_request_result rr;
		char *path = cw_printf("%s/%s-%lld.csr", w->cfg.renew_outbox,
		                       it->usage, (long long)now);

		memset(&ro, 0, sizeof(ro));
		memset(&rr, 0, sizeof(rr));
		ro.usages = group;
		ro.out_path = path;
		ro.eab_hmac.fd = -1;
		ro.ca_secret.fd = -1;
		rc = path ? CW_OK : CW_ERR_NOMEM;
		/* the outbox is the service's, from root's configuration:
		 * written by the service, not by a client */
		w->output = NULL;
		if (rc == CW_OK)
			rc = wiz_request_offline(w, &ro, &rr);
		w->output = out;
		if (rc == CW_OK) {
			it->action = "awaiting-response";
			it->request_id = rr.request_id;
			it->detail = cw_printf("CSR in %s", path);
			it->next_at = now + w->cfg.renew_retry;
			rc = CW_ERR_PENDING;
		}
		wiz_request_result_release(&rr);
		free(path);
	}
	return finish(w, it, group, rc, now);
}

/* What differs between the names a certificate has and the topology's,
 * in words, or NULL. */
static char *
names_changed(const struct cw_strlist *had, const struct cw_strlist *now)
{
	struct cw_buf b;
	char *text = NULL;
	bool any = false;

	cw_buf_init(&b);
	for (int pass = 0; pass < 2; pass++) {
		const struct cw_strlist *from = pass ? had : now;
		const struct cw_strlist *in = pass ? now : had;
		bool first = true;

		for (size_t i = 0; i < from->n; i++) {
			bool found = false;

			for (size_t j = 0; j < in->n && !found; j++)
				found = strcasecmp(from->v[i], in->v[j]) == 0;
			if (found)
				continue;
			if (first)
				cw_buf_append(&b,
				              pass ? "; removed: " : " added: ",
				              pass ? 11 : 8);
			else
				cw_buf_append(&b, ", ", 2);
			cw_buf_append(&b, from->v[i], strlen(from->v[i]));
			first = false;
			any = true;
		}
	}
	if (any)
		text = cw_printf("the topology's names changed since the "
		                 "current certificate (%.*s): the new one "
		                 "carries them",
		                 (int)b.len - 1, (const char *)b.data + 1);
	cw_buf_release(&b);
	return text;
}

/*
 * The usages renewed together with u (u first): those of this host that
 * the same certificate serves now, whose topology names the same CA and
 * that have no successor scheduled. One key, one request (the union of
 * their names) and one certificate for them all, as for the certificate
 * they share.
 */
static enum cw_err
group_of(struct wiz *w, const struct topo_usage *u,
         const struct wiz_renew_item *it, int64_t now, struct cw_strlist *out)
{
	const struct topo *t = NULL;
	struct cw_strlist all;
	enum cw_err rc = cw_strlist_add(out, it->usage);

	cw_strlist_init(&all);
	if (rc == CW_OK)
		rc = wiz_topology(w, &t);
	if (rc == CW_OK)
		rc = topo_host_usages(t, w->host, &all);
	for (size_t i = 0; rc == CW_OK && i < all.n; i++) {
		struct store_assignment a;
		struct topo_usage v;
		bool same;

		if (strcmp(all.v[i], it->usage) == 0 ||
		    store_assignment_serving(w->store, w->host, all.v[i], now,
		                             &a) != CW_OK)
			continue;
		same = a.cert_id == it->cert_id;
		store_assignment_release(&a);
		if (!same || store_assignment_next(w->store, w->host, all.v[i],
		                                   now, &a) == CW_OK) {
			if (same)
				store_assignment_release(&a);
			continue;
		}
		if (wiz_usage(w, all.v[i], &v) != CW_OK)
			continue;
		same = (u->ca == NULL && v.ca == NULL) ||
		       (u->ca != NULL && v.ca != NULL && !strcmp(u->ca, v.ca));
		topo_usage_release(&v);
		if (same)
			rc = cw_strlist_add(out, all.v[i]);
	}
	cw_strlist_release(&all);
	return rc;
}

/* Takes the usage's renewal as far as it goes now; group is what was
 * renewed with it. */
static enum cw_err
renew_one(struct wiz *w, const struct wiz_renew_opts *o,
          const struct topo_usage *u, struct wiz_renew_item *it, int64_t now,
          struct cw_strlist *group)
{
	struct store_assignment a, next;
	struct store_renewal last;
	struct store_cert c;
	struct open_req open = {0};
	int64_t adopt = 0;
	const struct cw_ca_profile *ca;
	enum cw_err rc;

	rc = store_assignment_serving(w->store, w->host, it->usage, now, &a);
	if (rc == CW_ERR_NOT_FOUND) {
		it->action = "nothing-assigned";
		return CW_OK;
	}
	if (rc != CW_OK)
		return rc;
	it->cert_id = a.cert_id;
	store_assignment_release(&a);
	rc = store_cert_get(w->store, it->cert_id, &c);
	if (rc != CW_OK)
		return rc;
	it->due_at = wiz_renew_due(&w->cfg, &c);
	it->not_after = c.not_after;
	/* the new certificate carries the topology's names as they are now:
	 * say so when they changed */
	it->note = names_changed(&c.names, &u->names);
	store_cert_release(&c);
	/* a successor is already on its way: that is the renewal */
	if (store_assignment_next(w->store, w->host, it->usage, now, &next) ==
	    CW_OK) {
		store_assignment_release(&next);
		it->action = "successor-scheduled";
		return CW_OK;
	}
	if (it->due_at > now && !o->force) {
		it->action = "not-due";
		it->next_at = it->due_at;
		return CW_OK;
	}
	if (!o->force &&
	    store_renewal_get(w->store, w->host, it->usage, &last) == CW_OK) {
		bool wait = strcmp(last.state, "failed") == 0 &&
		            last.from_cert_id == it->cert_id &&
		            last.next_attempt > now;

		if (wait) {
			it->action = "retry-later";
			it->next_at = last.next_attempt;
			it->detail = last.problem;
			last.problem = NULL;
		}
		store_renewal_release(&last);
		if (wait)
			return CW_OK;
	}
	ca = u->ca ? cw_config_ca(&w->cfg, u->ca) : NULL;
	if ((ca != NULL || w->cfg.renew_outbox != NULL) &&
	    (rc = group_of(w, u, it, now, group)) != CW_OK)
		return rc;
	if (ca == NULL && w->cfg.renew_outbox != NULL)
		return renew_offline(w, o, it, group, now);
	if (ca == NULL) {
		it->action = "manual";
		it->detail = cw_printf(
		    u->ca ? "the topology's CA '%s' is not a CA profile of "
		            "the configuration: request it offline"
		          : "the topology names no CA for this usage%s: "
		            "request it offline",
		    u->ca ? u->ca : "");
		return CW_OK;
	}
	rc = store_each_open_request(w->store, w->host, it->usage, on_open,
	                             &open);
	/* a renewal interrupted after its certificate was imported and
	 * before the takeover: that certificate takes over, no new request */
	if (rc == CW_OK && open.id == 0 &&
	    store_issued_unassigned(w->store, w->host, it->usage, it->cert_id,
	                            it->not_after, &adopt) != CW_OK)
		adopt = 0;
	if (rc == CW_OK && o->dry_run) {
		it->action = open.id ? "would-resume"
		             : adopt ? "would-take-over"
		                     : "would-renew";
		it->request_id = open.id;
	} else if (rc == CW_OK && adopt != 0) {
		it->action = "renewed";
		it->new_cert_id = adopt;
		rc = takeover(w, it, group, now);
	} else if (rc == CW_OK && open.id != 0) {
		struct wiz_process_opts po = {
		    o->wait, false,
		    NULL,    {NULL, -1, NULL, CW_OK, NULL},
		    NULL,    {NULL, -1, NULL, CW_OK, NULL}};

		it->action = "resumed";
		rc = wiz_pending_process(w, &open.id, 1, &po, keep_outcome, it);
		if (rc == CW_OK && it->new_cert_id != 0)
			rc = takeover(w, it, group, now);
	} else if (rc == CW_OK) {
		struct wiz_request_opts ro;
		struct wiz_request_result rr;

		memset(&ro, 0, sizeof(ro));
		memset(&rr, 0, sizeof(rr));
		ro.usages = group;
		ro.ca = u->ca;
		ro.wait = o->wait;
		ro.eab_hmac.fd = -1;
		ro.ca_secret.fd = -1;
		it->action = "renewed";
		rc = wiz_request_online(w, &ro, &rr);
		it->request_id =
		    rr.online.request_id ? rr.online.request_id : rr.request_id;
		if (rc == CW_OK) {
			it->new_cert_id = rr.online.cert_id;
			cw_crashpoint("renew:before-takeover");
			rc = takeover(w, it, group, now);
		} else if (rr.online.problem != NULL)
			it->detail = cw_strdup(rr.online.problem);
		wiz_request_result_release(&rr);
	}
	if (o->dry_run)
		return rc;
	if (rc == CW_ERR_PENDING) {
		it->action = "pending";
		it->next_at = now + 60;
	}
	return finish(w, it, group, rc, now);
}

/* Whether renew had nothing to do for the usage now. */
static bool
idle(const char *action)
{
	return !strcmp(action, "nothing-assigned") ||
	       !strcmp(action, "successor-scheduled") ||
	       !strcmp(action, "not-due") || !strcmp(action, "retry-later");
}

enum cw_err
wiz_renew(struct wiz *w, const struct wiz_renew_opts *o,
          struct wiz_renew_item **out, size_t *n)
{
	const struct topo *t = NULL;
	const struct cw_strlist *list = o->usages;
	struct cw_strlist usages, done;
	struct wiz_renew_item *v = NULL;
	struct store *s = NULL;
	int64_t now = time(NULL);
	size_t *leader = NULL;
	enum cw_err rc;

	*out = NULL;
	*n = 0;
	cw_strlist_init(&usages);
	cw_strlist_init(&done);
	rc = wiz_topology(w, &t);
	if (rc == CW_OK && (list == NULL || list->n == 0)) {
		rc = topo_host_usages(t, w->host, &usages);
		list = &usages;
	}
	if (rc == CW_OK)
		rc = wiz_store(w, &s);
	if (rc == CW_OK && (v = calloc(list->n + 1, sizeof(*v))) == NULL)
		rc = CW_ERR_NOMEM;
	for (size_t i = 0; rc == CW_OK && i < list->n; i++) {
		struct topo_usage u;
		struct cw_strlist group;
		size_t *l;

		/* a usage this host does not serve is a usage error */
		rc = wiz_usage(w, list->v[i], &u);
		if (rc != CW_OK)
			break;
		v[i].usage = cw_strdup(list->v[i]);
		*n = i + 1;
		if (v[i].usage == NULL) {
			topo_usage_release(&u);
			rc = CW_ERR_NOMEM;
			break;
		}
		/* renewed already, with the usage it shares its certificate
		 * with */
		for (size_t d = 0; d < done.n; d++)
			if (strcmp(done.v[d], list->v[i]) == 0) {
				const struct wiz_renew_item *k = &v[leader[d]];

				v[i].action = k->action;
				v[i].cert_id = k->cert_id;
				v[i].not_after = k->not_after;
				v[i].due_at = k->due_at;
				v[i].next_at = k->next_at;
				v[i].new_cert_id = k->new_cert_id;
				v[i].takeover_at = k->takeover_at;
				v[i].request_id = k->request_id;
				v[i].rc = k->rc;
				v[i].detail =
				    cw_printf("together with %s, whose "
				              "certificate it shares",
				              k->usage);
				break;
			}
		if (v[i].action != NULL) {
			topo_usage_release(&u);
			continue;
		}
		cw_strlist_init(&group);
		rc = renew_one(w, o, &u, &v[i], now, &group);
		topo_usage_release(&u);
		/* the others of its group are not renewed again */
		if (rc == CW_OK && group.n > 1) {
			l = realloc(leader,
			            (done.n + group.n) * sizeof(*leader));
			if (l == NULL)
				rc = CW_ERR_NOMEM;
			else
				leader = l;
		}
		for (size_t g = 1; rc == CW_OK && g < group.n; g++) {
			leader[done.n] = i;
			rc = cw_strlist_add(&done, group.v[g]);
		}
		cw_strlist_release(&group);
		/* said where a renewal is made or would be */
		if (rc == CW_OK && v[i].note != NULL && !idle(v[i].action)) {
			char *d = v[i].detail ? cw_printf("%s; %s", v[i].detail,
			                                  v[i].note)
			                      : cw_strdup(v[i].note);

			free(v[i].detail);
			v[i].detail = d;
		}
	}
	cw_strlist_release(&usages);
	cw_strlist_release(&done);
	free(leader);
	if (rc != CW_OK) {
		wiz_renew_items_free(v, *n);
		*n = 0;
		return rc;
	}
	*out = v;
	return CW_OK;
}
