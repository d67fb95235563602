/* The verbs, their options and what each option's argument is. */
#include "verbs.h"

#include <string.h>

#define COMMON                                                                \
	{ "json", no_argument, NULL, FO_JSON },                               \
		{ "host", required_argument, NULL, FO_HOST },                 \
		{ "pin-file", required_argument, NULL, FO_PIN_FILE },         \
		{ "pin-fd", required_argument, NULL, FO_PIN_FD },             \
		{ "help", no_argument, NULL, 'h' },                           \
	{                                                                     \
		NULL, 0, NULL, 0                                              \
	}

#define PIN_ROLES                                                             \
	{ FO_PIN_FILE, ROLE_SECRET_FILE, SECRET_PIN },                        \
		{ FO_PIN_FD, ROLE_SECRET_FD, SECRET_PIN },                    \
	{                                                                     \
		0, ROLE_NONE, NULL                                            \
	}

const struct option front_global_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "host", required_argument, NULL, FO_HOST },
	{ "json", no_argument, NULL, FO_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "pin-file", required_argument, NULL, FO_PIN_FILE },
	{ "pin-fd", required_argument, NULL, FO_PIN_FD },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "no-service", no_argument, NULL, FO_NO_SERVICE },
	{ NULL, 0, NULL, 0 },
};

static const struct option common_opts[] = { COMMON };
static const struct fo_role_def pin_roles[] = { PIN_ROLES };

static const struct option topology_opts[] = {
	{ "all", no_argument, NULL, FO_ALL }, COMMON
};

static const struct option request_opts[] = {
	{ "usage", required_argument, NULL, FO_USAGE },
	{ "offline", no_argument, NULL, FO_OFFLINE },
	{ "out", required_argument, NULL, FO_OUT },
	{ "key", required_argument, NULL, FO_KEY },
	{ "token", required_argument, NULL, FO_TOKEN },
	{ "name", required_argument, NULL, FO_NAME },
	{ "force", no_argument, NULL, FO_FORCE },
	{ "ca", required_argument, NULL, FO_CA },
	{ "wait", required_argument, NULL, FO_WAIT },
	{ "assign", no_argument, NULL, FO_ASSIGN },
	{ "eab-kid", required_argument, NULL, FO_EAB_KID },
	{ "eab-hmac-file", required_argument, NULL, FO_EAB_FILE },
	{ "eab-hmac-fd", required_argument, NULL, FO_EAB_FD },
	{ "ca-reference", required_argument, NULL, FO_CA_REFERENCE },
	{ "ca-secret-file", required_argument, NULL, FO_CA_SECRET_FILE },
	{ "ca-secret-fd", required_argument, NULL, FO_CA_SECRET_FD },
	{ "template", required_argument, NULL, FO_TEMPLATE },
	COMMON
};

static const struct fo_role_def request_roles[] = {
	{ FO_OUT, ROLE_OUT_FILE, NULL },
	{ FO_EAB_FILE, ROLE_SECRET_FILE, SECRET_EAB },
	{ FO_EAB_FD, ROLE_SECRET_FD, SECRET_EAB },
	{ FO_CA_SECRET_FILE, ROLE_SECRET_FILE, SECRET_CA },
	{ FO_CA_SECRET_FD, ROLE_SECRET_FD, SECRET_CA },
	PIN_ROLES
};

static const struct option import_opts[] = {
	{ "usage", required_argument, NULL, FO_USAGE },
	{ "password-file", required_argument, NULL, FO_PASSWORD_FILE },
	{ "accept-mismatch", no_argument, NULL, FO_ACCEPT_MISMATCH },
	COMMON
};

static const struct option renew_opts[] = {
	{ "usage", required_argument, NULL, FO_USAGE },
	{ "dry-run", no_argument, NULL, FO_DRY_RUN },
	{ "force", no_argument, NULL, FO_FORCE },
	{ "wait", required_argument, NULL, FO_WAIT }, COMMON
};

static const struct option prune_opts[] = {
	{ "dry-run", no_argument, NULL, FO_DRY_RUN }, COMMON
};

static const struct option check_opts[] = {
	{ "days", required_argument, NULL, FO_DAYS }, COMMON
};

static const struct fo_role_def import_roles[] = {
	{ FO_PASSWORD_FILE, ROLE_SECRET_FILE, SECRET_PASSWORD }, PIN_ROLES
};

static const struct option help_opts[] = {
	{ "man", no_argument, NULL, FO_MAN }, COMMON
};

static const struct option list_opts[] = {
	{ "requests", no_argument, NULL, FO_REQUESTS },
	{ "keys", no_argument, NULL, FO_KEYS },
	{ "certs", no_argument, NULL, FO_CERTS },
	COMMON
};

static const struct option usage_opts[] = {
	{ "usage", required_argument, NULL, FO_USAGE }, COMMON
};

static const struct option assign_opts[] = {
	{ "usage", required_argument, NULL, FO_USAGE },
	{ "effective-at", required_argument, NULL, FO_EFFECTIVE_AT },
	COMMON
};

static const struct option view_opts[] = {
	{ "usage", required_argument, NULL, FO_USAGE },
	{ "pem", no_argument, NULL, FO_PEM },
	COMMON
};

static const struct option export_opts[] = {
    {"usage", required_argument, NULL, FO_USAGE},
    {"out", required_argument, NULL, FO_OUT},
    {"server", required_argument, NULL, FO_SERVER},
    {"server-user", required_argument, NULL, FO_SERVER_USER},
    {"pin-source", required_argument, NULL, FO_PIN_SOURCE},
    COMMON};

static const struct fo_role_def export_roles[] = {
	{ FO_OUT, ROLE_OUT_DIR, NULL }, PIN_ROLES
};

static const struct option pending_opts[] = {
	{ "wait", required_argument, NULL, FO_WAIT },
	{ "eab-kid", required_argument, NULL, FO_EAB_KID },
	{ "eab-hmac-file", required_argument, NULL, FO_EAB_FILE },
	{ "eab-hmac-fd", required_argument, NULL, FO_EAB_FD },
	{ "ca-reference", required_argument, NULL, FO_CA_REFERENCE },
	{ "ca-secret-file", required_argument, NULL, FO_CA_SECRET_FILE },
	{ "ca-secret-fd", required_argument, NULL, FO_CA_SECRET_FD },
	COMMON
};

static const struct fo_role_def pending_roles[] = {
	{ FO_EAB_FILE, ROLE_SECRET_FILE, SECRET_EAB },
	{ FO_EAB_FD, ROLE_SECRET_FD, SECRET_EAB },
	{ FO_CA_SECRET_FILE, ROLE_SECRET_FILE, SECRET_CA },
	{ FO_CA_SECRET_FD, ROLE_SECRET_FD, SECRET_CA },
	PIN_ROLES
};

static const struct option audit_opts[] = {
	{ "since", required_argument, NULL, FO_SINCE },
	{ "key", required_argument, NULL, FO_PUBKEY },
	{ "anchor", required_argument, NULL, FO_ANCHOR },
	{ "out", required_argument, NULL, FO_OUT },
	COMMON
};

static const struct fo_role_def audit_roles[] = {
	{ FO_PUBKEY, ROLE_IN_FILE, NULL },
	{ FO_ANCHOR, ROLE_IN_FILE, NULL },
	{ FO_OUT, ROLE_OUT_FILE, NULL },
	PIN_ROLES
};

/* import FILE (anything else is the verb's usage error) */
static int
first_positional(int npos, char **pos)
{
	(void)pos;
	return npos == 1 ? 0 : -1;
}

/* topology check FILE */
static int
check_file(int npos, char **pos)
{
	return npos == 2 && strcmp(pos[0], "check") == 0 ? 1 : -1;
}

static const struct front_verb verbs[] = {
	{ "init", VERB_CHANGES, common_opts, pin_roles, NULL },
	{ "tokens", 0, common_opts, pin_roles, NULL },
	{ "topology", 0, topology_opts, pin_roles, check_file },
	{ "request", VERB_CHANGES, request_opts, request_roles, NULL },
	{ "import", VERB_CHANGES, import_opts, import_roles,
	  first_positional },
	{ "status", 0, usage_opts, pin_roles, NULL },
	{ "assign", VERB_CHANGES, assign_opts, pin_roles, NULL },
	{ "remove", VERB_CHANGES, usage_opts, pin_roles, NULL },
	{ "view", 0, view_opts, pin_roles, NULL },
	{ "export", 0, export_opts, export_roles, NULL },
	{ "pending", VERB_CHANGES, pending_opts, pending_roles, NULL },
	{ "refresh", VERB_CHANGES, common_opts, pin_roles, NULL },
	{ "check", 0, check_opts, pin_roles, NULL },
	{ "renew", VERB_CHANGES, renew_opts, pin_roles, NULL },
	{ "prune", VERB_CHANGES, prune_opts, pin_roles, NULL },
	{ "audit", 0, audit_opts, audit_roles, NULL },
	{ "list", 0, list_opts, pin_roles, NULL },
	{ "help", VERB_LOCAL, help_opts, pin_roles, NULL },
};

const struct front_verb *
front_verb(const char *name)
{
	for (size_t i = 0; name && i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

const struct front_verb *
front_verbs(size_t *n)
{
	*n = sizeof(verbs) / sizeof(verbs[0]);
	return verbs;
}

unsigned
front_seen(const struct front_scan *s, int opt)
{
	if (opt < FO_JSON || opt >= FO__MAX)
		return 0;
	return s->seen[opt - FO_JSON];
}

static const struct fo_role_def *
role_of(const struct front_verb *v, int opt)
{
	for (const struct fo_role_def *r = v ? v->roles : pin_roles; r->opt;
	     r++)
		if (r->opt == opt)
			return r;
	return NULL;
}

/* Options that may be given several times (each adds one). */
static bool
repeatable(int opt)
{
	return opt == FO_USAGE || opt == FO_NAME;
}

/* The long name of option opt in opts, for messages. */
static const char *
long_name(const struct option *opts, int opt)
{
	for (; opts && opts->name; opts++)
		if (opts->val == opt)
			return opts->name;
	return "?";
}

/* Records an option; 2 when it may not be given again (reported) or there
 * are too many to record. */
static int
note(struct front_scan *s, const struct front_verb *v, int opt,
     const char *arg)
{
	const struct fo_role_def *r = role_of(v, opt);

	if (opt >= FO_JSON && opt < FO__MAX && arg != NULL &&
	    !repeatable(opt) && s->seen[opt - FO_JSON] > 0) {
		fprintf(stderr, "certwiz: --%s is given twice; give it once\n",
			long_name(v ? v->opts : front_global_opts, opt));
		return front_usage(v ? v->name : NULL);
	}

	if (opt >= FO_JSON && opt < FO__MAX && s->seen[opt - FO_JSON] < 255)
		s->seen[opt - FO_JSON]++;
	if (opt == FO_JSON)
		s->json = true;
	if (opt == FO_HOST)
		s->host = arg;
	if (r == NULL || r->role == ROLE_NONE)
		return 0;
	if (s->n_args == sizeof(s->args) / sizeof(s->args[0])) {
		fprintf(stderr, "certwiz: too many file arguments\n");
		return 2;
	}
	s->args[s->n_args++] = (struct front_arg){ r->role, opt, arg,
						   r->secret };
	return 0;
}

/* getopt_long over a copy of argv (it permutes its vector). */
static int
scan_verb(int argc, char **argv, struct front_scan *s)
{
	const struct front_verb *v = s->verb;
	char *copy[argc + 1];
	int opt, vargc = argc - s->verb_index, in = -1;

	memcpy(copy, argv + s->verb_index, sizeof(char *) * (size_t)vargc);
	copy[vargc] = NULL;
	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(vargc, copy, "h", v->opts, NULL)) !=
	       -1) {
		if (opt == 'h') {
			s->help = true;
			continue;
		}
		if (opt == '?' || opt == ':')
			return front_usage(v->name);
		if (note(s, v, opt, optarg) != 0)
			return 2;
	}
	for (int i = optind; i < vargc; i++) {
		if (s->n_pos == sizeof(s->pos) / sizeof(s->pos[0]))
			return front_usage(v->name);
		s->pos[s->n_pos++] = copy[i];
	}
	if (v->in_file != NULL)
		in = v->in_file(s->n_pos, (char **)s->pos);
	if (in >= 0) {
		if (s->n_args == sizeof(s->args) / sizeof(s->args[0]))
			return 2;
		s->args[s->n_args++] = (struct front_arg){ ROLE_IN_FILE, 0,
							   s->pos[in], NULL };
	}
	return 0;
}

int
front_scan(int argc, char **argv, struct front_scan *s)
{
	char *copy[argc + 1];
	int opt;

	memset(s, 0, sizeof(*s));
	memcpy(copy, argv, sizeof(char *) * (size_t)argc);
	copy[argc] = NULL;
	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, copy, FRONT_GLOBAL_SHORT,
				  front_global_opts, NULL)) != -1) {
		switch (opt) {
		case 'c': s->config = optarg; break;
		case 'v': s->verbose = 1; break;
		case 'q': s->verbose = -1; break;
		case 'V': s->version = true; break;
		case 'h': s->help = true; break;
		case FO_NO_SERVICE: s->no_service = true; break;
		case '?':
		case ':': return front_usage(NULL);
		default:
			if (note(s, NULL, opt, optarg) != 0)
				return 2;
		}
	}
	/* '+' stops at the first non-option: argv and copy agree up to
	 * here */
	s->verb_index = optind;
	if (optind >= argc)
		return 0;
	s->verb = front_verb(argv[optind]);
	if (s->verb == NULL)
		return 0;
	return scan_verb(argc, argv, s);
}
