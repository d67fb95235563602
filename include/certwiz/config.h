/* certwiz: the configuration file (INI). */
#ifndef CW_CONFIG_H
#define CW_CONFIG_H

#include "certwiz/err.h"

#include <stdbool.h>
#include <stddef.h>

/* One [ca "NAME"] section. All strings owned by the config. */
struct cw_ca_profile {
	char *name;
	char *protocol;   /* "acme" | "cmp" | "helper" */
	char *directory;  /* ACME directory URL */
	char *trust;      /* CA bundle that verifies the CA's TLS */
	char *contact;
	char *eab_kid;
	char *eab_hmac_file;
	char *roots;      /* what issued chains must verify to; NULL: [trust]
			     anchors */
	char *challenge;  /* "http-01" (default) | "dns-01" */
	char *http01_listen;  /* built-in responder, "ADDR:PORT" (":80") */
	char *http01_webroot; /* instead: files under this document root */
	char *dns01_hook;     /* dns-01: HOOK add|del NAME VALUE */
	long timeout;     /* seconds per HTTP exchange; 0: 30 */
	char *account_key; /* "ec:P-256" (default) | "ec:P-384" */
	/* protocol cmp */
	char *server;      /* http or https URL of the CMP endpoint */
	char *reference;   /* the MAC's reference (senderKID) */
	char *secret_file; /* its shared secret, unless given per request */
	char *recipient;   /* "/CN=..." of the CA, or NULL */
	char *template;    /* cmp: certProfile; helper: CERTMONGER_CA_PROFILE */
	/* protocol helper */
	char *command;     /* words, no shell, the first an absolute path */
};

/*
 * One [deploy "USAGE"] section: after the usage's certificate changes
 * (assign, remove, a scheduled assignment taking effect), its files are
 * written for the server into out and command is run.
 */
struct cw_deploy {
	char *usage;
	char *server;      /* "nginx" | "apache" | "files" (chain and URI) */
	char *out;         /* absolute folder */
	char *check;       /* run first (nginx -t): a failure puts the
			      previous files back; NULL: none */
	char *command;     /* words separated by spaces, no shell; the
			      first an absolute path; NULL: none */
	char *server_user; /* the server's worker user (default www-data) */
	char *pin_source;  /* what the server reads the PIN from (default
			      [token] pin_file) */
	long timeout;      /* seconds the command may take (default 60) */
	long retry;        /* seconds before the first retry of a failed
			      deployment, doubling up to an hour (60) */
};

/*
 * The whole configuration, parsed at once. Paths are absolute: relative
 * paths in the file are resolved against the file's folder. Unset strings
 * are NULL.
 */
struct cw_config {
	char *path;          /* the file read, or NULL for defaults */
	char *store_path;
	char *token_uri;
	char *token_module;
	char *token_pin_file; /* the service's PIN for [token] uri */
	char *topology_file;
	char *topology_host;  /* [topology] host: this machine in the
				 topology (default: its FQDN) */
	char *trust_anchors;
	char *admin_group;
	bool allow_key_import;
	char *audit_token;    /* [audit] token: the audit key's token (default
				 [token] uri) */
	char *audit_pin_file; /* its PIN (default: [token] pin_file when the
				 tokens are the same) */
	char *audit_public_key; /* [audit] public_key: the pinned audit key */
	char *service_socket; /* [service] socket */
	char *service_user;   /* [service] user (default certwiz) */
	long max_clients_per_user; /* concurrent connections per uid */
	long max_pending_per_user; /* open requests per non-admin uid */
	struct cw_ca_profile *cas;
	size_t n_cas;
	struct cw_deploy *deploys;
	size_t n_deploys;
	/* [renew]: when a certificate is renewed, and whether certwizd does
	 * it by itself (only with the section: auto, default yes) */
	bool renew_section;
	bool renew_auto;
	long renew_days;   /* before expiry (default 30; a third of the
			      lifetime left comes first when earlier) */
	long renew_spread; /* seconds of spread, per certificate (43200) */
	long renew_wait;   /* seconds certwizd waits for the CA (60) */
	long renew_retry;  /* seconds before a failed renewal is tried
			      again, doubling up to a day (3600) */
	long renew_critical_days; /* a failing renewal is critical when the
				     certificate has fewer days left (7) */
	long renew_overlap; /* seconds between issuance and takeover (0:
			       at once); the old certificate serves and stays
			       deployed until then */
	char *renew_notify; /* command run at each renewal event (words, no
			       shell), or NULL */
	long renew_notify_timeout; /* seconds it may take (30), then its
				      process group is killed */
	bool renew_prune;   /* prune after each renewal run (default yes) */
	char *renew_outbox; /* where renewals for offline CAs put their CSR
			       (the service's user writes it), or NULL */
	long retain_expired;    /* days an expired certificate's key is
				   kept (30) */
	long retain_superseded; /* days a superseded one's is kept (90) */
	bool renew_auto_set, renew_spread_set, renew_prune_set;
	bool retain_set[2];
};

#define CW_CONFIG_DEFAULT_PATH "/etc/certwiz/certwiz.conf"
#define CW_SOCKET_DEFAULT "/run/certwiz/certwiz.sock"
#define CW_SERVICE_USER_DEFAULT "certwiz"

/*
 * The socket the client connects to: [service] socket of the file at
 * path, else the default. Reads only that key (the client needs nothing
 * else, and may not be able to read the rest). Caller frees.
 */
char *cw_config_socket(const char *path);

/*
 * Checks that path and every folder above it belong to root and are not
 * writable by group or others (a folder with the sticky bit excepted),
 * following symbolic links and checking both the path as given and where
 * it leads. what names the file in the message. CW_ERR_CONFIG otherwise.
 */
enum cw_err cw_check_trusted(const char *path, const char *what);

/*
 * The configuration against this host: the file, the modules and the hooks
 * it names, each checked with cw_check_trusted, and the admin group, which
 * must exist (a misspelt group would make every member an outsider
 * without a word).
 */
enum cw_err cw_config_check_host(const struct cw_config *c);

/*
 * Reads path (refused when group or world writable). Errors carry
 * file:line and name the key. out is written only on success; release with
 * cw_config_release.
 */
enum cw_err cw_config_load(const char *path, struct cw_config *out);

/*
 * Parses text as if read from a file named name in folder dir (used by
 * cw_config_load and by the fuzz target).
 */
enum cw_err cw_config_parse(const char *text, const char *name,
			    const char *dir, struct cw_config *out);

void cw_config_release(struct cw_config *c);

/* The [deploy] section of usage, or NULL. */
const struct cw_deploy *cw_config_deploy(const struct cw_config *c,
					 const char *usage);

/*
 * A deploy command's words (split on spaces and tabs), NULL-terminated,
 * in one allocation the caller frees; NULL without memory.
 */
char **cw_deploy_argv(const char *command);

/* The profile called name, or NULL. */
const struct cw_ca_profile *cw_config_ca(const struct cw_config *c,
					 const char *name);

#endif
