#define _DEFAULT_SOURCE
#include "certwiz/key.h"

#include <string.h>
#include <strings.h>

static const unsigned char oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
					  0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char oid_p384[] = { 0x06, 0x05, 0x2b, 0x81,
					  0x04, 0x00, 0x22 };

static const struct cw_keyspec specs[] = {
	{ CW_KEY_EC, 256, "ec:P-256", oid_p256, sizeof(oid_p256) },
	{ CW_KEY_EC, 384, "ec:P-384", oid_p384, sizeof(oid_p384) },
	{ CW_KEY_RSA, 2048, "rsa:2048", NULL, 0 },
	{ CW_KEY_RSA, 3072, "rsa:3072", NULL, 0 },
	{ CW_KEY_RSA, 4096, "rsa:4096", NULL, 0 },
};

#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

/* Accepted alternative names for the curves. */
static const struct {
	const char *alias;
	const char *name;
} aliases[] = {
	{ "ec:p-256", "ec:P-256" },   { "ec:p256", "ec:P-256" },
	{ "ec:prime256v1", "ec:P-256" }, { "ec:secp256r1", "ec:P-256" },
	{ "ec:p-384", "ec:P-384" },   { "ec:p384", "ec:P-384" },
	{ "ec:secp384r1", "ec:P-384" },
};

enum cw_err
cw_keyspec_parse(const char *s, struct cw_keyspec *out)
{
	const char *name = s;

	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcasecmp(s, aliases[i].alias) == 0)
			name = aliases[i].name;
	for (size_t i = 0; i < N_SPECS; i++) {
		if (strcmp(name, specs[i].name) == 0) {
			*out = specs[i];
			return CW_OK;
		}
	}
	if (strncmp(s, "rsa:", 4) == 0)
		cw_error("key spec '%s' is not allowed: RSA keys are 2048, "
			 "3072 or 4096 bits",
			 s);
	else if (strncmp(s, "ec:", 3) == 0)
		cw_error("key spec '%s' is not allowed: EC keys are P-256 or "
			 "P-384",
			 s);
	else
		cw_error("key spec '%s' is not understood: use ec:P-256, "
			 "ec:P-384, rsa:2048, rsa:3072 or rsa:4096",
			 s);
	return CW_ERR_POLICY;
}

enum cw_err
cw_keyspec_from_ec_params(const unsigned char *p, size_t n,
			  struct cw_keyspec *out)
{
	for (size_t i = 0; i < N_SPECS; i++) {
		if (specs[i].type == CW_KEY_EC && specs[i].ec_params_len == n &&
		    memcmp(specs[i].ec_params, p, n) == 0) {
			*out = specs[i];
			return CW_OK;
		}
	}
	return CW_ERR_NOT_FOUND;
}

enum cw_sigalg
cw_sigalg_for(const struct cw_keyspec *spec)
{
	if (spec->type == CW_KEY_RSA)
		return CW_SIG_RSA_PKCS1_SHA256;
	return spec->bits == 384 ? CW_SIG_ECDSA_SHA384 : CW_SIG_ECDSA_SHA256;
}

void
cw_pubkey_init(struct cw_pubkey *k)
{
	k->type = 0;
	cw_buf_init(&k->ec_params);
	cw_buf_init(&k->ec_point);
	cw_buf_init(&k->modulus);
	cw_buf_init(&k->exponent);
}

void
cw_pubkey_release(struct cw_pubkey *k)
{
	if (k == NULL)
		return;
	cw_buf_release(&k->ec_params);
	cw_buf_release(&k->ec_point);
	cw_buf_release(&k->modulus);
	cw_buf_release(&k->exponent);
	k->type = 0;
}

bool
cw_eku_known(const char *name)
{
	static const char *const known[] = {
		"serverAuth",      "clientAuth",   "codeSigning",
		"emailProtection", "timeStamping", "OCSPSigning",
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], name) == 0)
			return true;
	return false;
}

void
cw_privkey_init(struct cw_privkey *k)
{
	memset(k, 0, sizeof(*k));
}

static void
wipe(struct cw_buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	cw_buf_release(b);
}

void
cw_privkey_release(struct cw_privkey *k)
{
	if (k == NULL)
		return;
	wipe(&k->ec_params);
	wipe(&k->ec_value);
	wipe(&k->ec_point);
	wipe(&k->n);
	wipe(&k->e);
	wipe(&k->d);
	wipe(&k->p);
	wipe(&k->q);
	wipe(&k->dp);
	wipe(&k->dq);
	wipe(&k->qinv);
	k->type = 0;
}
