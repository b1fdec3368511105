/*
 * norm.h - strict UTF-8 checking and the text normalizer used for matching.
 *
 * yl_norm_text() folds a body for matching (NFKD compatibility
 * decomposition, full case folding, combining marks removed, curly quotes
 * to ASCII quotes, every dash and hyphen to a space, white space runs to one
 * space) and keeps, for every byte of the normalized text, the offset of
 * the original character it came from. A match [ns, ne) in the normalized
 * text is the original body[start[ns] : yl_norm_orig_end(n, body, ne - 1)].
 */
#ifndef YALU_NORM_H
#define YALU_NORM_H

#include <stddef.h>
#include <stdint.h>

struct yl_norm {
	char		*s;		/* normalized text, NUL-terminated */
	size_t		 len;
	uint32_t	*start;		/* per byte of s: origin start */
	size_t		 cap;
};

/*
 * Returns 0 if s[0..len) is valid UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF), else -1 with the offending byte offset.
 */
int	yl_utf8_check(const char *s, size_t len, size_t *badpos);

/* Normalizes src into n, reusing n's buffers. -1 on invalid UTF-8. */
int	yl_norm_text(struct yl_norm *n, const char *src, size_t len,
	    size_t *badpos);
/* Normalizes without keeping the map (for terms); caller frees. */
char	*yl_norm_dup(const char *src, size_t len, size_t *outlen);
/* End offset in src of the original character behind s[i]. */
size_t	 yl_norm_orig_end(const struct yl_norm *n, const char *src, size_t i);
void	 yl_norm_clear(struct yl_norm *n);

#endif
