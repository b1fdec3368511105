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

int
cls_fvec_add(struct cls_fvec *f, const char *name, double v, int sum)
{
	size_t len = strlen(name), k;
	uint64_t h;
	struct cls_feat *x;

	if (len >= sizeof(f->v->name))
		len = sizeof(f->v->name) - 1;
	h = name_hash(name, len);
	if (f->idx == NULL && reindex(f) == -1)
		return -1;
	for (k = (size_t)h & f->idxmask; f->idx[k] != 0;
	    k = (k + 1) & f->idxmask) {
		x = &f->v[f->idx[k] - 1];
		if (x->hash == h && strncmp(x->name, name, len) == 0 &&
		    x->name[len] == '\0') {
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
	f->idx[k] = (uint32_t)f->n;
	return 0;
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

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
word_byte(int c)
{
	c = lower(c);
	return (c >= 'a' && c <= 'z') || c == '\'' || c == '-';
}

static int
is_letter(int c)
{
	c = lower(c);
	return c >= 'a' && c <= 'z';
}

/* Adds pfx + body[a..b) lowercased (at most WORD_MAX bytes) to f. */
static int
add_word(struct cls_fvec *f, const char *pfx, const char *s, size_t a,
    size_t b)
{
	char name[8 + WORD_MAX];
	size_t p = strlen(pfx), x, len = b - a;

	if (len > WORD_MAX)
		len = WORD_MAX;
	memcpy(name, pfx, p);
	for (x = 0; x < len; x++)
		name[p + x] = (char)lower((unsigned char)s[a + x]);
	name[p + len] = '\0';
	return cls_fvec_add(f, name, 1, 0);
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

/* The first WINDOW_WORDS words of s[from..to). */
static int
words_after(struct cls_fvec *f, const char *s, size_t from, size_t to)
{
	size_t i = from, n = 0;

	while (i < to && n < WINDOW_WORDS) {
		size_t j, w;

		while (i < to && !word_byte((unsigned char)s[i]))
			i++;
		for (j = i; j < to && word_byte((unsigned char)s[j]); j++)
			;
		if ((w = word_start(s, i, j)) < j) {
			if (add_word(f, "R=", s, w, j) == -1)
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
	    words_after(f, body, end, to) == -1)
		return -1;
	return 0;
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
		const struct cls_wentry *e = slot(m, f->v[i].name,
		    f->v[i].hash);

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
