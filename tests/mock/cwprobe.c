/*
 * cwprobe: a misbehaving client of certwizd, for the tests.
 *
 *   cwprobe SOCKET idle SECONDS     connect, send nothing; print how long
 *                                   until the service closed ("closed N")
 *   cwprobe SOCKET garbage          send bytes that are not a frame
 *   cwprobe SOCKET oversize         announce a 2 GiB frame
 *   cwprobe SOCKET cut              send half of a request frame, close
 *   cwprobe SOCKET hold N SECONDS   open N connections, keep them SECONDS
 *   cwprobe SOCKET argv ARG...      a well-formed request with this argv;
 *                                   print the service's answer
 *   cwprobe SOCKET vanish ARG...    the same, but close the connection at
 *                                   the first file the service hands over
 *
 * Every mode ends within its own time bound. Exit 0 when the exchange went
 * as the mode says, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int
dial(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
frame(int fd, unsigned char type, const void *body, size_t n)
{
	unsigned char h[5] = { (unsigned char)((n + 1) >> 24),
			       (unsigned char)((n + 1) >> 16),
			       (unsigned char)((n + 1) >> 8),
			       (unsigned char)(n + 1), type };

	if (write(fd, h, 5) != 5 || (n && write(fd, body, n) != (ssize_t)n))
		perror("write");
}

/* Reads frames until EXIT or EOF (at most 30 s); prints STDOUT/STDERR
 * bodies and the exit code. vanish: close at the first P_STAGE. */
static int
answer(int fd, int vanish)
{
	double end = now() + 30;
	unsigned char h[5];
	static unsigned char body[1 << 20];

	while (now() < end) {
		struct pollfd p = { fd, POLLIN, 0 };
		size_t len, got = 0;

		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (read(fd, h, 5) != 5) {
			printf("closed\n");
			return 0;
		}
		len = ((size_t)h[0] << 24 | (size_t)h[1] << 16 |
		       (size_t)h[2] << 8 | h[3]) - 1;
		if (len > sizeof(body))
			return 1;
		while (got < len) {
			ssize_t r = read(fd, body + got, len - got);

			if (r <= 0)
				return 1;
			got += (size_t)r;
		}
		if (h[4] == 7 && vanish) { /* P_STAGE */
			printf("vanished at the file\n");
			return 0;
		}
		if (h[4] == 11 || h[4] == 12) /* P_STDOUT, P_STDERR */
			fwrite(body, 1, len, h[4] == 11 ? stdout : stderr);
		if (h[4] == 13) { /* P_EXIT */
			printf("exit %.*s\n", (int)len, body);
			return 0;
		}
	}
	return 1;
}

static int
request(const char *path, int argc, char **argv, int vanish)
{
	char buf[8192];
	size_t n = 0;
	int fd = dial(path);

	n += (size_t)snprintf(buf, sizeof(buf),
			      "{\"version\":1,\"terminal\":false,\"argv\":[");
	for (int i = 0; i < argc && n < sizeof(buf) - 256; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\"",
				      i ? "," : "", argv[i]);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "]}");
	frame(fd, 1, buf, n); /* P_REQUEST */
	frame(fd, 5, NULL, 0); /* P_END */
	return answer(fd, vanish);
}

int
main(int argc, char **argv)
{
	const char *sock, *mode;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: cwprobe SOCKET MODE [ARGS]\n");
		return 2;
	}
	sock = argv[1];
	mode = argv[2];
	if (strcmp(mode, "idle") == 0 && argc == 4) {
		double t0 = now(), limit = atof(argv[3]);
		char c;

		fd = dial(sock);
		while (now() - t0 < limit) {
			struct pollfd p = { fd, POLLIN, 0 };

			if (poll(&p, 1, 100) > 0) {
				/* the service's refusal, then its close */
				while (read(fd, &c, 1) == 1)
					;
				printf("closed %.1f\n", now() - t0);
				return 0;
			}
		}
		printf("open %.1f\n", now() - t0);
		return 0;
	}
	if (strcmp(mode, "garbage") == 0) {
		fd = dial(sock);
		if (write(fd, "GET / HTTP/1.0\r\n\r\n", 18) != 18)
			return 1;
		return answer(fd, 0);
	}
	if (strcmp(mode, "oversize") == 0) {
		unsigned char h[5] = { 0x7f, 0xff, 0xff, 0xff, 1 };

		fd = dial(sock);
		if (write(fd, h, 5) != 5)
			return 1;
		return answer(fd, 0);
	}
	if (strcmp(mode, "cut") == 0) {
		unsigned char h[5] = { 0, 0, 0, 100, 1 };

		fd = dial(sock);
		if (write(fd, h, 5) != 5 || write(fd, "{\"version\"", 10) != 10)
			return 1;
		close(fd);
		printf("cut\n");
		return 0;
	}
	if (strcmp(mode, "hold") == 0 && argc == 5) {
		int n = atoi(argv[3]), *fds = calloc((size_t)n, sizeof(int));

		for (int i = 0; fds && i < n; i++)
			fds[i] = dial(sock);
		printf("holding %d\n", n);
		fflush(stdout);
		sleep((unsigned)atoi(argv[4]));
		return 0;
	}
	if (strcmp(mode, "argv") == 0)
		return request(sock, argc - 3, argv + 3, 0);
	if (strcmp(mode, "vanish") == 0)
		return request(sock, argc - 3, argv + 3, 1);
	fprintf(stderr, "cwprobe: unknown mode '%s'\n", mode);
	return 2;
}
