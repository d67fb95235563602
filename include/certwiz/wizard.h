/* certwiz: the wizard's operations, as library functions. */
#ifndef CW_WIZARD_H
#define CW_WIZARD_H

#include "certwiz/config.h"
#include "certwiz/err.h"
#include "certwiz/secret.h"
#include "certwiz/store.h"
#include "certwiz/token.h"
#include "certwiz/topology.h"
#include "certwiz/util.h"
#include "certwiz/x509.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/*
 * The context of one invocation: configuration, host, PIN source, and the
 * store, topology and PKCS#11 modules, each opened on first use and closed
 * by wiz_free (modules are initialised once per process).
 */
struct wiz;

/*
 * For a process that forks a worker per request and never opens a token or
 * the store itself: what each wizard would otherwise work out again
 * (OpenSSL's configuration, SQLite's setup, the machine's FQDN), done
 * once.
 */
void wiz_preload(void);

/*
 * config_path NULL: $CERTWIZ_CONF, else /etc/certwiz/certwiz.conf. host
 * NULL: the machine's FQDN.
 */
enum cw_err wiz_new(const char *config_path, const char *host,
		    struct wiz **out);
void wiz_free(struct wiz *w);

/*
 * The invocation changes state: configuration and topology changes since
 * the last such run are recorded in the audit trail when the store opens.
 * Read-only verbs leave it unset and never write.
 */
void wiz_set_changing(struct wiz *w, bool changing);

/*
 * Who asks: the front end tells (the service from the kernel's
 * credentials of its client, SO_PEERCRED, and the user database); the
 * audit trail records this uid and name, and the wizard's own checks use
 * admin. Until it is set, the caller is this process's real user.
 */
enum cw_err wiz_set_caller(struct wiz *w, unsigned uid, const char *name,
			   bool admin);

/* Whether the caller is an administrator (root or [policy] admin_group). */
bool wiz_is_admin(const struct wiz *w);
const char *wiz_admin_group(const struct wiz *w);
unsigned wiz_caller_uid(const struct wiz *w);
const char *wiz_caller_name(const struct wiz *w);

/*
 * Refuses verb for a caller who is not an administrator: reports it and
 * records the denial in the audit trail. CW_ERR_PERM, or CW_OK for an
 * administrator.
 */
enum cw_err wiz_require_admin(struct wiz *w, const char *verb);

/*
 * Where the files a verb produces go (a CSR, an export, an audit anchor):
 * stage gives the whole content (nothing is in place yet), publish puts
 * it in place, retract takes a published file back when the change it
 * belongs to does not commit. The service's output sends them to its
 * client, which writes them as the caller. Without an output the wizard
 * writes them itself, atomically. Borrowed for the wizard's lifetime.
 */
struct wiz_output {
	enum cw_err (*stage)(void *user, const char *path, const void *data,
			     size_t n, int mode, bool force);
	enum cw_err (*publish)(void *user, const char *path);
	void (*retract)(void *user, const char *path);
	void *user;
};

void wiz_set_output(struct wiz *w, const struct wiz_output *o);

/* Writes a whole file through the output (staged, then published). */
enum cw_err wiz_output_file(struct wiz *w, const char *path,
			    const void *data, size_t n, int mode, bool force);

/* Where the PIN comes from (borrowed for the wizard's lifetime). */
void wiz_set_pin_source(struct wiz *w, const struct cw_secret_source *src);
const struct cw_config *wiz_config(const struct wiz *w);
const char *wiz_host(const struct wiz *w);
/* The host meant, from now on (--host). */
enum cw_err wiz_set_host(struct wiz *w, const char *host);
/* This machine's name in the topology: [topology] host, else its FQDN
 * (whatever --host says). */
const char *wiz_own_host(const struct wiz *w);

/* Every slot and token the configured modules show. */
enum cw_err wiz_tokens(struct wiz *w, struct tok_info **out, size_t *n);

/*
 * Loads a topology file (or the configured one when path is NULL) and
 * checks every expanded subject and name. The topology belongs to the
 * caller.
 */
enum cw_err wiz_topology_load(struct wiz *w, const char *path,
			      struct topo **out);
/* The same for a document already read (name is used in messages). */
enum cw_err wiz_topology_parse(struct wiz *w, const struct cw_buf *text,
			       const char *name, struct topo **out);

/* What the certificate for a set of usages of this host must carry. */
struct wiz_plan {
	char *subject;
	struct cw_strlist names;
	struct cw_strlist eku;
	char *key;  /* key spec */
	char *ca;   /* CA profile named by the topology, or NULL */
};

void wiz_plan_release(struct wiz_plan *p);

/*
 * The plan for usages (the union of their names and EKUs; subject, key and
 * CA of the first) plus extra names. CW_ERR_NOT_FOUND for an unknown host
 * or usage, CW_ERR_USAGE for a bad extra name.
 */
enum cw_err wiz_plan(struct wiz *w, const struct cw_strlist *usages,
		     const struct cw_strlist *extra_names,
		     struct wiz_plan *out);

struct wiz_request_opts {
	const struct cw_strlist *usages;
	const struct cw_strlist *extra_names;
	const char *token_uri; /* NULL: [token] uri of the configuration */
	const char *key;       /* NULL: the topology's, else ec:P-256 */
	const char *out_path;  /* offline */
	bool force;            /* replace out_path */
	const char *ca;        /* online: the CA profile ([ca "NAME"]) */
	int wait;              /* online: seconds to wait for the CA */
	bool assign;           /* online: assign to the usages once issued */
	const char *eab_kid;   /* online: alternate credentials (external
				  account binding), else the profile's */
	struct cw_secret_source eab_hmac; /* with eab_kid: its MAC key from a
					     file or descriptor, else asked
					     for on the terminal */
	/* CMP and CA helpers: alternate credentials (the reference, and its
	 * secret from a file or descriptor, else asked for) instead of the
	 * profile's, and the certificate template instead of its own */
	const char *ca_reference;
	struct cw_secret_source ca_secret;
	const char *template;
};

/* What a run of an online request came to (strings owned). */
struct wiz_acme_outcome {
	int64_t request_id;
	char *state;         /* created submitted pending issued rejected
				failed */
	char *ca;
	char *order_url;
	int64_t next_attempt; /* when a later run may go on; 0: any time */
	char *problem;       /* why it is not issued, in the CA's words */
	int64_t cert_id;     /* issued: the certificate */
	char *sha256;
	char *subject;
	int64_t not_after;
	struct cw_strlist assigned; /* usages assigned at issuance */
	unsigned nonce_retries;     /* badNonce answers retried */
};

void wiz_acme_outcome_release(struct wiz_acme_outcome *o);

struct wiz_request_result {
	int64_t request_id;
	char *cka_id;     /* lowercase hex */
	char *key_label;
	char *key_alg;
	char *key_uri;
	char *token_label;
	char *subject;
	struct cw_strlist names;
	char *out_path;
	struct wiz_acme_outcome online; /* online requests */
};

void wiz_request_result_release(struct wiz_request_result *r);

/*
 * Request, offline: generates the key pair on the token, has the token sign
 * a CSR with the plan's subject and names, hands it to the output for
 * out_path (published just before the store commits, retracted if the
 * commit fails) and records the request (awaiting-response) and its key,
 * created by the caller. On any
 * failure after key generation the new pair is destroyed; where the token
 * cannot be reached to do so, the key stays in the store (state
 * "generating") so that nothing on the token is left untracked.
 */
enum cw_err wiz_request_offline(struct wiz *w,
				const struct wiz_request_opts *o,
				struct wiz_request_result *out);

/*
 * Request, online (administrators only): key pair and token-signed CSR as
 * offline, the request recorded (state created), then taken to the CA
 * profile o->ca over ACME: account (its key on the token, registered once
 * per profile), order, challenges, finalization, download, checks (the
 * leaf's key is the request's, its names are the ones asked for, its chain
 * verifies to the profile's roots), import onto the token and into the
 * store, and with o->assign the assignment to the usages. Waits for the CA
 * at most o->wait seconds. Returns CW_OK (issued), CW_ERR_PENDING (the CA
 * has not finished: saved with its order and next attempt time),
 * CW_ERR_UNREACHABLE (saved as it stood), CW_ERR_REJECTED (the CA's
 * problem recorded); for these four out is filled, out->online says where
 * the request stands. Other errors are as for offline requests.
 */
enum cw_err wiz_request_online(struct wiz *w,
			       const struct wiz_request_opts *o,
			       struct wiz_request_result *out);

/* How a run of pending requests goes. */
struct wiz_process_opts {
	int wait;              /* seconds to wait for the CA, per request */
	bool only_due;         /* skip requests whose next attempt is later */
	const char *eab_kid;   /* alternate credentials, as for request */
	struct cw_secret_source eab_hmac;
	const char *ca_reference;
	struct cw_secret_source ca_secret;
};

typedef enum cw_err (*wiz_outcome_fn)(void *user,
				      const struct wiz_acme_outcome *o,
				      enum cw_err rc);

/*
 * Process pending request: takes each open online request (ids, or every
 * one when n is 0) up where it stands, with POST-as-GET on its saved order
 * (never a new order or key), and calls fn with each outcome and its code
 * (for codes other than the four of wiz_request_online, only request_id
 * is set and the error has been reported). Returns
 * CW_ERR_UNAVAILABLE when there is nothing to process, else the most
 * serious outcome: another error, then rejected, unreachable, pending, OK.
 */
enum cw_err wiz_pending_process(struct wiz *w, const int64_t *ids, size_t n,
				const struct wiz_process_opts *o,
				wiz_outcome_fn fn, void *user);

/* What pending cancel did. */
struct wiz_cancel_result {
	int64_t request_id;
	bool key_destroyed;
};

/*
 * Pending cancel (administrators): an open request (offline or online)
 * is closed (state failed, "cancelled by USER") and its key pair destroyed
 * on the token, unless a certificate was issued for the key; audited.
 * CW_ERR_UNAVAILABLE when there is no such open request; when the key
 * cannot be destroyed, nothing changes.
 */
enum cw_err wiz_pending_cancel(struct wiz *w, int64_t id,
			       struct wiz_cancel_result *out);

/* Open online requests (created, submitted, pending), oldest first. */
enum cw_err wiz_pending_list(struct wiz *w, store_request_fn fn, void *user);

struct wiz_import_opts {
	const char *path;  /* named in messages; read when data is NULL */
	const struct cw_buf *data; /* the file's content, read by the front
				      end (the client, as the caller) */
	const struct cw_strlist *usages; /* assign in the same step; may be
					    NULL or empty */
	const struct cw_secret_source *password; /* PKCS#12 */
	bool accept_mismatch; /* import a certificate that differs from what
				 was asked, recording why */
};

/* What an import did. */
enum wiz_import_kind {
	WIZ_IMPORT_NEW,       /* a certificate the store did not have */
	WIZ_IMPORT_REPLACED,  /* ... which took the place of another one of
				 the same key on the token */
	WIZ_IMPORT_COMPLETED, /* issuers completed stored chains */
	WIZ_IMPORT_RESTORED,  /* a known certificate back on the token (and
				 maybe its chain completed) */
};

struct wiz_import_result {
	enum wiz_import_kind kind;
	int64_t cert_id;
	int64_t request_id; /* 0 when no request awaited this certificate */
	char *sha256;
	char *subject;
	char *issuer;
	time_t not_after;
	bool expired;
	char *cka_id;
	char *token_label;
	char *key_origin;   /* "generated" | "imported" */
	bool key_recorded;  /* the key was not in the store before */
	size_t chain_len;   /* issuers stored with the certificate */
	enum store_chain chain_state;
	struct cw_strlist mismatch; /* differences accepted */
	char *replaced;     /* REPLACED: thumbprint of the certificate the
			       token held before */
	struct cw_strlist completed; /* COMPLETED, RESTORED: "ID SHA256" of
					each certificate whose chain grew */
};

void wiz_import_result_release(struct wiz_import_result *r);

/*
 * Import certificate: reads a CA response or a certificate made elsewhere
 * (PEM, DER, PKCS#7), finds the leaf and its key by public key (in the
 * store, else on the configured token), writes the certificate object to
 * the token under the key's CKA_ID and label, and stores certificate and
 * chain (marking an awaiting request issued) in one store transaction.
 *
 * The leaf is compared with what was asked before anything changes: the
 * names and extended key usages of the key's request (when there is one),
 * its validity, that it is not a CA; its chain must verify to the trust
 * anchors (wiz_anchors). A difference is refused (CW_ERR_POLICY) with the
 * reasons, unless accept_mismatch: then it is recorded with the
 * certificate and shown by status. A chain that lacks an issuer is
 * accepted and recorded as incomplete (assign refuses it until an import
 * of the issuers completes it). A leaf for a key that already has a
 * certificate on the token replaces that object (the old certificate
 * stays in the store). Importing a known certificate again puts it back
 * on the token when its object is gone, or completes its chain; CA
 * certificates alone complete the stored chains that need them.
 *
 * A PKCS#12 file brings its key: allowed only with [policy]
 * allow_key_import, the key is created on the token sensitive and not
 * extractable and recorded with origin "imported". With usages, the
 * certificate is checked as assign checks it before anything changes, and
 * assigned in the same transaction.
 */
enum cw_err wiz_import(struct wiz *w, const struct wiz_import_opts *o,
		       struct wiz_import_result *out);

struct wiz_assign_opts {
	const char *cert;  /* thumbprint prefix or id */
	const struct cw_strlist *usages;
	bool scheduled;
	time_t at;         /* when scheduled: must be in the future */
};

struct wiz_assign_result {
	int64_t cert_id;
	char *sha256;
	char *subject;
	time_t effective;
	bool scheduled;
};

void wiz_assign_result_release(struct wiz_assign_result *r);

/*
 * Assign: the certificate serves the usages now, or from opts->at (the
 * current one serving until then and kept in the history). Refused, with
 * nothing changed, when the certificate's key is not on its token (checked
 * on the token), it is expired or not yet valid, it lacks a name or EKU a
 * usage requires, or its chain does not verify to [trust] anchors.
 */
enum cw_err wiz_assign(struct wiz *w, const struct wiz_assign_opts *o,
		       struct wiz_assign_result *out);

/*
 * Remove: the usage no longer has a certificate (scheduled successors are
 * cancelled too); certificate and key stay. CW_ERR_UNAVAILABLE when
 * nothing is assigned. *cert_id: the certificate that served.
 */
enum cw_err wiz_remove(struct wiz *w, const char *usage, int64_t *cert_id);

/* The certificate serving a usage, as View shows it. */
struct wiz_view {
	struct store_assignment assignment;
	struct store_cert cert;
	struct x509_info info;
	struct store_key key;       /* id 0 when the key is not known */
	struct store_token token;
	char *key_uri;              /* RFC 7512, no PIN; NULL without key */
	struct x509_bundle chain;   /* issuers */
	struct cw_strlist chain_subjects;
};

void wiz_view_release(struct wiz_view *v);

/* View: the certificate serving usage, from the store (the token is not
 * opened). CW_ERR_UNAVAILABLE when nothing is assigned. */
enum cw_err wiz_view(struct wiz *w, const char *usage, struct wiz_view *out);

/* PEM of the leaf followed by its issuers. */
enum cw_err wiz_view_pem(const struct wiz_view *v, struct cw_buf *out);

/* export --server: for which server, whose workers load the key, and
 * the PIN source the server reads. */
struct wiz_export_opts {
	const char *server;      /* NULL (chain and URI only) or "nginx" */
	const char *server_user; /* default www-data */
	const char *pin_source;  /* absolute; default [token] pin_file */
};

#define WIZ_EXPORT_FILES 4
struct wiz_export_result {
	char *chain_path;
	char *uri_path;
	char *key_uri;
	char *files[WIZ_EXPORT_FILES]; /* what --server added */
	size_t n_files;
	char *access; /* why the server's workers could not use the key, or
	               * NULL (files are written all the same) */
};

void wiz_export_result_release(struct wiz_export_result *r);

/* What a server's files say: for which server and usage, in which folder,
 * the key (NULL once the usage has no certificate: the snippet then makes
 * the server refuse handshakes), the PIN source the server reads, and
 * the PKCS#11 module (NULL: p11-kit's). */
struct wiz_server_spec {
	const char *server; /* nginx | apache | files (nothing to render) */
	const char *usage;
	const char *dir;
	const char *key_uri;
	const char *pin_source;
	const char *module;
};

struct wiz_server_files {
	char *names[WIZ_EXPORT_FILES]; /* relative to the folder */
	char *contents[WIZ_EXPORT_FILES];
	size_t n;
};

/* The server's files (the OpenSSL configuration, the snippets, the
 * environment), rendered from s alone: the module environment
 * (SOFTHSM2_CONF, TPM2_PKCS11_*) comes from this process's. */
enum cw_err wiz_server_render(const struct wiz_server_spec *s,
			      struct wiz_server_files *out);
void wiz_server_files_release(struct wiz_server_files *f);

/* Why user (a server's workers) could not use the token's keys or the PIN
 * source, or NULL. */
char *wiz_server_access(struct wiz *w, const char *user,
			const char *pin_source);

/*
 * Export: writes DIR/USAGE.chain.pem (leaf and issuers) and
 * DIR/USAGE.key.uri (the key's PKCS#11 URI, no PIN), atomically, replacing
 * earlier exports. CW_ERR_UNAVAILABLE when nothing is assigned; the key is
 * looked up on its token first, and a key that is not there is refused.
 * With o->server (nginx): also DIR/pkcs11-engine.cnf (the OpenSSL
 * configuration loading libp11's engine), DIR/USAGE.nginx.conf (inside a
 * server block), DIR/USAGE.nginx-main.conf (top level: env lines) and
 * DIR/USAGE.env (the server's service environment), all staged before
 * any is published; out->access says why the server's worker user could
 * not use the key (a worker logs in again after the fork).
 */
enum cw_err wiz_export(struct wiz *w, const char *usage, const char *dir,
                       const struct wiz_export_opts *o,
                       struct wiz_export_result *out);

/*
 * The service's deployer (certwizd: the part that writes a server's files
 * and runs its reload). deploy has usage's files made for d: with uri (the
 * key's) and chain (PEM, leaf first), or for no certificate when uri is
 * NULL; NULL when done, else why (the caller frees). NULL: no deployer.
 * Borrowed for the process's lifetime.
 */
struct wiz_deployer {
	char *(*deploy)(void *user, const struct cw_deploy *d,
			const char *usage, const char *uri,
			const struct cw_buf *chain);
	void *user;
};
void wiz_set_deployer(const struct wiz_deployer *d);

/*
 * Deploy: brings usage's [deploy] files up to date with the certificate
 * serving it now (none: the server is told to refuse handshakes), through
 * the deployer, and records the attempt (store and audit). Nothing for a
 * usage without a [deploy] section or another host than this machine.
 * CW_ERR_DEPLOY (reported) when it failed: retried by wiz_due.
 */
enum cw_err wiz_deploy(struct wiz *w, const char *usage);

/* renew: which usages (NULL or empty: every usage of the host), whether
 * only to say what would be done, whether to renew what is not due, and
 * how long to wait for the CA. */
struct wiz_renew_opts {
	const struct cw_strlist *usages;
	bool dry_run;
	bool force;
	int wait;
};

/* What renew did for one usage. action: nothing-assigned, not-due,
 * successor-scheduled, retry-later, manual (no online CA: request it
 * offline), would-renew, would-resume (dry run), renewed, resumed,
 * pending, failed. */
struct wiz_renew_item {
	char *usage;
	const char *action;
	int64_t cert_id;     /* the certificate serving, or 0 */
	int64_t not_after;
	int64_t due_at;      /* when it is due for renewal */
	int64_t next_at;     /* when renew has something to do next, or 0 */
	int64_t new_cert_id; /* renewed: the new certificate */
	int64_t takeover_at; /* renewed: when it takes over */
	int64_t request_id;
	enum cw_err rc;      /* pending, failed: why */
	char *detail;
	char *note;          /* the topology's names changed (also in
				detail) */
};

void wiz_renew_items_free(struct wiz_renew_item *v, size_t n);

/* When a certificate is due for renewal under cfg's [renew] policy: a
 * third of its lifetime left, or renew_days before expiry, whichever
 * comes first (never before a third of it has passed), less a spread of
 * at most renew_spread seconds drawn from its thumbprint. */
int64_t wiz_renew_due(const struct cw_config *cfg, const struct store_cert *c);

/*
 * Renew: for each usage whose certificate is due (or every one with
 * force), a fresh key pair on the token and a request to the CA the
 * topology names, assigned at issuance and deployed; a request the CA
 * still holds for the usage is resumed instead. A usage whose CA is not
 * an online profile is left to an offline request (action manual). Each
 * attempt is recorded and audited; a failed one waits [renew] retry
 * seconds (doubling) unless forced. The items say what happened; the
 * return is CW_OK unless the walk itself failed.
 */
enum cw_err wiz_renew(struct wiz *w, const struct wiz_renew_opts *o,
		      struct wiz_renew_item **out, size_t *n);

/* One key prune retired (or would, with dry_run). */
struct wiz_prune_item {
	int64_t key_id;
	char *cka_id;
	char *label;
	char *token;
	bool destroyed;
	char *problem;  /* why it could not be destroyed */
};

void wiz_prune_items_free(struct wiz_prune_item *v, size_t n);

/*
 * Prune: every key whose certificates are all expired for [renew]
 * retain_expired days or superseded (assigned once, no longer) for
 * retain_superseded days, none of them serving or scheduled, and with no
 * open request, is destroyed on its token with its certificate objects and
 * marked retired (audited), unless dry_run. A key that cannot be destroyed
 * is reported (its problem) and stays; the others go on.
 */
enum cw_err wiz_prune(struct wiz *w, bool dry_run, struct wiz_prune_item **out,
		      size_t *n);

/*
 * The service's scheduled work: activates the scheduled assignments whose
 * time has come, deploys every [deploy] usage whose files do not name its
 * serving certificate, tries failed deployments again when their time
 * comes, and with [renew] auto renews what is due. *next: the next time there is work (0: none known).
 */
enum cw_err wiz_due(struct wiz *w, int64_t *next);

/* How much a problem matters to monitoring (certwiz check). */
enum wiz_severity {
	WIZ_NOTE,     /* worth knowing, nothing to do */
	WIZ_WARNING,  /* to be done soon: expiring, unassigned, accepted
			 differences */
	WIZ_CRITICAL, /* serving is or will be broken: expired, key or token
			 gone, chain incomplete */
};

/* Certificates expiring within this many days are reported by default. */
#define WIZ_WARN_DAYS 30

/* One usage on the wizard's screen. */
struct wiz_status {
	char *usage;
	bool assigned;
	struct store_cert cert;      /* when assigned */
	struct store_assignment assignment;
	char *key_origin;            /* "generated" | "imported" | NULL */
	bool has_next;
	struct store_cert next_cert; /* scheduled successor */
	struct store_assignment next;
	struct cw_strlist requests;  /* "ID STATE PROTOCOL" of open requests */
	struct cw_strlist problems;
	enum wiz_severity *severity; /* of each problem */
	size_t n_severity;
	int64_t assign_candidate;    /* a certificate that fits, or 0 */
	bool can_request, can_assign, can_remove, can_view;
	bool can_process_pending;
	int64_t renew_due;           /* assigned: when it is due for renewal */
	struct store_renewal renewal; /* the last attempt; attempted_at 0:
					 none */
	bool has_deploy;             /* the usage has a [deploy] section */
	struct store_deployment deployment; /* cert_id -1: never deployed */
};

void wiz_status_free(struct wiz_status *v, size_t n);

/*
 * Status: every usage of this host (or only usage), from the store and
 * the topology; the token is not opened (what the last refresh found out
 * about it is shown). Certificates expiring within warn_days (0: the
 * default, WIZ_WARN_DAYS) are a warning.
 */
enum cw_err wiz_status(struct wiz *w, const char *usage, int warn_days,
		       struct wiz_status **out, size_t *n);

/* What refresh found or changed. */
struct wiz_event {
	char *kind;   /* key-missing key-restored cert-missing cert-restored
			 cert-discovered interrupted-key intent-cleared
			 assignment-activated token-unreachable
			 request-issued request-pending request-rejected
			 ca-unreachable request-error unknown-key */
	char *detail;
	bool attention; /* the operator must act on it */
};

struct wiz_refresh_report {
	struct wiz_event *v;
	size_t n;
	size_t attention; /* events that need attention */
};

void wiz_refresh_report_release(struct wiz_refresh_report *r);

/*
 * Refresh: reconciles the store with the tokens, looking objects up by
 * CKA_ID: keys or certificates deleted outside certwiz are marked (never
 * dropped), certificates placed on the token under a known key are
 * recorded, keys left by an interrupted request are listed, intents that
 * never produced a key (older than ten minutes) are cleared, and scheduled
 * assignments whose time has come are activated. A token that cannot be
 * opened is reported (and recorded, for status) and its keys are left as
 * they are; keys under certwiz's labels that the store does not know are
 * reported, as are missing keys that still serve. Open online
 * requests whose next attempt time has come are taken up once (at most 10
 * seconds each); what the CA says is reported as events.
 */
enum cw_err wiz_refresh(struct wiz *w, struct wiz_refresh_report *out);

/*
 * Records a refused or failed operation (outcome "denied" for
 * CW_ERR_PERM, else "failure") with the last error message as the reason,
 * in its own transaction; best effort: an unwritable store is reported,
 * not fatal. target is a JSON object or NULL.
 */
void wiz_audit_failure(struct wiz *w, const char *operation,
		       const char *target, enum cw_err rc);

struct wiz_checkpoint {
	int64_t seq;
	char *hash;
	char *time;
	char *cka_id;
	bool written; /* false: not due, or no token session at hand */
};

void wiz_checkpoint_release(struct wiz_checkpoint *c);

/*
 * Writes a checkpoint: the last event's seq and hash, signed (ECDSA P-256)
 * by the audit key on the configured token, made on first use (label
 * certwiz-audit). With only_if_due, only when 100 events or a day have
 * passed since the last checkpoint, and only with a token session this
 * process already opened (no second PIN).
 */
enum cw_err wiz_audit_checkpoint(struct wiz *w, bool only_if_due,
				 struct wiz_checkpoint *out);

struct wiz_audit_report {
	int64_t events;
	int64_t checkpoints;
	int64_t unsigned_events; /* after the last checkpoint */
	int64_t anchor_seq;   /* the anchor checked, 0 without one */
	char *key_source;     /* where the audit key came from: "--key",
				 "[audit] public_key", "token", or NULL */
	int64_t broken_seq;  /* first event or checkpoint in question, 0 */
	char *kind;          /* NULL when the trail verifies */
	char *problem;
};

void wiz_audit_report_release(struct wiz_audit_report *r);

/*
 * Verifies the whole trail: every event's hash over its stored text
 * (targets in canonical form), its link, no gap; every checkpoint's seq,
 * hash, order and signature, by the audit key, which comes from key_pem
 * (--key), else [audit] public_key, else the key labelled certwiz-audit on
 * the audit token: never from a row under test. A trail with an audit key
 * and no checkpoint is broken (checkpoints deleted). With anchor (what
 * 'audit anchor' wrote earlier, kept off the host): the trail must reach
 * its event with the same hash, and its signature must be the audit
 * key's. CW_ERR_CRYPTO with the first problem described in the report.
 */
enum cw_err wiz_audit_verify(struct wiz *w, const struct cw_buf *key_pem,
			     const struct cw_buf *anchor,
			     struct wiz_audit_report *out);

/*
 * The anchor of the trail as it stands: a checkpoint is written first when
 * events came after the last one. *text is a small JSON document (seq,
 * hash, time, signature and public key) for an auditor to keep off the
 * host. Caller frees.
 */
enum cw_err wiz_audit_anchor(struct wiz *w, char **text, int64_t *seq);

/* Events (at or after since, RFC 3339, when given), in order. */
enum cw_err wiz_audit_events(struct wiz *w, const char *since,
			     store_audit_fn fn, void *user);

/* The store, opened on first use (borrowed). A missing or empty store is
 * refused (see store_open): only wiz_init makes one. */
enum cw_err wiz_store(struct wiz *w, struct store **out);

struct wiz_init_result {
	const char *path; /* borrowed from the configuration */
	unsigned schema;
	bool created;     /* false: it existed, and was left as it was (or
			     brought to the current schema) */
};

/* Creates the store of [store] path (folder: the service's own, mode
 * 0700), recording its creation as the first audit event; a store that
 * exists is checked and left as it is. */
enum cw_err wiz_init(struct wiz *w, struct wiz_init_result *out);

#endif
