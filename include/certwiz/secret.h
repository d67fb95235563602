/* certwiz: secrets (PINs, passwords, HMAC keys). */
#ifndef CW_SECRET_H
#define CW_SECRET_H

#include "certwiz/err.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * A secret lives only in a struct cw_secret: fixed capacity, locked in
 * memory where the system allows, wiped with explicit_bzero when freed.
 * Never copy the bytes anywhere else; pass the struct.
 */
struct cw_secret;

#define CW_SECRET_MAX 256

/* Returns NULL on allocation failure. */
struct cw_secret *cw_secret_new(void);
void cw_secret_free(struct cw_secret *s);
const unsigned char *cw_secret_data(const struct cw_secret *s);
size_t cw_secret_len(const struct cw_secret *s);

/*
 * Called once before any secret is read: no core dumps, not ptrace-able by
 * other users' processes (PR_SET_DUMPABLE 0, RLIMIT_CORE 0).
 */
void cw_secret_harden_process(void);

/*
 * Reads a secret from a file: refused unless the file is a regular file
 * that is neither group nor world readable. One trailing newline (LF or
 * CRLF) is removed. CW_ERR_POLICY for bad modes, CW_ERR_IO otherwise.
 */
enum cw_err cw_secret_from_file(const char *path, struct cw_secret **out);

/* A secret holding n bytes (at most CW_SECRET_MAX). */
enum cw_err cw_secret_from_bytes(const void *p, size_t n,
				 struct cw_secret **out);

/* Reads a secret from an open descriptor, up to EOF or a newline. */
enum cw_err cw_secret_from_fd(int fd, struct cw_secret **out);

/*
 * Prompts on the controlling terminal (/dev/tty) with echo off.
 * CW_ERR_USAGE when there is no terminal.
 */
enum cw_err cw_secret_prompt(const char *prompt, struct cw_secret **out);

/*
 * What is asked for: a token PIN, or another secret (a PKCS#12 password,
 * an EAB MAC key). A front end that cannot prompt on this process's
 * terminal (the service, whose caller is a client on a socket) installs a
 * prompter; cw_secret_prompt, cw_secret_prompt_pin and
 * cw_secret_can_prompt then go through it. NULL restores the terminal.
 */
enum cw_secret_kind { CW_SECRET_OTHER, CW_SECRET_PIN };

/* The options that give the secret a prompt asks for ("PIN for ...",
 * "password for ...", "EAB MAC key ..."), for a message. */
const char *cw_secret_options(const char *prompt);

struct cw_prompter {
	enum cw_err (*ask)(void *user, enum cw_secret_kind kind,
			   const char *prompt, struct cw_secret **out);
	bool (*can)(void *user, enum cw_secret_kind kind);
	void *user;
};

void cw_secret_set_prompter(const struct cw_prompter *p);

/* Prompts for a token PIN (see cw_secret_prompt). */
enum cw_err cw_secret_prompt_pin(const char *prompt, struct cw_secret **out);

/* Where a secret comes from, as given on the command line, or a secret
 * already read (by a caller that prompted at a moment of its choosing). */
struct cw_secret_source {
	const char *file; /* borrowed */
	int fd;           /* -1 when unset */
	const struct cw_secret *value; /* borrowed; NULL when unset */
	enum cw_err error; /* the source could not be read: reported (with
			      error_text) when the secret is needed */
	const char *error_text;
};

/* Whether there is a terminal to prompt on. */
bool cw_secret_can_prompt(void);

/* Whether cw_secret_get would prompt on the terminal for src. */
bool cw_secret_source_prompts(const struct cw_secret_source *src);

/*
 * Reads the secret from the source (a value is copied into a new secret),
 * else prompts with prompt.
 */
enum cw_err cw_secret_get(const struct cw_secret_source *src,
			  const char *prompt, struct cw_secret **out);

#endif
