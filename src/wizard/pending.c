/* Process pending request: open online requests taken up again. */
#include "wizard_int.h"

#include <stdlib.h>
#include <string.h>

enum cw_err
wiz_pending_list(struct wiz *w, store_request_fn fn, void *user)
{
	struct store *s = NULL;
	enum cw_err rc = wiz_store(w, &s);

	return rc == CW_OK ? store_each_pending_request(s, fn, user) : rc;
}

struct ids {
	int64_t *v;
	size_t n;
	bool only_due;
	time_t now;
};

static enum cw_err
collect(void *user, const struct store_request *r)
{
	struct ids *l = user;
	int64_t *v;

	if (l->only_due && r->next_attempt > l->now)
		return CW_OK;
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v == NULL)
		return CW_ERR_NOMEM;
	l->v = v;
	l->v[l->n++] = r->id;
	return CW_OK;
}

/* Outcomes in the order of what the caller must hear first. */
static int
weight(enum cw_err rc)
{
	switch (rc) {
	case CW_OK: return 0;
	case CW_ERR_PENDING: return 1;
	case CW_ERR_UNREACHABLE: return 2;
	case CW_ERR_REJECTED: return 3;
	default: return 4;
	}
}

enum cw_err
wiz_pending_process(struct wiz *w, const int64_t *ids, size_t n,
		    const struct wiz_process_opts *o, wiz_outcome_fn fn,
		    void *user)
{
	struct wiz_acme_opts ao = { o->wait, false, o->eab_kid, o->eab_hmac };
	struct ids open = { NULL, 0, o->only_due, time(NULL) };
	enum cw_err rc = CW_OK, worst = CW_OK;

	if (n == 0) {
		rc = wiz_pending_list(w, collect, &open);
		ids = open.v;
		n = open.n;
		if (rc == CW_OK && n == 0) {
			cw_error(o->only_due ? "no pending request is due"
					     : "no pending request");
			rc = CW_ERR_UNAVAILABLE;
		}
	}
	for (size_t i = 0; rc == CW_OK && i < n; i++) {
		struct wiz_acme_outcome out;
		enum cw_err r;

		memset(&out, 0, sizeof(out));
		r = wiz_acme_run(w, ids[i], &ao, &out);
		out.request_id = ids[i];
		if (weight(r) > weight(worst))
			worst = r;
		if (fn != NULL)
			rc = fn(user, &out, r);
		wiz_acme_outcome_release(&out);
	}
	free(open.v);
	return rc == CW_OK ? worst : rc;
}
