/* Who is an administrator: root, or a member of the admin group in the
 * user database. */
#define _DEFAULT_SOURCE
#include "certwiz/policy.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
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
cw_uid_is_admin(unsigned uid, const char *group)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t gid, *groups = NULL;
	int n = 64;
	bool yes = false;

	if (uid == 0)
		return true;
	if (group == NULL || cw_group_gid(group, &gid) != CW_OK)
		return false;
	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return false;
	if (pw.pw_gid == gid)
		return true;
	for (int tries = 0; tries < 4 && !yes; tries++) {
		int got = n;
		gid_t *v = realloc(groups, sizeof(*groups) * (size_t)n);

		if (v == NULL)
			break;
		groups = v;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &got) >= 0) {
			for (int i = 0; i < got && !yes; i++)
				yes = groups[i] == gid;
			break;
		}
		n = got > n ? got : n * 2;
	}
	free(groups);
	return yes;
}

char *
cw_uid_name(unsigned uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 &&
	    res != NULL)
		return strdup(pw.pw_name);
	return NULL;
}
