/*
 * model.c - the learned second stage: feature vectors of the commodity
 * categories the rules kept, and the two logistic regressions of
 * model.yaml that score them. Training is `yalu train` (cls_train.c); the
 * engine decides with the probabilities (engine.c, model_stage()).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cls_int.h"

#define WINDOW_BYTES	200	/* context looked at on each side */
#define WINDOW_WORDS	6	/* words kept on each side */
#define WORD_MAX	40	/* longer words are cut */

int
cls_fvec_add(struct cls_fvec *f, const char *name, double v, int sum)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->v[i].name, name) == 0) {
			f->v[i].v = sum ? f->v[i].v + v : v;
			return 0;
		}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct cls_feat *p = realloc(f->v, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		f->v = p;
		f->cap = cap;
	}
	strncpy(f->v[f->n].name, name, sizeof(f->v[f->n].name) - 1);
	f->v[f->n].name[sizeof(f->v[f->n].name) - 1] = '\0';
	f->v[f->n++].v = v;
	return 0;
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

/*
 * Up to max words of body[from..to), lowercased ASCII: a letter then one
 * or more letters, apostrophes or hyphens; every other byte (digits,
 * punctuation, non-ASCII) separates. last: keep the last max, not the
 * first. Calls add(name) with pfx + word.
 */
static int
words(struct cls_fvec *f, const char *pfx, const char *s, size_t from,
    size_t to, int last)
{
	size_t i = from, at[64][2], n = 0, k, first;

	while (i < to) {
		size_t j;
		int c = lower((unsigned char)s[i]);

		if (c < 'a' || c > 'z') {
			i++;
			continue;
		}
		for (j = i + 1; j < to && word_byte((unsigned char)s[j]); j++)
			;
		if (j - i >= 2) {
			if (n == 64) {	/* keep the newest 32 */
				memmove(at, at + 32, 32 * sizeof(at[0]));
				n = 32;
			}
			at[n][0] = i;
			at[n++][1] = j;
			if (!last && n == WINDOW_WORDS)
				break;
			i = j;
		} else
			i++;
	}
	first = last && n > WINDOW_WORDS ? n - WINDOW_WORDS : 0;
	for (k = first; k < n && k - first < WINDOW_WORDS; k++) {
		char name[8 + WORD_MAX];
		size_t len = at[k][1] - at[k][0], p = strlen(pfx), x;

		if (len > WORD_MAX)
			len = WORD_MAX;
		memcpy(name, pfx, p);
		for (x = 0; x < len; x++)
			name[p + x] = (char)lower((unsigned char)s[at[k][0] +
			    x]);
		name[p + len] = '\0';
		if (cls_fvec_add(f, name, 1, 0) == -1)
			return -1;
	}
	return 0;
}

/* The words on each side of body[start..end): "L=word", "R=word". */
void
cls_fvec_words(struct cls_fvec *f, const char *body, size_t len,
    size_t start, size_t end)
{
	size_t from = start > WINDOW_BYTES ? start - WINDOW_BYTES : 0;
	size_t to = end + WINDOW_BYTES < len ? end + WINDOW_BYTES : len;

	(void)words(f, "L=", body, from, start, 1);
	(void)words(f, "R=", body, end, to, 0);
}

/* Counts become log(1 + count) for the features named prefix... */
void
cls_fvec_log1p(struct cls_fvec *f, const char *prefix)
{
	size_t i, n = strlen(prefix);

	for (i = 0; i < f->n; i++)
		if (strncmp(f->v[i].name, prefix, n) == 0)
			f->v[i].v = log1p(f->v[i].v);
}

static int
weight_find(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cls_weight *)elem)->name);
}

/* P(y = 1) = 1 / (1 + exp(-sum of weight(prefix + name) * value)). */
double
cls_model_prob(const struct cls_weight *w, size_t nw,
    const struct cls_fvec *f, const char *prefix)
{
	double z = 0;
	size_t i, p = strlen(prefix);
	char name[128];

	for (i = 0; i < f->n; i++) {
		const struct cls_weight *x;

		if (p + strlen(f->v[i].name) >= sizeof(name))
			continue;
		memcpy(name, prefix, p);
		strcpy(name + p, f->v[i].name);
		if ((x = bsearch(name, w, nw, sizeof(*w), weight_find)) !=
		    NULL)
			z += x->w * f->v[i].v;
	}
	return 1.0 / (1.0 + exp(-z));
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
	memset(m, 0, sizeof(*m));
}
