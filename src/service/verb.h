/*
 * certwizd: one command line run for a client. The verbs parse the
 * client's argv with the shared option tables (src/front/verbs.c) and
 * call the wizard; what they print goes back to the client. Files and
 * secrets the command line names were read by the client and arrive with
 * the request: a verb never opens a path its caller gave.
 */
#ifndef CW_SERVICE_VERB_H
#define CW_SERVICE_VERB_H

#include "certwiz/wizard.h"
#include "../front/proto.h"
#include "../front/verbs.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct cli {
	const char *config;   /* the service's configuration */
	const char *host;
	bool json;
	struct cw_secret_source pin; /* the caller's PIN (one-shot only) */
	bool caller_pin_ok;   /* a root caller without the service */
	bool changes;         /* the verb changes state */
	struct wiz *wiz;
	const struct proto_request *req;
	unsigned uid;         /* the caller, from the kernel */
	const char *user;
	bool admin;
	const struct wiz_output *output;
	int exit_code;        /* set by a verb whose exit code is not its
				 error's (refresh, check); 0: from the error */
};

/* Each verb returns a cw_err; the worker maps it to the exit code. */
typedef enum cw_err (*cli_cmd_fn)(int argc, char **argv, struct cli *c);

enum cw_err cmd_tokens(int argc, char **argv, struct cli *c);
enum cw_err cmd_topology(int argc, char **argv, struct cli *c);
enum cw_err cmd_request(int argc, char **argv, struct cli *c);
enum cw_err cmd_import(int argc, char **argv, struct cli *c);
enum cw_err cmd_list(int argc, char **argv, struct cli *c);
enum cw_err cmd_status(int argc, char **argv, struct cli *c);
enum cw_err cmd_assign(int argc, char **argv, struct cli *c);
enum cw_err cmd_remove(int argc, char **argv, struct cli *c);
enum cw_err cmd_view(int argc, char **argv, struct cli *c);
enum cw_err cmd_refresh(int argc, char **argv, struct cli *c);
enum cw_err cmd_export(int argc, char **argv, struct cli *c);
enum cw_err cmd_audit(int argc, char **argv, struct cli *c);
enum cw_err cmd_pending(int argc, char **argv, struct cli *c);
enum cw_err cmd_init(int argc, char **argv, struct cli *c);
enum cw_err cmd_check(int argc, char **argv, struct cli *c);
enum cw_err cmd_renew(int argc, char **argv, struct cli *c);
enum cw_err cmd_prune(int argc, char **argv, struct cli *c);

/* Exit codes of their own. */
#define EXIT_ATTENTION 9   /* refresh did its work and found problems */
#define EXIT_CHECK_WARNING 1
#define EXIT_CHECK_CRITICAL 2
#define EXIT_CHECK_UNKNOWN 3

/* The verb's implementation, or NULL. */
cli_cmd_fn cli_verb_fn(const char *name);

/* The wizard, created on first use with the caller set. */
enum cw_err cli_wiz(struct cli *c, struct wiz **out);

/*
 * Options every verb takes (--json, --host, --pin-file, --pin-fd, --help):
 * cli_common handles them and returns 1 when it did, 0 when opt is not one
 * of them, -1 on a refused value (reported).
 */
int cli_common(struct cli *c, int opt, const char *arg, const char *verb);

/* The verb's option table (shared with the client). */
const struct option *cli_opts(const char *verb);

/* Prints the verb's help to f. */
void cli_help_verb(FILE *f, const char *verb);
/* Prints "usage: ..." for the verb to stderr and returns CW_ERR_USAGE. */
enum cw_err cli_usage(const char *verb);

/*
 * The content of a file the command line names (path as given), which the
 * client read and sent. *out NULL when the client could not read it: then
 * the client's reason is reported and its code returned.
 */
enum cw_err cli_input(struct cli *c, const char *path,
		      const struct cw_buf **out);

/*
 * A secret source for the secret the client sent under name (its
 * --password-file, --eab-hmac-file or -fd), or the client's reason it
 * could not read it. Call it after the verb's usage checks.
 */
enum cw_err cli_secret(struct cli *c, const char *name,
		       struct cw_secret_source *out);

/*
 * Parses the options of a verb that takes "--usage U" (required), and, when
 * the pointers are given, "--pem" and "--out DIR" (then required).
 */
enum cw_err cli_parse_usage(int argc, char **argv, struct cli *c,
			    const char *verb, const char **usage, bool *pem,
			    const char **out);

/* Prints j (and frees it) as pretty JSON on stdout. */
enum cw_err cli_print_json(json_t *j);
/* RFC 3339 UTC, in a static buffer of the caller's. */
const char *cli_time(time_t t, char buf[32]);
/* JSON for optional fields: null for 0 (a time, an id) or NULL (text). */
json_t *cli_time_json(int64_t t);
json_t *cli_int_json(int64_t v);
json_t *cli_text_json(const char *s);
json_t *cli_strlist_json(const struct cw_strlist *l);

/* A whole number of seconds, 0 to 86400 (--wait). */
bool cli_parse_seconds(const char *s, int *out);

/* An online request's outcome: JSON object, or text on stdout. */
json_t *cli_outcome_json(const struct wiz_acme_outcome *o);
void cli_print_outcome(const struct wiz_acme_outcome *o);

#endif
