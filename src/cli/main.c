/*
 * certwiz: the client. It parses the command line with the verbs' option
 * tables, reads the files and secrets it names (as the caller), sends the
 * request to certwizd on its socket, prints what comes back, writes the
 * files the verb produced (as the caller) and exits with the verb's code.
 * It holds no PIN of the service's and opens no token, store or CA: those
 * are the service's. A root caller with no service running starts the
 * service's binary for this one request (one-shot), with the same code.
 */
#define _GNU_SOURCE
#include "../front/proto.h"
#include "../front/verbs.h"
#include "certwiz/config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CERTWIZD_PATH
#define CERTWIZD_PATH "/usr/local/sbin/certwizd"
#endif

extern char **environ;

/* A file the verb may produce, and how far it got. */
struct out_file {
	char *path;
	struct cw_atomic a;
	bool staged, written, published, failed;
};

struct client {
	struct front_scan scan;
	const char *out_file;  /* ROLE_OUT_FILE, as given */
	const char *out_dir;   /* ROLE_OUT_DIR, as given */
	bool force;
	struct out_file files[8];
	size_t n_files;
	pid_t child;           /* one-shot certwizd, or 0 */
};

static int
local_help(const struct front_scan *s, int argc, char **argv)
{
	const char *verb = s->verb ? s->verb->name : NULL;

	if (verb != NULL && strcmp(verb, "help") == 0) {
		const char *what = s->n_pos > 0 ? s->pos[0] : NULL;

		(void)argc;
		(void)argv;
		if (front_seen(s, FO_MAN)) {
			front_man(stdout);
			return 0;
		}
		if (what != NULL && front_verb(what) == NULL) {
			cw_error("unknown command '%s'", what);
			return 2;
		}
		front_help_verb(stdout, what);
		return 0;
	}
	front_help_verb(stdout, verb);
	return 0;
}

/* A file named on the command line, read as the caller: regular files
 * only (a FIFO or a device would block or never end). */
static enum cw_err
read_input(const char *path, struct cw_buf *out)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	enum cw_err rc;

	if (fd < 0) {
		cw_error("cannot open '%s': %s", path, strerror(errno));
		return CW_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cw_error("'%s' is not a regular file", path);
		close(fd);
		return CW_ERR_USAGE;
	}
	close(fd);
	if ((size_t)st.st_size > PROTO_MAX_FILE) {
		cw_error("'%s' is larger than %u bytes", path, PROTO_MAX_FILE);
		return CW_ERR_USAGE;
	}
	rc = cw_file_read(path, PROTO_MAX_FILE, out);
	return rc;
}

static bool
parse_fd(const char *s, int *fd)
{
	return cw_parse_int(s, 0, 65535, fd);
}

static struct out_file *out_file(struct client *cl, const char *path,
				 bool add);

/* The --out file, opened (as a temporary file beside it) before anything
 * is asked of the service: an existing file or a folder that cannot take
 * it is found before a key is made. */
static enum cw_err
open_output(struct client *cl, const char *path)
{
	struct out_file *o;
	enum cw_err rc;

	cl->out_file = path;
	o = out_file(cl, path, true);
	if (o == NULL)
		return CW_ERR_NOMEM;
	rc = cw_atomic_open(&o->a, path, 0644, cl->force);
	o->staged = rc == CW_OK;
	return rc;
}

/* The files and secrets the command line names; outputs checked early, so
 * that nothing is made on the token for a file that cannot be written. */
static enum cw_err
gather(struct client *cl, struct proto_request *req)
{
	const struct front_scan *s = &cl->scan;
	enum cw_err rc = CW_OK;

	cl->force = front_seen(s, FO_FORCE) ||
		    (s->verb && strcmp(s->verb->name, "request") != 0);
	for (size_t i = 0; i < s->n_args && rc == CW_OK; i++) {
		const struct front_arg *a = &s->args[i];
		struct cw_secret *secret = NULL;
		enum cw_err r = CW_OK;
		struct cw_buf b;
		struct stat st;
		const char *name = a->secret ? a->secret : a->value;
		int fd, level = cw_log_get_level();

		/* a part that cannot be read is reported by the verb, where
		 * it needs it (after its own usage checks) */
		cw_log_set_level(CW_LOG_QUIET);
		cw_buf_init(&b);
		switch (a->role) {
		case ROLE_IN_FILE:
			r = read_input(a->value, &b);
			if (r == CW_OK)
				rc = proto_request_add_input(req, name, &b);
			break;
		case ROLE_SECRET_FILE:
			r = cw_secret_from_file(a->value, &secret);
			if (r == CW_OK)
				rc = proto_request_add_secret(req, name, secret);
			break;
		case ROLE_SECRET_FD:
			if (!parse_fd(a->value, &fd)) {
				cw_error("'%s' is not a descriptor", a->value);
				r = CW_ERR_USAGE;
			} else {
				r = cw_secret_from_fd(fd, &secret);
				close(fd); /* read once, never passed on */
			}
			if (r == CW_OK)
				rc = proto_request_add_secret(req, name, secret);
			break;
		default:
			break;
		}
		cw_buf_release(&b);
		cw_log_set_level((enum cw_log_level)level);
		if (r != CW_OK)
			rc = proto_request_add_failure(req, name, r,
						       cw_last_error());
		else if (a->role == ROLE_OUT_FILE)
			rc = open_output(cl, a->value);
		else if (a->role == ROLE_OUT_DIR) {
			cl->out_dir = a->value;
			if (stat(a->value, &st) != 0 || !S_ISDIR(st.st_mode)) {
				cw_error("the folder '%s' does not exist",
					 a->value);
				rc = CW_ERR_NOT_FOUND;
			}
		}
	}
	return rc;
}

/* Where certwizd is: beside this program, else where it was installed. */
static char *
certwizd_path(void)
{
	const char *env = secure_getenv("CERTWIZD");
	char self[PATH_MAX];
	ssize_t n;

	if (env != NULL && env[0] == '/')
		return strdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *p;

		self[n] = 0;
		p = cw_printf("%s/certwizd", dirname(self));
		if (p != NULL && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return strdup(CERTWIZD_PATH);
}

/* Root without a running service: certwizd --one-shot on a socket pair. */
static int
spawn_one_shot(struct client *cl)
{
	posix_spawn_file_actions_t fa;
	char *path = certwizd_path(), *argv[8];
	int sv[2], argc = 0, e;

	if (path == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				       sv) != 0) {
		free(path);
		return -1;
	}
	if (cw_check_trusted(path, "certwizd") != CW_OK) {
		free(path);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	argv[argc++] = path;
	argv[argc++] = "--one-shot";
	argv[argc++] = "3";
	if (cl->scan.config != NULL) {
		argv[argc++] = "--config";
		argv[argc++] = (char *)cl->scan.config;
	}
	argv[argc] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	/* nothing else of the caller's: secret descriptors were read and
	 * closed, and no other one is the service's business */
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	e = posix_spawn(&cl->child, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (e != 0) {
		cw_error("cannot run '%s': %s", path, strerror(e));
		close(sv[0]);
		cl->child = 0;
		free(path);
		return -1;
	}
	free(path);
	return sv[0];
}

static int
connect_service(struct client *cl)
{
	const char *conf = cl->scan.config;
	char *path;
	struct sockaddr_un sa;
	int fd, e;

	if (cl->scan.no_service) {
		if (getuid() != 0) {
			cw_error("--no-service is for root");
			return -1;
		}
		return spawn_one_shot(cl);
	}
	if (conf == NULL)
		conf = getenv("CERTWIZ_CONF");
	if (conf == NULL)
		conf = CW_CONFIG_DEFAULT_PATH;
	path = cw_config_socket(conf);
	if (path == NULL)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (strlen(path) < sizeof(sa.sun_path) && fd >= 0) {
		strcpy(sa.sun_path, path);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			free(path);
			return fd;
		}
	}
	e = errno;
	if (fd >= 0)
		close(fd);
	if (getuid() == 0 && (e == ENOENT || e == ECONNREFUSED)) {
		free(path);
		return spawn_one_shot(cl);
	}
	cw_error("cannot reach the certwiz service at '%s': %s (is certwizd "
		 "running?)",
		 path, strerror(e));
	free(path);
	return -1;
}

static void
ack(int fd, bool ok, const char *error)
{
	json_t *j = json_pack("{s:b}", "ok", ok);

	if (j != NULL && error != NULL)
		json_object_set_new(j, "error", json_string(error));
	proto_send_json(fd, -1, P_ACK, j);
}

/* Whether the service may have the client write path: the --out file, or
 * a plain name inside the --out folder. */
static bool
expected(const struct client *cl, const char *path)
{
	size_t n;
	const char *base;

	if (cl->out_file && strcmp(path, cl->out_file) == 0)
		return true;
	if (cl->out_dir == NULL)
		return false;
	n = strlen(cl->out_dir);
	if (strncmp(path, cl->out_dir, n) != 0 || path[n] != '/')
		return false;
	base = path + n + 1;
	return base[0] && base[0] != '.' && strchr(base, '/') == NULL;
}

static struct out_file *
out_file(struct client *cl, const char *path, bool add)
{
	for (size_t i = 0; i < cl->n_files; i++)
		if (strcmp(cl->files[i].path, path) == 0)
			return &cl->files[i];
	if (!add || cl->n_files == sizeof(cl->files) / sizeof(cl->files[0]))
		return NULL;
	cl->files[cl->n_files].path = strdup(path);
	cl->files[cl->n_files].a.fd = -1;
	return cl->files[cl->n_files].path ? &cl->files[cl->n_files++] : NULL;
}

static void
on_stage(struct client *cl, int fd, const struct proto_frame *f)
{
	const unsigned char *rest, *data;
	const char *path;
	struct out_file *o;
	json_t *h = NULL;
	size_t n, hn;
	bool first;
	enum cw_err rc = CW_ERR_PARSE;

	if (!proto_split(f, &path, &rest, &n) || !expected(cl, path) ||
	    (o = out_file(cl, path, true)) == NULL) {
		ack(fd, false, "not a file this command writes");
		return;
	}
	data = memchr(rest, 0, n);
	hn = data ? (size_t)(data - rest) : 0;
	if (data != NULL)
		h = json_loadb((const char *)rest, hn, 0, NULL);
	if (h == NULL || o->failed) {
		json_decref(h);
		ack(fd, false, "malformed file");
		return;
	}
	data++;
	n -= hn + 1;
	first = json_integer_value(json_object_get(h, "offset")) == 0;
	if (first && o->staged && o->written)
		rc = CW_ERR_PARSE; /* staged twice */
	else if (first && !o->staged)
		rc = cw_atomic_open(&o->a, path,
				    (int)json_integer_value(
					    json_object_get(h, "mode")) & 0666,
				    cl->force);
	else
		rc = o->staged ? CW_OK : CW_ERR_PARSE;
	o->staged = rc == CW_OK;
	if (rc == CW_OK)
		rc = cw_atomic_write(&o->a, data, n);
	o->written = true;
	if (rc != CW_OK)
		o->failed = true;
	json_decref(h);
	ack(fd, rc == CW_OK, rc == CW_OK ? NULL : cw_last_error());
}

static void
on_publish(struct client *cl, int fd, const struct proto_frame *f,
	   bool retract)
{
	char *path = strndup((const char *)f->body.data, f->body.len);
	struct out_file *o = path ? out_file(cl, path, false) : NULL;
	enum cw_err rc = CW_ERR_PARSE;

	if (o != NULL && retract) {
		if (o->published)
			unlink(o->path);
		cw_atomic_abort(&o->a);
		o->published = o->staged = false;
		rc = CW_OK;
	} else if (o != NULL && o->staged && !o->failed) {
		rc = cw_atomic_commit(&o->a);
		o->published = rc == CW_OK;
		o->staged = false;
	}
	ack(fd, rc == CW_OK, rc == CW_OK ? NULL : cw_last_error());
	free(path);
}

static void
on_prompt(int fd, const struct proto_frame *f)
{
	json_t *j = proto_json(f);
	const char *prompt = json_string_value(json_object_get(j, "prompt"));
	const char *name = json_string_value(json_object_get(j, "name"));
	struct cw_secret *s = NULL;

	if (prompt != NULL && name != NULL &&
	    cw_secret_prompt(prompt, &s) == CW_OK)
		proto_send(fd, -1, P_SECRET, name, strlen(name) + 1,
			   cw_secret_data(s), cw_secret_len(s));
	else
		proto_send(fd, -1, P_NOSECRET, "none", 4, NULL, 0);
	cw_secret_free(s);
	json_decref(j);
}

static void
write_all(int fd, const struct cw_buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = write(fd, b->data + off, b->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/* Answers the service until it says how the verb ended. */
static int
converse(struct client *cl, int fd)
{
	struct proto_frame f = { 0, { NULL, 0, 0 } };
	json_t *j;
	int code = -1;

	while (code < 0) {
		enum cw_err rc = proto_recv(fd, -1, PROTO_MAX_FILE, &f);

		if (rc != CW_OK)
			break;
		switch (f.type) {
		case P_STDOUT: write_all(STDOUT_FILENO, &f.body); break;
		case P_STDERR: write_all(STDERR_FILENO, &f.body); break;
		case P_PROMPT: on_prompt(fd, &f); break;
		case P_STAGE: on_stage(cl, fd, &f); break;
		case P_PUBLISH: on_publish(cl, fd, &f, false); break;
		case P_RETRACT: on_publish(cl, fd, &f, true); break;
		case P_EXIT:
			j = proto_json(&f);
			code = json_is_integer(json_object_get(j, "code"))
				       ? (int)json_integer_value(
						 json_object_get(j, "code"))
				       : 1;
			json_decref(j);
			break;
		default:
			code = 1;
			cw_error("unexpected answer from the service");
		}
	}
	proto_frame_release(&f);
	return code;
}

/* A one-shot certwizd killed by a signal: this process ends the same way,
 * so that the caller sees what happened to the command. */
static int
end_child(struct client *cl, int code)
{
	int status = 0;

	if (cl->child <= 0)
		return code;
	while (waitpid(cl->child, &status, 0) < 0 && errno == EINTR)
		;
	if (code < 0 && WIFSIGNALED(status)) {
		cw_error("the service process was killed (signal %d)",
			 WTERMSIG(status));
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
	}
	if (code < 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0)
		return WEXITSTATUS(status);
	return code;
}

int
main(int argc, char **argv)
{
	struct client cl;
	struct proto_request req;
	int fd = -1, code = 1;

	memset(&cl, 0, sizeof(cl));
	cw_secret_harden_process();
	signal(SIGPIPE, SIG_IGN);
	if (front_scan(argc, argv, &cl.scan) != 0)
		return 2;
	if (cl.scan.verbose < 0)
		cw_log_set_level(CW_LOG_QUIET);
	if (cl.scan.version) {
		printf("certwiz %s\n", CERTWIZ_VERSION);
		return 0;
	}
	if (cl.scan.verb_index >= argc) {
		if (cl.scan.help) {
			front_help_verb(stdout, NULL);
			return 0;
		}
		return front_usage(NULL);
	}
	if (cl.scan.verb == NULL) {
		cw_error("unknown command '%s' (see 'certwiz --help')",
			 argv[cl.scan.verb_index]);
		return 2;
	}
	if (cl.scan.help || (cl.scan.verb->flags & VERB_LOCAL))
		return local_help(&cl.scan, argc, argv);
	proto_request_init(&req);
	req.argc = argc;
	req.argv = argv;
	req.terminal = cw_secret_can_prompt();
	code = cw_exit_code(gather(&cl, &req));
	if (code == 0 && (fd = connect_service(&cl)) < 0)
		code = 1;
	if (fd >= 0) {
		if (proto_request_send(fd, -1, &req) == CW_OK)
			code = converse(&cl, fd);
		else
			code = -1;
		close(fd);
		code = end_child(&cl, code);
		if (code < 0) {
			cw_error("the service ended without an answer");
			code = 1;
		}
	}
	for (size_t i = 0; i < cl.n_files; i++) {
		cw_atomic_abort(&cl.files[i].a);
		free(cl.files[i].path);
	}
	/* argv is borrowed: release only what gather added */
	req.argc = 0;
	req.argv = NULL;
	proto_request_release(&req);
	return code;
}
