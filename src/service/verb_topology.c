/* certwiz topology check FILE | show */
#include "verb.h"

#include <string.h>

static json_t *
usage_json(const struct topo_usage *u)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:s?, s:s?}", "usage", u->name,
			 "subject", u->subject, "names",
			 cli_strlist_json(&u->names), "eku",
			 cli_strlist_json(&u->eku), "key", u->key, "ca", u->ca);
}

static void
usage_text(const struct topo_usage *u)
{
	printf("  usage %s\n    subject  %s\n", u->name, u->subject);
	for (size_t i = 0; i < u->names.n; i++)
		printf("    name     %s\n", u->names.v[i]);
	for (size_t i = 0; i < u->eku.n; i++)
		printf("    eku      %s\n", u->eku.v[i]);
	printf("    key      %s\n", u->key ? u->key : "(default ec:P-256)");
	if (u->ca)
		printf("    ca       %s\n", u->ca);
}

static enum cw_err
show_host(const struct topo *t, const char *host, json_t *hosts, bool json)
{
	struct cw_strlist usages;
	json_t *arr = json ? json_array() : NULL;
	enum cw_err rc;

	cw_strlist_init(&usages);
	rc = topo_host_usages(t, host, &usages);
	if (rc == CW_OK && !json)
		printf("host %s\n", host);
	for (size_t i = 0; i < usages.n && rc == CW_OK; i++) {
		struct topo_usage u;

		rc = topo_expand(t, host, usages.v[i], &u);
		if (rc != CW_OK)
			break;
		if (json)
			json_array_append_new(arr, usage_json(&u));
		else
			usage_text(&u);
		topo_usage_release(&u);
	}
	if (json && rc == CW_OK)
		json_array_append_new(hosts, json_pack("{s:s, s:o}", "host",
						       host, "usages", arr));
	else
		json_decref(arr);
	cw_strlist_release(&usages);
	return rc;
}

enum cw_err
cmd_topology(int argc, char **argv, struct cli *c)
{
	struct cw_strlist hosts;
	struct topo *t = NULL;
	struct wiz *w = NULL;
	const char *file = NULL;
	json_t *out = NULL;
	bool all = false;
	enum cw_err rc;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", cli_opts("topology"),
				  NULL)) != -1) {
		if (opt == FO_ALL)
			all = true;
		else if (cli_common(c, opt, optarg, "topology") != 1)
			return cli_usage("topology");
	}
	if (optind < argc && strcmp(argv[optind], "check") == 0 &&
	    optind + 2 == argc)
		file = argv[optind + 1];
	else if (!(optind + 1 == argc && strcmp(argv[optind], "show") == 0))
		return cli_usage("topology");
	rc = cli_wiz(c, &w);
	if (rc == CW_OK && file != NULL) {
		const struct cw_buf *text = NULL;

		rc = cli_input(c, file, &text);
		if (rc == CW_OK)
			rc = wiz_topology_parse(w, text, file, &t);
	} else if (rc == CW_OK) {
		rc = wiz_topology_load(w, NULL, &t);
	}
	if (rc != CW_OK)
		return rc;
	cw_strlist_init(&hosts);
	if (all)
		rc = topo_hosts(t, &hosts);
	else
		rc = cw_strlist_add(&hosts, wiz_host(w));
	out = c->json ? json_array() : NULL;
	for (size_t i = 0; i < hosts.n && rc == CW_OK; i++)
		rc = show_host(t, hosts.v[i], out, c->json);
	if (rc == CW_ERR_NOT_FOUND && !all)
		cw_error("give --host, or --all to see every host");
	if (rc == CW_OK && c->json)
		rc = cli_print_json(json_pack("{s:o}", "hosts", out));
	else
		json_decref(out);
	cw_strlist_release(&hosts);
	topo_free(t);
	return rc;
}
