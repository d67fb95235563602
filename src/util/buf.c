#define _DEFAULT_SOURCE
#include "certwiz/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

void
cw_buf_init(struct cw_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
cw_buf_release(struct cw_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	cw_buf_init(b);
}

enum cw_err
cw_buf_append(struct cw_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return CW_OK;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		unsigned char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL)
			return CW_ERR_NOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0; /* convenient for text, not counted */
	return CW_OK;
}

enum cw_err
cw_buf_set(struct cw_buf *b, const void *p, size_t n)
{
	struct cw_buf nb;

	cw_buf_init(&nb);
	if (cw_buf_append(&nb, p, n) != CW_OK)
		return CW_ERR_NOMEM;
	cw_buf_release(b);
	*b = nb;
	return CW_OK;
}

void
cw_strlist_init(struct cw_strlist *l)
{
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}

void
cw_strlist_release(struct cw_strlist *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	cw_strlist_init(l);
}

enum cw_err
cw_strlist_add(struct cw_strlist *l, const char *s)
{
	char *c;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return CW_ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	c = strdup(s);
	if (c == NULL)
		return CW_ERR_NOMEM;
	l->v[l->n++] = c;
	return CW_OK;
}

bool
cw_strlist_contains(const struct cw_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], s) == 0)
			return true;
	return false;
}

enum cw_err
cw_strlist_add_unique(struct cw_strlist *l, const char *s)
{
	if (cw_strlist_contains(l, s))
		return CW_OK;
	return cw_strlist_add(l, s);
}

char *
cw_hex(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(2 * n + 1);

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = 0;
	return s;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

enum cw_err
cw_unhex(const char *hex, struct cw_buf *out)
{
	size_t n = strlen(hex);
	struct cw_buf b;

	if (n % 2 != 0)
		return CW_ERR_PARSE;
	cw_buf_init(&b);
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval((unsigned char)hex[i]);
		int lo = hexval((unsigned char)hex[i + 1]);
		unsigned char c;

		if (hi < 0 || lo < 0) {
			cw_buf_release(&b);
			return CW_ERR_PARSE;
		}
		c = (unsigned char)(hi << 4 | lo);
		if (cw_buf_append(&b, &c, 1) != CW_OK) {
			cw_buf_release(&b);
			return CW_ERR_NOMEM;
		}
	}
	cw_buf_release(out);
	*out = b;
	return CW_OK;
}

char *
cw_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *
cw_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

enum cw_err
cw_random(void *p, size_t n)
{
	unsigned char *c = p;

	while (n > 0) {
		ssize_t r = getrandom(c, n, 0);

		if (r <= 0)
			return CW_ERR_IO;
		c += r;
		n -= (size_t)r;
	}
	return CW_OK;
}

char *
cw_strlist_join(const struct cw_strlist *l, const char *sep)
{
	size_t n = 1, m = strlen(sep);
	char *out, *p;

	for (size_t i = 0; i < l->n; i++)
		n += strlen(l->v[i]) + (i ? m : 0);
	out = malloc(n);
	if (out == NULL)
		return NULL;
	p = out;
	for (size_t i = 0; i < l->n; i++) {
		size_t k = strlen(l->v[i]);

		if (i) {
			memcpy(p, sep, m);
			p += m;
		}
		memcpy(p, l->v[i], k);
		p += k;
	}
	*p = 0;
	return out;
}

bool
cw_parse_int(const char *s, long min, long max, int *out)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = (int)v;
	return true;
}
