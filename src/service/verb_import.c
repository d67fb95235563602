/* certwiz import FILE [--usage U]... [--password-file F] */
#include "verb.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_name[] = {
	[WIZ_IMPORT_NEW] = "imported",
	[WIZ_IMPORT_REPLACED] = "replaced",
	[WIZ_IMPORT_COMPLETED] = "chain-completed",
	[WIZ_IMPORT_RESTORED] = "restored",
};

static const char *const chain_name[] = {
	[STORE_CHAIN_UNKNOWN] = "unchecked",
	[STORE_CHAIN_COMPLETE] = "complete",
	[STORE_CHAIN_INCOMPLETE] = "incomplete",
};

/* "ID SHA256" lines as objects. */
static json_t *
completed_json(const struct cw_strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++) {
		const char *sp = strchr(l->v[i], ' ');

		json_array_append_new(
			a, json_pack("{s:I, s:s}", "certificate_id",
				     (json_int_t)strtoll(l->v[i], NULL, 10),
				     "sha256", sp ? sp + 1 : ""));
	}
	return a;
}

static enum cw_err
print_json(const struct wiz_import_result *r, const struct cw_strlist *usages)
{
	char t[32];
	bool cert = r->kind != WIZ_IMPORT_COMPLETED;
	json_t *j = json_pack(
		"{s:s, s:o, s:s, s:s, s:s, s:s, s:b, s:s?, s:s?, s:s?, s:b, "
		"s:I, s:s, s:o, s:s?, s:o, s:o}",
		"action", kind_name[r->kind], "certificate_id",
		cert ? json_integer(r->cert_id) : json_null(), "sha256",
		r->sha256, "subject", r->subject, "issuer", r->issuer,
		"not_after", cli_time(r->not_after, t), "expired", r->expired,
		"cka_id", cert ? r->cka_id : NULL, "token",
		cert ? r->token_label : NULL, "key_origin",
		cert ? r->key_origin : NULL, "key_recorded", r->key_recorded,
		"chain_length", (json_int_t)r->chain_len, "chain",
		chain_name[r->chain_state], "mismatch",
		cli_strlist_json(&r->mismatch), "replaced", r->replaced,
		"completed", completed_json(&r->completed), "assigned",
		cli_strlist_json(usages));

	if (j != NULL)
		json_object_set_new(j, "request_id",
				    r->request_id ? json_integer(r->request_id)
						  : json_null());
	return cli_print_json(j);
}

static enum cw_err
print_result(const struct cli *c, const struct wiz_import_result *r,
	     const struct cw_strlist *usages)
{
	char t[32];

	if (c->json)
		return print_json(r, usages);
	if (r->kind == WIZ_IMPORT_COMPLETED) {
		printf("CA certificate %s (%.16s) completes the chain of:\n",
		       r->subject, r->sha256);
		for (size_t i = 0; i < r->completed.n; i++)
			printf("  certificate %s\n", r->completed.v[i]);
		return CW_OK;
	}
	if (r->kind == WIZ_IMPORT_RESTORED)
		printf("certificate %lld is known: %s\n", (long long)r->cert_id,
		       r->subject);
	else
		printf("certificate %lld imported: %s\n", (long long)r->cert_id,
		       r->subject);
	printf("  sha256   %s\n  issuer   %s\n  expires  %s%s\n", r->sha256,
	       r->issuer, cli_time(r->not_after, t),
	       r->expired ? " (EXPIRED)" : "");
	if (r->kind == WIZ_IMPORT_RESTORED && r->completed.n > 0)
		printf("  its chain is completed (%zu issuer%s, %s)\n",
		       r->chain_len, r->chain_len == 1 ? "" : "s",
		       chain_name[r->chain_state]);
	if (r->kind == WIZ_IMPORT_RESTORED && r->completed.n == 0)
		printf("  written to token '%s' again under key %s\n",
		       r->token_label, r->cka_id);
	if (r->kind == WIZ_IMPORT_RESTORED)
		return CW_OK;
	printf("  bound to key %s on token '%s' (chain: %zu issuer%s, %s)\n",
	       r->cka_id, r->token_label, r->chain_len,
	       r->chain_len == 1 ? "" : "s", chain_name[r->chain_state]);
	if (r->replaced)
		printf("  it takes the place of certificate %.16s on the token "
		       "(kept in the store)\n",
		       r->replaced);
	for (size_t i = 0; i < r->mismatch.n; i++)
		printf("  accepted: it %s\n", r->mismatch.v[i]);
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
		else if (opt == FO_ACCEPT_MISMATCH)
			o.accept_mismatch = true;
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
