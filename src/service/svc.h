/* certwizd: the service's parts (main loop, worker, authorization). */
#ifndef CW_SERVICE_SVC_H
#define CW_SERVICE_SVC_H

#include "verb.h"

#include <stdbool.h>
#include <sys/types.h>

/* How long a client has to send its whole request, answer a prompt, or
 * confirm a file; what a caller outside the admin group may take in all. */
#define SVC_REQUEST_MS (10 * 1000)
#define SVC_PROMPT_MS (5 * 60 * 1000)
#define SVC_ACK_MS (60 * 1000)
#define SVC_NONADMIN_SECONDS 120

/* The connection to one client, as the verbs' output and prompter see it. */
struct svc_conn {
	int fd;
	bool terminal;       /* the client can prompt on a terminal */
	bool caller_pin_ok;  /* PIN prompts go to the client (one-shot) */
	bool gone;           /* the client stopped answering */
};

/* The wizard's output (files written by the client) over c. */
void svc_output_init(struct wiz_output *o, struct svc_conn *c);
/* The prompter (secrets asked of the client) over c. */
void svc_prompter_init(struct cw_prompter *p, struct svc_conn *c);

/* Sends a file's content (a memfd) as P_STDOUT or P_STDERR chunks. */
enum cw_err svc_send_stream(int fd, int src, enum proto_type t);
/* A whole answer that needs no verb: a message on stderr and the code. */
void svc_send_refusal(int fd, const char *message, int code);

/* The service's own log (its stderr, or the journal), one line each. */
void svc_log_init(int fd, const char *ident);
/* Keeps the log on a descriptor of its own before stderr is captured. */
void svc_log_detach(void);
void svc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Who is on the other end of a Unix socket, from the kernel. */
bool svc_peer(int fd, uid_t *uid, gid_t *gid, pid_t *pid);

/* What a worker needs to know from its service. */
struct svc_worker_opts {
	const char *config;   /* the service's configuration file */
	bool one_shot;        /* a root caller without the service */
};

/* Serves the one client on fd; returns the process's exit status. */
int svc_worker(int fd, const struct svc_worker_opts *o);

/*
 * Whether the caller may run the command line (argv is the whole command
 * line, argv[0] the program). Root and the admin group may do anything;
 * others may read (status, view, list, pending list, audit show) and make
 * offline requests for the service's own host with the topology's names
 * only, with a bounded number of them open. A refusal is reported and
 * recorded in the audit trail: CW_ERR_PERM.
 */
enum cw_err svc_authorize(struct cli *c, int argc, char **argv);

/*
 * Forks the deployer (deployer.c), keeping this process's privileges, when
 * cfg has [deploy] sections; the channel to it, else -1. keep: a
 * descriptor the deployer keeps open beside its channel (-1: none).
 */
int svc_deployer_start(const struct cw_config *cfg, int keep);
/* The wizard's deployments go through the channel chan (-1: none). */
void svc_deployer_use(int chan);

/* The service's scheduled work, in a process of its own: writes the next
 * time there is work (seconds since the epoch, 0 for none) on fd. */
int svc_due(const char *config, int fd);

/* The service user's identity for dropping root privileges. */
enum cw_err svc_drop_privileges(const char *user);

#endif
