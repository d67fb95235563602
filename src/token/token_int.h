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

struct tok_session {
	CK_FUNCTION_LIST *m;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE h;
	struct tok_info info;
	bool logged_in;
};

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
