/* The built-in http-01 responder, on real sockets on 127.0.0.1: a silent
 * client and a trickling one hold up neither a real request nor the stop;
 * the trickling one is cut at the total deadline. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certwiz/ca.h"

static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int
dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Reads what the peer sends until it closes (at most ms); bytes read, or
 * -1 when it was still open at the end. */
static ssize_t
drain(int fd, char *buf, size_t size, int ms)
{
	size_t n = 0;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, ms) <= 0)
			return -1;
		r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	return (ssize_t)n;
}

static void
test_slow_clients_hold_up_nothing(void **state)
{
	struct ca_http01 *s = NULL;
	char listen[32], buf[4096];
	int port = free_port(), silent, trickle, get;
	const char *req = "GET /.well-known/acme-challenge/tok1 HTTP/1.1\r\n"
			  "Host: x\r\n\r\n";

	(void)state;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	assert_int_equal(ca_http01_start(listen, &s), CW_OK);
	ca_http01_set_deadline(s, 1500);
	assert_int_equal(ca_http01_add(s, "tok1", "tok1.thumb"), CW_OK);
	silent = dial(port);
	trickle = dial(port);
	assert_int_equal(write(trickle, "GET ", 4), 4);
	/* a real request is answered while both are connected */
	get = dial(port);
	assert_int_equal(write(get, req, strlen(req)), (ssize_t)strlen(req));
	assert_true(drain(get, buf, sizeof(buf), 3000) > 0);
	assert_non_null(strstr(buf, "200 OK"));
	assert_non_null(strstr(buf, "tok1.thumb"));
	assert_int_equal(ca_http01_served(s), 1);
	close(get);
	/* the trickling client, still sending, is cut at the deadline */
	for (int i = 0; i < 10; i++) {
		struct pollfd p = { trickle, POLLIN, 0 };

		if (poll(&p, 1, 300) > 0)
			break;
		(void)!write(trickle, "x", 1);
	}
	assert_true(drain(trickle, buf, sizeof(buf), 3000) >= 0);
	close(trickle);
	/* stopping does not wait for the silent client: it is closed */
	ca_http01_stop(s);
	assert_true(drain(silent, buf, sizeof(buf), 1000) >= 0);
	close(silent);
}

static void
test_unknown_tokens_and_methods_are_refused(void **state)
{
	struct ca_http01 *s = NULL;
	char listen[32], buf[4096];
	int port = free_port(), fd;
	const char *q[] = {
		"GET /.well-known/acme-challenge/nope HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /.well-known/acme-challenge/tok1 HTTP/1.1\r\nHost: x\r\n"
		"Content-Length: 0\r\n\r\n",
	};
	const char *want[] = { "404", "405" };

	(void)state;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	assert_int_equal(ca_http01_start(listen, &s), CW_OK);
	assert_int_equal(ca_http01_add(s, "tok1", "tok1.thumb"), CW_OK);
	for (int i = 0; i < 2; i++) {
		fd = dial(port);
		assert_int_equal(write(fd, q[i], strlen(q[i])),
				 (ssize_t)strlen(q[i]));
		assert_true(drain(fd, buf, sizeof(buf), 3000) > 0);
		assert_non_null(strstr(buf, want[i]));
		assert_null(strstr(buf, "tok1.thumb"));
		close(fd);
	}
	assert_int_equal(ca_http01_served(s), 0);
	ca_http01_stop(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_clients_hold_up_nothing),
		cmocka_unit_test(test_unknown_tokens_and_methods_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
