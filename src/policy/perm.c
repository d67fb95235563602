#include "certwiz/policy.h"

#include <grp.h>
#include <stdlib.h>
#include <unistd.h>

enum cw_err
cw_group_gid(const char *group, gid_t *gid)
{
	struct group g, *res = NULL;
	char buf[4096];

	if (getgrnam_r(group, &g, buf, sizeof(buf), &res) != 0 || res == NULL)
		return CW_ERR_NOT_FOUND;
	*gid = g.gr_gid;
	return CW_OK;
}

bool
cw_is_admin(const char *group)
{
	gid_t gid, *groups;
	int n;
	bool yes = false;

	if (getuid() == 0)
		return true;
	if (group == NULL || cw_group_gid(group, &gid) != CW_OK)
		return false;
	if (getgid() == gid)
		return true;
	n = getgroups(0, NULL);
	if (n <= 0)
		return false;
	groups = calloc((size_t)n, sizeof(*groups));
	if (groups == NULL)
		return false;
	n = getgroups(n, groups);
	for (int i = 0; i < n && !yes; i++)
		yes = groups[i] == gid;
	free(groups);
	return yes;
}
