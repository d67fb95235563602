/* Frames between certwiz and certwizd. */
#define _DEFAULT_SOURCE
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

int64_t
proto_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Waits until fd is ready for events; CW_ERR_UNREACHABLE at the
 * deadline. */
static enum cw_err
wait_for(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		int64_t left = deadline < 0 ? -1 : deadline - proto_now_ms();
		int r;

		if (deadline >= 0 && left <= 0)
			return CW_ERR_UNREACHABLE;
		r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return CW_OK;
		if (r < 0 && errno != EINTR)
			return CW_ERR_IO;
	}
}

enum cw_err
proto_send(int fd, int64_t deadline, enum proto_type t, const void *a,
	   size_t an, const void *b, size_t bn)
{
	unsigned char head[5];
	size_t len = 1 + an + bn;
	struct iovec iov[3] = { { head, sizeof(head) },
				{ (void *)a, an },
				{ (void *)b, bn } };
	int i = 0;

	if (len - 1 > PROTO_MAX_FILE + PROTO_MAX_SMALL)
		return CW_ERR_INTERNAL;
	head[0] = (unsigned char)(len >> 24);
	head[1] = (unsigned char)(len >> 16);
	head[2] = (unsigned char)(len >> 8);
	head[3] = (unsigned char)len;
	head[4] = (unsigned char)t;
	nonblocking(fd);
	while (i < 3) {
		ssize_t w;
		enum cw_err rc;

		if (iov[i].iov_len == 0) {
			i++;
			continue;
		}
		w = sendmsg(fd, &(struct msghdr){ .msg_iov = iov + i,
						  .msg_iovlen = 3 - i },
			    MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_for(fd, POLLOUT, deadline);
			if (rc != CW_OK)
				return rc;
			continue;
		}
		if (w <= 0)
			return CW_ERR_IO;
		for (size_t n = (size_t)w; n > 0 && i < 3;) {
			size_t take = n < iov[i].iov_len ? n : iov[i].iov_len;

			iov[i].iov_base = (char *)iov[i].iov_base + take;
			iov[i].iov_len -= take;
			n -= take;
			if (iov[i].iov_len == 0)
				i++;
		}
	}
	return CW_OK;
}

enum cw_err
proto_send_json(int fd, int64_t deadline, enum proto_type t, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	enum cw_err rc = s ? proto_send(fd, deadline, t, s, strlen(s), NULL, 0)
			   : CW_ERR_NOMEM;

	free(s);
	json_decref(j);
	return rc;
}

/* Reads exactly n bytes; *got says how many arrived before a failure. */
static enum cw_err
read_exact(int fd, int64_t deadline, unsigned char *p, size_t n, size_t *got)
{
	*got = 0;
	nonblocking(fd);
	while (*got < n) {
		ssize_t r = read(fd, p + *got, n - *got);
		enum cw_err rc;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_for(fd, POLLIN, deadline);
			if (rc != CW_OK)
				return rc;
			continue;
		}
		if (r <= 0)
			return CW_ERR_IO;
		*got += (size_t)r;
	}
	return CW_OK;
}

void
proto_frame_release(struct proto_frame *f)
{
	if (f == NULL)
		return;
	if (f->body.data != NULL)
		explicit_bzero(f->body.data, f->body.len);
	cw_buf_release(&f->body);
	f->type = 0;
}

enum cw_err
proto_recv(int fd, int64_t deadline, size_t max, struct proto_frame *out)
{
	unsigned char head[5];
	size_t len, got = 0;
	enum cw_err rc;

	proto_frame_release(out);
	rc = read_exact(fd, deadline, head, sizeof(head), &got);
	if (rc == CW_ERR_IO && got == 0)
		return CW_ERR_UNAVAILABLE;
	if (rc != CW_OK)
		return rc;
	len = (size_t)head[0] << 24 | (size_t)head[1] << 16 |
	      (size_t)head[2] << 8 | head[3];
	if (head[4] == 0 || head[4] >= P__MAX || len == 0)
		return CW_ERR_PARSE;
	if (head[4] == P_STAGE || head[4] == P_INPUT)
		max = PROTO_MAX_FILE + PROTO_MAX_SMALL;
	if (len - 1 > max)
		return CW_ERR_PARSE;
	out->type = (enum proto_type)head[4];
	len--;
	if (len == 0)
		return CW_OK;
	/* one allocation of the exact size: no copy of a secret is left
	 * behind by a reallocation */
	out->body.data = malloc(len + 1);
	if (out->body.data == NULL)
		return CW_ERR_NOMEM;
	out->body.cap = len + 1;
	rc = read_exact(fd, deadline, out->body.data, len, &got);
	out->body.len = got;
	if (rc != CW_OK) {
		proto_frame_release(out);
		return rc;
	}
	out->body.data[len] = 0;
	return CW_OK;
}

bool
proto_split(const struct proto_frame *f, const char **name,
	    const unsigned char **rest, size_t *n)
{
	const unsigned char *z;

	if (f->body.len == 0)
		return false;
	z = memchr(f->body.data, 0, f->body.len);
	if (z == NULL || z == f->body.data)
		return false;
	*name = (const char *)f->body.data;
	*rest = z + 1;
	*n = f->body.len - (size_t)(z + 1 - f->body.data);
	return true;
}

json_t *
proto_json(const struct proto_frame *f)
{
	json_t *j;

	if (f->body.len == 0)
		return NULL;
	j = json_loadb((const char *)f->body.data, f->body.len,
		       JSON_REJECT_DUPLICATES, NULL);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

void
proto_request_init(struct proto_request *r)
{
	memset(r, 0, sizeof(*r));
}

void
proto_request_release(struct proto_request *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->argc; i++)
		free(r->argv[i]);
	free(r->argv);
	for (size_t i = 0; i < r->n_inputs; i++) {
		free(r->inputs[i].name);
		cw_buf_release(&r->inputs[i].data);
	}
	for (size_t i = 0; i < r->n_secrets; i++) {
		free(r->secrets[i].name);
		cw_secret_free(r->secrets[i].value);
	}
	for (size_t i = 0; i < r->n_failures; i++) {
		free(r->failures[i].name);
		free(r->failures[i].message);
	}
	memset(r, 0, sizeof(*r));
}

enum cw_err
proto_request_add_input(struct proto_request *r, const char *name,
			struct cw_buf *b)
{
	struct proto_input *in;

	if (r->n_inputs == PROTO_MAX_INPUTS ||
	    proto_request_input(r, name) != NULL) {
		cw_error("too many input files");
		return CW_ERR_USAGE;
	}
	in = &r->inputs[r->n_inputs];
	if ((in->name = strdup(name)) == NULL)
		return CW_ERR_NOMEM;
	in->data = *b;
	cw_buf_init(b);
	r->n_inputs++;
	return CW_OK;
}

enum cw_err
proto_request_add_secret(struct proto_request *r, const char *name,
			 struct cw_secret *s)
{
	struct proto_secret *p;

	if (r->n_secrets == PROTO_MAX_SECRETS ||
	    proto_request_secret(r, name) != NULL) {
		cw_error("the %s is given twice", name);
		cw_secret_free(s);
		return CW_ERR_USAGE;
	}
	p = &r->secrets[r->n_secrets];
	if ((p->name = strdup(name)) == NULL) {
		cw_secret_free(s);
		return CW_ERR_NOMEM;
	}
	p->value = s;
	r->n_secrets++;
	return CW_OK;
}

enum cw_err
proto_request_add_failure(struct proto_request *r, const char *name,
			  enum cw_err code, const char *message)
{
	struct proto_failure *f;
	size_t max = sizeof(r->failures) / sizeof(r->failures[0]);

	if (r->n_failures == max || proto_request_failure(r, name) != NULL)
		return CW_ERR_USAGE;
	f = &r->failures[r->n_failures];
	f->name = strdup(name);
	f->message = strdup(message ? message : "");
	f->code = (int)code;
	if (f->name == NULL || f->message == NULL) {
		free(f->name);
		free(f->message);
		return CW_ERR_NOMEM;
	}
	r->n_failures++;
	return CW_OK;
}

const struct proto_failure *
proto_request_failure(const struct proto_request *r, const char *name)
{
	for (size_t i = 0; i < r->n_failures; i++)
		if (strcmp(r->failures[i].name, name) == 0)
			return &r->failures[i];
	return NULL;
}

const struct cw_buf *
proto_request_input(const struct proto_request *r, const char *name)
{
	for (size_t i = 0; i < r->n_inputs; i++)
		if (strcmp(r->inputs[i].name, name) == 0)
			return &r->inputs[i].data;
	return NULL;
}

const struct cw_secret *
proto_request_secret(const struct proto_request *r, const char *name)
{
	for (size_t i = 0; i < r->n_secrets; i++)
		if (strcmp(r->secrets[i].name, name) == 0)
			return r->secrets[i].value;
	return NULL;
}

enum cw_err
proto_request_send(int fd, int64_t deadline, const struct proto_request *r)
{
	json_t *argv = json_array();
	enum cw_err rc = CW_OK;

	for (int i = 0; argv && i < r->argc; i++)
		if (json_array_append_new(argv, json_string(r->argv[i])))
			rc = CW_ERR_NOMEM;
	if (argv == NULL || rc != CW_OK) {
		json_decref(argv);
		return CW_ERR_NOMEM;
	}
	rc = proto_send_json(fd, deadline, P_REQUEST,
			     json_pack("{s:i, s:o, s:b}", "version",
				       PROTO_VERSION, "argv", argv, "terminal",
				       r->terminal));
	for (size_t i = 0; rc == CW_OK && i < r->n_inputs; i++)
		rc = proto_send(fd, deadline, P_INPUT, r->inputs[i].name,
				strlen(r->inputs[i].name) + 1,
				r->inputs[i].data.data, r->inputs[i].data.len);
	for (size_t i = 0; rc == CW_OK && i < r->n_secrets; i++)
		rc = proto_send(fd, deadline, P_SECRET, r->secrets[i].name,
				strlen(r->secrets[i].name) + 1,
				cw_secret_data(r->secrets[i].value),
				cw_secret_len(r->secrets[i].value));
	for (size_t i = 0; rc == CW_OK && i < r->n_failures; i++) {
		json_t *j = json_pack("{s:i, s:s}", "code", r->failures[i].code,
				      "message", r->failures[i].message);
		char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;

		rc = js ? proto_send(fd, deadline, P_FAILED, r->failures[i].name,
				     strlen(r->failures[i].name) + 1, js,
				     strlen(js))
			: CW_ERR_NOMEM;
		free(js);
		json_decref(j);
	}
	if (rc == CW_OK)
		rc = proto_send(fd, deadline, P_END, NULL, 0, NULL, 0);
	return rc;
}

/* The argv of a P_REQUEST: strings without NUL, at most PROTO_MAX_ARGS. */
static enum cw_err
take_argv(json_t *j, struct proto_request *r)
{
	json_t *version = json_object_get(j, "version");
	json_t *argv = json_object_get(j, "argv");
	size_t n = json_array_size(argv);

	if (!json_is_integer(version) ||
	    json_integer_value(version) != PROTO_VERSION) {
		cw_error("protocol version %lld is not %d (client and service "
			 "from different releases?)",
			 json_is_integer(version)
				 ? (long long)json_integer_value(version)
				 : -1LL,
			 PROTO_VERSION);
		return CW_ERR_PARSE;
	}
	if (!json_is_array(argv) || n == 0 || n > PROTO_MAX_ARGS) {
		cw_error("malformed request: argv");
		return CW_ERR_PARSE;
	}
	r->terminal = json_is_true(json_object_get(j, "terminal"));
	r->argv = calloc(n + 1, sizeof(*r->argv));
	if (r->argv == NULL)
		return CW_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(argv, i);

		if (!json_is_string(s) ||
		    strlen(json_string_value(s)) != json_string_length(s)) {
			cw_error("malformed request: argument %zu", i);
			return CW_ERR_PARSE;
		}
		if ((r->argv[i] = strdup(json_string_value(s))) == NULL)
			return CW_ERR_NOMEM;
		r->argc++;
	}
	return CW_OK;
}

/* One P_INPUT or P_SECRET frame into the request. */
static enum cw_err
take_part(const struct proto_frame *f, struct proto_request *r)
{
	const unsigned char *data;
	const char *name;
	size_t n;
	struct cw_buf b;
	struct cw_secret *s;

	if (!proto_split(f, &name, &data, &n) || strlen(name) > 4096) {
		cw_error("malformed request: a part without a name");
		return CW_ERR_PARSE;
	}
	if (f->type == P_FAILED) {
		json_t *j = json_loadb((const char *)data, n, 0, NULL);
		json_t *code = json_object_get(j, "code");
		const char *msg = json_string_value(json_object_get(j, "message"));
		enum cw_err rc = CW_ERR_PARSE;

		if (json_is_integer(code) && json_integer_value(code) > 0 &&
		    json_integer_value(code) < CW_ERR__MAX && msg != NULL)
			rc = proto_request_add_failure(
				r, name, (enum cw_err)json_integer_value(code),
				msg);
		json_decref(j);
		if (rc != CW_OK)
			cw_error("malformed request: a failed part");
		return rc == CW_OK ? CW_OK : CW_ERR_PARSE;
	}
	if (f->type == P_INPUT) {
		cw_buf_init(&b);
		if (cw_buf_set(&b, data, n) != CW_OK)
			return CW_ERR_NOMEM;
		return proto_request_add_input(r, name, &b) == CW_OK
			       ? CW_OK
			       : CW_ERR_PARSE;
	}
	if (cw_secret_from_bytes(data, n, &s) != CW_OK)
		return CW_ERR_PARSE;
	return proto_request_add_secret(r, name, s) == CW_OK ? CW_OK
							     : CW_ERR_PARSE;
}

enum cw_err
proto_request_recv(int fd, int64_t deadline, struct proto_request *out)
{
	struct proto_frame f = { 0, { NULL, 0, 0 } };
	struct proto_request r;
	json_t *j;
	enum cw_err rc;

	proto_request_init(&r);
	rc = proto_recv(fd, deadline, PROTO_MAX_REQUEST, &f);
	if (rc == CW_OK && f.type != P_REQUEST) {
		cw_error("malformed request: frame %d first", (int)f.type);
		rc = CW_ERR_PARSE;
	}
	if (rc == CW_OK) {
		j = proto_json(&f);
		rc = j ? take_argv(j, &r) : CW_ERR_PARSE;
		if (j == NULL)
			cw_error("malformed request: not a JSON object");
		json_decref(j);
	}
	while (rc == CW_OK) {
		rc = proto_recv(fd, deadline, PROTO_MAX_SMALL, &f);
		if (rc != CW_OK || f.type == P_END)
			break;
		if (f.type != P_INPUT && f.type != P_SECRET &&
		    f.type != P_FAILED) {
			cw_error("malformed request: frame %d", (int)f.type);
			rc = CW_ERR_PARSE;
			break;
		}
		rc = take_part(&f, &r);
	}
	proto_frame_release(&f);
	if (rc != CW_OK) {
		proto_request_release(&r);
		return rc;
	}
	*out = r;
	return CW_OK;
}
