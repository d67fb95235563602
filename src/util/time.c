#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700
#include "certwiz/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t
cw_monotonic_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void
cw_time_format(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}

static enum cw_err
parse_relative(const char *s, time_t now, time_t *out)
{
	char *end = NULL;
	long long n;
	long long unit;

	n = strtoll(s + 1, &end, 10);
	if (end == s + 1 || n < 0 || n > 36500LL * 86400)
		return CW_ERR_PARSE;
	if (strcmp(end, "d") == 0)
		unit = 86400;
	else if (strcmp(end, "h") == 0)
		unit = 3600;
	else if (strcmp(end, "m") == 0)
		unit = 60;
	else if (strcmp(end, "s") == 0)
		unit = 1;
	else
		return CW_ERR_PARSE;
	*out = s[0] == '-' ? now - (time_t)(n * unit) : now + (time_t)(n * unit);
	return CW_OK;
}

enum cw_err
cw_time_parse(const char *s, time_t now, time_t *out)
{
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
		"%Y-%m-%dT%H:%MZ",    "%Y-%m-%dT%H:%M",    "%Y-%m-%d %H:%M",
		"%Y-%m-%d",
	};

	if (s[0] == '+' || s[0] == '-')
		return parse_relative(s, now, out);
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm;
		const char *end;

		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[i], &tm);
		if (end != NULL && *end == 0) {
			struct tm back, given = tm;
			time_t t = timegm(&tm);

			/* strptime takes 2027-02-30 (timegm makes it March 2):
			 * a date is taken only if it is one */
			if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
			    back.tm_year != given.tm_year ||
			    back.tm_mon != given.tm_mon ||
			    back.tm_mday != given.tm_mday ||
			    back.tm_hour != given.tm_hour ||
			    back.tm_min != given.tm_min ||
			    back.tm_sec != given.tm_sec)
				return CW_ERR_PARSE;
			*out = t;
			return CW_OK;
		}
	}
	return CW_ERR_PARSE;
}
