/* certwiz: who may do what (the operating system's view of the caller). */
#ifndef CW_POLICY_H
#define CW_POLICY_H

#include "certwiz/err.h"

#include <stdbool.h>
#include <sys/types.h>

/*
 * Whether uid is an administrator: 0, or a member of group (primary or
 * supplementary) in the user database. A uid the database does not know
 * is not.
 */
bool cw_uid_is_admin(unsigned uid, const char *group);

/* The name of uid in the user database (caller frees), or NULL. */
char *cw_uid_name(unsigned uid);

/* The gid of group; CW_ERR_NOT_FOUND when there is no such group. */
enum cw_err cw_group_gid(const char *group, gid_t *gid);

#endif
