/*
 * Who may do what, decided in one place from the kernel's word on the
 * caller (SO_PEERCRED, then the user database): root and the admin group
 * may run every verb; anyone else may read and make offline requests whose
 * every field comes from the topology of the service's own host.
 */
#define _DEFAULT_SOURCE
#include "svc.h"

#include "certwiz/audit.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What a caller outside the admin group may run, as verb and first
 * argument (NULL: any). */
static const struct {
	const char *verb;
	const char *sub;
} readers[] = {
	{ "status", NULL }, { "view", NULL },	    { "list", NULL },
	{ "pending", "list" }, { "audit", "show" }, { "check", NULL },
};

/* The options an offline request of such a caller may carry: none that
 * would choose its names, key, token, CA or host. */
static const int refused_request_opts[] = {
	FO_CA,	 FO_NAME,    FO_KEY,	  FO_TOKEN,
	FO_ASSIGN, FO_WAIT, FO_EAB_KID, FO_EAB_FILE, FO_EAB_FD,
};

static const char *
opt_name(int opt)
{
	const struct option *o = front_verb("request")->opts;

	for (; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

static enum cw_err
deny(struct cli *c, const char *verb, const char *why)
{
	struct wiz *w = NULL;
	char *target = audit_target("verb", verb, NULL);

	cw_error("permission denied: %s", why);
	if (cli_wiz(c, &w) == CW_OK)
		wiz_audit_failure(w, "permission-denied", target, CW_ERR_PERM);
	free(target);
	svc_log("uid %u (%s): denied: %s", c->uid, c->user, why);
	return CW_ERR_PERM;
}

/* An offline request by a caller outside the admin group. */
static enum cw_err
check_request(struct cli *c, const struct front_scan *s)
{
	struct wiz *w = NULL;
	struct store *st = NULL;
	int64_t open = 0;
	char why[256];
	enum cw_err rc;

	rc = cli_wiz(c, &w);
	if (rc != CW_OK)
		return rc;
	if (!front_seen(s, FO_OFFLINE)) {
		snprintf(why, sizeof(why),
			 "an online request needs membership in group '%s' (or "
			 "root); anyone may make an offline request",
			 wiz_admin_group(w));
		return deny(c, "request", why);
	}
	for (size_t i = 0; i < sizeof(refused_request_opts) /
				       sizeof(refused_request_opts[0]);
	     i++) {
		if (!front_seen(s, refused_request_opts[i]))
			continue;
		snprintf(why, sizeof(why),
			 "--%s needs membership in group '%s' (the admin "
			 "group): the names, key and token of a request come "
			 "from the topology",
			 opt_name(refused_request_opts[i]), wiz_admin_group(w));
		return deny(c, "request", why);
	}
	if (s->host != NULL && strcasecmp(s->host, wiz_own_host(w)) != 0) {
		snprintf(why, sizeof(why),
			 "requests for another host than this one ('%s') need "
			 "membership in group '%s' (the admin group)",
			 wiz_own_host(w), wiz_admin_group(w));
		return deny(c, "request", why);
	}
	rc = wiz_store(w, &st);
	if (rc == CW_OK)
		rc = store_requests_open_by(st, c->uid, &open);
	if (rc != CW_OK)
		return rc;
	if (open >= wiz_config(w)->max_pending_per_user) {
		snprintf(why, sizeof(why),
			 "%lld of your requests are still open (the limit is "
			 "%ld); an administrator can import their answers",
			 (long long)open,
			 wiz_config(w)->max_pending_per_user);
		return deny(c, "request", why);
	}
	return CW_OK;
}

/* Any other verb: the administrators'. */
static enum cw_err
deny_verb(struct cli *c, const struct front_scan *s)
{
	const char *verb = s->verb->name;
	bool sub = s->n_pos > 0 && (!strcmp(verb, "pending") ||
				    !strcmp(verb, "audit") ||
				    !strcmp(verb, "topology"));
	struct wiz *w = NULL;
	char why[256];

	snprintf(why, sizeof(why), "'%s%s%.32s' needs membership in group "
		 "'%s' (or root)",
		 verb, sub ? " " : "", sub ? s->pos[0] : "",
		 cli_wiz(c, &w) == CW_OK ? wiz_admin_group(w)
					 : "certwiz-admins");
	return deny(c, verb, why);
}

enum cw_err
svc_authorize(struct cli *c, int argc, char **argv)
{
	struct front_scan s;
	const char *verb;

	if (c->admin)
		return CW_OK;
	if (front_scan(argc, argv, &s) != 0 || s.verb == NULL)
		return CW_ERR_USAGE;
	verb = s.verb->name;
	if (strcmp(verb, "request") == 0)
		return check_request(c, &s);
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++)
		if (strcmp(readers[i].verb, verb) == 0 &&
		    (readers[i].sub == NULL ||
		     (s.n_pos > 0 && strcmp(s.pos[0], readers[i].sub) == 0)))
			return CW_OK;
	return deny_verb(c, &s);
}
