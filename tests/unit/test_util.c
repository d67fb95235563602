/* Utilities: dates as operators type them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "certwiz/util.h"

static void
test_time_parse_takes_only_dates_that_exist(void **state)
{
	time_t t = 0;

	(void)state;
	assert_int_equal(cw_time_parse("2027-02-28", 0, &t), CW_OK);
	assert_int_equal(t, 1803772800);
	assert_int_equal(cw_time_parse("2028-02-29T08:00:00Z", 0, &t), CW_OK);
	/* these strptime takes, and timegm would move to another day */
	assert_int_equal(cw_time_parse("2027-02-30", 0, &t), CW_ERR_PARSE);
	assert_int_equal(cw_time_parse("2027-02-29", 0, &t), CW_ERR_PARSE);
	assert_int_equal(cw_time_parse("2026-04-31T10:00Z", 0, &t),
			 CW_ERR_PARSE);
	assert_int_equal(cw_time_parse("2026-12-01T24:00Z", 0, &t),
			 CW_ERR_PARSE);
	assert_int_equal(cw_time_parse("2026-13-01", 0, &t), CW_ERR_PARSE);
	assert_int_equal(cw_time_parse("+7d", 100, &t), CW_OK);
	assert_int_equal(t, 100 + 7 * 86400);
	assert_int_equal(cw_time_parse("+7x", 100, &t), CW_ERR_PARSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_parse_takes_only_dates_that_exist),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
