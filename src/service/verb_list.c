/* certwiz list [--requests|--keys|--certs] */
#include "verb.h"

#include <stdlib.h>
#include <string.h>

/* JSON rows are printed as they come, so that memory does not grow with
 * the store. */
struct list_out {
	bool json;
	size_t rows;
};

static enum cw_err
add(struct list_out *o, json_t *j)
{
	char *text;

	if (j == NULL)
		return CW_ERR_NOMEM;
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (text == NULL)
		return CW_ERR_NOMEM;
	printf("%s\n    %s", o->rows++ ? "," : "", text);
	free(text);
	return CW_OK;
}

static enum cw_err
on_request(void *user, const struct store_request *r)
{
	struct list_out *o = user;
	char t[32];

	if (!o->json) {
		printf("  %-5lld %-18s %-6s key %-6lld %s  %s", (long long)r->id,
		       r->state, r->protocol, (long long)r->key_id,
		       cli_time(r->created, t), r->host);
		for (size_t i = 0; i < r->usages.n; i++)
			printf("%s%s", i ? "," : " ", r->usages.v[i]);
		printf("%s%s%s%s\n", r->out_path ? "  -> " : "",
		       r->out_path ? r->out_path : "", r->ca ? "  ca " : "",
		       r->ca ? r->ca : "");
		return CW_OK;
	}
	return add(o, json_pack("{s:I, s:s, s:s, s:o, s:I, s:s, s:s?, s:s, "
				"s:s, s:s?, s:s?, s:s?}",
				"id", (json_int_t)r->id, "state", r->state,
				"host", r->host, "usages",
				cli_strlist_json(&r->usages), "key_id",
				(json_int_t)r->key_id, "protocol", r->protocol,
				"ca", r->ca, "created_by", r->created_by,
				"created", cli_time(r->created, t), "out",
				r->out_path, "order", r->ca_ref, "problem",
				r->problem));
}

static enum cw_err
on_key(void *user, const struct store_key *k, const struct store_token *t)
{
	struct list_out *o = user;
	char c[32];

	if (!o->json) {
		printf("  %-5lld %-10s %-9s %-10s %s  token '%s' (%s)\n",
		       (long long)k->id, k->algorithm, k->origin, k->state,
		       k->cka_id, t->label, t->serial);
		return CW_OK;
	}
	return add(o, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s?, s:s, "
				"s:{s:s, s:s, s:s, s:s}}",
				"id", (json_int_t)k->id, "cka_id", k->cka_id,
				"label", k->label, "algorithm", k->algorithm,
				"origin", k->origin, "state", k->state,
				"spki_sha256", k->spki_sha256, "created",
				cli_time(k->created, c), "token", "label",
				t->label, "serial", t->serial, "manufacturer",
				t->manufacturer, "model", t->model));
}

static enum cw_err
on_cert(void *user, const struct store_cert *x)
{
	struct list_out *o = user;
	char nb[32], na[32];
	json_t *j;

	if (!o->json) {
		printf("  %-5lld %.16s  %s  expires %s%s\n", (long long)x->id,
		       x->sha256, x->subject, cli_time(x->not_after, na),
		       x->not_after < time(NULL) ? " (EXPIRED)" : "");
		return CW_OK;
	}
	j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
		      "id", (json_int_t)x->id, "sha256", x->sha256, "sha1",
		      x->sha1, "subject", x->subject, "issuer", x->issuer,
		      "serial", x->serial, "not_before",
		      cli_time(x->not_before, nb), "not_after",
		      cli_time(x->not_after, na), "origin", x->origin,
		      "expired", x->not_after < time(NULL));
	if (j != NULL) {
		json_object_set_new(j, "key_id", x->key_id
							 ? json_integer(x->key_id)
							 : json_null());
		json_object_set_new(j, "request_id",
				    x->request_id ? json_integer(x->request_id)
						  : json_null());
	}
	return add(o, j);
}

enum cw_err
cmd_list(int argc, char **argv, struct cli *c)
{
	struct list_out o = { c->json, 0 };
	struct store *s = NULL;
	struct wiz *w = NULL;
	unsigned which = 0;
	int printed = 0;
	enum cw_err rc;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", cli_opts("list"), NULL)) !=
	       -1) {
		if (opt >= FO_REQUESTS && opt <= FO_CERTS)
			which |= 1u << (opt - FO_REQUESTS);
		else if (cli_common(c, opt, optarg, "list") != 1)
			return cli_usage("list");
	}
	if (optind != argc)
		return cli_usage("list");
	if (which == 0)
		which = 7;
	o.json = c->json;
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_store(w, &s);
	if (rc != CW_OK)
		return rc;
	if (c->json)
		printf("{");
	for (int section = 0; section < 3 && rc == CW_OK; section++) {
		static const char *const names[] = { "requests", "keys",
						     "certificates" };

		if (!(which & 1u << section))
			continue;
		o.rows = 0;
		if (c->json)
			printf("%s\n  \"%s\": [", printed++ ? "," : "",
			       names[section]);
		else
			printf("%s:\n", names[section]);
		if (section == 0)
			rc = store_each_request(s, on_request, &o);
		else if (section == 1)
			rc = store_each_key(s, on_key, &o);
		else
			rc = store_each_cert(s, on_cert, &o);
		if (c->json)
			printf("%s]", o.rows ? "\n  " : "");
	}
	if (c->json)
		printf("\n}\n");
	return rc;
}
