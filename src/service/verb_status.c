/* certwiz status [--usage U]; certwiz refresh */
#include "verb.h"

#include <string.h>

static json_t *
cert_json(const struct store_cert *c)
{
	char t[32];

	return json_pack("{s:I, s:s, s:s, s:s, s:I}", "id", (json_int_t)c->id,
			 "subject", c->subject, "sha256", c->sha256,
			 "not_after", cli_time(c->not_after, t), "days_left",
			 (json_int_t)((c->not_after - time(NULL)) / 86400));
}

static json_t *
status_json(const struct wiz_status *v)
{
	char t[32];
	json_t *j = json_pack(
		"{s:s, s:o, s:o, s:o, s:o, s:{s:b, s:b, s:b, s:b, s:b}}",
		"usage", v->usage, "assigned",
		v->assigned ? cert_json(&v->cert) : json_null(), "scheduled",
		v->has_next ? json_pack("{s:o, s:s}", "certificate",
					cert_json(&v->next_cert), "effective",
					cli_time(v->next.effective_from, t))
			    : json_null(),
		"pending_requests", cli_strlist_json(&v->requests), "problems",
		cli_strlist_json(&v->problems), "available", "request",
		v->can_request, "assign", v->can_assign, "remove", v->can_remove,
		"view", v->can_view, "process_pending", v->can_process_pending);

	if (j != NULL) {
		const struct store_renewal *r = &v->renewal;
		json_t *last =
		    r->state == NULL
		        ? json_null()
		        : json_pack(
		              "{s:s, s:o, s:o, s:o, s:o}", "state", r->state,
		              "attempted", cli_time_json(r->attempted_at),
		              "certificate_id", cli_int_json(r->cert_id),
		              "problem", cli_text_json(r->problem),
		              "next_attempt", cli_time_json(r->next_attempt));

		json_object_set_new(j, "renewal",
		                    json_pack("{s:o, s:o}", "due",
		                              cli_time_json(v->renew_due),
		                              "last", last));
	}
	if (j != NULL && !v->has_deploy)
		json_object_set_new(j, "deployment", json_null());
	else if (j != NULL && v->deployment.cert_id < 0)
		json_object_set_new(j, "deployment",
		                    json_pack("{s:s}", "state", "never"));
	else if (j != NULL) {
		const struct store_deployment *d = &v->deployment;

		json_object_set_new(
		    j, "deployment",
		    json_pack("{s:s, s:o, s:o, s:I, s:o, s:o}", "state",
		              d->state, "certificate_id",
		              cli_int_json(d->cert_id), "attempted",
		              cli_time_json(d->attempted_at), "attempts",
		              (json_int_t)d->attempts, "problem",
		              cli_text_json(d->problem), "next_attempt",
		              cli_time_json(d->next_attempt)));
	}
	if (j != NULL && v->assigned && v->key_origin)
		json_object_set_new(json_object_get(j, "assigned"), "key_origin",
				    json_string(v->key_origin));
	return j;
}

static void
status_text(const struct wiz_status *v)
{
	char t[32];

	printf("usage %s\n", v->usage);
	if (v->assigned) {
		long long left = (long long)(v->cert.not_after - time(NULL));

		printf("  assigned     %lld %s (%.16s), ", (long long)v->cert.id,
		       v->cert.subject, v->cert.sha256);
		if (left >= 0)
			printf("expires %s, %lld days left\n",
			       cli_time(v->cert.not_after, t), left / 86400);
		else
			printf("EXPIRED %s, %lld days ago\n",
			       cli_time(v->cert.not_after, t), -left / 86400);
	} else
		printf("  assigned     none\n");
	if (v->has_next)
		printf("  scheduled    %lld %s from %s\n",
		       (long long)v->next_cert.id, v->next_cert.subject,
		       cli_time(v->next.effective_from, t));
	if (v->assigned)
		printf("  renewal      due %s%s%s%s\n",
		       cli_time(v->renew_due, t),
		       v->renewal.state ? "; last " : "",
		       v->renewal.state ? v->renewal.state : "",
		       v->renewal.state && v->renewal.cert_id
		           ? " (new certificate)"
		           : "");
	if (v->has_deploy && v->deployment.cert_id < 0)
		printf("  deployed     never\n");
	else if (v->has_deploy)
		printf("  deployed     %s %s at %s\n", v->deployment.state,
		       v->deployment.cert_id ? "certificate" : "no certificate",
		       cli_time(v->deployment.attempted_at, t));
	for (size_t i = 0; i < v->requests.n; i++)
		printf("  request      %s\n", v->requests.v[i]);
	for (size_t i = 0; i < v->problems.n; i++)
		printf("  problem      %s\n", v->problems.v[i]);
	printf("  available    request%s%s%s%s\n",
	       v->can_assign ? " assign" : "", v->can_remove ? " remove" : "",
	       v->can_view ? " view" : "",
	       v->can_process_pending ? " process-pending" : "");
}

enum cw_err
cmd_status(int argc, char **argv, struct cli *c)
{
	struct wiz_status *v = NULL;
	const char *usage = NULL;
	struct wiz *w = NULL;
	size_t n = 0;
	enum cw_err rc;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", cli_opts("status"), NULL)) !=
	       -1) {
		if (opt == FO_USAGE)
			usage = optarg;
		else if (cli_common(c, opt, optarg, "status") != 1)
			return cli_usage("status");
	}
	if (optind != argc)
		return cli_usage("status");
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_status(w, usage, 0, &v, &n);
	if (rc != CW_OK)
		return rc;
	if (c->json) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < n; i++)
			json_array_append_new(a, status_json(&v[i]));
		rc = cli_print_json(json_pack("{s:s, s:o}", "host", wiz_host(w),
					      "usages", a));
	} else {
		printf("host %s\n", wiz_host(w));
		for (size_t i = 0; i < n; i++)
			status_text(&v[i]);
	}
	wiz_status_free(v, n);
	return rc;
}

enum cw_err
cmd_refresh(int argc, char **argv, struct cli *c)
{
	struct wiz_refresh_report r = { NULL, 0 };
	struct wiz *w = NULL;
	enum cw_err rc;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", cli_opts("refresh"),
				  NULL)) != -1)
		if (cli_common(c, opt, optarg, "refresh") != 1)
			return cli_usage("refresh");
	if (optind != argc)
		return cli_usage("refresh");
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_refresh(w, &r);
	if (rc != CW_OK)
		return rc;
	if (c->json) {
		json_t *a = json_array(), *p = json_array();

		for (size_t i = 0; a && p && i < r.n; i++) {
			json_t *e = json_pack("{s:s, s:s, s:b}", "kind",
					      r.v[i].kind, "detail",
					      r.v[i].detail, "attention",
					      r.v[i].attention);

			if (r.v[i].attention)
				json_array_append(p, e);
			json_array_append_new(a, e);
		}
		rc = cli_print_json(json_pack("{s:o, s:o}", "events", a,
					      "problems", p));
	} else {
		for (size_t i = 0; i < r.n; i++)
			printf("%s%s: %s\n", r.v[i].attention ? "PROBLEM " : "",
			       r.v[i].kind, r.v[i].detail);
		if (r.n == 0)
			printf("store and tokens agree\n");
	}
	if (r.attention > 0) {
		cw_error("%zu problem%s need%s attention", r.attention,
			 r.attention == 1 ? "" : "s",
			 r.attention == 1 ? "s" : "");
		c->exit_code = EXIT_ATTENTION;
	}
	wiz_refresh_report_release(&r);
	return rc;
}
