/*
 * model.c - the learned second stage: feature vectors of the commodity
 * categories the rules kept, and the two logistic regressions of
 * model.yaml that score them. Training is `yalu train` (cls_train.c); the
 * engine decides with the probabilities (engine.c, model_stage()).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yalu/report.h"

#include "cls_int.h"

#define WINDOW_BYTES	200	/* context looked at on each side */
#define WINDOW_WORDS	6	/* words kept on each side */
#define WORD_MAX	40	/* longer words are cut */

static uint64_t
name_hash(const char *s, size_t len)
{
	return yl_hash64(YL_FNV_OFFSET, s, len);
}

/* The entry for name (of hash h), or the empty slot where it would go. */
static struct cls_wentry *
slot(const struct cls_model *m, const char *name, uint64_t h)
{
	size_t i = (size_t)h & m->tabmask;

	while (m->tab[i].name != NULL && (m->tab[i].hash != h ||
	    strcmp(m->tab[i].name, name) != 0))
		i = (i + 1) & m->tabmask;
	return &m->tab[i];
}

/* The entry for name[0..len) (of hash h), or NULL. */
static const struct cls_wentry *
lookup(const struct cls_model *m, const char *name, size_t len, uint64_t h)
{
	size_t i = (size_t)h & m->tabmask;

	for (; m->tab[i].name != NULL; i = (i + 1) & m->tabmask)
		if (m->tab[i].hash == h &&
		    strncmp(m->tab[i].name, name, len) == 0 &&
		    m->tab[i].name[len] == '\0')
			return &m->tab[i];
	return NULL;
}

/* Rebuilds the hash index for 2 * cap slots. */
static int
reindex(struct cls_fvec *f)
{
	size_t size = 256, i;
	uint32_t *idx;

	while (size < 2 * f->cap)
		size *= 2;
	if ((idx = calloc(size, sizeof(*idx))) == NULL)
		return -1;
	free(f->idx);
	f->idx = idx;
	f->idxmask = size - 1;
	for (i = 0; i < f->n; i++) {
		size_t k = (size_t)f->v[i].hash & f->idxmask;

		while (f->idx[k] != 0)
			k = (k + 1) & f->idxmask;
		f->idx[k] = (uint32_t)i + 1;
	}
	return 0;
}

/*
 * Adds name[0..len) of hash h (name_hash) with value v: a feature added
 * again is summed when sum is set, else its value is replaced. len is
 * shorter than a cls_feat name (callers cut it).
 */
static int
fvec_add(struct cls_fvec *f, const char *name, size_t len, uint64_t h,
    double v, int sum)
{
	const struct cls_wentry *e = NULL;
	struct cls_feat *x;
	size_t k;

	if (f->only != NULL && (e = lookup(f->only, name, len, h)) == NULL)
		return 0;	/* no weight: it cannot change a score */
	if (f->idx == NULL && reindex(f) == -1)
		return -1;
	for (k = (size_t)h & f->idxmask; f->idx[k] != 0;
	    k = (k + 1) & f->idxmask) {
		x = &f->v[f->idx[k] - 1];
		if (x->hash == h && (e != NULL ? x->e == e :
		    strncmp(x->name, name, len) == 0 && x->name[len] == '\0')) {
			x->v = x->sum ? x->v + v : v;
			return 0;
		}
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 128;
		struct cls_feat *p = realloc(f->v, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		f->v = p;
		f->cap = cap;
		if (2 * cap > f->idxmask + 1) {
			if (reindex(f) == -1)
				return -1;
			for (k = (size_t)h & f->idxmask; f->idx[k] != 0;
			    k = (k + 1) & f->idxmask)
				;
		}
	}
	x = &f->v[f->n++];
	memcpy(x->name, name, len);
	x->name[len] = '\0';
	x->hash = h;
	x->v = v;
	x->sum = sum;
	x->e = e;
	f->idx[k] = (uint32_t)f->n;
	return 0;
}

int
cls_fvec_add(struct cls_fvec *f, const char *name, double v, int sum)
{
	size_t len = strlen(name);

	if (len >= sizeof(f->v->name))
		len = sizeof(f->v->name) - 1;
	return fvec_add(f, name, len, name_hash(name, len), v, sum);
}

void
cls_fvec_reset(struct cls_fvec *f)
{
	if (f->idx != NULL && f->n > 0)
		memset(f->idx, 0, (f->idxmask + 1) * sizeof(*f->idx));
	f->n = 0;
}

void
cls_fvec_free(struct cls_fvec *f)
{
	free(f->v);
	free(f->idx);
	memset(f, 0, sizeof(*f));
}

/* 1: a word byte (letter, apostrophe, hyphen); 2: an ASCII letter. */
static const unsigned char wclass[256] = {
	['a'] = 3, ['b'] = 3, ['c'] = 3, ['d'] = 3, ['e'] = 3, ['f'] = 3,
	['g'] = 3, ['h'] = 3, ['i'] = 3, ['j'] = 3, ['k'] = 3, ['l'] = 3,
	['m'] = 3, ['n'] = 3, ['o'] = 3, ['p'] = 3, ['q'] = 3, ['r'] = 3,
	['s'] = 3, ['t'] = 3, ['u'] = 3, ['v'] = 3, ['w'] = 3, ['x'] = 3,
	['y'] = 3, ['z'] = 3, ['A'] = 3, ['B'] = 3, ['C'] = 3, ['D'] = 3,
	['E'] = 3, ['F'] = 3, ['G'] = 3, ['H'] = 3, ['I'] = 3, ['J'] = 3,
	['K'] = 3, ['L'] = 3, ['M'] = 3, ['N'] = 3, ['O'] = 3, ['P'] = 3,
	['Q'] = 3, ['R'] = 3, ['S'] = 3, ['T'] = 3, ['U'] = 3, ['V'] = 3,
	['W'] = 3, ['X'] = 3, ['Y'] = 3, ['Z'] = 3, ['\''] = 1, ['-'] = 1
};

static inline int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static inline int
word_byte(int c)
{
	return wclass[c] & 1;
}

static inline int
is_letter(int c)
{
	return wclass[c] & 2;
}

/* Adds pfx (two bytes) + body[a..b) lowercased, at most WORD_MAX bytes. */
static int
add_word(struct cls_fvec *f, const char *pfx, const char *s, size_t a,
    size_t b)
{
	char name[2 + WORD_MAX];
	size_t x, len = b - a;
	uint64_t h;

	if (len > WORD_MAX)
		len = WORD_MAX;
	name[0] = pfx[0];
	name[1] = pfx[1];
	h = name_hash(name, 2);
	for (x = 0; x < len; x++) {
		name[2 + x] = (char)lower((unsigned char)s[a + x]);
		h = (h ^ (unsigned char)name[2 + x]) * 0x100000001b3ULL;
	}
	return fvec_add(f, name, 2 + len, h, 1, 0);
}

/*
 * Words are ASCII: a maximal run of letters, apostrophes and hyphens,
 * taken from its first letter, two bytes or more; every other byte
 * (digits, punctuation, non-ASCII) separates. The run of body[from..to)
 * [a, b) yields the word [first letter, b) or none.
 */
static size_t
word_start(const char *s, size_t a, size_t b)
{
	while (a < b && !is_letter((unsigned char)s[a]))
		a++;
	return b - a >= 2 ? a : b;
}

/* The last WINDOW_WORDS words of s[from..to), scanning back from to. */
static int
words_before(struct cls_fvec *f, const char *s, size_t from, size_t to)
{
	size_t end = to, n = 0;

	while (end > from && n < WINDOW_WORDS) {
		size_t b, w;

		while (end > from && !word_byte((unsigned char)s[end - 1]))
			end--;
		for (b = end; b > from && word_byte((unsigned char)s[b - 1]);
		    b--)
			;
		if ((w = word_start(s, b, end)) < end) {
			if (add_word(f, "L=", s, w, end) == -1)
				return -1;
			n++;
		}
		end = b;
	}
	return 0;
}

/* The first max words of s[from..to), each as pfx + word. */
static int
words_from(struct cls_fvec *f, const char *pfx, const char *s, size_t from,
    size_t to, size_t max)
{
	size_t i = from, n = 0;

	while (i < to && n < max) {
		size_t j, w;

		while (i < to && !word_byte((unsigned char)s[i]))
			i++;
		for (j = i; j < to && word_byte((unsigned char)s[j]); j++)
			;
		if ((w = word_start(s, i, j)) < j) {
			if (add_word(f, pfx, s, w, j) == -1)
				return -1;
			n++;
		}
		i = j;
	}
	return 0;
}

/* The words on each side of body[start..end): "L=word", "R=word". */
int
cls_fvec_words(struct cls_fvec *f, const char *body, size_t len,
    size_t start, size_t end)
{
	size_t from = start > WINDOW_BYTES ? start - WINDOW_BYTES : 0;
	size_t to = end + WINDOW_BYTES < len ? end + WINDOW_BYTES : len;

	if (words_before(f, body, from, start) == -1 ||
	    words_from(f, "R=", body, end, to, WINDOW_WORDS) == -1)
		return -1;
	return 0;
}

/*
 * The term body[start..end) itself, lowercased, white space, quotes and
 * backslashes made underscores (model.yaml quotes names), cut at a
 * character boundary: "T=rolled_steel". "oil" is not as often traded as
 * "diesel".
 */
int
cls_fvec_term(struct cls_fvec *f, const char *body, size_t start,
    size_t end)
{
	char name[2 + WORD_MAX];
	size_t x, len = end - start;

	if (len > WORD_MAX)
		for (len = WORD_MAX; len > 0 &&
		    ((unsigned char)body[start + len] & 0xC0) == 0x80; len--)
			;
	name[0] = 'T';
	name[1] = '=';
	for (x = 0; x < len; x++) {
		int ch = lower((unsigned char)body[start + x]);

		name[2 + x] = (char)(ch <= ' ' || ch == '"' || ch == '\\' ?
		    '_' : ch);
	}
	return fvec_add(f, name, 2 + len, name_hash(name, 2 + len), 1, 0);
}

/*
 * Every word of body[from..to) as pfx + word (pfx: two bytes): the
 * mention's whole sentence, "S=seized", where the trade verb is often
 * further than the window.
 */
int
cls_fvec_span(struct cls_fvec *f, const char *pfx, const char *s,
    size_t from, size_t to)
{
	return words_from(f, pfx, s, from, to, SIZE_MAX);
}

/* Counts (the features added with sum) become log(1 + count). */
void
cls_fvec_log1p(struct cls_fvec *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->v[i].sum)
			f->v[i].v = log1p(f->v[i].v);
}


/*
 * One hash table keyed by the bare feature name with its four weights,
 * so scoring looks each feature up once: "import|L=from" is filed under
 * "L=from" as w[2].
 */
int
cls_model_index(struct cls_model *m)
{
	static const char *const pfx[3] = { "unknown|", "import|", "export|" };
	size_t size = 16, i, d;

	while (size < 2 * (m->npresence + m->ndirection))
		size *= 2;
	if ((m->tab = calloc(size, sizeof(*m->tab))) == NULL)
		return -1;
	m->tabmask = size - 1;
	for (i = 0; i < m->npresence + m->ndirection; i++) {
		const struct cls_weight *w = i < m->npresence ?
		    &m->presence[i] : &m->direction[i - m->npresence];
		const char *name = w->name;
		struct cls_wentry *e;

		d = 0;
		if (i >= m->npresence) {
			for (d = 0; d < 3; d++)
				if (strncmp(name, pfx[d], strlen(pfx[d])) == 0)
					break;
			if (d == 3)
				continue;	/* no direction prefix */
			name += strlen(pfx[d]);
			d++;
		}
		if ((e = slot(m, name, name_hash(name, strlen(name))))->name ==
		    NULL) {
			e->name = name;
			e->hash = name_hash(name, strlen(name));
		}
		e->w[d] = w->w;
	}
	return 0;
}

/* P(y = 1) = 1 / (1 + exp(-sum of weight * value)), for all four. */
void
cls_model_score(const struct cls_model *m, const struct cls_fvec *f,
    double p[4])
{
	double z[4] = { 0, 0, 0, 0 };
	size_t i, d;

	for (i = 0; i < f->n; i++) {
		const struct cls_wentry *e = f->v[i].e != NULL ? f->v[i].e :
		    slot(m, f->v[i].name, f->v[i].hash);

		if (e->name == NULL)
			continue;
		for (d = 0; d < 4; d++)
			z[d] += e->w[d] * f->v[i].v;
	}
	for (d = 0; d < 4; d++)
		p[d] = 1.0 / (1.0 + exp(-z[d]));
}

void
cls_model_free(struct cls_model *m)
{
	size_t i;

	for (i = 0; i < m->npresence; i++)
		free(m->presence[i].name);
	for (i = 0; i < m->ndirection; i++)
		free(m->direction[i].name);
	free(m->presence);
	free(m->direction);
	free(m->tab);
	memset(m, 0, sizeof(*m));
}
