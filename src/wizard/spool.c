/*
 * The spool: offline requests of users outside the admin group, and their
 * refused attempts. They cannot write the store (the operating system
 * says so), so they write a file into a sticky, setgid directory that the
 * next administrator's command takes in. The requester's identity is the
 * file's owner, from the kernel, never the file's content.
 */
#define _DEFAULT_SOURCE
#include "wizard_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_MAX (256 * 1024)

bool
wiz_is_admin(const struct wiz *w)
{
	return cw_is_admin(w->cfg.admin_group);
}

const char *
wiz_admin_group(const struct wiz *w)
{
	return w->cfg.admin_group;
}

enum cw_err
wiz_require_admin(struct wiz *w, const char *verb)
{
	if (wiz_is_admin(w))
		return CW_OK;
	cw_error("permission denied: '%s' needs membership in group '%s' "
		 "(or root)",
		 verb, w->cfg.admin_group);
	wiz_spool_event(w, verb, "denied");
	return CW_ERR_PERM;
}

void
wiz_secure_files(struct wiz *w)
{
	const char *suffixes[] = { "", "-wal", "-shm" };
	gid_t gid;

	if (getuid() != 0 || w->cfg.store_path == NULL ||
	    cw_group_gid(w->cfg.admin_group, &gid) != CW_OK)
		return;
	for (size_t i = 0; i < 3; i++) {
		char *p = cw_printf("%s%s", w->cfg.store_path, suffixes[i]);

		if (p != NULL && access(p, F_OK) == 0 &&
		    (chown(p, 0, gid) != 0 || chmod(p, 0660) != 0))
			cw_warn("cannot set owner and mode of '%s'", p);
		free(p);
	}
	/* Anyone may drop a file, nobody but its owner and root may remove
	 * it, new files belong to the admin group, and only admins list. */
	if (w->cfg.spool_dir != NULL) {
		if (mkdir(w->cfg.spool_dir, 03773) != 0 && errno != EEXIST)
			cw_warn("cannot create the spool '%s'", w->cfg.spool_dir);
		else if (chown(w->cfg.spool_dir, 0, gid) != 0 ||
			 chmod(w->cfg.spool_dir, 03773) != 0)
			cw_warn("cannot set owner and mode of '%s'",
				w->cfg.spool_dir);
	}
}

/* Writes text to a new file in the spool; *name is its name. */
static enum cw_err
spool_write(struct wiz *w, const char *kind, const char *text,
	    const char *replace, char **name)
{
	unsigned char rnd[6];
	char *hex = NULL, *file = NULL, *path = NULL, *old = NULL;
	enum cw_err rc = CW_ERR_NOMEM;

	if (w->cfg.spool_dir == NULL) {
		cw_error("no spool: set [store] path or spool");
		return CW_ERR_CONFIG;
	}
	if (cw_random(rnd, sizeof(rnd)) != CW_OK ||
	    (hex = cw_hex(rnd, sizeof(rnd))) == NULL)
		goto out;
	file = cw_printf("%u.%lld.%s.%s.json", (unsigned)getuid(),
			 (long long)time(NULL), hex, kind);
	path = file ? cw_printf("%s/%s", w->cfg.spool_dir, file) : NULL;
	if (path == NULL)
		goto out;
	rc = cw_file_write_atomic(path, text, strlen(text), 0640, false);
	if (rc != CW_OK) {
		cw_error("cannot write to the spool '%s'", w->cfg.spool_dir);
		goto out;
	}
	if (replace != NULL &&
	    (old = cw_printf("%s/%s", w->cfg.spool_dir, replace)) != NULL)
		unlink(old);
	if (name != NULL) {
		*name = file;
		file = NULL;
	}
out:
	free(hex);
	free(file);
	free(path);
	free(old);
	return rc;
}

void
wiz_spool_event(struct wiz *w, const char *verb, const char *outcome)
{
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "version", 1,
			      "kind", "event", "verb", verb, "outcome", outcome,
			      "host", w->host, "reason", cw_last_error());
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int level = cw_log_get_level();

	cw_log_set_level(CW_LOG_QUIET);
	if (text == NULL || spool_write(w, "event", text, NULL, NULL) != CW_OK) {
		cw_log_set_level((enum cw_log_level)level);
		cw_warn("the refusal could not be recorded in the spool");
	}
	cw_log_set_level((enum cw_log_level)level);
	free(text);
	json_decref(j);
}

enum cw_err
wiz_spool_request(struct wiz *w, const char *state, const json_t *request,
		  char **name)
{
	json_t *j = json_deep_copy(request);
	char *text, *previous = *name;
	enum cw_err rc;

	if (j == NULL)
		return CW_ERR_NOMEM;
	json_object_set_new(j, "version", json_integer(1));
	json_object_set_new(j, "kind", json_string("request"));
	json_object_set_new(j, "state", json_string(state));
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (text == NULL)
		return CW_ERR_NOMEM;
	*name = NULL;
	rc = spool_write(w, "request", text, previous, name);
	if (rc != CW_OK)
		*name = previous;
	else
		free(previous);
	free(text);
	return rc;
}

void
wiz_spool_remove(struct wiz *w, const char *name)
{
	char *p = name ? cw_printf("%s/%s", w->cfg.spool_dir, name) : NULL;

	if (p != NULL)
		unlink(p);
	free(p);
}

/* A spool file: its JSON, its owner and the hash of its bytes. */
struct entry {
	json_t *j;
	uid_t owner;
	char *user;
	char *sha256;
};

static enum cw_err
read_entry(const char *path, struct entry *e)
{
	unsigned char buf[SPOOL_MAX + 1];
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return CW_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > SPOOL_MAX) {
		close(fd);
		return CW_ERR_PARSE;
	}
	n = read(fd, buf, SPOOL_MAX);
	close(fd);
	if (n < 0)
		return CW_ERR_IO;
	e->owner = st.st_uid;
	e->user = getpwuid_r(st.st_uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 &&
				  res
			  ? strdup(pw.pw_name)
			  : cw_printf("uid:%u", (unsigned)st.st_uid);
	e->sha256 = x509_sha256_hex(buf, (size_t)n);
	e->j = json_loadb((const char *)buf, (size_t)n, 0, NULL);
	return e->j && e->user && e->sha256 ? CW_OK : CW_ERR_PARSE;
}

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A refusal or failure met by a user who could not write the store. */
static enum cw_err
ingest_event(struct wiz *w, const struct entry *e)
{
	const char *outcome = str(e->j, "outcome");
	bool denied = outcome && !strcmp(outcome, "denied");
	char *target = audit_target("verb", str(e->j, "verb"), "host",
				    str(e->j, "host"), NULL);
	enum cw_err rc;

	if (!denied && (outcome == NULL || strcmp(outcome, "failure"))) {
		free(target);
		return CW_ERR_PARSE;
	}
	rc = target ? wiz_audit_as(w, (unsigned)e->owner, e->user,
				   denied ? "permission-denied"
					  : str(e->j, "verb"),
				   target, outcome, str(e->j, "reason"))
		    : CW_ERR_NOMEM;

	free(target);
	return rc;
}

/* The key and the request as the requester's certwiz would have written
 * them; the CSR proves the key (its signature is checked here, and import
 * checks the key on the token). */
static enum cw_err
ingest_request(struct wiz *w, const struct entry *e)
{
	const json_t *tok = json_object_get(e->j, "token");
	struct store_token t = { 0, (char *)str(tok, "serial"),
				 (char *)str(tok, "label"),
				 (char *)str(tok, "manufacturer"),
				 (char *)str(tok, "model") };
	struct store_key k;
	struct store_request r;
	struct cw_buf spki;
	const char *state = str(e->j, "state");
	bool awaiting = state && strcmp(state, "awaiting-response") == 0;
	char *hash = NULL, *t1 = NULL, *t2 = NULL, rid[24];
	enum cw_err rc = CW_OK;
	json_t *u;
	size_t i;

	memset(&k, 0, sizeof(k));
	memset(&r, 0, sizeof(r));
	cw_buf_init(&spki);
	cw_strlist_init(&r.usages);
	if (!t.serial || !t.label || !t.manufacturer || !t.model ||
	    !str(e->j, "cka_id") || !str(e->j, "label") ||
	    !str(e->j, "algorithm") || !str(e->j, "host") || !state)
		rc = CW_ERR_PARSE;
	if (rc == CW_OK && awaiting) {
		rc = str(e->j, "csr") ? cw_unbase64(str(e->j, "csr"), &r.csr)
				      : CW_ERR_PARSE;
		if (rc == CW_OK)
			rc = x509_csr_check(&r.csr, &spki);
		if (rc == CW_OK &&
		    (hash = x509_sha256_hex(spki.data, spki.len)) == NULL)
			rc = CW_ERR_NOMEM;
	}
	json_array_foreach(json_object_get(e->j, "usages"), i, u)
		if (rc == CW_OK && json_is_string(u))
			rc = cw_strlist_add(&r.usages, json_string_value(u));
	if (rc == CW_OK)
		rc = store_token_ensure(w->store, &t, &k.token_id);
	k.cka_id = (char *)str(e->j, "cka_id");
	k.label = (char *)str(e->j, "label");
	k.algorithm = (char *)str(e->j, "algorithm");
	k.origin = "generated";
	k.state = "generating";
	if (rc == CW_OK)
		rc = store_key_add(w->store, &k);
	if (rc == CW_OK && awaiting)
		rc = store_key_set_ready(w->store, k.id, &spki, hash);
	r.host = (char *)str(e->j, "host");
	r.key_id = k.id;
	r.protocol = "offline";
	r.state = "awaiting-response";
	r.created_by = e->user;
	r.out_path = (char *)str(e->j, "out");
	if (rc == CW_OK && awaiting)
		rc = store_request_add(w->store, &r);
	snprintf(rid, sizeof(rid), "%lld", (long long)r.id);
	t1 = audit_target("token_serial", t.serial, "cka_id", k.cka_id,
			  "algorithm", k.algorithm, NULL);
	t2 = audit_target("request", awaiting ? rid : NULL, "cka_id", k.cka_id,
			  "protocol", "offline", "out", r.out_path, NULL);
	if (rc == CW_OK)
		rc = t1 && t2 ? wiz_audit_as(w, (unsigned)e->owner, e->user,
					     "key-generated", t1, "success",
					     "from the spool")
			      : CW_ERR_NOMEM;
	if (rc == CW_OK && awaiting)
		rc = wiz_audit_as(w, (unsigned)e->owner, e->user,
				  "request-created", t2, "success",
				  "from the spool");
	free(t1);
	free(t2);
	free(hash);
	cw_buf_release(&spki);
	cw_buf_release(&r.csr);
	cw_strlist_release(&r.usages);
	return rc;
}

static void
ingest_one(struct wiz *w, const char *name)
{
	char *path = cw_printf("%s/%s", w->cfg.spool_dir, name);
	struct entry e = { NULL, 0, NULL, NULL };
	const char *kind;
	bool seen = false;
	enum cw_err rc, parsed;

	if (path == NULL || store_spool_seen(w->store, name, &seen) != CW_OK ||
	    seen)
		goto out;
	parsed = read_entry(path, &e);
	if (parsed == CW_ERR_IO)
		goto out;
	rc = store_begin(w->store);
	kind = parsed == CW_OK ? str(e.j, "kind") : NULL;
	if (rc == CW_OK && kind && !strcmp(kind, "event"))
		rc = ingest_event(w, &e);
	else if (rc == CW_OK && kind && !strcmp(kind, "request"))
		rc = ingest_request(w, &e);
	else if (rc == CW_OK)
		rc = CW_ERR_PARSE;
	if (rc == CW_ERR_PARSE) {
		/* Recorded, so that a bad file is looked at once, not forever. */
		store_rollback(w->store);
		rc = store_begin(w->store);
		if (rc == CW_OK)
			rc = wiz_audit(w, "spool-rejected", NULL, "failure",
				       name);
	}
	if (rc == CW_OK)
		rc = store_spool_mark(w->store, name,
				      e.sha256 ? e.sha256 : "", (int64_t)e.owner);
	rc = store_end(w->store, rc);
	if (rc == CW_OK)
		unlink(path); /* root can; others leave it, marked */
out:
	json_decref(e.j);
	free(e.user);
	free(e.sha256);
	free(path);
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
is_spool_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 &&
	       strcmp(d->d_name + n - 5, ".json") == 0;
}

void
wiz_spool_ingest(struct wiz *w)
{
	struct dirent **names = NULL;
	int n;

	if (w->cfg.spool_dir == NULL)
		return;
	n = scandir(w->cfg.spool_dir, &names, is_spool_file, by_name);
	for (int i = 0; i < n; i++) {
		ingest_one(w, names[i]->d_name);
		free(names[i]);
	}
	free(names);
}
