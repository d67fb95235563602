#include "token_int.h"

#include <stdlib.h>
#include <string.h>

enum cw_err
tok_fail(const char *call, CK_RV rv)
{
	cw_error("%s: %s (0x%lx)", call, p11_kit_strerror(rv),
		 (unsigned long)rv);
	switch (rv) {
	case CKR_HOST_MEMORY: return CW_ERR_NOMEM;
	case CKR_PIN_INCORRECT: return CW_ERR_PIN_INCORRECT;
	case CKR_PIN_LOCKED: return CW_ERR_PIN_LOCKED;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
	case CKR_SLOT_ID_INVALID: return CW_ERR_TOKEN_ABSENT;
	case CKR_TOKEN_NOT_RECOGNIZED: return CW_ERR_TOKEN_NOT_INIT;
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_KEY_SIZE_RANGE:
	case CKR_DOMAIN_PARAMS_INVALID:
	case CKR_CURVE_NOT_SUPPORTED: return CW_ERR_MECHANISM;
	default: return CW_ERR_TOKEN;
	}
}

/* What to check when a module will not start, for the modules whose
 * set-up is known (tokens/). */
static void
init_hint(const char *path, CK_RV rv)
{
	if (strstr(path, "opencryptoki"))
		cw_error(
		    "openCryptoki starts only with its daemon: is "
		    "pkcsslotd running (systemctl start pkcsslotd), and is "
		    "the service's user in group pkcs11?%s",
		    rv == CKR_HOST_MEMORY ? " (it says 'host memory' when "
		                            "the daemon is down)"
		                          : "");
	else if (strstr(path, "tpm2_pkcs11"))
		cw_error(
		    "tpm2-pkcs11 could not reach the TPM: check "
		    "TPM2_PKCS11_TCTI (and tpm2-abrmd, when it is used) and "
		    "that TPM2_PKCS11_STORE is the store made with "
		    "tpm2_ptool");
	else
		cw_error("the module '%s' did not start: check its own "
		         "configuration (and any daemon it needs) for the "
		         "service's user",
		         path);
}

enum cw_err
tok_ctx_open(const char *module_path, struct tok_ctx **out)
{
	struct tok_ctx *ctx = calloc(1, sizeof(*ctx));
	CK_RV rv;

	if (ctx == NULL)
		return CW_ERR_NOMEM;
	if (module_path != NULL && strstr(module_path, "tpm2_pkcs11") &&
	    getenv("TPM2_PKCS11_STORE") == NULL) {
		/* without it the module makes a store of its own in $HOME,
		 * silently: keys would land where nobody looks */
		cw_error(
		    "'%s' is tpm2-pkcs11, and TPM2_PKCS11_STORE is not set: "
		    "set it (and TPM2_PKCS11_TCTI) in the service's "
		    "environment to the store made with tpm2_ptool",
		    module_path);
		free(ctx);
		return CW_ERR_TOKEN;
	}
	if (module_path != NULL) {
		CK_FUNCTION_LIST *m = p11_kit_module_load(module_path, 0);

		if (m == NULL) {
			cw_error("cannot load PKCS#11 module '%s': %s",
				 module_path, p11_kit_message());
			free(ctx);
			return CW_ERR_TOKEN;
		}
		rv = p11_kit_module_initialize(m);
		if (rv != CKR_OK) {
			tok_fail("C_Initialize", rv);
			init_hint(module_path, rv);
			p11_kit_module_release(m);
			free(ctx);
			return CW_ERR_TOKEN; /* a set-up fault: exit 6 */
		}
		ctx->modules = calloc(2, sizeof(*ctx->modules));
		if (ctx->modules == NULL) {
			p11_kit_module_finalize(m);
			p11_kit_module_release(m);
			free(ctx);
			return CW_ERR_NOMEM;
		}
		ctx->modules[0] = m;
		ctx->single = true;
	} else {
		ctx->modules = p11_kit_modules_load_and_initialize(0);
		if (ctx->modules == NULL) {
			cw_error("cannot load the registered PKCS#11 modules: %s",
				 p11_kit_message());
			free(ctx);
			return CW_ERR_TOKEN;
		}
	}
	*out = ctx;
	return CW_OK;
}

void
tok_ctx_free(struct tok_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->single) {
		p11_kit_module_finalize(ctx->modules[0]);
		p11_kit_module_release(ctx->modules[0]);
		free(ctx->modules);
	} else if (ctx->modules != NULL) {
		p11_kit_modules_finalize_and_release(ctx->modules);
	}
	free(ctx);
}

static char *
space_str(const unsigned char *p, size_t n)
{
	return p11_kit_space_strdup(p, n);
}

void
tok_info_release(struct tok_info *info)
{
	free(info->module);
	free(info->slot_description);
	free(info->label);
	free(info->serial);
	free(info->manufacturer);
	free(info->model);
	free(info->uri);
	memset(info, 0, sizeof(*info));
}

void
tok_info_free_array(struct tok_info *infos, size_t n)
{
	if (infos == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		tok_info_release(&infos[i]);
	free(infos);
}

/* Whether a wrong PIN shows in the token's flags. PKCS#11 cannot say that a
 * token has no retry counter (the flags appear only after failures), so
 * it is known per module family (tokens/): SoftHSM2 has none; tpm2-pkcs11
 * has none either, while the TPM's own dictionary-attack lockout counts
 * every failure; openCryptoki sets them. */
static const char *
pin_counter(CK_FUNCTION_LIST *m, CK_FLAGS token_flags)
{
	static const struct {
		const char *manufacturer, *counter;
	} known[] = {
	    {"SoftHSM", "none"},
	    {"tpm2-software.github.io", "none"},
	    {"IBM", "flags"},
	};
	CK_INFO li;
	char *lib;
	const char *v = "unknown";

	if (token_flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY |
	                   CKF_USER_PIN_LOCKED))
		return "flags";
	if (m->C_GetInfo(&li) != CKR_OK)
		return v;
	lib = space_str(li.manufacturerID, sizeof(li.manufacturerID));
	for (size_t i = 0; lib && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(lib, known[i].manufacturer) == 0)
			v = known[i].counter;
	free(lib);
	return v;
}

enum cw_err
tok_describe(CK_FUNCTION_LIST *m, CK_SLOT_ID slot, struct tok_info *info)
{
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_RV rv;

	memset(info, 0, sizeof(*info));
	info->slot = slot;
	info->module = p11_kit_module_get_filename(m);
	rv = m->C_GetSlotInfo(slot, &si);
	if (rv != CKR_OK)
		return tok_fail("C_GetSlotInfo", rv);
	info->slot_description =
		space_str(si.slotDescription, sizeof(si.slotDescription));
	info->present = (si.flags & CKF_TOKEN_PRESENT) != 0;
	if (!info->present)
		return CW_OK;
	rv = m->C_GetTokenInfo(slot, &ti);
	if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED) {
		info->present = false;
		return CW_OK;
	}
	if (rv != CKR_OK)
		return tok_fail("C_GetTokenInfo", rv);
	info->initialized = (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
	info->login_required = (ti.flags & CKF_LOGIN_REQUIRED) != 0;
	info->protected_auth =
		(ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
	info->pin_count_low = (ti.flags & CKF_USER_PIN_COUNT_LOW) != 0;
	info->pin_final_try = (ti.flags & CKF_USER_PIN_FINAL_TRY) != 0;
	info->pin_locked = (ti.flags & CKF_USER_PIN_LOCKED) != 0;
	info->pin_to_be_changed = (ti.flags & CKF_USER_PIN_TO_BE_CHANGED) != 0;
	info->pin_counter = pin_counter(m, ti.flags);
	info->label = space_str(ti.label, sizeof(ti.label));
	info->serial = space_str(ti.serialNumber, sizeof(ti.serialNumber));
	info->manufacturer =
		space_str(ti.manufacturerID, sizeof(ti.manufacturerID));
	info->model = space_str(ti.model, sizeof(ti.model));
	info->uri =
	    tok_token_uri(info->label, info->serial, info->manufacturer);
	if (info->label == NULL || info->serial == NULL ||
	    info->manufacturer == NULL || info->model == NULL ||
	    info->uri == NULL)
		return CW_ERR_NOMEM;
	return CW_OK;
}

static enum cw_err
list_module(CK_FUNCTION_LIST *m, size_t index, struct tok_info **infos,
	    size_t *n)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG count = 0;
	enum cw_err rc = CW_ERR_TOKEN;
	CK_RV rv;

	rv = m->C_GetSlotList(CK_FALSE, NULL, &count);
	if (rv != CKR_OK)
		return tok_fail("C_GetSlotList", rv);
	if (count == 0)
		return CW_OK;
	slots = calloc(count, sizeof(*slots));
	if (slots == NULL)
		return CW_ERR_NOMEM;
	rv = m->C_GetSlotList(CK_FALSE, slots, &count);
	if (rv != CKR_OK) {
		rc = tok_fail("C_GetSlotList", rv);
		goto out;
	}
	for (CK_ULONG i = 0; i < count; i++) {
		struct tok_info *v = realloc(*infos, (*n + 1) * sizeof(*v));

		if (v == NULL) {
			rc = CW_ERR_NOMEM;
			goto out;
		}
		*infos = v;
		rc = tok_describe(m, slots[i], &v[*n]);
		v[*n].module_index = index;
		(*n)++;
		if (rc != CW_OK)
			goto out;
	}
	rc = CW_OK;
out:
	free(slots);
	return rc;
}

enum cw_err
tok_list(struct tok_ctx *ctx, struct tok_info **out, size_t *n_out)
{
	struct tok_info *infos = NULL;
	size_t n = 0;

	for (size_t i = 0; ctx->modules[i] != NULL; i++) {
		enum cw_err rc = list_module(ctx->modules[i], i, &infos, &n);

		if (rc != CW_OK) {
			tok_info_free_array(infos, n);
			return rc;
		}
	}
	*out = infos;
	*n_out = n;
	return CW_OK;
}
