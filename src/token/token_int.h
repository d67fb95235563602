/* Internal to src/token. */
#ifndef CW_TOKEN_INT_H
#define CW_TOKEN_INT_H

#include "certwiz/token.h"

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

struct tok_ctx {
	CK_FUNCTION_LIST **modules; /* NULL-terminated */
	bool single;                /* loaded one module by path */
};

/* Private-key handles this session already knows, by CKA_ID: each
 * lookup would otherwise be a C_FindObjects, which SoftHSM2 answers by
 * checking every object of the token. Valid for the session's life. */
#define TOK_KEY_CACHE 4

struct tok_key_handle {
	unsigned char id[64];
	size_t id_len;          /* 0: empty */
	CK_OBJECT_HANDLE h;
};

struct tok_session {
	CK_FUNCTION_LIST *m;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE h;
	struct tok_info info;
	bool logged_in;
	struct tok_key_handle keys[TOK_KEY_CACHE];
	unsigned next_key;      /* the entry to replace next */
	/* what the last tok_lookup saw: no certificate under this id (so
	 * that writing one right after needs no second scan) */
	struct tok_key_handle no_cert;
};

/* The objects under one CKA_ID, by class (CK_INVALID_HANDLE: none). */
struct tok_handles {
	CK_OBJECT_HANDLE priv, pub, cert;
};

/* One C_FindObjects by CKA_ID, then the class of each object found. */
enum cw_err tok_lookup(struct tok_session *s, const struct cw_buf *id,
		       struct tok_handles *out);

/* The key handle cache: remember, look up, forget (by id). */
void tok_key_remember(struct tok_session *s, const struct cw_buf *id,
		      CK_OBJECT_HANDLE h);
bool tok_key_known(const struct tok_session *s, const struct cw_buf *id,
		   CK_OBJECT_HANDLE *h);
void tok_key_forget(struct tok_session *s, const struct cw_buf *id);

/* Reports rv under the name of the call and maps it to a cw_err. */
enum cw_err tok_fail(const char *call, CK_RV rv);

/* Finds up to max objects of class (or any class when cls is -1) with id. */
enum cw_err tok_find_objects(struct tok_session *s, long cls,
			     const struct cw_buf *id, CK_OBJECT_HANDLE *out,
			     CK_ULONG max, CK_ULONG *n);

/* Reads one variable-length attribute (two-call idiom). */
enum cw_err tok_get_attr(struct tok_session *s, CK_OBJECT_HANDLE o,
			 CK_ATTRIBUTE_TYPE type, struct cw_buf *out);

/* CKA_KEY_TYPE of a key object. */
enum cw_err tok_key_type(struct tok_session *s, CK_OBJECT_HANDLE o,
			 CK_KEY_TYPE *kt);

/* Fills info from a slot and its token; strings are owned by info. */
enum cw_err tok_describe(CK_FUNCTION_LIST *m, CK_SLOT_ID slot,
			 struct tok_info *info);
void tok_info_release(struct tok_info *info);

#endif
