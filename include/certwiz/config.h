/* certwiz: the configuration file (INI). */
#ifndef CW_CONFIG_H
#define CW_CONFIG_H

#include "certwiz/err.h"

#include <stdbool.h>
#include <stddef.h>

/* One [ca "NAME"] section. All strings owned by the config. */
struct cw_ca_profile {
	char *name;
	char *protocol;   /* "acme" */
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
};

/*
 * The whole configuration, parsed at once. Paths are absolute: relative
 * paths in the file are resolved against the file's folder. Unset strings
 * are NULL.
 */
struct cw_config {
	char *path;          /* the file read, or NULL for defaults */
	char *store_path;
	char *spool_dir;     /* default: "spool" beside the store */
	char *token_uri;
	char *token_module;
	char *topology_file;
	char *trust_anchors;
	char *admin_group;
	bool allow_key_import;
	struct cw_ca_profile *cas;
	size_t n_cas;
};

#define CW_CONFIG_DEFAULT_PATH "/etc/certwiz/certwiz.conf"

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

/* The profile called name, or NULL. */
const struct cw_ca_profile *cw_config_ca(const struct cw_config *c,
					 const char *name);

#endif
