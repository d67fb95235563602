/* certwiz init; certwiz check [--days N] */
#include "verb.h"

#include <stdlib.h>
#include <string.h>

enum cw_err
cmd_init(int argc, char **argv, struct cli *c)
{
	struct wiz_init_result r;
	struct wiz *w = NULL;
	enum cw_err rc;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", cli_opts("init"), NULL)) !=
	       -1)
		if (cli_common(c, opt, optarg, "init") != 1)
			return cli_usage("init");
	if (optind != argc)
		return cli_usage("init");
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_init(w, &r);
	if (rc != CW_OK)
		return rc;
	if (c->json)
		return cli_print_json(json_pack("{s:s, s:b, s:i}", "store",
						r.path, "created", r.created,
						"schema", (int)r.schema));
	if (r.created)
		printf("store %s created (schema %u)\n", r.path, r.schema);
	else
		printf("store %s exists (schema %u); left as it is\n", r.path,
		       r.schema);
	return CW_OK;
}

static const char *const severity_name[] = {
	[WIZ_NOTE] = "NOTE",
	[WIZ_WARNING] = "WARNING",
	[WIZ_CRITICAL] = "CRITICAL",
};

struct finding {
	size_t order;
	const char *usage;
	enum wiz_severity sev;
	const char *text;
};

struct findings {
	struct finding *v;
	size_t n;
	size_t warnings, criticals;
};

static enum cw_err
found(struct findings *f, const char *usage, enum wiz_severity sev,
      const char *text)
{
	struct finding *v;

	if (sev == WIZ_NOTE)
		return CW_OK; /* nothing for monitoring to do */
	v = realloc(f->v, (f->n + 1) * sizeof(*v));
	if (v == NULL)
		return CW_ERR_NOMEM;
	f->v = v;
	v[f->n] = (struct finding){ f->n, usage, sev, text };
	f->n++;
	if (sev == WIZ_CRITICAL)
		f->criticals++;
	else
		f->warnings++;
	return CW_OK;
}

/* Criticals first, then warnings, each in usage order. */
static int
by_severity(const void *a, const void *b)
{
	const struct finding *x = a, *y = b;

	if (x->sev != y->sev)
		return x->sev > y->sev ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
parse_days(const char *s, int *out)
{
	if (cw_parse_int(s, 0, 3650, out))
		return 0;
	cw_error("--days '%s' is not a number of days (0 to 3650)", s);
	return -1;
}

static enum cw_err
report(struct cli *c, struct wiz *w, const struct findings *f, size_t n)
{
	const char *status = f->criticals ? "CRITICAL"
			     : f->warnings ? "WARNING"
					   : "OK";

	c->exit_code = f->criticals ? EXIT_CHECK_CRITICAL
		       : f->warnings ? EXIT_CHECK_WARNING
				     : 0;
	if (c->json) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < f->n; i++)
			json_array_append_new(
				a, json_pack("{s:s, s:s, s:s}", "usage",
					     f->v[i].usage, "severity",
					     severity_name[f->v[i].sev], "text",
					     f->v[i].text));
		return cli_print_json(json_pack("{s:s, s:s, s:i, s:I, s:o}",
						"host", wiz_host(w), "status",
						status, "code", c->exit_code,
						"usages", (json_int_t)n,
						"problems", a));
	}
	if (f->n == 0)
		printf("CERTWIZ OK - %s: %zu usage%s, every certificate "
		       "assigned and sound\n",
		       wiz_host(w), n, n == 1 ? "" : "s");
	else
		printf("CERTWIZ %s - %s: %zu critical, %zu warning%s\n", status,
		       wiz_host(w), f->criticals, f->warnings,
		       f->warnings == 1 ? "" : "s");
	for (size_t i = 0; i < f->n; i++)
		printf("%s usage %s: %s\n", severity_name[f->v[i].sev],
		       f->v[i].usage, f->v[i].text);
	return CW_OK;
}

enum cw_err
cmd_check(int argc, char **argv, struct cli *c)
{
	struct findings f = { NULL, 0, 0, 0 };
	struct wiz_status *v = NULL;
	struct wiz *w = NULL;
	size_t n = 0;
	int days = WIZ_WARN_DAYS, opt;
	enum cw_err rc = CW_OK;

	while ((opt = getopt_long(argc, argv, "h", cli_opts("check"), NULL)) !=
	       -1) {
		if (opt == FO_DAYS && parse_days(optarg, &days) == 0)
			continue;
		if (opt == FO_DAYS || cli_common(c, opt, optarg, "check") != 1) {
			c->exit_code = EXIT_CHECK_UNKNOWN;
			return cli_usage("check");
		}
	}
	if (optind != argc) {
		c->exit_code = EXIT_CHECK_UNKNOWN;
		return cli_usage("check");
	}
	rc = cli_wiz(c, &w);
	if (rc == CW_OK)
		rc = wiz_status(w, NULL, days > 0 ? days : -1, &v, &n);
	for (size_t i = 0; rc == CW_OK && i < n; i++) {
		if (!v[i].assigned)
			rc = found(&f, v[i].usage, WIZ_WARNING,
				   "no certificate assigned");
		for (size_t k = 0; rc == CW_OK && k < v[i].problems.n; k++)
			rc = found(&f, v[i].usage, v[i].severity[k],
				   v[i].problems.v[k]);
	}
	if (rc == CW_OK) {
		if (f.n > 1)
			qsort(f.v, f.n, sizeof(f.v[0]), by_severity);
		rc = report(c, w, &f, n);
	} else {
		/* the monitoring system's UNKNOWN: certwiz could not tell */
		printf("CERTWIZ UNKNOWN - %s\n", cw_last_error()[0]
							 ? cw_last_error()
							 : cw_strerror(rc));
		c->exit_code = EXIT_CHECK_UNKNOWN;
	}
	free(f.v);
	wiz_status_free(v, n);
	return rc;
}
