/* certwiz assign CERT --usage U... [--effective-at TIME]; certwiz remove */
#include "verb.h"

#include <string.h>

/* Deploys each usage that has a [deploy] section; *json gets each one's
 * outcome. CW_ERR_DEPLOY when one failed (the change itself is done). */
static enum cw_err
deploy(struct wiz *w, const struct cw_strlist *usages, json_t **json)
{
	enum cw_err worst = CW_OK;

	*json = json_object();
	for (size_t i = 0; i < usages->n; i++) {
		enum cw_err rc;

		if (cw_config_deploy(wiz_config(w), usages->v[i]) == NULL)
			continue;
		rc = wiz_deploy(w, usages->v[i]);
		if (*json != NULL)
			json_object_set_new(
			    *json, usages->v[i],
			    json_string(rc == CW_OK ? "done" : "failed"));
		if (rc != CW_OK && (worst == CW_OK || rc != CW_ERR_DEPLOY))
			worst = rc;
	}
	return worst;
}

enum cw_err
cmd_assign(int argc, char **argv, struct cli *c)
{
	struct wiz_assign_opts o;
	struct wiz_assign_result r;
	struct cw_strlist usages;
	struct wiz *w = NULL;
	const char *at = NULL;
	char t[32];
	json_t *deployed = NULL;
	enum cw_err rc = CW_ERR_USAGE, drc = CW_OK;
	int opt;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	cw_strlist_init(&usages);
	while ((opt = getopt_long(argc, argv, "h", cli_opts("assign"), NULL)) !=
	       -1) {
		if (opt == FO_USAGE)
			cw_strlist_add_unique(&usages, optarg);
		else if (opt == FO_EFFECTIVE_AT)
			at = optarg;
		else if (cli_common(c, opt, optarg, "assign") != 1)
			goto usage;
	}
	if (optind + 1 != argc || usages.n == 0)
		goto usage;
	o.cert = argv[optind];
	o.usages = &usages;
	if (at != NULL) {
		o.scheduled = true;
		if (cw_time_parse(at, time(NULL), &o.at) != CW_OK) {
			cw_error("--effective-at: cannot read '%s' (use "
				 "2026-12-01T08:00:00Z or +7d)",
				 at);
			goto usage;
		}
	}
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_assign(w, &o, &r);
	/* a scheduled assignment is deployed when it takes effect */
	if (rc == CW_OK)
		deployed = o.scheduled ? json_object() : NULL;
	if (rc == CW_OK && !o.scheduled)
		drc = deploy(w, &usages, &deployed);
	if (rc == CW_OK && c->json) {
		rc = cli_print_json(json_pack(
		    "{s:I, s:s, s:s, s:o, s:b, s:s, s:o}", "certificate_id",
		    (json_int_t)r.cert_id, "sha256", r.sha256, "subject",
		    r.subject, "usages", cli_strlist_json(&usages), "scheduled",
		    r.scheduled, "effective", cli_time(r.effective, t),
		    "deployments", deployed ? deployed : json_object()));
		deployed = NULL;
	} else if (rc == CW_OK) {
		for (size_t i = 0; i < usages.n; i++)
			printf("usage %s: certificate %lld (%s) %s %s\n",
			       usages.v[i], (long long)r.cert_id, r.subject,
			       r.scheduled ? "scheduled from" : "assigned at",
			       cli_time(r.effective, t));
	}
	if (rc == CW_OK)
		rc = drc;
	goto out;
usage:
	rc = cli_usage("assign");
out:
	json_decref(deployed);
	wiz_assign_result_release(&r);
	cw_strlist_release(&usages);
	return rc;
}

enum cw_err
cmd_remove(int argc, char **argv, struct cli *c)
{
	const char *usage = NULL;
	struct wiz *w = NULL;
	struct cw_strlist one;
	json_t *deployed = NULL;
	int64_t cert = 0;
	enum cw_err rc = cli_parse_usage(argc, argv, c, "remove", &usage, NULL,
	                                 NULL),
	            drc;

	if (rc == CW_OK)
		rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_remove(w, usage, &cert);
	if (rc != CW_OK)
		return rc;
	cw_strlist_init(&one);
	rc = cw_strlist_add(&one, usage);
	drc = rc == CW_OK ? deploy(w, &one, &deployed) : rc;
	cw_strlist_release(&one);
	if (c->json)
		rc = cli_print_json(json_pack(
		    "{s:s, s:I, s:o}", "usage", usage, "removed_certificate_id",
		    (json_int_t)cert, "deployments",
		    deployed ? deployed : json_object()));
	else
		printf("usage %s: certificate %lld no longer assigned "
		       "(certificate and key kept)\n",
		       usage, (long long)cert);
	if (!c->json)
		json_decref(deployed);
	return rc == CW_OK ? drc : rc;
}

