#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "certwiz/key.h"

static void
test_allowed_specs_parse(void **state)
{
	struct cw_keyspec s;

	(void)state;
	assert_int_equal(cw_keyspec_parse("ec:P-256", &s), CW_OK);
	assert_int_equal(s.type, CW_KEY_EC);
	assert_int_equal(s.bits, 256);
	assert_int_equal(cw_sigalg_for(&s), CW_SIG_ECDSA_SHA256);
	assert_int_equal(cw_keyspec_parse("ec:secp384r1", &s), CW_OK);
	assert_string_equal(s.name, "ec:P-384");
	assert_int_equal(cw_sigalg_for(&s), CW_SIG_ECDSA_SHA384);
	assert_int_equal(cw_keyspec_parse("rsa:3072", &s), CW_OK);
	assert_int_equal(s.type, CW_KEY_RSA);
	assert_int_equal(cw_sigalg_for(&s), CW_SIG_RSA_PKCS1_SHA256);
}

static void
test_weak_or_unknown_specs_are_refused(void **state)
{
	static const char *bad[] = { "rsa:1024", "rsa:2047", "rsa:16384",
				     "ec:P-224", "ec:secp224r1", "ec:P-521x",
				     "dsa:2048", "rsa", "", "ec:" };
	struct cw_keyspec s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_keyspec_parse(bad[i], &s), CW_ERR_POLICY);
}

static void
test_curve_from_ec_params(void **state)
{
	static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
					      0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const unsigned char junk[] = { 0x06, 0x01, 0x00 };
	struct cw_keyspec s;

	(void)state;
	assert_int_equal(cw_keyspec_from_ec_params(p256, sizeof(p256), &s),
			 CW_OK);
	assert_int_equal(s.bits, 256);
	assert_int_equal(cw_keyspec_from_ec_params(junk, sizeof(junk), &s),
			 CW_ERR_NOT_FOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_specs_parse),
		cmocka_unit_test(test_weak_or_unknown_specs_are_refused),
		cmocka_unit_test(test_curve_from_ec_params),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
