/* Challenge responses published outside certwiz: files in a web server's
 * document root (http-01) and a hook command for DNS records (dns-01). */
#define _GNU_SOURCE
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


/*
 * DIR/.well-known/acme-challenge, opened folder by folder from DIR without
 * following a symbolic link (a web root is often writable by the web
 * team: a link placed there must not steer the service's writes), made
 * (0755) on the way when make is set. A descriptor, or -1 (reported).
 */
static int
challenge_dir(const char *dir, bool make)
{
	static const char *const parts[] = { ".well-known", "acme-challenge" };
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	for (size_t i = 0; d >= 0 && i < 2; i++) {
		int n;

		if (make && mkdirat(d, parts[i], 0755) != 0 && errno != EEXIST)
			n = -1;
		else
			n = openat(d, parts[i], O_RDONLY | O_DIRECTORY |
							O_NOFOLLOW | O_CLOEXEC);
		close(d);
		d = n;
	}
	if (d < 0 && (make || errno != ENOENT))
		cw_error("http-01: cannot open '%s/.well-known/acme-challenge': "
			 "%s%s",
			 dir, strerror(errno),
			 errno == ELOOP || errno == ENOTDIR
				 ? " (a symbolic link; refused)"
				 : "");
	return d;
}

enum cw_err
ca_webroot_put(const char *dir, const char *token, const char *keyauth)
{
	char *tmp = NULL;
	size_t len = strlen(keyauth);
	int d, f = -1;
	enum cw_err rc = CW_ERR_IO;

	if (!ca_is_base64url(token))
		return CW_ERR_PARSE;
	d = challenge_dir(dir, true);
	if (d < 0)
		return CW_ERR_IO;
	tmp = cw_printf(".%s.tmp", token);
	if (tmp != NULL)
		f = openat(d, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
					   O_CLOEXEC,
			   0644);
	if (f >= 0 && write(f, keyauth, len) == (ssize_t)len && fsync(f) == 0 &&
	    close(f) == 0) {
		f = -1;
		/* the name is replaced, never followed */
		if (renameat(d, tmp, d, token) == 0 && fsync(d) == 0)
			rc = CW_OK;
	}
	if (f >= 0)
		close(f);
	if (rc != CW_OK) {
		cw_error("http-01: cannot write the challenge file in '%s': %s",
			 dir, strerror(errno));
		if (tmp != NULL)
			unlinkat(d, tmp, 0);
	}
	free(tmp);
	close(d);
	return rc;
}

enum cw_err
ca_webroot_remove(const char *dir, const char *token)
{
	enum cw_err rc = CW_OK;
	int d;

	if (!ca_is_base64url(token))
		return CW_ERR_PARSE;
	d = challenge_dir(dir, false);
	if (d < 0)
		return errno == ENOENT ? CW_OK : CW_ERR_IO;
	if (unlinkat(d, token, 0) != 0 && errno != ENOENT) {
		cw_warn("http-01: cannot remove '%s' from '%s': %s", token, dir,
			strerror(errno));
		rc = CW_ERR_IO;
	}
	close(d);
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
	/* a clean environment: nothing of the service's (module
	 * configuration, credentials directory) reaches the hook */
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
			 NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int e;

	/* posix_spawn, never fork: this process holds PKCS#11 sessions.
	 * Only stdin (/dev/null), stdout and stderr are passed: no PIN,
	 * socket or store descriptor reaches the hook. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	e = posix_spawn(&pid, hook, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (e != 0) {
		cw_error("cannot run the dns-01 hook '%s': %s", hook,
			 strerror(e));
		return CW_ERR_CONFIG;
	}
	cw_debug("dns-01 hook: %s %s %s", action, name, value);
	return wait_hook(pid, hook, timeout > 0 ? timeout : 120);
}
