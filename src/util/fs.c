#include "certwiz/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum cw_err
cw_file_read(const char *path, size_t max, struct cw_buf *out)
{
	struct cw_buf b;
	struct stat st;
	unsigned char chunk[8192];
	enum cw_err rc = CW_ERR_IO;
	int fd;

	cw_buf_init(&b);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cw_error("cannot open '%s': %s", path, strerror(errno));
		return errno == ENOENT ? CW_ERR_NOT_FOUND : CW_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cw_error("'%s' is not a regular file", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cw_error("cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			cw_error("'%s' is larger than %zu bytes", path, max);
			rc = CW_ERR_PARSE;
			goto out;
		}
		if (cw_buf_append(&b, chunk, (size_t)n) != CW_OK) {
			rc = CW_ERR_NOMEM;
			goto out;
		}
	}
	cw_buf_release(out);
	*out = b;
	cw_buf_init(&b);
	rc = CW_OK;
out:
	close(fd);
	cw_buf_release(&b);
	return rc;
}

static char *
dir_of(const char *path)
{
	char *copy = strdup(path);
	char *d;

	if (copy == NULL)
		return NULL;
	d = strdup(dirname(copy));
	free(copy);
	return d;
}

static enum cw_err
fsync_dir(const char *path)
{
	char *dir = dir_of(path);
	int fd;
	enum cw_err rc = CW_ERR_IO;

	if (dir == NULL)
		return CW_ERR_NOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && fsync(fd) == 0)
		rc = CW_OK;
	else if (fd < 0 && errno == EACCES)
		rc = CW_OK; /* a write-only folder (the spool): the file itself
			       was synced before it was linked */
	else
		cw_error("cannot sync directory '%s': %s", dir,
			 strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

enum cw_err
cw_atomic_open(struct cw_atomic *a, const char *path, int mode, bool force)
{
	unsigned char rnd[6];
	char *hex = NULL;
	struct stat st;

	a->path = NULL;
	a->tmp = NULL;
	a->fd = -1;
	a->force = force;
	if (lstat(path, &st) == 0) {
		/* --force replaces a file, never a device, a FIFO, a socket, a
		 * folder or a link (rename would put a regular file in its
		 * place) */
		if (!force) {
			cw_error("'%s' exists (use --force to replace it)",
				 path);
			return CW_ERR_EXISTS;
		}
		if (!S_ISREG(st.st_mode)) {
			cw_error("'%s' is not a regular file; --force replaces "
				 "only a regular file",
				 path);
			return CW_ERR_EXISTS;
		}
	}
	if (cw_random(rnd, sizeof(rnd)) != CW_OK ||
	    (hex = cw_hex(rnd, sizeof(rnd))) == NULL)
		return CW_ERR_NOMEM;
	a->path = strdup(path);
	a->tmp = cw_printf("%s.%s.tmp", path, hex);
	free(hex);
	if (a->path == NULL || a->tmp == NULL) {
		cw_atomic_abort(a);
		return CW_ERR_NOMEM;
	}
	a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				     O_CLOEXEC, (mode_t)mode);
	if (a->fd < 0) {
		int e = errno;
		char *dir = e == ENOENT ? dir_of(path) : NULL;

		if (dir != NULL)
			cw_error("cannot create '%s': the folder '%s' does not "
				 "exist",
				 path, dir);
		else
			cw_error("cannot create '%s': %s", path, strerror(e));
		free(dir);
		free(a->tmp);
		a->tmp = NULL;
		cw_atomic_abort(a);
		return CW_ERR_IO;
	}
	return CW_OK;
}

static enum cw_err
write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return CW_ERR_IO;
		p += w;
		n -= (size_t)w;
	}
	return CW_OK;
}

enum cw_err
cw_atomic_write(struct cw_atomic *a, const void *data, size_t n)
{
	CW_RETURN_IF_FAIL(a->fd >= 0 && a->tmp != NULL, CW_ERR_INTERNAL);
	if (write_all(a->fd, data, n) != CW_OK || fsync(a->fd) != 0) {
		cw_error("cannot write '%s': %s", a->path, strerror(errno));
		return CW_ERR_IO;
	}
	return CW_OK;
}

enum cw_err
cw_atomic_commit(struct cw_atomic *a)
{
	enum cw_err rc;

	CW_RETURN_IF_FAIL(a->fd >= 0 && a->tmp != NULL, CW_ERR_INTERNAL);
	close(a->fd);
	a->fd = -1;
	if (a->force) {
		if (rename(a->tmp, a->path) != 0) {
			cw_error("cannot rename to '%s': %s", a->path,
				 strerror(errno));
			return CW_ERR_IO;
		}
	} else {
		/* link() fails with EEXIST instead of replacing a file
		 * that appeared since cw_atomic_open. */
		if (link(a->tmp, a->path) != 0) {
			int e = errno;

			cw_error("cannot create '%s': %s", a->path,
				 strerror(e));
			return e == EEXIST ? CW_ERR_EXISTS : CW_ERR_IO;
		}
		unlink(a->tmp);
	}
	free(a->tmp);
	a->tmp = NULL;
	rc = fsync_dir(a->path);
	cw_atomic_abort(a);
	return rc;
}

void
cw_atomic_abort(struct cw_atomic *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	if (a->tmp != NULL)
		unlink(a->tmp);
	free(a->tmp);
	a->tmp = NULL;
	free(a->path);
	a->path = NULL;
}

enum cw_err
cw_file_write_atomic(const char *path, const void *data, size_t n, int mode,
		     bool force)
{
	struct cw_atomic a;
	enum cw_err rc = cw_atomic_open(&a, path, mode, force);

	if (rc != CW_OK)
		return rc;
	rc = cw_atomic_write(&a, data, n);
	if (rc == CW_OK)
		rc = cw_atomic_commit(&a);
	cw_atomic_abort(&a);
	return rc;
}

char *
cw_user_name(void)
{
	uid_t uid = getuid();
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		return strdup(pw.pw_name);
	return cw_printf("uid:%u", (unsigned)uid);
}

char *
cw_abspath(const char *path)
{
	char cwd[4096];

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	return cw_printf("%s/%s", cwd, path);
}
