/*
 * CMP (RFC 4210, RFC 9480) through libcrypto's client: a p10cr carrying
 * the token-signed CSR, protected by a password-based MAC.
 *
 * A CA that approves by hand answers "waiting", and the transaction can go
 * on for days, across many runs. libcrypto keeps a transaction in memory
 * only, so each run rebuilds it: the same transactionID, and the CA's
 * answers saved so far played back through the transfer callback (the
 * "waiting" answer to the p10cr the client generates again, the latest
 * pollRep to its first pollReq), each with the nonce the client expects;
 * the next pollReq then goes to the CA and carries the nonce the CA
 * expects. What was received is saved the moment it verifies, since a
 * pollRep that is lost breaks the CA's nonce chain. A p10cr is sent again
 * only with the saved transactionID, never as a new transaction.
 */
#define _DEFAULT_SOURCE
#include "ca_int.h"

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/x509.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATE_MAGIC "CWCMP1"
#define TXID_LEN    16
/* Calls to the client in one run, whatever the CA's checkAfter says. */
#define MAX_ROUNDS 1000
/* id-it-certProfile (RFC 9480 section 2.22). */
#define OID_CERT_PROFILE "1.3.6.1.5.5.7.4.21"
/* PKIBody choices (RFC 4210 section 5.1.2); OpenSSL 3.0 names only
 * p10cr publicly. */
#define BODY_P10CR   OSSL_CMP_P10CR
#define BODY_CP      3
#define BODY_POLLREQ 25
#define BODY_POLLREP 26

/* What a later run resumes from. */
struct saved {
	struct cw_buf txid;
	struct cw_buf waiting; /* the CA's answer to the p10cr */
	struct cw_buf pollrep; /* its latest pollRep */
	struct cw_buf issued;  /* accepted certificates, concatenated DER */
};

struct cmp {
	struct ca_client base;
	char *url, *reference, *recipient, *trust, *template;
	struct ca_http *http;
	const struct cw_secret *secret;
	long timeout;
	/* one call */
	OSSL_CMP_CTX *ctx;
	struct saved st;
	bool replay_waiting, replay_poll;
	bool contacted;   /* a message went to the CA in this call */
	bool unreachable; /* an exchange got no answer */
	bool refused;     /* the certificate was refused on this side */
	bool save_failed;
	bool tls_failed; /* the server's TLS certificate did not verify */
	char *why;       /* why the certificate was refused */
	char *net_why;   /* what failed in the last exchange */
	struct ca_result *accepted;
};

static void
saved_release(struct saved *s)
{
	cw_buf_release(&s->txid);
	cw_buf_release(&s->waiting);
	cw_buf_release(&s->pollrep);
	cw_buf_release(&s->issued);
}

static enum cw_err
put(struct cw_buf *b, char tag, const struct cw_buf *v)
{
	unsigned char h[5] = {(unsigned char)tag, (unsigned char)(v->len >> 24),
	                      (unsigned char)(v->len >> 16),
	                      (unsigned char)(v->len >> 8),
	                      (unsigned char)v->len};

	if (v->len == 0)
		return CW_OK;
	if (cw_buf_append(b, h, sizeof(h)) != CW_OK ||
	    cw_buf_append(b, v->data, v->len) != CW_OK)
		return CW_ERR_NOMEM;
	return CW_OK;
}

static enum cw_err
encode(const struct saved *s, struct cw_buf *out)
{
	enum cw_err rc = cw_buf_set(out, STATE_MAGIC, strlen(STATE_MAGIC));

	if (rc == CW_OK)
		rc = put(out, 'T', &s->txid);
	if (rc == CW_OK)
		rc = put(out, 'W', &s->waiting);
	if (rc == CW_OK)
		rc = put(out, 'P', &s->pollrep);
	if (rc == CW_OK)
		rc = put(out, 'C', &s->issued);
	return rc;
}

static enum cw_err
decode(const struct cw_buf *in, struct saved *s)
{
	size_t m = strlen(STATE_MAGIC), i = m;

	memset(s, 0, sizeof(*s));
	if (in->len < m || memcmp(in->data, STATE_MAGIC, m) != 0)
		goto bad;
	while (i < in->len) {
		const unsigned char *p = in->data + i;
		size_t n;
		struct cw_buf *slot;

		if (in->len - i < 5)
			goto bad;
		n = (size_t)p[1] << 24 | (size_t)p[2] << 16 |
		    (size_t)p[3] << 8 | p[4];
		if (n > in->len - i - 5)
			goto bad;
		switch (p[0]) {
		case 'T': slot = &s->txid; break;
		case 'W': slot = &s->waiting; break;
		case 'P': slot = &s->pollrep; break;
		case 'C': slot = &s->issued; break;
		default: goto bad;
		}
		if (cw_buf_set(slot, p + 5, n) != CW_OK) {
			saved_release(s);
			return CW_ERR_NOMEM;
		}
		i += 5 + n;
	}
	if (s->txid.len == TXID_LEN)
		return CW_OK;
bad:
	saved_release(s);
	cw_error("CMP: the saved state of the request is damaged");
	return CW_ERR_PARSE;
}

static enum cw_err
save(struct cmp *c)
{
	struct cw_buf b;
	char *ref = cw_hex(c->st.txid.data, c->st.txid.len);
	enum cw_err rc = ref ? CW_OK : CW_ERR_NOMEM;

	cw_buf_init(&b);
	if (rc == CW_OK)
		rc = encode(&c->st, &b);
	if (rc == CW_OK && c->base.hooks.save)
		rc = c->base.hooks.save(c->base.hooks.user, &b, ref);
	if (rc != CW_OK)
		c->save_failed = true;
	cw_buf_release(&b);
	free(ref);
	return rc;
}

/* libcrypto's messages go to the debug log. */
static int
log_cb(const char *func, const char *file, int line, OSSL_CMP_severity level,
       const char *msg)
{
	(void)func;
	(void)file;
	(void)line;
	(void)level;
	cw_debug("CMP: %s", msg);
	return 1;
}

/* Reasons that say a signed answer did not verify to the trust. */
static bool
signature_reason(int reason)
{
	return reason == CMP_R_MISSING_TRUST_ANCHOR ||
	       reason == CMP_R_NO_SUITABLE_SENDER_CERT ||
	       reason == CMP_R_MISSING_KEY_USAGE_DIGITALSIGNATURE;
}

/* The last reason libcrypto gave, with its detail; or, when a signed
 * answer did not verify to the trust (*signature set, when asked), why.
 * The queue is cleared. */
static char *
ssl_reason(const char *fallback, bool *signature)
{
	char buf[256] = "", sig[128] = "", *out = NULL;
	unsigned long e;
	const char *data = NULL;
	int flags = 0;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *r = ERR_reason_error_string(e);
		const char *d =
		    (flags & ERR_TXT_STRING) && data && *data ? data : NULL;

		snprintf(buf, sizeof(buf), "%s%s%s", r ? r : "error",
		         d ? ": " : "", d ? d : "");
		cw_debug("CMP: libcrypto: %s", buf);
		if (signature_reason(ERR_GET_REASON(e)) && !*sig)
			snprintf(sig, sizeof(sig), "%s", r ? r : "error");
		if (ERR_GET_REASON(e) == CMP_R_ERROR_VALIDATING_PROTECTION ||
		    ERR_GET_REASON(e) == CMP_R_RECEIVED_ERROR)
			break;
	}
	ERR_clear_error();
	if (signature)
		*signature = *sig != 0;
	out = *sig ? strdup(sig) : strdup(*buf ? buf : fallback);
	return out;
}

static OSSL_CMP_MSG *
from_der(const struct cw_buf *b)
{
	const unsigned char *p = b->data;

	return d2i_OSSL_CMP_MSG(NULL, &p, (long)b->len);
}

static enum cw_err
to_der(const OSSL_CMP_MSG *m, struct cw_buf *out)
{
	unsigned char *der = NULL;
	int n = i2d_OSSL_CMP_MSG(m, &der);
	enum cw_err rc = n > 0 ? cw_buf_set(out, der, (size_t)n) : CW_ERR_NOMEM;

	OPENSSL_free(der);
	return rc;
}

/* A saved answer, played back with the nonce the client checks it by. */
static OSSL_CMP_MSG *
play_back(struct cmp *c, const struct cw_buf *b)
{
	OSSL_CMP_MSG *m = from_der(b);
	ASN1_OCTET_STRING *nonce =
	    m ? OSSL_CMP_HDR_get0_recipNonce(OSSL_CMP_MSG_get0_header(m))
	      : NULL;

	if (nonce == NULL || !OSSL_CMP_CTX_set1_senderNonce(c->ctx, nonce)) {
		OSSL_CMP_MSG_free(m);
		return NULL;
	}
	return m;
}

/* One exchange through libcurl, a connection of its own: for https, TLS
 * verified against trust (or the system's roots); no redirect, the
 * answer's size bounded. */
static OSSL_CMP_MSG *
post(struct cmp *c, const OSSL_CMP_MSG *req)
{
	struct ca_http_resp resp;
	struct ca_problem prob;
	struct cw_buf der;
	OSSL_CMP_MSG *m = NULL;
	enum cw_err rc = CW_OK;

	memset(&resp, 0, sizeof(resp));
	memset(&prob, 0, sizeof(prob));
	cw_buf_init(&der);
	if (c->http == NULL) {
		rc = ca_http_new(c->trust, c->timeout, &c->http);
		if (rc == CW_OK)
			ca_http_for_cmp(c->http);
	}
	if (rc == CW_OK)
		rc = to_der(req, &der);
	if (rc == CW_OK)
		rc = ca_http_post(c->http, c->url, "application/pkixcmp", &der,
		                  &resp, &prob);
	free(c->net_why);
	c->net_why = NULL;
	if (rc == CW_OK && resp.status != 200) {
		c->net_why = cw_printf("the CA answered HTTP %ld", resp.status);
		c->unreachable = resp.status >= 500;
	} else if (rc == CW_OK) {
		m = from_der(&resp.body);
		if (m == NULL)
			c->net_why =
			    strdup("the CA's answer is not a CMP message");
	} else {
		c->net_why =
		    strdup(prob.detail ? prob.detail : cw_last_error());
		c->unreachable = rc == CW_ERR_UNREACHABLE;
		c->tls_failed = rc == CW_ERR_CONFIG;
	}
	ca_http_resp_release(&resp);
	ca_problem_release(&prob);
	cw_buf_release(&der);
	return m;
}

static OSSL_CMP_MSG *
transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
	struct cmp *c = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
	int type = OSSL_CMP_MSG_get_bodytype(req), got;
	OSSL_CMP_MSG *rep;

	if (c->replay_waiting && type == BODY_P10CR) {
		c->replay_waiting = false;
		return play_back(c, &c->st.waiting);
	}
	if (c->replay_poll && type == BODY_POLLREQ) {
		c->replay_poll = false;
		return play_back(c, &c->st.pollrep);
	}
	c->replay_waiting = c->replay_poll = false;
	c->contacted = true;
	rep = post(c, req);
	if (rep == NULL)
		return NULL;
	got = OSSL_CMP_MSG_get_bodytype(rep);
	/* what resumes the transaction, once it verifies */
	if ((type == BODY_P10CR && got == BODY_CP) ||
	    (type == BODY_POLLREQ && got == BODY_POLLREP)) {
		if (OSSL_CMP_validate_msg(ctx, rep) == 1 &&
		    to_der(rep, type == BODY_P10CR ? &c->st.waiting
		                                   : &c->st.pollrep) == CW_OK) {
			if (type == BODY_P10CR)
				cw_buf_release(&c->st.pollrep);
			if (save(c) != CW_OK) {
				OSSL_CMP_MSG_free(rep);
				return NULL;
			}
		}
		ERR_clear_error(); /* the client validates it again */
	}
	return rep;
}

static enum cw_err
add_cert(struct ca_result *r, X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	enum cw_err rc = CW_ERR_NOMEM;

	for (size_t i = 0; n > 0 && i < r->n_certs; i++)
		if (r->certs[i].len == (size_t)n &&
		    memcmp(r->certs[i].data, der, (size_t)n) == 0) {
			OPENSSL_free(der);
			return CW_OK;
		}
	if (n > 0)
		rc = ca_result_add_cert(r, der, (size_t)n);
	OPENSSL_free(der);
	return rc;
}

static enum cw_err
add_stack(struct ca_result *r, STACK_OF(X509) * sk)
{
	enum cw_err rc = CW_OK;

	for (int i = 0; rc == CW_OK && i < sk_X509_num(sk); i++)
		rc = add_cert(r, sk_X509_value(sk, i));
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

/*
 * certConf: the certificate is checked here, before the CA hears whether
 * it is accepted. An accepted one is saved first, so that a run cut short
 * after the confirmation still has it.
 */
static int
confirm(OSSL_CMP_CTX *ctx, X509 *cert, int fail_info, const char **txt)
{
	struct cmp *c = OSSL_CMP_CTX_get_certConf_cb_arg(ctx);
	struct ca_result *r = c->accepted;
	char *why = NULL;
	enum cw_err rc;

	if (fail_info != 0) {
		c->refused = true;
		free(c->why);
		c->why = strdup(*txt ? *txt : "refused by the CMP client");
		return fail_info;
	}
	ca_result_release(r);
	rc = add_cert(r, cert);
	if (rc == CW_OK)
		rc = add_stack(r, OSSL_CMP_CTX_get1_extraCertsIn(ctx));
	if (rc == CW_OK)
		rc = add_stack(r, OSSL_CMP_CTX_get1_caPubs(ctx));
	if (rc == CW_OK && c->base.hooks.check)
		rc = c->base.hooks.check(c->base.hooks.user, r->certs,
		                         r->n_certs, &why);
	if (rc == CW_OK) {
		cw_buf_release(&c->st.issued);
		for (size_t i = 0; rc == CW_OK && i < r->n_certs; i++)
			rc = cw_buf_append(&c->st.issued, r->certs[i].data,
			                   r->certs[i].len);
		if (rc == CW_OK)
			rc = save(c);
	}
	if (rc == CW_OK)
		return 0;
	c->refused = true;
	free(c->why);
	c->why = why ? why : strdup("the certificate could not be checked");
	*txt = c->why;
	return 1 << OSSL_CMP_PKIFAILUREINFO_incorrectData;
}

static X509_NAME *
parse_name(const char *s)
{
	X509_NAME *n = X509_NAME_new();
	char *copy = strdup(s), *save_ptr = NULL;

	if (n == NULL || copy == NULL || copy[0] != '/')
		goto bad;
	for (char *part = strtok_r(copy + 1, "/", &save_ptr); part;
	     part = strtok_r(NULL, "/", &save_ptr)) {
		char *eq = strchr(part, '=');

		if (eq == NULL)
			goto bad;
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(n, part, MBSTRING_UTF8,
		                                (unsigned char *)eq + 1, -1, -1,
		                                0))
			goto bad;
	}
	free(copy);
	return n;
bad:
	free(copy);
	X509_NAME_free(n);
	return NULL;
}

/* certProfile in the header's generalInfo: SEQUENCE OF UTF8String. */
static int
push_profile(OSSL_CMP_CTX *ctx, const char *name)
{
	size_t n = strlen(name);
	unsigned char der[300];
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_CERT_PROFILE, 1);
	ASN1_STRING *seq = ASN1_STRING_new();
	ASN1_TYPE *v = ASN1_TYPE_new();
	OSSL_CMP_ITAV *itav = NULL;

	if (n < 1 || n > 120 || !oid || !seq || !v)
		goto bad;
	der[0] = 0x30;
	der[1] = (unsigned char)(n + 2);
	der[2] = 0x0c;
	der[3] = (unsigned char)n;
	memcpy(der + 4, name, n);
	if (!ASN1_STRING_set(seq, der, (int)n + 4))
		goto bad;
	ASN1_TYPE_set(v, V_ASN1_SEQUENCE, seq);
	seq = NULL;
	itav = OSSL_CMP_ITAV_create(oid, v);
	if (itav == NULL)
		goto bad;
	if (!OSSL_CMP_CTX_push0_geninfo_ITAV(ctx, itav)) {
		OSSL_CMP_ITAV_free(itav);
		return 0;
	}
	return 1;
bad:
	ASN1_OBJECT_free(oid);
	ASN1_STRING_free(seq);
	ASN1_TYPE_free(v);
	return 0;
}

/* A client context for one call, with the CSR and the saved state. */
static enum cw_err
begin(struct cmp *c, const struct cw_buf *csr)
{
	const unsigned char *p = csr->data;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)csr->len);
	ASN1_OCTET_STRING *txid = ASN1_OCTET_STRING_new();
	X509_NAME *rcpt = c->recipient ? parse_name(c->recipient) : NULL;
	X509_STORE *store = NULL;
	OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
	bool ok = req && txid && ctx && (!c->recipient || rcpt);

	if (c->trust) {
		store = X509_STORE_new();
		ok = ok && store && X509_STORE_load_file(store, c->trust);
	}
	ok =
	    ok && OSSL_CMP_CTX_set_log_cb(ctx, log_cb) &&
	    OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_TOTAL_TIMEOUT, 0) &&
	    OSSL_CMP_CTX_set1_referenceValue(
	        ctx, (const unsigned char *)c->reference,
	        (int)strlen(c->reference)) &&
	    OSSL_CMP_CTX_set1_secretValue(ctx, cw_secret_data(c->secret),
	                                  (int)cw_secret_len(c->secret)) &&
	    OSSL_CMP_CTX_set1_p10CSR(ctx, req) &&
	    OSSL_CMP_CTX_set_transfer_cb(ctx, transfer) &&
	    OSSL_CMP_CTX_set_transfer_cb_arg(ctx, c) &&
	    OSSL_CMP_CTX_set_certConf_cb(ctx, confirm) &&
	    OSSL_CMP_CTX_set_certConf_cb_arg(ctx, c) &&
	    ASN1_OCTET_STRING_set(txid, c->st.txid.data, (int)c->st.txid.len) &&
	    OSSL_CMP_CTX_set1_transactionID(ctx, txid) &&
	    (!rcpt || OSSL_CMP_CTX_set1_recipient(ctx, rcpt)) &&
	    (!c->template || push_profile(ctx, c->template));
	if (ok && store != NULL) {
		ok = OSSL_CMP_CTX_set0_trustedStore(ctx, store);
		if (ok)
			store = NULL;
	}
	X509_REQ_free(req);
	ASN1_OCTET_STRING_free(txid);
	X509_NAME_free(rcpt);
	X509_STORE_free(store);
	if (!ok) {
		char *why = ssl_reason("cannot set up the CMP client", NULL);

		cw_error("CMP: %s", why ? why : "");
		free(why);
		OSSL_CMP_CTX_free(ctx);
		return CW_ERR_CONFIG;
	}
	c->ctx = ctx;
	c->contacted = c->unreachable = c->refused = c->save_failed = false;
	c->tls_failed = false;
	free(c->why);
	c->why = NULL;
	free(c->net_why);
	c->net_why = NULL;
	return CW_OK;
}

static void
end(struct cmp *c)
{
	OSSL_CMP_CTX_free(c->ctx);
	c->ctx = NULL;
	saved_release(&c->st);
	ERR_clear_error();
}

/* The issued certificates saved by an earlier run. */
static enum cw_err
from_issued(const struct cw_buf *issued, struct ca_result *out)
{
	const unsigned char *p = issued->data, *end = p + issued->len;
	enum cw_err rc = CW_OK;

	while (rc == CW_OK && p < end) {
		const unsigned char *start = p;
		X509 *x = d2i_X509(NULL, &p, (long)(end - p));

		if (x == NULL)
			rc = CW_ERR_PARSE;
		else
			rc =
			    ca_result_add_cert(out, start, (size_t)(p - start));
		X509_free(x);
	}
	return rc == CW_OK ? ca_result_set(out, CA_ISSUED, NULL) : rc;
}

/* Why a call of the client failed, as an answer or an error. */
static enum cw_err
failed(struct cmp *c, struct ca_result *out)
{
	bool signature;
	char *why = ssl_reason("the CMP exchange failed", &signature);
	char status[512];
	enum cw_err rc;

	if (c->save_failed) {
		cw_error("CMP: the CA's answer could not be saved; request "
		         "stays as it was");
		rc = CW_ERR_STORE;
	} else if (c->refused) {
		cw_error("the CA's certificate is refused: %s", c->why);
		rc = CW_ERR_CRYPTO;
	} else if (c->tls_failed) {
		cw_error("CMP: %s", c->net_why ? c->net_why : "TLS failed");
		rc = CW_ERR_CONFIG;
	} else if (c->unreachable) {
		rc = ca_result_set(out, CA_UNREACHABLE,
		                   c->net_why ? c->net_why : why);
	} else if (c->net_why) {
		cw_error("CMP: %s", c->net_why);
		rc = CW_ERR_PARSE;
	} else if (OSSL_CMP_CTX_get_status(c->ctx) ==
	               OSSL_CMP_PKISTATUS_rejection &&
	           OSSL_CMP_CTX_snprint_PKIStatus(c->ctx, status,
	                                          sizeof(status))) {
		rc = ca_result_set(out, CA_REJECTED, status);
	} else if (signature) {
		const char *r = why ? why : "";

		if (c->trust)
			cw_error(
			    "CMP: the CA's answer is signed, and its "
			    "signature does not verify to trust '%s' (%s): "
			    "set trust to the root of the CA's protection "
			    "certificate",
			    c->trust, r);
		else
			cw_error(
			    "CMP: the CA's answer is signed, and the profile "
			    "has no trust to verify it with (%s): set trust "
			    "to the root of the CA's protection certificate",
			    r);
		rc = CW_ERR_CONFIG;
	} else if (why && (strstr(why, "validating protection") ||
	                   strstr(why, "missing protection"))) {
		cw_error("CMP: the CA's answer does not verify with the secret "
		         "of reference '%s' (%s): check the reference and the "
		         "secret",
		         c->reference, why);
		rc = CW_ERR_CONFIG;
	} else {
		cw_error("CMP: %s", why ? why : "the exchange failed");
		rc = CW_ERR_PARSE;
	}
	free(why);
	return rc;
}

/*
 * Drives the transaction until it is decided or wait runs out; at least
 * one message reaches the CA in each call.
 */
static enum cw_err
drive(struct cmp *c, int wait, struct ca_result *out)
{
	time_t end_at = time(NULL) + (wait > 0 ? wait : 0);
	struct ca_result accepted;
	enum cw_err rc = CW_OK;

	memset(&accepted, 0, sizeof(accepted));
	c->accepted = &accepted;
	for (int round = 0; round < MAX_ROUNDS; round++) {
		int after = 0, r;

		ERR_clear_error();
		r = OSSL_CMP_try_certreq(c->ctx, BODY_P10CR, NULL, &after);
		if (r == 1) {
			*out = accepted;
			memset(&accepted, 0, sizeof(accepted));
			rc = out->n_certs ? ca_result_set(out, CA_ISSUED, NULL)
			                  : CW_ERR_PARSE;
			break;
		}
		if (r != -1) {
			rc = failed(c, out);
			break;
		}
		if (after < 1)
			after = 1;
		if (!c->contacted)
			continue; /* only played back: ask the CA now */
		if (time(NULL) + after > end_at) {
			char *ref = cw_hex(c->st.txid.data, c->st.txid.len);

			rc = ca_result_set(out, CA_PENDING, NULL);
			out->reference = ref;
			out->next_attempt = time(NULL) + after;
			if (rc == CW_OK && ref == NULL)
				rc = CW_ERR_NOMEM;
			break;
		}
		sleep((unsigned)after);
	}
	ca_result_release(&accepted);
	c->accepted = NULL;
	return rc;
}

static enum cw_err
cmp_submit(struct ca_client *cl, const struct cw_buf *csr, int wait,
           struct ca_result *out)
{
	struct cmp *c = (struct cmp *)cl;
	unsigned char txid[TXID_LEN];
	enum cw_err rc = cw_random(txid, sizeof(txid));

	memset(&c->st, 0, sizeof(c->st));
	if (rc == CW_OK)
		rc = cw_buf_set(&c->st.txid, txid, sizeof(txid));
	/* the transaction is known before anything is sent */
	if (rc == CW_OK)
		rc = save(c);
	if (rc == CW_OK)
		rc = begin(c, csr);
	if (rc == CW_OK)
		rc = drive(c, wait, out);
	end(c);
	return rc;
}

static enum cw_err
cmp_poll(struct ca_client *cl, const struct cw_buf *csr,
         const struct cw_buf *state, int wait, struct ca_result *out)
{
	struct cmp *c = (struct cmp *)cl;
	enum cw_err rc = decode(state, &c->st);

	if (rc == CW_OK && c->st.issued.len > 0) {
		rc = from_issued(&c->st.issued, out);
		saved_release(&c->st);
		return rc;
	}
	if (rc == CW_OK)
		rc = begin(c, csr);
	if (rc == CW_OK) {
		/* no answer saved: the p10cr goes again in the same
		 * transaction */
		c->replay_waiting = c->st.waiting.len > 0;
		c->replay_poll = c->replay_waiting && c->st.pollrep.len > 0;
		rc = drive(c, wait, out);
	}
	end(c);
	return rc;
}

/* A waiting transaction is ended with an error message ("polling
 * aborted"), which a CA takes as the request withdrawn. */
static enum cw_err
cmp_cancel(struct ca_client *cl, const struct cw_buf *csr,
           const struct cw_buf *state)
{
	struct cmp *c = (struct cmp *)cl;
	enum cw_err rc = decode(state, &c->st);
	int after = 0, r = 0;

	if (rc == CW_OK && (c->st.issued.len > 0 || c->st.waiting.len == 0)) {
		saved_release(&c->st);
		return CW_ERR_UNAVAILABLE; /* decided, or never answered */
	}
	if (rc == CW_OK)
		rc = begin(c, csr);
	if (rc == CW_OK) {
		c->replay_waiting = true;
		c->replay_poll = c->st.pollrep.len > 0;
		r = OSSL_CMP_try_certreq(c->ctx, BODY_P10CR, NULL, &after);
		/* a played-back pollRep leaves the client waiting; without
		 * one, the first pollReq went to the CA */
		if (r == -1)
			r = OSSL_CMP_try_certreq(c->ctx, -1, NULL, &after);
		if (r != 0 || !c->contacted || c->unreachable) {
			char *why = ssl_reason("no answer", NULL);

			cw_warn(
			    "CMP: the CA could not be told that the request "
			    "is withdrawn (%s)",
			    why ? why : "");
			free(why);
			rc = CW_ERR_UNREACHABLE;
		}
	}
	end(c);
	return rc;
}

static void
cmp_free(struct ca_client *cl)
{
	struct cmp *c = (struct cmp *)cl;

	ca_http_free(c->http);
	free(c->net_why);
	free(c->url);
	free(c->reference);
	free(c->recipient);
	free(c->trust);
	free(c->template);
	free(c->why);
	free(c);
}

static const struct ca_client_ops cmp_ops = {cmp_submit, cmp_poll, cmp_cancel,
                                             cmp_free};

enum cw_err
ca_cmp_new(const struct ca_cmp_opts *o, const struct ca_hooks *h,
           struct ca_client **out)
{
	struct cmp *c;
	char *host = NULL;

	if (o->server == NULL || o->reference == NULL || o->secret == NULL) {
		cw_error("CMP needs server, reference and a secret");
		return CW_ERR_CONFIG;
	}
	if (!OSSL_HTTP_parse_url(o->server, NULL, NULL, &host, NULL, NULL, NULL,
	                         NULL, NULL)) {
		ERR_clear_error();
		cw_error("CMP: server '%s' is not a URL", o->server);
		return CW_ERR_CONFIG;
	}
	OPENSSL_free(host);
	c = calloc(1, sizeof(*c));
	if (c != NULL) {
		c->base.ops = &cmp_ops;
		c->base.hooks = *h;
		c->url = strdup(o->server);
		c->reference = strdup(o->reference);
		c->recipient = o->recipient ? strdup(o->recipient) : NULL;
		c->trust = o->trust ? strdup(o->trust) : NULL;
		c->template = o->template ? strdup(o->template) : NULL;
		c->secret = o->secret;
		c->timeout = o->timeout > 0 ? o->timeout : 30;
	}
	if (c == NULL || !c->url || !c->reference ||
	    (o->recipient && !c->recipient) || (o->trust && !c->trust) ||
	    (o->template && !c->template)) {
		if (c)
			cmp_free(&c->base);
		return CW_ERR_NOMEM;
	}
	if (o->recipient) {
		X509_NAME *n = parse_name(o->recipient);

		if (n == NULL) {
			ERR_clear_error();
			cw_error("CMP: recipient '%s' is not a name like "
			         "/CN=CA/O=Example",
			         o->recipient);
			cmp_free(&c->base);
			return CW_ERR_CONFIG;
		}
		X509_NAME_free(n);
	}
	if (o->template && (strlen(o->template) > 120 || !*o->template)) {
		cw_error("CMP: template '%s' is empty or longer than 120 "
		         "characters",
		         o->template);
		cmp_free(&c->base);
		return CW_ERR_CONFIG;
	}
	*out = &c->base;
	return CW_OK;
}
