/*
 * The files a verb produces (a CSR, an export, an audit anchor) go through
 * the front end's output: the client writes them as the caller, never the
 * service. Without an output (programs that link the library and run a
 * verb in their own process), they are written here, atomically.
 */
#include "wizard_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
wiz_set_output(struct wiz *w, const struct wiz_output *o)
{
	w->output = o;
}

static struct cw_atomic *
staged(struct wiz *w, const char *path)
{
	for (size_t i = 0; i < WIZ_MAX_STAGED; i++)
		if (w->staged[i].path && strcmp(w->staged[i].path, path) == 0)
			return &w->staged[i];
	return NULL;
}

enum cw_err
wiz_out_stage(struct wiz *w, const char *path, const void *data, size_t n,
	      int mode, bool force)
{
	struct cw_atomic *a = NULL;
	enum cw_err rc;

	if (w->output != NULL)
		return w->output->stage(w->output->user, path, data, n, mode,
					force);
	for (size_t i = 0; i < WIZ_MAX_STAGED && a == NULL; i++)
		if (w->staged[i].path == NULL)
			a = &w->staged[i];
	if (a == NULL || staged(w, path) != NULL)
		return CW_ERR_INTERNAL;
	rc = cw_atomic_open(a, path, mode, force);
	if (rc == CW_OK)
		rc = cw_atomic_write(a, data, n);
	if (rc != CW_OK)
		cw_atomic_abort(a);
	return rc;
}

enum cw_err
wiz_out_publish(struct wiz *w, const char *path)
{
	struct cw_atomic *a;
	enum cw_err rc;

	if (w->output != NULL)
		return w->output->publish(w->output->user, path);
	a = staged(w, path);
	if (a == NULL)
		return CW_ERR_INTERNAL;
	rc = cw_atomic_commit(a);
	cw_atomic_abort(a);
	return rc;
}

void
wiz_out_retract(struct wiz *w, const char *path)
{
	struct cw_atomic *a;

	if (w->output != NULL) {
		w->output->retract(w->output->user, path);
		return;
	}
	a = staged(w, path);
	if (a != NULL)
		cw_atomic_abort(a); /* staged only: the file goes */
	else
		unlink(path);
}

void
wiz_out_release(struct wiz *w)
{
	for (size_t i = 0; i < WIZ_MAX_STAGED; i++)
		cw_atomic_abort(&w->staged[i]);
}

enum cw_err
wiz_out_write(struct wiz *w, const char *path, const void *data, size_t n,
	      int mode, bool force)
{
	enum cw_err rc = wiz_out_stage(w, path, data, n, mode, force);

	return rc == CW_OK ? wiz_out_publish(w, path) : rc;
}

enum cw_err
wiz_output_file(struct wiz *w, const char *path, const void *data, size_t n,
		int mode, bool force)
{
	return wiz_out_write(w, path, data, n, mode, force);
}
