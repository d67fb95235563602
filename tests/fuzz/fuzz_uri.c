/* Fuzz target: PKCS#11 URI checks and token selection. */
#include "certwiz/token.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tok_info infos[] = {
		{ .present = true, .initialized = true, .label = "web-hsm",
		  .serial = "1234", .manufacturer = "SoftHSM project",
		  .model = "SoftHSM v2" },
		{ .present = true, .initialized = false, .label = "",
		  .serial = "", .manufacturer = "x", .model = "y" },
	};
	char *uri = malloc(size + 1);
	size_t pick;

	if (uri == NULL)
		return 0;
	memcpy(uri, data, size);
	uri[size] = 0;
	cw_log_set_level(CW_LOG_QUIET);
	if (tok_uri_check(uri) == CW_OK)
		(void)tok_select(uri, infos, 2, &pick);
	free(uri);
	return 0;
}
