/* certwiz: the topology document (which names each usage's cert carries). */
#ifndef CW_TOPOLOGY_H
#define CW_TOPOLOGY_H

#include "certwiz/err.h"
#include "certwiz/util.h"

/* A loaded and validated topology. */
struct topo;

/*
 * Loads and validates a topology: structure, known keys, every host's
 * usages defined, every template expandable for every host that uses it,
 * key specs and EKUs known. Errors name the file, the key path
 * (hosts."fe01".usages[1]) and the reason; CW_ERR_TOPOLOGY.
 */
enum cw_err topo_load_file(const char *path, struct topo **out);
enum cw_err topo_load_string(const char *text, size_t len, const char *name,
			     struct topo **out);
void topo_free(struct topo *t);

/* Every host name of the document, in document order. */
enum cw_err topo_hosts(const struct topo *t, struct cw_strlist *out);

/* The usages of host, in document order. CW_ERR_NOT_FOUND: unknown host. */
enum cw_err topo_host_usages(const struct topo *t, const char *host,
			     struct cw_strlist *out);

/* One usage of one host, with variables expanded. */
struct topo_usage {
	char *name;
	char *subject;
	struct cw_strlist names;
	struct cw_strlist eku;
	char *key; /* key spec, or NULL */
	char *ca;  /* CA profile, or NULL */
};

/*
 * Expands usage for host. CW_ERR_NOT_FOUND when the host is unknown or
 * does not serve that usage (with a message saying which).
 */
enum cw_err topo_expand(const struct topo *t, const char *host,
			const char *usage, struct topo_usage *out);
void topo_usage_release(struct topo_usage *u);

/*
 * Calls fn for every usage of every host, expanded, in document order. The
 * usage is borrowed for the call; an error from fn or from an expansion
 * stops the walk and is returned.
 */
typedef enum cw_err (*topo_usage_fn)(void *user, const char *host,
				     const struct topo_usage *u);
enum cw_err topo_each_usage(const struct topo *t, topo_usage_fn fn,
			    void *user);

#endif
