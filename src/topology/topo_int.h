/* Internal to src/topology. */
#ifndef CW_TOPO_INT_H
#define CW_TOPO_INT_H

#include "certwiz/topology.h"

#include <jansson.h>

struct topo {
	json_t *root;
	char *name; /* file name, for messages */
};

#endif
