/*
 * The one source of certwiz's help: --help, 'certwiz help VERB' and the man
 * page (certwiz help --man > docs/certwiz.1; a test checks they agree).
 */
#include "verbs.h"

#include <string.h>

struct opt_doc {
	const char *flag;
	const char *text;
};

struct verb_doc {
	const char *name;
	const char *synopsis;
	const char *summary;
	const char *details;
	struct opt_doc opts[20];
};

static const struct verb_doc verbs[] = {
	{ "init", "init",
	  "create the store (once, before anything else)",
	  "Creates the store at [store] path (its folder must exist, belong "
	  "to the service's user and not be writable by others), with its "
	  "schema, and records its creation as the first audit event. Only "
	  "init creates a store: every other command refuses a missing or "
	  "empty store with its path and the remedy, so that a lost store is "
	  "never silently replaced by a new empty one. A store that exists "
	  "is checked and left as it is (exit 0); an empty file or one "
	  "without certwiz's schema is refused.",
	  { { NULL, NULL } } },
	{ "tokens", "tokens",
	  "list the PKCS#11 modules, slots and tokens certwiz can see",
	  "Each slot is shown with its token's RFC 7512 URI (label, serial, "
	  "manufacturer; the model is shown beside it), whether the token is "
	  "initialised, whether it needs a login, PIN warnings, and whether "
	  "a wrong PIN shows in its flags at all (SoftHSM2 and tpm2-pkcs11 "
	  "keep no counter certwiz can see; a TPM still counts failures "
	  "toward its lockout). A PIN is tried once per command. Tokens are "
	  "chosen by these URIs, never by slot number. A module that does not "
	  "start is reported with exit 6 and what to check (openCryptoki's "
	  "daemon, tpm2-pkcs11's TPM2_PKCS11_STORE and TCTI).",
	  { { NULL, NULL } } },
	{ "topology", "topology check FILE | topology show",
	  "validate a topology document and show what each usage needs",
	  "'check FILE' validates the document (structure, variables, key "
	  "specs, extended key usages, every subject and name once expanded) "
	  "and prints, for the host (--host, else this machine's name; all "
	  "hosts with --all), each usage with its subject, names, EKUs, key "
	  "spec and CA. An error names the file, the key path and the reason. "
	  "'show' does the same for the configured topology.",
	  { { "--all", "show every host of the document" },
	    { NULL, NULL } } },
	{ "request",
	  "request --usage U [--usage U2]... (--offline --out FILE [--force] | "
	  "--ca NAME [--wait SEC] [--assign] [--eab-kid KID [--eab-hmac-file F "
	  "| --eab-hmac-fd N]] [--ca-reference REF] [--ca-secret-file F | "
	  "--ca-secret-fd N] [--template NAME]) [--key SPEC] [--token URI] "
	  "[--name DNS]...",
	  "generate a key pair on the token and a token-signed CSR, for a "
	  "file or an online CA",
	  "The key pair is generated inside the token (private key: "
	  "sensitive, never extractable, sign only; checked after "
	  "generation) with a fresh random 16-byte CKA_ID. The CSR carries "
	  "the subject, names and extended key usages the topology gives the "
	  "usages of this host (several usages: the union of their names), "
	  "plus --name extras, and is signed by the token. It is written "
	  "atomically to FILE (PEM) and the request is recorded as "
	  "awaiting-response; the request id is printed. Nothing is left "
	  "behind when a step fails. Anyone may make an offline request: "
	  "the service generates the key and the CSR, records the request "
	  "as the caller's, and this command writes the CSR to FILE as the "
	  "caller; for a user outside the admin group, names, subject and "
	  "key come from the topology of the service's own host only (no "
	  "--host for another host, no --name, --key or --token), and at "
	  "most [service] max_pending_per_user of their requests may be "
	  "open at once. With --ca the CSR goes to "
	  "the CA profile [ca \"NAME\"] over ACME (RFC 8555; administrators "
	  "only): the account key is generated on the token on first use "
	  "(EC P-256 or, with account_key, P-384; sign only, never a "
	  "certificate's key) and the account "
	  "registered once per profile, with external account binding when "
	  "the CA wants it; an order is created for the CSR's names, the "
	  "challenges answered (http-01 through the built-in responder or "
	  "files under a web root, dns-01 through a hook command), the order "
	  "finalized, and the chain downloaded, checked (the leaf's key is "
	  "the request's, its names are the ones asked for, its chain "
	  "verifies to the profile's roots) and imported onto the token and "
	  "into the store. Each step is recorded before the next, so a "
	  "request the CA has not finished within --wait is kept with its "
	  "order (exit 3), as is one the CA could not be reached for (exit "
	  "8); 'certwiz pending process' takes it up where it stood, never "
	  "with a new order or key. A rejection is recorded with the CA's "
	  "words (exit 7). A profile with protocol cmp sends a p10cr "
	  "carrying the token-signed CSR (RFC 4210, RFC 9480), protected by "
	  "a password-based MAC with the profile's reference and secret: a "
	  "CA that approves by hand answers \"waiting\" and the request is "
	  "kept (exit 3) with its transactionID; 'pending process' resumes "
	  "that same transaction, in as many runs as it takes, and the "
	  "issued certificate is checked before the CA is told it is "
	  "accepted (a wrong one gets a negative certConf and nothing is "
	  "bound). A profile with protocol helper runs a certmonger CA "
	  "helper (cepces for AD CS, ipa-submit, dogtag-submit, "
	  "local-submit) and maps its exit codes the same way; its cookie "
	  "is the pending reference.",
	  { { "--usage U", "usage (role) from the topology; repeatable" },
	    { "--offline", "write the CSR to a file for an offline or public CA" },
	    { "--out FILE", "where the CSR goes (refused if it exists)" },
	    { "--force", "replace FILE if it exists" },
	    { "--ca NAME", "send the request to the CA profile [ca \"NAME\"]" },
	    { "--wait SEC",
	      "how long to wait for the CA before leaving the request "
	      "pending (default 60)" },
	    { "--assign", "assign the certificate to the usages once issued" },
	    { "--eab-kid KID",
	      "alternate credentials: the external account binding key id, "
	      "instead of the profile's; its MAC key is asked for on the "
	      "terminal unless given below" },
	    { "--eab-hmac-file F",
	      "the EAB MAC key, base64url (refused if group or world "
	      "readable)" },
	    { "--eab-hmac-fd N", "the EAB MAC key, read from descriptor N" },
	    { "--ca-reference REF",
	      "CMP: alternate credentials, the MAC's reference instead of the "
	      "profile's; recorded in the audit, the secret never" },
	    { "--ca-secret-file F",
	      "CMP or helper: the shared secret for this request (refused if "
	      "group or world readable), instead of the profile's secret_file; "
	      "asked for on the terminal when neither is given (CMP)" },
	    { "--ca-secret-fd N", "the same, read from descriptor N" },
	    { "--template NAME",
	      "CMP: the certProfile sent to the CA; helper: "
	      "CERTMONGER_CA_PROFILE (instead of the profile's template)" },
	    { "--key SPEC",
	      "ec:P-256, ec:P-384, rsa:2048, rsa:3072 or rsa:4096 (default: "
	      "the topology's, else ec:P-256)" },
	    { "--token URI",
	      "PKCS#11 URI of the token (default: [token] uri); no pin-value, "
	      "no slot-id" },
	    { "--name DNS", "an extra DNS name or IP address; repeatable" },
	    { NULL, NULL } } },
	{ "import",
	  "import FILE [--usage U]... [--password-file F] [--accept-mismatch]",
	  "import a CA's response, or a certificate made elsewhere",
	  "FILE is a certificate in PEM or DER, or PKCS#7 (.p7b/.p7c, PEM or "
	  "DER), with or without intermediates, in any order; or PKCS#12 "
	  "(.pfx/.p12) with its key. The leaf is matched by public key to a "
	  "key certwiz knows, else to a key on the configured token; the "
	  "certificate is written to the token under the key's CKA_ID and "
	  "label and stored with its chain, and an awaiting request is "
	  "marked issued, in one store transaction. A PKCS#12 key is created "
	  "on the token sensitive and not extractable and recorded with "
	  "origin imported (it was outside the hardware once: view and "
	  "status say so); this needs [policy] allow_key_import = true. A "
	  "PKCS#12 file without a key or with several is refused, as is a "
	  "key already on the token. Before anything changes the leaf is "
	  "compared with what was asked: the names and extended key usages "
	  "of its key's request, its validity (not expired, already valid), "
	  "that it is not a CA certificate, and that its chain verifies to "
	  "the trust anchors ([trust] anchors and every CA profile's roots); "
	  "a difference is refused with the reasons, unless "
	  "--accept-mismatch. A chain that lacks an issuer (a CA that sends "
	  "the leaf alone) is imported and recorded as incomplete: assign "
	  "refuses it until an import of the issuer's certificate (alone, or "
	  "with the leaf again) completes it, and export then ships the "
	  "completed chain. A certificate for a key whose token already "
	  "holds another one (a corrected certificate from the CA) takes its "
	  "place on the token; the old one stays in the store. Importing a "
	  "known certificate again puts it back on the token when its object "
	  "was deleted there. A response cut short is refused.",
	  { { "--usage U",
	      "assign the certificate to U in the same step (checked as "
	      "assign checks, before anything changes); repeatable" },
	    { "--password-file F",
	      "the PKCS#12 password (refused if group or world readable); "
	      "else a prompt" },
	    { "--accept-mismatch",
	      "import a certificate that differs from what was asked; the "
	      "differences are audited, stored with it and shown by status" },
	    { NULL, NULL } } },
	{ "status", "status [--usage U]",
	  "show each usage of this host and what can be done with it",
	  "For every usage the topology gives this host (or only U): the "
	  "assigned certificate (subject, thumbprint, expiry, days left), a "
	  "scheduled successor, open requests, problems (expired or "
	  "expiring within 30 days, key or certificate missing from the "
	  "token or the token unreachable, as last seen by refresh, names or "
	  "extended key usages the topology now requires that the "
	  "certificate lacks, a chain that lacks an issuer, differences "
	  "accepted at import, a key that was imported, no trust anchors to "
	  "assign with), and which operations are available now: request "
	  "always; assign when a valid unassigned certificate fits; remove "
	  "and view when one is assigned; process-pending when a request is "
	  "pending at a CA. Answers from the store; the token is not opened.",
	  { { "--usage U", "only this usage" }, { NULL, NULL } } },
	{ "assign", "assign CERT --usage U [--usage U2]... [--effective-at TIME]",
	  "make a certificate serve one or more usages, now or later",
	  "CERT is a certificate id or a prefix of its SHA-256 thumbprint (4 "
	  "hex digits at least). Refused, with the reason and nothing "
	  "changed, when the certificate's key is not on its token (checked "
	  "on the token), it is expired or not yet valid, it lacks a name or "
	  "extended key usage a usage requires (or expires before the time "
	  "it would take over), or its chain does not verify to the trust "
	  "anchors ([trust] anchors and every CA profile's roots, the same "
	  "roots issuance and import check). The certificate that served before is kept in "
	  "the history. With --effective-at the assignment is scheduled: the "
	  "current certificate keeps serving until then (a rollover); the "
	  "change is written by the next assign, remove or refresh, and "
	  "status, view and export show it from that time on. A usage with "
	  "a [deploy] section is deployed right after the change (or, when "
	  "scheduled, by certwizd at its time): its files rewritten, the "
	  "check and the command run; a failed deployment leaves the "
	  "previous files, is retried by certwizd and exits 9.",
	  { { "--usage U", "usage to serve; repeatable" },
	    { "--effective-at TIME",
	      "when the certificate takes over: 2026-12-01T08:00:00Z (UTC), "
	      "2026-12-01, or +7d, +12h, +30m" },
	    { NULL, NULL } } },
	{ "remove", "remove --usage U",
	  "the usage no longer has a certificate (certificate and key stay)",
	  "A scheduled successor is cancelled too. A usage with a [deploy] "
	  "section is deployed without a certificate: the server's snippet "
	  "makes it refuse handshakes (nginx: ssl_reject_handshake; Apache: "
	  "SSLEngine off, every request denied). Nothing assigned: exit 4.",
	  { { "--usage U", "the usage" }, { NULL, NULL } } },
	{ "view", "view --usage U [--pem]",
	  "show the certificate serving a usage",
	  "Subject, names, issuer, serial, validity, SHA-256 and SHA-1 "
	  "thumbprints, extended key usages, key algorithm and size, the "
	  "key's PKCS#11 URI and token, whether the key was generated on the "
	  "token or imported, and the chain. Nothing assigned: exit 4.",
	  { { "--usage U", "the usage" },
	    { "--pem", "print the certificate and its chain as PEM" },
	    { NULL, NULL } } },
	{ "export",
	  "export --usage U --out DIR [--server nginx|apache [--server-user "
	  "USER] [--pin-source FILE]]",
	  "write what a TLS server's configuration needs",
	  "DIR/U.chain.pem holds the certificate and its issuers; "
	  "DIR/U.key.uri holds the key's PKCS#11 URI (no PIN). With --server "
	  "nginx (DIR an absolute path), also: DIR/U.nginx.conf to include "
	  "inside the server block (ssl_certificate, and ssl_certificate_key "
	  "through libp11's engine with the PIN source's path, never the "
	  "PIN), DIR/U.nginx-main.conf to include at nginx.conf's top level "
	  "(env lines: nginx clears its workers' environment), "
	  "DIR/pkcs11-engine.cnf (the OpenSSL configuration that loads the "
	  "engine for the token's module) and DIR/U.env (the environment "
	  "nginx's service needs, for systemd's EnvironmentFile=). With "
	  "--server apache: DIR/U.apache.conf inside the <VirtualHost> "
	  "(SSLCertificateFile, SSLCertificateKeyFile with the key's URI), "
	  "DIR/U.apache-main.conf at the top level (SSLCryptoDevice pkcs11), "
	  "the same engine configuration and DIR/U.env. The PIN "
	  "source is read by the server's master (root) at start; libp11 "
	  "sends a "
	  "trailing newline as part of the PIN, so give it a file without "
	  "one. After the fork each worker logs in again: when the workers' "
	  "user (default www-data) cannot open the token (SoftHSM2: read and "
	  "write its token folder; openCryptoki: group pkcs11; tpm2-pkcs11 "
	  "cannot be used through the engine), export says what to change "
	  "and exits 9, the files written all the same. Every file is "
	  "staged before any is published, and replaced on the next export; "
	  "a refused export leaves the previous one as it was. Nothing "
	  "assigned: exit 4. See docs/servers.md.",
	  { { "--usage U", "the usage" },
	    { "--out DIR", "the folder to write to" },
	    { "--server nginx|apache", "also write that server's snippets, "
				       "engine configuration and environment" },
	    { "--server-user USER",
	      "the user the server's workers run as (default www-data)" },
	    { "--pin-source FILE",
	      "the PIN file the server reads (default: [token] pin_file)" },
	    { NULL, NULL } } },
	{ "pending",
	  "pending list | pending process [ID]... [--wait SEC] [--eab-kid KID "
	  "[--eab-hmac-file F | --eab-hmac-fd N]] [--ca-reference REF] "
	  "[--ca-secret-file F | --ca-secret-fd N] | pending cancel ID",
	  "show, take up or cancel requests that are not finished",
	  "'list' shows the open online requests (created, submitted, "
	  "pending) with their CA, protocol, reference (ACME order URL, CMP "
	  "transactionID, helper cookie), next attempt time and what the CA "
	  "or the network last said. 'process' takes each one (or the IDs "
	  "given) up where it stands, with POST-as-GET on its saved order "
	  "(ACME), a pollReq in its saved transaction (CMP) or a POLL with "
	  "its cookie (helper), never a new order, transaction or key: "
	  "answers what the CA still asks, waits "
	  "up to --wait seconds, and imports the certificate once issued. "
	  "A request stays pending until the CA issues or rejects it. "
	  "Nothing pending: exit 4. Otherwise the exit code is the most "
	  "serious outcome (rejected 7, unreachable 8, pending 3). 'cancel' "
	  "closes an open request, online or offline (it is then failed, "
	  "'cancelled by USER', and a later import of its response is "
	  "refused), tells a CMP CA the transaction is withdrawn (an error "
	  "message, with the profile's secret_file), removes the ACME "
	  "challenge responses published for it, and destroys its key "
	  "pair on the token unless a "
	  "certificate was issued for it; audited. Not an open request: "
	  "exit 4; a key that cannot be destroyed: nothing changes.",
	  { { "--wait SEC",
	      "process: how long to wait for the CA per request (default 60)" },
	    { "--eab-kid KID", "process: alternate credentials, as for request" },
	    { "--eab-hmac-file F", "process: the EAB MAC key from a file" },
	    { "--eab-hmac-fd N", "process: the EAB MAC key from descriptor N" },
	    { "--ca-reference REF",
	      "process: CMP alternate credentials, as for request" },
	    { "--ca-secret-file F", "process: the CA secret from a file" },
	    { "--ca-secret-fd N", "process: the CA secret from descriptor N" },
	    { NULL, NULL } } },
	{ "refresh", "refresh",
	  "reconcile the store with the tokens and the CAs",
	  "Looks every known key up on its token by CKA_ID: a key or "
	  "certificate deleted outside certwiz is marked (its assignments "
	  "stay, flagged by status), a certificate placed on the token under "
	  "a known key is recorded, a key left by an interrupted request is "
	  "listed, an intent that never produced a key is cleared after ten "
	  "minutes, and scheduled assignments whose time has come are "
	  "activated. Open online requests whose next attempt time has come "
	  "are taken up once, waiting at most 10 seconds each. Each change "
	  "is reported. A token that cannot be opened is reported (status "
	  "shows it until a refresh opens it again) and its keys are left as "
	  "they are. Private keys under certwiz's labels that the store does "
	  "not know (a store replaced by an empty or an old one) are "
	  "reported, as is a missing key whose certificate is still "
	  "assigned. When anything needs attention refresh exits 9, and "
	  "--json lists each such event under problems.",
	  { { NULL, NULL } } },
	{ "renew", "renew [--usage U]... [--dry-run] [--force] [--wait SEC]",
	  "renew the certificates that are due, each with a fresh key",
	  "For each usage of the host (or each --usage), the certificate "
	  "serving it is due when a third of its lifetime is left or [renew] "
	  "days (default 30) before it expires, whichever comes first, less "
	  "a spread of up to [renew] spread seconds (default 12 hours) drawn "
	  "from its thumbprint, so that a fleet does not renew at once. A due "
	  "usage gets a fresh key pair on the token (never the old key), a "
	  "CSR from the topology as it is now, and a request to the CA "
	  "profile the topology names; issued, checked and imported, the "
	  "certificate is assigned at once (the old one stays valid until it "
	  "expires) and deployed when the usage has a [deploy] section. A "
	  "request the CA still holds for the usage is resumed, never made "
	  "again. A usage whose CA is not an online profile gets its CSR in "
	  "[renew] outbox (written by the service): pending (exit 3) until "
	  "its response is imported, then the next run takes over; without "
	  "an outbox it is left to an offline request (manual). A failed "
	  "renewal waits [renew] retry "
	  "seconds (default an hour, doubling up to a day) unless --force. "
	  "With a [renew] section (auto = yes, the default there) certwizd "
	  "renews by itself: at start, at least hourly, and when a "
	  "certificate falls due. Each attempt is audited; status shows the "
	  "next renewal and the last result. Exit 0 when nothing failed, 3 "
	  "when the CA still holds a request, else the failure's code.",
	  { { "--usage U", "only this usage; repeatable" },
	    { "--dry-run", "say what would be renewed; change nothing" },
	    { "--force", "renew even what is not due, and retry at once" },
	    { "--wait SEC", "how long to wait for the CA (default 60)" },
	    { NULL, NULL } } },
	{ "prune", "prune [--dry-run]",
	  "destroy retired keys and certificates past their retention",
	  "A key is retired when every certificate of it is expired for "
	  "[renew] retain_expired days (default 30) or superseded (assigned "
	  "once, no longer) for retain_superseded days (default 90), none of "
	  "them serves or is scheduled, and no open request uses it: its "
	  "certificate objects and key pair are destroyed on the token and "
	  "the key is marked retired in the store (rows kept for the "
	  "history), each audited. Nothing assigned, scheduled or pending is "
	  "ever pruned. With a [renew] section certwizd prunes after each "
	  "renewal run (prune = no turns it off). A key that cannot be "
	  "destroyed is reported, the others go on; the exit code is then "
	  "its error's.",
	  { { "--dry-run", "list what would be destroyed; change nothing" },
	    { NULL, NULL } } },
	{ "check", "check [--days N]",
	  "for cron and monitoring systems: is every usage served well?",
	  "One line of summary, then one line per problem, the Nagios "
	  "plugin convention: 'CERTWIZ OK|WARNING|CRITICAL - ...'. Exit 0: "
	  "all good; 1 warning: a certificate expires within N days "
	  "(default 30), a usage has none assigned, a certificate was "
	  "imported with --accept-mismatch, its object is gone from the "
	  "token, or nothing can be assigned for lack of trust anchors; 2 "
	  "critical: a certificate is expired or not yet valid, lacks a "
	  "name or extended key usage the topology requires, its chain "
	  "lacks an issuer, its key is missing, or its token could not be "
	  "opened at the last refresh; 3 unknown: certwiz could not tell "
	  "(bad option, no store). The token is not opened: run refresh "
	  "(from cron) for a fresh picture. Anyone may run it.",
	  { { "--days N", "warn about certificates expiring within N days "
			  "(0 to 3650; default 30)" },
	    { NULL, NULL } } },
	{ "audit",
	  "audit show [--since TIME] | verify [--key PEM] [--anchor FILE] | "
	  "export [--out FILE] | checkpoint | anchor [--out FILE]",
	  "the audit trail: list, verify, export, checkpoint, anchor",
	  "Every change (keys generated, imported or destroyed; requests "
	  "created and issued; certificates imported; assignments made, "
	  "scheduled, activated and removed; refresh repairs; configuration "
	  "and topology changes, recorded as the service's own findings) and "
	  "every refused or failed attempt (including token login failures) "
	  "is recorded with its sequence number, UTC time, the caller's uid "
	  "and name from the kernel, the operation, its target, outcome and "
	  "reason, in the same store transaction as the change. Events form "
	  "a SHA-256 hash chain over their stored text. 'checkpoint' signs "
	  "the last event's hash with the audit key on the audit token "
	  "([audit] token, default [token] uri; made on first use, label "
	  "certwiz-audit, EC P-256 where the token can, else RSA); one is "
	  "also written after a change when 100 events or a day have passed "
	  "and the audit token is already open. 'verify' checks every hash, "
	  "link, checkpoint and signature against the audit key from --key, "
	  "else [audit] public_key, else the token (never from the rows it "
	  "checks); a trail whose audit key exists but which has no "
	  "checkpoint fails. It names the first problem: a modified, "
	  "deleted, inserted or reordered event, a truncated trail, a forged "
	  "or replayed checkpoint. Events after the last checkpoint could be "
	  "rewritten undetected by someone holding the store: 'anchor' writes "
	  "a checkpoint and a small file (sequence, hash, signature) for an "
	  "auditor to keep off the host, and 'verify --anchor FILE' fails "
	  "when the trail is shorter than it or differs from it. 'export' "
	  "writes JSON Lines (one event per line, with its hashes) to FILE or "
	  "stdout. 'show' prints control characters as \\xNN.",
	  { { "--since TIME", "show: events at or after TIME (UTC, or -7d)" },
	    { "--key PEM", "verify: the audit public key, exported earlier" },
	    { "--anchor FILE",
	      "verify: an anchor written earlier by 'audit anchor'" },
	    { "--out FILE", "export, anchor: write to FILE instead of stdout" },
	    { NULL, NULL } } },
	{ "list", "list [--requests|--keys|--certs]",
	  "list requests, keys and certificates in the store",
	  "Without an option, all three. Answers from the store; the token "
	  "is not opened.",
	  { { "--requests", "only requests" },
	    { "--keys", "only keys (including keys left by an interrupted "
			"request, state generating)" },
	    { "--certs", "only certificates" },
	    { NULL, NULL } } },
	{ "help", "help [VERB | --man]", "show help, or the man page source",
	  NULL,
	  { { NULL, NULL } } },
};

static const struct opt_doc global_opts[] = {
	{ "-c, --config FILE",
	  "configuration file whose [service] socket names the service "
	  "(default: $CERTWIZ_CONF, else /etc/certwiz/certwiz.conf); the "
	  "one a one-shot certwizd uses" },
	{ "--host FQDN", "the host whose usages are meant (default: this "
			 "machine's name)" },
	{ "--json", "machine-readable output on stdout" },
	{ "--pin-file FILE",
	  "root without the service: read the token PIN from FILE "
	  "(refused if group or world readable)" },
	{ "--pin-fd N",
	  "root without the service: read the token PIN from descriptor N" },
	{ "--no-service",
	  "root only: run this command in a one-shot certwizd even when the "
	  "service is running (recovery; the PIN options above)" },
	{ "-v, --verbose", "more diagnostics" },
	{ "-q, --quiet", "no diagnostics, not even errors" },
	{ "-V, --version", "print the version" },
	{ NULL, NULL },
};

static const struct opt_doc exit_codes[] = {
	{ "0", "done" },
	{ "1", "failed (bad input, malformed response, store error)" },
	{ "2", "usage error (bad option or argument value)" },
	{ "3", "accepted, pending at the CA" },
	{ "4", "not available (nothing assigned, nothing pending)" },
	{ "5", "permission denied" },
	{ "6", "token error (PIN wrong or locked, token absent or not "
	       "initialised, mechanism or key size not supported)" },
	{ "7", "rejected by the CA" },
	{ "8", "CA unreachable (retry later)" },
	{ "9", "needs attention: refresh did its work and found problems, "
	       "each listed; export wrote the files, but the server's "
	       "workers could not use the key; assign or remove made the "
	       "change, but its deployment failed (retried by certwizd)" },
	{ NULL, NULL },
};

static const char *service_text =
	"certwiz is a client: it sends the command line to certwizd(8) on "
	"its Unix socket ([service] socket of the configuration, default "
	"/run/certwiz/certwiz.sock) and prints what comes back. The service, "
	"running as its own user, is the only process that reads the PINs, "
	"opens the store and the tokens, and talks to CAs; the files a "
	"command names (import FILE, --password-file, --out, ...) are read "
	"and written by this client, as the caller. When no service answers "
	"and the caller is root, certwiz runs the command in a one-shot "
	"certwizd (the service's binary, as the service's user) with the PIN "
	"options of its command line; nobody else gets that path.";

static const char *perm_text =
	"The service identifies each caller from the kernel (SO_PEERCRED) "
	"and the user database. Root and members of [policy] admin_group "
	"(default certwiz-admins) may run every command. Anyone else may "
	"read (status, view, list, pending list, audit show) and make offline "
	"requests for this host with the topology's names; anything else "
	"exits 5 and the refusal is recorded in the audit trail. Nobody but "
	"the service's user can read the PIN files, the token folder or the "
	"store.";

static const char *pin_text =
	"The service reads each token's PIN from its configuration ([token] "
	"pin_file, [audit] pin_file, or the URI's pin-source), files only "
	"its user may read; callers never hold it. Root running a one-shot "
	"certwizd may give it with --pin-file, --pin-fd, or at a prompt on "
	"the terminal with echo off; never on the command line (nor PKCS#12 "
	"passwords or EAB MAC keys, which this client reads from a file, a "
	"descriptor or the terminal and sends to the service). A wrong PIN "
	"is tried once and never retried; a locked PIN or a token at its "
	"final try is refused without a login attempt.";

static const struct verb_doc *
find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

static void
print_opts(FILE *f, const struct opt_doc *o)
{
	for (; o->flag; o++)
		fprintf(f, "  %-22s %s\n", o->flag, o->text);
}

void
front_help_verb(FILE *f, const char *name)
{
	const struct verb_doc *v = find(name);

	if (v != NULL) {
		fprintf(f, "usage: certwiz [global options] %s\n\n%s.\n",
			v->synopsis, v->summary);
		if (v->details)
			fprintf(f, "\n%s\n", v->details);
		if (v->opts[0].flag) {
			fputs("\noptions:\n", f);
			print_opts(f, v->opts);
		}
		return;
	}
	fputs("usage: certwiz [global options] VERB [ARGS]\n\n"
	      "Certificates for servers whose private keys live in a "
	      "PKCS#11 token.\n\nverbs:\n",
	      f);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fputs("\nglobal options (also accepted after the verb):\n", f);
	print_opts(f, global_opts);
	fprintf(f, "\n%s\n\n%s\n\n%s\n\nexit codes:\n", service_text,
		pin_text, perm_text);
	print_opts(f, exit_codes);
	fputs("\n'certwiz help VERB' or 'certwiz VERB --help' for a verb.\n", f);
}

int
front_usage(const char *name)
{
	const struct verb_doc *v = find(name);

	fprintf(stderr, "usage: certwiz [global options] %s\n",
		v ? v->synopsis : "VERB [ARGS]");
	fprintf(stderr, "see 'certwiz %s%s--help'\n", v ? v->name : "",
		v ? " " : "");
	return 2;
}

/* roff: escape backslashes and minus signs, and a leading dot. */
static void
roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '-')
			fputs("\\-", f);
		else if (*s == '\\')
			fputs("\\e", f);
		else
			fputc(*s, f);
	}
}

static void
man_opts(FILE *f, const struct opt_doc *o)
{
	for (; o->flag; o++) {
		fputs(".TP\n.B ", f);
		roff(f, o->flag);
		fputc('\n', f);
		roff(f, o->text);
		fputc('\n', f);
	}
}

void
front_man(FILE *f)
{
	fputs(".TH CERTWIZ 1 \"\" \"certwiz " CERTWIZ_VERSION "\" \"User "
	      "Commands\"\n.SH NAME\ncertwiz \\- certificates for keys that "
	      "live in a PKCS#11 token\n.SH SYNOPSIS\n.B certwiz\n[global "
	      "options]\n.I VERB\n[ARGS]\n.SH DESCRIPTION\n",
	      f);
	roff(f, "certwiz manages the TLS certificates of servers whose "
		"private keys live in an HSM or a smart card: per usage (role) "
		"of a host it requests certificates (key generated inside the "
		"token, CSR signed by the token) and imports the CA's answer "
		"onto the token and into its store. The names each "
		"certificate carries come from a topology document. It "
		"assigns certificates to usages (now or at a later time), "
		"shows, exports and removes them, and reconciles its store "
		"with the tokens.");
	fputs("\n.SH GLOBAL OPTIONS\n", f);
	man_opts(f, global_opts);
	fputs(".SH COMMANDS\n", f);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const struct verb_doc *v = &verbs[i];

		fputs(".SS ", f);
		roff(f, v->synopsis);
		fputc('\n', f);
		roff(f, v->summary);
		fputs(".\n", f);
		if (v->details) {
			fputs(".PP\n", f);
			roff(f, v->details);
			fputc('\n', f);
		}
		man_opts(f, v->opts);
	}
	fputs(".SH SERVICE\n", f);
	roff(f, service_text);
	fputs("\n.SH PIN\n", f);
	roff(f, pin_text);
	fputs("\n.SH PERMISSIONS\n", f);
	roff(f, perm_text);
	fputs("\n.SH EXIT STATUS\n", f);
	man_opts(f, exit_codes);
	fputs(".SH FILES\n.TP\n.B /etc/certwiz/certwiz.conf\n", f);
	roff(f, "configuration (INI), read by certwizd (the client reads "
		"only [service] socket); it and its folder must belong to root "
		"and not be writable by group or others, as must the modules and "
		"hooks it names: [store] path, [token] uri, module and pin_file, "
		"[topology] file and host (this machine's name in the "
		"topology, default its FQDN), [trust] anchors, [policy] "
		"admin_group and allow_key_import, [audit] token, pin_file and "
		"public_key, [service] socket, user (default certwiz), "
		"max_clients_per_user (default 8) and max_pending_per_user "
		"(default 20); relative paths are relative to the file's "
		"folder. A section or key given twice, or an indented line, is "
		"an error. "
		"Each [ca \"NAME\"] section is an online CA. protocol acme: "
		"directory (https URL), trust (PEM bundle for the CA's TLS "
		"certificate; default: the system's), roots (what its issued "
		"chains must verify to, default [trust] anchors; every "
		"profile's roots are also trust anchors for import and assign), "
		"contact "
		"(mailto: URL), eab_kid and eab_hmac_file (external account "
		"binding), challenge (http-01 or dns-01), http01_listen "
		"(ADDRESS:PORT of the built-in responder, default :80), "
		"http01_webroot (write the responses under this document "
		"root instead), dns01_hook (run as HOOK add|del NAME VALUE), "
		"timeout (seconds per HTTP exchange, default 30), account_key "
		"(ec:P-256, the default, or ec:P-384: the ACME account key "
		"made on the token). protocol cmp: server (http or https URL "
		"of the CMP endpoint), reference and secret_file (the "
		"password-based MAC's reference and shared secret, the file "
		"the service user's, mode 0600), recipient (the CA's name, "
		"/CN=...), trust (the https server's TLS roots, and what "
		"signature-protected answers verify to), roots, template (the "
		"certProfile), timeout. protocol helper: command (a certmonger "
		"CA helper: absolute path and arguments, no shell, run as the "
		"service user with a clean environment and CERTMONGER_* "
		"variables, at most timeout seconds, default 60), template "
		"(CERTMONGER_CA_PROFILE), roots, secret_file (optional, given "
		"to the helper on descriptor 3, CERTWIZ_CA_SECRET_FD). "
		"Each [deploy \"USAGE\"] section keeps a server of this machine "
		"up to date with the usage's certificate: server (nginx, apache, "
		"or files: the chain and the key's URI only), out (the folder, "
		"root's, not writable by others), check and command (each an "
		"absolute path and arguments separated by spaces, run without a "
		"shell, as root when certwizd was started as root, with a clean "
		"environment and the server's U.env, for at most timeout "
		"seconds, default 60: e.g. check = /usr/sbin/nginx -t and "
		"command = /usr/sbin/nginx -s reload), server_user (the "
		"workers' user, default www-data), pin_source (default [token] "
		"pin_file), retry (seconds before a failed deployment is tried "
		"again, doubling up to an hour; default 60). certwizd reads "
		"these when it starts: restart it after a change. "
		"[renew]: days (default 30), spread (seconds, default 43200), "
		"retry (seconds, default 3600), wait (seconds certwizd waits "
		"for the CA, default 60), auto (default yes: certwizd renews "
		"by itself; without the section it does not), overlap (seconds "
		"between issuance and takeover, default 0), notify (a command, "
		"no shell, run with EVENT USAGE SHA256 DAYS_LEFT and CERTWIZ_* "
		"variables for each renewal event: renewed, pending, failed "
		"with severity warning, or critical when the certificate has "
		"fewer than critical_days left, default 7; stopped after "
		"notify_timeout seconds, default 30), prune "
		"(default yes), retain_expired and retain_superseded (days, "
		"default 30 and 90), outbox (the folder, the service user's, "
		"where renewals for offline CAs put their CSR).");
	fputs("\n.SH SEE ALSO\n.BR certwizd (8),\n.BR pkcs11-tool (1),\n"
	      ".BR p11tool (1),\n.BR openssl-req (1)\n",
	      f);
}
