/* certwiz pending list | process [ID]... */
#include "verb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static enum cw_err
list_one(void *user, const struct store_request *r)
{
	const struct cli *c = ((void **)user)[0];
	json_t *arr = ((void **)user)[1];
	char t[32];

	if (c->json) {
		json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:o, s:s}", "id",
				      (json_int_t)r->id, "state", r->state, "ca",
				      r->ca ? r->ca : "", "host", r->host,
				      "usages", cli_strlist_json(&r->usages),
				      "created", cli_time(r->created, t));

		if (j == NULL)
			return CW_ERR_NOMEM;
		json_object_set_new(j, "protocol", json_string(r->protocol));
		json_object_set_new(j, "order", r->ca_ref ? json_string(r->ca_ref)
							  : json_null());
		json_object_set_new(j, "reference",
		                    r->ca_ref ? json_string(r->ca_ref)
		                              : json_null());
		json_object_set_new(j, "next_attempt",
				    r->next_attempt
					    ? json_string(cli_time(r->next_attempt,
								   t))
					    : json_null());
		json_object_set_new(j, "problem", r->problem
							  ? json_string(r->problem)
							  : json_null());
		json_object_set_new(j, "attempts", json_integer(r->attempts));
		return json_array_append_new(arr, j) ? CW_ERR_NOMEM : CW_OK;
	}
	printf("%-5lld %-9s ca %-12s %-6s %s", (long long)r->id, r->state,
	       r->ca ? r->ca : "", r->protocol, r->host);
	for (size_t i = 0; i < r->usages.n; i++)
		printf("%s%s", i ? "," : " ", r->usages.v[i]);
	putchar('\n');
	if (r->ca_ref)
		printf("      %s %s\n",
		       strcmp(r->protocol, "acme") ? "reference" : "order",
		       r->ca_ref);
	if (r->next_attempt)
		printf("      next attempt %s\n", cli_time(r->next_attempt, t));
	if (r->problem)
		printf("      %s\n", r->problem);
	return CW_OK;
}

static enum cw_err
list(struct cli *c)
{
	struct wiz *w = NULL;
	json_t *arr = c->json ? json_array() : NULL;
	void *ctx[2] = { c, arr };
	enum cw_err rc = cli_wiz(c, &w);

	if (rc == CW_OK)
		rc = wiz_pending_list(w, list_one, ctx);
	if (rc == CW_OK && c->json)
		return cli_print_json(arr);
	json_decref(arr);
	return rc;
}

static enum cw_err
print_outcome(void *user, const struct wiz_acme_outcome *o, enum cw_err rc)
{
	json_t *arr = user;
	bool outcome = rc == CW_OK || rc == CW_ERR_PENDING ||
		       rc == CW_ERR_UNREACHABLE || rc == CW_ERR_REJECTED;

	if (arr != NULL)
		return json_array_append_new(
			       arr, outcome ? cli_outcome_json(o)
					    : json_pack("{s:I, s:s}", "request_id",
							(json_int_t)o->request_id,
							"error", cw_strerror(rc)))
			       ? CW_ERR_NOMEM
			       : CW_OK;
	if (outcome)
		cli_print_outcome(o);
	else
		printf("request %lld: %s\n", (long long)o->request_id,
		       cw_strerror(rc));
	return CW_OK;
}

static enum cw_err
process(int argc, char **argv, struct cli *c)
{
	bool eab_secret = false, ca_secret = false;
	struct wiz_process_opts o = {
	    60, false, NULL, {NULL, -1, NULL}, NULL, {NULL, -1, NULL}};
	int64_t *ids = NULL;
	size_t n = 0;
	json_t *arr = NULL;
	struct wiz *w = NULL;
	enum cw_err rc = CW_ERR_USAGE;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", cli_opts("pending"),
				  NULL)) != -1) {
		switch (opt) {
		case FO_WAIT:
			if (!cli_parse_seconds(optarg, &o.wait))
				return cli_usage("pending");
			break;
		case FO_EAB_KID: o.eab_kid = optarg; break;
		case FO_CA_REFERENCE: o.ca_reference = optarg; break;
		case FO_CA_SECRET_FILE:
		case FO_CA_SECRET_FD:
			if (ca_secret)
				return cli_usage("pending");
			ca_secret = true;
			break;
		case FO_EAB_FILE:
		case FO_EAB_FD:
			if (eab_secret)
				return cli_usage("pending");
			eab_secret = true;
			break;
		default:
			if (cli_common(c, opt, optarg, "pending") != 1)
				return cli_usage("pending");
		}
	}
	if (o.eab_kid == NULL && eab_secret) {
		cw_error("--eab-hmac-file or --eab-hmac-fd, with --eab-kid");
		return cli_usage("pending");
	}
	ids = calloc((size_t)(argc - optind) + 1, sizeof(*ids));
	if (ids == NULL)
		return CW_ERR_NOMEM;
	for (int i = optind; i < argc; i++) {
		char *end = NULL;

		errno = 0;
		ids[n] = strtoll(argv[i], &end, 10);
		if (errno || end == argv[i] || *end || ids[n] <= 0) {
			cw_error("'%s' is not a request id", argv[i]);
			free(ids);
			return cli_usage("pending");
		}
		n++;
	}
	rc = eab_secret ? cli_secret(c, SECRET_EAB, &o.eab_hmac) : CW_OK;
	if (rc == CW_OK && ca_secret)
		rc = cli_secret(c, SECRET_CA, &o.ca_secret);
	if (rc != CW_OK) {
		free(ids);
		return rc;
	}
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_require_admin(w, "pending process");
	if (rc == CW_OK && c->json && (arr = json_array()) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = wiz_pending_process(w, ids, n, &o, print_outcome, arr);
	if (arr != NULL && rc != CW_ERR_UNAVAILABLE && rc != CW_ERR_PERM) {
		enum cw_err p = cli_print_json(arr);

		arr = NULL;
		if (rc == CW_OK)
			rc = p;
	}
	json_decref(arr);
	free(ids);
	return rc;
}

/* pending cancel ID */
static enum cw_err
cancel(int argc, char **argv, struct cli *c)
{
	struct wiz_cancel_result r;
	struct wiz *w = NULL;
	char *end = NULL;
	long long id;
	enum cw_err rc;

	for (int opt; (opt = getopt_long(argc, argv, "h", cli_opts("pending"),
	                                 NULL)) != -1;)
		if (cli_common(c, opt, optarg, "pending") != 1)
			return cli_usage("pending");
	if (optind + 1 != argc)
		return cli_usage("pending");
	errno = 0;
	id = strtoll(argv[optind], &end, 10);
	if (errno || end == argv[optind] || *end || id <= 0) {
		cw_error("'%s' is not a request id", argv[optind]);
		return cli_usage("pending");
	}
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_pending_cancel(w, id, &r);
	if (rc != CW_OK)
		return rc;
	if (c->json)
		return cli_print_json(json_pack(
		    "{s:I, s:b}", "request_id", (json_int_t)r.request_id,
		    "key_destroyed", r.key_destroyed));
	printf("request %lld cancelled%s\n", id,
	       r.key_destroyed ? "; its key destroyed on the token" : "");
	return CW_OK;
}

enum cw_err
cmd_pending(int argc, char **argv, struct cli *c)
{
	if (argc >= 2 && !strcmp(argv[1], "list")) {
		c->changes = false; /* reads only */
		optind = 0;
		argv[1] = argv[0];
		for (int opt; (opt = getopt_long(argc - 1, argv + 1, "h",
						 cli_opts("pending"),
						 NULL)) != -1;)
			if (cli_common(c, opt, optarg, "pending") != 1)
				return cli_usage("pending");
		if (optind != argc - 1)
			return cli_usage("pending");
		return list(c);
	}
	if (argc >= 2 && !strcmp(argv[1], "cancel")) {
		argv[1] = argv[0];
		optind = 0;
		return cancel(argc - 1, argv + 1, c);
	}
	if (argc >= 2 && !strcmp(argv[1], "process")) {
		argv[1] = argv[0];
		optind = 0;
		return process(argc - 1, argv + 1, c);
	}
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		cli_help_verb(stdout, "pending");
		return CW_OK;
	}
	return cli_usage("pending");
}
