/* What every verb shares: the verb table, common options, inputs. */
#include "verb.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	cli_cmd_fn fn;
} impls[] = {
	{ "tokens", cmd_tokens },   { "topology", cmd_topology },
	{ "request", cmd_request }, { "import", cmd_import },
	{ "list", cmd_list },       { "status", cmd_status },
	{ "assign", cmd_assign },   { "remove", cmd_remove },
	{ "view", cmd_view },       { "refresh", cmd_refresh },
	{ "export", cmd_export },   { "audit", cmd_audit },
	{ "pending", cmd_pending }, { "init", cmd_init },
	{ "check", cmd_check },     { "renew", cmd_renew },
	{ "prune", cmd_prune },
};

cli_cmd_fn
cli_verb_fn(const char *name)
{
	for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++)
		if (strcmp(impls[i].name, name) == 0)
			return impls[i].fn;
	return NULL;
}

const struct option *
cli_opts(const char *verb)
{
	const struct front_verb *v = front_verb(verb);

	return v ? v->opts : NULL;
}

void
cli_help_verb(FILE *f, const char *verb)
{
	front_help_verb(f, verb);
}

enum cw_err
cli_usage(const char *verb)
{
	front_usage(verb);
	return CW_ERR_USAGE;
}

enum cw_err
cli_wiz(struct cli *c, struct wiz **out)
{
	if (c->wiz == NULL) {
		enum cw_err rc = wiz_new(c->config, c->host, &c->wiz);

		/* re-read for every request: it must still be root's, and so
		 * must the modules and hooks it names */
		if (rc == CW_OK)
			rc = cw_config_check_host(wiz_config(c->wiz));
		if (rc == CW_OK)
			rc = wiz_set_caller(c->wiz, c->uid, c->user, c->admin);
		if (rc != CW_OK) {
			wiz_free(c->wiz);
			c->wiz = NULL;
			return rc;
		}
		wiz_set_pin_source(c->wiz, &c->pin);
		wiz_set_changing(c->wiz, c->changes);
		if (c->output != NULL)
			wiz_set_output(c->wiz, c->output);
	}
	*out = c->wiz;
	return CW_OK;
}

/* --pin-file and --pin-fd: the client read the PIN and sent it. */
static int
caller_pin(struct cli *c, const char *verb)
{
	const struct cw_secret *pin = proto_request_secret(c->req, SECRET_PIN);

	(void)verb;
	if (!c->caller_pin_ok) {
		cw_error("the service reads token PINs from its own "
			 "configuration ([token] pin_file or the URI's "
			 "pin-source); --pin-file and --pin-fd are for root "
			 "running certwiz without the service");
		return -1;
	}
	if (pin == NULL) {
		const struct proto_failure *f =
			proto_request_failure(c->req, SECRET_PIN);

		/* reported when the PIN is needed, as a PIN file that cannot
		 * be read always was */
		c->pin.error = f ? (enum cw_err)f->code : CW_ERR_IO;
		c->pin.error_text = f ? f->message : "the PIN did not arrive";
		return 1;
	}
	c->pin.value = pin;
	return 1;
}

int
cli_common(struct cli *c, int opt, const char *arg, const char *verb)
{
	switch (opt) {
	case FO_JSON:
		c->json = true;
		return 1;
	case FO_HOST:
		c->host = arg;
		/* after the verb too: the wizard may exist already */
		if (c->wiz != NULL && wiz_set_host(c->wiz, arg) != CW_OK)
			return -1;
		return 1;
	case FO_PIN_FILE:
	case FO_PIN_FD: {
		int r = caller_pin(c, verb);

		if (r == 1 && c->wiz != NULL)
			wiz_set_pin_source(c->wiz, &c->pin);
		return r;
	}
	case 'h':
		/* answered by the client; a client that still sends it gets
		 * the same help */
		cli_help_verb(stdout, verb);
		return -1;
	default:
		return 0;
	}
}

/* The client's reason for a part it could not read. */
static enum cw_err
failed_part(struct cli *c, const char *name)
{
	const struct proto_failure *f = proto_request_failure(c->req, name);

	if (f == NULL) {
		cw_error("'%s' did not arrive from the client", name);
		return CW_ERR_IO;
	}
	cw_error("%s", f->message);
	return (enum cw_err)f->code;
}

enum cw_err
cli_input(struct cli *c, const char *path, const struct cw_buf **out)
{
	*out = proto_request_input(c->req, path);
	return *out ? CW_OK : failed_part(c, path);
}

enum cw_err
cli_secret(struct cli *c, const char *name, struct cw_secret_source *out)
{
	const struct cw_secret *s = proto_request_secret(c->req, name);

	*out = (struct cw_secret_source){ NULL, -1, s, CW_OK, NULL };
	return s ? CW_OK : failed_part(c, name);
}
