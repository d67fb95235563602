/*
 * certmonger's CA-helper protocol: the helper is run with the operation
 * and the CSR in its environment, and its exit code says what happened
 * (0 issued, certificate on stdout; 1 waiting, cookie on stdout; 2
 * rejected; 3 unreachable; 4 misconfigured; 5 waiting, delay then
 * cookie; 6 not supported; 16 SCEP data wanted; 17 a new key wanted).
 *
 * It runs without a shell, with a clean environment, stdin from
 * /dev/null, no descriptor of this process but stdout (a pipe, read up to
 * HELPER_MAX_OUT) and stderr, in a process group of its own killed at the
 * time limit. posix_spawn, never fork: the caller holds PKCS#11 sessions.
 * A secret given for the request goes on descriptor 3 (a pipe), its
 * number in CERTWIZ_CA_SECRET_FD.
 */
#define _GNU_SOURCE
#include "ca_int.h"

#include "certwiz/config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELPER_MAX_OUT    (256 * 1024)
#define HELPER_MAX_COOKIE 4096

struct helper {
	struct ca_client base;
	char **argv;
	char *template, *nickname;
	const struct cw_secret *secret;
	long timeout;
};

/* The helper's stdout and exit code, or an error (reported). */
struct run {
	struct cw_buf out;
	int code;
};

/* Reads stdout until EOF, the limit or the deadline; then the exit. */
static enum cw_err
collect(struct helper *h, pid_t pid, int fd, struct run *r)
{
	int64_t end = cw_monotonic_ms() + h->timeout * 1000;
	bool too_big = false, late = false;
	int status = 0;
	unsigned char buf[4096];

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		int64_t left = end - cw_monotonic_ms();
		ssize_t n;

		if (left <= 0) {
			late = true;
			break;
		}
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) < 0 &&
		    errno != EINTR)
			break;
		if (p.revents == 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (r->out.len + (size_t)n > HELPER_MAX_OUT) {
			too_big = true;
			break;
		}
		if (cw_buf_append(&r->out, buf, (size_t)n) != CW_OK)
			break;
	}
	/* the helper and whatever it started: gone now, or within the
	 * time that is left */
	while (!late && !too_big) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			break;
		if (cw_monotonic_ms() >= end) {
			late = true;
			break;
		}
		usleep(20000);
	}
	if (late || too_big) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (late) {
			cw_warn("CA helper '%s' did not finish within %ld "
			        "seconds; stopped",
			        h->argv[0], h->timeout);
			return CW_ERR_UNREACHABLE;
		}
		cw_error("CA helper '%s' printed more than 256 KiB; stopped",
		         h->argv[0]);
		return CW_ERR_PARSE;
	}
	kill(-pid, SIGKILL); /* what it left behind */
	if (!WIFEXITED(status)) {
		cw_error("CA helper '%s' ended by signal %d", h->argv[0],
		         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		return CW_ERR_PARSE;
	}
	r->code = WEXITSTATUS(status);
	return cw_buf_append(&r->out, "", 1); /* a string, for parsing */
}

static enum cw_err
run(struct helper *h, const char *op, const struct cw_buf *csr,
    const char *cookie, struct run *r)
{
	char *envp[12], *pem = NULL;
	struct cw_buf pem_buf;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int out[2] = {-1, -1}, sec[2] = {-1, -1}, err;
	size_t e = 0;
	pid_t pid;
	enum cw_err rc;

	memset(r, 0, sizeof(*r));
	cw_buf_init(&pem_buf);
	rc = ca_pem_csr(csr, &pem_buf);
	if (rc == CW_OK)
		pem = (char *)pem_buf.data;
	envp[e++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	envp[e++] = "LANG=C.UTF-8";
	envp[e++] = cw_printf("CERTMONGER_OPERATION=%s", op);
	envp[e++] = cw_printf("CERTMONGER_CSR=%s", pem ? pem : "");
	envp[e++] = cw_printf("CERTMONGER_CA_NICKNAME=%s",
	                      h->nickname ? h->nickname : "certwiz");
	if (cookie)
		envp[e++] = cw_printf("CERTMONGER_CA_COOKIE=%s", cookie);
	if (h->template)
		envp[e++] = cw_printf("CERTMONGER_CA_PROFILE=%s", h->template);
	if (h->secret)
		envp[e++] = cw_printf("CERTWIZ_CA_SECRET_FD=3");
	envp[e] = NULL;
	for (size_t i = 2; rc == CW_OK && i < e; i++)
		if (envp[i] == NULL)
			rc = CW_ERR_NOMEM;
	if (rc == CW_OK && pipe2(out, O_CLOEXEC) != 0)
		rc = CW_ERR_IO;
	if (rc == CW_OK && h->secret) {
		/* a secret fits in a pipe's buffer: written before the helper
		 * runs, so nothing waits on it */
		if (pipe2(sec, O_CLOEXEC) != 0 ||
		    write(sec[1], cw_secret_data(h->secret),
		          cw_secret_len(h->secret)) !=
		        (ssize_t)cw_secret_len(h->secret))
			rc = CW_ERR_IO;
		if (sec[1] >= 0)
			close(sec[1]);
		sec[1] = -1;
	}
	if (rc != CW_OK)
		goto out;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (sec[0] >= 0)
		posix_spawn_file_actions_adddup2(&fa, sec[0], 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, sec[0] >= 0 ? 4 : 3);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	err = posix_spawn(&pid, h->argv[0], &fa, &attr, h->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(out[1]);
	out[1] = -1;
	if (err != 0) {
		cw_error("cannot run the CA helper '%s': %s", h->argv[0],
		         strerror(err));
		rc = CW_ERR_CONFIG;
		goto out;
	}
	cw_debug("CA helper: %s %s", h->argv[0], op);
	rc = collect(h, pid, out[0], r);
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (sec[i] >= 0)
			close(sec[i]);
	}
	for (size_t i = 2; i < e; i++)
		free(envp[i]);
	cw_buf_release(&pem_buf);
	if (rc != CW_OK)
		cw_buf_release(&r->out);
	return rc;
}

/* The helper's text without the line break it ends with, at most 300
 * characters, with control characters shown as '?'. */
static char *
words(const char *s)
{
	size_t n = strlen(s);
	char *t;

	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n > 300)
		n = 300;
	t = strndup(s, n);
	for (size_t i = 0; t && i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			t[i] = '?';
	return t;
}

/* A cookie: one line of printable text, bounded. */
static char *
cookie_of(const char *s)
{
	size_t n = strcspn(s, "\r\n");

	if (n == 0 || n > HELPER_MAX_COOKIE)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return NULL;
	return strndup(s, n);
}

static enum cw_err
pending(struct helper *h, const char *text, bool delayed, struct ca_result *out)
{
	const char *c = text;
	long delay = 0;
	char *cookie;
	enum cw_err rc;

	if (delayed) {
		char *end = NULL;

		delay = strtol(text, &end, 10);
		if (end == text || delay < 0 ||
		    (*end != '\n' && *end != '\r')) {
			cw_error("CA helper '%s' exited 5 without a delay line",
			         h->argv[0]);
			return CW_ERR_PARSE;
		}
		c = end + strspn(end, "\r\n");
		if (delay > 7 * 86400)
			delay = 7 * 86400;
	}
	cookie = cookie_of(c);
	if (cookie == NULL) {
		cw_error("CA helper '%s' said the request waits, but printed "
		         "no usable cookie (one line, at most %d characters)",
		         h->argv[0], HELPER_MAX_COOKIE);
		return CW_ERR_PARSE;
	}
	rc = ca_result_set(out, CA_PENDING, NULL);
	out->reference = cookie;
	out->next_attempt = delayed ? time(NULL) + delay : 0;
	if (rc == CW_OK && h->base.hooks.save) {
		struct cw_buf st = {(unsigned char *)cookie, strlen(cookie),
		                    strlen(cookie)};

		rc = h->base.hooks.save(h->base.hooks.user, &st, cookie);
	}
	return rc;
}

static enum cw_err
issued(struct helper *h, const char *text, struct ca_result *out)
{
	enum cw_err rc = ca_parse_pem_certs(text, out);
	char *why = NULL;

	if (rc != CW_OK || out->n_certs == 0) {
		cw_error("CA helper '%s' exited 0 but printed no certificate",
		         h->argv[0]);
		return CW_ERR_PARSE;
	}
	if (h->base.hooks.check &&
	    h->base.hooks.check(h->base.hooks.user, out->certs, out->n_certs,
	                        &why) != CW_OK) {
		cw_error("the CA's certificate is refused: %s",
		         why ? why : "it is not what was asked for");
		free(why);
		return CW_ERR_CRYPTO;
	}
	return ca_result_set(out, CA_ISSUED, NULL);
}

/* What the helper's exit code means. */
static enum cw_err
answer(struct helper *h, const char *op, struct run *r, struct ca_result *out)
{
	const char *text = (const char *)r->out.data;
	char *said = words(text);
	enum cw_err rc;

	switch (r->code) {
	case 0: rc = issued(h, text, out); break;
	case 1: rc = pending(h, text, false, out); break;
	case 5: rc = pending(h, text, true, out); break;
	case 2:
		rc = ca_result_set(out, CA_REJECTED,
		                   said && *said ? said : "rejected");
		break;
	case 3:
		rc = ca_result_set(out, CA_UNREACHABLE,
		                   said && *said ? said
		                                 : "the helper cannot reach "
		                                   "the CA");
		break;
	case 4:
		cw_error("CA helper '%s' says it is not configured: %s",
		         h->argv[0], said ? said : "");
		rc = CW_ERR_CONFIG;
		break;
	case 6:
		cw_error("CA helper '%s' does not support %s", h->argv[0], op);
		rc = CW_ERR_CONFIG;
		break;
	case 16:
		cw_error("CA helper '%s' needs SCEP data (exit 16), which "
		         "certwiz does not give: use a helper that takes a "
		         "plain CSR",
		         h->argv[0]);
		rc = CW_ERR_CONFIG;
		break;
	case 17:
		cw_error("CA helper '%s' says the CA wants a new key (exit "
		         "17): cancel this request with 'certwiz pending "
		         "cancel' and make a new one",
		         h->argv[0]);
		rc = ca_result_set(out, CA_REJECTED,
		                   "the CA wants a request for a new key");
		break;
	default:
		cw_error(
		    "CA helper '%s' exited %d, which the protocol does not "
		    "define%s%s",
		    h->argv[0], r->code, said && *said ? ": " : "",
		    said ? said : "");
		rc = CW_ERR_PARSE;
	}
	free(said);
	return rc;
}

/* A helper stopped at its time limit: no answer from the CA, tried again
 * later. */
static enum cw_err
late(struct helper *h, struct ca_result *out)
{
	char *why = cw_printf("the helper did not finish within %ld seconds",
	                      h->timeout);
	enum cw_err rc = ca_result_set(out, CA_UNREACHABLE, why);

	free(why);
	return rc;
}

static enum cw_err
helper_submit(struct ca_client *cl, const struct cw_buf *csr, int wait,
              struct ca_result *out)
{
	struct helper *h = (struct helper *)cl;
	struct run r;
	enum cw_err rc;

	(void)wait;
	rc = run(h, "SUBMIT", csr, NULL, &r);
	if (rc == CW_OK)
		rc = answer(h, "SUBMIT", &r, out);
	else if (rc == CW_ERR_UNREACHABLE)
		rc = late(h, out);
	cw_buf_release(&r.out);
	return rc;
}

static enum cw_err
helper_poll(struct ca_client *cl, const struct cw_buf *csr,
            const struct cw_buf *state, int wait, struct ca_result *out)
{
	struct helper *h = (struct helper *)cl;
	char *cookie = strndup((const char *)state->data, state->len);
	struct run r;
	enum cw_err rc = cookie ? CW_OK : CW_ERR_NOMEM;

	(void)wait;
	memset(&r, 0, sizeof(r));
	if (rc == CW_OK)
		rc = run(h, "POLL", csr, cookie, &r);
	if (rc == CW_OK)
		rc = answer(h, "POLL", &r, out);
	else if (rc == CW_ERR_UNREACHABLE)
		rc = late(h, out);
	cw_buf_release(&r.out);
	free(cookie);
	return rc;
}

/* The protocol has no withdrawal: the cookie is dropped, the CA not
 * told. */
static enum cw_err
helper_cancel(struct ca_client *cl, const struct cw_buf *csr,
              const struct cw_buf *state)
{
	(void)cl;
	(void)csr;
	(void)state;
	return CW_ERR_UNAVAILABLE;
}

static void
helper_free(struct ca_client *cl)
{
	struct helper *h = (struct helper *)cl;

	free(h->argv);
	free(h->template);
	free(h->nickname);
	free(h);
}

static const struct ca_client_ops helper_ops = {helper_submit, helper_poll,
                                                helper_cancel, helper_free};

enum cw_err
ca_helper_new(const struct ca_helper_opts *o, const struct ca_hooks *hk,
              struct ca_client **out)
{
	struct helper *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return CW_ERR_NOMEM;
	h->base.ops = &helper_ops;
	h->base.hooks = *hk;
	h->argv = o->command ? cw_deploy_argv(o->command) : NULL;
	h->template = o->template ? strdup(o->template) : NULL;
	h->nickname = o->nickname ? strdup(o->nickname) : NULL;
	h->secret = o->secret;
	h->timeout = o->timeout > 0 ? o->timeout : 60;
	if ((o->command && !h->argv) || (o->template && !h->template) ||
	    (o->nickname && !h->nickname)) {
		helper_free(&h->base);
		return CW_ERR_NOMEM;
	}
	if (h->argv == NULL || h->argv[0] == NULL || h->argv[0][0] != '/') {
		cw_error("CA helper: command must start with an absolute path");
		helper_free(&h->base);
		return CW_ERR_CONFIG;
	}
	*out = &h->base;
	return CW_OK;
}
