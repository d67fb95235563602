/* certwiz command line: shared state of one invocation. */
#ifndef CW_CLI_H
#define CW_CLI_H

#include "certwiz/wizard.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct cli {
	const char *config;
	const char *host;
	bool json;
	struct cw_secret_source pin;
	bool changes; /* the verb changes state */
	struct wiz *wiz;
};

/* Each verb returns a cw_err; main maps it to the exit code. */
typedef enum cw_err (*cli_cmd_fn)(int argc, char **argv, struct cli *c);

enum cw_err cmd_tokens(int argc, char **argv, struct cli *c);
enum cw_err cmd_topology(int argc, char **argv, struct cli *c);
enum cw_err cmd_request(int argc, char **argv, struct cli *c);
enum cw_err cmd_import(int argc, char **argv, struct cli *c);
enum cw_err cmd_list(int argc, char **argv, struct cli *c);
enum cw_err cmd_help(int argc, char **argv, struct cli *c);
enum cw_err cmd_status(int argc, char **argv, struct cli *c);
enum cw_err cmd_assign(int argc, char **argv, struct cli *c);
enum cw_err cmd_remove(int argc, char **argv, struct cli *c);
enum cw_err cmd_view(int argc, char **argv, struct cli *c);
enum cw_err cmd_refresh(int argc, char **argv, struct cli *c);
enum cw_err cmd_export(int argc, char **argv, struct cli *c);
enum cw_err cmd_audit(int argc, char **argv, struct cli *c);
enum cw_err cmd_pending(int argc, char **argv, struct cli *c);

/* The wizard, created on first use from the global options. */
enum cw_err cli_wiz(struct cli *c, struct wiz **out);

/*
 * Options every verb takes (--json, --host, --pin-file, --pin-fd, --help):
 * CLI_COMMON_LONG goes at the end of a verb's long options; cli_common
 * handles them and returns 1 when it did, 0 when opt is not one of them,
 * -1 on a bad value (usage already printed).
 */
#define CLI_OPT_JSON 1000
#define CLI_OPT_HOST 1001
#define CLI_OPT_PIN_FILE 1002
#define CLI_OPT_PIN_FD 1003
#define CLI_COMMON_LONG                                                        \
	{ "json", no_argument, NULL, CLI_OPT_JSON },                           \
		{ "host", required_argument, NULL, CLI_OPT_HOST },             \
		{ "pin-file", required_argument, NULL, CLI_OPT_PIN_FILE },     \
		{ "pin-fd", required_argument, NULL, CLI_OPT_PIN_FD },         \
		{ "help", no_argument, NULL, 'h' },                            \
	{                                                                      \
		NULL, 0, NULL, 0                                               \
	}

int cli_common(struct cli *c, int opt, const char *arg, const char *verb);

/* Prints the verb's help (from the one help source) to f. */
void cli_help_verb(FILE *f, const char *verb);
/* Prints "usage: ..." for the verb to stderr and returns CW_ERR_USAGE. */
enum cw_err cli_usage(const char *verb);

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
json_t *cli_strlist_json(const struct cw_strlist *l);

/* A file descriptor number (--pin-fd, --eab-hmac-fd). */
bool cli_parse_fd(const char *s, int *fd);

/* A whole number of seconds, 0 to 86400 (--wait). */
bool cli_parse_seconds(const char *s, int *out);

/* An online request's outcome: JSON object, or text on stdout. */
json_t *cli_outcome_json(const struct wiz_acme_outcome *o);
void cli_print_outcome(const struct wiz_acme_outcome *o);

#endif
