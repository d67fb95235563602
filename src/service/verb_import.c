/* certwiz import FILE [--usage U]... [--password-file F] */
#include "verb.h"

#include <string.h>

static enum cw_err
print_result(const struct cli *c, const struct wiz_import_result *r,
	     const struct cw_strlist *usages)
{
	char t[32];

	if (c->json) {
		json_t *j = json_pack(
			"{s:I, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:b, "
			"s:I, s:o}",
			"certificate_id", (json_int_t)r->cert_id, "sha256",
			r->sha256, "subject", r->subject, "issuer", r->issuer,
			"not_after", cli_time(r->not_after, t), "expired",
			r->expired, "cka_id", r->cka_id, "token",
			r->token_label, "key_origin", r->key_origin,
			"key_recorded", r->key_recorded, "chain_length",
			(json_int_t)r->chain_len, "assigned",
			cli_strlist_json(usages));

		if (j != NULL)
			json_object_set_new(j, "request_id",
					    r->request_id
						    ? json_integer(r->request_id)
						    : json_null());
		return cli_print_json(j);
	}
	printf("certificate %lld imported: %s\n", (long long)r->cert_id,
	       r->subject);
	printf("  sha256   %s\n  issuer   %s\n  expires  %s%s\n", r->sha256,
	       r->issuer, cli_time(r->not_after, t),
	       r->expired ? " (EXPIRED)" : "");
	printf("  bound to key %s on token '%s' (chain: %zu issuer%s)\n",
	       r->cka_id, r->token_label, r->chain_len,
	       r->chain_len == 1 ? "" : "s");
	if (!strcmp(r->key_origin, "imported"))
		printf("  the key was imported: it was outside the hardware "
		       "once\n");
	if (r->request_id)
		printf("  request %lld is issued\n", (long long)r->request_id);
	for (size_t i = 0; i < usages->n; i++)
		printf("  assigned to usage %s\n", usages->v[i]);
	return CW_OK;
}

enum cw_err
cmd_import(int argc, char **argv, struct cli *c)
{
	struct cw_secret_source password = { NULL, -1, NULL, CW_OK, NULL };
	bool pass_file = false;
	struct wiz_import_result r;
	struct wiz_import_opts o;
	struct cw_strlist usages;
	struct wiz *w = NULL;
	enum cw_err rc = CW_ERR_USAGE;
	int opt;

	memset(&r, 0, sizeof(r));
	memset(&o, 0, sizeof(o));
	cw_strlist_init(&usages);
	while ((opt = getopt_long(argc, argv, "h", cli_opts("import"), NULL)) !=
	       -1) {
		if (opt == FO_USAGE)
			cw_strlist_add_unique(&usages, optarg);
		else if (opt == FO_PASSWORD_FILE)
			pass_file = true;
		else if (cli_common(c, opt, optarg, "import") != 1)
			goto usage;
	}
	if (optind + 1 != argc)
		goto usage;
	o.path = argv[optind];
	o.usages = &usages;
	o.password = &password;
	rc = cli_input(c, o.path, &o.data);
	if (rc == CW_OK && pass_file)
		rc = cli_secret(c, SECRET_PASSWORD, &password);
	if (rc == CW_OK)
		rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_import(w, &o, &r);
	if (rc == CW_OK)
		rc = print_result(c, &r, &usages);
	goto out;
usage:
	rc = cli_usage("import");
out:
	wiz_import_result_release(&r);
	cw_strlist_release(&usages);
	return rc;
}
