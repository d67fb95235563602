/* Fuzz target: the configuration file parser. */
#include "certwiz/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_config c;
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	cw_log_set_level(CW_LOG_QUIET);
	if (cw_config_parse(text, "fuzz.conf", "/etc/certwiz", &c) == CW_OK)
		cw_config_release(&c);
	free(text);
	return 0;
}
