#include "token_int.h"

#include <stdlib.h>
#include <string.h>

enum cw_err
tok_open(struct tok_ctx *ctx, const char *uri, struct tok_session **out)
{
	struct tok_info *infos = NULL;
	struct tok_session *s = NULL;
	size_t n = 0, pick = 0;
	enum cw_err rc;
	CK_RV rv;

	rc = tok_list(ctx, &infos, &n);
	if (rc != CW_OK)
		return rc;
	rc = tok_select(uri, infos, n, &pick);
	if (rc != CW_OK)
		goto out;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = CW_ERR_NOMEM;
		goto out;
	}
	s->m = ctx->modules[infos[pick].module_index];
	s->slot = infos[pick].slot;
	s->info = infos[pick];
	memset(&infos[pick], 0, sizeof(infos[pick]));
	rv = s->m->C_OpenSession(s->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
				 NULL, NULL, &s->h);
	if (rv != CKR_OK) {
		rc = tok_fail("C_OpenSession", rv);
		goto out;
	}
	*out = s;
	s = NULL;
	rc = CW_OK;
out:
	if (s != NULL) {
		tok_info_release(&s->info);
		free(s);
	}
	tok_info_free_array(infos, n);
	return rc;
}

void
tok_session_close(struct tok_session *s)
{
	if (s == NULL)
		return;
	if (s->logged_in)
		s->m->C_Logout(s->h);
	s->m->C_CloseSession(s->h);
	tok_info_release(&s->info);
	free(s);
}

const struct tok_info *
tok_session_info(const struct tok_session *s)
{
	return &s->info;
}

/* The PIN from the URI's pin-source, else from src. */
static enum cw_err
read_pin(struct tok_session *s, const char *uri_str,
	 const struct cw_secret_source *src, struct cw_secret **pin)
{
	P11KitUri *uri = p11_kit_uri_new();
	const char *source = NULL;
	char *prompt = NULL;
	enum cw_err rc;

	if (uri == NULL)
		return CW_ERR_NOMEM;
	if (uri_str != NULL &&
	    p11_kit_uri_parse(uri_str, P11_KIT_URI_FOR_ANY, uri) ==
		    P11_KIT_URI_OK)
		source = p11_kit_uri_get_pin_source(uri);
	if (source != NULL) {
		if (strncmp(source, "file:", 5) == 0)
			source += 5;
		rc = cw_secret_from_file(source, pin);
	} else {
		prompt = cw_printf("PIN for token '%s'", s->info.label);
		if (prompt == NULL)
			rc = CW_ERR_NOMEM;
		else if (cw_secret_source_prompts(src))
			rc = cw_secret_prompt_pin(prompt, pin);
		else
			rc = cw_secret_get(src, prompt, pin);
	}
	free(prompt);
	p11_kit_uri_free(uri);
	return rc;
}

/* The PIN flags as the token shows them now; the session's token and its
 * identity stay what they were when it was opened. */
static enum cw_err
refresh_flags(struct tok_session *s)
{
	struct tok_info fresh;
	enum cw_err rc = tok_describe(s->m, s->slot, &fresh);

	if (rc == CW_OK && !fresh.present) {
		cw_error("token '%s' is no longer present", s->info.label);
		rc = CW_ERR_TOKEN_ABSENT;
	}
	if (rc == CW_OK) {
		s->info.login_required = fresh.login_required;
		s->info.protected_auth = fresh.protected_auth;
		s->info.pin_count_low = fresh.pin_count_low;
		s->info.pin_final_try = fresh.pin_final_try;
		s->info.pin_locked = fresh.pin_locked;
		s->info.pin_to_be_changed = fresh.pin_to_be_changed;
	}
	tok_info_release(&fresh);
	return rc;
}

static enum cw_err login_result(struct tok_session *s, CK_RV rv);

enum cw_err
tok_login(struct tok_session *s, const char *uri,
	  const struct cw_secret_source *src)
{
	struct cw_secret *pin = NULL;
	enum cw_err rc;
	CK_RV rv;

	if (s->logged_in)
		return CW_OK;
	rc = tok_login_preflight(s);
	if (rc != CW_OK)
		return rc;
	if (!s->info.login_required)
		return CW_OK;
	if (s->info.protected_auth) {
		rv = s->m->C_Login(s->h, CKU_USER, NULL, 0);
	} else {
		rc = read_pin(s, uri, src, &pin);
		if (rc != CW_OK)
			return rc;
		/* an empty PIN (an empty PIN file) would spend a real attempt
		 * of the token's counter */
		if (cw_secret_len(pin) == 0) {
			cw_error("the PIN for token '%s' is empty (an empty PIN "
				 "file?); no login attempted",
				 s->info.label);
			cw_secret_free(pin);
			return CW_ERR_CONFIG;
		}
		rv = s->m->C_Login(s->h, CKU_USER,
				   (CK_UTF8CHAR_PTR)cw_secret_data(pin),
				   cw_secret_len(pin));
		cw_secret_free(pin);
	}
	return login_result(s, rv);
}

enum cw_err
tok_login_preflight(struct tok_session *s)
{
	enum cw_err rc = refresh_flags(s);

	if (rc != CW_OK)
		return rc;
	if (s->info.pin_locked) {
		cw_error("the user PIN of token '%s' is locked; the security "
			 "officer must unlock it",
			 s->info.label);
		return CW_ERR_PIN_LOCKED;
	}
	if (s->info.pin_final_try) {
		cw_error("token '%s': the next wrong PIN locks it; refusing "
			 "to try (log in once with pkcs11-tool to reset the "
			 "counter)",
			 s->info.label);
		return CW_ERR_PIN_LOCKED;
	}
	if (s->info.pin_count_low)
		cw_warn("token '%s': a wrong PIN was given recently",
			s->info.label);
	if (s->info.pin_to_be_changed) {
		cw_error("token '%s': the user PIN must be changed first",
			 s->info.label);
		return CW_ERR_TOKEN;
	}
	return CW_OK;
}

bool
tok_login_prompts(const struct tok_session *s, const char *uri_str,
		  const struct cw_secret_source *src)
{
	P11KitUri *uri;
	bool pin_source = false;

	if (s->logged_in || !s->info.login_required || s->info.protected_auth ||
	    !cw_secret_source_prompts(src))
		return false;
	uri = p11_kit_uri_new();
	if (uri != NULL && uri_str != NULL &&
	    p11_kit_uri_parse(uri_str, P11_KIT_URI_FOR_ANY, uri) ==
		    P11_KIT_URI_OK)
		pin_source = p11_kit_uri_get_pin_source(uri) != NULL;
	p11_kit_uri_free(uri);
	return !pin_source;
}

/* What C_Login answered, as certwiz reports it. */
static enum cw_err
login_result(struct tok_session *s, CK_RV rv)
{
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE) {
		cw_error("wrong PIN for token '%s' (not retried)",
			 s->info.label);
		return CW_ERR_PIN_INCORRECT;
	}
	if (rv == CKR_PIN_LOCKED) {
		cw_error("the user PIN of token '%s' is locked",
			 s->info.label);
		return CW_ERR_PIN_LOCKED;
	}
	if (rv == CKR_PIN_EXPIRED) {
		cw_error("token '%s': the user PIN has expired; change it first",
			 s->info.label);
		return CW_ERR_TOKEN;
	}
	if (rv != CKR_OK)
		return tok_fail("C_Login", rv);
	s->logged_in = true;
	return CW_OK;
}
