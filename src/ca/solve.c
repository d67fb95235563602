/* Challenge responses published outside certwiz: files in a web server's
 * document root (http-01) and a hook command for DNS records (dns-01). */
#define _DEFAULT_SOURCE
#include "ca_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* DIR/.well-known/acme-challenge, created (0755) when make is set. */
static char *
challenge_dir(const char *dir, bool make)
{
	char *wk = cw_printf("%s/.well-known", dir);
	char *ch = wk ? cw_printf("%s/acme-challenge", wk) : NULL;

	if (make && ch != NULL &&
	    ((mkdir(wk, 0755) != 0 && errno != EEXIST) ||
	     (mkdir(ch, 0755) != 0 && errno != EEXIST))) {
		cw_error("http-01: cannot create '%s': %s", ch,
			 strerror(errno));
		free(ch);
		ch = NULL;
	}
	free(wk);
	return ch;
}

enum cw_err
ca_webroot_put(const char *dir, const char *token, const char *keyauth)
{
	char *d, *path;
	enum cw_err rc;

	if (!ca_is_base64url(token))
		return CW_ERR_PARSE;
	d = challenge_dir(dir, true);
	path = d ? cw_printf("%s/%s", d, token) : NULL;
	rc = path ? cw_file_write_atomic(path, keyauth, strlen(keyauth), 0644,
					 true)
		  : CW_ERR_IO;
	if (rc != CW_OK)
		cw_error("http-01: cannot write the challenge file in '%s'",
			 dir);
	free(d);
	free(path);
	return rc;
}

enum cw_err
ca_webroot_remove(const char *dir, const char *token)
{
	char *d, *path;
	enum cw_err rc = CW_OK;

	if (!ca_is_base64url(token))
		return CW_ERR_PARSE;
	d = challenge_dir(dir, false);
	path = d ? cw_printf("%s/%s", d, token) : NULL;
	if (path == NULL)
		rc = CW_ERR_NOMEM;
	else if (unlink(path) != 0 && errno != ENOENT) {
		cw_warn("http-01: cannot remove '%s': %s", path,
			strerror(errno));
		rc = CW_ERR_IO;
	}
	free(d);
	free(path);
	return rc;
}

/* Waits for pid at most timeout seconds (then kills it). */
static enum cw_err
wait_hook(pid_t pid, const char *hook, int timeout)
{
	struct timespec step = { 0, 20 * 1000 * 1000 };
	time_t end = time(NULL) + timeout;
	int status = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			cw_error("dns-01 hook: waitpid: %s", strerror(errno));
			return CW_ERR_INTERNAL;
		}
		if (time(NULL) >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			cw_error("dns-01 hook '%s' did not finish within %d "
				 "seconds",
				 hook, timeout);
			return CW_ERR_UNAVAILABLE;
		}
		nanosleep(&step, NULL);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cw_error("dns-01 hook '%s' failed (%s %d)", hook,
			 WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status)
					   : WTERMSIG(status));
		return CW_ERR_UNAVAILABLE;
	}
	return CW_OK;
}

enum cw_err
ca_hook_run(const char *hook, const char *action, const char *name,
	    const char *value, int timeout)
{
	char *argv[] = { (char *)hook, (char *)action, (char *)name,
			 (char *)value, NULL };
	pid_t pid;
	int e;

	/* posix_spawn, never fork: this process holds PKCS#11 sessions */
	e = posix_spawn(&pid, hook, NULL, NULL, argv, environ);
	if (e != 0) {
		cw_error("cannot run the dns-01 hook '%s': %s", hook,
			 strerror(e));
		return CW_ERR_CONFIG;
	}
	cw_debug("dns-01 hook: %s %s %s", action, name, value);
	return wait_hook(pid, hook, timeout > 0 ? timeout : 120);
}
