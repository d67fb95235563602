#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "certwiz/config.h"
#include "certwiz/store.h"
#include "certwiz/wizard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		/* given twice: the last would silently win */
		"[store]\npath = a\npath = b\n",
		"[store]\npath = a\n[token]\nuri = x\n[store]\n",
		"[store]\npath = a\n[token]\nuri = x\n[store]\npath = b\n",
		/* an indented line would go on with the value above */
		"[store]\npath = a\n  b\n",
	};
	struct cw_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_config_parse(bad[i], "c.conf", "/", &c),
				 CW_ERR_CONFIG);
	/* two errors: the first one's line with the first one's reason */
	assert_int_equal(cw_config_parse("[store]\nnope = 1\n[tokn]\na = b\n",
					 "c.conf", "/", &c),
			 CW_ERR_CONFIG);
	assert_non_null(strstr(cw_last_error(), "c.conf:2: unknown key 'nope'"));
	assert_int_equal(cw_config_parse("[store]\npath = a\n\n[store]\n",
					 "c.conf", "/", &c),
			 CW_ERR_CONFIG);
	assert_non_null(strstr(cw_last_error(), "c.conf:4: section [store]"));
}

static void
test_deploy_sections(void **state)
{
	static const char *bad[] = {
	    "[deploy \"Default\"]\nout = /x\n", /* no server */
	    "[deploy \"Default\"]\nserver = lighttpd\nout = /x\n",
	    "[deploy \"Default\"]\nserver = nginx\n", /* no out */
	    "[deploy \"Default\"]\nserver = nginx\nout = /x\n"
	    "command = nginx -s reload\n", /* not absolute */
	    "[deploy \"Default\"]\nserver = nginx\nout = /x\ncheck = x\n",
	    "[deploy \"Default\"]\nserver = nginx\nout = /x\ntimeout = 0\n",
	    "[deploy \"Default\"]\nserver = nginx\nout = /x\nretry = 9999\n",
	    "[deploy \"Default\"]\nserver = nginx\nout = /x\nlisten = 1\n",
	    "[deploy \"Default\"]\nserver = nginx\nout = /x\n"
	    "pin_source = /p;x\n", /* would end the URI's attribute */
	    "[deploy \"../x\"]\nserver = files\nout = /x\n",
	    "[deploy Default]\nserver = files\nout = /x\n",
	};
	struct cw_config c;
	char **argv;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_config_parse(bad[i], "c.conf", "/", &c),
		                 CW_ERR_CONFIG);
	assert_int_equal(
	    cw_config_parse("[deploy \"Default\"]\nserver = nginx\n"
	                    "out = served\ncheck = /usr/sbin/nginx -t\n"
	                    "command = /usr/sbin/nginx  -s\treload\n"
	                    "retry = 5\n[deploy \"Other\"]\nserver = files\n"
	                    "out = /o\n",
	                    "c.conf", "/etc/cw", &c),
	    CW_OK);
	assert_int_equal(c.n_deploys, 2);
	assert_string_equal(cw_config_deploy(&c, "Default")->out,
	                    "/etc/cw/served");
	assert_int_equal(cw_config_deploy(&c, "Default")->retry, 5);
	assert_null(cw_config_deploy(&c, "Other")->command);
	assert_null(cw_config_deploy(&c, "Third"));
	argv = cw_deploy_argv(cw_config_deploy(&c, "Default")->command);
	assert_non_null(argv);
	assert_string_equal(argv[0], "/usr/sbin/nginx");
	assert_string_equal(argv[1], "-s");
	assert_string_equal(argv[2], "reload");
	assert_null(argv[3]);
	free(argv);
	cw_config_release(&c);
}

static void
test_renew_policy(void **state)
{
	struct cw_config c;
	struct store_cert cert;
	const int64_t day = 86400, t0 = 1800000000;

	(void)state;
	memset(&cert, 0, sizeof(cert));
	/* without the section: the defaults, and certwizd does not renew */
	assert_int_equal(cw_config_parse("", "c.conf", "/", &c), CW_OK);
	assert_false(c.renew_auto);
	assert_int_equal(c.renew_days, 30);
	assert_int_equal(c.renew_spread, 43200);
	cw_config_release(&c);
	assert_int_equal(cw_config_parse("[renew]\nspread = 0\n", "c.conf", "/",
					 &c),
			 CW_OK);
	assert_true(c.renew_auto);
	/* a year's certificate: a third of its lifetime left comes before
	 * 30 days before expiry */
	cert.not_before = t0;
	cert.not_after = t0 + 360 * day;
	cert.sha256 = "ffffffff";
	assert_int_equal(wiz_renew_due(&c, &cert), t0 + 240 * day);
	/* 90 days: a third left is 30 days: the same time */
	cert.not_after = t0 + 90 * day;
	assert_int_equal(wiz_renew_due(&c, &cert), t0 + 60 * day);
	/* 6 days: days longer than the lifetime never renew before a third
	 * of it has passed */
	cert.not_after = t0 + 6 * day;
	assert_int_equal(wiz_renew_due(&c, &cert), t0 + 2 * day);
	cw_config_release(&c);
	/* the spread: the same for a certificate every time, at most the
	 * spread and a tenth of the lifetime */
	assert_int_equal(cw_config_parse("[renew]\ndays = 10\nspread = 3600\n"
					 "auto = no\n",
					 "c.conf", "/", &c),
			 CW_OK);
	assert_false(c.renew_auto);
	cert.not_after = t0 + 90 * day;
	assert_true(wiz_renew_due(&c, &cert) <= t0 + 60 * day);
	assert_true(wiz_renew_due(&c, &cert) >= t0 + 60 * day - 3600);
	assert_int_equal(wiz_renew_due(&c, &cert), wiz_renew_due(&c, &cert));
	cw_config_release(&c);
	assert_int_equal(cw_config_parse("[renew]\ndays = 0\n", "c.conf", "/",
					 &c),
			 CW_ERR_CONFIG);
	assert_int_equal(cw_config_parse("[renew]\nauto = maybe\n", "c.conf",
					 "/", &c),
			 CW_ERR_CONFIG);
	assert_int_equal(cw_config_parse("[renew]\nwhen = soon\n", "c.conf",
					 "/", &c),
			 CW_ERR_CONFIG);
	/* how long the notify command may take: 1 s to 10 min */
	assert_int_equal(
	    cw_config_parse("[renew]\nnotify_timeout = 0\n", "c.conf", "/", &c),
	    CW_ERR_CONFIG);
	assert_int_equal(
	    cw_config_parse("[renew]\nnotify_timeout = 5\n", "c.conf", "/", &c),
	    CW_OK);
	assert_int_equal(c.renew_notify_timeout, 5);
	cw_config_release(&c);
}

static void
test_service_keys_and_their_defaults(void **state)
{
	struct cw_config c;
	const char *text = "[token]\npin_file = token.pin\n"
			   "[audit]\ntoken = pkcs11:token=audit\n"
			   "pin_file = audit.pin\npublic_key = audit.pem\n"
			   "[topology]\nhost = fe01.x.test\n"
			   "[service]\nsocket = run/s.sock\nuser = svc\n"
			   "max_clients_per_user = 3\n";

	(void)state;
	assert_int_equal(cw_config_parse(text, "c.conf", "/etc/cw", &c), CW_OK);
	assert_string_equal(c.token_pin_file, "/etc/cw/token.pin");
	assert_string_equal(c.audit_token, "pkcs11:token=audit");
	assert_string_equal(c.audit_pin_file, "/etc/cw/audit.pin");
	assert_string_equal(c.audit_public_key, "/etc/cw/audit.pem");
	assert_string_equal(c.topology_host, "fe01.x.test");
	assert_string_equal(c.service_socket, "/etc/cw/run/s.sock");
	assert_string_equal(c.service_user, "svc");
	assert_int_equal(c.max_clients_per_user, 3);
	assert_int_equal(c.max_pending_per_user, 20);
	cw_config_release(&c);
	assert_int_equal(cw_config_parse("", "c.conf", "/", &c), CW_OK);
	assert_string_equal(c.service_socket, CW_SOCKET_DEFAULT);
	assert_string_equal(c.service_user, CW_SERVICE_USER_DEFAULT);
	assert_int_equal(c.max_clients_per_user, 8);
	cw_config_release(&c);
	assert_int_equal(cw_config_parse("[service]\nmax_pending_per_user = 0\n",
					 "c.conf", "/", &c),
			 CW_ERR_CONFIG);
}

/* CMP and helper profiles: what each needs, refused when it makes no
 * sense. */
static void
test_ca_protocols(void **state)
{
	static const char *const bad[] = {
	    "[ca \"c\"]\nprotocol = scep\n",
	    "[ca \"c\"]\nprotocol = cmp\nreference = r\n",
	    "[ca \"c\"]\nprotocol = cmp\nserver = ftp://ca/\nreference = r\n",
	    "[ca \"c\"]\nprotocol = cmp\nserver = http://ca/pkix/\n",
	    "[ca \"c\"]\nprotocol = cmp\nserver = http://ca/\nreference = r\n"
	    "recipient = CN=CA\n",
	    "[ca \"c\"]\nprotocol = cmp\nserver = http://ca/\nreference = r\n"
	    "template = "
	    "0123456789012345678901234567890123456789012345678901234567890"
	    "123456789012345678901234567890123456789012345678901234567890\n",
	    "[ca \"c\"]\nprotocol = helper\n",
	    "[ca \"c\"]\nprotocol = helper\ncommand = cepces-submit\n",
	    "[ca \"c\"]\nprotocol = helper\ncommand = /x\ncookie = 1\n",
	};
	struct cw_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_config_parse(bad[i], "c.conf", "/", &c),
		                 CW_ERR_CONFIG);
	assert_int_equal(
	    cw_config_parse("[ca \"c\"]\nprotocol = cmp\n"
	                    "server = https://ca/pkix/\nreference = r\n"
	                    "secret_file = c.pw\nrecipient = /CN=CA\n"
	                    "[ca \"h\"]\nprotocol = helper\n"
	                    "command = /usr/lib/certmonger/local-submit -d /x\n"
	                    "template = T\ntimeout = 5\n",
	                    "c.conf", "/etc/cw", &c),
	    CW_OK);
	assert_string_equal(cw_config_ca(&c, "c")->secret_file, "/etc/cw/c.pw");
	assert_string_equal(cw_config_ca(&c, "c")->recipient, "/CN=CA");
	assert_string_equal(cw_config_ca(&c, "h")->template, "T");
	assert_int_equal(cw_config_ca(&c, "h")->timeout, 5);
	cw_config_release(&c);
}

static void
test_example_configuration_parses(void **state)
{
	char path[4096];
	struct cw_config c;

	(void)state;
	snprintf(path, sizeof(path), "%s/examples/certwiz.conf", SRCDIR);
	assert_int_equal(cw_config_load(path, &c), CW_OK);
	assert_non_null(c.token_pin_file);
	assert_non_null(cw_config_ca(&c, "enterprise"));
	assert_non_null(cw_config_ca(&c, "corp"));
	assert_string_equal(cw_config_ca(&c, "corp")->protocol, "cmp");
	assert_string_equal(cw_config_ca(&c, "corp")->reference, "web-ra-01");
	assert_string_equal(cw_config_ca(&c, "corp")->template, "WebServer");
	cw_config_release(&c);
}

/* What the service loads or runs must be root's and out of reach of
 * group and others, up to /. */
static void
test_trusted_paths(void **state)
{
	char dir[] = "/tmp/certwiz-trust-XXXXXX", file[64];
	FILE *f;

	(void)state;
	assert_int_equal(cw_check_trusted("/etc/passwd", "file"), CW_OK);
	assert_int_equal(cw_check_trusted("/nonexistent/x", "file"),
			 CW_ERR_CONFIG);
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/m.so", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	chmod(file, 0644);
	/* a folder the group may write: refused whoever owns it */
	chmod(dir, 0775);
	assert_int_equal(cw_check_trusted(file, "module"), CW_ERR_CONFIG);
	/* a file the group may write */
	chmod(dir, 0755);
	chmod(file, 0664);
	assert_int_equal(cw_check_trusted(file, "module"), CW_ERR_CONFIG);
	chmod(file, 0644);
	/* root's and closed: accepted (only when root made it) */
	assert_int_equal(cw_check_trusted(file, "module"),
			 geteuid() == 0 ? CW_OK : CW_ERR_CONFIG);
	unlink(file);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_resolves_relative_paths),
	    cmocka_unit_test(test_parse_refuses_unknown_keys_and_bad_values),
	    cmocka_unit_test(test_service_keys_and_their_defaults),
	    cmocka_unit_test(test_deploy_sections),
	    cmocka_unit_test(test_renew_policy),
	    cmocka_unit_test(test_ca_protocols),
	    cmocka_unit_test(test_example_configuration_parses),
	    cmocka_unit_test(test_trusted_paths),
	};

	cw_log_set_level(CW_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
