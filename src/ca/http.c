/* HTTPS exchanges with a CA, through libcurl, locked down: https only, no
 * redirects, TLS verification on, bounded time and size. */
#define _DEFAULT_SOURCE
#include "ca_int.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* libcurl is opened when a CA is first talked to, not linked: loading it
 * and the libraries it pulls in (GnuTLS, LDAP, Kerberos, SSH...) costs
 * every process about 3 ms, and most verbs never go online. */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	char *(*version)(void);
	time_t (*getdate)(const char *, const time_t *);
} lc;

#define CURL_SONAME "libcurl.so.4"

/* Opens libcurl once and resolves what certwiz calls (POSIX's idiom for
 * a function pointer out of dlsym). */
static enum cw_err
curl_load(void)
{
	static int state; /* 0 not tried, 1 ready, -1 failed */
	void *lib;

	if (state != 0)
		return state > 0 ? CW_OK : CW_ERR_CONFIG;
	state = -1;
	lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		cw_error("cannot load %s, which talking to a CA needs: %s",
		         CURL_SONAME, dlerror());
		return CW_ERR_CONFIG;
	}
#define SYM(field, name)                                                       \
	do {                                                                   \
		*(void **)(&lc.field) = dlsym(lib, name);                      \
		if (lc.field == NULL) {                                        \
			cw_error("%s lacks %s", CURL_SONAME, name);            \
			return CW_ERR_CONFIG;                                  \
		}                                                              \
	} while (0)
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(version, "curl_version");
	SYM(getdate, "curl_getdate");
#undef SYM
	if (lc.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cw_error("curl_global_init failed");
		return CW_ERR_INTERNAL;
	}
	state = 1;
	return CW_OK;
}

struct ca_http {
	CURL *curl;
	char *trust;
	long timeout;
	bool cmp; /* http allowed, a new connection per exchange */
	char user_agent[160];
};

void
ca_http_resp_release(struct ca_http_resp *r)
{
	if (r == NULL)
		return;
	cw_buf_release(&r->body);
	free(r->content_type);
	free(r->nonce);
	free(r->location);
	cw_strlist_release(&r->links_alternate);
	memset(r, 0, sizeof(*r));
}

void
ca_problem_release(struct ca_problem *p)
{
	if (p == NULL)
		return;
	free(p->type);
	free(p->detail);
	memset(p, 0, sizeof(*p));
}

bool
ca_is_base64url(const char *s)
{
	if (s == NULL || *s == 0)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

enum cw_err
ca_retry_after_parse(const char *value, time_t now, time_t *out)
{
	const char *p = value;
	time_t t;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p >= '0' && *p <= '9') {
		unsigned long long n = 0;

		for (; *p >= '0' && *p <= '9'; p++) {
			n = n * 10 + (unsigned)(*p - '0');
			if (n > CA_RETRY_AFTER_MAX)
				n = CA_RETRY_AFTER_MAX;
		}
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != 0)
			return CW_ERR_PARSE;
		*out = now + (time_t)n;
		return CW_OK;
	}
	if (curl_load() != CW_OK)
		return CW_ERR_PARSE;
	t = lc.getdate(p, NULL);
	if (t == -1)
		return CW_ERR_PARSE;
	if (t < now)
		t = now;
	if (t > now + CA_RETRY_AFTER_MAX)
		t = now + CA_RETRY_AFTER_MAX;
	*out = t;
	return CW_OK;
}

/* Whether the parameters after a link target name rel (a quoted or bare
 * token list, "rel=alternate" or rel="up index"). */
static bool
has_rel(const char *params, size_t n, const char *rel)
{
	size_t rl = strlen(rel);

	for (size_t i = 0; i + 4 <= n; i++) {
		const char *v;
		size_t len;

		if (strncasecmp(params + i, "rel=", 4) != 0)
			continue;
		v = params + i + 4;
		len = n - i - 4;
		if (len > 0 && *v == '"') {
			const char *q = memchr(v + 1, '"', len - 1);

			len = q ? (size_t)(q - v - 1) : 0;
			v++;
		} else {
			size_t k = 0;

			while (k < len && v[k] != ';' && v[k] != ' ')
				k++;
			len = k;
		}
		for (size_t k = 0; k + rl <= len; k++) {
			if (strncasecmp(v + k, rel, rl) == 0 &&
			    (k == 0 || v[k - 1] == ' ') &&
			    (k + rl == len || v[k + rl] == ' '))
				return true;
		}
	}
	return false;
}

enum cw_err
ca_link_parse(const char *value, const char *rel, char **out)
{
	const char *p = value;

	while (p != NULL && *p) {
		const char *lt = strchr(p, '<'), *gt, *end;
		bool quoted = false;

		if (lt == NULL || (gt = strchr(lt, '>')) == NULL)
			return CW_ERR_NOT_FOUND;
		/* the parameters run to the next comma outside quotes */
		for (end = gt + 1; *end && (quoted || *end != ','); end++)
			if (*end == '"')
				quoted = !quoted;
		if (has_rel(gt + 1, (size_t)(end - gt - 1), rel)) {
			*out = strndup(lt + 1, (size_t)(gt - lt - 1));
			return *out ? CW_OK : CW_ERR_NOMEM;
		}
		p = *end ? end + 1 : NULL;
	}
	return CW_ERR_NOT_FOUND;
}

static size_t
on_body(char *p, size_t size, size_t n, void *user)
{
	struct ca_http_resp *r = user;

	n *= size;
	if (r->body.len + n > CA_MAX_BODY ||
	    cw_buf_append(&r->body, p, n) != CW_OK)
		return 0; /* refused: curl fails with CURLE_WRITE_ERROR */
	return n;
}

/* The value of a header line "Name: value\r\n" when the name is name. */
static char *
header_value(const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name);
	const char *v, *end = line + n;

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	v = line + nl + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
			   end[-1] == ' '))
		end--;
	return strndup(v, (size_t)(end - v));
}

static size_t
on_header(char *line, size_t size, size_t n, void *user)
{
	struct ca_http_resp *r = user;
	char *v;

	n *= size;
	if ((v = header_value(line, n, "Replay-Nonce")) != NULL) {
		/* an invalid nonce is ignored (RFC 8555 section 6.5.1) */
		free(r->nonce);
		r->nonce = ca_is_base64url(v) ? v : NULL;
		if (r->nonce == NULL)
			free(v);
	} else if ((v = header_value(line, n, "Location")) != NULL) {
		free(r->location);
		r->location = v;
	} else if ((v = header_value(line, n, "Content-Type")) != NULL) {
		free(r->content_type);
		r->content_type = v;
	} else if ((v = header_value(line, n, "Retry-After")) != NULL) {
		time_t t;

		if (ca_retry_after_parse(v, time(NULL), &t) == CW_OK)
			r->retry_after = t;
		free(v);
	} else if ((v = header_value(line, n, "Link")) != NULL) {
		char *url = NULL;

		if (ca_link_parse(v, "alternate", &url) == CW_OK)
			cw_strlist_add(&r->links_alternate, url);
		free(url);
		free(v);
	}
	return n;
}

enum cw_err
ca_http_new(const char *trust, long timeout, struct ca_http **out)
{
	struct ca_http *h;
	enum cw_err rc = curl_load();

	if (rc != CW_OK)
		return rc;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return CW_ERR_NOMEM;
	h->timeout = timeout > 0 ? timeout : 30;
	h->curl = lc.easy_init();
	if (h->curl == NULL || (trust && (h->trust = strdup(trust)) == NULL)) {
		ca_http_free(h);
		return CW_ERR_NOMEM;
	}
	snprintf(h->user_agent, sizeof(h->user_agent), "certwiz/%s %s",
	         CERTWIZ_VERSION, lc.version());
	*out = h;
	return CW_OK;
}

void
ca_http_free(struct ca_http *h)
{
	if (h == NULL)
		return;
	if (h->curl)
		lc.easy_cleanup(h->curl);
	free(h->trust);
	free(h);
}

/* The options every exchange has; set again each time because
 * curl_easy_reset is not used (it would drop the connection cache). */
static CURLcode
base_options(struct ca_http *h)
{
	CURL *c = h->curl;
	CURLcode e = CURLE_OK;

#define SET(opt, val)                                                          \
	do {                                                                   \
		if (e == CURLE_OK)                                             \
			e = lc.easy_setopt(c, opt, val);                       \
	} while (0)
	SET(CURLOPT_PROTOCOLS_STR, h->cmp ? "http,https" : "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FORBID_REUSE, h->cmp ? 1L : 0L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->trust)
		SET(CURLOPT_CAINFO, h->trust);
	SET(CURLOPT_CONNECTTIMEOUT, 10L);
	SET(CURLOPT_TIMEOUT, h->timeout);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, 10L);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CA_MAX_BODY);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, h->user_agent);
	SET(CURLOPT_ACCEPT_ENCODING, NULL);
#undef SET
	return e;
}

static enum cw_err
transport_error(struct ca_http *h, CURLcode e, const char *url,
		const char *errbuf, struct ca_problem *problem)
{
	enum cw_err rc = CW_ERR_UNREACHABLE;
	const char *why = errbuf[0] ? errbuf : lc.easy_strerror(e);

	free(problem->detail);
	switch (e) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		problem->detail = cw_printf(
			"cannot verify the TLS certificate of '%s' with %s: %s",
			url, h->trust ? h->trust : "the system's CA store", why);
		rc = CW_ERR_CONFIG;
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		problem->detail = cw_printf("'%s' is not an https URL", url);
		rc = CW_ERR_CONFIG;
		break;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		problem->detail = cw_printf(
			"the answer of '%s' is larger than %u bytes", url,
			CA_MAX_BODY);
		rc = CW_ERR_PARSE;
		break;
	default:
		problem->detail = cw_printf("'%s': %s", url, why);
	}
	problem->status = 0;
	return problem->detail ? rc : CW_ERR_NOMEM;
}

/* One exchange; a POST sends len bytes of body as content_type. */
static enum cw_err
exchange(struct ca_http *h, const char *method, const char *url,
         const char *content_type, const void *body, size_t len,
         struct ca_http_resp *out, struct ca_problem *problem)
{
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE];
	CURL *c = h->curl;
	CURLcode e;

	memset(out, 0, sizeof(*out));
	errbuf[0] = 0;
	if (strncasecmp(url, "https://", 8) != 0 &&
	    !(h->cmp && strncasecmp(url, "http://", 7) == 0))
		return transport_error(h, CURLE_UNSUPPORTED_PROTOCOL, url,
				       errbuf, problem);
	e = base_options(h);
	if (e == CURLE_OK)
		e = lc.easy_setopt(c, CURLOPT_URL, url);
	if (e == CURLE_OK)
		e = lc.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (e == CURLE_OK)
		e = lc.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	if (e == CURLE_OK)
		e = lc.easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (e == CURLE_OK)
		e = lc.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	if (e == CURLE_OK)
		e = lc.easy_setopt(c, CURLOPT_HEADERDATA, out);
	if (e == CURLE_OK)
		e = lc.easy_setopt(c, CURLOPT_NOBODY,
		                   strcmp(method, "HEAD") == 0 ? 1L : 0L);
	if (e == CURLE_OK && strcmp(method, "POST") == 0) {
		char ct[64];

		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		hdrs = lc.slist_append(NULL, ct);
		/* CMP: the server is told the connection ends with this
		 * exchange (a transaction outlives it) */
		if (hdrs != NULL && h->cmp &&
		    lc.slist_append(hdrs, "Connection: close") == NULL) {
			lc.slist_free_all(hdrs);
			hdrs = NULL;
		}
		e = hdrs ? lc.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs)
		         : CURLE_OUT_OF_MEMORY;
		if (e == CURLE_OK)
			e = lc.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
		if (e == CURLE_OK)
			e = lc.easy_setopt(c, CURLOPT_POSTFIELDS, body);
	} else if (e == CURLE_OK) {
		e = lc.easy_setopt(c, CURLOPT_HTTPGET, 1L);
		if (e == CURLE_OK)
			e = lc.easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	}
	if (e == CURLE_OK)
		e = lc.easy_perform(c);
	lc.easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	lc.slist_free_all(hdrs);
	if (e != CURLE_OK) {
		ca_http_resp_release(out);
		return transport_error(h, e, url, errbuf, problem);
	}
	lc.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	cw_debug("%s %s -> %ld", method, url, out->status);
	return CW_OK;
}

enum cw_err
ca_http_do(struct ca_http *h, const char *method, const char *url,
           const char *body, struct ca_http_resp *out,
           struct ca_problem *problem)
{
	return exchange(h, method, url, "application/jose+json", body,
	                body ? strlen(body) : 0, out, problem);
}

enum cw_err
ca_http_post(struct ca_http *h, const char *url, const char *content_type,
             const struct cw_buf *body, struct ca_http_resp *out,
             struct ca_problem *problem)
{
	return exchange(h, "POST", url, content_type, body->data, body->len,
	                out, problem);
}

void
ca_http_for_cmp(struct ca_http *h)
{
	h->cmp = true;
}
