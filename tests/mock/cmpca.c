/*
 * A CMP test CA on libcrypto's server API (OSSL_CMP_SRV_*), for the
 * tests and the benchmark: it answers p10cr requests protected by a
 * password-based MAC, signs what it receives (subject and extensions of
 * the CSR, 30 days) with the CA key it is given, and either issues at once
 * or, with --hold, answers "waiting" until the test decides: the file
 * DIR/decision holding "approve", or "reject TEXT". Every certificate it
 * issues is logged to DIR/issued.log (transactionID, serial). It serves
 * HTTP/1.0 on 127.0.0.1 only (HTTPS with --tls-cert and --tls-key), one
 * connection at a time, one request per connection. With --sign-cert and
 * --sign-key its answers are signed with that key (its certificate in
 * extraCerts) instead of the MAC, as CAs with a protection certificate do;
 * requests are still checked with the MAC.
 *
 * cmpca --port N --ref REF --secret-file F --cert CA.pem --key CA.key
 *       --dir DIR [--hold] [--check-after SEC] [--tls-cert F --tls-key F]
 *       [--sign-cert F --sign-key F]
 */
#define _GNU_SOURCE
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY (256 * 1024)

struct ca {
	X509 *cert;
	EVP_PKEY *key;
	const char *dir;
	int hold;
	int deciding; /* the held request comes back with the decision */
	int check_after;
	OSSL_CMP_MSG *held;   /* the request waiting for a decision */
	OSSL_CMP_CTX *signer; /* --sign-cert: protects the answers */
};

static void
die(const char *what)
{
	fprintf(stderr, "cmpca: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static char *
txid_hex(const OSSL_CMP_MSG *m)
{
	ASN1_OCTET_STRING *t =
	    OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(m));

	return t ? OPENSSL_buf2hexstr(t->data, t->length) : NULL;
}

static X509 *
sign(struct ca *ca, const X509_REQ *req, const OSSL_CMP_MSG *m)
{
	X509 *x = X509_new();
	EVP_PKEY *pub = X509_REQ_get0_pubkey((X509_REQ *)req);
	STACK_OF(X509_EXTENSION) *exts =
	    X509_REQ_get_extensions((X509_REQ *)req);
	X509V3_CTX v3;
	X509_EXTENSION *bc;
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	unsigned char rnd[16];
	BIGNUM *bn;
	char *tx, *hex;
	FILE *log;
	char *path;

	RAND_bytes(rnd, sizeof(rnd));
	rnd[0] &= 0x7f;
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	BN_to_ASN1_INTEGER(bn, serial);
	if (!x || !pub || !X509_set_version(x, 2) ||
	    !X509_set_serialNumber(x, serial) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    !X509_set_subject_name(x, X509_REQ_get_subject_name(req)) ||
	    !X509_set_pubkey(x, pub) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400))
		die("cannot make the certificate");
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1);
	X509V3_set_ctx(&v3, ca->cert, x, NULL, NULL, 0);
	bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	                         "critical,CA:FALSE");
	X509_add_ext(x, bc, -1);
	X509_EXTENSION_free(bc);
	if (!X509_sign(x, ca->key, EVP_sha256()))
		die("cannot sign");
	tx = txid_hex(m);
	hex = BN_bn2hex(bn);
	if (asprintf(&path, "%s/issued.log", ca->dir) > 0 &&
	    (log = fopen(path, "a")) != NULL) {
		fprintf(log, "%s %s\n", tx ? tx : "-", hex ? hex : "-");
		fclose(log);
	}
	free(path);
	OPENSSL_free(tx);
	OPENSSL_free(hex);
	BN_free(bn);
	ASN1_INTEGER_free(serial);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return x;
}

/* The test's decision for the held request: 0 none, 1 approve, -1
 * reject (text in why). */
static int
decision(struct ca *ca, char *why, size_t n)
{
	char *path, line[512] = "";
	FILE *f;
	int d = 0;

	if (asprintf(&path, "%s/decision", ca->dir) < 0)
		return 0;
	f = fopen(path, "r");
	if (f != NULL) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "approve", 7) == 0)
			d = 1;
		else if (strncmp(line, "reject", 6) == 0) {
			d = -1;
			snprintf(why, n, "%s", line[6] ? line + 7 : "rejected");
		}
		unlink(path);
	}
	free(path);
	return d;
}

static OSSL_CMP_PKISI *
cert_request(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int id,
             const OSSL_CRMF_MSG *crm, const X509_REQ *p10cr, X509 **out,
             STACK_OF(X509) * *chain, STACK_OF(X509) * *capubs)
{
	struct ca *ca = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
	char why[512];

	(void)id;
	(void)crm;
	(void)capubs;
	if (p10cr == NULL)
		return OSSL_CMP_STATUSINFO_new(
		    OSSL_CMP_PKISTATUS_rejection,
		    1 << OSSL_CMP_PKIFAILUREINFO_badRequest,
		    "only p10cr is served");
	if (ca->deciding) {
		ca->deciding = 0;
		if (decision(ca, why, sizeof(why)) < 0)
			return OSSL_CMP_STATUSINFO_new(
			    OSSL_CMP_PKISTATUS_rejection,
			    1 << OSSL_CMP_PKIFAILUREINFO_badCertTemplate, why);
	} else if (ca->hold) {
		OSSL_CMP_MSG_free(ca->held);
		ca->held = OSSL_CMP_MSG_dup(req);
		return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_waiting, 0,
		                               NULL);
	}
	*out = sign(ca, p10cr, req);
	*chain = sk_X509_new_null();
	sk_X509_push(*chain, X509_dup(ca->cert));
	return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
}

static int
poll_req(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int id,
         OSSL_CMP_MSG **cert_req, int64_t *check_after)
{
	struct ca *ca = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
	char path[4096];

	(void)req;
	(void)id;
	*cert_req = NULL;
	*check_after = ca->check_after;
	if (ca->held == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/decision", ca->dir);
	if (access(path, F_OK) == 0) {
		/* answered by cert_request, which reads the decision */
		*cert_req = ca->held;
		ca->held = NULL;
		ca->deciding = 1;
	}
	return 1;
}

static int
cert_conf(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int id,
          const ASN1_OCTET_STRING *hash, const OSSL_CMP_PKISI *si)
{
	struct ca *ca = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
	char *path;
	FILE *f;

	(void)req;
	(void)id;
	(void)hash;
	if (asprintf(&path, "%s/confirmed.log", ca->dir) > 0 &&
	    (f = fopen(path, "a")) != NULL) {
		char buf[256] = "";

		if (si != NULL)
			OSSL_CMP_snprint_PKIStatusInfo(si, buf, sizeof(buf));
		fprintf(f, "%s\n",
		        si == NULL || strstr(buf, "PKIStatus: accepted")
		            ? "accepted"
		            : "refused");
		fclose(f);
	}
	free(path);
	return 1;
}

static void
error_cb(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req,
         const OSSL_CMP_PKISI *si, const ASN1_INTEGER *code,
         const OSSL_CMP_PKIFREETEXT *details)
{
	struct ca *ca = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);

	(void)req;
	(void)si;
	(void)code;
	(void)details;
	/* the client withdrew the held request */
	OSSL_CMP_MSG_free(ca->held);
	ca->held = NULL;
	fprintf(stderr, "cmpca: error message received: request withdrawn\n");
}

static SSL *tls; /* the connection's TLS, when served over HTTPS */
static const char *log_dir;

/* The certProfile (RFC 9480) a request's header carries, logged to
 * DIR/profiles.log: the OID 1.3.6.1.5.5.7.4.21 followed by SEQUENCE {
 * UTF8String }, found in the DER. */
static void
log_profile(const unsigned char *p, size_t n)
{
	static const unsigned char oid[] = {0x06, 0x08, 0x2b, 0x06, 0x01,
	                                    0x05, 0x05, 0x07, 0x04, 0x15};
	char *path;
	FILE *f;

	for (size_t i = 0; i + sizeof(oid) + 4 < n; i++) {
		const unsigned char *v = p + i + sizeof(oid);

		if (memcmp(p + i, oid, sizeof(oid)) != 0 || v[0] != 0x30 ||
		    v[2] != 0x0c || v[3] > n - (size_t)(v - p) - 4)
			continue;
		if (asprintf(&path, "%s/profiles.log", log_dir) > 0 &&
		    (f = fopen(path, "a")) != NULL) {
			fprintf(f, "%.*s\n", v[3], (const char *)v + 4);
			fclose(f);
		}
		free(path);
		return;
	}
}

static ssize_t
io_read(int fd, void *p, size_t n)
{
	return tls ? SSL_read(tls, p, (int)n) : read(fd, p, n);
}

static ssize_t
io_write(int fd, const void *p, size_t n)
{
	return tls ? SSL_write(tls, p, (int)n) : write(fd, p, n);
}

/* One HTTP/1.0 exchange on fd. */
static void
serve(OSSL_CMP_SRV_CTX *srv, int fd)
{
	static unsigned char buf[MAX_BODY + 8192];
	size_t len = 0, head = 0, body = 0;
	const unsigned char *p;
	OSSL_CMP_MSG *req, *rsp;
	struct ca *ca;
	unsigned char *der = NULL;
	int n;
	char hdr[256];

	while (len < sizeof(buf)) {
		ssize_t r = io_read(fd, buf + len, sizeof(buf) - len);
		char *end, *cl;

		if (r <= 0)
			return;
		len += (size_t)r;
		buf[len < sizeof(buf) ? len : sizeof(buf) - 1] = 0;
		if (head == 0 && (end = strstr((char *)buf, "\r\n\r\n"))) {
			head = (size_t)(end - (char *)buf) + 4;
			cl = strcasestr((char *)buf, "content-length:");
			if (cl == NULL || cl > end)
				return;
			body = strtoul(cl + 15, NULL, 10);
			if (body > MAX_BODY)
				return;
		}
		if (head && len >= head + body)
			break;
	}
	p = buf + head;
	log_profile(p, body);
	req = d2i_OSSL_CMP_MSG(NULL, &p, (long)body);
	if (req == NULL)
		return;
	rsp = OSSL_CMP_SRV_process_request(srv, req);
	OSSL_CMP_MSG_free(req);
	ERR_print_errors_fp(stderr);
	if (rsp == NULL)
		return;
	/* a signing CA: the answer (made with the MAC, in the same
	 * transaction) is protected again with the signing key */
	ca = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
	if (ca->signer != NULL &&
	    (!OSSL_CMP_CTX_set1_transactionID(
	         ca->signer, OSSL_CMP_HDR_get0_transactionID(
	                         OSSL_CMP_MSG_get0_header(rsp))) ||
	     !OSSL_CMP_MSG_update_transactionID(ca->signer, rsp))) {
		ERR_print_errors_fp(stderr);
		OSSL_CMP_MSG_free(rsp);
		return;
	}
	n = i2d_OSSL_CMP_MSG(rsp, &der);
	OSSL_CMP_MSG_free(rsp);
	if (n <= 0)
		return;
	snprintf(hdr, sizeof(hdr),
	         "HTTP/1.0 200 OK\r\nContent-Type: application/pkixcmp\r\n"
	         "Content-Length: %d\r\nConnection: close\r\n\r\n",
	         n);
	if (io_write(fd, hdr, strlen(hdr)) > 0)
		(void)!io_write(fd, der, (size_t)n);
	OPENSSL_free(der);
}

int
main(int argc, char **argv)
{
	struct ca ca = {0};
	const char *ref = NULL, *secret_file = NULL, *cert = NULL, *key = NULL;
	const char *tls_cert = NULL, *tls_key = NULL;
	const char *sign_cert = NULL, *sign_key = NULL;
	SSL_CTX *sctx = NULL;
	int port = 0, s, one = 1;
	char secret[256] = "";
	struct sockaddr_in a = {0};
	OSSL_CMP_SRV_CTX *srv;
	OSSL_CMP_CTX *ctx;
	FILE *f;

	ca.check_after = 1;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--hold")) {
			ca.hold = 1;
			continue;
		}
		if (v == NULL)
			die("usage: see the source");
		if (!strcmp(argv[i], "--port"))
			port = atoi(v);
		else if (!strcmp(argv[i], "--ref"))
			ref = v;
		else if (!strcmp(argv[i], "--secret-file"))
			secret_file = v;
		else if (!strcmp(argv[i], "--cert"))
			cert = v;
		else if (!strcmp(argv[i], "--key"))
			key = v;
		else if (!strcmp(argv[i], "--dir"))
			ca.dir = v;
		else if (!strcmp(argv[i], "--tls-cert"))
			tls_cert = v;
		else if (!strcmp(argv[i], "--tls-key"))
			tls_key = v;
		else if (!strcmp(argv[i], "--sign-cert"))
			sign_cert = v;
		else if (!strcmp(argv[i], "--sign-key"))
			sign_key = v;
		else if (!strcmp(argv[i], "--check-after"))
			ca.check_after = atoi(v);
		else
			die("unknown option");
		i++;
	}
	log_dir = ca.dir;
	if (!port || !ref || !secret_file || !cert || !key || !ca.dir)
		die("--port, --ref, --secret-file, --cert, --key and --dir are "
		    "needed");
	if ((f = fopen(secret_file, "r")) == NULL ||
	    !fgets(secret, sizeof(secret), f))
		die("cannot read the secret");
	fclose(f);
	secret[strcspn(secret, "\n")] = 0;
	if ((f = fopen(cert, "r")) == NULL ||
	    !(ca.cert = PEM_read_X509(f, NULL, NULL, NULL)))
		die("cannot read the CA certificate");
	fclose(f);
	if ((f = fopen(key, "r")) == NULL ||
	    !(ca.key = PEM_read_PrivateKey(f, NULL, NULL, NULL)))
		die("cannot read the CA key");
	fclose(f);
	srv = OSSL_CMP_SRV_CTX_new(NULL, NULL);
	ctx = srv ? OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv) : NULL;
	if (ctx == NULL ||
	    !OSSL_CMP_SRV_CTX_init(srv, &ca, cert_request, NULL, NULL, error_cb,
	                           cert_conf, poll_req) ||
	    !OSSL_CMP_CTX_set1_referenceValue(ctx, (unsigned char *)ref,
	                                      (int)strlen(ref)) ||
	    !OSSL_CMP_CTX_set1_secretValue(ctx, (unsigned char *)secret,
	                                   (int)strlen(secret)) ||
	    !OSSL_CMP_SRV_CTX_set_accept_unprotected(srv, 0) ||
	    !OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(srv, 0))
		die("cannot set up the server");
	if (sign_cert != NULL) {
		X509 *sc = NULL;
		EVP_PKEY *sk = NULL;

		if ((f = fopen(sign_cert, "r")) == NULL ||
		    !(sc = PEM_read_X509(f, NULL, NULL, NULL)))
			die("cannot read the signing certificate");
		fclose(f);
		if (sign_key == NULL || (f = fopen(sign_key, "r")) == NULL ||
		    !(sk = PEM_read_PrivateKey(f, NULL, NULL, NULL)))
			die("cannot read the signing key");
		fclose(f);
		/* the answers name the signer as their sender */
		ca.signer = OSSL_CMP_CTX_new(NULL, NULL);
		if (ca.signer == NULL || !OSSL_CMP_CTX_set1_cert(ctx, sc) ||
		    !OSSL_CMP_CTX_set1_cert(ca.signer, sc) ||
		    !OSSL_CMP_CTX_set1_pkey(ca.signer, sk))
			die("cannot set the signing key");
		X509_free(sc);
		EVP_PKEY_free(sk);
	}
	OSSL_CMP_CTX_set_log_verbosity(ctx, OSSL_CMP_LOG_WARNING);
	signal(SIGPIPE, SIG_IGN);
	if (tls_cert != NULL) {
		sctx = SSL_CTX_new(TLS_server_method());
		if (!sctx ||
		    SSL_CTX_use_certificate_chain_file(sctx, tls_cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(sctx, tls_key,
		                                SSL_FILETYPE_PEM) != 1)
			die("cannot set up TLS");
	}
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 16))
		die("cannot listen");
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0)
			continue;
		if (sctx != NULL) {
			tls = SSL_new(sctx);
			SSL_set_fd(tls, c);
			if (SSL_accept(tls) == 1)
				serve(srv, c);
			else
				ERR_print_errors_fp(stderr);
			SSL_shutdown(tls);
			SSL_free(tls);
			tls = NULL;
		} else {
			serve(srv, c);
		}
		close(c);
	}
}
