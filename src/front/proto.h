/*
 * The client-service protocol (certwiz <-> certwizd) over a Unix stream
 * socket. A frame is a 4-byte big-endian length (of what follows), a
 * 1-byte type and the body; the length is checked against the receiver's
 * limit for that moment before any of the body is read.
 *
 * The client sends P_REQUEST (JSON {"version", "argv", "terminal"}), then
 * its P_INPUT files ("name\0data"), P_SECRET secrets ("name\0bytes"),
 * P_FAILED for the parts it could not read ("name\0" + JSON {"code",
 * "message"}: the verb reports it where it needs the part, after its own
 * usage checks) and P_END. The service answers with P_STDOUT and P_STDERR chunks and a final P_EXIT
 * (JSON {"code"}); in between it may ask: P_PROMPT (JSON {"name",
 * "prompt"}) answered by P_SECRET or P_NOSECRET (a reason); P_STAGE
 * ("path\0" + JSON {"mode","force"} + "\0" + data), P_PUBLISH and
 * P_RETRACT ("path"), each answered by P_ACK (JSON {"ok", "error"}): the
 * client writes the files, as the caller.
 */
#ifndef CW_FRONT_PROTO_H
#define CW_FRONT_PROTO_H

#include "certwiz/err.h"
#include "certwiz/secret.h"
#include "certwiz/util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define PROTO_VERSION 1

enum proto_type {
	P_REQUEST = 1,
	P_INPUT,
	P_SECRET,
	P_NOSECRET,
	P_END,
	P_PROMPT,
	P_STAGE,
	P_PUBLISH,
	P_RETRACT,
	P_ACK,
	P_STDOUT,
	P_STDERR,
	P_EXIT,
	P_FAILED,
	P__MAX
};

/* Limits, checked before a body is read. */
#define PROTO_MAX_REQUEST (64u << 10)  /* the P_REQUEST JSON */
#define PROTO_MAX_FILE (8u << 20)      /* one input or staged file */
#define PROTO_MAX_SMALL (16u << 10)    /* every other frame */
#define PROTO_MAX_ARGS 256
#define PROTO_MAX_INPUTS 4
#define PROTO_MAX_SECRETS 4

struct proto_frame {
	enum proto_type type;
	struct cw_buf body;
};

/* Milliseconds on the monotonic clock; deadlines are absolute, -1 none. */
int64_t proto_now_ms(void);

/*
 * Sends one frame whose body is a followed by b (either may be empty).
 * CW_ERR_IO when the peer is gone, CW_ERR_UNREACHABLE at the deadline.
 * The descriptor is made non-blocking.
 */
enum cw_err proto_send(int fd, int64_t deadline, enum proto_type t,
		       const void *a, size_t an, const void *b, size_t bn);

/* Sends j (stolen) as a frame's body. */
enum cw_err proto_send_json(int fd, int64_t deadline, enum proto_type t,
			    json_t *j);

/*
 * Receives one frame of at most max body bytes (for P_STAGE and P_INPUT,
 * PROTO_MAX_FILE is allowed whatever max says). CW_ERR_UNAVAILABLE: the
 * peer closed between frames; CW_ERR_PARSE: an unknown type or a body over
 * the limit; CW_ERR_IO: a read error or a frame cut short;
 * CW_ERR_UNREACHABLE: the deadline passed. out is released first.
 */
enum cw_err proto_recv(int fd, int64_t deadline, size_t max,
		       struct proto_frame *out);

/* Wipes (the body may be a secret) and frees the body. */
void proto_frame_release(struct proto_frame *f);

/* A body of the form "name\0rest": name and rest (borrowed). */
bool proto_split(const struct proto_frame *f, const char **name,
		 const unsigned char **rest, size_t *n);

/* The JSON object of the body (new reference), or NULL. */
json_t *proto_json(const struct proto_frame *f);

/* What the client sends. */
struct proto_input {
	char *name;
	struct cw_buf data;
};

struct proto_secret {
	char *name;
	struct cw_secret *value;
};

struct proto_failure {
	char *name;
	int code;      /* enum cw_err */
	char *message;
};

struct proto_request {
	int argc;
	char **argv;
	bool terminal; /* the client can prompt on a terminal */
	struct proto_input inputs[PROTO_MAX_INPUTS];
	size_t n_inputs;
	struct proto_secret secrets[PROTO_MAX_SECRETS];
	size_t n_secrets;
	struct proto_failure failures[PROTO_MAX_INPUTS + PROTO_MAX_SECRETS];
	size_t n_failures;
};

void proto_request_init(struct proto_request *r);
void proto_request_release(struct proto_request *r);

/* Adds an input (the data is taken, b left empty) or a secret (taken). */
enum cw_err proto_request_add_input(struct proto_request *r,
				    const char *name, struct cw_buf *b);
enum cw_err proto_request_add_secret(struct proto_request *r,
				     const char *name, struct cw_secret *s);

/* Records that the part name could not be read, and why. */
enum cw_err proto_request_add_failure(struct proto_request *r,
				      const char *name, enum cw_err code,
				      const char *message);
const struct proto_failure *
proto_request_failure(const struct proto_request *r, const char *name);

enum cw_err proto_request_send(int fd, int64_t deadline,
			       const struct proto_request *r);

/*
 * Receives a whole request (P_REQUEST ... P_END) before the deadline.
 * A malformed request is reported with cw_error and CW_ERR_PARSE.
 */
enum cw_err proto_request_recv(int fd, int64_t deadline,
			       struct proto_request *out);

/* The input or secret of that name, or NULL. */
const struct cw_buf *proto_request_input(const struct proto_request *r,
					 const char *name);
const struct cw_secret *proto_request_secret(const struct proto_request *r,
					     const char *name);

#endif
