/*
 * certwizd: the service that alone reads the PINs, opens the store and the
 * tokens. It listens on a Unix socket any local user may connect to and
 * forks one worker per connection; the listening process itself never
 * loads a PKCS#11 module nor opens the store, so forking is safe (a module
 * must not be used across fork). A root client with no service running
 * starts it in one-shot mode on a socket pair instead.
 */
#define _GNU_SOURCE
#include "svc.h"

#include "certwiz/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

struct worker {
	pid_t pid;
	uid_t uid;
};

static struct worker workers[MAX_WORKERS];
static int sig_pipe[2] = { -1, -1 };

/* The scheduled work (due.c): its process, the pipe it answers on, when
 * to run it next, and whether a client's command may have changed what
 * is due. Only with [deploy] sections or [renew] auto: the work the
 * service does by itself. */
#define DUE_MAX_WAIT 3600
static struct {
	bool enabled;
	pid_t pid;
	int rd;
	time_t at;
	bool wanted;
} due = {false, 0, -1, 0, false};

static void
on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int e = errno;

	(void)!write(sig_pipe[1], &b, 1);
	errno = e;
}

enum cw_err
svc_drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		cw_error("the service user '%s' does not exist: create it "
			 "(useradd --system --home-dir /var/lib/certwiz "
			 "--shell /usr/sbin/nologin %s, or scripts/install.sh)",
			 user, user);
		return CW_ERR_CONFIG;
	}
	if (pw->pw_uid == 0) {
		cw_error("the service user '%s' is root; certwizd runs as a "
			 "user of its own ([service] user)",
			 user);
		return CW_ERR_CONFIG;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		cw_error("cannot become '%s': %s", user, strerror(errno));
		return CW_ERR_PERM;
	}
	if (setuid(0) == 0) {
		cw_error("root privileges could be regained; stopping");
		return CW_ERR_INTERNAL;
	}
	setenv("HOME", pw->pw_dir, 1);
	setenv("USER", pw->pw_name, 1);
	setenv("LOGNAME", pw->pw_name, 1);
	cw_secret_harden_process();
	return CW_OK;
}

/* Running as root: become the service user. Running as anyone else: be
 * the service user already. */
static enum cw_err
become_service_user(const struct cw_config *cfg)
{
	char *me;
	bool same;

	if (getuid() == 0)
		return svc_drop_privileges(cfg->service_user);
	me = cw_uid_name((unsigned)getuid());
	same = me != NULL && strcmp(me, cfg->service_user) == 0;
	if (!same)
		cw_error("certwizd runs as '%s' ([service] user), not as '%s'",
			 cfg->service_user, me ? me : "?");
	free(me);
	return same ? CW_OK : CW_ERR_PERM;
}

/* The configuration's absolute path. */
static char *
config_path(const char *given)
{
	const char *p = given ? given : getenv("CERTWIZ_CONF");
	char *real;

	if (p == NULL)
		p = CW_CONFIG_DEFAULT_PATH;
	real = realpath(p, NULL);
	if (real == NULL)
		cw_error("cannot read configuration '%s': %s", p,
			 strerror(errno));
	return real;
}

static enum cw_err
load_config(const char *path, struct cw_config *cfg)
{
	enum cw_err rc = cw_config_load(path, cfg);

	if (rc == CW_OK && (rc = cw_config_check_host(cfg)) != CW_OK)
		cw_config_release(cfg);
	return rc;
}

/* A socket handed over by systemd (socket activation), or -1. */
static int
activated_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int fd = 3;

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid() ||
	    atoi(fds) != 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* Binds the socket at path, which must be absent, or a socket nobody
 * answers on (left by a service that stopped). */
static int
bind_socket(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		cw_error("socket path '%s' is too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			cw_error("'%s' exists and is not a socket; refusing to "
				 "replace it",
				 path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			cw_error("another certwizd answers on '%s'", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	old = umask(0111); /* any local user may connect */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 64) != 0) {
		cw_error("cannot listen on '%s': %s", path, strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

static size_t
count_workers(uid_t uid, bool any)
{
	size_t n = 0;

	for (size_t i = 0; i < MAX_WORKERS; i++)
		if (workers[i].pid > 0 && (any || workers[i].uid == uid))
			n++;
	return n;
}

static void
reap(void)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < MAX_WORKERS; i++)
			if (workers[i].pid == pid) {
				workers[i].pid = 0;
				due.wanted = true;
			}
		if (pid == due.pid)
			due.pid = 0;
		if (WIFSIGNALED(status))
			svc_log("worker %ld ended by signal %d", (long)pid,
				WTERMSIG(status));
	}
}

/* In a process forked by the listener: none of the listener's own
 * descriptors, the default signal dispositions. */
static void
child_setup(int lfd)
{
	close(lfd);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

/* Forks the worker of one connection (or refuses it, at a limit). */
static void
serve_one(int lfd, int cfd, const char *config, long per_user)
{
	uid_t uid = 0;
	gid_t gid;
	pid_t cpid, pid;
	size_t slot = MAX_WORKERS;

	if (!svc_peer(cfd, &uid, &gid, &cpid)) {
		close(cfd);
		return;
	}
	for (size_t i = 0; i < MAX_WORKERS && slot == MAX_WORKERS; i++)
		if (workers[i].pid == 0)
			slot = i;
	if (slot == MAX_WORKERS ||
	    (uid != 0 && (long)count_workers(uid, false) >= per_user)) {
		svc_log("uid %u: refused a connection: %s", (unsigned)uid,
			slot == MAX_WORKERS ? "the service is busy"
					    : "too many connections of this "
					      "user");
		svc_send_refusal(cfd,
				 slot == MAX_WORKERS
					 ? "the service is busy; try again"
					 : "too many of your requests are "
					   "running; try again when they end",
				 1);
		close(cfd);
		return;
	}
	pid = fork();
	if (pid < 0) {
		svc_log("fork: %s", strerror(errno));
		svc_send_refusal(cfd, "the service cannot start a worker", 1);
		close(cfd);
		return;
	}
	if (pid == 0) {
		struct svc_worker_opts o = { config, false };

		child_setup(lfd);
		_exit(svc_worker(cfd, &o));
	}
	workers[slot] = (struct worker){ pid, uid };
	close(cfd);
}

static void
start_due(const char *config, int lfd)
{
	int p[2];
	pid_t pid;

	due.wanted = false;
	due.at = time(NULL) + 60; /* unless it answers */
	if (pipe2(p, O_CLOEXEC) != 0) {
		svc_log("scheduled work: pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		svc_log("scheduled work: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		child_setup(lfd);
		close(p[0]);
		svc_log_detach();
		_exit(svc_due(config, p[1]));
	}
	close(p[1]);
	if (due.rd >= 0)
		close(due.rd);
	due.rd = p[0];
	due.pid = pid;
}

/* The scheduled work told when it is next due. */
static void
due_answer(void)
{
	char line[32];
	ssize_t n = read(due.rd, line, sizeof(line) - 1);
	time_t now = time(NULL);
	long long next;

	close(due.rd);
	due.rd = -1;
	if (n <= 0)
		return;
	line[n] = 0;
	next = atoll(line);
	due.at = next > 0 && next < (long long)now + DUE_MAX_WAIT
	             ? (time_t)next
	             : now + DUE_MAX_WAIT;
}

/* How long the listener may sleep before the scheduled work is due. */
static int
due_timeout(void)
{
	time_t now = time(NULL);

	if (!due.enabled || due.pid > 0)
		return -1;
	if (due.wanted || due.at <= now)
		return 0;
	return (int)(due.at - now) * 1000;
}

static int
serve(const char *config, const struct cw_config *cfg, int lfd)
{
	struct sigaction sa;
	bool stop = false;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return 1;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	svc_log("listening on %s as %s", cfg->service_socket,
		cfg->service_user);
	due.enabled = cfg->n_deploys > 0 || cfg->renew_auto;
	due.at = time(NULL);
	while (!stop) {
		struct pollfd p[3] = {{lfd, POLLIN, 0},
		                      {sig_pipe[0], POLLIN, 0},
		                      {due.rd, POLLIN, 0}};
		int timeout = due_timeout();

		if (timeout == 0) {
			start_due(config, lfd);
			continue;
		}
		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			break;
		if (due.rd >= 0 && (p[2].revents & (POLLIN | POLLHUP)))
			due_answer();
		if (p[1].revents & POLLIN) {
			unsigned char b;

			while (read(sig_pipe[0], &b, 1) == 1)
				if (b == SIGTERM || b == SIGINT)
					stop = true;
			reap();
		}
		if (!stop && (p[0].revents & POLLIN)) {
			int cfd = accept4(lfd, NULL, NULL,
					  SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (cfd >= 0)
				serve_one(lfd, cfd, config,
					  cfg->max_clients_per_user);
		}
	}
	close(lfd);
	/* the workers finish what they started (each step is persisted);
	 * stragglers are stopped after 30 seconds */
	for (int i = 0; i < 300 && (count_workers(0, true) > 0 || due.pid > 0);
	     i++) {
		struct timespec t = { 0, 100 * 1000 * 1000 };

		nanosleep(&t, NULL);
		reap();
	}
	for (size_t i = 0; i < MAX_WORKERS; i++)
		if (workers[i].pid > 0)
			kill(workers[i].pid, SIGKILL);
	if (due.pid > 0)
		kill(due.pid, SIGKILL);
	reap();
	svc_log("stopped");
	return 0;
}

static int
one_shot(const char *config, int fd)
{
	struct svc_worker_opts o = { config, true };
	struct cw_config cfg;

	if (getuid() != 0) {
		cw_error("--one-shot is for a root client without the "
			 "service; connect to certwizd instead");
		return 5;
	}
	if (fcntl(fd, F_GETFD) < 0) {
		cw_error("--one-shot: %d is not an open descriptor", fd);
		return 2;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (load_config(config, &cfg) != CW_OK)
		return 1;
	/* the deployer keeps root's privileges; the worker drops them */
	svc_deployer_use(svc_deployer_start(&cfg, -1));
	if (chdir("/") != 0 || svc_drop_privileges(cfg.service_user) != CW_OK) {
		cw_config_release(&cfg);
		return 1;
	}
	cw_config_release(&cfg);
	return svc_worker(fd, &o);
}

static int
usage(void)
{
	fputs("usage: certwizd [--config FILE] [-v]\n"
	      "       certwizd --one-shot FD [--config FILE]\n"
	      "see certwizd(8)\n",
	      stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "one-shot", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *given = NULL;
	struct cw_config cfg;
	char *config = NULL;
	int opt, shot = -1, lfd, rc;

	cw_secret_harden_process();
	umask(077);
	while ((opt = getopt_long(argc, argv, "c:vVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': given = optarg; break;
		case 'o': shot = atoi(optarg); break;
		case 'v': cw_log_set_level(CW_LOG_DEBUG); break;
		case 'V': printf("certwizd %s\n", CERTWIZ_VERSION); return 0;
		case 'h': usage(); return 0;
		default: return usage();
		}
	}
	if (optind != argc)
		return usage();
	config = config_path(given);
	if (config == NULL)
		return 1;
	if (shot >= 0) {
		svc_log_init(-1, "certwizd");
		rc = one_shot(config, shot);
		free(config);
		return rc;
	}
	svc_log_init(STDERR_FILENO, "certwizd");
	if (load_config(config, &cfg) != CW_OK) {
		free(config);
		return 1;
	}
	lfd = activated_socket();
	if (lfd < 0 && (lfd = bind_socket(cfg.service_socket)) < 0) {
		cw_config_release(&cfg);
		free(config);
		return 1;
	}
	if (cfg.n_deploys > 0) {
		/* keeps the privileges certwizd was started with */
		int d = svc_deployer_start(&cfg, -1);

		if (getuid() != 0)
			svc_log(
			    "not started as root: [deploy] files are written "
			    "and commands run as %s",
			    cfg.service_user);
		if (d < 0) {
			close(lfd);
			cw_config_release(&cfg);
			free(config);
			return 1;
		}
		svc_deployer_use(d);
	}
	if (chdir("/") != 0 || become_service_user(&cfg) != CW_OK) {
		close(lfd);
		cw_config_release(&cfg);
		free(config);
		return 1;
	}
	/* work every worker would repeat, done once before the first fork */
	wiz_preload();
	rc = serve(config, &cfg, lfd);
	cw_config_release(&cfg);
	free(config);
	return rc;
}
