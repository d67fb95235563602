/* certwiz tokens */
#include "verb.h"

#include <string.h>

static json_t *
token_json(const struct tok_info *t)
{
	json_t *o = json_pack("{s:s, s:I, s:s?, s:b}", "module", t->module,
			      "slot", (json_int_t)t->slot, "slot_description",
			      t->slot_description, "token_present", t->present);

	if (o == NULL || !t->present)
		return o;
	json_object_set_new(o, "uri", json_string(t->uri));
	json_object_set_new(o, "label", json_string(t->label));
	json_object_set_new(o, "serial", json_string(t->serial));
	json_object_set_new(o, "manufacturer", json_string(t->manufacturer));
	json_object_set_new(o, "model", json_string(t->model));
	json_object_set_new(o, "initialized", json_boolean(t->initialized));
	json_object_set_new(o, "login_required",
			    json_boolean(t->login_required));
	json_object_set_new(o, "protected_auth_path",
			    json_boolean(t->protected_auth));
	json_object_set_new(o, "pin_count_low", json_boolean(t->pin_count_low));
	json_object_set_new(o, "pin_final_try", json_boolean(t->pin_final_try));
	json_object_set_new(o, "pin_locked", json_boolean(t->pin_locked));
	json_object_set_new(o, "pin_counter", json_string(t->pin_counter));
	return o;
}

static void
token_text(const struct tok_info *t, const char *last_module)
{
	if (last_module == NULL || strcmp(last_module, t->module) != 0)
		printf("module %s\n", t->module);
	printf("  slot %lu: %s\n", t->slot,
	       t->slot_description ? t->slot_description : "");
	if (!t->present) {
		printf("    no token\n");
		return;
	}
	if (!t->initialized) {
		printf("    token not initialised\n");
		return;
	}
	printf("    token  %s\n    uri    %s\n", t->label, t->uri);
	printf("    serial %s  manufacturer %s  model %s\n", t->serial,
	       t->manufacturer, t->model);
	printf("    login  %s%s%s%s\n",
	       t->login_required ? "required" : "not required",
	       t->pin_count_low ? ", PIN count low" : "",
	       t->pin_final_try ? ", PIN final try" : "",
	       t->pin_locked ? ", PIN LOCKED" : "");
	if (strcmp(t->pin_counter, "none") == 0)
		printf("    PIN    no PIN retry counter shown: a wrong PIN is "
		       "tried once per command (a TPM still counts failures "
		       "toward its lockout)\n");
	else if (strcmp(t->pin_counter, "unknown") == 0)
		printf("    PIN    retry counter not known: the token shows "
		       "one only after a wrong PIN\n");
}

enum cw_err
cmd_tokens(int argc, char **argv, struct cli *c)
{
	struct tok_info *infos = NULL;
	struct wiz *w = NULL;
	size_t n = 0;
	enum cw_err rc;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", cli_opts("tokens"), NULL)) !=
	       -1)
		if (cli_common(c, opt, optarg, "tokens") != 1)
			return cli_usage("tokens");
	if (optind != argc)
		return cli_usage("tokens");
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_tokens(w, &infos, &n);
	if (rc != CW_OK)
		return rc;
	if (c->json) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < n; i++)
			json_array_append_new(a, token_json(&infos[i]));
		rc = cli_print_json(json_pack("{s:o}", "slots", a));
	} else {
		for (size_t i = 0; i < n; i++)
			token_text(&infos[i], i ? infos[i - 1].module : NULL);
		if (n == 0)
			printf("no slots\n");
	}
	tok_info_free_array(infos, n);
	return rc;
}
