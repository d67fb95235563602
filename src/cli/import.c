/* certwiz import FILE */
#include "cli.h"

enum cw_err
cmd_import(int argc, char **argv, struct cli *c)
{
	static const struct option longopts[] = { CLI_COMMON_LONG };
	struct wiz_import_result r = { 0 };
	struct wiz *w = NULL;
	char t[32];
	enum cw_err rc;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		if (cli_common(c, opt, optarg, "import") != 1)
			return cli_usage("import");
	if (optind + 1 != argc)
		return cli_usage("import");
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_import(w, argv[optind], &r);
	if (rc != CW_OK)
		return rc;
	if (c->json) {
		json_t *j = json_pack(
			"{s:I, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:I}",
			"certificate_id", (json_int_t)r.cert_id, "sha256",
			r.sha256, "subject", r.subject, "issuer", r.issuer,
			"not_after", cli_time(r.not_after, t), "expired",
			r.expired, "cka_id", r.cka_id, "token", r.token_label,
			"chain_length", (json_int_t)r.chain_len);

		if (j != NULL)
			json_object_set_new(j, "request_id",
					    r.request_id
						    ? json_integer(r.request_id)
						    : json_null());
		rc = cli_print_json(j);
	} else {
		printf("certificate %lld imported: %s\n", (long long)r.cert_id,
		       r.subject);
		printf("  sha256   %s\n  issuer   %s\n  expires  %s%s\n",
		       r.sha256, r.issuer, cli_time(r.not_after, t),
		       r.expired ? " (EXPIRED)" : "");
		printf("  bound to key %s on token '%s' (chain: %zu issuer%s)\n",
		       r.cka_id, r.token_label, r.chain_len,
		       r.chain_len == 1 ? "" : "s");
		if (r.request_id)
			printf("  request %lld is issued\n",
			       (long long)r.request_id);
	}
	wiz_import_result_release(&r);
	return rc;
}
