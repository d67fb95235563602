/* certwiz: the store (SQLite). The only layer that includes sqlite3. */
#ifndef CW_STORE_H
#define CW_STORE_H

#include "certwiz/err.h"
#include "certwiz/util.h"

#include <stdbool.h>
#include <stdint.h>

struct store;

/* SQLite's one-time setup, for a process that forks before it opens a
 * store (safe: nothing is open). */
void store_preload(void);

/*
 * Opens and migrates the store at path; ":memory:" for a private
 * in-memory store. Only create makes a store (the file, mode 0600, and its
 * schema): otherwise a missing file, an empty one or one without certwiz's
 * schema is refused with the path and the remedy, so that a lost store is
 * never silently replaced by a new empty one. The folder must be this
 * process's user's and not writable by others; its files must be the
 * user's, and not links (their modes are narrowed to 0600). Every
 * connection runs in WAL mode with synchronous=FULL, foreign keys on and a
 * busy timeout.
 */
enum cw_err store_open(const char *path, bool create, struct store **out);
/* The schema version of an open store. */
unsigned store_schema(const struct store *s);
void store_close(struct store *s);

/* Write transactions: BEGIN IMMEDIATE, so that writers queue instead of
 * failing. The first one of a connection checks the store first (PRAGMA
 * integrity_check): a damaged store is refused for writing (it can still
 * be read and exported). store_rollback is safe to call when no
 * transaction is open. */
enum cw_err store_begin(struct store *s);
enum cw_err store_commit(struct store *s);
void store_rollback(struct store *s);
/* Ends a write transaction: commits when rc is CW_OK (returning the
 * commit's result), else rolls back and returns rc. */
enum cw_err store_end(struct store *s, enum cw_err rc);

/* "ok" from PRAGMA integrity_check, else CW_ERR_STORE. */
enum cw_err store_check_integrity(struct store *s);

/* Rows. Strings and buffers are owned by the row: *_release frees them. */
/* Whether a certificate's stored chain reaches a trust anchor. */
enum store_chain {
	STORE_CHAIN_UNKNOWN,    /* earlier schemas, or no anchors then */
	STORE_CHAIN_COMPLETE,
	STORE_CHAIN_INCOMPLETE, /* an issuer is missing */
};

struct store_token {
	int64_t id;
	char *serial;
	char *label;
	char *manufacturer;
	char *model;
	char *problem;         /* the last refresh could not open it: why */
	int64_t problem_since;
};

struct store_key {
	int64_t id;
	int64_t token_id;
	char *cka_id;      /* lowercase hex */
	char *label;
	char *algorithm;   /* key spec, "ec:P-256" */
	struct cw_buf spki;
	char *spki_sha256; /* NULL while generating */
	char *origin;      /* "generated" | "imported" */
	char *state;       /* "generating" | "ready" | "gone" */
	int64_t created;
};

struct store_request {
	int64_t id;
	char *host;
	struct cw_strlist usages;
	int64_t key_id;
	struct cw_buf csr; /* DER */
	char *protocol;    /* "offline" | "acme" | "cmp" | "helper" */
	char *ca;          /* CA profile, NULL for offline */
	char *state;       /* created awaiting-response submitted pending
			      issued rejected failed */
	char *created_by;
	unsigned created_uid;
	int64_t created;
	int64_t updated;
	char *out_path;     /* earlier releases: where the CSR was written */
	char *ca_ref;       /* online: the order URL, once submitted */
	int64_t next_attempt; /* online: not before this time; 0: any time */
	char *problem;      /* what the CA or the network last said */
	int64_t attempts;   /* times taken up */
};

struct store_cert {
	int64_t id;
	struct cw_buf der;
	char *sha256;
	char *sha1;
	char *subject;
	char *issuer;
	char *serial;
	int64_t not_before;
	int64_t not_after;
	int64_t key_id;     /* 0 when the key is not known */
	int64_t request_id; /* 0 when not from a request */
	struct cw_buf chain; /* issuers, concatenated DER */
	char *origin;       /* "issued" | "imported" */
	int64_t created;
	struct cw_strlist names; /* subjectAltNames */
	struct cw_strlist eku;
	bool eku_any;       /* no EKU extension: any purpose */
	bool names_known;   /* false for rows from schema 1 */
	char *key_alg;
	char *token_state;  /* "present" | "missing" | "none" (never written,
			       or replaced by a later certificate of the
			       same key) */
	char *mismatch;     /* accepted differences, one per line, or NULL */
	enum store_chain chain_state;
};

/* One row of a usage's assignment history. */
struct store_assignment {
	int64_t id;
	char *host;
	char *usage;
	int64_t cert_id;
	int64_t effective_from;
	char *state;        /* scheduled current previous removed */
	char *assigned_by;
	int64_t assigned_at;
	int64_t ended_at;   /* 0 while serving or scheduled */
};

void store_token_release(struct store_token *t);
void store_key_release(struct store_key *k);
void store_request_release(struct store_request *r);
void store_cert_release(struct store_cert *c);
void store_assignment_release(struct store_assignment *a);

/* Tokens are known by (manufacturer, model, serial); the label is kept up
 * to date. */
enum cw_err store_token_ensure(struct store *s, const struct store_token *t,
			       int64_t *id);
enum cw_err store_token_get(struct store *s, int64_t id,
			    struct store_token *out);

/* Sets k->id. spki may be empty while the key is being generated. */
enum cw_err store_key_add(struct store *s, struct store_key *k);
enum cw_err store_key_set_ready(struct store *s, int64_t id,
				const struct cw_buf *spki,
				const char *spki_sha256);
enum cw_err store_key_delete(struct store *s, int64_t id);
enum cw_err store_key_get(struct store *s, int64_t id, struct store_key *out);
/* The ready key with this public key hash; CW_ERR_NOT_FOUND. */
enum cw_err store_key_by_spki(struct store *s, const char *spki_sha256,
			      struct store_key *out);

/* Sets r->id, r->created and r->updated. */
enum cw_err store_request_add(struct store *s, struct store_request *r);
/* How many requests uid created are still open (awaiting a response or
 * at a CA). */
enum cw_err store_requests_open_by(struct store *s, unsigned uid,
				   int64_t *n);
enum cw_err store_request_set_state(struct store *s, int64_t id,
				    const char *state);
enum cw_err store_request_get(struct store *s, int64_t id,
			      struct store_request *out);

/* What a run of an online request changes. */
struct store_request_update {
	const char *state;
	const char *ca_ref;   /* NULL: kept */
	int64_t next_attempt; /* 0: cleared */
	const char *problem;  /* NULL: cleared */
	bool attempted;       /* count one more attempt */
};

enum cw_err store_request_update(struct store *s, int64_t id,
				 const struct store_request_update *u);
/* What an online request's protocol resumes from (opaque; empty when
 * none), and the reference shown for it. */
enum cw_err store_request_set_ca_state(struct store *s, int64_t id,
				       const struct cw_buf *state,
				       const char *ref);
enum cw_err store_request_ca_state(struct store *s, int64_t id,
				   struct cw_buf *out);
/* The newest request awaiting a response for key_id; CW_ERR_NOT_FOUND. */
enum cw_err store_request_awaiting(struct store *s, int64_t key_id,
				   struct store_request *out);
/* The latest request for key that is open or issued (what a certificate
 * for the key is compared with). */
enum cw_err store_request_latest(struct store *s, int64_t key_id,
				 struct store_request *out);

/* Sets c->id and c->created. CW_ERR_DUPLICATE when the thumbprint is
 * already stored. */
enum cw_err store_cert_add(struct store *s, struct store_cert *c);
enum cw_err store_cert_by_sha256(struct store *s, const char *sha256,
				 struct store_cert *out);

enum cw_err store_cert_get(struct store *s, int64_t id, struct store_cert *out);
/*
 * The certificate whose id is ref (all digits) or whose SHA-256 thumbprint
 * starts with ref (at least 4 hex digits); digits that are both an id and
 * the start of another certificate's thumbprint are ambiguous.
 * CW_ERR_NOT_FOUND, CW_ERR_AMBIGUOUS (with a message listing the
 * candidates).
 */
enum cw_err store_cert_find(struct store *s, const char *ref,
			    struct store_cert *out);
/* Whether a certificate of the key is assigned (current or scheduled). */
enum cw_err store_key_assigned(struct store *s, int64_t key_id, bool *yes);
/* Whether a CKA_ID (hex) is one the store knows: a key's, an ACME
 * account key's or the audit key's. */
enum cw_err store_cka_id_known(struct store *s, const char *cka_id,
			       bool *known);
/* Replaces a certificate's chain (issuers, concatenated DER). */
enum cw_err store_cert_set_chain(struct store *s, int64_t id,
				 const struct cw_buf *chain,
				 enum store_chain state);
/* Records why a token could not be opened (NULL: it could). */
enum cw_err store_token_set_problem(struct store *s, int64_t id,
				    const char *problem, int64_t now);
enum cw_err store_cert_set_token_state(struct store *s, int64_t id,
				       const char *state);
enum cw_err store_key_set_state(struct store *s, int64_t id,
				const char *state);

/*
 * Assignments of (host, usage). The one serving at time now is the latest
 * scheduled row whose time has come, else the current row; activation of
 * due rows is written by store_activate_due (refresh and every assign).
 */
enum cw_err store_assignment_serving(struct store *s, const char *host,
				     const char *usage, int64_t now,
				     struct store_assignment *out);
/* The next scheduled assignment after now; CW_ERR_NOT_FOUND. */
enum cw_err store_assignment_next(struct store *s, const char *host,
				  const char *usage, int64_t now,
				  struct store_assignment *out);
/* Makes cert_id current now; the current one becomes previous. */
enum cw_err store_assign_now(struct store *s, const char *host,
			     const char *usage, int64_t cert_id,
			     const char *by, int64_t now);
/* Schedules cert_id from at (> now); replaces an earlier schedule. */
enum cw_err store_assign_at(struct store *s, const char *host,
			    const char *usage, int64_t cert_id,
			    const char *by, int64_t now, int64_t at);
/* Ends the current and any scheduled assignment; *ended counts them. */
enum cw_err store_unassign(struct store *s, const char *host,
			   const char *usage, int64_t now, int *ended);

typedef enum cw_err (*store_assignment_fn)(void *user,
					   const struct store_assignment *a);
/* Activates every scheduled assignment due at now (fn sees each). */
enum cw_err store_activate_due(struct store *s, int64_t now,
			       store_assignment_fn fn, void *user);
/* The history of (host, usage), newest first. */
enum cw_err store_each_assignment(struct store *s, const char *host,
				  const char *usage, store_assignment_fn fn,
				  void *user);
/* Usages where cert_id is serving or scheduled. */
enum cw_err store_cert_usages(struct store *s, int64_t cert_id,
			      store_assignment_fn fn, void *user);

/* What a usage's deployed files name (schema 10). */
struct store_deployment {
	int64_t cert_id;      /* 0: the usage had no certificate */
	char *state;          /* done | failed */
	int64_t attempts;     /* failed attempts in a row */
	char *problem;        /* why the last attempt failed, or NULL */
	int64_t attempted_at;
	int64_t next_attempt; /* 0: none due */
};

void store_deployment_release(struct store_deployment *d);
/* CW_ERR_NOT_FOUND when the usage was never deployed. */
enum cw_err store_deployment_get(struct store *s, const char *host,
				 const char *usage,
				 struct store_deployment *out);
enum cw_err store_deployment_set(struct store *s, const char *host,
				 const char *usage,
				 const struct store_deployment *d);

/* The last renewal attempt of a usage (schema 11). */
struct store_renewal {
	char *state;          /* renewed | pending | failed */
	int64_t from_cert_id; /* the certificate renewed */
	int64_t cert_id;      /* renewed: the new one */
	int64_t request_id;   /* the request made (pending: resumed) */
	int64_t attempts;     /* failed attempts in a row */
	char *problem;
	int64_t attempted_at;
	int64_t next_attempt; /* failed: not before; 0: none */
};

void store_renewal_release(struct store_renewal *r);
enum cw_err store_renewal_get(struct store *s, const char *host,
			      const char *usage, struct store_renewal *out);
enum cw_err store_renewal_set(struct store *s, const char *host,
			      const char *usage,
			      const struct store_renewal *r);

/* Audit rows (the audit layer computes the hashes). */
struct store_audit {
	int64_t seq;
	char *time;
	int64_t uid;
	char *user;
	char *host;
	char *operation;
	char *target;
	char *outcome;
	char *reason;
	char *prev_hash;
	char *hash;
};

struct store_checkpoint {
	int64_t id;
	int64_t seq;
	char *hash;
	char *time;
	char *token_serial;
	char *cka_id;
	struct cw_buf public_key;
	struct cw_buf signature;
};

void store_audit_release(struct store_audit *a);
void store_checkpoint_release(struct store_checkpoint *c);

/* The last event's seq and hash (0 and NULL when there is none). */
enum cw_err store_audit_last(struct store *s, int64_t *seq, char **hash);
/* Appends; must be inside the write transaction of the change. */
enum cw_err store_audit_add(struct store *s, const struct store_audit *a);
typedef enum cw_err (*store_audit_fn)(void *user, const struct store_audit *a);
/* Events in seq order, those at or after since (RFC 3339) when given. */
enum cw_err store_each_audit(struct store *s, const char *since,
			     store_audit_fn fn, void *user);
enum cw_err store_checkpoint_add(struct store *s, struct store_checkpoint *c);
typedef enum cw_err (*store_checkpoint_fn)(void *user,
					   const struct store_checkpoint *c);
enum cw_err store_each_checkpoint(struct store *s, store_checkpoint_fn fn,
				  void *user);
/* CW_ERR_NOT_FOUND when there is no checkpoint. */
enum cw_err store_checkpoint_last(struct store *s,
				  struct store_checkpoint *out);


/*
 * ACME accounts: one per CA profile and directory, its key on a token.
 * store_account_add writes the row (state generating) before the key
 * exists; store_account_update sets the public key (state ready) when spki
 * is given, and the account URL (NULL: not registered).
 */
struct store_account {
	int64_t id;
	char *ca;
	char *directory;
	int64_t token_id;
	char *cka_id;
	struct cw_buf spki;
	char *url;
	char *state;     /* "generating" | "ready" */
	int64_t created;
};

void store_account_release(struct store_account *a);
enum cw_err store_account_get(struct store *s, const char *ca,
			      const char *directory,
			      struct store_account *out);
enum cw_err store_account_add(struct store *s, struct store_account *a);
enum cw_err store_account_update(struct store *s, int64_t id,
				 const struct cw_buf *spki, const char *url);
typedef enum cw_err (*store_account_fn)(void *user,
					const struct store_account *a);
enum cw_err store_each_account(struct store *s, store_account_fn fn,
			       void *user);

/* Challenge responses published outside certwiz (webroot, DNS), until
 * they are removed. */
struct store_challenge {
	int64_t id;
	int64_t request_id;
	char *authz;
	char *type;   /* "http-01" | "dns-01" */
	char *name;
	char *token;
	char *value;
	int64_t published;
};

void store_challenge_release(struct store_challenge *c);
/* Records one (or refreshes the row of the same authorization). */
enum cw_err store_challenge_add(struct store *s, struct store_challenge *c);
enum cw_err store_challenge_removed(struct store *s, int64_t id);
typedef enum cw_err (*store_challenge_fn)(void *user,
					  const struct store_challenge *c);
enum cw_err store_each_published_challenge(struct store *s,
					   int64_t request_id,
					   store_challenge_fn fn, void *user);

/* meta: value NULL when absent. */
enum cw_err store_meta_get(struct store *s, const char *key, char **value);
enum cw_err store_meta_set(struct store *s, const char *key,
			   const char *value);

/*
 * Listings, oldest first. The callback's rows are borrowed for the call;
 * a callback error stops the walk and is returned.
 */
typedef enum cw_err (*store_key_fn)(void *user, const struct store_key *k,
				    const struct store_token *t);
typedef enum cw_err (*store_request_fn)(void *user,
					const struct store_request *r);
typedef enum cw_err (*store_cert_fn)(void *user, const struct store_cert *c);

enum cw_err store_each_key(struct store *s, store_key_fn fn, void *user);
enum cw_err store_each_request(struct store *s, store_request_fn fn,
			       void *user);
enum cw_err store_each_cert(struct store *s, store_cert_fn fn, void *user);
/*
 * Keys that may be retired at now: ready, with certificates, none of them
 * serving or scheduled, no open request, and every certificate expired
 * for keep_expired seconds or superseded (assigned once, every assignment
 * ended) for keep_superseded seconds.
 */
enum cw_err store_each_prunable_key(struct store *s, int64_t now,
				    int64_t keep_expired,
				    int64_t keep_superseded, store_key_fn fn,
				    void *user);
/* The newest certificate issued for a request of (host, usage), recorded
 * after the certificate serving (id) and not expiring before it (after),
 * that was never assigned (a renewal interrupted before its takeover);
 * CW_ERR_NOT_FOUND. */
enum cw_err store_issued_unassigned(struct store *s, const char *host,
				    const char *usage, int64_t serving,
				    int64_t after, int64_t *cert_id);
/* The newest certificate issued for a request; CW_ERR_NOT_FOUND. */
enum cw_err store_cert_of_request(struct store *s, int64_t request_id,
				  int64_t *cert_id);
/* The key was destroyed on its token by prune: state gone, retired at now;
 * its certificates no longer on the token. */
enum cw_err store_key_retire(struct store *s, int64_t id, int64_t now);
/* Certificates of one key. */
enum cw_err store_each_cert_of_key(struct store *s, int64_t key_id,
				   store_cert_fn fn, void *user);
/*
 * Certificates that could serve at now: valid, key known and ready,
 * object on the token, and (when name is not NULL) carrying name or a
 * wildcard that covers it; newest expiry first. The name is looked up in
 * an index, so the walk does not grow with certificates of other hosts.
 */
enum cw_err store_each_valid_cert(struct store *s, int64_t now,
				  const char *name, store_cert_fn fn,
				  void *user);
/* Online requests still open (created, submitted, pending), oldest first. */
enum cw_err store_each_pending_request(struct store *s, store_request_fn fn,
				       void *user);
/* Requests not yet issued, rejected or failed that name usage for host. */
enum cw_err store_each_open_request(struct store *s, const char *host,
				    const char *usage, store_request_fn fn,
				    void *user);

#endif
