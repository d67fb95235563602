/* certwiz: the command line front end over libcertwiz. */
#include "cli.h"
#include "certwiz/secret.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* CHANGES: the verb changes state; a failure is recorded in the audit
 * trail, and a due checkpoint is written after a success. ADMIN: only
 * root and the admin group may run it. */
enum { CHANGES = 1, ADMIN = 2 };

struct cmd {
	const char *name;
	cli_cmd_fn fn;
	unsigned flags;
};

static const struct cmd cmds[] = {
	{ "tokens", cmd_tokens, 0 },	    { "topology", cmd_topology, 0 },
	{ "request", cmd_request, CHANGES },
	{ "import", cmd_import, CHANGES | ADMIN },
	{ "list", cmd_list, 0 },
	{ "status", cmd_status, 0 },
	{ "assign", cmd_assign, CHANGES | ADMIN },
	{ "remove", cmd_remove, CHANGES | ADMIN },
	{ "view", cmd_view, 0 },
	{ "refresh", cmd_refresh, CHANGES | ADMIN },
	{ "export", cmd_export, 0 },	    { "audit", cmd_audit, 0 },
	{ "pending", cmd_pending, CHANGES },
	{ "help", cmd_help, 0 },
};

/* After a state-changing verb: record a failure, or write a checkpoint
 * when one is due and the token is already open. */
static void
after(struct cli *c, const struct cmd *cmd, enum cw_err rc)
{
	struct wiz_checkpoint cp;

	if (!(cmd->flags & CHANGES) || !c->changes || c->wiz == NULL)
		return;
	if (rc == CW_OK) {
		if (wiz_audit_checkpoint(c->wiz, true, &cp) == CW_OK &&
		    cp.written)
			cw_info("audit checkpoint written at event %lld",
				(long long)cp.seq);
		wiz_checkpoint_release(&cp);
	} else if (rc != CW_ERR_USAGE && rc != CW_ERR_PENDING &&
		   rc != CW_ERR_UNREACHABLE && rc != CW_ERR_REJECTED) {
		/* pending, unreachable and rejected requests are recorded
		 * by the wizard with the CA's words */
		wiz_audit_failure(c->wiz, cmd->name, NULL, rc);
	}
}

enum cw_err
cli_wiz(struct cli *c, struct wiz **out)
{
	if (c->wiz == NULL) {
		enum cw_err rc = wiz_new(c->config, c->host, &c->wiz);

		if (rc != CW_OK)
			return rc;
		wiz_set_pin_source(c->wiz, &c->pin);
		wiz_set_changing(c->wiz, c->changes);
	}
	*out = c->wiz;
	return CW_OK;
}

/* Refuses an administrators' verb to anyone else (help stays open). */
static enum cw_err
admin_only(struct cli *c, const struct cmd *cmd, int argc, char **argv)
{
	struct wiz *w = NULL;
	enum cw_err rc;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return CW_OK;
	rc = cli_wiz(c, &w);
	return rc == CW_OK ? wiz_require_admin(w, cmd->name) : rc;
}


int
cli_common(struct cli *c, int opt, const char *arg, const char *verb)
{
	switch (opt) {
	case CLI_OPT_JSON:
		c->json = true;
		return 1;
	case CLI_OPT_HOST:
		c->host = arg;
		return 1;
	case CLI_OPT_PIN_FILE:
		c->pin.file = arg;
		return 1;
	case CLI_OPT_PIN_FD:
		if (!cli_parse_fd(arg, &c->pin.fd)) {
			cw_error("--pin-fd: '%s' is not a descriptor", arg);
			cli_usage(verb);
			return -1;
		}
		return 1;
	case 'h':
		cli_help_verb(stdout, verb);
		exit(0);
	default:
		return 0;
	}
}

static const struct option global_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "host", required_argument, NULL, CLI_OPT_HOST },
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "pin-file", required_argument, NULL, CLI_OPT_PIN_FILE },
	{ "pin-fd", required_argument, NULL, CLI_OPT_PIN_FD },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	struct cli c;
	enum cw_err rc = CW_ERR_USAGE;
	int opt, level = CW_LOG_ERROR;

	memset(&c, 0, sizeof(c));
	c.pin.fd = -1;
	/* No core dumps and no ptrace by others: a PIN may be read. */
	cw_secret_harden_process();
	while ((opt = getopt_long(argc, argv, "+c:vqhV", global_opts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'c': c.config = optarg; break;
		case 'v': level = CW_LOG_DEBUG; break;
		case 'q': level = CW_LOG_QUIET; break;
		case 'V': printf("certwiz %s\n", CERTWIZ_VERSION); return 0;
		case 'h': cli_help_verb(stdout, NULL); return 0;
		default:
			if (cli_common(&c, opt, optarg, NULL) == 1)
				break;
			cli_usage(NULL);
			return 2;
		}
	}
	cw_log_set_level((enum cw_log_level)level);
	if (optind >= argc) {
		cli_usage(NULL);
		return 2;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[optind], cmds[i].name) == 0) {
			int vargc = argc - optind;
			char **vargv = argv + optind;

			/* each verb parses its own options; 0 makes GNU getopt
			 * start over with the new vector */
			optind = 0;
			c.changes = (cmds[i].flags & CHANGES) != 0;
			rc = (cmds[i].flags & ADMIN) ? admin_only(&c, &cmds[i],
								  vargc, vargv)
						     : CW_OK;
			if (rc == CW_OK)
				rc = cmds[i].fn(vargc, vargv, &c);
			if (rc != CW_ERR_PERM)
				after(&c, &cmds[i], rc);
			goto done;
		}
	}
	cw_error("unknown command '%s' (see 'certwiz --help')", argv[optind]);
done:
	wiz_free(c.wiz);
	return cw_exit_code(rc);
}
