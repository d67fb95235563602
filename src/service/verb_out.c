/* Output helpers shared by the verbs. */
#include "verb.h"

#include <errno.h>
#include <stdlib.h>

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
cli_time_json(int64_t t)
{
	char buf[32];

	return t ? json_string(cli_time((time_t)t, buf)) : json_null();
}

json_t *
cli_int_json(int64_t v)
{
	return v ? json_integer(v) : json_null();
}

json_t *
cli_text_json(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *
cli_strlist_json(const struct cw_strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

enum cw_err
cli_parse_usage(int argc, char **argv, struct cli *c, const char *verb,
		const char **usage, bool *pem, const char **out)
{
	int opt;

	*usage = NULL;
	while ((opt = getopt_long(argc, argv, "h", cli_opts(verb), NULL)) !=
	       -1) {
		if (opt == FO_USAGE)
			*usage = optarg;
		else if (opt == FO_PEM && pem != NULL)
			*pem = true;
		else if (opt == FO_OUT && out != NULL)
			*out = optarg;
		else if (cli_common(c, opt, optarg, verb) != 1)
			return cli_usage(verb);
	}
	if (optind != argc || *usage == NULL || (out != NULL && *out == NULL))
		return cli_usage(verb);
	return CW_OK;
}

bool
cli_parse_seconds(const char *s, int *out)
{
	if (cw_parse_int(s, 0, 86400, out))
		return true;
	cw_error("'%s' is not a number of seconds (0 to 86400)", s);
	return false;
}
