#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "certwiz/topology.h"

static const char *good =
	"{\"version\":1,"
	" \"vars\":{\"d\":[\"a.test\",\"b.test\"],\"web\":\"w.test\"},"
	" \"hosts\":{\"fe01.x.test\":{\"pool\":\"pool.x.test\","
	"                            \"usages\":[\"Default\",\"Web\"]},"
	"            \"fe02.x.test\":{\"pool\":\"pool.x.test\","
	"                            \"usages\":[\"Web\"]}},"
	" \"usages\":{\"Default\":{\"subject\":\"CN=${pool}\","
	"   \"names\":[\"${pool}\",\"${host}\",\"sip.${d}\",\"${pool}\"],"
	"   \"eku\":[\"serverAuth\",\"clientAuth\"],\"key\":\"rsa:2048\","
	"   \"ca\":\"enterprise\"},"
	"  \"Web\":{\"subject\":\"CN=${web}\",\"names\":[\"${web}\"]}}}";

static struct topo *
load(const char *text)
{
	struct topo *t = NULL;

	if (topo_load_string(text, strlen(text), "test.json", &t) != CW_OK)
		return NULL;
	return t;
}

static void
test_expand_substitutes_host_pool_and_lists(void **state)
{
	struct topo *t = load(good);
	struct topo_usage u;

	(void)state;
	assert_non_null(t);
	assert_int_equal(topo_expand(t, "fe01.x.test", "Default", &u), CW_OK);
	assert_string_equal(u.subject, "CN=pool.x.test");
	/* duplicates collapse, lists expand in order */
	assert_int_equal(u.names.n, 4);
	assert_string_equal(u.names.v[0], "pool.x.test");
	assert_string_equal(u.names.v[1], "fe01.x.test");
	assert_string_equal(u.names.v[2], "sip.a.test");
	assert_string_equal(u.names.v[3], "sip.b.test");
	assert_int_equal(u.eku.n, 2);
	assert_string_equal(u.key, "rsa:2048");
	assert_string_equal(u.ca, "enterprise");
	topo_usage_release(&u);
	topo_free(t);
}

static void
test_host_lookup_is_case_insensitive(void **state)
{
	struct topo *t = load(good);
	struct topo_usage u;

	(void)state;
	assert_int_equal(topo_expand(t, "FE02.X.TEST", "Web", &u), CW_OK);
	assert_string_equal(u.subject, "CN=w.test");
	assert_null(u.key);
	topo_usage_release(&u);
	topo_free(t);
}

static void
test_unknown_host_or_unserved_usage_is_not_found(void **state)
{
	struct topo *t = load(good);
	struct topo_usage u;
	struct cw_strlist l;

	(void)state;
	assert_int_equal(topo_expand(t, "nope.x.test", "Web", &u),
			 CW_ERR_NOT_FOUND);
	assert_int_equal(topo_expand(t, "fe02.x.test", "Default", &u),
			 CW_ERR_NOT_FOUND);
	assert_int_equal(topo_expand(t, "fe01.x.test", "Missing", &u),
			 CW_ERR_NOT_FOUND);
	cw_strlist_init(&l);
	assert_int_equal(topo_host_usages(t, "fe01.x.test", &l), CW_OK);
	assert_int_equal(l.n, 2);
	cw_strlist_release(&l);
	topo_free(t);
}

/* A variable whose value names variables is expanded; one that refers to
 * itself, directly or in a cycle, is refused with the key path (not an
 * endless recursion), when the document is loaded. */
#define NESTED(VARS, NAME)                                                    \
	"{\"version\":1, \"vars\":{" VARS "},"                              \
	" \"hosts\":{\"h.test\":{\"usages\":[\"U\"]}},"                     \
	" \"usages\":{\"U\":{\"subject\":\"CN=u\",\"names\":[\"" NAME "\"]}}}"

static void
test_self_referring_variables_are_refused(void **state)
{
	static const char *direct = NESTED("\"a\":\"x${a}\"", "${a}");
	static const char *loop =
		NESTED("\"b\":\"${c}.test\",\"c\":\"y${b}\"", "n.${b}");
	static const char *fine =
		NESTED("\"d\":[\"${e}\",\"f.${e}\"],\"e\":\"ok.test\"",
		       "w.${d}");
	struct topo *t = NULL;
	struct topo_usage u;

	(void)state;
	/* (the messages, path and chain, are checked by t_cli) */
	assert_int_equal(topo_load_string(direct, strlen(direct), "t.json", &t),
			 CW_ERR_TOPOLOGY);
	assert_int_equal(topo_load_string(loop, strlen(loop), "t.json", &t),
			 CW_ERR_TOPOLOGY);
	assert_int_equal(topo_load_string(fine, strlen(fine), "t.json", &t),
			 CW_OK);
	assert_int_equal(topo_expand(t, "h.test", "U", &u), CW_OK);
	assert_int_equal(u.names.n, 2);
	assert_string_equal(u.names.v[0], "w.ok.test");
	assert_string_equal(u.names.v[1], "w.f.ok.test");
	topo_usage_release(&u);
	topo_free(t);
}

static void
test_bad_documents_are_refused(void **state)
{
	static const char *bad[] = {
		"",
		"[]",
		"{\"version\":2,\"hosts\":{\"h\":{\"usages\":[]}},\"usages\":{}}",
		/* unknown top-level key */
		"{\"version\":1,\"hostz\":{},\"usages\":{}}",
		/* host uses an undefined usage */
		"{\"version\":1,\"hosts\":{\"h\":{\"usages\":[\"X\"]}},"
		"\"usages\":{}}",
		/* unknown variable */
		"{\"version\":1,\"hosts\":{\"h\":{\"usages\":[\"U\"]}},"
		"\"usages\":{\"U\":{\"subject\":\"CN=${nope}\"}}}",
		/* list variable in the subject */
		"{\"version\":1,\"vars\":{\"l\":[\"a\"]},"
		"\"hosts\":{\"h\":{\"usages\":[\"U\"]}},"
		"\"usages\":{\"U\":{\"subject\":\"CN=${l}\"}}}",
		/* unterminated variable */
		"{\"version\":1,\"hosts\":{\"h\":{\"usages\":[\"U\"]}},"
		"\"usages\":{\"U\":{\"subject\":\"CN=${host\"}}}",
		/* bad key spec */
		"{\"version\":1,\"hosts\":{\"h\":{\"usages\":[\"U\"]}},"
		"\"usages\":{\"U\":{\"subject\":\"CN=a\",\"key\":\"rsa:1024\"}}}",
		/* unknown EKU */
		"{\"version\":1,\"hosts\":{\"h\":{\"usages\":[\"U\"]}},"
		"\"usages\":{\"U\":{\"subject\":\"CN=a\",\"eku\":[\"fly\"]}}}",
		/* unknown usage key */
		"{\"version\":1,\"hosts\":{\"h\":{\"usages\":[\"U\"]}},"
		"\"usages\":{\"U\":{\"subject\":\"CN=a\",\"nmes\":[]}}}",
		/* duplicate key */
		"{\"version\":1,\"version\":1,\"hosts\":{},\"usages\":{}}",
		/* usage listed twice */
		"{\"version\":1,\"hosts\":{\"h\":{\"usages\":[\"U\",\"U\"]}},"
		"\"usages\":{\"U\":{\"subject\":\"CN=a\"}}}",
		/* non-string host attribute */
		"{\"version\":1,\"hosts\":{\"h\":{\"pool\":3,\"usages\":[]}},"
		"\"usages\":{}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct topo *t = NULL;

		assert_int_equal(topo_load_string(bad[i], strlen(bad[i]),
						  "bad.json", &t),
				 CW_ERR_TOPOLOGY);
		assert_null(t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_substitutes_host_pool_and_lists),
		cmocka_unit_test(test_host_lookup_is_case_insensitive),
		cmocka_unit_test(test_unknown_host_or_unserved_usage_is_not_found),
		cmocka_unit_test(test_bad_documents_are_refused),
		cmocka_unit_test(test_self_referring_variables_are_refused),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
