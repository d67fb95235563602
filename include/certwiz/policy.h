/* certwiz: who may do what (the operating system's view of the caller). */
#ifndef CW_POLICY_H
#define CW_POLICY_H

#include "certwiz/err.h"

#include <stdbool.h>
#include <sys/types.h>

/*
 * Whether the caller is an administrator: real uid 0, or the admin group
 * among the real gid and the supplementary groups the kernel gives the
 * process. Never from the environment.
 */
bool cw_is_admin(const char *group);

/* The gid of group; CW_ERR_NOT_FOUND when there is no such group. */
enum cw_err cw_group_gid(const char *group, gid_t *gid);

#endif
