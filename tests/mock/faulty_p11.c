/*
 * faulty-p11: a PKCS#11 module for tests that forwards to a real module
 * (FAULTY_P11_MODULE, default SoftHSM2) and injects faults SoftHSM2 cannot
 * produce on demand.
 *
 *   FAULTY_P11="C_Sign:1:CKR_DEVICE_REMOVED,*:7:CKR_GENERAL_ERROR"
 *       return the code on the Nth call of that function ("*": the Nth call
 *       of any wrapped function; N=0: every call)
 *   FAULTY_P11_FLAGS="final_try,count_low,locked"
 *       set these user-PIN flags in C_GetTokenInfo
 *   FAULTY_P11_LOG=FILE
 *       append the name of every wrapped call, one per line
 *   FAULTY_P11_NO_EC=1
 *       a token without elliptic curves (as openCryptoki's soft token):
 *       the EC mechanisms are not listed and their information is refused
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_FUNCTION_LIST real_list, *real;
static CK_FUNCTION_LIST list;
static unsigned long calls_total;

struct fault {
	char name[64];
	unsigned long nth;
	CK_RV rv;
	unsigned long seen;
};

static struct fault faults[16];
static size_t n_faults;

static const struct {
	const char *name;
	CK_RV rv;
} codes[] = {
	{ "CKR_PIN_INCORRECT", CKR_PIN_INCORRECT },
	{ "CKR_PIN_LOCKED", CKR_PIN_LOCKED },
	{ "CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT },
	{ "CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED },
	{ "CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID },
	{ "CKR_DEVICE_ERROR", CKR_DEVICE_ERROR },
	{ "CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED },
	{ "CKR_GENERAL_ERROR", CKR_GENERAL_ERROR },
	{ "CKR_HOST_MEMORY", CKR_HOST_MEMORY },
	{ "CKR_TEMPLATE_INCONSISTENT", CKR_TEMPLATE_INCONSISTENT },
	{ "CKR_ATTRIBUTE_VALUE_INVALID", CKR_ATTRIBUTE_VALUE_INVALID },
};

static void
parse_faults(void)
{
	const char *spec = getenv("FAULTY_P11");
	char *copy, *save = NULL;

	if (spec == NULL || (copy = strdup(spec)) == NULL)
		return;
	for (char *tok = strtok_r(copy, ",", &save);
	     tok && n_faults < sizeof(faults) / sizeof(faults[0]);
	     tok = strtok_r(NULL, ",", &save)) {
		char *a = strchr(tok, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		struct fault *f = &faults[n_faults];

		if (b == NULL)
			continue;
		*a = *b = 0;
		snprintf(f->name, sizeof(f->name), "%s", tok);
		f->nth = strtoul(a + 1, NULL, 10);
		f->rv = CKR_GENERAL_ERROR;
		for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			if (strcmp(codes[i].name, b + 1) == 0)
				f->rv = codes[i].rv;
		n_faults++;
	}
	free(copy);
}

/* Logs the call; returns the fault to inject, or CKR_OK. */
static CK_RV
inject(const char *name)
{
	const char *log = getenv("FAULTY_P11_LOG");
	CK_RV rv = CKR_OK;

	calls_total++;
	if (log != NULL) {
		FILE *f = fopen(log, "a");

		if (f != NULL) {
			fprintf(f, "%s\n", name);
			fclose(f);
		}
	}
	for (size_t i = 0; i < n_faults && rv == CKR_OK; i++) {
		struct fault *f = &faults[i];
		bool any = strcmp(f->name, "*") == 0;

		if (!any && strcmp(f->name, name) != 0)
			continue;
		f->seen = any ? calls_total : f->seen + 1;
		if (f->nth == 0 || f->seen == f->nth)
			rv = f->rv;
	}
	return rv;
}

#define WRAP(fn, params, args)                                                 \
	static CK_RV w_##fn params                                             \
	{                                                                      \
		CK_RV rv_ = inject(#fn);                                       \
		if (rv_ != CKR_OK)                                             \
			return rv_;                                            \
		return real->fn args;                                          \
	}

WRAP(C_OpenSession,
     (CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d,
      CK_SESSION_HANDLE_PTR e),
     (a, b, c, d, e))
WRAP(C_Login,
     (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d),
     (a, b, c, d))
WRAP(C_FindObjectsInit,
     (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (a, b, c))
WRAP(C_FindObjects,
     (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c,
      CK_ULONG_PTR d),
     (a, b, c, d))
WRAP(C_GenerateKeyPair,
     (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
      CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g,
      CK_OBJECT_HANDLE_PTR h),
     (a, b, c, d, e, f, g, h))
WRAP(C_SignInit,
     (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c),
     (a, b, c))
WRAP(C_Sign,
     (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
      CK_ULONG_PTR e),
     (a, b, c, d, e))
WRAP(C_CreateObject,
     (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c,
      CK_OBJECT_HANDLE_PTR d),
     (a, b, c, d))
WRAP(C_DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b))
WRAP(C_GetAttributeValue,
     (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d),
     (a, b, c, d))

static CK_RV
w_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	const char *flags = getenv("FAULTY_P11_FLAGS");
	CK_RV rv = inject("C_GetTokenInfo");

	if (rv == CKR_OK)
		rv = real->C_GetTokenInfo(slot, info);
	if (rv == CKR_OK && flags != NULL) {
		if (strstr(flags, "final_try"))
			info->flags |= CKF_USER_PIN_FINAL_TRY;
		if (strstr(flags, "count_low"))
			info->flags |= CKF_USER_PIN_COUNT_LOW;
		if (strstr(flags, "locked"))
			info->flags |= CKF_USER_PIN_LOCKED;
	}
	return rv;
}

static bool
is_ec(CK_MECHANISM_TYPE t)
{
	return t == CKM_EC_KEY_PAIR_GEN || t == CKM_ECDSA ||
	       t == CKM_ECDSA_SHA1 || t == CKM_ECDSA_SHA224 ||
	       t == CKM_ECDSA_SHA256 || t == CKM_ECDSA_SHA384 ||
	       t == CKM_ECDSA_SHA512 || t == CKM_ECDH1_DERIVE;
}

static CK_RV
w_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE t,
		     CK_MECHANISM_INFO_PTR info)
{
	if (getenv("FAULTY_P11_NO_EC") && is_ec(t))
		return CKR_MECHANISM_INVALID;
	return real->C_GetMechanismInfo(slot, t, info);
}

static CK_RV
w_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR v,
		     CK_ULONG_PTR n)
{
	CK_RV rv = real->C_GetMechanismList(slot, v, n);
	CK_ULONG kept = 0;

	if (rv != CKR_OK || v == NULL || !getenv("FAULTY_P11_NO_EC"))
		return rv;
	for (CK_ULONG i = 0; i < *n; i++)
		if (!is_ec(v[i]))
			v[kept++] = v[i];
	*n = kept;
	return rv;
}

static CK_RV
w_C_GenerateKeyPair_ec(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b,
		       CK_ATTRIBUTE_PTR c, CK_ULONG d, CK_ATTRIBUTE_PTR e,
		       CK_ULONG f, CK_OBJECT_HANDLE_PTR g,
		       CK_OBJECT_HANDLE_PTR h)
{
	if (getenv("FAULTY_P11_NO_EC") && b && is_ec(b->mechanism))
		return CKR_MECHANISM_INVALID;
	return w_C_GenerateKeyPair(a, b, c, d, e, f, g, h);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	const char *path = getenv("FAULTY_P11_MODULE");
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_FUNCTION_LIST_PTR r = NULL;
	void *h;

	if (real == NULL) {
		h = dlopen(path ? path : "/usr/lib/softhsm/libsofthsm2.so",
			   RTLD_NOW | RTLD_LOCAL);
		get = h ? (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(
				  h, "C_GetFunctionList")
			: NULL;
		if (get == NULL || get(&r) != CKR_OK)
			return CKR_GENERAL_ERROR;
		real_list = *r;
		real = &real_list;
		list = *r;
		list.C_OpenSession = w_C_OpenSession;
		list.C_Login = w_C_Login;
		list.C_FindObjectsInit = w_C_FindObjectsInit;
		list.C_FindObjects = w_C_FindObjects;
		list.C_GenerateKeyPair = w_C_GenerateKeyPair_ec;
		list.C_GetMechanismInfo = w_C_GetMechanismInfo;
		list.C_GetMechanismList = w_C_GetMechanismList;
		list.C_SignInit = w_C_SignInit;
		list.C_Sign = w_C_Sign;
		list.C_CreateObject = w_C_CreateObject;
		list.C_DestroyObject = w_C_DestroyObject;
		list.C_GetAttributeValue = w_C_GetAttributeValue;
		list.C_GetTokenInfo = w_C_GetTokenInfo;
		parse_faults();
	}
	*out = &list;
	return CKR_OK;
}
