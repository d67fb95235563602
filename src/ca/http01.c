/*
 * The built-in http-01 responder: libmicrohttpd, run from a thread of our
 * own, answers GET /.well-known/acme-challenge/TOKEN with the key
 * authorization and nothing else. Connections are served side by side;
 * each has an idle timeout and a total deadline (a client that trickles
 * bytes is cut at the deadline), one address may hold a few at once, and
 * stopping the responder closes them all at once. It never touches
 * PKCS#11 (one session per thread).
 */
#define _GNU_SOURCE
#include "ca_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PREFIX "/.well-known/acme-challenge/"
#define MAX_TOKENS 64
#define MAX_CONNECTIONS 64
#define PER_ADDRESS 8
#define IDLE_SECONDS 5
#define DEADLINE_MS 10000

/* A connection open now: its socket and when it came. */
struct open_conn {
	int fd;
	int64_t since;
};

struct ca_http01 {
	int fd;
	int64_t deadline_ms;
	struct MHD_Daemon *d;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	pthread_mutex_t lock; /* the tokens (added while the thread runs) */
	char *token[MAX_TOKENS];
	char *keyauth[MAX_TOKENS];
	size_t n;
	unsigned served;
	/* touched by the responder's thread only */
	struct open_conn conns[MAX_CONNECTIONS];
};

/* "ADDR:PORT", "[V6]:PORT" or ":PORT" into host and port strings. */
static enum cw_err
split_listen(const char *where, char *host, size_t hn, char *port,
	     size_t pn)
{
	const char *colon;
	size_t len;

	if (where[0] == '[') {
		const char *end = strchr(where, ']');

		if (end == NULL || end[1] != ':')
			return CW_ERR_CONFIG;
		len = (size_t)(end - where - 1);
		colon = end + 1;
		where++;
	} else {
		colon = strrchr(where, ':');
		if (colon == NULL)
			return CW_ERR_CONFIG;
		len = (size_t)(colon - where);
	}
	if (len >= hn || strlen(colon + 1) >= pn || colon[1] == 0)
		return CW_ERR_CONFIG;
	memcpy(host, where, len);
	host[len] = 0;
	strcpy(port, colon + 1);
	return CW_OK;
}

static int
open_listener(const char *where)
{
	struct addrinfo hints, *res = NULL;
	char host[256], port[16];
	int fd = -1, one = 1, e;

	if (split_listen(where, host, sizeof(host), port, sizeof(port))) {
		cw_error("http-01: '%s' is not ADDRESS:PORT", where);
		errno = EINVAL;
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (e != 0) {
		cw_error("http-01: cannot resolve '%s': %s", where,
			 gai_strerror(e));
		errno = EINVAL;
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
		    listen(fd, 16) != 0) {
			e = errno;
			close(fd);
			fd = -1;
			errno = e;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain");
	MHD_add_response_header(r, "Connection", "close");
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url,
       const char *method, const char *version, const char *upload,
       size_t *upload_size, void **req)
{
	struct ca_http01 *s = cls;
	char body[1024];
	bool found = false;

	(void)version;
	(void)upload;
	(void)req;
	if (strcmp(method, "GET") != 0 || *upload_size != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "");
	pthread_mutex_lock(&s->lock);
	if (strncmp(url, PREFIX, strlen(PREFIX)) == 0)
		for (size_t i = 0; i < s->n && !found; i++)
			if (strcmp(url + strlen(PREFIX), s->token[i]) == 0) {
				snprintf(body, sizeof(body), "%s",
					 s->keyauth[i]);
				found = true;
				s->served++;
			}
	pthread_mutex_unlock(&s->lock);
	return reply(c, found ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND,
		     found ? body : "");
}

/* Keeps track of open connections for their total deadline (called in
 * the responder's thread, from MHD_run_wait). */
static void
notify(void *cls, struct MHD_Connection *c, void **socket_context,
       enum MHD_ConnectionNotificationCode code)
{
	struct ca_http01 *s = cls;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	int fd = ci ? ci->connect_fd : -1;

	(void)socket_context;
	for (size_t i = 0; i < MAX_CONNECTIONS; i++) {
		struct open_conn *o = &s->conns[i];

		if (code == MHD_CONNECTION_NOTIFY_STARTED && o->fd < 0) {
			*o = (struct open_conn){fd, cw_monotonic_ms()};
			break;
		}
		if (code == MHD_CONNECTION_NOTIFY_CLOSED && o->fd == fd) {
			o->fd = -1;
			break;
		}
	}
}

/* Connections past their deadline are cut (their socket shut down: MHD
 * sees the end of it and frees the connection). */
static void
cut_late(struct ca_http01 *s)
{
	int64_t now = cw_monotonic_ms();

	for (size_t i = 0; i < MAX_CONNECTIONS; i++) {
		struct open_conn *o = &s->conns[i];

		if (o->fd >= 0 && now - o->since > s->deadline_ms) {
			shutdown(o->fd, SHUT_RDWR);
			o->since = now; /* once */
		}
	}
}

static void *
run(void *arg)
{
	struct ca_http01 *s = arg;

	while (!atomic_load(&s->stop)) {
		MHD_run_wait(s->d, 100);
		cut_late(s);
	}
	return NULL;
}

enum cw_err
ca_http01_start(const char *where, struct ca_http01 **out)
{
	struct ca_http01 *s = calloc(1, sizeof(*s));
	int e;

	if (s == NULL)
		return CW_ERR_NOMEM;
	pthread_mutex_init(&s->lock, NULL);
	atomic_init(&s->stop, false);
	s->deadline_ms = DEADLINE_MS;
	for (size_t i = 0; i < MAX_CONNECTIONS; i++)
		s->conns[i].fd = -1;
	s->fd = open_listener(where);
	if (s->fd < 0) {
		e = errno;
		cw_error("http-01: cannot listen on %s: %s", where,
			 strerror(e));
		ca_http01_stop(s);
		return e == EINVAL ? CW_ERR_CONFIG : CW_ERR_UNAVAILABLE;
	}
	s->d = MHD_start_daemon(
		MHD_NO_FLAG, 0, NULL, NULL, answer, s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_ADDRESS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_SECONDS,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
		MHD_OPTION_NOTIFY_CONNECTION, notify, s, MHD_OPTION_END);
	if (s->d == NULL ||
	    pthread_create(&s->thread, NULL, run, s) != 0) {
		cw_error("http-01: cannot start the responder");
		ca_http01_stop(s);
		return CW_ERR_INTERNAL;
	}
	s->running = true;
	cw_debug("http-01 responder listening on %s", where);
	*out = s;
	return CW_OK;
}

enum cw_err
ca_http01_add(struct ca_http01 *s, const char *token, const char *keyauth)
{
	enum cw_err rc = CW_OK;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->token[i], token) == 0)
			goto out;
	if (s->n == MAX_TOKENS || strlen(keyauth) >= 1024) {
		rc = CW_ERR_USAGE;
		goto out;
	}
	s->token[s->n] = strdup(token);
	s->keyauth[s->n] = strdup(keyauth);
	if (!s->token[s->n] || !s->keyauth[s->n]) {
		free(s->token[s->n]);
		free(s->keyauth[s->n]);
		rc = CW_ERR_NOMEM;
		goto out;
	}
	s->n++;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void
ca_http01_set_deadline(struct ca_http01 *s, int ms)
{
	s->deadline_ms = ms;
}

unsigned
ca_http01_served(const struct ca_http01 *s)
{
	return s ? s->served : 0;
}

void
ca_http01_stop(struct ca_http01 *s)
{
	if (s == NULL)
		return;
	if (s->running) {
		atomic_store(&s->stop, true);
		pthread_join(s->thread, NULL);
	}
	/* every open connection is closed here, at once */
	if (s->d != NULL)
		MHD_stop_daemon(s->d);
	else if (s->fd >= 0)
		close(s->fd);
	for (size_t i = 0; i < s->n; i++) {
		free(s->token[i]);
		free(s->keyauth[i]);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}
