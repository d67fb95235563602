#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "certwiz/config.h"

static void
test_parse_resolves_relative_paths(void **state)
{
	struct cw_config c;
	const char *text = "[store]\npath = state/store.db\n"
			   "[token]\nuri = pkcs11:token=x\n"
			   "module = /usr/lib/m.so\n"
			   "[topology]\nfile = topo.json\n"
			   "[policy]\nallow_key_import = yes\n"
			   "[ca \"enterprise\"]\nprotocol = acme\n"
			   "directory = https://ca.test/dir\ntrust = ca.pem\n";

	(void)state;
	assert_int_equal(cw_config_parse(text, "c.conf", "/etc/cw", &c), CW_OK);
	assert_string_equal(c.store_path, "/etc/cw/state/store.db");
	assert_string_equal(c.token_uri, "pkcs11:token=x");
	assert_string_equal(c.token_module, "/usr/lib/m.so");
	assert_string_equal(c.topology_file, "/etc/cw/topo.json");
	assert_string_equal(c.admin_group, "certwiz-admins");
	assert_true(c.allow_key_import);
	assert_int_equal(c.n_cas, 1);
	assert_non_null(cw_config_ca(&c, "enterprise"));
	assert_string_equal(cw_config_ca(&c, "enterprise")->trust,
			    "/etc/cw/ca.pem");
	assert_null(cw_config_ca(&c, "public"));
	cw_config_release(&c);
}

static void
test_parse_refuses_unknown_keys_and_bad_values(void **state)
{
	static const char *bad[] = {
		"[store]\npth = x\n",
		"[nope]\na = b\n",
		"[policy]\nallow_key_import = maybe\n",
		"[ca \"x\"]\ndirectory = https://a\n", /* no protocol */
		"[ca \"x\"]\nprotocol = scep2\n",
		"[ca x]\nprotocol = acme\n",
		"not an ini line\n",
	};
	struct cw_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_config_parse(bad[i], "c.conf", "/", &c),
				 CW_ERR_CONFIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_resolves_relative_paths),
		cmocka_unit_test(test_parse_refuses_unknown_keys_and_bad_values),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
