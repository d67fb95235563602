#define _DEFAULT_SOURCE
#include "certwiz/config.h"
#include "certwiz/util.h"

#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct parse_state {
	struct cw_config *cfg;
	const char *name;
	const char *dir;
	char msg[256];
};

static int fail(struct parse_state *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records why the current line is refused; inih gives the number of the
 * first refused line, so only the first reason is kept (a later error
 * must not put its words on the first one's line). */
static int
fail(struct parse_state *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->msg[0] != 0)
		return 0;
	va_start(ap, fmt);
	vsnprintf(ps->msg, sizeof(ps->msg), fmt, ap);
	va_end(ap);
	return 0;
}

static char *
resolve(const char *dir, const char *value)
{
	if (value[0] == '/' || dir == NULL)
		return strdup(value);
	return cw_printf("%s/%s", dir, value);
}

/* Replaces *slot with a copy of value (resolved as a path if asked). */
static bool
set_str(struct parse_state *ps, char **slot, const char *value, bool path)
{
	char *v = path ? resolve(ps->dir, value) : strdup(value);

	if (v == NULL)
		return false;
	free(*slot);
	*slot = v;
	return true;
}

static bool
parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcmp(v, "1") || !strcasecmp(v, "on")) {
		*out = true;
		return true;
	}
	if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
	    !strcmp(v, "0") || !strcasecmp(v, "off")) {
		*out = false;
		return true;
	}
	return false;
}

/* `KIND "name"` -> name; NULL when the section is not of that form. */
static char *
named_section(const char *section, const char *kind)
{
	size_t n, k = strlen(kind);

	if (strncmp(section, kind, k) != 0 || section[k] != ' ')
		return NULL;
	section += k + 1;
	while (*section == ' ')
		section++;
	n = strlen(section);
	if (n < 3 || section[0] != '"' || section[n - 1] != '"')
		return NULL;
	return strndup(section + 1, n - 2);
}

static struct cw_ca_profile *
ca_profile(struct cw_config *c, const char *name)
{
	struct cw_ca_profile *p;

	for (size_t i = 0; i < c->n_cas; i++)
		if (strcmp(c->cas[i].name, name) == 0)
			return &c->cas[i];
	p = realloc(c->cas, (c->n_cas + 1) * sizeof(*p));
	if (p == NULL)
		return NULL;
	c->cas = p;
	p = &c->cas[c->n_cas];
	memset(p, 0, sizeof(*p));
	p->name = strdup(name);
	if (p->name == NULL)
		return NULL;
	c->n_cas++;
	return p;
}

static int
handle_ca(struct parse_state *ps, const char *section, const char *key,
	  const char *value)
{
	char *name = named_section(section, "ca");
	struct cw_ca_profile *p;
	static const struct {
		const char *key;
		size_t off;
		bool path;
	} keys[] = {
	    {"protocol", offsetof(struct cw_ca_profile, protocol), false},
	    {"directory", offsetof(struct cw_ca_profile, directory), false},
	    {"trust", offsetof(struct cw_ca_profile, trust), true},
	    {"contact", offsetof(struct cw_ca_profile, contact), false},
	    {"eab_kid", offsetof(struct cw_ca_profile, eab_kid), false},
	    {"eab_hmac_file", offsetof(struct cw_ca_profile, eab_hmac_file),
	     true},
	    {"roots", offsetof(struct cw_ca_profile, roots), true},
	    {"challenge", offsetof(struct cw_ca_profile, challenge), false},
	    {"http01_listen", offsetof(struct cw_ca_profile, http01_listen),
	     false},
	    {"http01_webroot", offsetof(struct cw_ca_profile, http01_webroot),
	     true},
	    {"dns01_hook", offsetof(struct cw_ca_profile, dns01_hook), true},
	    {"account_key", offsetof(struct cw_ca_profile, account_key), false},
	    {"server", offsetof(struct cw_ca_profile, server), false},
	    {"reference", offsetof(struct cw_ca_profile, reference), false},
	    {"secret_file", offsetof(struct cw_ca_profile, secret_file), true},
	    {"recipient", offsetof(struct cw_ca_profile, recipient), false},
	    {"template", offsetof(struct cw_ca_profile, template), false},
	    {"command", offsetof(struct cw_ca_profile, command), false},
	};

	if (name == NULL) {
		return fail(ps, "unknown section [%s]", section);
	}
	p = ca_profile(ps->cfg, name);
	free(name);
	if (p == NULL)
		return fail(ps, "out of memory");
	if (strcmp(key, "timeout") == 0) {
		char *end = NULL;

		p->timeout = strtol(value, &end, 10);
		if (end == value || *end || p->timeout < 1 || p->timeout > 600)
			return fail(ps, "timeout: '%s' is not a number of "
					"seconds (1 to 600)",
				    value);
		return 1;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].key) == 0)
			return set_str(ps, (char **)((char *)p + keys[i].off),
				       value, keys[i].path);
	}
	return fail(ps, "unknown key '%s' in [%s]", key, section);
}

static struct cw_deploy *
deploy_section(struct cw_config *c, const char *usage)
{
	struct cw_deploy *p;

	for (size_t i = 0; i < c->n_deploys; i++)
		if (strcmp(c->deploys[i].usage, usage) == 0)
			return &c->deploys[i];
	p = realloc(c->deploys, (c->n_deploys + 1) * sizeof(*p));
	if (p == NULL)
		return NULL;
	c->deploys = p;
	p = &c->deploys[c->n_deploys];
	memset(p, 0, sizeof(*p));
	p->usage = strdup(usage);
	if (p->usage == NULL)
		return NULL;
	c->n_deploys++;
	return p;
}

static int
handle_deploy(struct parse_state *ps, const char *section, const char *key,
              const char *value)
{
	char *name = named_section(section, "deploy");
	struct cw_deploy *d;

	if (name == NULL)
		return fail(ps, "unknown section [%s]", section);
	d = deploy_section(ps->cfg, name);
	free(name);
	if (d == NULL)
		return fail(ps, "out of memory");
	if (strcmp(key, "timeout") == 0 || strcmp(key, "retry") == 0) {
		bool t = strcmp(key, "timeout") == 0;
		long *slot = t ? &d->timeout : &d->retry, max = t ? 600 : 3600;
		char *end = NULL;

		*slot = strtol(value, &end, 10);
		if (end == value || *end || *slot < 1 || *slot > max)
			return fail(ps,
			            "%s: '%s' is not a number of seconds "
			            "(1 to %ld)",
			            key, value, max);
		return 1;
	}
	if (strcmp(key, "server") == 0)
		return set_str(ps, &d->server, value, false);
	if (strcmp(key, "out") == 0)
		return set_str(ps, &d->out, value, true);
	if (strcmp(key, "command") == 0)
		return set_str(ps, &d->command, value, false);
	if (strcmp(key, "check") == 0)
		return set_str(ps, &d->check, value, false);
	if (strcmp(key, "server_user") == 0)
		return set_str(ps, &d->server_user, value, false);
	if (strcmp(key, "pin_source") == 0)
		return set_str(ps, &d->pin_source, value, true);
	return fail(ps, "unknown key '%s' in [%s]", key, section);
}

static int
handle_renew(struct parse_state *ps, const char *key, const char *value)
{
	static const struct {
		const char *key;
		size_t off;
		long min, max;
	} keys[] = {
	    {"days", offsetof(struct cw_config, renew_days), 1, 3650},
	    {"spread", offsetof(struct cw_config, renew_spread), 0, 604800},
	    {"wait", offsetof(struct cw_config, renew_wait), 1, 3600},
	    {"notify_timeout", offsetof(struct cw_config, renew_notify_timeout),
	     1, 600},
	    {"retry", offsetof(struct cw_config, renew_retry), 1, 86400},
	    {"critical_days", offsetof(struct cw_config, renew_critical_days),
	     1, 3650},
	    {"overlap", offsetof(struct cw_config, renew_overlap), 0,
	     90 * 86400},
	    {"retain_expired", offsetof(struct cw_config, retain_expired), 0,
	     3650},
	    {"retain_superseded", offsetof(struct cw_config, retain_superseded),
	     0, 3650},
	};
	struct cw_config *c = ps->cfg;

	c->renew_section = true;
	if (strcmp(key, "auto") == 0 || strcmp(key, "prune") == 0) {
		bool a = strcmp(key, "auto") == 0;

		if (!parse_bool(value, a ? &c->renew_auto : &c->renew_prune))
			return fail(ps, "%s: '%s' is not a boolean", key,
			            value);
		*(a ? &c->renew_auto_set : &c->renew_prune_set) = true;
		return 1;
	}
	if (strcmp(key, "outbox") == 0)
		return set_str(ps, &c->renew_outbox, value, true);
	if (strcmp(key, "notify") == 0) {
		if (value[0] != '/')
			return fail(ps, "notify must start with an absolute "
			                "path (it runs without a shell)");
		return set_str(ps, &c->renew_notify, value, false);
	}
	if (strcmp(key, "retain_expired") == 0)
		c->retain_set[0] = true;
	if (strcmp(key, "retain_superseded") == 0)
		c->retain_set[1] = true;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		long *slot = (long *)((char *)c + keys[i].off);
		char *end = NULL;

		if (strcmp(key, keys[i].key) != 0)
			continue;
		if (strcmp(key, "spread") == 0)
			c->renew_spread_set = true;
		*slot = strtol(value, &end, 10);
		if (end == value || *end || *slot < keys[i].min ||
		    *slot > keys[i].max)
			return fail(ps,
			            "%s: '%s' is not a number from %ld to "
			            "%ld",
			            key, value, keys[i].min, keys[i].max);
		return 1;
	}
	return fail(ps, "unknown key '%s' in [renew]", key);
}

static int
handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse_state *ps = user;
	struct cw_config *c = ps->cfg;
	static const struct {
		const char *section, *key;
		size_t off;
		bool path;
	} keys[] = {
		{ "store", "path", offsetof(struct cw_config, store_path), true },
		{ "token", "uri", offsetof(struct cw_config, token_uri), false },
		{ "token", "module", offsetof(struct cw_config, token_module),
		  true },
		{ "token", "pin_file",
		  offsetof(struct cw_config, token_pin_file), true },
		{ "audit", "token", offsetof(struct cw_config, audit_token),
		  false },
		{ "audit", "pin_file",
		  offsetof(struct cw_config, audit_pin_file), true },
		{ "audit", "public_key",
		  offsetof(struct cw_config, audit_public_key), true },
		{ "service", "socket",
		  offsetof(struct cw_config, service_socket), true },
		{ "service", "user", offsetof(struct cw_config, service_user),
		  false },
		{ "topology", "file", offsetof(struct cw_config, topology_file),
		  true },
		{ "topology", "host", offsetof(struct cw_config, topology_host),
		  false },
		{ "trust", "anchors", offsetof(struct cw_config, trust_anchors),
		  true },
		{ "policy", "admin_group", offsetof(struct cw_config, admin_group),
		  false },
	};

	if (key == NULL)
		return 1; /* section header without keys */
	if (strcmp(section, "store") && strcmp(section, "token") &&
	    strcmp(section, "topology") && strcmp(section, "trust") &&
	    strcmp(section, "policy") && strcmp(section, "audit") &&
	    strcmp(section, "service") && strncmp(section, "ca", 2) &&
	    strncmp(section, "deploy", 6) && strcmp(section, "renew"))
		return fail(ps, "unknown section [%s]", section);
	if (strcmp(section, "service") == 0 &&
	    (strcmp(key, "max_clients_per_user") == 0 ||
	     strcmp(key, "max_pending_per_user") == 0)) {
		long *slot = strcmp(key, "max_clients_per_user") == 0
				     ? &c->max_clients_per_user
				     : &c->max_pending_per_user;
		char *end = NULL;

		*slot = strtol(value, &end, 10);
		if (end == value || *end || *slot < 1 || *slot > 10000)
			return fail(ps, "%s: '%s' is not a number from 1 to "
					"10000",
				    key, value);
		return 1;
	}
	if (strcmp(section, "renew") == 0)
		return handle_renew(ps, key, value);
	if (strcmp(section, "policy") == 0 &&
	    strcmp(key, "allow_key_import") == 0) {
		if (!parse_bool(value, &c->allow_key_import))
			return fail(ps, "allow_key_import: '%s' is not a "
					"boolean", value);
		return 1;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(section, keys[i].section) == 0 &&
		    strcmp(key, keys[i].key) == 0)
			return set_str(ps, (char **)((char *)c + keys[i].off),
				       value, keys[i].path);
	}
	if (strncmp(section, "ca", 2) == 0)
		return handle_ca(ps, section, key, value);
	if (strncmp(section, "deploy", 6) == 0)
		return handle_deploy(ps, section, key, value);
	return fail(ps, "unknown key '%s' in [%s]", key, section);
}

static enum cw_err
check_acme(const struct cw_ca_profile *p, const char *name)
{
	const char *ch = p->challenge ? p->challenge : "http-01";

	if (p->directory == NULL || strncmp(p->directory, "https://", 8)) {
		cw_error("%s: [ca \"%s\"]: directory must be the https URL of "
			 "the ACME directory",
			 name, p->name);
		return CW_ERR_CONFIG;
	}
	if (strcmp(ch, "http-01") && strcmp(ch, "dns-01")) {
		cw_error("%s: [ca \"%s\"]: challenge '%s' is not supported "
			 "(http-01, dns-01)",
			 name, p->name, ch);
		return CW_ERR_CONFIG;
	}
	if (!strcmp(ch, "dns-01") && p->dns01_hook == NULL) {
		cw_error("%s: [ca \"%s\"]: challenge dns-01 needs dns01_hook",
			 name, p->name);
		return CW_ERR_CONFIG;
	}
	if (p->account_key && strcmp(p->account_key, "ec:P-256") &&
	    strcmp(p->account_key, "ec:P-384")) {
		cw_error("%s: [ca \"%s\"]: account_key '%s' is not supported "
			 "(ec:P-256, ec:P-384)",
			 name, p->name, p->account_key);
		return CW_ERR_CONFIG;
	}
	if ((p->eab_kid == NULL) != (p->eab_hmac_file == NULL)) {
		cw_error("%s: [ca \"%s\"]: eab_kid and eab_hmac_file go "
			 "together",
			 name, p->name);
		return CW_ERR_CONFIG;
	}
	return CW_OK;
}

static enum cw_err
check_cmp(const struct cw_ca_profile *p, const char *name)
{
	const char *why = NULL;

	if (p->server == NULL || (strncmp(p->server, "http://", 7) != 0 &&
	                          strncmp(p->server, "https://", 8) != 0))
		why = "server must be the http or https URL of the CA's CMP "
		      "endpoint";
	else if (p->reference == NULL || !*p->reference)
		why = "reference (the MAC's reference, senderKID) is missing";
	else if (p->recipient != NULL && p->recipient[0] != '/')
		why = "recipient must be a name like /CN=Issuing CA/O=Example";
	else if (p->template != NULL &&
	         (!*p->template || strlen(p->template) > 120))
		why = "template must have 1 to 120 characters";
	if (why == NULL)
		return CW_OK;
	cw_error("%s: [ca \"%s\"]: %s", name, p->name, why);
	return CW_ERR_CONFIG;
}

static enum cw_err
check_deploy(const struct cw_deploy *d, const char *name)
{
	const char *srv = d->server ? d->server : "";

	if (strcmp(srv, "nginx") && strcmp(srv, "apache") &&
	    strcmp(srv, "files")) {
		cw_error("%s: [deploy \"%s\"]: server must be nginx, apache or "
		         "files (the chain and the key's URI only)",
		         name, d->usage);
		return CW_ERR_CONFIG;
	}
	if (d->out == NULL) {
		cw_error("%s: [deploy \"%s\"]: out (the folder the server's "
		         "files go to) is missing",
		         name, d->usage);
		return CW_ERR_CONFIG;
	}
	if ((d->command != NULL && d->command[0] != '/') ||
	    (d->check != NULL && d->check[0] != '/')) {
		cw_error("%s: [deploy \"%s\"]: %s must start with an absolute "
		         "path (it runs without a shell)",
		         name, d->usage,
		         d->check && d->check[0] != '/' ? "check" : "command");
		return CW_ERR_CONFIG;
	}
	if (d->pin_source != NULL && strpbrk(d->pin_source, "\"?;& \t")) {
		cw_error("%s: [deploy \"%s\"]: pin_source '%s' has a character "
		         "a server's key reference cannot carry",
		         name, d->usage, d->pin_source);
		return CW_ERR_CONFIG;
	}
	if (d->usage[0] == '.' || d->usage[0] == '-' ||
	    strspn(d->usage,
	           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	           "0123456789._-") != strlen(d->usage)) {
		cw_error("%s: [deploy \"%s\"]: not a usage name (letters, "
		         "digits, '.', '_', '-')",
		         name, d->usage);
		return CW_ERR_CONFIG;
	}
	return CW_OK;
}

static enum cw_err
check(const struct cw_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_deploys; i++)
		if (check_deploy(&c->deploys[i], name) != CW_OK)
			return CW_ERR_CONFIG;
	for (size_t i = 0; i < c->n_cas; i++) {
		const struct cw_ca_profile *p = &c->cas[i];

		if (p->protocol == NULL) {
			cw_error("%s: [ca \"%s\"] has no protocol", name,
				 p->name);
			return CW_ERR_CONFIG;
		}
		if (strcmp(p->protocol, "acme") != 0 &&
		    strcmp(p->protocol, "cmp") != 0 &&
		    strcmp(p->protocol, "helper") != 0) {
			cw_error("%s: [ca \"%s\"]: protocol '%s' is not "
			         "supported (acme, cmp, helper)",
			         name, p->name, p->protocol);
			return CW_ERR_CONFIG;
		}
		if (!strcmp(p->protocol, "acme") &&
		    check_acme(p, name) != CW_OK)
			return CW_ERR_CONFIG;
		if (!strcmp(p->protocol, "cmp") && check_cmp(p, name) != CW_OK)
			return CW_ERR_CONFIG;
		if (!strcmp(p->protocol, "helper") &&
		    (p->command == NULL || p->command[0] != '/')) {
			cw_error("%s: [ca \"%s\"]: protocol helper needs "
			         "command, starting with an absolute path (it "
			         "runs without a shell)",
			         name, p->name);
			return CW_ERR_CONFIG;
		}
	}
	return CW_OK;
}

/* One line of the text, trimmed, in buf; false at the end. */
static bool
next_line(const char **p, char *buf, size_t size, bool *indented)
{
	const char *s = *p, *e;
	size_t n;

	if (*s == 0)
		return false;
	e = strchr(s, '\n');
	if (e == NULL)
		e = s + strlen(s);
	*p = *e ? e + 1 : e;
	*indented = *s == ' ' || *s == '\t';
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	n = (size_t)(e - s) < size - 1 ? (size_t)(e - s) : size - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
	return true;
}

/*
 * What inih lets through and a configuration must not have: a section or
 * a key given twice (the last would silently win), and an indented line
 * after a key (inih takes it as the key's value going on).
 */
static enum cw_err
precheck(const char *text, const char *name)
{
	struct cw_strlist seen;
	char line[1024], section[1024] = "", *entry = NULL;
	const char *p = text;
	bool indented, after_key = false;
	enum cw_err rc = CW_OK;
	int n = 0;

	cw_strlist_init(&seen);
	while (rc == CW_OK && next_line(&p, line, sizeof(line), &indented)) {
		char *eq, *end;

		n++;
		if (line[0] == 0 || line[0] == ';' || line[0] == '#') {
			after_key = false;
			continue;
		}
		if (line[0] == '[' && (end = strchr(line, ']')) != NULL) {
			*end = 0;
			snprintf(section, sizeof(section), "%s", line + 1);
			entry = cw_printf("[%s]", section);
			after_key = false;
		} else if (indented && after_key) {
			cw_error("%s:%d: an indented line continues the value "
				 "of the key above; certwiz takes none (remove "
				 "the leading space)",
				 name, n);
			rc = CW_ERR_CONFIG;
			continue;
		} else if ((eq = strpbrk(line, "=:")) != NULL) {
			*eq = 0;
			while (eq > line && (eq[-1] == ' ' || eq[-1] == '\t'))
				*--eq = 0;
			entry = cw_printf("%s %s", section, line);
			after_key = true;
		} else {
			continue;
		}
		if (entry == NULL) {
			rc = CW_ERR_NOMEM;
		} else if (cw_strlist_contains(&seen, entry)) {
			if (entry[0] == '[')
				cw_error("%s:%d: section %s is given twice; "
					 "give each once",
					 name, n, entry);
			else
				cw_error("%s:%d: '%s' is given twice in [%s]; "
					 "give it once",
					 name, n, line, section);
			rc = CW_ERR_CONFIG;
		} else {
			rc = cw_strlist_add(&seen, entry);
		}
		free(entry);
		entry = NULL;
	}
	cw_strlist_release(&seen);
	return rc;
}

enum cw_err
cw_config_parse(const char *text, const char *name, const char *dir,
		struct cw_config *out)
{
	struct cw_config c;
	struct parse_state ps;
	int r;

	memset(&c, 0, sizeof(c));
	ps.cfg = &c;
	ps.name = name;
	ps.dir = dir;
	ps.msg[0] = 0;
	if (precheck(text, name) != CW_OK)
		return CW_ERR_CONFIG;
	r = ini_parse_string(text, handler, &ps);
	if (r != 0) {
		cw_error("%s:%d: %s", name, r,
			 ps.msg[0] ? ps.msg : "invalid line");
		cw_config_release(&c);
		return CW_ERR_CONFIG;
	}
	if (c.admin_group == NULL && (c.admin_group = strdup("certwiz-admins")) ==
					     NULL) {
		cw_config_release(&c);
		return CW_ERR_NOMEM;
	}
	if (c.service_user == NULL &&
	    (c.service_user = strdup(CW_SERVICE_USER_DEFAULT)) == NULL) {
		cw_config_release(&c);
		return CW_ERR_NOMEM;
	}
	if (c.service_socket == NULL &&
	    (c.service_socket = strdup(CW_SOCKET_DEFAULT)) == NULL) {
		cw_config_release(&c);
		return CW_ERR_NOMEM;
	}
	if (c.max_clients_per_user == 0)
		c.max_clients_per_user = 8;
	if (!c.renew_auto_set)
		c.renew_auto = c.renew_section;
	if (c.renew_days == 0)
		c.renew_days = 30;
	if (c.renew_spread == 0 && !c.renew_spread_set)
		c.renew_spread = 43200;
	if (c.renew_wait == 0)
		c.renew_wait = 60;
	if (c.renew_retry == 0)
		c.renew_retry = 3600;
	if (c.renew_critical_days == 0)
		c.renew_critical_days = 7;
	if (!c.renew_prune_set)
		c.renew_prune = true;
	if (!c.retain_set[0])
		c.retain_expired = 30;
	if (!c.retain_set[1])
		c.retain_superseded = 90;
	if (c.max_pending_per_user == 0)
		c.max_pending_per_user = 20;
	if (check(&c, name) != CW_OK) {
		cw_config_release(&c);
		return CW_ERR_CONFIG;
	}
	*out = c;
	return CW_OK;
}

enum cw_err
cw_config_load(const char *path, struct cw_config *out)
{
	struct cw_buf text;
	struct stat st;
	char *copy = NULL, *dir = NULL;
	enum cw_err rc;

	cw_buf_init(&text);
	if (stat(path, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH))) {
		cw_error("configuration '%s' is writable by group or others; "
			 "refusing it (chmod 644, owner root)",
			 path);
		return CW_ERR_CONFIG;
	}
	rc = cw_file_read(path, 1 << 20, &text);
	if (rc != CW_OK) {
		cw_error("cannot read configuration '%s'", path);
		return rc == CW_ERR_NOT_FOUND ? CW_ERR_CONFIG : rc;
	}
	copy = strdup(path);
	if (copy == NULL || (dir = realpath(dirname(copy), NULL)) == NULL) {
		rc = CW_ERR_NOMEM;
		goto out;
	}
	rc = cw_config_parse((const char *)text.data, path, dir, out);
	if (rc == CW_OK && (out->path = strdup(path)) == NULL) {
		cw_config_release(out);
		rc = CW_ERR_NOMEM;
	}
out:
	free(dir);
	free(copy);
	cw_buf_release(&text);
	return rc;
}

void
cw_config_release(struct cw_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_cas; i++) {
		struct cw_ca_profile *p = &c->cas[i];

		free(p->name);
		free(p->protocol);
		free(p->directory);
		free(p->trust);
		free(p->contact);
		free(p->eab_kid);
		free(p->eab_hmac_file);
		free(p->roots);
		free(p->challenge);
		free(p->http01_listen);
		free(p->http01_webroot);
		free(p->dns01_hook);
		free(p->account_key);
		free(p->server);
		free(p->reference);
		free(p->secret_file);
		free(p->recipient);
		free(p->template);
		free(p->command);
	}
	free(c->cas);
	for (size_t i = 0; i < c->n_deploys; i++) {
		struct cw_deploy *d = &c->deploys[i];

		free(d->usage);
		free(d->server);
		free(d->out);
		free(d->command);
		free(d->check);
		free(d->server_user);
		free(d->pin_source);
	}
	free(c->deploys);
	free(c->renew_notify);
	free(c->renew_outbox);
	free(c->path);
	free(c->store_path);
	free(c->token_uri);
	free(c->token_module);
	free(c->token_pin_file);
	free(c->audit_token);
	free(c->audit_pin_file);
	free(c->audit_public_key);
	free(c->service_socket);
	free(c->service_user);
	free(c->topology_file);
	free(c->topology_host);
	free(c->trust_anchors);
	free(c->admin_group);
	memset(c, 0, sizeof(*c));
}

const struct cw_ca_profile *
cw_config_ca(const struct cw_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_cas; i++)
		if (strcmp(c->cas[i].name, name) == 0)
			return &c->cas[i];
	return NULL;
}

/* inih handler of cw_config_socket: [service] socket only. */
static int
socket_handler(void *user, const char *section, const char *key,
	       const char *value)
{
	char **out = user;

	if (key != NULL && strcmp(section, "service") == 0 &&
	    strcmp(key, "socket") == 0) {
		free(*out);
		*out = strdup(value);
	}
	return 1;
}

char *
cw_config_socket(const char *path)
{
	char *sock = NULL, *copy, *dir, *abs;

	if (path == NULL || ini_parse(path, socket_handler, &sock) < 0 ||
	    sock == NULL) {
		free(sock);
		return strdup(CW_SOCKET_DEFAULT);
	}
	if (sock[0] == '/')
		return sock;
	copy = strdup(path);
	dir = copy ? realpath(dirname(copy), NULL) : NULL;
	abs = dir ? cw_printf("%s/%s", dir, sock) : NULL;
	free(dir);
	free(copy);
	free(sock);
	return abs;
}

/* One component: owned by root, not writable by group or others unless
 * it is a folder with the sticky bit (such as /tmp). */
static enum cw_err
trusted_one(const char *p, const struct stat *st, const char *what,
	    const char *path)
{
	bool sticky_dir = S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);

	if (st->st_uid != 0) {
		cw_error("%s '%s' is not trusted: '%s' belongs to uid %u, not "
			 "root",
			 what, path, p, (unsigned)st->st_uid);
		return CW_ERR_CONFIG;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !sticky_dir) {
		cw_error("%s '%s' is not trusted: '%s' is writable by group or "
			 "others (mode %04o)",
			 what, path, p, (unsigned)(st->st_mode & 07777));
		return CW_ERR_CONFIG;
	}
	return CW_OK;
}

/* Every prefix of an absolute path, with lstat (links not followed). */
static enum cw_err
trusted_chain(const char *abs, const char *what, const char *path)
{
	char *p = strdup(abs);
	enum cw_err rc = CW_OK;
	size_t n;

	if (p == NULL)
		return CW_ERR_NOMEM;
	n = strlen(p);
	for (size_t i = 1; i <= n && rc == CW_OK; i++) {
		struct stat st;
		char c = p[i];

		if (c != '/' && c != 0)
			continue;
		p[i] = 0;
		if (lstat(p, &st) != 0) {
			cw_error("%s '%s': cannot read '%s': %s", what, path, p,
				 strerror(errno));
			rc = CW_ERR_CONFIG;
		} else if (!S_ISLNK(st.st_mode)) {
			rc = trusted_one(p, &st, what, path);
		}
		p[i] = c;
	}
	if (rc == CW_OK) {
		struct stat root;

		if (stat("/", &root) == 0)
			rc = trusted_one("/", &root, what, path);
	}
	free(p);
	return rc;
}

enum cw_err
cw_check_trusted(const char *path, const char *what)
{
	char *abs = cw_abspath(path), *real = realpath(path, NULL);
	enum cw_err rc;

	if (abs == NULL || real == NULL) {
		if (real == NULL)
			cw_error("%s '%s': %s", what, path, strerror(errno));
		free(abs);
		free(real);
		return real == NULL ? CW_ERR_CONFIG : CW_ERR_NOMEM;
	}
	rc = trusted_chain(abs, what, path);
	if (rc == CW_OK && strcmp(abs, real) != 0)
		rc = trusted_chain(real, what, path);
	free(abs);
	free(real);
	return rc;
}

enum cw_err
cw_config_check_host(const struct cw_config *c)
{
	struct group g, *res = NULL;
	char buf[4096];
	enum cw_err rc = CW_OK;

	if (c->path != NULL)
		rc = cw_check_trusted(c->path, "configuration");
	if (rc == CW_OK && c->token_module != NULL)
		rc = cw_check_trusted(c->token_module, "PKCS#11 module");
	for (size_t i = 0; rc == CW_OK && i < c->n_cas; i++)
		if (c->cas[i].dns01_hook != NULL)
			rc = cw_check_trusted(c->cas[i].dns01_hook,
					      "dns-01 hook");
	/* a CA helper runs as the service's user, which holds the PINs:
	 * nobody but root may change it */
	for (size_t i = 0; rc == CW_OK && i < c->n_cas; i++) {
		char **argv = c->cas[i].command
		                  ? cw_deploy_argv(c->cas[i].command)
		                  : NULL;

		if (c->cas[i].command != NULL && argv == NULL)
			rc = CW_ERR_NOMEM;
		else if (argv != NULL && argv[0] != NULL)
			rc = cw_check_trusted(argv[0], "CA helper");
		free(argv);
	}
	if (rc == CW_OK && c->renew_notify != NULL) {
		char **argv = cw_deploy_argv(c->renew_notify);

		rc = argv ? cw_check_trusted(argv[0], "[renew] notify command")
		          : CW_ERR_NOMEM;
		free(argv);
	}
	for (size_t i = 0; rc == CW_OK && i < 2 * c->n_deploys; i++) {
		const struct cw_deploy *d = &c->deploys[i / 2];
		const char *line = i % 2 ? d->command : d->check;
		char **argv = line ? cw_deploy_argv(line) : NULL;

		if (line != NULL && argv == NULL)
			rc = CW_ERR_NOMEM;
		else if (argv != NULL)
			rc = cw_check_trusted(argv[0], i % 2 ? "deploy command"
			                                     : "deploy check");
		free(argv);
	}
	if (rc == CW_OK && c->admin_group != NULL &&
	    getgrnam_r(c->admin_group, &g, buf, sizeof(buf), &res) == 0 &&
	    res == NULL) {
		cw_error("%s: [policy] admin_group '%s' does not exist (create "
			 "it: groupadd %s)",
			 c->path ? c->path : "configuration", c->admin_group,
			 c->admin_group);
		rc = CW_ERR_CONFIG;
	}
	return rc;
}

const struct cw_deploy *
cw_config_deploy(const struct cw_config *c, const char *usage)
{
	for (size_t i = 0; i < c->n_deploys; i++)
		if (strcmp(c->deploys[i].usage, usage) == 0)
			return &c->deploys[i];
	return NULL;
}

char **
cw_deploy_argv(const char *command)
{
	size_t n = 2, len = strlen(command) + 1;
	char **v, *s;
	size_t i = 0;

	for (const char *p = command; *p; p++)
		if (*p == ' ' || *p == '\t')
			n++;
	v = malloc(n * sizeof(*v) + len);
	if (v == NULL)
		return NULL;
	s = (char *)(v + n);
	memcpy(s, command, len);
	for (char *tok = strtok(s, " \t"); tok != NULL;
	     tok = strtok(NULL, " \t"))
		v[i++] = tok;
	v[i] = NULL;
	return v;
}
