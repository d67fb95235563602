#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "certwiz/token.h"

static struct tok_info infos[] = {
	{ .present = true, .initialized = true, .label = "web-hsm",
	  .serial = "1111", .manufacturer = "SoftHSM project",
	  .model = "SoftHSM v2" },
	{ .present = true, .initialized = true, .label = "web-hsm",
	  .serial = "2222", .manufacturer = "SoftHSM project",
	  .model = "SoftHSM v2" },
	{ .present = true, .initialized = true, .label = "audit",
	  .serial = "3333", .manufacturer = "Acme", .model = "HSM 9" },
	{ .present = true, .initialized = false, .label = "",
	  .serial = "", .manufacturer = "Blank Inc", .model = "Card" },
	{ .present = false },
};

#define N (sizeof(infos) / sizeof(infos[0]))

static void
test_select_by_label_and_serial(void **state)
{
	size_t i = 99;

	(void)state;
	assert_int_equal(tok_select("pkcs11:token=audit", infos, N, &i), CW_OK);
	assert_int_equal(i, 2);
	assert_int_equal(tok_select("pkcs11:token=web-hsm;serial=2222", infos,
				    N, &i),
			 CW_OK);
	assert_int_equal(i, 1);
	assert_int_equal(tok_select("pkcs11:model=HSM%209", infos, N, &i),
			 CW_OK);
	assert_int_equal(i, 2);
}

static void
test_select_reports_ambiguous_absent_and_uninitialised(void **state)
{
	size_t i = 99;

	(void)state;
	assert_int_equal(tok_select("pkcs11:token=web-hsm", infos, N, &i),
			 CW_ERR_AMBIGUOUS);
	assert_int_equal(tok_select("pkcs11:token=nothing", infos, N, &i),
			 CW_ERR_TOKEN_ABSENT);
	assert_int_equal(tok_select("pkcs11:manufacturer=Blank%20Inc", infos,
				    N, &i),
			 CW_ERR_TOKEN_NOT_INIT);
	assert_int_equal(i, 99);
}

static void
test_uri_check_refuses_pin_value_slot_and_module_path(void **state)
{
	(void)state;
	assert_int_equal(tok_uri_check("pkcs11:token=a;pin-value=1234"),
			 CW_ERR_USAGE);
	assert_int_equal(tok_uri_check("pkcs11:token=a?pin-value=1234"),
			 CW_ERR_USAGE);
	assert_int_equal(tok_uri_check("pkcs11:slot-id=3"), CW_ERR_USAGE);
	assert_int_equal(tok_uri_check("pkcs11:token=a?module-path=/tmp/x.so"),
			 CW_ERR_USAGE);
	assert_int_equal(tok_uri_check("https://example.test/"), CW_ERR_USAGE);
	assert_int_equal(tok_uri_check("pkcs11:token=a;bogus=1"), CW_ERR_USAGE);
	assert_int_equal(tok_uri_check("pkcs11:token=a?pin-source=/p"), CW_OK);
	assert_int_equal(tok_uri_check("pkcs11:token=a"), CW_OK);
}

static void
test_key_uri_carries_identity_and_id_without_pin(void **state)
{
	unsigned char id[] = { 0xab, 0x01 };
	struct cw_buf b = { id, 2, 2 };
	char *u = tok_key_uri("web hsm", "12", "Me", &b);
	char *t = tok_token_uri("web hsm", "12", "Me");

	(void)state;
	assert_non_null(u);
	assert_non_null(strstr(u, "token=web%20hsm"));
	assert_non_null(strstr(u, "serial=12"));
	assert_non_null(strstr(u, "id=%AB%01"));
	assert_non_null(strstr(u, "type=private"));
	assert_non_null(strstr(u, "manufacturer=Me"));
	assert_null(strstr(u, "pin"));
	/* no model=: a model padded with NULs would not match in p11-kit */
	assert_null(strstr(u, "model="));
	assert_non_null(t);
	assert_null(strstr(t, "id="));
	free(u);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_by_label_and_serial),
		cmocka_unit_test(
			test_select_reports_ambiguous_absent_and_uninitialised),
		cmocka_unit_test(
			test_uri_check_refuses_pin_value_slot_and_module_path),
		cmocka_unit_test(
			test_key_uri_carries_identity_and_id_without_pin),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
