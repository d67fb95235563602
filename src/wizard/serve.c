/*
 * What a web server needs to serve a usage's certificate with its key on
 * the token (export --server): the server's configuration snippets, the
 * OpenSSL configuration that loads libp11's engine, the environment its
 * service needs, and whether the server's worker user can open the token
 * at all (after the fork each worker logs in again and looks the key up
 * again; a worker that cannot open the token fails every handshake).
 */
#define _GNU_SOURCE
#include "wizard_int.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The module environment a server's workers need too, when certwizd has
 * it. */
static const char *const module_env[] = {
    "SOFTHSM2_CONF",
    "TPM2_PKCS11_STORE",
    "TPM2_PKCS11_TCTI",
};

struct who {
	const char *name;
	uid_t uid;
	gid_t groups[64];
	int n_groups;
};

static bool
in_group(const struct who *u, gid_t g)
{
	for (int i = 0; i < u->n_groups; i++)
		if (u->groups[i] == g)
			return true;
	return false;
}

/* Whether u may do what `need` asks (R_OK, W_OK, X_OK bits) on st. */
static bool
may(const struct who *u, const struct stat *st, int need)
{
	unsigned shift;

	if (u->uid == 0)
		return true;
	shift = st->st_uid == u->uid ? 6 : in_group(u, st->st_gid) ? 3 : 0;
	for (int bit = 0; bit < 3; bit++) {
		int want = (int[]){R_OK, W_OK, X_OK}[bit];
		unsigned mode = (unsigned)(04 >> bit) << shift;

		if ((need & want) && !(st->st_mode & mode))
			return false;
	}
	return true;
}

static char *
describe(const char *path, const struct stat *st)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);

	return cw_printf("'%s' (owner %s, group %s, mode %04o)", path,
	                 pw ? pw->pw_name : "?", gr ? gr->gr_name : "?",
	                 (unsigned)(st->st_mode & 07777));
}

/* NULL when u may; else why not. */
static char *
check_path(const struct who *u, const char *path, int need)
{
	struct stat st;
	char *d, *why;

	if (stat(path, &st) != 0)
		return cw_printf("'%s': %s", path, strerror(errno));
	if (may(u, &st, need))
		return NULL;
	d = describe(path, &st);
	why = cw_printf("user '%s' cannot %s %s", u->name,
	                need & W_OK ? "read and write" : "read", d ? d : path);
	free(d);
	return why;
}

/* SoftHSM2's token folder, from its configuration file. */
static char *
softhsm_tokendir(const char *conf)
{
	FILE *f = fopen(conf, "r");
	char line[1024], *dir = NULL;

	if (f == NULL)
		return NULL;
	while (dir == NULL && fgets(line, sizeof(line), f) != NULL) {
		char *p = line + strspn(line, " \t");

		if (strncmp(p, "directories.tokendir", 20) != 0)
			continue;
		p = strchr(p, '=');
		if (p == NULL)
			continue;
		p += strspn(p + 1, " \t") + 1;
		p[strcspn(p, " \t\r\n")] = '\0';
		dir = cw_strdup(p);
	}
	fclose(f);
	return dir;
}

/* Every folder and file under dir (one level of token folders, as
 * SoftHSM2 keeps them) must be readable and writable by u. */
static char *
check_tokendir(const struct who *u, const char *dir)
{
	char *why = check_path(u, dir, R_OK | W_OK | X_OK);
	DIR *d;
	struct dirent *e;

	if (why != NULL || (d = opendir(dir)) == NULL)
		return why;
	while (why == NULL && (e = readdir(d)) != NULL) {
		char *p;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		p = cw_printf("%s/%s", dir, e->d_name);
		if (p != NULL && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			why = check_tokendir(u, p);
		else if (p != NULL)
			why = check_path(u, p, R_OK | W_OK);
		free(p);
	}
	closedir(d);
	return why;
}

/* libp11's engine, where this OpenSSL looks for engines. */
static char *
engine_path(void)
{
	const char *s = OpenSSL_version(OPENSSL_ENGINES_DIR);
	const char *a = strchr(s, '"'), *b = a ? strrchr(s, '"') : NULL;

	if (a == NULL || b == a)
		return NULL;
	return cw_printf("%.*s/pkcs11.so", (int)(b - a - 1), a + 1);
}

/* Why the server's worker user could not use the key, or NULL. */
static char *
server_access(struct wiz *w, const char *user, const char *engine)
{
	const char *module = w->cfg.token_module;
	struct passwd *pw = getpwnam(user);
	struct who u = {user, 0, {0}, 64};
	char *why = NULL;

	if (pw == NULL)
		return cw_printf("there is no user '%s'", user);
	u.uid = pw->pw_uid;
	if (getgrouplist(user, pw->pw_gid, u.groups, &u.n_groups) < 0)
		u.n_groups = 0;
	if (access(engine, R_OK) != 0)
		return cw_printf("libp11's engine is not at '%s' (Debian: "
		                 "libengine-pkcs11-openssl)",
		                 engine);
	if (module == NULL)
		return NULL; /* p11-kit's modules: nothing known to check */
	if (strstr(module, "tpm2_pkcs11") != NULL)
		return cw_strdup("libp11's engine cannot use tpm2-pkcs11 keys: "
		                 "once an engine is loaded, tpm2-tss's own "
		                 "OpenSSL calls fail and every login fails "
		                 "(serve them with a server built on GnuTLS)");
	why = check_path(&u, module, R_OK);
	if (why == NULL && strstr(module, "opencryptoki") != NULL) {
		struct group *g = getgrnam("pkcs11");

		if (u.uid != 0 && (g == NULL || !in_group(&u, g->gr_gid)))
			why = cw_printf("user '%s' is not in group pkcs11, "
			                "which openCryptoki serves (usermod "
			                "-a -G pkcs11 %s)",
			                user, user);
	}
	if (why == NULL && strstr(module, "softhsm") != NULL) {
		const char *conf = getenv("SOFTHSM2_CONF");
		char *dir;

		if (conf == NULL)
			conf = "/etc/softhsm/softhsm2.conf";
		why = check_path(&u, conf, R_OK);
		dir = why ? NULL : softhsm_tokendir(conf);
		if (why == NULL && dir != NULL &&
		    (why = check_tokendir(&u, dir)) != NULL) {
			char *more = cw_printf(
			    "%s: give the token folder to a group of the "
			    "server's user (chgrp -R GROUP %s; chmod -R "
			    "g+rwX %s; find %s -type d -exec chmod g+s {} "
			    "+), and again after each new key (SoftHSM2 "
			    "makes its files 0600)",
			    why, dir, dir, dir);

			free(why);
			why = more;
		}
		free(dir);
	}
	return why;
}

/* A PIN file libp11 would misread: it keeps a trailing newline. */
static char *
pin_source_problem(const char *path)
{
	FILE *f = fopen(path, "r");
	int c = EOF, last = EOF;

	if (f == NULL)
		return NULL; /* the server's own (root's) file: not ours to read
		              */
	while ((c = fgetc(f)) != EOF)
		last = c;
	fclose(f);
	if (last == '\n' || last == '\r')
		return cw_printf(
		    "the PIN source '%s' ends with a newline, which "
		    "libp11 sends as part of the PIN: give the "
		    "server a file without one (--pin-source)",
		    path);
	return NULL;
}

char *
wiz_server_access(struct wiz *w, const char *user, const char *pin_source)
{
	char *engine = engine_path(), *why;

	if (engine == NULL)
		return NULL;
	why = server_access(w, user, engine);
	free(engine);
	return why ? why : pin_source_problem(pin_source);
}

static enum cw_err
add_file(struct wiz_export_result *r, const char *dir, const char *name)
{
	char *p = cw_printf("%s/%s", dir, name);

	if (p == NULL || r->n_files == WIZ_EXPORT_FILES) {
		free(p);
		return CW_ERR_NOMEM;
	}
	r->files[r->n_files++] = p;
	return CW_OK;
}

/* Frees what wiz_server_render made. */
void
wiz_server_files_release(struct wiz_server_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->names[i]);
		free(f->contents[i]);
	}
	memset(f, 0, sizeof(*f));
}

static enum cw_err
add(struct wiz_server_files *f, char *name, char *content)
{
	if (name == NULL || content == NULL || f->n == WIZ_EXPORT_FILES) {
		free(name);
		free(content);
		return CW_ERR_NOMEM;
	}
	f->names[f->n] = name;
	f->contents[f->n++] = content;
	return CW_OK;
}

/* What a usage's snippet says once nothing is assigned: the server
 * refuses the handshake rather than serve a certificate that was
 * removed. */
static char *
removed_snippet(const struct wiz_server_spec *s, bool nginx)
{
	if (nginx)
		return cw_printf("# certwiz: usage %s has no certificate "
		                 "(removed): handshakes are refused\n"
		                 "ssl_reject_handshake on;\n",
		                 s->usage);
	return cw_printf("# certwiz: usage %s has no certificate (removed): "
	                 "TLS is off and every request is denied\n"
	                 "SSLEngine off\n"
	                 "<Location \"/\">\n"
	                 "\tRequire all denied\n"
	                 "</Location>\n",
	                 s->usage);
}

enum cw_err
wiz_server_render(const struct wiz_server_spec *s, struct wiz_server_files *f)
{
	bool nginx = strcmp(s->server, "nginx") == 0;
	char *engine = NULL, *env = NULL, *main_conf = NULL, *cnf = NULL;
	enum cw_err rc = CW_OK;

	memset(f, 0, sizeof(*f));
	if (!nginx && strcmp(s->server, "apache") != 0)
		return CW_OK; /* "files": the chain and the URI only */
	engine = engine_path();
	cnf = cw_printf("%s/pkcs11-engine.cnf", s->dir);
	env = cw_printf("OPENSSL_CONF=%s\n", cnf ? cnf : "");
	main_conf = cw_strdup(nginx ? "env OPENSSL_CONF;\n"
	                            : "SSLCryptoDevice pkcs11\n");
	if (engine == NULL || cnf == NULL || env == NULL || main_conf == NULL) {
		rc = CW_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < sizeof(module_env) / sizeof(module_env[0]);
	     i++) {
		const char *v = getenv(module_env[i]);
		char *e, *m;

		if (v == NULL)
			continue;
		e = cw_printf("%s%s=%s\n", env, module_env[i], v);
		m = nginx ? cw_printf("%senv %s;\n", main_conf, module_env[i])
		          : cw_strdup(main_conf);
		free(env);
		free(main_conf);
		env = e;
		main_conf = m;
		if (env == NULL || main_conf == NULL) {
			rc = CW_ERR_NOMEM;
			goto out;
		}
	}
	rc = add(f, cw_strdup("pkcs11-engine.cnf"),
	         cw_printf("# certwiz: libp11's engine for the token's module\n"
	                   "openssl_conf = openssl_init\n"
	                   "[openssl_init]\n"
	                   "engines = engine_section\n"
	                   "[engine_section]\n"
	                   "pkcs11 = pkcs11_section\n"
	                   "[pkcs11_section]\n"
	                   "engine_id = pkcs11\n"
	                   "dynamic_path = %s\n"
	                   "%s%s%s",
	                   engine, s->module ? "MODULE_PATH = " : "",
	                   s->module ? s->module : "", s->module ? "\n" : ""));
	if (rc != CW_OK)
		goto out;
	if (s->key_uri == NULL)
		rc = add(f, cw_printf("%s.%s.conf", s->usage, s->server),
		         removed_snippet(s, nginx));
	else if (nginx)
		rc =
		    add(f, cw_printf("%s.nginx.conf", s->usage),
		        cw_printf("# certwiz: usage %s; include inside nginx's "
		                  "server block\n"
		                  "ssl_certificate %s/%s.chain.pem;\n"
		                  "ssl_certificate_key "
		                  "\"engine:pkcs11:%s?pin-source=%s\";\n",
		                  s->usage, s->dir, s->usage, s->key_uri,
		                  s->pin_source));
	else /* mod_ssl hands a pkcs11: key to the SSLCryptoDevice engine */
		rc = add(
		    f, cw_printf("%s.apache.conf", s->usage),
		    cw_printf("# certwiz: usage %s; include inside the "
		              "<VirtualHost> (after SSLEngine on)\n"
		              "SSLCertificateFile %s/%s.chain.pem\n"
		              "SSLCertificateKeyFile \"%s?pin-source=%s\"\n",
		              s->usage, s->dir, s->usage, s->key_uri,
		              s->pin_source));
	if (rc == CW_OK)
		rc =
		    add(f, cw_printf("%s.%s-main.conf", s->usage, s->server),
		        cw_printf(nginx ? "# certwiz: usage %s; include at "
		                          "nginx.conf's top level (nginx "
		                          "clears its workers' environment "
		                          "but for these)\n%s"
		                        : "# certwiz: usage %s; include at the "
		                          "top level (server config)\n%s",
		                  s->usage, main_conf));
	if (rc == CW_OK)
		rc = add(f, cw_printf("%s.env", s->usage),
		         cw_printf("# certwiz: the environment %s's service "
		                   "needs (systemd: EnvironmentFile=; Debian's "
		                   "apache2: /etc/apache2/envvars)\n%s",
		                   s->server, env));
out:
	if (rc != CW_OK)
		wiz_server_files_release(f);
	free(engine);
	free(cnf);
	free(env);
	free(main_conf);
	return rc;
}

enum cw_err
wiz_export_server(struct wiz *w, const char *usage, const char *dir,
                  const struct wiz_export_opts *o, struct wiz_export_result *r,
                  char **contents)
{
	const char *pin = o->pin_source ? o->pin_source : w->cfg.token_pin_file;
	const char *user = o->server_user ? o->server_user : "www-data";
	char *engine = engine_path();
	struct wiz_server_files f;
	struct wiz_server_spec spec = {o->server,  usage, dir,
	                               r->key_uri, pin,   w->cfg.token_module};
	enum cw_err rc = CW_OK;
	size_t first = r->n_files;

	if (strcmp(o->server, "nginx") != 0 &&
	    strcmp(o->server, "apache") != 0) {
		cw_error("unknown server '%s' (--server nginx or apache)",
		         o->server);
		rc = CW_ERR_USAGE;
	} else if (dir[0] != '/') {
		cw_error("--out must be an absolute path with --server: the "
		         "server's configuration names the files in it");
		rc = CW_ERR_USAGE;
	} else if (pin == NULL || pin[0] != '/') {
		cw_error("--pin-source FILE (an absolute path) is needed: the "
		         "server reads the PIN from it when it starts");
		rc = CW_ERR_USAGE;
	} else if (getpwnam(user) == NULL) {
		cw_error("there is no user '%s' (--server-user: the user the "
		         "server's workers run as)",
		         user);
		rc = CW_ERR_USAGE;
	} else if (engine == NULL) {
		rc = CW_ERR_NOMEM;
	}
	if (rc != CW_OK)
		goto out;
	r->access = wiz_server_access(w, user, pin);
	rc = wiz_server_render(&spec, &f);
	for (size_t i = 0; rc == CW_OK && i < f.n; i++) {
		rc = add_file(r, dir, f.names[i]);
		contents[i] = f.contents[i];
		f.contents[i] = NULL;
	}
	wiz_server_files_release(&f);
out:
	if (rc != CW_OK) {
		while (r->n_files > first)
			free(r->files[--r->n_files]);
	}
	free(engine);
	return rc;
}
