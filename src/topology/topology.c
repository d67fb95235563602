#include "topo_int.h"
#include "certwiz/key.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Largest number of names one template may expand into. */
#define MAX_EXPANSION 1000

static enum cw_err
bad(const struct topo *t, const char *path, const char *reason,
    const char *what)
{
	cw_error("%s: %s: %s%s%s", t->name, path, reason, what ? ": " : "",
		 what ? what : "");
	return CW_ERR_TOPOLOGY;
}

static json_t *
find_host(const struct topo *t, const char *host, const char **key)
{
	json_t *hosts = json_object_get(t->root, "hosts");
	const char *k;
	json_t *v;

	json_object_foreach(hosts, k, v) {
		if (strcasecmp(k, host) == 0) {
			if (key)
				*key = k;
			return v;
		}
	}
	return NULL;
}

/* The value of variable name for host (host attributes first). */
static json_t *
lookup_var(const struct topo *t, const char *host_key, json_t *host,
	   const char *name, json_t **tmp)
{
	json_t *v;

	if (strcmp(name, "host") == 0) {
		*tmp = json_string(host_key);
		return *tmp;
	}
	v = json_object_get(host, name);
	if (v != NULL && json_is_string(v))
		return v;
	return json_object_get(json_object_get(t->root, "vars"), name);
}

/* How deep variables may refer to variables. */
#define MAX_NESTING 16

/* A refusal naming the chain of variables that refer to each other. */
static enum cw_err
cycle(const struct topo *t, const char *path, const char **chain, int depth,
      const char *name)
{
	char buf[512];
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < depth && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s -> ",
				      chain[i]);
	if (n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, "%s", name);
	return bad(t, path,
		   depth < MAX_NESTING ? "a variable refers to itself"
				       : "variables nest too deeply",
		   buf);
}

static enum cw_err expand_var(const struct topo *t, const char *host_key,
			      json_t *host, const char *tmpl,
			      const char *dollar, const char *name,
			      const char *end, const char *path,
			      bool allow_lists, const char **chain, int depth,
			      struct cw_strlist *out);

/*
 * Expands template for host into out, one string per combination of the
 * list variables it uses. allow_lists false: a list variable is an error.
 * chain holds the variables being expanded (depth of them): a variable's
 * value is expanded with its name on the chain, so that one that refers
 * to itself, directly or in a cycle, is an error and not an endless
 * recursion.
 */
static enum cw_err
expand(const struct topo *t, const char *host_key, json_t *host,
       const char *tmpl, const char *path, bool allow_lists,
       const char **chain, int depth, struct cw_strlist *out)
{
	const char *dollar = strstr(tmpl, "${");
	const char *end;
	char name[64];
	size_t n;

	if (dollar == NULL)
		return out->n >= MAX_EXPANSION
			       ? bad(t, path, "expands into too many names",
				     NULL)
			       : cw_strlist_add_unique(out, tmpl);
	end = strchr(dollar + 2, '}');
	n = end ? (size_t)(end - dollar - 2) : 0;
	if (end == NULL || n == 0 || n >= sizeof(name))
		return bad(t, path, "unterminated or empty ${...}", tmpl);
	memcpy(name, dollar + 2, n);
	name[n] = 0;
	for (int i = 0; i < depth; i++)
		if (strcmp(chain[i], name) == 0)
			return cycle(t, path, chain, depth, name);
	if (depth >= MAX_NESTING)
		return cycle(t, path, chain, depth, name);
	return expand_var(t, host_key, host, tmpl, dollar, name, end, path,
			  allow_lists, chain, depth, out);
}

/* tmpl[0..dollar) (no variable in it), then each expansion of variable
 * name, then each expansion of what follows end. */
static enum cw_err
expand_var(const struct topo *t, const char *host_key, json_t *host,
	   const char *tmpl, const char *dollar, const char *name,
	   const char *end, const char *path, bool allow_lists,
	   const char **chain, int depth, struct cw_strlist *out)
{
	json_t *tmp = NULL, *val = lookup_var(t, host_key, host, name, &tmp);
	struct cw_strlist vals, rests;
	enum cw_err rc = CW_OK;

	cw_strlist_init(&vals);
	cw_strlist_init(&rests);
	if (val == NULL) {
		rc = bad(t, path, "unknown variable", name);
	} else if (json_is_string(val) ||
		   (json_is_array(val) && allow_lists)) {
		size_t count = json_is_array(val) ? json_array_size(val) : 1;

		chain[depth] = name;
		for (size_t i = 0; i < count && rc == CW_OK; i++) {
			json_t *item = json_is_array(val)
					       ? json_array_get(val, i)
					       : val;

			rc = json_is_string(item)
				     ? expand(t, host_key, host,
					      json_string_value(item), path,
					      allow_lists, chain, depth + 1,
					      &vals)
				     : bad(t, path, "variable is not a string",
					   name);
		}
	} else {
		rc = bad(t, path,
			 json_is_array(val) ? "a list variable cannot be used "
					      "here"
					    : "variable is not a string",
			 name);
	}
	if (rc == CW_OK)
		rc = expand(t, host_key, host, end + 1, path, allow_lists,
			    chain, depth, &rests);
	for (size_t i = 0; rc == CW_OK && i < vals.n; i++)
		for (size_t j = 0; rc == CW_OK && j < rests.n; j++) {
			char *s = cw_printf("%.*s%s%s", (int)(dollar - tmpl),
					    tmpl, vals.v[i], rests.v[j]);

			rc = s == NULL ? CW_ERR_NOMEM
			     : out->n >= MAX_EXPANSION
				     ? bad(t, path,
					   "expands into too many names", NULL)
				     : cw_strlist_add_unique(out, s);
			free(s);
		}
	cw_strlist_release(&vals);
	cw_strlist_release(&rests);
	json_decref(tmp);
	return rc;
}

static enum cw_err
expand_list(const struct topo *t, const char *host_key, json_t *host,
	    json_t *arr, const char *path, struct cw_strlist *out)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		char *p = cw_printf("%s[%zu]", path, i);
		const char *chain[MAX_NESTING];
		enum cw_err rc = p ? expand(t, host_key, host,
					    json_string_value(v), p, true,
					    chain, 0, out)
				   : CW_ERR_NOMEM;

		free(p);
		if (rc != CW_OK)
			return rc;
	}
	return CW_OK;
}

enum cw_err
topo_expand(const struct topo *t, const char *host, const char *usage,
	    struct topo_usage *out)
{
	const char *host_key = NULL;
	json_t *h = find_host(t, host, &host_key), *u, *v;
	struct cw_strlist subj;
	struct topo_usage r;
	const char *chain[MAX_NESTING];
	char *path = NULL;
	enum cw_err rc = CW_ERR_NOMEM;
	size_t i;
	bool served = false;

	if (h == NULL) {
		cw_error("host '%s' is not in the topology %s", host, t->name);
		return CW_ERR_NOT_FOUND;
	}
	json_array_foreach(json_object_get(h, "usages"), i, v)
		served |= strcmp(json_string_value(v), usage) == 0;
	u = json_object_get(json_object_get(t->root, "usages"), usage);
	if (!served || u == NULL) {
		cw_error("host '%s' has no usage '%s' in the topology", host_key,
			 usage);
		return CW_ERR_NOT_FOUND;
	}
	memset(&r, 0, sizeof(r));
	memset(chain, 0, sizeof(chain));
	cw_strlist_init(&subj);
	cw_strlist_init(&r.names);
	cw_strlist_init(&r.eku);
	path = cw_printf("usages.%s.subject", usage);
	if (path == NULL || (r.name = strdup(usage)) == NULL)
		goto out;
	rc = expand(t, host_key, h,
		    json_string_value(json_object_get(u, "subject")), path,
		    false, chain, 0, &subj);
	if (rc != CW_OK)
		goto out;
	r.subject = strdup(subj.v[0]);
	free(path);
	path = cw_printf("usages.%s.names", usage);
	rc = path ? expand_list(t, host_key, h, json_object_get(u, "names"),
				path, &r.names)
		  : CW_ERR_NOMEM;
	if (rc == CW_OK && r.names.n == 0)
		rc = bad(t, path, "expands into no name (an empty list?)", NULL);
	if (rc != CW_OK)
		goto out;
	json_array_foreach(json_object_get(u, "eku"), i, v)
		if ((rc = cw_strlist_add(&r.eku, json_string_value(v))) != CW_OK)
			goto out;
	r.key = cw_strdup(json_string_value(json_object_get(u, "key")));
	r.ca = cw_strdup(json_string_value(json_object_get(u, "ca")));
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = CW_OK;
out:
	topo_usage_release(&r);
	cw_strlist_release(&subj);
	free(path);
	return rc;
}

void
topo_usage_release(struct topo_usage *u)
{
	if (u == NULL)
		return;
	free(u->name);
	free(u->subject);
	cw_strlist_release(&u->names);
	cw_strlist_release(&u->eku);
	free(u->key);
	free(u->ca);
	memset(u, 0, sizeof(*u));
}

enum cw_err
topo_hosts(const struct topo *t, struct cw_strlist *out)
{
	const char *k;
	json_t *v;

	json_object_foreach(json_object_get(t->root, "hosts"), k, v) {
		if (cw_strlist_add(out, k) != CW_OK)
			return CW_ERR_NOMEM;
	}
	return CW_OK;
}

enum cw_err
topo_host_usages(const struct topo *t, const char *host,
		 struct cw_strlist *out)
{
	json_t *h = find_host(t, host, NULL), *v;
	size_t i;

	if (h == NULL) {
		cw_error("host '%s' is not in the topology %s", host, t->name);
		return CW_ERR_NOT_FOUND;
	}
	json_array_foreach(json_object_get(h, "usages"), i, v) {
		if (cw_strlist_add(out, json_string_value(v)) != CW_OK)
			return CW_ERR_NOMEM;
	}
	return CW_OK;
}

enum cw_err
topo_each_usage(const struct topo *t, topo_usage_fn fn, void *user)
{
	struct cw_strlist hosts;
	enum cw_err rc;

	cw_strlist_init(&hosts);
	rc = topo_hosts(t, &hosts);
	for (size_t i = 0; i < hosts.n && rc == CW_OK; i++) {
		struct cw_strlist usages;

		cw_strlist_init(&usages);
		rc = topo_host_usages(t, hosts.v[i], &usages);
		for (size_t j = 0; j < usages.n && rc == CW_OK; j++) {
			struct topo_usage u;

			rc = topo_expand(t, hosts.v[i], usages.v[j], &u);
			if (rc != CW_OK) {
				cw_error("%s: while expanding usage '%s' for "
					 "host '%s'",
					 t->name, usages.v[j], hosts.v[i]);
				break;
			}
			rc = fn(user, hosts.v[i], &u);
			topo_usage_release(&u);
		}
		cw_strlist_release(&usages);
	}
	cw_strlist_release(&hosts);
	return rc;
}

void
topo_free(struct topo *t)
{
	if (t == NULL)
		return;
	json_decref(t->root);
	free(t->name);
	free(t);
}
