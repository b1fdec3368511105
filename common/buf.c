/*
 * buf.c - growable buffers for building messages without a tree.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yalu/buf.h"

static int
reserve(struct yl_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -1;
	if (b->len + more + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + more + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

int
yl_buf_reserve(struct yl_buf *b, size_t n)
{
	return reserve(b, n);
}

void
yl_buf_add(struct yl_buf *b, const void *s, size_t n)
{
	if (reserve(b, n) == -1)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
yl_buf_str(struct yl_buf *b, const char *s)
{
	yl_buf_add(b, s, strlen(s));
}

void
yl_buf_printf(struct yl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
yl_buf_json(struct yl_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	/* Worst case every byte becomes \u00XX. */
	if (reserve(b, len * 6 + 2) == -1)
		return;
	b->p[b->len++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char *o;

		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		memcpy(b->p + b->len, s + i - run, run);
		b->len += run;
		run = 0;
		o = b->p + b->len;
		o[0] = '\\';
		switch (c) {
		case '"': o[1] = '"'; b->len += 2; break;
		case '\\': o[1] = '\\'; b->len += 2; break;
		case '\n': o[1] = 'n'; b->len += 2; break;
		case '\r': o[1] = 'r'; b->len += 2; break;
		case '\t': o[1] = 't'; b->len += 2; break;
		default:
			o[1] = 'u';
			o[2] = '0';
			o[3] = '0';
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			b->len += 6;
		}
	}
	memcpy(b->p + b->len, s + len - run, run);
	b->len += run;
	b->p[b->len++] = '"';
	b->p[b->len] = '\0';
}

void
yl_buf_reset(struct yl_buf *b)
{
	b->len = 0;
	b->oom = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
yl_buf_free(struct yl_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
yl_buf_u64(struct yl_buf *b, unsigned long long v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (reserve(b, (size_t)n) == -1)
		return;
	while (n > 0)
		b->p[b->len++] = tmp[--n];
	b->p[b->len] = '\0';
}
