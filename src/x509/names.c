/* Subjects, names and extended key usages. */
#include "x509_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	int nid;
} ekus[] = {
	{ "serverAuth", NID_server_auth },
	{ "clientAuth", NID_client_auth },
	{ "codeSigning", NID_code_sign },
	{ "emailProtection", NID_email_protect },
	{ "timeStamping", NID_time_stamp },
	{ "OCSPSigning", NID_OCSP_sign },
};

int
x509_eku_nid(const char *name)
{
	for (size_t i = 0; i < sizeof(ekus) / sizeof(ekus[0]); i++)
		if (strcmp(ekus[i].name, name) == 0)
			return ekus[i].nid;
	return NID_undef;
}

const char *
x509_eku_name(int nid)
{
	for (size_t i = 0; i < sizeof(ekus) / sizeof(ekus[0]); i++)
		if (ekus[i].nid == nid)
			return ekus[i].name;
	return NULL;
}

enum cw_err
x509_eku_list(const EXTENDED_KEY_USAGE *eku, struct cw_strlist *out)
{
	enum cw_err rc = CW_OK;

	for (int k = 0; eku && k < sk_ASN1_OBJECT_num(eku) && !rc; k++) {
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, k);
		const char *n = x509_eku_name(OBJ_obj2nid(o));
		char buf[80];

		if (n == NULL) {
			OBJ_obj2txt(buf, sizeof(buf), o, 1);
			n = buf;
		}
		rc = cw_strlist_add(out, n);
	}
	return rc;
}

bool
x509_eku_known(const char *eku)
{
	return x509_eku_nid(eku) != NID_undef;
}

bool
x509_is_ip(const char *s, unsigned char *out, int *len)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, s, buf) == 1) {
		if (out)
			memcpy(out, buf, 4);
		if (len)
			*len = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		if (out)
			memcpy(out, buf, 16);
		if (len)
			*len = 16;
		return true;
	}
	return false;
}

/* An internationalised name: certificates carry its ASCII form (RFC 5280
 * section 7.2), which the message gives. */
static enum cw_err
not_ascii(const char *name)
{
	char *ace = NULL;

	if (idn2_to_ascii_8z(name, &ace, IDN2_NONTRANSITIONAL) == IDN2_OK)
		cw_error("'%s' is not ASCII: a certificate carries a name in "
			 "its ASCII form; use '%s'",
			 name, ace);
	else
		cw_error("'%s' is neither a valid DNS name (not ASCII, and no "
			 "valid internationalised name) nor an IP address",
			 name);
	idn2_free(ace);
	return CW_ERR_USAGE;
}

enum cw_err
x509_check_name(const char *name)
{
	size_t len = strlen(name), label = 0;
	const char *p = name;

	if (x509_is_ip(name, NULL, NULL))
		return CW_OK;
	if (len == 0 || len > 253) {
		cw_error("name '%s' has a bad length", name);
		return CW_ERR_USAGE;
	}
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.') {
			if (label == 0 || p[-1] == '-')
				goto bad;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || (c == '-' && label > 0)) || ++label > 63)
			goto bad;
	}
	if (label == 0 || p[-1] == '-')
		goto bad;
	/* a last label of digits only is no top-level domain: such a name
	 * is a mistyped address (300.1.1.1, 10.0.0.300) */
	for (p = name + len; p > name && p[-1] != '.'; p--)
		if (!isdigit((unsigned char)p[-1]))
			return CW_OK;
	cw_error("'%s' is not a valid IP address, and a DNS name cannot end "
		 "in a label of digits",
		 name);
	return CW_ERR_USAGE;
bad:
	for (p = name; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return not_ascii(name);
	cw_error("'%s' is not a valid DNS name or IP address", name);
	return CW_ERR_USAGE;
}

/* Splits "CN=a,O=b\,c" into unescaped (type, value) pairs. */
static enum cw_err
split_dn(const char *dn, struct cw_strlist *types, struct cw_strlist *values)
{
	struct cw_buf cur;
	const char *p = dn;
	bool in_value = false;
	enum cw_err rc = CW_ERR_USAGE;

	cw_buf_init(&cur);
	for (;; p++) {
		char c = *p;

		if (c == '\\' && p[1] != 0) {
			c = *++p;
		} else if (c == '=' && !in_value) {
			if (cur.len == 0 ||
			    cw_strlist_add(types, (char *)cur.data) != CW_OK)
				goto out;
			cur.len = 0;
			in_value = true;
			continue;
		} else if (c == ',' || c == 0) {
			if (!in_value || cur.len == 0 ||
			    cw_strlist_add(values, (char *)cur.data) != CW_OK)
				goto out;
			cur.len = 0;
			in_value = false;
			if (c == 0)
				break;
			while (p[1] == ' ')
				p++;
			continue;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f)
			goto out;
		if (cw_buf_append(&cur, &c, 1) != CW_OK)
			goto out;
		cur.data[cur.len] = 0;
	}
	rc = CW_OK;
out:
	cw_buf_release(&cur);
	return rc;
}

enum cw_err
x509_name_parse(const char *dn, X509_NAME **out)
{
	struct cw_strlist types, values;
	X509_NAME *name = NULL;
	enum cw_err rc;

	cw_strlist_init(&types);
	cw_strlist_init(&values);
	rc = split_dn(dn, &types, &values);
	if (rc != CW_OK || types.n == 0 || types.n != values.n) {
		cw_error("subject '%s' is not of the form CN=...,O=...", dn);
		rc = CW_ERR_USAGE;
		goto out;
	}
	name = X509_NAME_new();
	if (name == NULL) {
		rc = CW_ERR_NOMEM;
		goto out;
	}
	/* RFC 4514 writes the most specific RDN first. */
	for (size_t i = types.n; i-- > 0;) {
		if (OBJ_txt2nid(types.v[i]) == NID_undef ||
		    !X509_NAME_add_entry_by_txt(
			    name, types.v[i], MBSTRING_UTF8,
			    (const unsigned char *)values.v[i], -1, -1, 0)) {
			ERR_clear_error();
			cw_error("subject '%s': bad attribute '%s=%s'", dn,
				 types.v[i], values.v[i]);
			rc = CW_ERR_USAGE;
			goto out;
		}
	}
	*out = name;
	name = NULL;
	rc = CW_OK;
out:
	X509_NAME_free(name);
	cw_strlist_release(&types);
	cw_strlist_release(&values);
	return rc;
}

enum cw_err
x509_check_subject(const char *subject)
{
	X509_NAME *name = NULL;
	enum cw_err rc = x509_name_parse(subject, &name);

	X509_NAME_free(name);
	return rc;
}

char *
x509_name_string(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;
	char *p;
	long n;

	if (bio == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_get_mem_data(bio, &p);
		s = strndup(p, (size_t)n);
	}
	BIO_free(bio);
	return s;
}
