/* Fuzz target: topology documents (parse, validate, expand every usage). */
#include "certwiz/topology.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum cw_err
each(void *user, const char *host, const struct topo_usage *u)
{
	(void)user;
	(void)host;
	(void)u;
	return CW_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct topo *t = NULL;

	cw_log_set_level(CW_LOG_QUIET);
	if (topo_load_string((const char *)data, size, "fuzz.json", &t) ==
	    CW_OK) {
		(void)topo_each_usage(t, each, NULL);
		topo_free(t);
	}
	return 0;
}
