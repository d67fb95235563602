/* certwiz request */
#include "verb.h"

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
	json_object_set_new(j, "reference",
	                    o->order_url ? json_string(o->order_url)
	                                 : json_null());
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
		printf("  at CA    %s\n", o->order_url);
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
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:I}", "state",
			"awaiting-response", "out", r->out_path, "subject",
			r->subject, "key_alg", r->key_alg, "cka_id", r->cka_id,
			"key_uri", r->key_uri, "names",
			cli_strlist_json(&r->names), "token", r->token_label,
			"request_id", (json_int_t)r->request_id);

		return cli_print_json(j);
	}
	printf("request %lld: CSR written to %s\n", (long long)r->request_id,
	       r->out_path);
	printf("  subject  %s\n", r->subject);
	for (size_t i = 0; i < r->names.n; i++)
		printf("  name     %s\n", r->names.v[i]);
	printf("  key      %s on token '%s', id %s\n  key uri  %s\n",
	       r->key_alg, r->token_label, r->cka_id, r->key_uri);
	printf("send the CSR to the CA, then: certwiz import RESPONSE\n");
	return CW_OK;
}

/* Whether the options go together; when they do not, says why. */
static bool
usable(int argc, char **argv, const struct cw_strlist *usages, bool offline,
       const struct wiz_request_opts *o, bool eab_secret, bool ca_secret)
{
	const char *why = NULL;

	if (optind != argc)
		cw_error("unexpected argument '%s'", argv[optind]);
	else if (usages->n == 0)
		why = "--usage is needed: the topology says what the usage "
		      "needs";
	else if (offline && o->ca != NULL)
		why = "--offline and --ca exclude each other: a request goes "
		      "to a file or to a CA";
	else if (!offline && o->ca == NULL)
		why = "say where the request goes: --offline --out FILE, or "
		      "--ca NAME";
	else if (offline && o->out_path == NULL)
		why = "--offline needs --out FILE (where the CSR goes)";
	else if (o->ca != NULL && (o->out_path || o->force))
		why = "--out and --force are for offline requests";
	else if (offline && (o->assign || o->eab_kid || eab_secret ||
	                     ca_secret || o->ca_reference || o->template))
		why = "--assign and the --eab options are for online requests "
		      "(--ca), as are --ca-reference, --ca-secret-file, "
		      "--ca-secret-fd and --template";
	else
		return true;
	if (why != NULL)
		cw_error("%s", why);
	return false;
}

enum cw_err
cmd_request(int argc, char **argv, struct cli *c)
{
	struct wiz_request_opts o;
	struct wiz_request_result r;
	struct cw_strlist usages, names;
	struct wiz *w = NULL;
	bool offline = false, eab_secret = false, ca_secret = false;
	enum cw_err rc = CW_ERR_USAGE;
	int opt;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	o.wait = 60;
	o.eab_hmac.fd = -1;
	o.ca_secret.fd = -1;
	cw_strlist_init(&usages);
	cw_strlist_init(&names);
	while ((opt = getopt_long(argc, argv, "h", cli_opts("request"),
				  NULL)) != -1) {
		switch (opt) {
		case FO_USAGE: cw_strlist_add_unique(&usages, optarg); break;
		case FO_NAME: cw_strlist_add_unique(&names, optarg); break;
		case FO_OFFLINE: offline = true; break;
		case FO_OUT: o.out_path = optarg; break;
		case FO_KEY: o.key = optarg; break;
		case FO_TOKEN: o.token_uri = optarg; break;
		case FO_FORCE: o.force = true; break;
		case FO_CA: o.ca = optarg; break;
		case FO_ASSIGN: o.assign = true; break;
		case FO_EAB_KID: o.eab_kid = optarg; break;
		case FO_EAB_FILE:
		case FO_EAB_FD:
			if (eab_secret)
				goto usage;
			eab_secret = true;
			break;
		case FO_CA_REFERENCE: o.ca_reference = optarg; break;
		case FO_TEMPLATE: o.template = optarg; break;
		case FO_CA_SECRET_FILE:
		case FO_CA_SECRET_FD:
			if (ca_secret)
				goto usage;
			ca_secret = true;
			break;
		case FO_WAIT:
			if (!cli_parse_seconds(optarg, &o.wait))
				goto usage;
			break;
		default:
			if (cli_common(c, opt, optarg, "request") != 1)
				goto usage;
		}
	}
	if (!usable(argc, argv, &usages, offline, &o, eab_secret, ca_secret))
		goto usage;
	if (eab_secret && o.eab_kid == NULL) {
		cw_error("--eab-hmac-file and --eab-hmac-fd need --eab-kid");
		goto usage;
	}
	o.usages = &usages;
	o.extra_names = &names;
	rc = eab_secret ? cli_secret(c, SECRET_EAB, &o.eab_hmac) : CW_OK;
	if (rc == CW_OK && ca_secret)
		rc = cli_secret(c, SECRET_CA, &o.ca_secret);
	if (rc == CW_OK)
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
