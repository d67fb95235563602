/* Fuzz target: the response importer (PEM, DER, PKCS#7, PKCS#12). */
#include "certwiz/secret.h"
#include "certwiz/x509.h"

#include <stdint.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x509_bundle b = { NULL, 0 };
	struct x509_p12 p;

	cw_log_set_level(CW_LOG_QUIET);
	if (x509_bundle_parse(data, size, &b) == CW_OK) {
		for (size_t i = 0; i < b.n; i++) {
			struct x509_info info;

			if (x509_info_parse(b.certs[i].data, b.certs[i].len,
					    &info) == CW_OK)
				x509_info_release(&info);
		}
		x509_bundle_release(&b);
	}
	if (x509_is_pkcs12(data, size) &&
	    x509_pkcs12_parse(data, size, NULL, &p) == CW_OK)
		x509_p12_release(&p);
	return 0;
}
