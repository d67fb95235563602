/*
 * The token's floor for one request: what any tool must ask of the module,
 * in one process, with nothing else: C_Initialize, a session, C_Login, one
 * key pair generated with certwiz's template (without the public key's
 * CKA_VERIFY if the token refuses it, as certwiz retries), one signature
 * (over a digest; RSA hashing on the token where it can, as certwiz),
 * C_Finalize. certwiz's request is reported as a ratio to this.
 *
 * usage: floor MODULE TOKEN-LABEL PIN-FILE ec|rsa
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_FUNCTION_LIST *f;

static void
check(const char *what, CK_RV rv)
{
	if (rv != CKR_OK) {
		fprintf(stderr, "floor: %s: 0x%lx\n", what, (unsigned long)rv);
		exit(1);
	}
}

static CK_SLOT_ID
find_slot(const char *label)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	char padded[32];
	size_t len = strlen(label);

	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, len < 32 ? len : 32);
	check("C_GetSlotList", f->C_GetSlotList(CK_TRUE, slots, &n));
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    memcmp(ti.label, padded, 32) == 0)
			return slots[i];
	}
	fprintf(stderr, "floor: no token '%s'\n", label);
	exit(1);
}

int
main(int argc, char **argv)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
					0x3d, 0x03, 0x01, 0x07 };
	/* DigestInfo prefix of SHA-256 and a digest's worth of bytes */
	static const CK_BYTE rsa_input[] = {
		0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20, 1, 2, 3,
		4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
		21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
	};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 2048;
	CK_BYTE e[] = { 1, 0, 1 }, id[16], sig[512], pin[128];
	CK_ULONG sig_len = sizeof(sig), pin_len;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE pub, priv;
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_C_INITIALIZE_ARGS init = { NULL, NULL, NULL, NULL,
				      CKF_OS_LOCKING_OK, NULL };
	FILE *pf;
	void *h;
	int ec;

	if (argc != 5 || (strcmp(argv[4], "ec") && strcmp(argv[4], "rsa"))) {
		fprintf(stderr, "usage: floor MODULE TOKEN-LABEL PIN-FILE ec|rsa\n");
		return 2;
	}
	ec = strcmp(argv[4], "ec") == 0;
	if ((pf = fopen(argv[3], "r")) == NULL ||
	    fgets((char *)pin, sizeof(pin), pf) == NULL)
		return 2;
	fclose(pf);
	pin_len = strcspn((char *)pin, "\r\n");
	h = dlopen(argv[1], RTLD_NOW);
	get = h ? (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(h, "C_GetFunctionList")
		: NULL;
	if (get == NULL)
		return 2;
	check("C_GetFunctionList", get(&f));
	check("C_Initialize", f->C_Initialize(&init));
	check("C_OpenSession",
	      f->C_OpenSession(find_slot(argv[2]),
			       CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
			       &s));
	check("C_Login", f->C_Login(s, CKU_USER, pin, pin_len));
	check("C_GenerateRandom", f->C_GenerateRandom(s, id, sizeof(id)));
	{
		CK_ATTRIBUTE pub_t[] = {
			{ CKA_TOKEN, &yes, 1 },
			{ CKA_VERIFY, &yes, 1 },
			{ CKA_ID, id, sizeof(id) },
			{ ec ? CKA_EC_PARAMS : CKA_MODULUS_BITS,
			  ec ? (void *)p256 : (void *)&bits,
			  ec ? sizeof(p256) : sizeof(bits) },
			{ CKA_PUBLIC_EXPONENT, e, sizeof(e) },
		};
		CK_ATTRIBUTE priv_t[] = {
			{ CKA_TOKEN, &yes, 1 },	    { CKA_PRIVATE, &yes, 1 },
			{ CKA_SENSITIVE, &yes, 1 }, { CKA_EXTRACTABLE, &no, 1 },
			{ CKA_SIGN, &yes, 1 },	    { CKA_DECRYPT, &no, 1 },
			{ CKA_UNWRAP, &no, 1 },	    { CKA_DERIVE, &no, 1 },
			{ CKA_ID, id, sizeof(id) },
		};
		CK_MECHANISM gen = { ec ? CKM_EC_KEY_PAIR_GEN
					: CKM_RSA_PKCS_KEY_PAIR_GEN,
				     NULL, 0 };

		CK_RV rv = f->C_GenerateKeyPair(s, &gen, pub_t, ec ? 4 : 5,
		                                priv_t, 9, &pub, &priv);

		/* tpm2-pkcs11 refuses the public CKA_VERIFY: the same retry
		 * certwiz makes, without it */
		if (rv != CKR_OK) {
			pub_t[1] = pub_t[ec ? 3 : 4];
			rv = f->C_GenerateKeyPair(s, &gen, pub_t, ec ? 3 : 4,
			                          priv_t, 9, &pub, &priv);
		}
		check("C_GenerateKeyPair", rv);
	}
	{
		/* RSA: CKM_SHA256_RSA_PKCS where the token has it, as certwiz
		 * does (tpm2-pkcs11 makes CKM_RSA_PKCS a TPM decryption, which
		 * a sign-only key refuses), else a DigestInfo with
		 * CKM_RSA_PKCS */
		CK_MECHANISM_INFO mi;
		int hashed =
		    !ec &&
		    f->C_GetMechanismInfo(find_slot(argv[2]),
		                          CKM_SHA256_RSA_PKCS, &mi) == CKR_OK &&
		    (mi.flags & CKF_SIGN);
		CK_MECHANISM m = {ec       ? CKM_ECDSA
		                  : hashed ? CKM_SHA256_RSA_PKCS
		                           : CKM_RSA_PKCS,
		                  NULL, 0};
		int digest_only = ec || hashed;

		check("C_SignInit", f->C_SignInit(s, &m, priv));
		check("C_Sign",
		      f->C_Sign(
		          s, (CK_BYTE_PTR)rsa_input + (digest_only ? 19 : 0),
		          digest_only ? 32 : sizeof(rsa_input), sig, &sig_len));
	}
	f->C_Logout(s);
	f->C_CloseSession(s);
	check("C_Finalize", f->C_Finalize(NULL));
	return 0;
}
