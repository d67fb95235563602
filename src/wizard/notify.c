/*
 * Renewal notifications: [renew] notify is run for each renewal event
 * with the event, the usage, the certificate and its days left, as
 * arguments and in the environment; without a shell, with a clean
 * environment, stdin from /dev/null, no descriptor above 2, in a process
 * group of its own killed after [renew] notify_timeout seconds (30).
 * posix_spawn, never fork: the caller may hold PKCS#11 sessions. A failing
 * notifier is reported and never fails the renewal.
 */
#define _GNU_SOURCE
#include "wizard_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

/* Waits for pid at most seconds, then kills its group. */
static int
wait_notifier(pid_t pid, long seconds, bool *killed)
{
	struct timespec step = {0, 20 * 1000 * 1000};
	time_t end = time(NULL) + seconds;
	int status = 0;

	*killed = false;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (time(NULL) >= end) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			*killed = true;
			return status;
		}
		nanosleep(&step, NULL);
	}
}

void
wiz_notify(struct wiz *w, const char *event, const char *severity,
           const char *usage, const struct store_cert *c, const char *detail)
{
	char **argv0, *argv[16], *envp[12];
	char days[24];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	size_t n = 0, e = 0;
	int status, err;
	bool killed;
	pid_t pid;

	cw_info("renewal of '%s': %s (%s)%s%s", usage, event, severity,
	        detail ? ": " : "", detail ? detail : "");
	if (w->cfg.renew_notify == NULL)
		return;
	argv0 = cw_deploy_argv(w->cfg.renew_notify);
	if (argv0 == NULL)
		return;
	snprintf(days, sizeof(days), "%lld",
	         c ? (long long)((c->not_after - time(NULL)) / 86400) : -1LL);
	for (size_t i = 0; argv0[i] != NULL && n < 10; i++)
		argv[n++] = argv0[i];
	argv[n++] = (char *)event;
	argv[n++] = (char *)usage;
	argv[n++] = c && c->sha256 ? c->sha256 : "none";
	argv[n++] = days;
	argv[n] = NULL;
	envp[e++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	envp[e++] = "LANG=C.UTF-8";
	envp[e++] = cw_printf("CERTWIZ_EVENT=%s", event);
	envp[e++] = cw_printf("CERTWIZ_SEVERITY=%s", severity);
	envp[e++] = cw_printf("CERTWIZ_HOST=%s", w->host);
	envp[e++] = cw_printf("CERTWIZ_USAGE=%s", usage);
	envp[e++] = cw_printf("CERTWIZ_CERTIFICATE=%s",
	                      c && c->sha256 ? c->sha256 : "none");
	envp[e++] = cw_printf("CERTWIZ_DAYS_LEFT=%s", days);
	envp[e++] = cw_printf("CERTWIZ_DETAIL=%s", detail ? detail : "");
	envp[e] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	err = 0;
	for (size_t i = 2; i < e; i++)
		if (envp[i] == NULL)
			err = ENOMEM;
	if (err == 0)
		err = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (err != 0) {
		cw_warn("cannot run the notify command '%s': %s", argv[0],
		        strerror(err));
	} else {
		long limit = w->cfg.renew_notify_timeout > 0
		                 ? w->cfg.renew_notify_timeout
		                 : 30;

		status = wait_notifier(pid, limit, &killed);
		if (killed)
			cw_warn("the notify command '%s' did not finish within "
			        "%ld seconds and was stopped",
			        argv[0], limit);
		else if (status < 0 || !WIFEXITED(status) ||
		         WEXITSTATUS(status) != 0)
			cw_warn("the notify command '%s' failed (%s %d)",
			        argv[0],
			        status >= 0 && WIFEXITED(status) ? "exit"
			                                         : "signal",
			        status >= 0 && WIFEXITED(status)
			            ? WEXITSTATUS(status)
			        : status >= 0 ? WTERMSIG(status)
			                      : -1);
	}
	for (size_t i = 2; i < e; i++)
		free(envp[i]);
	free(argv0);
}
