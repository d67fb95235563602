/* certwiz request */
#include "cli.h"

#include <string.h>

static enum cw_err
print_result(const struct cli *c, const struct wiz_request_result *r)
{
	if (c->json) {
		json_t *j = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "state",
			"awaiting-response", "out", r->out_path, "subject",
			r->subject, "key_alg", r->key_alg, "cka_id", r->cka_id,
			"key_uri", r->key_uri, "names",
			cli_strlist_json(&r->names), "token", r->token_label);

		if (j != NULL) {
			json_object_set_new(j, "request_id",
					    r->request_id
						    ? json_integer(r->request_id)
						    : json_null());
			json_object_set_new(j, "spooled",
					    r->spool_name
						    ? json_string(r->spool_name)
						    : json_null());
		}
		return cli_print_json(j);
	}
	if (r->spool_name)
		printf("request spooled for an administrator (%s): CSR "
		       "written to %s\n",
		       r->spool_name, r->out_path);
	else
		printf("request %lld: CSR written to %s\n",
		       (long long)r->request_id, r->out_path);
	printf("  subject  %s\n", r->subject);
	for (size_t i = 0; i < r->names.n; i++)
		printf("  name     %s\n", r->names.v[i]);
	printf("  key      %s on token '%s', id %s\n  key uri  %s\n",
	       r->key_alg, r->token_label, r->cka_id, r->key_uri);
	printf("send the CSR to the CA, then: certwiz import RESPONSE\n");
	return CW_OK;
}

enum cw_err
cmd_request(int argc, char **argv, struct cli *c)
{
	enum { O_USAGE = 1, O_OFFLINE, O_OUT, O_KEY, O_TOKEN, O_NAME, O_FORCE,
	       O_CA };
	static const struct option longopts[] = {
		{ "usage", required_argument, NULL, O_USAGE },
		{ "offline", no_argument, NULL, O_OFFLINE },
		{ "out", required_argument, NULL, O_OUT },
		{ "key", required_argument, NULL, O_KEY },
		{ "token", required_argument, NULL, O_TOKEN },
		{ "name", required_argument, NULL, O_NAME },
		{ "force", no_argument, NULL, O_FORCE },
		{ "ca", required_argument, NULL, O_CA },
		CLI_COMMON_LONG
	};
	struct wiz_request_opts o;
	struct wiz_request_result r;
	struct cw_strlist usages, names;
	struct wiz *w = NULL;
	bool offline = false;
	enum cw_err rc = CW_ERR_USAGE;
	int opt;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	cw_strlist_init(&usages);
	cw_strlist_init(&names);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case O_USAGE: cw_strlist_add_unique(&usages, optarg); break;
		case O_NAME: cw_strlist_add_unique(&names, optarg); break;
		case O_OFFLINE: offline = true; break;
		case O_OUT: o.out_path = optarg; break;
		case O_KEY: o.key = optarg; break;
		case O_TOKEN: o.token_uri = optarg; break;
		case O_FORCE: o.force = true; break;
		case O_CA:
			cw_error("online requests (--ca) are not available "
				 "yet; use --offline --out FILE");
			goto out;
		default:
			if (cli_common(c, opt, optarg, "request") != 1)
				goto usage;
		}
	}
	if (optind != argc || usages.n == 0 || !offline || o.out_path == NULL)
		goto usage;
	o.usages = &usages;
	o.extra_names = &names;
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_request_offline(w, &o, &r);
	if (rc == CW_OK)
		rc = print_result(c, &r);
	goto out;
usage:
	rc = cli_usage("request");
out:
	wiz_request_result_release(&r);
	cw_strlist_release(&usages);
	cw_strlist_release(&names);
	return rc;
}
