#define _DEFAULT_SOURCE
#include "certwiz/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

struct cw_secret {
	size_t len;
	bool locked;
	unsigned char data[CW_SECRET_MAX + 1];
};

struct cw_secret *
cw_secret_new(void)
{
	struct cw_secret *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->locked = mlock(s, sizeof(*s)) == 0;
	return s;
}

void
cw_secret_free(struct cw_secret *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s->data, sizeof(s->data));
	s->len = 0;
	if (s->locked)
		munlock(s, sizeof(*s));
	free(s);
}

const unsigned char *
cw_secret_data(const struct cw_secret *s)
{
	return s->data;
}

size_t
cw_secret_len(const struct cw_secret *s)
{
	return s->len;
}

void
cw_secret_harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Reads up to EOF or newline into s; strips a trailing CR. */
static enum cw_err
read_secret(int fd, struct cw_secret *s)
{
	s->len = 0;
	for (;;) {
		unsigned char c;
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return CW_ERR_IO;
		if (n == 0 || c == '\n')
			break;
		if (s->len == CW_SECRET_MAX) {
			cw_error("secret is longer than %d bytes",
				 CW_SECRET_MAX);
			return CW_ERR_USAGE;
		}
		s->data[s->len++] = c;
	}
	if (s->len > 0 && s->data[s->len - 1] == '\r')
		s->len--;
	s->data[s->len] = 0;
	return CW_OK;
}

enum cw_err
cw_secret_from_bytes(const void *p, size_t n, struct cw_secret **out)
{
	struct cw_secret *s;

	if (n > CW_SECRET_MAX) {
		cw_error("secret is longer than %d bytes", CW_SECRET_MAX);
		return CW_ERR_USAGE;
	}
	if ((s = cw_secret_new()) == NULL)
		return CW_ERR_NOMEM;
	memcpy(s->data, p, n);
	s->len = n;
	s->data[n] = 0;
	*out = s;
	return CW_OK;
}

enum cw_err
cw_secret_from_fd(int fd, struct cw_secret **out)
{
	struct cw_secret *s = cw_secret_new();
	enum cw_err rc;

	if (s == NULL)
		return CW_ERR_NOMEM;
	rc = read_secret(fd, s);
	if (rc != CW_OK) {
		cw_error("cannot read secret from descriptor %d", fd);
		cw_secret_free(s);
		return rc;
	}
	*out = s;
	return CW_OK;
}

enum cw_err
cw_secret_from_file(const char *path, struct cw_secret **out)
{
	struct cw_secret *s = NULL;
	struct stat st;
	enum cw_err rc = CW_ERR_IO;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		cw_error("cannot open secret file '%s': %s", path,
			 strerror(errno));
		return CW_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cw_error("secret file '%s' is not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		cw_error("secret file '%s' is readable by group or others "
			 "(mode %04o); chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
		rc = CW_ERR_POLICY;
		goto out;
	}
	s = cw_secret_new();
	if (s == NULL) {
		rc = CW_ERR_NOMEM;
		goto out;
	}
	rc = read_secret(fd, s);
	if (rc != CW_OK) {
		cw_error("cannot read secret file '%s'", path);
		goto out;
	}
	*out = s;
	s = NULL;
	rc = CW_OK;
out:
	cw_secret_free(s);
	close(fd);
	return rc;
}

static const struct cw_prompter *prompter;

void
cw_secret_set_prompter(const struct cw_prompter *p)
{
	prompter = p;
}

static enum cw_err tty_prompt(const char *prompt, struct cw_secret **out);

enum cw_err
cw_secret_prompt(const char *prompt, struct cw_secret **out)
{
	if (prompter != NULL)
		return prompter->ask(prompter->user, CW_SECRET_OTHER, prompt,
				     out);
	return tty_prompt(prompt, out);
}

enum cw_err
cw_secret_prompt_pin(const char *prompt, struct cw_secret **out)
{
	if (prompter != NULL)
		return prompter->ask(prompter->user, CW_SECRET_PIN, prompt,
				     out);
	return tty_prompt(prompt, out);
}

const char *
cw_secret_options(const char *prompt)
{
	if (strncmp(prompt, "PIN", 3) == 0)
		return "give it with --pin-file F or --pin-fd N";
	if (strncmp(prompt, "password", 8) == 0)
		return "give it with --password-file F";
	if (strncmp(prompt, "EAB", 3) == 0)
		return "give it with --eab-hmac-file F or --eab-hmac-fd N";
	return "give it in a file or on a descriptor";
}

static enum cw_err
tty_prompt(const char *prompt, struct cw_secret **out)
{
	struct cw_secret *s = NULL;
	struct termios old, quiet;
	enum cw_err rc = CW_ERR_USAGE;
	int fd;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		cw_error("no terminal to ask for the %s; %s", prompt,
			 cw_secret_options(prompt));
		return CW_ERR_USAGE;
	}
	if (tcgetattr(fd, &old) != 0) {
		cw_error("cannot read terminal settings");
		goto out;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (dprintf(fd, "Enter %s: ", prompt) < 0 ||
	    tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
		goto out;
	s = cw_secret_new();
	rc = s ? read_secret(fd, s) : CW_ERR_NOMEM;
	tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	if (rc != CW_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	cw_secret_free(s);
	close(fd);
	return rc;
}

enum cw_err
cw_secret_get(const struct cw_secret_source *src, const char *prompt,
	      struct cw_secret **out)
{
	if (src != NULL && src->error != CW_OK) {
		cw_error("%s", src->error_text ? src->error_text
					       : "the secret cannot be read");
		return src->error;
	}
	if (src != NULL && src->value != NULL) {
		struct cw_secret *s = cw_secret_new();

		if (s == NULL)
			return CW_ERR_NOMEM;
		memcpy(s->data, src->value->data, src->value->len);
		s->len = src->value->len;
		*out = s;
		return CW_OK;
	}
	if (src != NULL && src->file != NULL)
		return cw_secret_from_file(src->file, out);
	if (src != NULL && src->fd >= 0)
		return cw_secret_from_fd(src->fd, out);
	return cw_secret_prompt(prompt, out);
}

bool
cw_secret_source_prompts(const struct cw_secret_source *src)
{
	return src == NULL || (src->value == NULL && src->file == NULL &&
			       src->fd < 0 && src->error == CW_OK);
}

bool
cw_secret_can_prompt(void)
{
	int fd;

	if (prompter != NULL)
		return prompter->can(prompter->user, CW_SECRET_OTHER);
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}
