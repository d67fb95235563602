#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certwiz/store.h"

static int
setup(void **state)
{
	struct store *s = NULL;

	if (store_open(":memory:", false, &s) != CW_OK)
		return -1;
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	store_close(*state);
	return 0;
}

static int64_t
add_token(struct store *s, const char *serial, const char *label)
{
	struct store_token t = { 0, (char *)serial, (char *)label,
				 (char *)"SoftHSM project", (char *)"SoftHSM v2" };
	int64_t id = 0;

	assert_int_equal(store_token_ensure(s, &t, &id), CW_OK);
	return id;
}

static int64_t
add_key(struct store *s, int64_t token, const char *cka, const char *hash)
{
	struct store_key k;
	unsigned char spki[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct cw_buf b = { spki, sizeof(spki), sizeof(spki) };

	memset(&k, 0, sizeof(k));
	k.token_id = token;
	k.cka_id = (char *)cka;
	k.label = (char *)"certwiz-Default-x";
	k.algorithm = (char *)"ec:P-256";
	k.origin = (char *)"generated";
	k.state = (char *)"generating";
	assert_int_equal(store_key_add(s, &k), CW_OK);
	if (hash)
		assert_int_equal(store_key_set_ready(s, k.id, &b, hash), CW_OK);
	return k.id;
}

static void
test_open_file_store_uses_wal_and_full_sync(void **state)
{
	char dir[64] = "/tmp/certwiz-store-XXXXXX", path[96];
	struct store *s = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	(void)state;
	/* a folder of its own: the store refuses one others may write to */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	/* only an explicit create makes a store */
	assert_int_equal(store_open(path, false, &s), CW_ERR_STORE);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(store_open(path, true, &s), CW_OK);
	assert_int_equal(store_check_integrity(s), CW_OK);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_true(sqlite3_column_int(st, 0) >= 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
	store_close(s);
	/* reopening migrates nothing and works */
	assert_int_equal(store_open(path, false, &s), CW_OK);
	store_close(s);
	unlink(path);
	strcat(path, "-wal");
	unlink(path);
	path[strlen(path) - 4] = 0;
	strcat(path, "-shm");
	unlink(path);
	rmdir(dir);
}

static void
test_token_ensure_is_idempotent_and_tracks_label(void **state)
{
	struct store *s = *state;
	struct store_token t;
	int64_t a = add_token(s, "1234", "old");
	int64_t b = add_token(s, "1234", "new");

	assert_int_equal(a, b);
	assert_int_equal(store_token_get(s, a, &t), CW_OK);
	assert_string_equal(t.label, "new");
	store_token_release(&t);
	assert_true(add_token(s, "5678", "new") != a);
}

/* tpm2-pkcs11 gives every token the same serial: the label tells them
 * apart, and two such tokens never become one row. */
static void
test_tokens_without_a_serial_are_told_apart_by_label(void **state)
{
	struct store *s = *state;
	int64_t a = add_token(s, "0000000000000000", "tpm-a");
	int64_t b = add_token(s, "0000000000000000", "tpm-b");
	struct store_token t;

	assert_true(a != b);
	assert_int_equal(add_token(s, "0000000000000000", "tpm-a"), a);
	assert_int_equal(store_token_get(s, a, &t), CW_OK);
	assert_string_equal(t.label, "tpm-a");
	store_token_release(&t);
}

static void
test_key_lifecycle_and_unique_cka_id(void **state)
{
	struct store *s = *state;
	int64_t tok = add_token(s, "1", "t");
	int64_t k = add_key(s, tok, "aa01", NULL);
	struct store_key got, dup;

	/* a generating key is not found by public key */
	assert_int_equal(store_key_by_spki(s, "h1", &got), CW_ERR_NOT_FOUND);
	assert_int_equal(store_key_set_ready(s, k,
					     &(struct cw_buf){ (unsigned char *)"x",
							       1, 1 },
					     "h1"),
			 CW_OK);
	assert_int_equal(store_key_by_spki(s, "h1", &got), CW_OK);
	assert_int_equal(got.id, k);
	assert_string_equal(got.state, "ready");
	assert_string_equal(got.cka_id, "aa01");
	store_key_release(&got);
	memset(&dup, 0, sizeof(dup));
	dup.token_id = tok;
	dup.cka_id = (char *)"aa01";
	dup.label = dup.algorithm = (char *)"x";
	dup.origin = (char *)"generated";
	dup.state = (char *)"generating";
	assert_int_equal(store_key_add(s, &dup), CW_ERR_DUPLICATE);
	assert_int_equal(store_key_delete(s, k), CW_OK);
	assert_int_equal(store_key_get(s, k, &got), CW_ERR_NOT_FOUND);
}

static enum cw_err
count_req(void *user, const struct store_request *r)
{
	(void)r;
	(*(int *)user)++;
	return CW_OK;
}

static void
test_request_awaits_until_issued(void **state)
{
	struct store *s = *state;
	int64_t k = add_key(s, add_token(s, "2", "t"), "bb", "h2");
	struct store_request r, got;
	unsigned char csr[] = { 0x30, 0x00 };
	int n = 0;

	memset(&r, 0, sizeof(r));
	r.host = (char *)"fe01.x.test";
	cw_strlist_init(&r.usages);
	cw_strlist_add(&r.usages, "Default");
	cw_strlist_add(&r.usages, "Web");
	r.key_id = k;
	r.csr = (struct cw_buf){ csr, 2, 2 };
	r.protocol = (char *)"offline";
	r.state = (char *)"awaiting-response";
	r.created_by = (char *)"root";
	assert_int_equal(store_request_add(s, &r), CW_OK);
	assert_true(r.id > 0);
	assert_int_equal(store_request_awaiting(s, k, &got), CW_OK);
	assert_int_equal(got.id, r.id);
	assert_int_equal(got.usages.n, 2);
	assert_string_equal(got.usages.v[1], "Web");
	assert_int_equal(got.csr.len, 2);
	store_request_release(&got);
	assert_int_equal(store_request_set_state(s, r.id, "issued"), CW_OK);
	assert_int_equal(store_request_awaiting(s, k, &got), CW_ERR_NOT_FOUND);
	/* the state column only takes known states */
	assert_int_equal(store_request_set_state(s, r.id, "bogus"),
			 CW_ERR_STORE);
	assert_int_equal(store_each_request(s, count_req, &n), CW_OK);
	assert_int_equal(n, 1);
	cw_strlist_release(&r.usages);
}

static void
test_cert_thumbprint_is_unique_and_rollback_keeps_nothing(void **state)
{
	struct store *s = *state;
	struct store_cert c, got;
	unsigned char der[] = { 0x30, 0x01, 0x00 };

	memset(&c, 0, sizeof(c));
	c.der = (struct cw_buf){ der, 3, 3 };
	c.sha256 = (char *)"ab12";
	c.sha1 = (char *)"cd";
	c.subject = c.issuer = (char *)"CN=x";
	c.serial = (char *)"01";
	c.not_before = 1;
	c.not_after = 2;
	c.origin = (char *)"imported";
	assert_int_equal(store_begin(s), CW_OK);
	assert_int_equal(store_cert_add(s, &c), CW_OK);
	store_rollback(s);
	assert_int_equal(store_cert_by_sha256(s, "ab12", &got),
			 CW_ERR_NOT_FOUND);
	assert_int_equal(store_cert_add(s, &c), CW_OK);
	assert_int_equal(store_cert_add(s, &c), CW_ERR_DUPLICATE);
	assert_int_equal(store_cert_by_sha256(s, "ab12", &got), CW_OK);
	assert_int_equal(got.key_id, 0);
	assert_int_equal(got.der.len, 3);
	store_cert_release(&got);
}

/* A certificate valid from 1 to 2, imported, or issued for request_id
 * when it is not 0. */
static int64_t
add_cert_for(struct store *s, const char *sha, int64_t request_id)
{
	struct store_cert c;
	unsigned char der[] = { 0x30, 0x01, 0x00 };

	memset(&c, 0, sizeof(c));
	c.der = (struct cw_buf){ der, 3, 3 };
	c.sha256 = (char *)sha;
	c.sha1 = (char *)"cd";
	c.subject = c.issuer = (char *)"CN=x";
	c.serial = (char *)"01";
	c.not_before = 1;
	c.not_after = 2;
	c.origin = (char *)(request_id ? "issued" : "imported");
	c.request_id = request_id;
	cw_strlist_init(&c.names);
	cw_strlist_init(&c.eku);
	c.eku_any = true;
	assert_int_equal(store_cert_add(s, &c), CW_OK);
	return c.id;
}

static int64_t
add_cert(struct store *s, const char *sha)
{
	return add_cert_for(s, sha, 0);
}

static void
test_cert_find_by_id_prefix_and_ambiguity(void **state)
{
	struct store *s = *state;
	int64_t a = add_cert(s, "ab12aa00"), b = add_cert(s, "ab12bb00");
	struct store_cert got;

	assert_int_equal(store_cert_find(s, "ab12a", &got), CW_OK);
	assert_int_equal(got.id, a);
	assert_true(got.names_known);
	assert_true(got.eku_any);
	assert_string_equal(got.token_state, "present");
	store_cert_release(&got);
	assert_int_equal(store_cert_find(s, "AB12BB", &got), CW_OK);
	assert_int_equal(got.id, b);
	store_cert_release(&got);
	assert_int_equal(store_cert_find(s, "ab12", &got), CW_ERR_AMBIGUOUS);
	assert_int_equal(store_cert_find(s, "ab1", &got), CW_ERR_USAGE);
	assert_int_equal(store_cert_find(s, "ffff", &got), CW_ERR_NOT_FOUND);
	assert_int_equal(store_cert_find(s, "xyz!", &got), CW_ERR_NOT_FOUND);
	assert_int_equal(store_cert_find(s, "2", &got), CW_OK);
	assert_int_equal(got.id, b);
	store_cert_release(&got);
}

static void
test_cert_find_takes_decimal_digits_as_a_prefix_too(void **state)
{
	struct store *s = *state;
	int64_t a = add_cert(s, "08602539aa"), b = add_cert(s, "0002ffff");
	int64_t c = add_cert(s, "0001cafe");
	struct store_cert got;

	/* no certificate 8602539: the start of a's thumbprint */
	assert_int_equal(store_cert_find(s, "08602539", &got), CW_OK);
	assert_int_equal(got.id, a);
	store_cert_release(&got);
	/* id 2 and the start of b's thumbprint: b either way */
	assert_int_equal(store_cert_find(s, "0002", &got), CW_OK);
	assert_int_equal(got.id, b);
	store_cert_release(&got);
	/* id 1 is a, but c's thumbprint starts with 0001 */
	assert_int_equal(store_cert_find(s, "0001", &got), CW_ERR_AMBIGUOUS);
	/* too short for a thumbprint: an id */
	assert_int_equal(store_cert_find(s, "3", &got), CW_OK);
	assert_int_equal(got.id, c);
	store_cert_release(&got);
	assert_int_equal(store_cert_find(s, "0099", &got), CW_ERR_NOT_FOUND);
}

/* Fills a stretch of the stack with non-zero bytes, so that a struct a
 * later call leaves uninitialised holds garbage, not zeros. */
static void __attribute__((noinline))
poison_stack(void)
{
	volatile unsigned char junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0x41;
	(void)junk[sizeof(junk) - 1];
}

/* No certificate has the id, and the digits start several thumbprints:
 * ambiguous, with nothing released that was never set (this aborted in
 * free() once; ASan missed it because its stack happened to be zero). */
static void
test_digits_matching_several_thumbprints_are_ambiguous(void **state)
{
	struct store *s = *state;
	struct store_cert got;

	add_cert(s, "1387aa00");
	add_cert(s, "1387bb00");
	poison_stack();
	assert_int_equal(store_cert_find(s, "1387", &got), CW_ERR_AMBIGUOUS);
	poison_stack();
	assert_int_equal(store_cert_find(s, "13879", &got), CW_ERR_NOT_FOUND);
	poison_stack();
	assert_int_equal(store_cert_find(s, "1387a", &got), CW_OK);
	store_cert_release(&got);
}

static enum cw_err
count_assign(void *user, const struct store_assignment *a)
{
	(void)a;
	(*(int *)user)++;
	return CW_OK;
}

static void
test_assignment_history_and_schedule(void **state)
{
	struct store *s = *state;
	int64_t a = add_cert(s, "aa"), b = add_cert(s, "bb");
	struct store_assignment cur;
	int n = 0, ended = 0;

	assert_int_equal(store_assignment_serving(s, "h", "U", 100, &cur),
			 CW_ERR_NOT_FOUND);
	assert_int_equal(store_assign_now(s, "h", "U", a, "root", 100), CW_OK);
	assert_int_equal(store_assign_at(s, "h", "U", b, "root", 100, 200),
			 CW_OK);
	/* before its time the current one serves, after it the new one */
	assert_int_equal(store_assignment_serving(s, "h", "U", 150, &cur),
			 CW_OK);
	assert_int_equal(cur.cert_id, a);
	store_assignment_release(&cur);
	assert_int_equal(store_assignment_next(s, "h", "U", 150, &cur), CW_OK);
	assert_int_equal(cur.cert_id, b);
	store_assignment_release(&cur);
	assert_int_equal(store_assignment_serving(s, "h", "U", 250, &cur),
			 CW_OK);
	assert_int_equal(cur.cert_id, b);
	store_assignment_release(&cur);
	/* activation writes it: a becomes previous, ended when b began */
	assert_int_equal(store_activate_due(s, 250, count_assign, &n), CW_OK);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(store_activate_due(s, 300, count_assign, &n), CW_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_each_assignment(s, "h", "U", count_assign, &n),
			 CW_OK);
	assert_int_equal(n, 2);
	/* another usage is independent */
	assert_int_equal(store_assign_now(s, "h", "V", a, "root", 300), CW_OK);
	assert_int_equal(store_unassign(s, "h", "U", 400, &ended), CW_OK);
	assert_int_equal(ended, 1);
	assert_int_equal(store_assignment_serving(s, "h", "U", 500, &cur),
			 CW_ERR_NOT_FOUND);
	assert_int_equal(store_assignment_serving(s, "h", "V", 500, &cur),
			 CW_OK);
	store_assignment_release(&cur);
	assert_int_equal(store_unassign(s, "h", "U", 400, &ended), CW_OK);
	assert_int_equal(ended, 0);
}

/* What a renewal interrupted before its takeover left: the certificate
 * issued for the usage after the serving one, never assigned, even when
 * both were issued within one second (the same not_after). */
static void
test_issued_unassigned_is_found_within_the_same_second(void **state)
{
	struct store *s = *state;
	int64_t k = add_key(s, add_token(s, "3", "t"), "cc", "h3");
	int64_t serving = add_cert(s, "aa01"), found = 0, issued;
	struct store_request r;
	unsigned char csr[] = { 0x30, 0x00 };

	assert_int_equal(store_assign_now(s, "h", "U", serving, "root", 100),
			 CW_OK);
	assert_int_equal(store_issued_unassigned(s, "h", "U", serving, 2,
						 &found),
			 CW_ERR_NOT_FOUND);
	memset(&r, 0, sizeof(r));
	r.host = (char *)"h";
	cw_strlist_init(&r.usages);
	cw_strlist_add(&r.usages, "U");
	r.key_id = k;
	r.csr = (struct cw_buf){ csr, 2, 2 };
	r.protocol = (char *)"cmp";
	r.state = (char *)"issued";
	r.created_by = (char *)"root";
	assert_int_equal(store_request_add(s, &r), CW_OK);
	/* the same not_after as the serving one */
	issued = add_cert_for(s, "bb01", r.id);
	assert_int_equal(store_issued_unassigned(s, "h", "U", serving, 2,
						 &found),
			 CW_OK);
	assert_int_equal(found, issued);
	/* one that expires before the serving one is not a renewal */
	assert_int_equal(store_issued_unassigned(s, "h", "U", serving, 3,
						 &found),
			 CW_ERR_NOT_FOUND);
	/* assigned: it is no longer left over */
	assert_int_equal(store_assign_now(s, "h", "U", issued, "root", 200),
			 CW_OK);
	assert_int_equal(store_issued_unassigned(s, "h", "U", serving, 2,
						 &found),
			 CW_ERR_NOT_FOUND);
	cw_strlist_release(&r.usages);
}

/* A file of size 0, and an SQLite file without certwiz's schema, are
 * refused: never silently given a new empty schema. */
static void
test_empty_or_foreign_store_is_refused(void **state)
{
	char dir[64] = "/tmp/certwiz-store-XXXXXX", path[96], side[112];
	struct store *s = NULL;
	sqlite3 *db = NULL;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_open(path, false, &s), CW_ERR_STORE);
	assert_int_equal(store_open(path, true, &s), CW_ERR_STORE);
	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, false, &s), CW_ERR_STORE);
	unlink(path);
	snprintf(side, sizeof(side), "%s-journal", path);
	unlink(side);
	rmdir(dir);
}

/* Pages overwritten with garbage: the first write is refused. */
static void
test_damaged_store_refuses_writes(void **state)
{
	char dir[64] = "/tmp/certwiz-store-XXXXXX", path[96], side[112];
	unsigned char junk[4096];
	struct store *s = NULL;
	struct stat st;
	char cka[40];
	int64_t tok;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	assert_int_equal(store_open(path, true, &s), CW_OK);
	tok = add_token(s, "1", "t");
	for (int i = 0; i < 600; i++) { /* a few pages of rows */
		snprintf(cka, sizeof(cka), "%032x", i);
		add_key(s, tok, cka, NULL);
	}
	store_close(s);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 3 * 4096);
	memset(junk, 0xa5, sizeof(junk));
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	/* the last pages (rows), not the schema's first ones: the store
	 * opens, and reads what it can, but is not written to */
	assert_int_equal(pwrite(fd, junk, sizeof(junk), st.st_size - 4096),
			 4096);
	close(fd);
	assert_int_equal(store_open(path, false, &s), CW_OK);
	assert_int_equal(store_begin(s), CW_ERR_STORE);
	store_close(s);
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_file_store_uses_wal_and_full_sync),
		cmocka_unit_test(test_empty_or_foreign_store_is_refused),
		cmocka_unit_test(test_damaged_store_refuses_writes),
		cmocka_unit_test_setup_teardown(
			test_token_ensure_is_idempotent_and_tracks_label, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_tokens_without_a_serial_are_told_apart_by_label,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_key_lifecycle_and_unique_cka_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_awaits_until_issued,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cert_thumbprint_is_unique_and_rollback_keeps_nothing,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cert_find_by_id_prefix_and_ambiguity, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_digits_matching_several_thumbprints_are_ambiguous,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cert_find_takes_decimal_digits_as_a_prefix_too, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_assignment_history_and_schedule, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_issued_unassigned_is_found_within_the_same_second,
			setup, teardown),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
