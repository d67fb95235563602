/*
 * What a worker asks of its client while a verb runs: files the client
 * writes as the caller (stage, publish, retract) and secrets it prompts
 * for. Each question waits for its answer with a deadline; a client that
 * is gone makes the step fail, so that the change it belongs to does not
 * commit.
 */
#define _GNU_SOURCE
#include "svc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

/* Waits for the client's P_ACK; its error, if any, is reported. */
static enum cw_err
wait_ack(struct svc_conn *c, const char *what)
{
	struct proto_frame f = { 0, { NULL, 0, 0 } };
	json_t *j = NULL;
	enum cw_err rc;

	rc = proto_recv(c->fd, proto_now_ms() + SVC_ACK_MS, PROTO_MAX_SMALL,
			&f);
	if (rc == CW_OK && (f.type != P_ACK || (j = proto_json(&f)) == NULL))
		rc = CW_ERR_PARSE;
	if (rc == CW_OK && !json_is_true(json_object_get(j, "ok"))) {
		const char *e = json_string_value(json_object_get(j, "error"));

		/* the client has said why on its terminal already */
		cw_debug("the client could not %s: %s", what, e ? e : "");
		rc = CW_ERR_IO;
	} else if (rc != CW_OK) {
		c->gone = true;
		cw_error("the client went away before it could %s; nothing "
			 "is kept",
			 what);
		rc = CW_ERR_IO;
	}
	json_decref(j);
	proto_frame_release(&f);
	return rc;
}

static enum cw_err
stage(void *user, const char *path, const void *data, size_t n, int mode,
      bool force)
{
	struct svc_conn *c = user;
	size_t off = 0;
	enum cw_err rc = CW_OK;

	if (c->gone)
		return CW_ERR_IO;
	do {
		size_t take = n - off > CHUNK ? CHUNK : n - off;
		json_t *h = json_pack("{s:i, s:b, s:I, s:b}", "mode", mode,
				      "force", force, "offset", (json_int_t)off,
				      "last", off + take == n);
		char *hs = h ? json_dumps(h, JSON_COMPACT) : NULL;
		size_t plen = strlen(path) + 1 + (hs ? strlen(hs) + 1 : 0);
		char *prefix = hs ? malloc(plen) : NULL;

		if (prefix != NULL) {
			memcpy(prefix, path, strlen(path) + 1);
			memcpy(prefix + strlen(path) + 1, hs, strlen(hs) + 1);
			rc = proto_send(c->fd, proto_now_ms() + SVC_ACK_MS,
					P_STAGE, prefix, plen,
					(const char *)data + off, take);
			if (rc != CW_OK) {
				c->gone = true;
				cw_error("the client went away; nothing is "
					 "kept");
			} else {
				rc = wait_ack(c, "write the file");
			}
		} else {
			rc = CW_ERR_NOMEM;
		}
		free(prefix);
		free(hs);
		json_decref(h);
		off += take;
	} while (rc == CW_OK && off < n);
	return rc;
}

static enum cw_err
send_path(struct svc_conn *c, enum proto_type t, const char *path,
	  const char *what)
{
	enum cw_err rc;

	if (c->gone)
		return CW_ERR_IO;
	rc = proto_send(c->fd, proto_now_ms() + SVC_ACK_MS, t, path,
			strlen(path), NULL, 0);
	if (rc != CW_OK) {
		c->gone = true;
		cw_error("the client went away before it could %s; nothing "
			 "is kept",
			 what);
		return CW_ERR_IO;
	}
	return wait_ack(c, what);
}

static enum cw_err
publish(void *user, const char *path)
{
	return send_path(user, P_PUBLISH, path, "put the file in place");
}

static void
retract(void *user, const char *path)
{
	(void)send_path(user, P_RETRACT, path, "take the file back");
}

void
svc_output_init(struct wiz_output *o, struct svc_conn *c)
{
	o->stage = stage;
	o->publish = publish;
	o->retract = retract;
	o->user = c;
}

static bool
can(void *user, enum cw_secret_kind kind)
{
	struct svc_conn *c = user;

	return c->terminal && (kind != CW_SECRET_PIN || c->caller_pin_ok);
}

static enum cw_err
ask(void *user, enum cw_secret_kind kind, const char *prompt,
    struct cw_secret **out)
{
	struct svc_conn *c = user;
	struct proto_frame f = { 0, { NULL, 0, 0 } };
	const unsigned char *data;
	const char *name;
	size_t n;
	enum cw_err rc;

	if (kind == CW_SECRET_PIN && !c->caller_pin_ok) {
		cw_error("the service has no PIN for this token: give it in "
			 "its configuration ([token] pin_file, or pin-source "
			 "in the token's URI)");
		return CW_ERR_CONFIG;
	}
	if (!c->terminal || c->gone) {
		cw_error("no terminal to ask for the %s; %s", prompt,
			 cw_secret_options(prompt));
		return CW_ERR_USAGE;
	}
	rc = proto_send_json(c->fd, proto_now_ms() + SVC_ACK_MS, P_PROMPT,
			     json_pack("{s:s, s:s}", "name",
				       kind == CW_SECRET_PIN ? SECRET_PIN
							     : "secret",
				       "prompt", prompt));
	if (rc == CW_OK)
		rc = proto_recv(c->fd, proto_now_ms() + SVC_PROMPT_MS,
				PROTO_MAX_SMALL, &f);
	if (rc != CW_OK) {
		c->gone = true;
		cw_error("the client did not answer the prompt for the %s",
			 prompt);
		return CW_ERR_USAGE;
	}
	if (f.type == P_SECRET && proto_split(&f, &name, &data, &n))
		rc = cw_secret_from_bytes(data, n, out);
	else {
		cw_error("no %s was given", prompt);
		rc = CW_ERR_USAGE;
	}
	proto_frame_release(&f);
	return rc;
}

void
svc_prompter_init(struct cw_prompter *p, struct svc_conn *c)
{
	p->ask = ask;
	p->can = can;
	p->user = c;
}

enum cw_err
svc_send_stream(int fd, int src, enum proto_type t)
{
	static unsigned char buf[CHUNK];
	int64_t deadline = proto_now_ms() + SVC_ACK_MS;
	enum cw_err rc = CW_OK;

	if (lseek(src, 0, SEEK_SET) != 0)
		return CW_ERR_IO;
	for (;;) {
		ssize_t n = read(src, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rc = proto_send(fd, deadline, t, buf, (size_t)n, NULL, 0);
		if (rc != CW_OK)
			break;
	}
	return rc;
}

void
svc_send_refusal(int fd, const char *message, int code)
{
	int64_t deadline = proto_now_ms() + 1000;
	char *line = cw_printf("certwiz: %s\n", message);

	if (line != NULL)
		proto_send(fd, deadline, P_STDERR, line, strlen(line), NULL, 0);
	proto_send_json(fd, deadline, P_EXIT, json_pack("{s:i}", "code", code));
	free(line);
}

static int log_fd = 2;
static char log_ident[32] = "certwizd";

void
svc_log_init(int fd, const char *ident)
{
	log_fd = fd;
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
}

void
svc_log_detach(void)
{
	if (log_fd == STDERR_FILENO)
		log_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
}

void
svc_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (log_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s[%ld]: ", log_ident,
		     (long)getpid());
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	/* one line, whatever the message held */
	for (int i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = '?';
	line[n++] = '\n';
	(void)!write(log_fd, line, (size_t)n);
}

bool
svc_peer(int fd, uid_t *uid, gid_t *gid, pid_t *pid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return false;
	*uid = cr.uid;
	*gid = cr.gid;
	*pid = cr.pid;
	return true;
}
