/* The wizard's context: configuration, host, and lazily opened parts. */
#define _DEFAULT_SOURCE
#include "wizard_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *machine_fqdn_lookup(void);
static char *cached_fqdn;

void
wiz_preload(void)
{
	/* OpenSSL's configuration and SQLite's setup hold nothing a fork
	 * would break (no module is loaded, no store opened here) */
	x509_preload();
	store_preload();
	free(cached_fqdn);
	cached_fqdn = machine_fqdn_lookup();
}

static char *
machine_fqdn(void)
{
	if (cached_fqdn != NULL)
		return strdup(cached_fqdn);
	return machine_fqdn_lookup();
}

static char *
machine_fqdn_lookup(void)
{
	char name[256];
	struct addrinfo hints, *res = NULL;
	char *fqdn;

	if (gethostname(name, sizeof(name) - 1) != 0)
		return NULL;
	name[sizeof(name) - 1] = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_family = AF_UNSPEC;
	if (getaddrinfo(name, NULL, &hints, &res) == 0 && res != NULL &&
	    res->ai_canonname != NULL && strchr(res->ai_canonname, '.'))
		fqdn = strdup(res->ai_canonname);
	else
		fqdn = strdup(name);
	if (res != NULL)
		freeaddrinfo(res);
	return fqdn;
}

enum cw_err
wiz_new(const char *config_path, const char *host, struct wiz **out)
{
	struct wiz *w = calloc(1, sizeof(*w));
	enum cw_err rc;

	if (w == NULL)
		return CW_ERR_NOMEM;
	w->pin.fd = -1;
	w->tokens_lock = -1;
	if (config_path == NULL)
		config_path = getenv("CERTWIZ_CONF");
	if (config_path == NULL && access(CW_CONFIG_DEFAULT_PATH, F_OK) == 0)
		config_path = CW_CONFIG_DEFAULT_PATH;
	/* No configuration at all: defaults (verbs that need a store or a
	 * token say what is missing). */
	rc = config_path ? cw_config_load(config_path, &w->cfg)
			 : cw_config_parse("", "(defaults)", NULL, &w->cfg);
	if (rc != CW_OK)
		goto fail;
	w->own_host = w->cfg.topology_host ? strdup(w->cfg.topology_host)
					   : machine_fqdn();
	w->host = host ? strdup(host) : cw_strdup(w->own_host);
	if (w->host == NULL || w->own_host == NULL) {
		cw_error("cannot tell this machine's name; use --host");
		rc = CW_ERR_USAGE;
		goto fail;
	}
	*out = w;
	return CW_OK;
fail:
	wiz_free(w);
	return rc;
}

void
wiz_free(struct wiz *w)
{
	if (w == NULL)
		return;
	wiz_out_release(w);
	store_close(w->store);
	topo_free(w->topo);
	for (size_t i = 0; i < w->n_sessions; i++)
		tok_session_close(w->sessions[i]);
	free(w->sessions);
	tok_ctx_free(w->tokens);
	if (w->tokens_lock >= 0)
		close(w->tokens_lock); /* and the lock with it */
	free(w->user);
	cw_config_release(&w->cfg);
	free(w->host);
	free(w->own_host);
	free(w);
}

enum cw_err
wiz_set_caller(struct wiz *w, unsigned uid, const char *name, bool admin)
{
	char *copy = strdup(name);

	if (copy == NULL)
		return CW_ERR_NOMEM;
	free(w->user);
	w->user = copy;
	w->uid = uid;
	w->admin = admin;
	w->caller_set = true;
	return CW_OK;
}

/* Until a front end says who asks: this process's real user. */
static void
default_caller(const struct wiz *cw)
{
	struct wiz *w = (struct wiz *)cw;
	char *name;

	if (w->caller_set)
		return;
	name = cw_user_name();
	if (name == NULL)
		return;
	free(w->user);
	w->user = name;
	w->uid = (unsigned)getuid();
	w->admin = cw_uid_is_admin(w->uid, w->cfg.admin_group);
	w->caller_set = true;
}

bool
wiz_is_admin(const struct wiz *w)
{
	default_caller(w);
	return w->admin;
}

unsigned
wiz_caller_uid(const struct wiz *w)
{
	default_caller(w);
	return w->uid;
}

const char *
wiz_caller_name(const struct wiz *w)
{
	default_caller(w);
	return w->user ? w->user : "unknown";
}

const char *
wiz_admin_group(const struct wiz *w)
{
	return w->cfg.admin_group;
}

enum cw_err
wiz_require_admin(struct wiz *w, const char *verb)
{
	if (wiz_is_admin(w))
		return CW_OK;
	cw_error("permission denied: '%s' needs membership in group '%s' "
		 "(or root)",
		 verb, w->cfg.admin_group);
	wiz_audit_failure(w, "permission-denied",
			  NULL, CW_ERR_PERM);
	return CW_ERR_PERM;
}

void
wiz_set_changing(struct wiz *w, bool changing)
{
	w->changing = changing;
}

void
wiz_set_pin_source(struct wiz *w, const struct cw_secret_source *src)
{
	w->pin = *src;
}

const struct cw_config *
wiz_config(const struct wiz *w)
{
	return &w->cfg;
}

const char *
wiz_host(const struct wiz *w)
{
	return w->host;
}

enum cw_err
wiz_set_host(struct wiz *w, const char *host)
{
	char *copy = strdup(host);

	if (copy == NULL)
		return CW_ERR_NOMEM;
	free(w->host);
	w->host = copy;
	return CW_OK;
}

const char *
wiz_own_host(const struct wiz *w)
{
	return w->own_host;
}

#define TOKENS_LOCK_WAIT_MS (120 * 1000)

/* The lock file beside the store, in the service's own folder. */
static int
open_tokens_lock(const struct wiz *w)
{
	char *copy = w->cfg.store_path ? strdup(w->cfg.store_path) : NULL;
	char *path = copy ? cw_printf("%s/tokens.lock", dirname(copy)) : NULL;
	int fd = -1;

	if (path != NULL) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			cw_debug("no tokens lock at '%s': %s", path,
				 strerror(errno));
	}
	free(path);
	free(copy);
	return fd;
}

enum cw_err
wiz_tokens_take(struct wiz *w)
{
	struct timespec step = { 0, 20 * 1000 * 1000 };

	if (w->tokens_locked)
		return CW_OK;
	if (w->tokens_lock < 0 && (w->tokens_lock = open_tokens_lock(w)) < 0)
		return CW_OK; /* no store beside which to lock */
	for (int waited = 0; flock(w->tokens_lock, LOCK_EX | LOCK_NB) != 0;
	     waited += 20) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			cw_error("cannot lock the tokens: %s", strerror(errno));
			return CW_ERR_IO;
		}
		if (waited >= TOKENS_LOCK_WAIT_MS) {
			cw_error("another certwiz process has been using the "
				 "tokens for two minutes; try again later");
			return CW_ERR_TOKEN;
		}
		if (waited == 1000)
			cw_info("waiting for another certwiz process to "
				"finish with the tokens");
		nanosleep(&step, NULL);
	}
	w->tokens_locked = true;
	return CW_OK;
}

void
wiz_tokens_release(struct wiz *w)
{
	if (w->tokens_locked && flock(w->tokens_lock, LOCK_UN) == 0)
		w->tokens_locked = false;
}

enum cw_err
wiz_modules(struct wiz *w, struct tok_ctx **out)
{
	enum cw_err rc = wiz_tokens_take(w);

	if (rc != CW_OK)
		return rc;
	if (w->tokens == NULL) {
		rc = tok_ctx_open(w->cfg.token_module, &w->tokens);
		if (rc != CW_OK)
			return rc;
	}
	*out = w->tokens;
	return CW_OK;
}

enum cw_err
wiz_tokens(struct wiz *w, struct tok_info **out, size_t *n)
{
	struct tok_ctx *m = NULL;
	enum cw_err rc = wiz_modules(w, &m);

	return rc == CW_OK ? tok_list(m, out, n) : rc;
}

/* A PIN typed at the terminal: asked for (after the checks that need no
 * PIN) while other certwiz processes may use the tokens. */
static enum cw_err
prompt_unlocked(struct wiz *w, struct tok_session *s, struct cw_secret **pin)
{
	char *prompt;
	enum cw_err rc = tok_login_preflight(s), lock;

	if (rc != CW_OK)
		return rc;
	prompt = cw_printf("PIN for token '%s'", tok_session_info(s)->label);
	if (prompt == NULL)
		return CW_ERR_NOMEM;
	wiz_tokens_release(w);
	rc = cw_secret_prompt_pin(prompt, pin);
	lock = wiz_tokens_take(w);
	free(prompt);
	if (rc == CW_OK && lock != CW_OK) {
		cw_secret_free(*pin);
		*pin = NULL;
		rc = lock;
	}
	return rc;
}

/* The PIN for the token uri names: the audit token's own PIN file; the
 * caller's (a root caller without the service); the configured one. */
static struct cw_secret_source
pin_for(const struct wiz *w, const char *uri)
{
	const struct cw_config *c = &w->cfg;
	struct cw_secret_source none = { NULL, -1, NULL, CW_OK, NULL };

	if (c->audit_token && c->audit_pin_file && uri &&
	    strcmp(uri, c->audit_token) == 0)
		return (struct cw_secret_source){ c->audit_pin_file, -1, NULL,
						  CW_OK, NULL };
	if (!cw_secret_source_prompts(&w->pin))
		return w->pin;
	if (c->token_pin_file)
		return (struct cw_secret_source){ c->token_pin_file, -1, NULL,
						  CW_OK, NULL };
	return none;
}

enum cw_err
wiz_open_token(struct wiz *w, const char *uri, struct tok_session **out)
{
	struct tok_ctx *m = NULL;
	struct tok_session *s = NULL, **v;
	struct cw_secret *pin = NULL;
	struct cw_secret_source src = pin_for(w, uri);
	enum cw_err rc;

	for (size_t i = 0; i < w->n_sessions; i++) {
		if (tok_session_matches(w->sessions[i], uri)) {
			*out = w->sessions[i];
			return CW_OK;
		}
	}
	rc = wiz_modules(w, &m);
	if (rc == CW_OK)
		rc = tok_open(m, uri, &s);
	if (rc == CW_OK && tok_login_prompts(s, uri, &src))
		rc = prompt_unlocked(w, s, &pin);
	if (rc == CW_OK)
		rc = tok_login(s, uri,
			       pin ? &(struct cw_secret_source){ NULL, -1, pin,
								 CW_OK, NULL }
				   : &src);
	cw_secret_free(pin);
	if (rc == CW_OK) {
		v = realloc(w->sessions, (w->n_sessions + 1) * sizeof(*v));
		if (v == NULL)
			rc = CW_ERR_NOMEM;
		else
			w->sessions = v;
	}
	if (rc != CW_OK) {
		if (s != NULL && (rc == CW_ERR_PIN_INCORRECT ||
				  rc == CW_ERR_PIN_LOCKED))
			wiz_audit_token_failure(w, tok_session_info(s), rc);
		tok_session_close(s);
		return rc;
	}
	w->sessions[w->n_sessions++] = s;
	*out = s;
	return CW_OK;
}

char *
wiz_token_uri(const struct store_token *t)
{
	return tok_token_uri(t->label, t->serial, t->manufacturer);
}

static enum cw_err
open_store(struct wiz *w, bool create)
{
	enum cw_err rc;

	if (w->cfg.store_path == NULL) {
		cw_error("%s: [store] path is not set",
			 w->cfg.path ? w->cfg.path : "configuration");
		return CW_ERR_CONFIG;
	}
	rc = store_open(w->cfg.store_path, create, &w->store);
	if (rc == CW_OK && w->changing && !create)
		wiz_audit_config_changes(w);
	return rc;
}

enum cw_err
wiz_store(struct wiz *w, struct store **out)
{
	enum cw_err rc = w->store ? CW_OK : open_store(w, false);

	if (rc == CW_OK)
		*out = w->store;
	return rc;
}

enum cw_err
wiz_init(struct wiz *w, struct wiz_init_result *out)
{
	struct stat st;
	char *target = NULL;
	enum cw_err rc;

	memset(out, 0, sizeof(*out));
	if (w->store != NULL)
		return CW_ERR_INTERNAL;
	out->created = w->cfg.store_path != NULL &&
		       lstat(w->cfg.store_path, &st) != 0 && errno == ENOENT;
	rc = open_store(w, true);
	if (rc != CW_OK)
		return rc;
	out->path = w->cfg.store_path;
	out->schema = store_schema(w->store);
	if (!out->created)
		return CW_OK;
	target = audit_target("store", w->cfg.store_path, NULL);
	rc = target ? store_begin(w->store) : CW_ERR_NOMEM;
	if (rc == CW_OK)
		rc = store_end(w->store, wiz_audit(w, "store-created", target,
						   "success", NULL));
	if (rc == CW_OK && w->changing)
		wiz_audit_config_changes(w);
	free(target);
	return rc;
}

/* Every subject and name the topology expands to is one X.509 takes. */
static enum cw_err
check_x509(void *user, const char *host, const struct topo_usage *u)
{
	enum cw_err rc = x509_check_subject(u->subject);

	(void)user;
	for (size_t k = 0; k < u->names.n && rc == CW_OK; k++)
		rc = x509_check_name(u->names.v[k]);
	if (rc != CW_OK)
		cw_error("topology: usage '%s' of host '%s'", u->name, host);
	return rc;
}

static enum cw_err checked(struct topo *t, struct topo **out);

enum cw_err
wiz_topology_load(struct wiz *w, const char *path, struct topo **out)
{
	struct topo *t = NULL;
	enum cw_err rc;

	if (path == NULL)
		path = w->cfg.topology_file;
	if (path == NULL) {
		cw_error("no topology: set [topology] file in the configuration");
		return CW_ERR_CONFIG;
	}
	rc = topo_load_file(path, &t);
	return rc == CW_OK ? checked(t, out) : rc;
}

enum cw_err
wiz_topology_parse(struct wiz *w, const struct cw_buf *text,
		   const char *name, struct topo **out)
{
	struct topo *t = NULL;
	enum cw_err rc;

	(void)w;
	if (text->len > (4 << 20)) {
		cw_error("topology '%s' is larger than 4 MiB", name);
		return CW_ERR_TOPOLOGY;
	}
	rc = topo_load_string((const char *)text->data, text->len, name, &t);
	return rc == CW_OK ? checked(t, out) : rc;
}

/* The topology t (taken) once every subject and name passes. */
static enum cw_err
checked(struct topo *t, struct topo **out)
{
	enum cw_err rc = CW_OK;

	if (topo_each_usage(t, check_x509, NULL) != CW_OK)
		rc = CW_ERR_TOPOLOGY;
	if (rc != CW_OK) {
		topo_free(t);
		return rc;
	}
	*out = t;
	return CW_OK;
}

enum cw_err
wiz_topology(struct wiz *w, const struct topo **out)
{
	if (w->topo == NULL) {
		enum cw_err rc = wiz_topology_load(w, NULL, &w->topo);

		if (rc != CW_OK)
			return rc;
	}
	*out = w->topo;
	return CW_OK;
}

void
wiz_plan_release(struct wiz_plan *p)
{
	if (p == NULL)
		return;
	free(p->subject);
	cw_strlist_release(&p->names);
	cw_strlist_release(&p->eku);
	free(p->key);
	free(p->ca);
	memset(p, 0, sizeof(*p));
}

static enum cw_err
merge(struct wiz_plan *p, struct topo_usage *u, bool first)
{
	enum cw_err rc = CW_OK;

	if (first) {
		p->subject = u->subject;
		p->key = u->key;
		p->ca = u->ca;
		u->subject = u->key = u->ca = NULL;
	}
	for (size_t i = 0; i < u->names.n && rc == CW_OK; i++)
		rc = cw_strlist_add_unique(&p->names, u->names.v[i]);
	for (size_t i = 0; i < u->eku.n && rc == CW_OK; i++)
		rc = cw_strlist_add_unique(&p->eku, u->eku.v[i]);
	return rc;
}

enum cw_err
wiz_plan(struct wiz *w, const struct cw_strlist *usages,
	 const struct cw_strlist *extra, struct wiz_plan *out)
{
	const struct topo *t = NULL;
	struct wiz_plan p;
	enum cw_err rc;

	memset(&p, 0, sizeof(p));
	if (usages->n == 0) {
		cw_error("at least one --usage is needed");
		return CW_ERR_USAGE;
	}
	rc = wiz_topology(w, &t);
	for (size_t i = 0; i < usages->n && rc == CW_OK; i++) {
		struct topo_usage u;

		rc = topo_expand(t, w->host, usages->v[i], &u);
		if (rc != CW_OK)
			break;
		rc = merge(&p, &u, i == 0);
		topo_usage_release(&u);
	}
	for (size_t i = 0; extra && i < extra->n && rc == CW_OK; i++) {
		rc = x509_check_name(extra->v[i]);
		if (rc == CW_OK)
			rc = cw_strlist_add_unique(&p.names, extra->v[i]);
	}
	if (rc == CW_OK && p.key == NULL && (p.key = strdup("ec:P-256")) == NULL)
		rc = CW_ERR_NOMEM;
	if (rc != CW_OK) {
		wiz_plan_release(&p);
		return rc;
	}
	*out = p;
	return CW_OK;
}
