/* Loading and validating a topology document. */
#include "certwiz/key.h"
#include "topo_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum cw_err bad(const char *file, const char *path, const char *fmt,
		       ...) __attribute__((format(printf, 3, 4)));

/* Reports a problem at a key path of the document. */
static enum cw_err
bad(const char *file, const char *path, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cw_error("%s: %s: %s", file, path, msg);
	return CW_ERR_TOPOLOGY;
}

static bool
only_keys(json_t *obj, const char *const *allowed, const char **unknown)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		bool ok = false;

		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(k, allowed[i]) == 0;
		if (!ok) {
			*unknown = k;
			return false;
		}
	}
	return true;
}

/* An array of non-empty strings (may be absent when !required). */
static enum cw_err
check_strings(const char *file, json_t *arr, const char *path, bool required)
{
	char p[512];
	size_t i;
	json_t *v;

	if (arr == NULL && !required)
		return CW_OK;
	if (!json_is_array(arr))
		return bad(file, path, "must be a list of strings");
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0) {
			snprintf(p, sizeof(p), "%s[%zu]", path, i);
			return bad(file, p, "must be a non-empty string");
		}
	}
	return CW_OK;
}

static enum cw_err
check_vars(const char *file, json_t *vars)
{
	char p[512];
	const char *k;
	json_t *v;

	if (vars == NULL)
		return CW_OK;
	if (!json_is_object(vars))
		return bad(file, "vars", "must be an object");
	json_object_foreach(vars, k, v) {
		snprintf(p, sizeof(p), "vars.%s", k);
		if (strcmp(k, "host") == 0)
			return bad(file, p, "'host' is reserved");
		if (json_is_string(v))
			continue;
		if (check_strings(file, v, p, true) != CW_OK)
			return CW_ERR_TOPOLOGY;
	}
	return CW_OK;
}

static enum cw_err
check_usage(const char *file, const char *name, json_t *u)
{
	static const char *const keys[] = { "subject", "names", "eku",
					    "key",     "ca",    NULL };
	const char *unknown = NULL;
	struct cw_keyspec spec;
	char p[512];
	json_t *v;
	size_t i;

	snprintf(p, sizeof(p), "usages.%s", name);
	if (!json_is_object(u))
		return bad(file, p, "must be an object");
	if (!only_keys(u, keys, &unknown))
		return bad(file, p, "unknown key '%s'", unknown);
	v = json_object_get(u, "subject");
	snprintf(p, sizeof(p), "usages.%s.subject", name);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return bad(file, p, "a non-empty string is required");
	snprintf(p, sizeof(p), "usages.%s.names", name);
	if (check_strings(file, json_object_get(u, "names"), p, true))
		return CW_ERR_TOPOLOGY;
	/* TLS clients match names, never the subject's CN (RFC 6125): a
	 * certificate without one would serve nobody */
	if (json_array_size(json_object_get(u, "names")) == 0)
		return bad(file, p, "at least one name is needed");
	snprintf(p, sizeof(p), "usages.%s.eku", name);
	if (check_strings(file, json_object_get(u, "eku"), p, false))
		return CW_ERR_TOPOLOGY;
	json_array_foreach(json_object_get(u, "eku"), i, v) {
		if (!cw_eku_known(json_string_value(v))) {
			snprintf(p, sizeof(p), "usages.%s.eku[%zu]", name, i);
			return bad(file, p, "unknown extended key usage '%s'",
				   json_string_value(v));
		}
	}
	v = json_object_get(u, "key");
	snprintf(p, sizeof(p), "usages.%s.key", name);
	if (v != NULL && (!json_is_string(v) ||
			  cw_keyspec_parse(json_string_value(v), &spec)))
		return bad(file, p, "bad key spec");
	v = json_object_get(u, "ca");
	snprintf(p, sizeof(p), "usages.%s.ca", name);
	if (v != NULL && !json_is_string(v))
		return bad(file, p, "must be a string");
	return CW_OK;
}

static enum cw_err
check_host(const char *file, const char *name, json_t *h, json_t *usages)
{
	char p[512];
	const char *k;
	json_t *v;
	size_t i;

	snprintf(p, sizeof(p), "hosts[\"%s\"]", name);
	if (!json_is_object(h))
		return bad(file, p, "must be an object");
	json_object_foreach(h, k, v) {
		if (strcmp(k, "usages") != 0 && !json_is_string(v)) {
			snprintf(p, sizeof(p), "hosts[\"%s\"].%s", name, k);
			return bad(file, p, "host attributes are strings");
		}
	}
	snprintf(p, sizeof(p), "hosts[\"%s\"].usages", name);
	if (check_strings(file, json_object_get(h, "usages"), p, true))
		return CW_ERR_TOPOLOGY;
	json_array_foreach(json_object_get(h, "usages"), i, v) {
		const char *u = json_string_value(v);

		snprintf(p, sizeof(p), "hosts[\"%s\"].usages[%zu]", name, i);
		if (json_object_get(usages, u) == NULL)
			return bad(file, p, "usage '%s' is not defined", u);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(json_string_value(json_array_get(
					    json_object_get(h, "usages"), j)),
				    u))
				return bad(file, p, "usage '%s' is listed twice",
					   u);
	}
	return CW_OK;
}

static enum cw_err
check_structure(const char *file, json_t *root)
{
	static const char *const keys[] = { "version", "vars", "hosts",
					    "usages", NULL };
	const char *unknown = NULL, *k;
	json_t *hosts, *usages, *v;

	if (!json_is_object(root))
		return bad(file, "(root)", "must be an object");
	if (!only_keys(root, keys, &unknown))
		return bad(file, "(root)", "unknown key '%s'", unknown);
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return bad(file, "version", "must be 1");
	if (check_vars(file, json_object_get(root, "vars")) != CW_OK)
		return CW_ERR_TOPOLOGY;
	usages = json_object_get(root, "usages");
	if (!json_is_object(usages))
		return bad(file, "usages", "an object is required");
	json_object_foreach(usages, k, v)
		if (check_usage(file, k, v) != CW_OK)
			return CW_ERR_TOPOLOGY;
	hosts = json_object_get(root, "hosts");
	if (!json_is_object(hosts) || json_object_size(hosts) == 0)
		return bad(file, "hosts", "a non-empty object is required");
	json_object_foreach(hosts, k, v)
		if (check_host(file, k, v, usages) != CW_OK)
			return CW_ERR_TOPOLOGY;
	return CW_OK;
}

static enum cw_err
expanded(void *user, const char *host, const struct topo_usage *u)
{
	(void)user;
	(void)host;
	(void)u;
	return CW_OK;
}

/* Every template of every host expands. */
static enum cw_err
check_expansions(struct topo *t)
{
	return topo_each_usage(t, expanded, NULL) == CW_OK ? CW_OK
							   : CW_ERR_TOPOLOGY;
}

enum cw_err
topo_load_string(const char *text, size_t len, const char *name,
		 struct topo **out)
{
	struct topo *t = calloc(1, sizeof(*t));
	json_error_t err;
	bool blank = true;
	enum cw_err rc;

	if (t == NULL || (t->name = strdup(name)) == NULL) {
		topo_free(t);
		return CW_ERR_NOMEM;
	}
	for (size_t i = 0; blank && i < len; i++)
		blank = text[i] == ' ' || text[i] == '\t' || text[i] == '\n' ||
			text[i] == '\r';
	if (blank) {
		cw_error("%s: the topology document is empty", name);
		topo_free(t);
		return CW_ERR_TOPOLOGY;
	}
	t->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (t->root == NULL) {
		cw_error("%s:%d:%d: %s", name, err.line, err.column, err.text);
		topo_free(t);
		return CW_ERR_TOPOLOGY;
	}
	rc = check_structure(name, t->root);
	if (rc == CW_OK)
		rc = check_expansions(t);
	if (rc != CW_OK) {
		topo_free(t);
		return rc;
	}
	*out = t;
	return CW_OK;
}

enum cw_err
topo_load_file(const char *path, struct topo **out)
{
	struct cw_buf text;
	enum cw_err rc;

	cw_buf_init(&text);
	rc = cw_file_read(path, 4 << 20, &text);
	if (rc != CW_OK) {
		cw_error("cannot read topology '%s'", path);
		return CW_ERR_TOPOLOGY;
	}
	rc = topo_load_string((const char *)text.data, text.len, path, out);
	cw_buf_release(&text);
	return rc;
}
