/* certwiz request */
#include "cli.h"

#include <string.h>

/* An online request's outcome, as JSON (also used by pending). */
json_t *
cli_outcome_json(const struct wiz_acme_outcome *o)
{
	char t[32];
	json_t *j = json_pack("{s:I, s:s, s:s}", "request_id",
			      (json_int_t)o->request_id, "state", o->state,
			      "ca", o->ca ? o->ca : "");

	if (j == NULL)
		return NULL;
	json_object_set_new(j, "order", o->order_url ? json_string(o->order_url)
						     : json_null());
	json_object_set_new(j, "next_attempt",
			    o->next_attempt
				    ? json_string(cli_time(o->next_attempt, t))
				    : json_null());
	json_object_set_new(j, "problem", o->problem ? json_string(o->problem)
						     : json_null());
	json_object_set_new(j, "certificate_id",
			    o->cert_id ? json_integer(o->cert_id) : json_null());
	json_object_set_new(j, "sha256",
			    o->sha256 ? json_string(o->sha256) : json_null());
	json_object_set_new(j, "not_after",
			    o->not_after ? json_string(cli_time(o->not_after, t))
					 : json_null());
	json_object_set_new(j, "assigned", cli_strlist_json(&o->assigned));
	json_object_set_new(j, "nonce_retries", json_integer(o->nonce_retries));
	return j;
}

void
cli_print_outcome(const struct wiz_acme_outcome *o)
{
	char t[32];

	if (!strcmp(o->state, "issued")) {
		printf("request %lld: issued by CA '%s': certificate %lld "
		       "(%.16s), valid until %s\n",
		       (long long)o->request_id, o->ca, (long long)o->cert_id,
		       o->sha256 ? o->sha256 : "", cli_time(o->not_after, t));
		for (size_t i = 0; i < o->assigned.n; i++)
			printf("  assigned to usage %s\n", o->assigned.v[i]);
		return;
	}
	printf("request %lld: %s at CA '%s'", (long long)o->request_id,
	       o->state, o->ca);
	if (o->problem)
		printf(": %s", o->problem);
	putchar('\n');
	if (o->order_url)
		printf("  order    %s\n", o->order_url);
	if (o->next_attempt && strcmp(o->state, "rejected") &&
	    strcmp(o->state, "failed"))
		printf("  next     %s (certwiz pending process %lld)\n",
		       cli_time(o->next_attempt, t), (long long)o->request_id);
}

static enum cw_err
print_online(const struct cli *c, const struct wiz_request_result *r)
{
	if (c->json) {
		json_t *j = cli_outcome_json(&r->online);

		if (j != NULL) {
			json_object_set_new(j, "subject", json_string(r->subject));
			json_object_set_new(j, "names",
					    cli_strlist_json(&r->names));
			json_object_set_new(j, "key_alg",
					    json_string(r->key_alg));
			json_object_set_new(j, "cka_id", json_string(r->cka_id));
			json_object_set_new(j, "key_uri", json_string(r->key_uri));
			json_object_set_new(j, "token",
					    json_string(r->token_label));
		}
		return cli_print_json(j);
	}
	cli_print_outcome(&r->online);
	printf("  subject  %s\n", r->subject);
	for (size_t i = 0; i < r->names.n; i++)
		printf("  name     %s\n", r->names.v[i]);
	printf("  key      %s on token '%s', id %s\n  key uri  %s\n",
	       r->key_alg, r->token_label, r->cka_id, r->key_uri);
	return CW_OK;
}

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
	       O_CA, O_WAIT, O_ASSIGN, O_EAB_KID, O_EAB_FILE, O_EAB_FD };
	static const struct option longopts[] = {
		{ "usage", required_argument, NULL, O_USAGE },
		{ "offline", no_argument, NULL, O_OFFLINE },
		{ "out", required_argument, NULL, O_OUT },
		{ "key", required_argument, NULL, O_KEY },
		{ "token", required_argument, NULL, O_TOKEN },
		{ "name", required_argument, NULL, O_NAME },
		{ "force", no_argument, NULL, O_FORCE },
		{ "ca", required_argument, NULL, O_CA },
		{ "wait", required_argument, NULL, O_WAIT },
		{ "assign", no_argument, NULL, O_ASSIGN },
		{ "eab-kid", required_argument, NULL, O_EAB_KID },
		{ "eab-hmac-file", required_argument, NULL, O_EAB_FILE },
		{ "eab-hmac-fd", required_argument, NULL, O_EAB_FD },
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
	o.wait = 60;
	o.eab_hmac.fd = -1;
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
		case O_CA: o.ca = optarg; break;
		case O_ASSIGN: o.assign = true; break;
		case O_EAB_KID: o.eab_kid = optarg; break;
		case O_EAB_FILE: o.eab_hmac.file = optarg; break;
		case O_EAB_FD:
			if (!cli_parse_fd(optarg, &o.eab_hmac.fd)) {
				cw_error("--eab-hmac-fd: '%s' is not a "
					 "descriptor",
					 optarg);
				goto usage;
			}
			break;
		case O_WAIT:
			if (!cli_parse_seconds(optarg, &o.wait))
				goto usage;
			break;
		default:
			if (cli_common(c, opt, optarg, "request") != 1)
				goto usage;
		}
	}
	if (optind != argc || usages.n == 0 || offline == (o.ca != NULL) ||
	    (offline && o.out_path == NULL) ||
	    (o.ca && (o.out_path || o.force)) ||
	    (o.eab_hmac.file && o.eab_hmac.fd >= 0) ||
	    (offline && (o.assign || o.eab_kid || o.eab_hmac.file ||
			 o.eab_hmac.fd >= 0)))
		goto usage;
	o.usages = &usages;
	o.extra_names = &names;
	rc = cli_wiz(c, &w);
	if (rc == CW_OK && offline) {
		rc = wiz_request_offline(w, &o, &r);
		if (rc == CW_OK)
			rc = print_result(c, &r);
	} else if (rc == CW_OK) {
		rc = wiz_request_online(w, &o, &r);
		if (rc == CW_OK || rc == CW_ERR_PENDING ||
		    rc == CW_ERR_UNREACHABLE || rc == CW_ERR_REJECTED) {
			enum cw_err p = print_online(c, &r);

			rc = p == CW_OK ? rc : p;
		}
	}
	goto out;
usage:
	rc = cli_usage("request");
out:
	wiz_request_result_release(&r);
	cw_strlist_release(&usages);
	cw_strlist_release(&names);
	return rc;
}
