/* The built-in http-01 responder: a thread that answers
 * GET /.well-known/acme-challenge/TOKEN with the key authorization, and
 * nothing else. It never touches PKCS#11 (one session per thread). */
#define _GNU_SOURCE
#include "ca_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PREFIX "/.well-known/acme-challenge/"
#define MAX_REQUEST 4096
#define MAX_TOKENS 64
#define READ_TIMEOUT_MS 3000

struct ca_http01 {
	int fd;
	int stop[2];        /* a pipe: written to stop the thread */
	pthread_t thread;
	pthread_mutex_t lock;
	char *token[MAX_TOKENS];
	char *keyauth[MAX_TOKENS];
	size_t n;
	unsigned served;
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

/* Reads the request head (up to the blank line) within the time limit. */
static ssize_t
read_head(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, READ_TIMEOUT_MS) <= 0)
			return -1;
		r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = 0;
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return (ssize_t)n;
	}
	return -1;
}

static void
reply(int fd, int status, const char *text, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, text, strlen(body));

	if (n > 0 && write(fd, head, (size_t)n) == n)
		(void)!write(fd, body, strlen(body));
}

static void
serve(struct ca_http01 *s, int fd)
{
	char buf[MAX_REQUEST], path[MAX_REQUEST];
	const char *answer = NULL;

	if (read_head(fd, buf, sizeof(buf)) < 0)
		return;
	if (sscanf(buf, "GET %4095s HTTP/1.", path) != 1) {
		reply(fd, 405, "Method Not Allowed", "");
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (strncmp(path, PREFIX, strlen(PREFIX)) == 0)
		for (size_t i = 0; i < s->n && answer == NULL; i++)
			if (strcmp(path + strlen(PREFIX), s->token[i]) == 0)
				answer = s->keyauth[i];
	if (answer != NULL) {
		reply(fd, 200, "OK", answer);
		s->served++;
	} else {
		reply(fd, 404, "Not Found", "");
	}
	pthread_mutex_unlock(&s->lock);
}

static void *
run(void *arg)
{
	struct ca_http01 *s = arg;

	for (;;) {
		struct pollfd p[2] = { { s->fd, POLLIN, 0 },
				       { s->stop[0], POLLIN, 0 } };
		int c;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve(s, c);
		close(c);
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
	s->stop[0] = s->stop[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->fd = open_listener(where);
	if (s->fd < 0) {
		e = errno;
		cw_error("http-01: cannot listen on %s: %s", where,
			 strerror(e));
		ca_http01_stop(s);
		return e == EINVAL ? CW_ERR_CONFIG : CW_ERR_UNAVAILABLE;
	}
	if (pipe2(s->stop, O_CLOEXEC) != 0 ||
	    pthread_create(&s->thread, NULL, run, s) != 0) {
		cw_error("http-01: cannot start the responder: %s",
			 strerror(errno));
		close(s->fd);
		s->fd = -1;
		ca_http01_stop(s);
		return CW_ERR_INTERNAL;
	}
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
	if (s->n == MAX_TOKENS) {
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
	if (s->fd >= 0) {
		(void)!write(s->stop[1], "x", 1);
		pthread_join(s->thread, NULL);
		close(s->fd);
	}
	if (s->stop[0] >= 0)
		close(s->stop[0]);
	if (s->stop[1] >= 0)
		close(s->stop[1]);
	for (size_t i = 0; i < s->n; i++) {
		free(s->token[i]);
		free(s->keyauth[i]);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}
