/* certwiz renew [--usage U]... [--dry-run] [--force] [--wait SEC];
 * certwiz prune [--dry-run] */
#include "verb.h"

#include <string.h>

static json_t *
item_json(const struct wiz_renew_item *it)
{
	return json_pack(
	    "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "usage", it->usage,
	    "action", it->action, "certificate_id", cli_int_json(it->cert_id),
	    "not_after", cli_time_json(it->not_after), "due",
	    cli_time_json(it->due_at), "next", cli_time_json(it->next_at),
	    "new_certificate_id", cli_int_json(it->new_cert_id), "request_id",
	    cli_int_json(it->request_id), "detail", cli_text_json(it->detail));
}

static void
item_text(const struct wiz_renew_item *it)
{
	char t[32];

	printf("usage %s: %s", it->usage, it->action);
	if (strcmp(it->action, "renewed") == 0 ||
	    strcmp(it->action, "resumed") == 0)
		printf(" (certificate %lld replaces %lld)",
		       (long long)it->new_cert_id, (long long)it->cert_id);
	else if (strcmp(it->action, "not-due") == 0 ||
	         strcmp(it->action, "retry-later") == 0)
		printf(" (until %s)", cli_time(it->next_at, t));
	else if (strcmp(it->action, "would-renew") == 0)
		printf(" (certificate %lld, due %s)", (long long)it->cert_id,
		       cli_time(it->due_at, t));
	else if (it->request_id != 0)
		printf(" (request %lld)", (long long)it->request_id);
	if (it->detail != NULL)
		printf(": %s", it->detail);
	putchar('\n');
}

/* The exit code: a failure's, else pending (3), else done. */
static enum cw_err
worst(const struct wiz_renew_item *v, size_t n)
{
	enum cw_err rc = CW_OK;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].action, "failed") == 0)
			return v[i].rc != CW_OK ? v[i].rc : CW_ERR_INTERNAL;
		if (v[i].rc == CW_ERR_PENDING)
			rc = CW_ERR_PENDING;
	}
	return rc;
}

enum cw_err
cmd_renew(int argc, char **argv, struct cli *c)
{
	struct wiz_renew_opts o;
	struct wiz_renew_item *items = NULL;
	struct cw_strlist usages;
	struct wiz *w = NULL;
	size_t n = 0;
	enum cw_err rc;
	int opt;

	memset(&o, 0, sizeof(o));
	o.wait = 60;
	cw_strlist_init(&usages);
	while ((opt = getopt_long(argc, argv, "h", cli_opts("renew"), NULL)) !=
	       -1) {
		switch (opt) {
		case FO_USAGE: cw_strlist_add_unique(&usages, optarg); break;
		case FO_DRY_RUN: o.dry_run = true; break;
		case FO_FORCE: o.force = true; break;
		case FO_WAIT:
			if (!cli_parse_seconds(optarg, &o.wait))
				goto usage;
			break;
		default:
			if (cli_common(c, opt, optarg, "renew") != 1)
				goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	o.usages = &usages;
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_require_admin(w, "renew");
	if (rc == CW_OK)
		rc = wiz_renew(w, &o, &items, &n);
	if (rc == CW_OK && c->json) {
		json_t *a = json_array();

		for (size_t i = 0; a != NULL && i < n; i++)
			json_array_append_new(a, item_json(&items[i]));
		rc = cli_print_json(
		    json_pack("{s:b, s:o}", "dry_run", o.dry_run, "usages", a));
	} else if (rc == CW_OK) {
		for (size_t i = 0; i < n; i++)
			item_text(&items[i]);
	}
	if (rc == CW_OK)
		rc = worst(items, n);
	wiz_renew_items_free(items, n);
	cw_strlist_release(&usages);
	return rc;
usage:
	cw_strlist_release(&usages);
	return cli_usage("renew");
}

enum cw_err
cmd_prune(int argc, char **argv, struct cli *c)
{
	struct wiz_prune_item *v = NULL;
	struct wiz *w = NULL;
	bool dry = false;
	size_t n = 0;
	enum cw_err rc, walk;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", cli_opts("prune"), NULL)) !=
	       -1) {
		if (opt == FO_DRY_RUN)
			dry = true;
		else if (cli_common(c, opt, optarg, "prune") != 1)
			return cli_usage("prune");
	}
	if (optind != argc)
		return cli_usage("prune");
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_require_admin(w, "prune");
	if (rc != CW_OK)
		return rc;
	walk = wiz_prune(w, dry, &v, &n);
	if (v == NULL && walk != CW_OK)
		return walk;
	if (c->json) {
		json_t *a = json_array();

		for (size_t i = 0; a != NULL && i < n; i++)
			json_array_append_new(
			    a,
			    json_pack("{s:s, s:s, s:s, s:b, s:o}", "cka_id",
			              v[i].cka_id, "label", v[i].label, "token",
			              v[i].token, "destroyed", v[i].destroyed,
			              "problem", cli_text_json(v[i].problem)));
		rc = cli_print_json(
		    json_pack("{s:b, s:o}", "dry_run", dry, "keys", a));
	} else {
		for (size_t i = 0; i < n; i++)
			printf("key %s (%s, token %s): %s%s%s\n", v[i].cka_id,
			       v[i].label, v[i].token,
			       dry              ? "would be destroyed"
			       : v[i].destroyed ? "destroyed"
			                        : "NOT destroyed",
			       v[i].problem ? ": " : "",
			       v[i].problem ? v[i].problem : "");
		if (n == 0)
			printf("nothing to prune\n");
	}
	wiz_prune_items_free(v, n);
	return rc == CW_OK ? walk : rc;
}
