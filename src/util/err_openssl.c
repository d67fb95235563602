/* OpenSSL errors, reported under the name of the failed call. */
#include "certwiz/err.h"

#include <openssl/err.h>

void
cw_error_openssl(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e == 0) {
		cw_error("%s failed", what);
		return;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	cw_error("%s: %s", what, buf);
	ERR_clear_error();
}
