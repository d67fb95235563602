/*
 * One client, in a process of its own (forked by the service before any
 * PKCS#11 module or store is opened, or the one-shot process a root
 * client starts): the request is read whole within a deadline, the caller
 * identified from the kernel, the command line authorized and run, and
 * what it printed sent back with its exit code.
 */
#define _GNU_SOURCE
#include "svc.h"

#include "certwiz/policy.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* After a state-changing verb: record a failure, or write a checkpoint
 * when one is due and the audit token is already open. */
static void
after(struct cli *c, const struct front_verb *v, enum cw_err rc)
{
	struct wiz_checkpoint cp;

	if (!(v->flags & VERB_CHANGES) || !c->changes || c->wiz == NULL)
		return;
	if (rc == CW_OK) {
		if (wiz_audit_checkpoint(c->wiz, true, &cp) == CW_OK &&
		    cp.written)
			cw_info("audit checkpoint written at event %lld",
				(long long)cp.seq);
		wiz_checkpoint_release(&cp);
	} else if (rc != CW_ERR_USAGE && rc != CW_ERR_PENDING &&
	           rc != CW_ERR_UNREACHABLE && rc != CW_ERR_REJECTED &&
	           rc != CW_ERR_PERM && rc != CW_ERR_DEPLOY) {
		/* pending, unreachable and rejected requests are recorded
		 * by the wizard with the CA's words; refusals where they
		 * are made; a failed deployment as such, after the change
		 * it follows */
		wiz_audit_failure(c->wiz, v->name, NULL, rc);
	}
}

/* The global options, as the client's command line gave them. */
static enum cw_err
globals(struct cli *c, int argc, char **argv, int *verb_index)
{
	int opt;

	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, FRONT_GLOBAL_SHORT,
				  front_global_opts, NULL)) != -1) {
		switch (opt) {
		case 'c': /* the client's: it found the socket */
		case FO_NO_SERVICE: break;
		case 'v': cw_log_set_level(CW_LOG_DEBUG); break;
		case 'q': cw_log_set_level(CW_LOG_QUIET); break;
		case 'V': printf("certwiz %s\n", CERTWIZ_VERSION); break;
		case 'h': cli_help_verb(stdout, NULL); break;
		default:
			if (cli_common(c, opt, optarg, NULL) != 1) {
				front_usage(NULL);
				return CW_ERR_USAGE;
			}
		}
	}
	*verb_index = optind;
	return CW_OK;
}

/* Runs the command line for the caller c; the verb's status. */
static enum cw_err
run(struct cli *c, int argc, char **owned, const char **verb_name)
{
	const struct front_verb *v;
	cli_cmd_fn fn;
	int vi = 0;
	/* getopt permutes the vector and verbs rewrite it: they get a copy
	 * of the pointers, the request keeps the strings */
	char *argv[argc + 1];
	enum cw_err rc;

	struct front_scan scan;

	memcpy(argv, owned, sizeof(char *) * (size_t)argc);
	argv[argc] = NULL;
	/* the client's own checks, again: an option given twice, one that is
	 * not the verb's */
	if (front_scan(argc, argv, &scan) != 0)
		return CW_ERR_USAGE;
	rc = globals(c, argc, argv, &vi);

	if (rc != CW_OK)
		return rc;
	if (vi >= argc) {
		front_usage(NULL);
		return CW_ERR_USAGE;
	}
	v = front_verb(argv[vi]);
	fn = v ? cli_verb_fn(v->name) : NULL;
	if (fn == NULL) {
		cw_error("unknown command '%.64s' (see 'certwiz --help')",
			 argv[vi]);
		return CW_ERR_USAGE;
	}
	*verb_name = v->name;
	c->changes = (v->flags & VERB_CHANGES) != 0;
	rc = svc_authorize(c, argc, argv);
	if (rc != CW_OK)
		return rc;
	if (!c->admin)
		alarm(SVC_NONADMIN_SECONDS);
	optind = 0;
	rc = fn(argc - vi, argv + vi, c);
	after(c, v, rc);
	return rc;
}

/* stdout and stderr into memory files, sent to the client at the end. */
static bool
capture(int *out, int *err)
{
	*out = memfd_create("certwiz-stdout", MFD_CLOEXEC);
	*err = memfd_create("certwiz-stderr", MFD_CLOEXEC);
	if (*out < 0 || *err < 0)
		return false;
	fflush(stdout);
	fflush(stderr);
	return dup2(*out, STDOUT_FILENO) >= 0 && dup2(*err, STDERR_FILENO) >= 0;
}

/* The caller's name and role; false (reported) for a uid the user
 * database does not know. */
static bool
identify(struct cli *c, const char *config, uid_t uid, char **name)
{
	struct cw_config cfg;
	int level;

	*name = cw_uid_name((unsigned)uid);
	if (*name == NULL)
		return false;
	c->uid = (unsigned)uid;
	c->user = *name;
	/* the admin group of the configuration this request will run with
	 * (a configuration that does not load is reported when the verb
	 * needs it) */
	level = cw_log_get_level();
	cw_log_set_level(CW_LOG_QUIET);
	if (cw_config_load(config ? config : CW_CONFIG_DEFAULT_PATH, &cfg) ==
	    CW_OK) {
		c->admin = cw_uid_is_admin(c->uid, cfg.admin_group);
		cw_config_release(&cfg);
	} else {
		c->admin = uid == 0;
	}
	cw_log_set_level((enum cw_log_level)level);
	return true;
}

int
svc_worker(int fd, const struct svc_worker_opts *o)
{
	struct proto_request req;
	struct svc_conn conn = { fd, false, o->one_shot, false };
	struct wiz_output output;
	struct cw_prompter prompter;
	struct cli c;
	uid_t uid = 0;
	gid_t gid;
	pid_t pid;
	char *name = NULL;
	const char *verb = "-";
	int out = -1, err = -1, code;
	int64_t start = proto_now_ms();
	enum cw_err rc;

	signal(SIGPIPE, SIG_IGN);
	svc_log_detach();
	proto_request_init(&req);
	if (!svc_peer(fd, &uid, &gid, &pid)) {
		svc_log("cannot tell who is connected: %s", strerror(errno));
		return 1;
	}
	rc = proto_request_recv(fd, start + SVC_REQUEST_MS, &req);
	if (rc != CW_OK) {
		svc_log("uid %u: %s request: %s", (unsigned)uid,
			rc == CW_ERR_UNREACHABLE ? "no" : "malformed",
			rc == CW_ERR_UNREACHABLE ? "nothing within 10 s"
						 : cw_last_error());
		svc_send_refusal(fd,
				 rc == CW_ERR_UNREACHABLE
					 ? "the request did not arrive in time"
					 : "malformed request",
				 2);
		return 2;
	}
	conn.terminal = req.terminal;
	memset(&c, 0, sizeof(c));
	c.config = o->config;
	c.req = &req;
	c.pin.fd = -1;
	c.caller_pin_ok = o->one_shot;
	svc_output_init(&output, &conn);
	svc_prompter_init(&prompter, &conn);
	c.output = &output;
	cw_secret_set_prompter(&prompter);
	if (!identify(&c, o->config, uid, &name)) {
		svc_log("uid %u: not in the user database; refused",
			(unsigned)uid);
		svc_send_refusal(fd, "permission denied: your uid is not in "
				     "the user database",
				 5);
		proto_request_release(&req);
		return 5;
	}
	if (!capture(&out, &err)) {
		svc_log("cannot capture the output: %s", strerror(errno));
		svc_send_refusal(fd, "the service cannot run the command", 1);
		rc = CW_ERR_INTERNAL;
	} else {
		rc = run(&c, req.argc, req.argv, &verb);
	}
	code = c.exit_code > 0 ? c.exit_code : cw_exit_code(rc);
	wiz_free(c.wiz);
	fflush(stdout);
	fflush(stderr);
	if (!conn.gone && out >= 0 &&
	    svc_send_stream(fd, err, P_STDERR) == CW_OK &&
	    svc_send_stream(fd, out, P_STDOUT) == CW_OK)
		proto_send_json(fd, proto_now_ms() + SVC_ACK_MS, P_EXIT,
				json_pack("{s:i}", "code", code));
	svc_log("uid %u (%s): %s: exit %d in %lld ms%s", c.uid, name, verb,
		code, (long long)(proto_now_ms() - start),
		conn.gone ? " (client gone)" : "");
	cw_secret_set_prompter(NULL);
	proto_request_release(&req);
	free(name);
	return code;
}
