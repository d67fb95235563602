#define _DEFAULT_SOURCE
/* certwiz audit show [--since T] | verify [--key PEM] | export [--out F]
 * | checkpoint */
#include "verb.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct show {
	bool json;
	FILE *out;
	size_t n;
	bool jsonl; /* export: one canonical event per line, with hashes */
};

/* s with control characters (C0, DEL, and C1 as UTF-8 encodes them) shown
 * as \xNN, padded to width: a terminal takes nothing in it for a
 * command (escape sequences) or a line break (a forged event). */
static void
put_safe(FILE *f, const char *s, int width)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int n = 0;

	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			n += fprintf(f, "\\x%02x", *p);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			n += fprintf(f, "\\u%04x", p[1]);
			p++;
		} else {
			fputc(*p, f);
			n++;
		}
	}
	for (; n < width; n++)
		fputc(' ', f);
}

static enum cw_err
on_event(void *user, const struct store_audit *a)
{
	struct show *x = user;
	json_t *target = json_loads(a->target, 0, NULL);
	json_t *j;
	char *text;

	if (!x->json && !x->jsonl) {
		/* every field as text a terminal cannot take for commands:
		 * control characters (escape sequences, forged line breaks)
		 * are shown as \xNN */
		fprintf(x->out, "%6lld ", (long long)a->seq);
		put_safe(x->out, a->time, 0);
		fputc(' ', x->out);
		put_safe(x->out, a->user, 8);
		fputc(' ', x->out);
		put_safe(x->out, a->operation, 24);
		fputc(' ', x->out);
		put_safe(x->out, a->outcome, 8);
		fputc(' ', x->out);
		put_safe(x->out, a->target, 0);
		if (a->reason) {
			fputs("  ", x->out);
			put_safe(x->out, a->reason, 0);
		}
		fputc('\n', x->out);
		json_decref(target);
		return CW_OK;
	}
	j = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:o, s:s, s:s?, s:s, "
		      "s:s}",
		      "seq", (json_int_t)a->seq, "time", a->time, "uid",
		      (json_int_t)a->uid, "user", a->user, "host", a->host,
		      "operation", a->operation, "target",
		      target ? target : json_string(a->target), "outcome",
		      a->outcome, "reason", a->reason, "prev_hash",
		      a->prev_hash, "hash", a->hash);
	text = j ? json_dumps(j, JSON_COMPACT | (x->jsonl ? JSON_SORT_KEYS
							  : JSON_PRESERVE_ORDER))
		 : NULL;
	json_decref(j);
	if (text == NULL)
		return CW_ERR_NOMEM;
	if (x->jsonl)
		fprintf(x->out, "%s\n", text);
	else
		fprintf(x->out, "%s\n    %s", x->n ? "," : "", text);
	x->n++;
	free(text);
	return CW_OK;
}

static enum cw_err
show(struct cli *c, struct wiz *w, const char *since)
{
	struct show x = { c->json, stdout, 0, false };
	enum cw_err rc;

	if (c->json)
		printf("{\n  \"events\": [");
	rc = wiz_audit_events(w, since, on_event, &x);
	if (c->json)
		printf("%s]\n}\n", x.n ? "\n  " : "");
	return rc;
}

static enum cw_err
export(struct wiz *w, const char *path)
{
	struct show x = { false, stdout, 0, true };
	char *text = NULL;
	size_t len = 0;
	enum cw_err rc;

	if (path != NULL && (x.out = open_memstream(&text, &len)) == NULL)
		return CW_ERR_NOMEM;
	rc = wiz_audit_events(w, NULL, on_event, &x);
	if (path != NULL) {
		if (fclose(x.out) != 0 && rc == CW_OK)
			rc = CW_ERR_NOMEM;
		if (rc == CW_OK)
			rc = wiz_output_file(w, path, text, len, 0644, true);
		free(text);
	}
	return rc;
}

static enum cw_err
verify(struct cli *c, struct wiz *w, const struct cw_buf *key,
       const struct cw_buf *anchor)
{
	struct wiz_audit_report r;
	enum cw_err rc = wiz_audit_verify(w, key, anchor, &r);

	if (rc != CW_OK && rc != CW_ERR_CRYPTO)
		return rc;
	if (c->json) {
		json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:s?, s:o}", "ok",
				      r.kind == NULL, "events",
				      (json_int_t)r.events, "checkpoints",
				      (json_int_t)r.checkpoints, "unsigned_events",
				      (json_int_t)r.unsigned_events,
				      "audit_key", r.key_source, "anchor",
				      r.anchor_seq ? json_integer(r.anchor_seq)
						   : json_null());

		if (j && r.kind)
			json_object_set_new(j, "broken",
					    json_pack("{s:I, s:s, s:s}", "seq",
						      (json_int_t)r.broken_seq,
						      "kind", r.kind, "problem",
						      r.problem));
		cli_print_json(j);
	} else if (r.kind == NULL) {
		printf(
		    "audit trail verified: %lld event%s, %lld checkpoint%s\n",
		    (long long)r.events, r.events == 1 ? "" : "s",
		    (long long)r.checkpoints, r.checkpoints == 1 ? "" : "s");
		if (r.key_source)
			printf("  audit key from %s\n", r.key_source);
		else
			printf("  no audit key yet: nothing is signed "
			       "('certwiz audit checkpoint' makes one)\n");
		if (r.anchor_seq)
			printf("  the anchor at event %lld matches\n",
			       (long long)r.anchor_seq);
		if (r.unsigned_events)
			printf("  %lld event%s after the last checkpoint "
			       "%s not signed yet\n",
			       (long long)r.unsigned_events,
			       r.unsigned_events == 1 ? "" : "s",
			       r.unsigned_events == 1 ? "is" : "are");
	} else {
		printf("audit trail BROKEN at %lld (%s): %s\n",
		       (long long)r.broken_seq, r.kind, r.problem);
	}
	wiz_audit_report_release(&r);
	return rc;
}

/* audit anchor [--out FILE]: the trail's anchor, for the auditor. */
static enum cw_err
write_anchor(struct cli *c, struct wiz *w, const char *out)
{
	char *text = NULL;
	int64_t seq = 0;
	enum cw_err rc = wiz_audit_anchor(w, &text, &seq);

	if (rc == CW_OK && out != NULL)
		rc = wiz_output_file(w, out, text, strlen(text), 0644, true);
	if (rc == CW_OK && out == NULL)
		printf("%s\n", text);
	else if (rc == CW_OK && !c->json)
		printf("anchor at event %lld written to %s: keep it off this "
		       "host; 'certwiz audit verify --anchor' checks the trail "
		       "against it\n",
		       (long long)seq, out);
	else if (rc == CW_OK)
		rc = cli_print_json(json_pack("{s:I, s:s}", "seq",
					      (json_int_t)seq, "out", out));
	free(text);
	return rc;
}

static enum cw_err
checkpoint(struct cli *c, struct wiz *w)
{
	struct wiz_checkpoint cp;
	enum cw_err rc = wiz_audit_checkpoint(w, false, &cp);

	if (rc != CW_OK)
		return rc;
	if (c->json)
		rc = cli_print_json(json_pack("{s:I, s:s, s:s, s:s}", "seq",
					      (json_int_t)cp.seq, "hash",
					      cp.hash, "time", cp.time,
					      "audit_key", cp.cka_id));
	else
		printf("checkpoint at event %lld (%.16s...) signed by audit "
		       "key %s\n",
		       (long long)cp.seq, cp.hash, cp.cka_id);
	wiz_checkpoint_release(&cp);
	return rc;
}

enum cw_err
cmd_audit(int argc, char **argv, struct cli *c)
{
	const char *since = NULL, *key = NULL, *out = NULL, *anchor = NULL;
	const struct cw_buf *key_pem = NULL, *anchor_text = NULL;
	const char *sub;
	struct wiz *w = NULL;
	char since_buf[32];
	time_t t;
	enum cw_err rc;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", cli_opts("audit"), NULL)) !=
	       -1) {
		if (opt == FO_SINCE)
			since = optarg;
		else if (opt == FO_PUBKEY)
			key = optarg;
		else if (opt == FO_OUT)
			out = optarg;
		else if (opt == FO_ANCHOR)
			anchor = optarg;
		else if (cli_common(c, opt, optarg, "audit") != 1)
			return cli_usage("audit");
	}
	if (optind + 1 != argc)
		return cli_usage("audit");
	sub = argv[optind];
	if (since != NULL) {
		if (cw_time_parse(since, time(NULL), &t) != CW_OK) {
			cw_error("--since: cannot read '%s'", since);
			return cli_usage("audit");
		}
		cw_time_format(t, since_buf, sizeof(since_buf));
		since = since_buf;
	}
	if (key != NULL && (rc = cli_input(c, key, &key_pem)) != CW_OK)
		return rc;
	if (anchor != NULL && (rc = cli_input(c, anchor, &anchor_text)) != CW_OK)
		return rc;
	rc = cli_wiz(c, &w);
	if (rc != CW_OK)
		return rc;
	if (strcmp(sub, "show") == 0)
		return show(c, w, since);
	if (strcmp(sub, "verify") == 0)
		return verify(c, w, key_pem, anchor_text);
	if (strcmp(sub, "anchor") == 0) {
		rc = wiz_require_admin(w, "audit anchor");
		return rc == CW_OK ? write_anchor(c, w, out) : rc;
	}
	if (strcmp(sub, "export") == 0)
		return export(w, out);
	if (strcmp(sub, "checkpoint") == 0) {
		rc = wiz_require_admin(w, "audit checkpoint");
		return rc == CW_OK ? checkpoint(c, w) : rc;
	}
	return cli_usage("audit");
}
