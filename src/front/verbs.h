/*
 * certwiz front ends: the verbs and their options, shared by the client
 * (certwiz) and the service (certwizd), so that both parse a command line
 * the same way. The client uses the roles to find what it must read or
 * write itself (files, secrets); the service runs the verb.
 */
#ifndef CW_FRONT_VERBS_H
#define CW_FRONT_VERBS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/* Option ids (getopt's val), unique across verbs. */
enum fo {
	FO_JSON = 1000,
	FO_HOST,
	FO_PIN_FILE,
	FO_PIN_FD,
	FO_USAGE,
	FO_OFFLINE,
	FO_OUT,
	FO_KEY,
	FO_TOKEN,
	FO_NAME,
	FO_FORCE,
	FO_CA,
	FO_WAIT,
	FO_ASSIGN,
	FO_EAB_KID,
	FO_EAB_FILE,
	FO_EAB_FD,
	FO_PASSWORD_FILE,
	FO_REQUESTS,
	FO_KEYS,
	FO_CERTS,
	FO_EFFECTIVE_AT,
	FO_PEM,
	FO_SINCE,
	FO_PUBKEY,
	FO_ANCHOR,
	FO_ALL,
	FO_MAN,
	FO_ACCEPT_MISMATCH,
	FO_DAYS,
	FO_SERVER,
	FO_SERVER_USER,
	FO_PIN_SOURCE,
	FO_DRY_RUN,
	FO_CA_SECRET_FILE,
	FO_CA_SECRET_FD,
	FO_CA_REFERENCE,
	FO_TEMPLATE,
	FO__MAX
};

/* What an option's argument (or a positional argument) is to the
 * client. */
enum fo_role {
	ROLE_NONE = 0,
	ROLE_IN_FILE,    /* a file the client reads and sends */
	ROLE_OUT_FILE,   /* a file the client writes */
	ROLE_OUT_DIR,    /* a folder the client writes files into */
	ROLE_SECRET_FILE, /* a secret the client reads from a file */
	ROLE_SECRET_FD,  /* a secret the client reads from a descriptor */
};

struct fo_role_def {
	int opt;            /* FO_* */
	enum fo_role role;
	const char *secret; /* the secret's name on the wire */
};

/* Verb flags. */
enum {
	VERB_CHANGES = 1, /* changes state: failures are audited, a due
			     checkpoint is written after a success */
	VERB_LOCAL = 2,   /* answered by the client alone (help) */
};

struct front_verb {
	const char *name;
	unsigned flags;
	const struct option *opts;      /* for getopt_long, NULL-terminated */
	const struct fo_role_def *roles; /* terminated by opt 0 */
	/* the index of the positional argument that is an input file, or -1,
	 * given the positional arguments */
	int (*in_file)(int npos, char **pos);
};

/* The verb called name, or NULL. */
const struct front_verb *front_verb(const char *name);
/* Every verb, in the order of the help. */
const struct front_verb *front_verbs(size_t *n);

/* Secret names on the wire. */
#define SECRET_PIN "pin"
#define SECRET_PASSWORD "password"
#define SECRET_EAB "eab-hmac"
#define SECRET_CA "ca-secret"

/* The global options (before the verb). */
extern const struct option front_global_opts[];
#define FRONT_GLOBAL_SHORT "+c:vqhV"
#define FO_NO_SERVICE 'N' 

/*
 * One option or positional argument of a scanned command line that the
 * client must act on.
 */
struct front_arg {
	enum fo_role role;
	int opt;            /* FO_*, or 0 for a positional argument */
	const char *value;  /* borrowed from argv */
	const char *secret; /* for the secret roles */
};

/*
 * What a command line asks for, found with the verb's option table.
 * Borrowed strings point into argv.
 */
struct front_scan {
	const struct front_verb *verb;
	int verb_index;        /* argv index of the verb */
	const char *config;    /* --config */
	const char *host;      /* --host (the last one) */
	bool json, help, version;
	bool no_service;       /* --no-service (root: one-shot) */
	int verbose;           /* -v: 1, -q: -1 */
	struct front_arg args[16];
	size_t n_args;
	unsigned char seen[FO__MAX - FO_JSON]; /* how often each option */
	const char *pos[8];    /* positional arguments after the verb */
	int n_pos;
};

/*
 * Scans argv (argv[0] is the program) with the global and the verb's
 * options, without changing argv. Returns 0, or 2 for a usage error
 * (already reported on stderr with the verb's usage line).
 */
int front_scan(int argc, char **argv, struct front_scan *out);

/* How many times option FO_* was given. */
unsigned front_seen(const struct front_scan *s, int opt);

/* Help: one source for --help, 'certwiz help' and the man page. */
#include <stdio.h>
void front_help_verb(FILE *f, const char *verb);
/* "usage: ..." for the verb on stderr; returns 2. */
int front_usage(const char *verb);
void front_man(FILE *f);

#endif
