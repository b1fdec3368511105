/*
 * norm.c - UTF-8 validation and normalization with an offset map.
 *
 * The body is mostly ASCII, so ASCII bytes take a table lookup and only
 * other characters go through utf8proc. Hangul syllables and common CJK
 * ideographs are copied as they are: their NFKD would only split Hangul
 * into jamo, and matching syllables keeps "나" from matching inside "난".
 */
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <utf8proc.h>

#include "yalu/norm.h"

/* ASCII fold: 0 = white space, 1 = dash (to space), else the folded byte. */
static unsigned char ascii_fold[128];
static int ascii_ready;

static void
ascii_init(void)
{
	int c;

	for (c = 0; c < 128; c++)
		ascii_fold[c] = (unsigned char)c;
	for (c = 'A'; c <= 'Z'; c++)
		ascii_fold[c] = (unsigned char)(c - 'A' + 'a');
	ascii_fold[' '] = ascii_fold['\t'] = ascii_fold['\n'] = 0;
	ascii_fold['\r'] = ascii_fold['\f'] = ascii_fold['\v'] = 0;
	ascii_fold['-'] = 0;
	ascii_ready = 1;
}

int
yl_utf8_check(const char *s, size_t len, size_t *badpos)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0 || cp < 0) {
			if (badpos)
				*badpos = i;
			return -1;
		}
		i += (size_t)n;
	}
	return 0;
}

static int
grow(struct yl_norm *n, size_t need)
{
	size_t cap;
	char *s;
	uint32_t *a;

	if (need + 1 <= n->cap)
		return 0;
	cap = n->cap ? n->cap : 4096;
	while (cap < need + 1)
		cap *= 2;
	if ((s = realloc(n->s, cap)) == NULL)
		return -1;
	n->s = s;
	if ((a = realloc(n->start, cap * sizeof(*a))) == NULL)
		return -1;
	n->start = a;
	n->cap = cap;
	return 0;
}

/* Class of a code point after folding: quote, dash/space, drop, keep. */
static utf8proc_int32_t
fold_special(utf8proc_int32_t cp)
{
	switch (cp) {
	case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032:
	case 0x02BC: case 0xFF07:
		return '\'';
	case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033:
	case 0xFF02: case 0x00AB: case 0x00BB:
		return '"';
	case 0x00A0: case 0x1680: case 0x202F: case 0x205F: case 0x3000:
	case 0x2028: case 0x2029: case 0x0085:
	case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014:
	case 0x2015: case 0x2212: case 0xFE58: case 0xFE63: case 0xFF0D:
	case 0x30FC:
		return ' ';
	case 0x200B: case 0x200C: case 0x200D: case 0xFEFF: case 0x00AD:
		return 0;	/* invisible: dropped */
	}
	if (cp >= 0x2000 && cp <= 0x200A)
		return ' ';
	return -1;
}

static int
keep_as_is(utf8proc_int32_t cp)
{
	return (cp >= 0xAC00 && cp <= 0xD7A3) ||	/* Hangul syllables */
	    (cp >= 0x4E00 && cp <= 0x9FFF) ||		/* CJK unified */
	    (cp >= 0x3400 && cp <= 0x4DBF);		/* CJK ext. A */
}

#ifdef __SSE2__
/*
 * Normalizes 16 bytes at src[i] into n->s + o if they need nothing but
 * upper case folded: printable ASCII without '-' and without a space
 * that follows a space (space: the byte before them gave one). Then each
 * output byte is its input byte, lower-cased, and comes from i + k. Returns
 * 0 when the block is done, -1 when the byte-by-byte loop must take it.
 * Running text is mostly such blocks.
 */
static inline int
fold16(struct yl_norm *n, const unsigned char *src, size_t i, size_t o,
    int space)
{
	const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)
	    (src + i));
	const __m128i sp = _mm_cmpeq_epi8(v, _mm_set1_epi8(' '));
	__m128i bad, upper, k;
	uint32_t *dst = n->start + o;

	/* Bytes below ' ' and from 0x80 are below ' ' as signed bytes. */
	bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(' ')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
	bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)));
	/* A space after a space, the block's first byte included. */
	bad = _mm_or_si128(bad, _mm_and_si128(sp, _mm_or_si128(
	    _mm_slli_si128(sp, 1), _mm_cvtsi32_si128(space ? 0xFF : 0))));
	if (_mm_movemask_epi8(bad) != 0)
		return -1;
	upper = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
	    _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
	_mm_storeu_si128((__m128i *)(void *)(n->s + o), _mm_add_epi8(v,
	    _mm_and_si128(upper, _mm_set1_epi8('a' - 'A'))));
	k = _mm_add_epi32(_mm_set1_epi32((int)(uint32_t)i),
	    _mm_setr_epi32(0, 1, 2, 3));
	_mm_storeu_si128((__m128i *)(void *)dst, k);
	k = _mm_add_epi32(k, _mm_set1_epi32(4));
	_mm_storeu_si128((__m128i *)(void *)(dst + 4), k);
	k = _mm_add_epi32(k, _mm_set1_epi32(4));
	_mm_storeu_si128((__m128i *)(void *)(dst + 8), k);
	k = _mm_add_epi32(k, _mm_set1_epi32(4));
	_mm_storeu_si128((__m128i *)(void *)(dst + 12), k);
	return 0;
}
#endif

int
yl_norm_text(struct yl_norm *n, const char *src, size_t len, size_t *badpos)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t i = 0, o = 0;
	int space = 0;	/* last emitted byte was a space */

	if (!ascii_ready)
		ascii_init();
	if (grow(n, len + 16) == -1)
		return -1;
	while (i < len) {
		utf8proc_int32_t cp, buf[32];
		utf8proc_ssize_t clen, k, nd;
		int bc = 0;

		if (p[i] < 0x80) {
			/* The hot loop: ASCII runs, with local pointers. */
			char *ds = n->s;
			uint32_t *dst = n->start;
			size_t end;

			do {
#ifdef __SSE2__
				/*
				 * Output never outruns input on ASCII, and the
				 * buffers hold o + (len - i) + 1 bytes (see the
				 * grow() calls), so 16 bytes fit at o.
				 */
				if (i + 16 <= len &&
				    fold16(n, p, i, o, space) == 0) {
					space = p[i + 15] == ' ';
					i += 16;
					o += 16;
					continue;
				}
				/* Byte by byte to the next block. */
				end = i + 16 < len ? i + 16 : len;
#else
				end = len;
#endif
				for (; i < end && p[i] < 0x80; i++) {
					unsigned char c = ascii_fold[p[i]];

					if (c != 0) {
						ds[o] = (char)c;
						dst[o++] = (uint32_t)i;
						space = 0;
					} else if (!space) {
						ds[o] = ' ';
						dst[o++] = (uint32_t)i;
						space = 1;
					}
				}
			} while (i < len && p[i] < 0x80);
			continue;
		}
		clen = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
		if (clen <= 0 || cp < 0) {
			if (badpos)
				*badpos = i;
			return -1;
		}
		if (keep_as_is(cp)) {
			if (grow(n, o + (size_t)clen + (len - i)) == -1)
				return -1;
			for (k = 0; k < clen; k++, o++) {
				n->s[o] = (char)p[i + (size_t)k];
				n->start[o] = (uint32_t)i;
			}
			space = 0;
			i += (size_t)clen;
			continue;
		}
		nd = utf8proc_decompose_char(cp, buf, 32, UTF8PROC_COMPAT |
		    UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_DECOMPOSE,
		    &bc);
		if (nd < 0 || nd > 32) {
			buf[0] = cp;
			nd = 1;
		}
		/* Room for up to 4 bytes per code point, plus the rest. */
		if (grow(n, o + (size_t)nd * 4 + (len - i)) == -1)
			return -1;
		for (k = 0; k < nd; k++) {
			utf8proc_int32_t c = buf[k], f;
			utf8proc_uint8_t enc[4];
			utf8proc_ssize_t m, j;

			if (c < 0x80) {
				c = ascii_fold[c] ? ascii_fold[c] : ' ';
			} else if ((f = fold_special(c)) >= 0) {
				if (f == 0)
					continue;
				c = f;
			}
			if (c == ' ') {
				if (space)
					continue;
				space = 1;
			} else
				space = 0;
			m = utf8proc_encode_char(c, enc);
			for (j = 0; j < m; j++, o++) {
				n->s[o] = (char)enc[j];
				n->start[o] = (uint32_t)i;
			}
		}
		i += (size_t)clen;
	}
	n->s[o] = '\0';
	n->len = o;
	return 0;
}

size_t
yl_norm_orig_end(const struct yl_norm *n, const char *src, size_t i)
{
	unsigned char c = (unsigned char)src[n->start[i]];
	size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

	return n->start[i] + l;
}

char *
yl_norm_dup(const char *src, size_t len, size_t *outlen)
{
	struct yl_norm n = { 0 };
	char *s;
	size_t b = 0, e;

	if (yl_norm_text(&n, src, len, NULL) == -1) {
		yl_norm_clear(&n);
		return NULL;
	}
	/* Terms are trimmed: a leading or trailing space never matches. */
	e = n.len;
	while (b < e && n.s[b] == ' ')
		b++;
	while (e > b && n.s[e - 1] == ' ')
		e--;
	if ((s = malloc(e - b + 1)) != NULL) {
		memcpy(s, n.s + b, e - b);
		s[e - b] = '\0';
		if (outlen)
			*outlen = e - b;
	}
	yl_norm_clear(&n);
	return s;
}

void
yl_norm_clear(struct yl_norm *n)
{
	free(n->s);
	free(n->start);
	memset(n, 0, sizeof(*n));
}
