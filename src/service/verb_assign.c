/* certwiz assign CERT --usage U... [--effective-at TIME]; certwiz remove */
#include "verb.h"

#include <string.h>

enum cw_err
cmd_assign(int argc, char **argv, struct cli *c)
{
	struct wiz_assign_opts o;
	struct wiz_assign_result r;
	struct cw_strlist usages;
	struct wiz *w = NULL;
	const char *at = NULL;
	char t[32];
	enum cw_err rc = CW_ERR_USAGE;
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
	if (rc == CW_OK && c->json) {
		rc = cli_print_json(json_pack(
			"{s:I, s:s, s:s, s:o, s:b, s:s}", "certificate_id",
			(json_int_t)r.cert_id, "sha256", r.sha256, "subject",
			r.subject, "usages", cli_strlist_json(&usages),
			"scheduled", r.scheduled, "effective",
			cli_time(r.effective, t)));
	} else if (rc == CW_OK) {
		for (size_t i = 0; i < usages.n; i++)
			printf("usage %s: certificate %lld (%s) %s %s\n",
			       usages.v[i], (long long)r.cert_id, r.subject,
			       r.scheduled ? "scheduled from" : "assigned at",
			       cli_time(r.effective, t));
	}
	goto out;
usage:
	rc = cli_usage("assign");
out:
	wiz_assign_result_release(&r);
	cw_strlist_release(&usages);
	return rc;
}

enum cw_err
cmd_remove(int argc, char **argv, struct cli *c)
{
	const char *usage = NULL;
	struct wiz *w = NULL;
	int64_t cert = 0;
	enum cw_err rc = cli_parse_usage(argc, argv, c, "remove", &usage, NULL, NULL);

	if (rc == CW_OK)
		rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_remove(w, usage, &cert);
	if (rc != CW_OK)
		return rc;
	if (c->json)
		return cli_print_json(json_pack("{s:s, s:I}", "usage", usage,
						"removed_certificate_id",
						(json_int_t)cert));
	printf("usage %s: certificate %lld no longer assigned (certificate "
	       "and key kept)\n",
	       usage, (long long)cert);
	return CW_OK;
}

