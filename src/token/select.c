#include "token_int.h"

#include <stdlib.h>
#include <string.h>

static enum cw_err
parse_uri(const char *s, P11KitUri **out)
{
	P11KitUri *uri = p11_kit_uri_new();
	int r;

	if (uri == NULL)
		return CW_ERR_NOMEM;
	r = p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, uri);
	if (r != P11_KIT_URI_OK) {
		cw_error("invalid PKCS#11 URI: %s", p11_kit_uri_message(r));
		p11_kit_uri_free(uri);
		return CW_ERR_USAGE;
	}
	*out = uri;
	return CW_OK;
}

enum cw_err
tok_uri_check(const char *s)
{
	P11KitUri *uri = NULL;
	enum cw_err rc = parse_uri(s, &uri);

	if (rc != CW_OK)
		return rc;
	rc = CW_ERR_USAGE;
	if (p11_kit_uri_get_pin_value(uri) != NULL)
		/* Never echo the URI: it holds the PIN. */
		cw_error("a PKCS#11 URI with pin-value is refused: a PIN on "
			 "the command line is visible to every user; use "
			 "pin-source, --pin-file or --pin-fd");
	else if (p11_kit_uri_get_module_path(uri) != NULL)
		cw_error("module-path in a PKCS#11 URI is refused: the module "
			 "is chosen by the configuration ([token] module)");
	else if (p11_kit_uri_get_slot_id(uri) != (CK_SLOT_ID)-1)
		cw_error("slot-id in a PKCS#11 URI is refused: slots move; "
			 "name the token by token=, serial=, manufacturer=, "
			 "model=");
	else if (p11_kit_uri_any_unrecognized(uri))
		cw_error("the PKCS#11 URI has an attribute certwiz does not "
			 "know");
	else
		rc = CW_OK;
	p11_kit_uri_free(uri);
	return rc;
}

static void
pad(unsigned char *dst, size_t n, const char *src)
{
	size_t len = src ? strlen(src) : 0;

	memset(dst, ' ', n);
	memcpy(dst, src ? src : "", len < n ? len : n);
}

static bool
matches(P11KitUri *uri, const struct tok_info *info)
{
	CK_TOKEN_INFO ti;

	memset(&ti, 0, sizeof(ti));
	pad(ti.label, sizeof(ti.label), info->label);
	pad(ti.serialNumber, sizeof(ti.serialNumber), info->serial);
	pad(ti.manufacturerID, sizeof(ti.manufacturerID), info->manufacturer);
	pad(ti.model, sizeof(ti.model), info->model);
	return p11_kit_uri_match_token_info(uri, &ti) == 1;
}

bool
tok_session_matches(const struct tok_session *s, const char *uri_str)
{
	P11KitUri *uri = p11_kit_uri_new();
	bool yes = false;

	if (uri != NULL &&
	    p11_kit_uri_parse(uri_str, P11_KIT_URI_FOR_ANY, uri) ==
		    P11_KIT_URI_OK)
		yes = matches(uri, &s->info);
	p11_kit_uri_free(uri);
	return yes;
}

enum cw_err
tok_select(const char *s, const struct tok_info *infos, size_t n,
	   size_t *index)
{
	P11KitUri *uri = NULL;
	size_t found = 0, uninit = 0, pick = 0;
	enum cw_err rc;

	rc = tok_uri_check(s);
	if (rc != CW_OK)
		return rc;
	rc = parse_uri(s, &uri);
	if (rc != CW_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (!infos[i].present || !matches(uri, &infos[i]))
			continue;
		if (!infos[i].initialized) {
			uninit++;
			continue;
		}
		found++;
		pick = i;
	}
	p11_kit_uri_free(uri);
	if (found == 1) {
		*index = pick;
		return CW_OK;
	}
	if (found > 1) {
		cw_error("%zu tokens match '%s'; add serial= to choose one",
			 found, s);
		return CW_ERR_AMBIGUOUS;
	}
	if (uninit > 0) {
		cw_error("the token matching '%s' is not initialised", s);
		return CW_ERR_TOKEN_NOT_INIT;
	}
	cw_error("no token matches '%s' (see 'certwiz tokens')", s);
	return CW_ERR_TOKEN_ABSENT;
}

static char *
format_uri(const char *label, const char *serial, const char *manufacturer,
           const struct cw_buf *id)
{
	P11KitUri *uri = p11_kit_uri_new();
	CK_TOKEN_INFO *ti;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	char *s = NULL;
	int type = P11_KIT_URI_FOR_TOKEN;

	if (uri == NULL)
		return NULL;
	ti = p11_kit_uri_get_token_info(uri);
	pad(ti->label, sizeof(ti->label), label);
	pad(ti->serialNumber, sizeof(ti->serialNumber), serial);
	pad(ti->manufacturerID, sizeof(ti->manufacturerID), manufacturer);
	if (id != NULL) {
		CK_ATTRIBUTE a[2] = {
			{ CKA_ID, id->data, id->len },
			{ CKA_CLASS, &cls, sizeof(cls) },
		};

		type = P11_KIT_URI_FOR_OBJECT_ON_TOKEN;
		if (p11_kit_uri_set_attributes(uri, a, 2) != P11_KIT_URI_OK)
			goto out;
	}
	if (p11_kit_uri_format(uri, type, &s) != P11_KIT_URI_OK)
		s = NULL;
out:
	p11_kit_uri_free(uri);
	return s;
}

char *
tok_token_uri(const char *label, const char *serial, const char *manufacturer)
{
	return format_uri(label, serial, manufacturer, NULL);
}

char *
tok_key_uri(const char *label, const char *serial, const char *manufacturer,
            const struct cw_buf *id)
{
	return format_uri(label, serial, manufacturer, id);
}
