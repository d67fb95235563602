/*
 * tlsloop: full TLS handshakes in a loop against a server, for the
 * rollover tests.
 *
 *   tlsloop PORT NAME CAFILE MAX SECONDS [SHA256 AFTER]
 *
 * Each handshake is a new TCP connection to 127.0.0.1:PORT with SNI NAME,
 * no session resumption, the chain verified to CAFILE and the name
 * checked. One line per handshake: "ok SHA256" (the leaf's) or "fail
 * REASON". Stops after MAX handshakes, after SECONDS, or once AFTER
 * handshakes in a row presented SHA256. Exit 0 when every handshake
 * succeeded, 1 otherwise.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* One handshake: 0 and the leaf's SHA-256 (hex) in sha, or -1 and why. */
static int
handshake(SSL_CTX *ctx, int port, const char *name, char *sha, size_t n)
{
	struct sockaddr_in sa;
	struct timeval tv = {5, 0};
	unsigned char md[32];
	unsigned int len = 0;
	X509 *leaf = NULL;
	SSL *ssl = NULL;
	int fd, rc = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(sha, n, "connect failed");
		goto out;
	}
	ssl = SSL_new(ctx);
	if (ssl == NULL || !SSL_set_tlsext_host_name(ssl, name) ||
	    !SSL_set1_host(ssl, name) || !SSL_set_fd(ssl, fd)) {
		snprintf(sha, n, "set-up failed");
		goto out;
	}
	if (SSL_connect(ssl) != 1) {
		snprintf(sha, n, "handshake failed: %s",
		         ERR_reason_error_string(ERR_peek_last_error())
		             ? ERR_reason_error_string(ERR_peek_last_error())
		             : "closed");
		goto out;
	}
	leaf = SSL_get1_peer_certificate(ssl);
	if (leaf == NULL || !X509_digest(leaf, EVP_sha256(), md, &len)) {
		snprintf(sha, n, "no certificate");
		goto out;
	}
	for (unsigned int i = 0; i < len && 2 * i + 2 < n; i++)
		snprintf(sha + 2 * i, 3, "%02x", md[i]);
	rc = 0;
	SSL_shutdown(ssl);
out:
	ERR_clear_error();
	X509_free(leaf);
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	return rc;
}

int
main(int argc, char **argv)
{
	SSL_CTX *ctx;
	long max, seconds, after = 0, in_row = 0;
	const char *want = NULL;
	time_t end;
	int failed = 0;

	if (argc != 6 && argc != 8) {
		fprintf(stderr, "usage: tlsloop PORT NAME CAFILE MAX SECONDS "
		                "[SHA256 AFTER]\n");
		return 2;
	}
	max = atol(argv[4]);
	seconds = atol(argv[5]);
	if (argc == 8) {
		want = argv[6];
		after = atol(argv[7]);
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL ||
	    SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1)
		return 2;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	end = time(NULL) + seconds;
	for (long i = 0; i < max && time(NULL) < end; i++) {
		char sha[80];

		if (handshake(ctx, atoi(argv[1]), argv[2], sha, sizeof(sha)) !=
		    0) {
			printf("fail %s\n", sha);
			failed++;
			in_row = 0;
			continue;
		}
		printf("ok %s\n", sha);
		in_row = want && strcmp(sha, want) == 0 ? in_row + 1 : 0;
		if (want && in_row >= after)
			break;
	}
	fflush(stdout);
	SSL_CTX_free(ctx);
	return failed ? 1 : 0;
}
