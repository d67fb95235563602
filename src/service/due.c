/*
 * The service's scheduled work (wiz_due), in a process the listener forks
 * at start, when the time it was told comes, after a client's command,
 * and at least hourly: it acts as the service itself (its own user in the
 * audit trail) and tells the listener when to come back.
 */
#define _GNU_SOURCE
#include "svc.h"

#include "certwiz/policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
svc_due(const char *config, int fd)
{
	struct cw_secret_source pin = {NULL, -1, NULL, CW_OK, NULL};
	struct wiz *w = NULL;
	char *me = cw_uid_name((unsigned)getuid());
	int64_t next = 0;
	char line[32];
	enum cw_err rc = wiz_new(config, NULL, &w);

	if (rc == CW_OK)
		rc = cw_config_check_host(wiz_config(w));
	if (rc == CW_OK)
		rc = wiz_set_caller(w, (unsigned)getuid(), me ? me : "certwiz",
		                    true);
	/* nothing to do before 'certwiz init' made the store */
	if (rc == CW_OK &&
	    access(wiz_config(w)->store_path ? wiz_config(w)->store_path : "/",
	           F_OK) != 0) {
		wiz_free(w);
		free(me);
		(void)!write(fd, "0\n", 2);
		return 0;
	}
	if (rc == CW_OK) {
		/* configuration changes are recorded with the next command of
		 * an administrator, who made them */
		wiz_set_pin_source(w, &pin);
		wiz_set_changing(w, false);
		rc = wiz_due(w, &next);
	}
	if (rc != CW_OK && rc != CW_ERR_DEPLOY)
		svc_log("scheduled work: %s", cw_last_error());
	snprintf(line, sizeof(line), "%" PRId64 "\n", next);
	(void)!write(fd, line, strlen(line));
	wiz_free(w);
	free(me);
	return rc == CW_OK ? 0 : 1;
}
