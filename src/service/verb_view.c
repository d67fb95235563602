/* certwiz view --usage U [--pem]; certwiz export --usage U --out DIR */
#include "verb.h"

#include <string.h>

static json_t *
view_json(const struct wiz_view *v)
{
	char nb[32], na[32], at[32];
	json_t *j = json_pack(
		"{s:s, s:I, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
		"s:o, s:o, s:s, s:b, s:s}",
		"usage", v->assignment.usage, "certificate_id",
		(json_int_t)v->cert.id, "subject", v->info.subject, "issuer",
		v->info.issuer, "names", cli_strlist_json(&v->info.names),
		"serial", v->info.serial, "not_before",
		cli_time(v->info.not_before, nb), "not_after",
		cli_time(v->info.not_after, na), "sha256", v->info.sha256,
		"sha1", v->info.sha1, "key_alg", v->info.key_alg, "origin",
		v->cert.origin, "eku", cli_strlist_json(&v->info.eku), "chain",
		cli_strlist_json(&v->chain_subjects), "token_state",
		v->cert.token_state, "expired", v->info.not_after < time(NULL),
		"assigned_at", cli_time(v->assignment.effective_from, at));

	if (j == NULL)
		return NULL;
	if (v->key.id != 0)
		json_object_set_new(
			j, "key",
			json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "uri",
				  v->key_uri, "cka_id", v->key.cka_id, "label",
				  v->key.label, "origin", v->key.origin,
				  "state", v->key.state, "token",
				  v->token.label));
	else
		json_object_set_new(j, "key", json_null());
	return j;
}

static void
view_text(const struct wiz_view *v)
{
	char t[32];

	printf("usage %s: certificate %lld\n", v->assignment.usage,
	       (long long)v->cert.id);
	printf("  subject      %s\n", v->info.subject);
	for (size_t i = 0; i < v->info.names.n; i++)
		printf("  name         %s\n", v->info.names.v[i]);
	printf("  issuer       %s\n  serial       %s\n", v->info.issuer,
	       v->info.serial);
	printf("  not before   %s\n", cli_time(v->info.not_before, t));
	printf("  not after    %s%s\n", cli_time(v->info.not_after, t),
	       v->info.not_after < time(NULL) ? " (EXPIRED)" : "");
	printf("  sha256       %s\n  sha1         %s\n", v->info.sha256,
	       v->info.sha1);
	for (size_t i = 0; i < v->info.eku.n; i++)
		printf("  eku          %s\n", v->info.eku.v[i]);
	printf("  key          %s", v->info.key_alg);
	if (v->key.id != 0) {
		printf(", %s on token '%s'%s\n  key id       %s\n"
		       "  key uri      %s\n",
		       !strcmp(v->key.origin, "imported")
			       ? "imported (it was outside the hardware once)"
			       : "generated",
		       v->token.label,
		       !strcmp(v->key.state, "ready") ? ""
						      : " (MISSING from the "
							"token)",
		       v->key.cka_id, v->key_uri);
	} else {
		printf(", not known to certwiz\n");
	}
	for (size_t i = 0; i < v->chain_subjects.n; i++)
		printf("  chain[%zu]     %s\n", i + 1, v->chain_subjects.v[i]);
	printf("  assigned     %s by %s\n",
	       cli_time(v->assignment.effective_from, t),
	       v->assignment.assigned_by);
}

enum cw_err
cmd_view(int argc, char **argv, struct cli *c)
{
	const char *usage = NULL;
	struct wiz_view v;
	struct wiz *w = NULL;
	struct cw_buf pem;
	bool want_pem = false;
	enum cw_err rc;

	rc = cli_parse_usage(argc, argv, c, "view", &usage, &want_pem, NULL);
	if (rc == CW_OK)
		rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_view(w, usage, &v);
	if (rc != CW_OK)
		return rc;
	cw_buf_init(&pem);
	if (want_pem) {
		rc = wiz_view_pem(&v, &pem);
		if (rc == CW_OK)
			fwrite(pem.data, 1, pem.len, stdout);
	} else if (c->json) {
		rc = cli_print_json(view_json(&v));
	} else {
		view_text(&v);
	}
	cw_buf_release(&pem);
	wiz_view_release(&v);
	return rc;
}

enum cw_err
cmd_export(int argc, char **argv, struct cli *c)
{
	const char *usage = NULL, *dir = NULL;
	struct wiz_export_opts o = {NULL, NULL, NULL};
	struct wiz_export_result r;
	struct wiz *w = NULL;
	enum cw_err rc;
	int opt;

	memset(&r, 0, sizeof(r));
	while ((opt = getopt_long(argc, argv, "h", cli_opts("export"), NULL)) !=
	       -1) {
		if (opt == FO_USAGE)
			usage = optarg;
		else if (opt == FO_OUT)
			dir = optarg;
		else if (opt == FO_SERVER)
			o.server = optarg;
		else if (opt == FO_SERVER_USER)
			o.server_user = optarg;
		else if (opt == FO_PIN_SOURCE)
			o.pin_source = optarg;
		else if (cli_common(c, opt, optarg, "export") != 1)
			return cli_usage("export");
	}
	if (optind != argc || usage == NULL || dir == NULL ||
	    (o.server == NULL && (o.server_user || o.pin_source)))
		return cli_usage("export");
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_export(w, usage, dir, &o, &r);
	if (rc != CW_OK)
		return rc;
	if (c->json) {
		json_t *files = json_array();

		for (size_t i = 0; files && i < r.n_files; i++)
			json_array_append_new(files, json_string(r.files[i]));
		rc = cli_print_json(
		    json_pack("{s:s, s:s, s:s, s:s, s:o, s:s?}", "usage", usage,
		              "chain", r.chain_path, "key_uri_file", r.uri_path,
		              "key_uri", r.key_uri, "server_files", files,
		              "server_access", r.access));
	} else {
		printf("usage %s: chain in %s, key URI in %s\n  %s\n", usage,
		       r.chain_path, r.uri_path, r.key_uri);
		for (size_t i = 0; i < r.n_files; i++)
			printf("  %s\n", r.files[i]);
	}
	if (r.access != NULL) {
		/* written, but the server would fail its first handshake */
		cw_error("%s's workers cannot use this key: %s", o.server,
		         r.access);
		c->exit_code = EXIT_ATTENTION;
	}
	wiz_export_result_release(&r);
	return rc;
}
