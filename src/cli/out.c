/* Output helpers shared by the verbs. */
#include "cli.h"

enum cw_err
cli_print_json(json_t *j)
{
	int r;

	if (j == NULL)
		return CW_ERR_NOMEM;
	r = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	fputc('\n', stdout);
	return r == 0 ? CW_OK : CW_ERR_IO;
}

const char *
cli_time(time_t t, char buf[32])
{
	cw_time_format(t, buf, 32);
	return buf;
}

json_t *
cli_strlist_json(const struct cw_strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}
