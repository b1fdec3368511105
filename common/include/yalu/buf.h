/*
 * buf.h - a growable byte buffer, and JSON string escaping into it.
 */
#ifndef YALU_BUF_H
#define YALU_BUF_H

#include <stddef.h>

struct yl_buf {
	char	*p;		/* NUL-terminated when len > 0 */
	size_t	 len, cap;
	int	 oom;		/* an append failed; contents are cut */
};

void	yl_buf_add(struct yl_buf *, const void *, size_t);
/*
 * Makes room for n more bytes and the NUL after b->p + b->len, for a
 * writer that fills them itself and then advances len. Returns 0, or -1
 * with b->oom set (or already set).
 */
int	yl_buf_reserve(struct yl_buf *, size_t n);
void	yl_buf_str(struct yl_buf *, const char *);
void	yl_buf_printf(struct yl_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Appends s[0..len) as a JSON string with its quotes. s must be valid
 * UTF-8 (it is copied as is, with '"', '\\' and control characters
 * escaped).
 */
void	yl_buf_json(struct yl_buf *, const char *s, size_t len);
/* Appends a decimal number (no printf on the hot path). */
void	yl_buf_u64(struct yl_buf *, unsigned long long);
void	yl_buf_reset(struct yl_buf *);
void	yl_buf_free(struct yl_buf *);

#endif
