/* certwiz: audit events, their hash chain and checkpoints (pure). */
#ifndef CW_AUDIT_H
#define CW_AUDIT_H

#include "certwiz/err.h"
#include "certwiz/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* 64 zeros: the hash before the first event. */
#define AUDIT_GENESIS                                                         \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* One event. Strings are borrowed by the functions below. */
struct audit_event {
	int64_t seq;
	char time[32];      /* RFC 3339 UTC */
	unsigned uid;
	const char *user;
	const char *host;
	const char *operation;
	const char *target;  /* JSON object text */
	const char *outcome; /* success | failure | denied */
	const char *reason;  /* may be NULL */
};

/*
 * The canonical JSON of an event (sorted keys, no spaces), what the hash
 * covers and what `audit export` writes; the target's text goes in as it
 * is stored. Caller frees; NULL when a field is not valid UTF-8.
 */
char *audit_canonical(const struct audit_event *e);

/* Whether a target's text is a JSON object in the form certwiz writes
 * (compact, sorted keys, no key twice): what verify requires. */
bool audit_target_canonical(const char *target);

/* hash_i = SHA-256(hash_{i-1} || canonical(event_i)), lowercase hex. */
enum cw_err audit_hash(const char *prev, const struct audit_event *e,
		       char out[65]);

/* The bytes a checkpoint signature covers. Caller frees. */
char *audit_checkpoint_message(int64_t seq, const char *hash,
			       const char *time);

/* A target object built from pairs: audit_target("usage", u, "cert",
 * sha, NULL); NULL values are left out. Caller frees. */
char *audit_target(const char *key, ...);

#endif
