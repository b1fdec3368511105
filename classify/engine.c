/*
 * engine.c - tags one report: match, resolve overlaps, segment, decide
 * direction and negation per mention, aggregate, cite, rate relevance.
 *
 * The rules are those of TAGS.md; how they map onto the taxonomy is told
 * in docs/taxonomy.md ("How a report is tagged"). Everything is computed
 * in buffers owned by struct yl_cls and reused from report to report.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "yalu/buf.h"
#include "yalu/norm.h"

#include "cls_int.h"

struct match {
	uint32_t	ns, ne;		/* in the normalized text */
	uint32_t	os, oe;		/* in the original body */
	int		pat;
	int		layer;		/* see cls_layer() */
	int		sent, clause;
	int		dir;		/* direction it gives as a cue, 0 */
	int		weak;		/* that direction alone is no trade */
};

/*
 * How a commodity mention got its direction: --explain's direction_from
 * and the learned stage's "how=" feature (how_names). pending: a
 * direction may come later; general: from sanctions described in
 * general.
 */
enum how {
	HOW_NONE, HOW_TERM, HOW_CUE, HOW_PLACE, HOW_ORIGIN, HOW_UNSURE,
	HOW_EARLIER, HOW_CARRIED, HOW_DEFAULT, HOW_PENDING, HOW_GENERAL,
	HOW_SANCTION, HOW_CATEGORY, HOW_MODEL
};

static const char *const how_names[] = {
	"none", "term", "cue", "place", "origin", "unsure", "earlier",
	"carried", "default", "pending", "general", "sanction", "category",
	"model"
};

/* A tag occurrence: one piece of evidence for (facet, id, direction). */
struct hit {
	int		 facet, id, rank, dir;	/* dir -1: none */
	int		 m, cue;		/* match indices, cue -1 */
	const char	*how;
};

/* A provision cited because of (kind: 0 commodity, 1 method, 2 entity). */
struct cite_ent {
	int	prov, bkind, bid, bdir;
};

/* A commodity mention that was not counted, for --explain. */
struct drop {
	int		 m, cue;
	const char	*why;
};

/* A commodity mention after direction and negation were decided. */
struct mention {
	int		 m;		/* match index */
	int		 cat;
	enum cls_dir	 dir;
	enum how	 how;
	int		 cue;		/* match index of the deciding cue, -1 */
	int		 primary;	/* the term's own category, not also */
	int		 pat;		/* the pattern of its category */
};

/* A commodity mention kept as traded in direction dir (see model_stage). */
struct kept {
	int		 men;		/* index into men */
	enum cls_dir	 dir;
	enum how	 how;
	int		 cue;
	int		 gone;		/* dropped by the model */
};

/* A category the rules kept, as the model sees it. */
struct cand {
	int		 cat;
	unsigned	 dirs;		/* 1 << dir, by the rules; 0: dropped */
	struct cls_fvec	 fv;
	double		 p, q[3];	/* presence; by direction */
};

/*
 * A sort key. Hits are sorted by packing what their order depends on into
 * two integers, so that sorting compares integers rather than calling a
 * comparison function through qsort. lo ends with the element's index:
 * keys are unique, and the order is the one a stable sort by the same
 * fields gives.
 */
struct skey {
	uint64_t	hi, lo;
};

struct yl_cls {
	const struct yl_tax	*t;
	hs_scratch_t		*scratch;
	struct yl_norm		 norm;
	struct match		*m, *mt, *mc;	/* mt, mc: room to reorder m */
	size_t			 nm, capm, capmt, capmc;
	struct skey		*key, *keytmp;
	size_t			 capkey, capkeytmp;
	int			*owner;
	size_t			 capowner;
	uint32_t		*sb, *cb;	/* sentence, clause starts */
	size_t			 nsb, ncb, capsb, capcb;
	struct mention		*men;
	size_t			 nmen, capmen;
	struct hit		*hits, *hitstmp;
	size_t			 nhits, caphits, caphitstmp;
	struct cite_ent		*cites;
	size_t			 ncites, capcites;
	struct drop		*drops;
	size_t			 ndrops, capdrops;
	struct kept		*kept;
	size_t			 nkept, capkept;
	struct cand		*cands;		/* capcands = t->ncats */
	size_t			 ncands, capcands;
	int			*sdir, *sflag;	/* per sentence */
	size_t			 capsdir, capsflag;
	size_t			*sfirst;	/* first match of each sentence */
	size_t			 capsfirst;
	size_t			*cm;		/* the commodity matches, in order */
	size_t			 ncm, capcm;
	unsigned char		*catknown;	/* per category, this report */
	int			*rank[6];	/* alphabetical rank per facet */
	int			*prov_rank;
	struct yl_buf		 out;
	const char		*body;
	/*
	 * Every ID of facet f as a JSON string, escaped once: idjson bytes
	 * idpos[f][i] to idpos[f][i + 1]. head: {"ruleset":...,"tags":{
	 */
	struct yl_buf		 idjson, head;
	size_t			*idpos[6];
};

/* Alphabetical ranks, so that tags sort by ID without strcmp per report. */
static const char *const *rank_names;

static int
cmp_rank(const void *a, const void *b)
{
	return strcmp(rank_names[*(const int *)a], rank_names[*(const int *)b]);
}

static int *
ranks_of(const char *const *names, size_t n)
{
	int *idx = malloc((n + 1) * sizeof(int)), *rank = malloc((n + 1) *
	    sizeof(int));
	size_t i;

	if (idx == NULL || rank == NULL) {
		free(idx);
		free(rank);
		return NULL;
	}
	for (i = 0; i < n; i++)
		idx[i] = (int)i;
	rank_names = names;
	qsort(idx, n, sizeof(int), cmp_rank);
	for (i = 0; i < n; i++)
		rank[idx[i]] = (int)i;
	free(idx);
	return rank;
}

/* Appends the JSON strings of names[0..n) to c->idjson, for facet f. */
static int
quote_ids(struct yl_cls *c, int f, const char *const *names, size_t n)
{
	size_t i;

	if ((c->idpos[f] = malloc((n + 1) * sizeof(size_t))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		c->idpos[f][i] = c->idjson.len;
		yl_buf_json(&c->idjson, names[i], strlen(names[i]));
	}
	c->idpos[f][n] = c->idjson.len;
	return c->idjson.oom ? -1 : 0;
}

static int
make_ranks(struct yl_cls *c)
{
	const struct yl_tax *t = c->t;
	const struct cls_named *v[5] = { t->countries, t->crossings, t->modes,
	    t->methods, t->entities };
	size_t nv[5] = { t->ncountries, t->ncrossings, t->nmodes, t->nmethods,
	    t->nentities };
	const char **names;
	size_t i, k, max = t->ncats > t->nprovs ? t->ncats : t->nprovs;

	for (k = 0; k < 5; k++)
		if (nv[k] > max)
			max = nv[k];
	if ((names = calloc(max + 1, sizeof(*names))) == NULL)
		return -1;
	for (i = 0; i < t->ncats; i++)
		names[i] = t->cats[i].id;
	c->rank[0] = ranks_of(names, t->ncats);
	if (quote_ids(c, 0, names, t->ncats) == -1) {
		free(names);
		return -1;
	}
	for (k = 0; k < 5; k++) {
		for (i = 0; i < nv[k]; i++)
			names[i] = v[k][i].id;
		c->rank[k + 1] = ranks_of(names, nv[k]);
		if (quote_ids(c, (int)k + 1, names, nv[k]) == -1) {
			free(names);
			return -1;
		}
	}
	yl_buf_str(&c->head, "{\"ruleset\":");
	yl_buf_json(&c->head, t->ruleset, strlen(t->ruleset));
	yl_buf_str(&c->head, ",\"tags\":{");
	if (c->head.oom) {
		free(names);
		return -1;
	}
	for (i = 0; i < t->nprovs; i++)
		names[i] = t->provs[i].id;
	c->prov_rank = ranks_of(names, t->nprovs);
	free(names);
	c->catknown = calloc(t->ncats + 1, 1);
	for (k = 0; k < 6; k++)
		if (c->rank[k] == NULL)
			return -1;
	return c->prov_rank && c->catknown ? 0 : -1;
}

struct yl_cls *
yl_cls_new(const struct yl_tax *t, char *err, size_t errsz)
{
	struct yl_cls *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	c->t = t;
	if (hs_alloc_scratch(t->db, &c->scratch) != HS_SUCCESS) {
		snprintf(err, errsz, "cannot allocate matcher scratch space");
		free(c);
		return NULL;
	}
	if (make_ranks(c) == -1) {
		snprintf(err, errsz, "out of memory");
		yl_cls_free(&c);
		return NULL;
	}
	return c;
}

void
yl_cls_free(struct yl_cls **pc)
{
	struct yl_cls *c;
	int i;

	if (pc == NULL || (c = *pc) == NULL)
		return;
	hs_free_scratch(c->scratch);
	yl_norm_clear(&c->norm);
	free(c->m);
	free(c->mt);
	free(c->mc);
	free(c->key);
	free(c->keytmp);
	free(c->hitstmp);
	free(c->owner);
	free(c->sb);
	free(c->cb);
	free(c->men);
	free(c->hits);
	free(c->cites);
	free(c->drops);
	free(c->kept);
	for (i = 0; i < (int)c->capcands; i++)
		cls_fvec_free(&c->cands[i].fv);
	free(c->cands);
	free(c->sfirst);
	free(c->cm);
	free(c->sdir);
	free(c->sflag);
	free(c->catknown);
	for (i = 0; i < 6; i++) {
		free(c->rank[i]);
		free(c->idpos[i]);
	}
	yl_buf_free(&c->idjson);
	yl_buf_free(&c->head);
	free(c->prov_rank);
	yl_buf_free(&c->out);
	free(c);
	*pc = NULL;
}

static int
reserve(void **p, size_t *cap, size_t need, size_t sz)
{
	void *n;
	size_t nc;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	if ((n = realloc(*p, nc * sz)) == NULL)
		return -1;
	*p = n;
	*cap = nc;
	return 0;
}

static inline int
skey_lt(const struct skey *a, const struct skey *b)
{
	return a->hi < b->hi || (a->hi == b->hi && a->lo < b->lo);
}

/*
 * Sorts c->key[0..n): insertion sort over runs of 16, then bottom-up
 * merges through c->keytmp. Returns -1 when out of memory.
 */
static int
skey_sort(struct yl_cls *c, size_t n)
{
	struct skey *src, *dst, *v = c->key, x;
	size_t i, j, k, lo, mid, hi, w;

	for (lo = 0; lo < n; lo += 16) {
		hi = lo + 16 < n ? lo + 16 : n;
		for (i = lo + 1; i < hi; i++) {
			x = v[i];
			for (j = i; j > lo && skey_lt(&x, &v[j - 1]); j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
	}
	if (n <= 16)
		return 0;
	if (reserve((void **)&c->keytmp, &c->capkeytmp, n,
	    sizeof(*c->keytmp)) == -1)
		return -1;
	src = c->key;
	dst = c->keytmp;
	for (w = 16; w < n; w *= 2) {
		for (lo = 0; lo < n; lo += 2 * w) {
			mid = lo + w < n ? lo + w : n;
			hi = lo + 2 * w < n ? lo + 2 * w : n;
			for (i = lo, j = mid, k = lo; i < mid && j < hi; )
				dst[k++] = skey_lt(&src[j], &src[i]) ?
				    src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		v = src;
		src = dst;
		dst = v;
	}
	if (src != c->key)
		memcpy(c->key, src, n * sizeof(*src));
	return 0;
}

/* ASCII letters and digits: word_chars[c] is 1. */
static const unsigned char word_chars[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

static inline int
is_word(unsigned char c)
{
	return word_chars[c];
}

static int
on_match(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
	struct yl_cls *c = ctx;
	const struct cls_pat *p = &c->t->pats[id];
	const unsigned char *s = (const unsigned char *)c->norm.s;
	uint32_t ns = (uint32_t)(to - p->len), ne = (uint32_t)to;
	struct match *m;

	(void)from;
	(void)flags;
	/* A Latin term starts and ends on a word boundary. */
	if (ns > 0 && is_word((unsigned char)p->text[0]) && is_word(s[ns - 1]))
		return 0;
	if (!p->prefix && ne < c->norm.len &&
	    is_word((unsigned char)p->text[p->len - 1]) && is_word(s[ne]))
		return 0;
	/* A prefix term's evidence is the whole word: "smuggl*" -> smuggled */
	if (p->prefix)
		while (ne < c->norm.len && is_word(s[ne]))
			ne++;
	if (reserve((void **)&c->m, &c->capm, c->nm + 1, sizeof(*m)) == -1)
		return 1;	/* stops the scan; reported as out of memory */
	m = &c->m[c->nm++];
	m->ns = ns;
	m->ne = ne;
	m->pat = (int)id;
	m->layer = cls_layer(p->kind);
	/*
	 * An ignore term also silences the cues, modes and methods it
	 * overlaps: "refused entry" is a blocked attempt, not the negation
	 * "refused"; "surveillance flights" carry no goods; "illegally
	 * crossed" the border is a defection, not smuggling.
	 */
	if (p->kind == K_IGNORE) {
		if (reserve((void **)&c->m, &c->capm, c->nm + 2, sizeof(*m)) ==
		    -1)
			return 1;
		c->m[c->nm] = c->m[c->nm - 1];
		c->m[c->nm++].layer = 1;
		c->m[c->nm] = c->m[c->nm - 1];
		c->m[c->nm++].layer = 2;
	}
	return 0;
}

static int
cmp_overlap(const void *a, const void *b, const struct yl_tax *t)
{
	const struct match *x = a, *y = b;
	int lx = x->layer, ly = y->layer;

	(void)t;
	if (lx != ly)
		return lx - ly;
	if (x->ne - x->ns != y->ne - y->ns)
		return (y->ne - y->ns) > (x->ne - x->ns) ? 1 : -1;
	if (x->ns != y->ns)
		return x->ns < y->ns ? -1 : 1;
	return x->pat - y->pat;
}

static const struct yl_tax *sort_tax;	/* qsort has no context argument */

/*
 * Sorts like qsort; insertion sort for the short arrays of one report,
 * where qsort's set-up costs more than the sorting.
 */
static void
sort_small(void *base, size_t n, size_t sz, int (*cmp)(const void *,
    const void *))
{
	char *v = base, tmp[64];
	size_t i, j;

	if (n < 2)
		return;		/* qsort may not take a NULL base, even empty */
	if (n > 48 || sz > sizeof(tmp)) {
		qsort(base, n, sz, cmp);
		return;
	}
	for (i = 1; i < n; i++) {
		if (cmp(v + (i - 1) * sz, v + i * sz) <= 0)
			continue;
		memcpy(tmp, v + i * sz, sz);
		for (j = i; j > 0 && cmp(v + (j - 1) * sz, tmp) > 0; j--)
			memcpy(v + j * sz, v + (j - 1) * sz, sz);
		memcpy(v + j * sz, tmp, sz);
	}
}

static int
cmp_overlap_q(const void *a, const void *b)
{
	return cmp_overlap(a, b, sort_tax);
}

/* Longest first, then the first, then the lowest pattern: cmp_overlap(). */
static inline int
before_overlap(const struct match *x, const struct match *y)
{
	uint32_t lx = x->ne - x->ns, ly = y->ne - y->ns;

	if (lx != ly)
		return lx > ly;
	if (x->ns != y->ns)
		return x->ns < y->ns;
	return x->pat < y->pat;
}

/* By start in the normalized text, then end, then pattern. */
static inline int
before_start(const struct match *x, const struct match *y)
{
	if (x->ns != y->ns)
		return x->ns < y->ns;
	if (x->ne != y->ne)
		return x->ne < y->ne;
	return x->pat < y->pat;
}

/*
 * Text order, in which the rules read the matches: start in the body,
 * longest first, pattern; then layer, longest in the normalized text and
 * start there, so that the order is total.
 */
static inline int
before_text(const struct match *x, const struct match *y)
{
	if (x->os != y->os)
		return x->os < y->os;
	if (x->oe != y->oe)
		return x->oe > y->oe;
	if (x->pat != y->pat)
		return x->pat < y->pat;
	if (x->layer != y->layer)
		return x->layer < y->layer;
	if (x->ne - x->ns != y->ne - y->ns)
		return x->ne - x->ns > y->ne - y->ns;
	return x->ns < y->ns;
}

static int
cmp_text_q(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	return before_text(x, y) ? -1 : before_text(y, x) ? 1 : 0;
}

static int
cmp_start_q(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	return before_start(x, y) ? -1 : before_start(y, x) ? 1 : 0;
}

/*
 * Sorts v[0..n) by one of the orders above. The runs sorted here are
 * short, or nearly sorted already (matches arrive by end offset), which
 * insertion sort does in a pass; a long run goes to qsort, so that no
 * input makes this quadratic.
 */
enum { BY_OVERLAP, BY_START, BY_TEXT };

static void
sort_matches(struct match *v, size_t n, int by)
{
	static int (*const q[3])(const void *, const void *) = {
		cmp_overlap_q, cmp_start_q, cmp_text_q };
	struct match x;
	size_t i, j;

	if (n < 2)
		return;
	if (n > 256) {
		qsort(v, n, sizeof(*v), q[by]);
		return;
	}
	for (i = 1; i < n; i++) {
		x = v[i];
		for (j = i; j > 0; j--) {
			int lt = by == BY_OVERLAP ? before_overlap(&x, &v[j - 1]) :
			    by == BY_START ? before_start(&x, &v[j - 1]) :
			    before_text(&x, &v[j - 1]);

			if (!lt)
				break;
			v[j] = v[j - 1];
		}
		v[j] = x;
	}
}

/*
 * One cluster of overlapping matches of a layer, v[0..n): the longest
 * wins the bytes it covers, then the next longest of those left, and so
 * on; matches with the very same span (one text, several meanings) all
 * stay. Appends the winners to out; returns how many.
 */
static size_t
resolve_cluster(struct yl_cls *c, const struct match *v, size_t n,
    struct match *out)
{
	struct match *w = c->mc;
	size_t i, j, k = 0;

	memcpy(w, v, n * sizeof(*w));
	sort_matches(w, n, BY_OVERLAP);
	for (i = 0; i < n; i++) {
		const struct match *m = &w[i];
		int ok = 1;

		for (j = m->ns; j < m->ne; j++) {
			int o = c->owner[j];

			if (o >= 0 && (w[o].ns != m->ns || w[o].ne != m->ne)) {
				ok = 0;
				break;
			}
		}
		if (!ok)
			continue;
		for (j = m->ns; j < m->ne; j++)
			c->owner[j] = (int)i;
		out[k++] = *m;
	}
	for (i = 0; i < k; i++)
		for (j = out[i].ns; j < out[i].ne; j++)
			c->owner[j] = -1;
	return k;
}

/* Merges the sorted runs a[0..na) and b[0..nb) into out, by before_text. */
static void
merge_text(const struct match *a, size_t na, const struct match *b,
    size_t nb, struct match *out)
{
	size_t i = 0, j = 0, k = 0;

	while (i < na && j < nb)
		out[k++] = before_text(&b[j], &a[i]) ? b[j++] : a[i++];
	while (i < na)
		out[k++] = a[i++];
	while (j < nb)
		out[k++] = b[j++];
}

/*
 * Keeps, within each layer, the longest of overlapping matches (see
 * resolve_cluster()), then puts what is kept in text order (before_text())
 * with its offsets in the body. Overlaps are settled cluster by cluster:
 * most matches overlap nothing of their layer and are kept at once.
 */
static int
resolve_overlaps(struct yl_cls *c)
{
	size_t n = c->nm, cnt[3] = { 0, 0, 0 }, at[3], end[3], i, j, k;
	struct match *v, *m;
	int l;

	if (n == 0)
		return 0;
	if (c->capowner < c->norm.len + 1) {
		size_t old = c->capowner;

		if (reserve((void **)&c->owner, &c->capowner, c->norm.len + 1,
		    sizeof(int)) == -1)
			return -1;
		memset(c->owner + old, 0xff, (c->capowner - old) *
		    sizeof(int));
	}
	if (reserve((void **)&c->mt, &c->capmt, n, sizeof(*c->mt)) == -1 ||
	    reserve((void **)&c->mc, &c->capmc, n, sizeof(*c->mc)) == -1)
		return -1;
	/* Into c->mt by layer, each in the order the matches came. */
	for (i = 0; i < n; i++)
		cnt[c->m[i].layer]++;
	at[0] = 0;
	at[1] = cnt[0];
	at[2] = cnt[0] + cnt[1];
	for (i = 0; i < n; i++)
		c->mt[at[c->m[i].layer]++] = c->m[i];
	/* The kept ones, layer by layer, back into c->m. */
	v = c->mt;
	k = 0;
	for (l = 0, i = 0; l < 3; l++) {
		size_t e = i + cnt[l];

		sort_matches(v + i, cnt[l], BY_START);
		while (i < e) {
			uint32_t maxne = v[i].ne;
			int same = 1;

			for (j = i + 1; j < e && v[j].ns < maxne; j++) {
				if (v[j].ns != v[i].ns || v[j].ne != v[i].ne)
					same = 0;
				if (v[j].ne > maxne)
					maxne = v[j].ne;
			}
			if (same) {
				memcpy(c->m + k, v + i, (j - i) * sizeof(*v));
				k += j - i;
			} else
				k += resolve_cluster(c, v + i, j - i, c->m + k);
			i = j;
		}
		end[l] = k;
	}
	c->nm = k;
	for (i = 0; i < k; i++) {
		m = &c->m[i];
		m->os = c->norm.start[m->ns];
		m->oe = (uint32_t)yl_norm_orig_end(&c->norm, c->body,
		    m->ne - 1);
	}
	/* Text order: each layer's run, then two merges. */
	sort_matches(c->m, end[0], BY_TEXT);
	sort_matches(c->m + end[0], end[1] - end[0], BY_TEXT);
	sort_matches(c->m + end[1], end[2] - end[1], BY_TEXT);
	merge_text(c->m, end[0], c->m + end[0], end[1] - end[0], c->mt);
	/* In place: the write position never passes the unread third run. */
	i = 0;
	j = end[1];
	k = 0;
	while (i < end[1] && j < end[2])
		c->m[k++] = before_text(&c->m[j], &c->mt[i]) ? c->m[j++] :
		    c->mt[i++];
	while (i < end[1])
		c->m[k++] = c->mt[i++];
	return 0;
}

static int
push_break(uint32_t **v, size_t *n, size_t *cap, uint32_t at)
{
	if (reserve((void **)v, cap, *n + 1, sizeof(**v)) == -1)
		return -1;
	(*v)[(*n)++] = at;
	return 0;
}

/* Words after which a full stop does not end a sentence. */
static const char *const abbrevs[] = {
	"mr", "mrs", "ms", "dr", "st", "jan", "feb", "mar", "apr", "jun",
	"jul", "aug", "sep", "sept", "oct", "nov", "dec", "no", "co", "corp",
	"inc", "ltd", "gen", "col", "lt", "sgt", "gov", "rep", "sen", "vs",
	"etc", "approx", "jr", "prof", "capt", "maj", "cmdr", "adm", NULL
};

static int
is_abbrev(const char *body, size_t dot)
{
	size_t b = dot, l, i;
	char w[8];
	const char *const *v;

	while (b > 0 && (is_word((unsigned char)body[b - 1]) ||
	    body[b - 1] == '.'))
		b--;
	l = dot - b;
	if (l == 0)
		return 0;
	if (memchr(body + b, '.', l) != NULL)	/* U.S. or D.P.R.K. */
		return 1;
	if (l == 1 && body[b] >= 'A' && body[b] <= 'Z')	/* an initial */
		return 1;
	if (l >= sizeof(w))
		return 0;
	for (i = 0; i < l; i++)
		w[i] = (char)(body[b + i] | 0x20);
	w[l] = '\0';
	if (w[0] < 'a' || w[0] > 'z')
		return 0;
	for (v = abbrevs; *v != NULL; v++)
		if ((*v)[0] == w[0] && strcmp(w, *v) == 0)
			return 1;
	return 0;
}

/* Does a sentence start at body[i] (after a terminator and space)? */
static int
starts_sentence(const unsigned char *s, size_t i, size_t len)
{
	if (i >= len)
		return 0;
	return (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
	    s[i] == '"' || s[i] == '\'' || s[i] == '(' || s[i] >= 0x80;
}

/*
 * The first byte at or after i that may matter to segment(): special[]
 * is the exact set; with SSE2, sixteen bytes are skipped at a time while
 * none is '\n', '!', '.', '?', ':', ';' or a lead byte 0xE3, 0xE7, 0xEB
 * or 0xEF (a superset: the caller checks special[] again). Most of a
 * report is words and spaces, which this skips without a branch per byte.
 */
static size_t
next_special(const unsigned char *s, size_t i, size_t len,
    const unsigned char *special)
{
#ifdef __SSE2__
	const __m128i nl = _mm_set1_epi8('\n'), bang = _mm_set1_epi8('!'),
	    stop = _mm_set1_epi8('.'), ques = _mm_set1_epi8('?'),
	    semi = _mm_set1_epi8(';'), one = _mm_set1_epi8(1),
	    lead = _mm_set1_epi8((char)0xEF), x0c = _mm_set1_epi8(0x0C);

	while (i + 16 <= len) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)
		    (s + i));
		__m128i h = _mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, bang)),
		    _mm_or_si128(_mm_cmpeq_epi8(v, stop),
		    _mm_cmpeq_epi8(v, ques)));

		h = _mm_or_si128(h, _mm_or_si128(
		    _mm_cmpeq_epi8(_mm_or_si128(v, one), semi),
		    _mm_cmpeq_epi8(_mm_or_si128(v, x0c), lead)));
		if (_mm_movemask_epi8(h) != 0)
			return i + (size_t)__builtin_ctz((unsigned)
			    _mm_movemask_epi8(h));
		i += 16;
	}
#endif
	while (i < len && !special[s[i]])
		i++;
	return i;
}

/*
 * Sentence starts into c->sb: after '.', '!' or '?' (and CJK full stops)
 * with closing quotes, white space and a capital; at line breaks, unless
 * a long line without a terminator continues in lower case (hard wrap).
 */
static int
segment(struct yl_cls *c, const char *body, size_t len)
{
	const unsigned char *s = (const unsigned char *)body;
	size_t i, linestart = 0;

	static const unsigned char special[256] = {
		['\n'] = 1, ['.'] = 1, ['!'] = 1, ['?'] = 1, [';'] = 1,
		[':'] = 1, [0xE3] = 1, [0xEF] = 1
	};

	c->nsb = c->ncb = 0;
	if (push_break(&c->sb, &c->nsb, &c->capsb, 0) == -1)
		return -1;
	for (i = 0; i < len; i++) {
		size_t j;
		int term = 0;

		if ((i = next_special(s, i, len, special)) >= len)
			break;
		if (!special[s[i]])
			continue;
		if (s[i] == ';' || s[i] == ':') {
			/* Clause breaks, kept apart from sentence starts. */
			if (push_break(&c->cb, &c->ncb, &c->capcb,
			    (uint32_t)i) == -1)
				return -1;
			continue;
		}
		if (s[i] == '\n') {
			size_t e = i, k = i + 1;

			while (e > linestart && (s[e - 1] == '\r' ||
			    s[e - 1] == ' '))
				e--;
			while (k < len && (s[k] == ' ' || s[k] == '\t'))
				k++;
			if (!(e - linestart >= 60 && e > linestart &&
			    strchr(".!?\"'", s[e - 1]) == NULL && k < len &&
			    s[k] >= 'a' && s[k] <= 'z'))
				if (push_break(&c->sb, &c->nsb, &c->capsb,
				    (uint32_t)(i + 1)) == -1)
					return -1;
			linestart = i + 1;
			continue;
		}
		if (s[i] == '.' || s[i] == '!' || s[i] == '?')
			term = 1;
		else if (s[i] == 0xE3 && i + 2 < len && s[i + 1] == 0x80 &&
		    s[i + 2] == 0x82) {		/* U+3002 ideographic stop */
			term = 3;
		} else if (s[i] == 0xEF && i + 2 < len && s[i + 1] == 0xBC &&
		    (s[i + 2] == 0x81 || s[i + 2] == 0x9F)) {	/* ！ ？ */
			term = 3;
		}
		if (!term)
			continue;
		j = i + (size_t)term;
		/* Closing quotes and brackets belong to the sentence. */
		for (;;) {
			if (j < len && (s[j] == '"' || s[j] == '\'' ||
			    s[j] == ')'))
				j++;
			else if (j + 2 < len && s[j] == 0xE2 &&
			    s[j + 1] == 0x80 && (s[j + 2] == 0x9D ||
			    s[j + 2] == 0x99))
				j += 3;		/* ” ’ */
			else
				break;
		}
		if (term == 3) {
			if (push_break(&c->sb, &c->nsb, &c->capsb,
			    (uint32_t)j) == -1)
				return -1;
			continue;
		}
		if (j >= len || (s[j] != ' ' && s[j] != '\t'))
			continue;
		while (j < len && (s[j] == ' ' || s[j] == '\t'))
			j++;
		if (!starts_sentence(s, j, len) ||
		    (s[i] == '.' && is_abbrev(body, i)))
			continue;
		if (push_break(&c->sb, &c->nsb, &c->capsb, (uint32_t)j) == -1)
			return -1;
	}
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The clause breaks: three sorted runs (';' and ':', sentence starts,
 * clause cues) appended one after the other, a few dozen in a report.
 */
static void
sort_u32(uint32_t *v, size_t n)
{
	size_t i, j;
	uint32_t x;

	if (n > 256) {
		qsort(v, n, sizeof(*v), cmp_u32);
		return;
	}
	for (i = 1; i < n; i++) {
		if (v[i - 1] <= v[i])
			continue;
		x = v[i];
		for (j = i; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/*
 * How far after a term a negation still reaches. 0: only negations before
 * the term count ("coal exports were halted" reports trade that was done).
 */
#define NEG_AFTER	0

/*
 * The cue of the given kind that governs mention m, or -1: one before it
 * in its clause, or within NEG_AFTER bytes after it. So a negation cancels
 * "did not import any coal", but one that governs a later verb of the
 * clause ("copper that buyers refused to take") is out of reach.
 */
static int
clause_cue(const struct yl_cls *c, const struct match *m, enum cls_kind kind)
{
	size_t i;

	for (i = c->sfirst[m->sent]; i < c->nm && c->m[i].sent == m->sent;
	    i++) {
		const struct match *q = &c->m[i];

		if (c->t->pats[q->pat].kind != kind || q->clause != m->clause)
			continue;
		/* A retraction ("turned out to be untrue", "fell through")
		 * cancels what its clause named before it, nothing after. */
		if (kind == K_CUE_NEG &&
		    c->t->pats[q->pat].target == CLS_CUE_RETRACT) {
			if (q->os >= m->oe)
				return (int)i;
			continue;
		}
		/*
		 * Sanctions described in general ("has banned exports of
		 * coal") negate nothing: the goods they list are often the
		 * report's own story, told without a cue. They only mark
		 * their sentence as naming no partner (trade_sentence()).
		 */
		if (c->t->pats[q->pat].target == CLS_CUE_GENERAL ||
		    c->t->pats[q->pat].target == CLS_CUE_SANCTION)
			continue;
		/* A false label ("declared as sand") names only the goods
		 * right after it, before any comma. */
		if (c->t->pats[q->pat].target == CLS_CUE_LABEL &&
		    kind == K_CUE_NEG && (c->t->pats[m->pat].kind !=
		    K_COMMODITY || q->oe > m->os || m->os - q->oe > 40 ||
		    memchr(c->body + q->oe, ',', m->os - q->oe) != NULL))
			continue;
		if (q->oe <= m->os ||
		    (NEG_AFTER > 0 && q->os >= m->oe &&
		    q->os - m->oe <= NEG_AFTER))
			return (int)i;
	}
	return -1;
}

#define negated_by(c, m)	clause_cue((c), (m), K_CUE_NEG)

/*
 * Whether country match i names who reports or watches, not a partner: its
 * adjective stands before an observer noun, at most two words on ("a
 * Japanese newspaper", "South Korean research institute", "Chinese
 * citizen", "Japanese yen").
 */
static int
observer_after(const struct yl_cls *c, size_t i)
{
	const struct match *m = &c->m[i], *q;
	size_t j, words = 0;

	/* "Chinese and Myanmar seafarers": past the other countries */
	for (j = i + 1; j < c->nm && (c->m[j].os < m->oe ||
	    c->t->pats[c->m[j].pat].kind == K_COUNTRY); j++)
		;
	if (j >= c->nm || c->t->pats[c->m[j].pat].kind != K_CUE_OBS)
		return 0;
	q = &c->m[j];
	if (q->os < m->oe || q->os - m->oe > 32)
		return 0;
	for (j = m->oe; j < q->os; j++) {
		unsigned char ch = (unsigned char)c->body[j];

		if (ch == ' ')
			words++;
		else if (((ch | 32) < 'a' || (ch | 32) > 'z') && ch != '-')
			return 0;
	}
	return words <= 3;
}

/* An in-use cue after m in its clause ("cranes are used to load"), or -1. */
static int
used_after(const struct yl_cls *c, const struct match *m)
{
	size_t i;

	for (i = c->sfirst[m->sent]; i < c->nm && c->m[i].sent == m->sent;
	    i++)
		if (c->t->pats[c->m[i].pat].kind == K_CUE_USE &&
		    c->m[i].clause == m->clause && c->m[i].os >= m->oe)
			return (int)i;
	return -1;
}

/*
 * An unsure cue later in m's clause, or -1: "sacks of starch were piled
 * on both banks, and traders could not tell whether the starch was going
 * out or coming in" leaves the first starch open too, when nothing else
 * gave it a direction.
 */
static int
unsure_later(const struct yl_cls *c, const struct match *m)
{
	size_t i;

	for (i = c->sfirst[m->sent]; i < c->nm && c->m[i].sent == m->sent;
	    i++)
		if (c->t->pats[c->m[i].pat].kind == K_CUE_UNSURE &&
		    c->m[i].clause == m->clause && c->m[i].os >= m->oe)
			return (int)i;
	return -1;
}

/*
 * A sanction cue before m in its clause, or -1: goods that "the UN has
 * banned exports of" or that a firm was listed "for helping North Korea
 * obtain" are the subject of a sanction, not goods the report sees traded.
 * Not where the clause names smuggling: "smuggling in coal that the UN
 * bans" is trade.
 */
static int
sanction_before(const struct yl_cls *c, const struct match *m)
{
	size_t i;
	int at = -1;

	for (i = c->sfirst[m->sent]; i < c->nm && c->m[i].sent == m->sent;
	    i++) {
		const struct cls_pat *q = &c->t->pats[c->m[i].pat];

		if (c->m[i].clause != m->clause)
			continue;
		if (q->kind == K_METHOD)
			return -1;
		if (q->kind == K_CUE_NEG && q->target == CLS_CUE_SANCTION &&
		    c->m[i].os < m->os && at < 0)
			at = (int)i;
	}
	return at;
}

/*
 * The word that ends one space before s[at] (normalized text: lower case,
 * single spaces): its length, 0 when there is none, and its start in *ws.
 */
static size_t
word_before(const char *s, size_t at, size_t *ws)
{
	size_t b;

	if (at < 2 || s[at - 1] != ' ')
		return 0;
	for (b = at - 1; b > 0 && is_word((unsigned char)s[b - 1]); b--)
		;
	*ws = b;
	return at - 1 - b;
}

/* Is s[ws, ws + n) one of the words of v (NULL-terminated)? */
static int
in_words(const char *const *v, const char *s, size_t ws, size_t n)
{
	size_t i;

	for (i = 0; v[i] != NULL; i++)
		if (v[i][0] == s[ws] && strncmp(v[i], s + ws, n) == 0 &&
		    v[i][n] == '\0')
			return 1;
	return 0;
}

static const char *const w_the[] = { "the", "a", "an", NULL };
static const char *const w_to[] = { "to", NULL };
static const char *const w_into[] = { "into", NULL };
static const char *const w_from[] = { "from", NULL };
static const char *const w_for[] = { "for", NULL };
static const char *const w_back[] = { "back", NULL };
static const char *const w_across[] = { "across", NULL };
static const char *const w_onto[] = { "onto", NULL };
/*
 * "according to China's customs", "close to the Chinese border", and people
 * who go somewhere: "fled to China", "a trip to Russia".
 */
static const char *const to_no_dest[] = { "according", "close", "closer",
	"next", "near", "nearer", "due", "thanks", "compared", "similar",
	"relative", "prior", "adjacent", "opposite", "ambassador", "envoy",
	"fled", "escaped", "defected", "travelled", "traveled", "trip",
	"trips", "visit", "visits", "moved", NULL };
/*
 * "far from China", "20 km from Dandong", and people and firms "from" a
 * place: "a company from Yanbian" says where the partner is from, not
 * where goods come from, and people sent back: "repatriated from China",
 * or coming home: "returned from Russia with a gift".
 * ("across the river from Changbai": see place_dir().)
 */
static const char *const from_no_origin[] = { "away", "far", "apart",
	"aside", "across", "distance", "km",
	"kilometres", "kilometers", "miles", "company", "companies", "firm",
	"firms", "businessman", "businessmen", "businesswoman", "trader",
	"traders", "merchant", "merchants", "investor", "investors",
	"partner", "partners", "delegation", "delegations", "official",
	"officials", "visitor", "visitors", "tourist", "tourists", "source",
	"sources", "people", "man", "men", "woman", "women", "repatriated",
	"deported", "fled", "escaped", "defected", "returned", "returning",
	"returns", "home", NULL };
/* "buyers from Ji'an had been asking for anthracite": the goods go there */
static const char *const from_buyer[] = { "buyer", "buyers", "customer",
	"customers", "client", "clients", "importer", "importers", NULL };
/* "bound for Russia" */
static const char *const for_dest[] = { "bound", "destined", "headed",
	"heading", NULL };

/*
 * The direction a place name gives by the word just before it (an article
 * may stand between): goods "from Dandong" or "from the Chinese side" come
 * in; goods "to China", "into Russia" or "bound for China" go out; goods
 * "into Sinuiju" or "back to Nampo", a DPRK place, come in. Only that word
 * counts, so a place that is the setting ("a trader in Hunchun") gives
 * nothing; nor does a DPRK place after a bare "to" or "from": ore railed
 * "from Musan to Chongjin" moves inside the country. 0: no direction.
 */
static int
place_dir(const struct yl_cls *c, const struct match *m, int foreign)
{
	const char *s = c->norm.s;
	size_t ws = 0, ps = 0, n, pn;

	/* Every word looked for (the, an, to, into, from, for) is short. */
	n = word_before(s, m->ns, &ws);
	if (n > 0 && n <= 3 && in_words(w_the, s, ws, n))
		n = word_before(s, ws, &ws);
	if (n == 0 || n > 4)
		return 0;
	pn = word_before(s, ws, &ps);
	if (in_words(w_into, s, ws, n))
		return foreign ? DIR_EXPORT : DIR_IMPORT;
	/* "moved onto Chinese carrier ships": loaded to leave */
	if (in_words(w_onto, s, ws, n))
		return foreign ? DIR_EXPORT : 0;
	if (in_words(w_to, s, ws, n)) {
		if (!foreign)
			return pn > 0 && in_words(w_back, s, ps, pn) ?
			    DIR_IMPORT : 0;
		return pn > 0 && in_words(to_no_dest, s, ps, pn) ? 0 :
		    DIR_EXPORT;
	}
	if (!foreign)
		return 0;
	if (in_words(w_from, s, ws, n)) {
		size_t k, as = ps, an = pn;

		if (pn > 0 && in_words(from_no_origin, s, ps, pn))
			return 0;
		if (pn > 0 && in_words(from_buyer, s, ps, pn))
			return DIR_EXPORT;
		/* "lies across the river from Nanping" is the setting */
		for (k = 0; k < 3 && an > 0; k++, an = word_before(s, as, &as))
			if (in_words(w_across, s, as, an))
				return 0;
		return DIR_IMPORT;
	}
	if (in_words(w_for, s, ws, n) && pn > 0 && in_words(for_dest, s, ps,
	    pn))
		return DIR_EXPORT;
	return 0;
}

static const char *const w_in_at[] = { "in", "at", NULL };
/* "sent to Russia": people going abroad, not goods "trucked to Dandong" */
static const char *const w_sent_to[] = { "sent", "dispatched", "posted",
	"assigned", "transferred", "went", "go", "goes", "going", "gone",
	"moved", "headed", "heading", "bound", NULL };

/*
 * Are the people of fixed-direction match m (a labour term: "North Korean
 * workers") at home? So when its sentence places something "in" or "at" a
 * DPRK place ("workers at a shoe factory in Sinuiju") and nothing in, at or
 * sent to a foreign one ("workers in Hunchun", "sent to Russia").
 * TAGS.md's overseas-labor is DPRK nationals working abroad only.
 */
static int
at_home(const struct yl_cls *c, const struct match *m)
{
	const char *s = c->norm.s;
	size_t i, ws = 0, ps = 0, n, pn;
	int home = 0;

	if (strcmp(c->t->cats[c->t->pats[m->pat].target].id,
	    "overseas-labor") != 0)
		return 0;
	for (i = c->sfirst[m->sent]; i < c->nm && c->m[i].sent == m->sent;
	    i++) {
		const struct match *q = &c->m[i];
		const struct cls_pat *p = &c->t->pats[q->pat];

		if (p->kind != K_COUNTRY && p->kind != K_CROSSING)
			continue;
		n = word_before(s, q->ns, &ws);
		if (n > 0 && n <= 3 && in_words(w_the, s, ws, n))
			n = word_before(s, ws, &ws);
		if (n == 0)
			continue;
		if (p->kind == K_COUNTRY || p->country >= 0) {
			if (in_words(w_in_at, s, ws, n) ||
			    (in_words(w_to, s, ws, n) && (pn = word_before(s,
			    ws, &ps)) > 0 && in_words(w_sent_to, s, ps, pn)))
				return 0;
		} else if (in_words(w_in_at, s, ws, n))
			home = 1;
	}
	return home;
}

/* Words that may stand between an origin and the goods: "Japanese-made". */
/* Nouns after a term that make it name a business, not goods. */
static const char *const firm_words[] = { "wholesaler", "wholesalers",
	"company", "companies", "firm", "firms", "importer", "importers",
	"exporter", "exporters", "dealer", "dealers", "merchant", "merchants",
	"processor", "processors", "group", "association", "fleet", NULL };

static const char *const origin_link[] = { "made", "brand", "built",
	"produced", "manufactured", NULL };

/*
 * The country named right before commodity match i as the goods' origin
 * ("Chinese rice", "Russian coal", "Japanese-made machine tools"): its
 * match index, or -1. Foreign-made goods in a DPRK trade report came in,
 * or pass through; they are never the DPRK's own export.
 */
static int
origin_of(const struct yl_cls *c, size_t i)
{
	const struct match *m = &c->m[i];
	const char *s = c->norm.s;
	size_t k, ws = 0, n = word_before(s, m->ns, &ws), we;

	/* "a Russian fish wholesaler": the adjective is the firm's. */
	if (m->ne + 1 < c->norm.len && s[m->ne] == ' ') {
		for (we = m->ne + 1; we < c->norm.len &&
		    word_chars[(unsigned char)s[we]]; we++)
			;
		if (in_words(firm_words, s, m->ne + 1, we - m->ne - 1))
			return -1;
	}

	for (k = i; k > c->sfirst[m->sent] && c->m[k - 1].os + 64 >= m->os;
	    ) {
		const struct match *q = &c->m[--k];

		if (c->t->pats[q->pat].kind != K_COUNTRY)
			continue;
		if ((q->ne + 1 == m->ns && s[q->ne] == ' ') || (n > 0 &&
		    q->ne + 1 == ws && in_words(origin_link, s, ws, n)))
			return (int)k;
	}
	return -1;
}

/*
 * A country said of goods right after them ("that coal is Russian", "the
 * logs were Russian"): its match index, or -1. Only goods the DPRK sells
 * ask (foreign_sold): that coal passes through, it is no DPRK trade.
 */
static int
origin_after1(const struct yl_cls *c, size_t i)
{
	static const char *const links[] = { " is ", " was ", " are ",
		" were ", " is all ", " was all ", " is mostly ",
		" was mostly ", NULL };
	const struct match *m = &c->m[i];
	const char *s = c->norm.s;
	size_t k, l;

	for (k = i + 1; k < c->nm && c->m[k].sent == m->sent &&
	    c->m[k].ns <= m->ne + 12; k++) {
		const struct match *q = &c->m[k];
		const char *const *v;

		if (c->t->pats[q->pat].kind != K_COUNTRY || q->ns <= m->ne)
			continue;
		for (v = links; *v != NULL; v++)
			if ((l = strlen(*v)) == q->ns - m->ne &&
			    memcmp(s + m->ne, *v, l) == 0)
				return (int)k;
	}
	return -1;
}

/* The same for i or a later mention of its term in its sentence ("coal to
 * the pier, but that coal is Russian"). */
static int
origin_after(const struct yl_cls *c, size_t i)
{
	size_t k;
	int org;

	for (k = i; k < c->nm && c->m[k].sent == c->m[i].sent; k++)
		if (c->m[k].pat == c->m[i].pat &&
		    (org = origin_after1(c, k)) >= 0)
			return org;
	return -1;
}

/* Words that make a transport word goods: "has sold two cargo vessels". */
static const char *const sale_words[] = { "sold", "sell", "sells",
	"selling", "sale", "sales", "resold", "bought", "buy", "buys",
	"buying", "purchased", "purchase", "purchases", "purchasing",
	"acquired", "acquire", "acquires", "acquiring", "acquisition",
	"imported", "import", "imports", "importing", "exported", "export",
	"exports", "exporting", "delivery", "deliveries", "ordered",
	NULL };
/*
 * Words a sale does not reach across: "bought fuel from Russian tankers",
 * "buys coal and its ships carry it".
 */
static const char *const sale_stop[] = { "from", "to", "into", "onto",
	"with", "for", "in", "on", "at", "by", "via", "and", "or", "but",
	NULL };
/* After the word: "the vessels were sold", "ships for sale", "trawlers
 * bought from a Chinese company". */
static const char *const sold_after[] = { "sold", "resold", "sale",
	"bought", "purchased", "acquired", "imported", "exported", NULL };
/*
 * A passive sale further on in the sentence: "The vessel, a 2,800-tonne
 * freighter built in Japan, was sold in the spring". The search stops at a
 * word that starts another clause or another thing: "ships carrying coal
 * that was sold to China" sold the coal.
 */
static const char *const w_be[] = { "was", "were", "is", "are", "been",
	"be", "being", NULL };
static const char *const w_sold[] = { "sold", "resold", "bought",
	"purchased", "acquired", NULL };
/* A word that may stand between the two: "is rumoured sold". */
static const char *const w_hedge[] = { "rumoured", "rumored", "reportedly",
	"reported", "said", "understood", "believed", "later", "then", "also",
	"already", "since", "recently", "eventually", "finally", "quietly",
	"apparently", "allegedly", "subsequently", "itself", NULL };
/* "added two used trawlers to its fleet", "the freighter joined the fleet" */
static const char *const w_added[] = { "added", "adding", "adds", "add",
	"joined", "joining", "joins", "join", NULL };
static const char *const w_fleet[] = { "fleet", "fleets", NULL };
static const char *const passive_stop[] = { "that", "which", "who",
	"whose", "carrying", "carried", "carries", "loaded", "laden", "and",
	"or", "but", "while", NULL };

/*
 * Is needs_sale match m bought or sold: a sale word at most five words
 * before it with no preposition or conjunction between ("has sold two
 * small cargo vessels to a buyer"), sold / sale at most two words after
 * it ("the vessels were sold"), a passive "was sold" or "were bought"
 * later in its sentence, perhaps hedged ("was reportedly sold"; see
 * passive_stop), or added to a fleet ("added two trawlers to its fleet")?
 * Else it is transport, a mode only.
 */
static int
sold_nearby(const struct yl_cls *c, const struct match *m)
{
	const char *s = c->norm.s;
	size_t at = m->ns, ws = 0, n, k, b, e, pb, pn, qb, qn;
	int added = 0;

	for (k = 0; k < 5 && (n = word_before(s, at, &ws)) > 0; k++) {
		if (in_words(sale_words, s, ws, n))
			return 1;
		if (in_words(w_added, s, ws, n))
			added = 1;
		if (in_words(sale_stop, s, ws, n))
			break;
		at = ws;
	}
	for (k = 0, at = m->ne; k < 2 && at < c->norm.len && s[at] == ' ';
	    k++, at = e) {
		for (b = e = at + 1; e < c->norm.len &&
		    is_word((unsigned char)s[e]); e++)
			;
		if (e == b)
			break;
		if (in_words(sold_after, s, b, e - b))
			return 1;
	}
	for (k = 0, at = m->ne, pb = pn = qb = qn = 0; k < 16; k++, at = e) {
		for (; at < c->norm.len && !is_word((unsigned char)s[at]); at++)
			if (s[at] == '.' || s[at] == ';' || s[at] == ':' ||
			    s[at] == '!' || s[at] == '?')
				return 0;
		for (b = e = at; e < c->norm.len &&
		    is_word((unsigned char)s[e]); e++)
			;
		if (e == b)
			return 0;
		if (added && in_words(w_fleet, s, b, e - b))
			return 1;
		if (k < 3 && in_words(w_added, s, b, e - b))
			added = 1;
		if (in_words(passive_stop, s, b, e - b))
			return 0;
		if (pn > 0 && in_words(w_sold, s, b, e - b) &&
		    (in_words(w_be, s, pb, pn) || (qn > 0 &&
		    in_words(w_be, s, qb, qn) && (in_words(w_hedge, s, pb,
		    pn) || (pn > 2 && memcmp(s + pb + pn - 2, "ly", 2) == 0)))))
			return 1;
		qb = pb;
		qn = pn;
		pb = b;
		pn = e - b;
	}
	return 0;
}

/* Does pattern a's text end with the words of pattern b ("dried squid",
 * "squid")? */
static int
ends_in(const struct yl_tax *t, int a, int b)
{
	const struct cls_pat *q = &t->pats[a], *p = &t->pats[b];

	return q->len > p->len + 1 && q->text[q->len - p->len - 1] == ' ' &&
	    memcmp(q->text + q->len - p->len, p->text, p->len) == 0;
}

/*
 * The pattern that gives commodity match c->cm[n] its category. A bare
 * term that the nearest earlier term ending in it puts in another
 * category takes that term's: "the oil" after "soybean oil" is food.
 */
static int
antecedent(const struct yl_cls *c, size_t n)
{
	size_t i = c->cm[n], k;
	const struct cls_pat *p = &c->t->pats[c->m[i].pat], *q;

	while (n-- > 0) {
		k = c->cm[n];
		q = &c->t->pats[c->m[k].pat];
		if (q->len <= p->len + 1 ||
		    q->text[q->len - p->len - 1] != ' ' ||
		    memcmp(q->text + q->len - p->len, p->text, p->len) != 0)
			continue;
		return q->target != p->target ? c->m[k].pat : c->m[i].pat;
	}
	return c->m[i].pat;
}

static const char transit_why[] = "foreign goods in transit";
static const char foreign_why[] = "foreign-made goods of a kind the DPRK "
    "sells: not its trade";
static const char sold_in_why[] = "goods of a kind the DPRK sells seen "
    "coming in: the buyer's side or its own catch";

static enum cls_dir
turned(enum cls_dir d)
{
	return d == DIR_IMPORT ? DIR_EXPORT : d == DIR_EXPORT ? DIR_IMPORT : d;
}

/*
 * The direction barter cue q gives commodity mention m. Which side of a
 * barter is the DPRK's is known from the goods: it sells coal, seafood and
 * shells and buys fuel, flour and machines (the categories'
 * usual_direction). Goods of such a category go their usual way ("anthracite
 * by night, gasoline in return"; "the shells were paid for with wheat").
 * Other goods go the way of such goods on their side of the cue in their
 * clause, and the other way from such goods elsewhere in the sentence
 * ("bracken and pollack ..., and in return flour and batteries"). Else the
 * cue says it: goods after "taking back" came in, goods before it went out.
 */
static enum cls_dir
barter_dir(const struct yl_cls *c, const struct match *m,
    const struct match *q)
{
	const struct yl_tax *t = c->t;
	int cat = t->pats[m->pat].target, vote = 0;
	size_t k;

	if (t->cats[cat].usual_dir == DIR_IMPORT ||
	    t->cats[cat].usual_dir == DIR_EXPORT)
		return t->cats[cat].usual_dir;
	for (k = c->sfirst[m->sent]; k < c->nm && c->m[k].sent == m->sent;
	    k++) {
		const struct match *o = &c->m[k];
		const struct cls_pat *p = &t->pats[o->pat];
		enum cls_dir u;

		if (p->kind != K_COMMODITY || p->target == cat)
			continue;
		u = t->cats[p->target].usual_dir;
		if (u != DIR_IMPORT && u != DIR_EXPORT)
			continue;
		if (o->clause != m->clause ||
		    (o->os < q->os) != (m->os < q->os))
			u = turned(u);
		vote += u == DIR_IMPORT ? 1 : -1;
	}
	if (vote != 0)
		return vote > 0 ? DIR_IMPORT : DIR_EXPORT;
	return m->os >= q->os ? (enum cls_dir)q->dir :
	    turned((enum cls_dir)q->dir);
}

/* Words that name a place as a way through: "via Sinuiju". */
static const char *const w_through[] = { "from", "via", "through", NULL };

/* The buyer an export cue can end in: "sold to a buyer in Rajin". */
static const char *const w_buyer[] = { "buyer", "buyers", "customer",
	"customers", "client", "clients", "purchaser", "purchasers", NULL };

/*
 * For an export cue ending in "to" or "in" at match q ("sold to", "to a
 * company registered in"): where the first place after it, in its clause,
 * within 60 bytes and before any comma, is on the DPRK side and not named
 * as a way through ("sold to a Rason food-distribution company", "to a
 * company registered in Rason"), its match index, else -1. A cue ending in
 * the buyer ("to a buyer") takes the buyer's place after "in", "at" or
 * "from": "sold to a buyer from Chongjin".
 */
static int
buyer_home(const struct yl_cls *c, size_t q)
{
	const struct match *cu = &c->m[q];
	const char *s = c->norm.s;
	size_t k, j, ws = 0, n, b = cu->ne;
	int noun;

	while (b > cu->ns && s[b - 1] != ' ')	/* the cue's last word */
		b--;
	noun = in_words(w_buyer, s, b, cu->ne - b);
	if (!noun && (cu->ne < 3 || (memcmp(s + cu->ne - 3, " to", 3) != 0 &&
	    memcmp(s + cu->ne - 3, " in", 3) != 0)))
		return -1;
	for (k = q + 1; k < c->nm && c->m[k].clause == cu->clause &&
	    c->m[k].ns <= cu->ne + 60; k++) {
		const struct cls_pat *p = &c->t->pats[c->m[k].pat];

		if (p->kind != K_CROSSING && p->kind != K_COUNTRY)
			continue;
		for (j = cu->ne; j < c->m[k].ns; j++)
			if (s[j] == ',' || s[j] == ';')
				return -1;
		n = word_before(s, c->m[k].ns, &ws);
		if (p->kind == K_CROSSING && p->country < 0 &&
		    (!in_words(w_through, s, ws, n) || (noun &&
		    in_words(w_from, s, ws, n))))
			return (int)k;
		return -1;
	}
	return -1;
}

/*
 * Was a mention of pattern pat dropped for why, or as foreign goods (in
 * transit) where why is transit_why?
 */
static int
dropped_as(const struct yl_cls *c, int pat, const char *why)
{
	size_t k;

	for (k = 0; k < c->ndrops; k++)
		if ((c->drops[k].why == why || (why == transit_why &&
		    c->drops[k].why == foreign_why)) &&
		    c->m[c->drops[k].m].pat == pat)
			return 1;
	return 0;
}

enum { F_COMMODITIES, F_COUNTRIES, F_CROSSINGS, F_MODES, F_METHODS,
    F_ENTITIES, F_N };

/*
 * What the cues of a sentence say (c->sflag), so that most mentions need
 * no second look at their sentence.
 */
#define S_TRADE		1	/* a trade cue or a (strong) direction cue */
#define S_NEG		2	/* a negation cue */
#define S_UNSURE	4	/* an unsure cue */
#define S_USE		8	/* an in-use cue */
#define S_GOODS		16	/* a commodity mention kept as traded */
#define S_MOVE		32	/* a mode, a method or a non-place cue */
#define S_GEN		64	/* a general cue: sanctions, speculation */

/*
 * Whether a sentence, by its flags, speaks of trade that can have a
 * partner: goods kept as traded, or a trade or direction cue, a mode or a
 * method, unless it describes sanctions in general ("added two Chinese
 * firms to its sanctions list for helping the North obtain luxury goods").
 */
static int
trade_sentence(int f)
{
	if (f & S_GOODS)
		return 1;
	return !(f & S_GEN) && (f & (S_TRADE | S_MOVE));
}

/*
 * Whether match m is a dateline: a place in capitals at the start of a line
 * ("SEOUL — A small North Korean tanker ..."), where the story was filed.
 */
static int
dateline(const struct yl_cls *c, const struct match *m)
{
	const char *b = c->body;
	size_t k;

	for (k = m->os; k > 0 && (b[k - 1] == ' ' || b[k - 1] == '\t'); k--)
		;
	if (k > 0 && b[k - 1] != '\n')
		return 0;
	/* Latin capitals only: Hangul, Hanzi and Cyrillic have no case */
	for (k = m->os; k < m->oe; k++)
		if ((unsigned char)b[k] >= 0x80 || (b[k] >= 'a' && b[k] <= 'z'))
			return 0;
	return m->oe - m->os >= 3;
}

/* People whose origin is no trade partner: "sailors from Myanmar", "a cook
 * from Uzbekistan", "a Chinese citizen from Harbin". */
static const char *const crew_words[] = { "crew", "crews", "crewed",
	"crewmen", "crewman", "sailors", "sailor", "seamen", "seaman",
	"captain", "skipper", "cook", "cooks", "chef", "chefs", "citizen",
	"citizens", "korean", "koreans", "waitress", "waitresses", "staff",
	NULL };
static const char *const w_in[] = { "in", NULL };
static const char *const w_and_or[] = { "and", "or", NULL };

/* The direction of the commodity hit on match k, or -1 when none kept it. */
static int
goods_kept(const struct yl_cls *c, size_t k)
{
	size_t h;
	int dir = -1;

	for (h = 0; h < c->nhits; h++)
		if (c->hits[h].facet == F_COMMODITIES &&
		    c->hits[h].m == (int)k && (dir == -1 ||
		    c->hits[h].dir == DIR_IMPORT))
			dir = c->hits[h].dir;
	return dir;
}

/*
 * Whether country match i names where goods were made, or where crew and
 * staff are from, rather than a partner: "a freighter built in Japan" that
 * the DPRK sold, "Chinese-made dump trucks" at work in the mine, "sailors
 * from Myanmar and Indonesia". The maker of goods is a partner only where
 * the report keeps those goods as imported. A bare adjective ("a Japanese
 * conveyor") is left to origin_of() and the trade-sentence test.
 */
static int
maker_or_crew(const struct yl_cls *c, size_t i)
{
	const struct match *m = &c->m[i];
	const char *s = c->norm.s;
	size_t ws = 0, ps = 0, n, pn, k, we;

	n = word_before(s, m->ns, &ws);
	pn = n > 0 ? word_before(s, ws, &ps) : 0;
	/* "sailors from Myanmar", and "... and Indonesia" after it */
	if (n > 0 && in_words(w_from, s, ws, n) && pn > 0 &&
	    in_words(crew_words, s, ps, pn))
		return 1;
	if (n > 0 && in_words(w_and_or, s, ws, n) && i > 0 &&
	    c->t->pats[c->m[i - 1].pat].kind == K_COUNTRY &&
	    c->m[i - 1].ne + 1 == ws && maker_or_crew(c, i - 1))
		return 1;
	/* "a freighter built in Japan": the goods just before */
	if (n > 0 && in_words(w_in, s, ws, n) && pn > 0 &&
	    in_words(origin_link, s, ps, pn)) {
		for (k = i; k > c->sfirst[m->sent] && c->m[k - 1].ns + 48 >=
		    m->ns; ) {
			if (c->t->pats[c->m[--k].pat].kind == K_COMMODITY)
				return goods_kept(c, k) != DIR_IMPORT;
		}
		return 0;
	}
	/* "Chinese-made dump trucks" at work: the goods just after ("South
	 * Korean-made memory chips", no term, may well be traded) */
	we = m->ne;
	if (we + 1 >= c->norm.len || s[we] != ' ')
		return 0;
	for (k = we + 1; k < c->norm.len && word_chars[(unsigned char)s[k]];
	    k++)
		;
	if (!in_words(origin_link, s, we + 1, k - we - 1))
		return 0;
	we = k;
	for (k = i + 1; k < c->nm && c->m[k].sent == m->sent &&
	    c->m[k].ns <= we + 1; k++)
		if (c->t->pats[c->m[k].pat].kind == K_COMMODITY &&
		    c->m[k].ns == we + 1)
			return goods_kept(c, k) != DIR_IMPORT;
	return 0;
}

static const char *const facet_names[F_N] = { "commodities", "countries",
    "crossings", "modes", "methods", "entities" };
static const char *const rel_names[4] = { "none", "low", "medium", "high" };

#define MAX_EVIDENCE	16

static int
add_hit(struct yl_cls *c, int facet, int id, int dir, int m, int cue,
    const char *how)
{
	struct hit *h;

	if (reserve((void **)&c->hits, &c->caphits, c->nhits + 1,
	    sizeof(*h)) == -1)
		return -1;
	h = &c->hits[c->nhits++];
	h->facet = facet;
	h->id = id;
	h->rank = c->rank[facet][id];
	h->dir = dir;
	h->m = m;
	h->cue = cue;
	h->how = how;
	return 0;
}

/* Cites provision p because of (kind, id, dir); raises relevance. */
static int
add_cite(struct yl_cls *c, int p, int bkind, int bid, int bdir, int *rel)
{
	struct cite_ent *e;

	if (reserve((void **)&c->cites, &c->capcites, c->ncites + 1,
	    sizeof(*e)) == -1)
		return -1;
	e = &c->cites[c->ncites++];
	e->prov = p;
	e->bkind = bkind;
	e->bid = bid;
	e->bdir = bdir;
	if (c->t->provs[p].ban)
		*rel = 3;
	else if (*rel < 2)
		*rel = 2;
	return 0;
}

static int
add_drop(struct yl_cls *c, int m, int cue, const char *why)
{
	struct drop *d;

	if (reserve((void **)&c->drops, &c->capdrops, c->ndrops + 1,
	    sizeof(*d)) == -1)
		return -1;
	d = &c->drops[c->ndrops++];
	d->m = m;
	d->cue = cue;
	d->why = why;
	return 0;
}

static int
keep(struct yl_cls *c, int men, int dir, enum how how, int cue)
{
	struct kept *k;

	if (reserve((void **)&c->kept, &c->capkept, c->nkept + 1,
	    sizeof(*k)) == -1)
		return -1;
	k = &c->kept[c->nkept++];
	k->men = men;
	k->dir = (enum cls_dir)dir;
	k->how = how;
	k->cue = cue;
	k->gone = 0;
	return 0;
}

/* Drops the learned stage may undo: no cue said where the goods went. */
static const char why_nocue[] = "no direction cue in its sentence";
static const char why_notrade[] = "no direction and no trade cue in its "
    "sentence";
static const char why_unsold[] = "not sold or bought";
static const char why_nodir[] = "no direction for it in the report";

static int
second_look(const char *why)
{
	return why == why_nocue || why == why_notrade || why == why_unsold ||
	    why == why_nodir;
}

/*
 * Adds pfx + s as a feature, spaces made underscores, cut to 31 bytes:
 * "why=no_direction_cue_in_its". A counted one (sum) adds up.
 */
static int
add_named(struct cls_fvec *f, const char *pfx, const char *s, int sum)
{
	char name[32];
	size_t p = strlen(pfx), i;

	memcpy(name, pfx, p);
	for (i = 0; s[i] != '\0' && p + i < sizeof(name) - 1; i++)
		name[p + i] = s[i] == ' ' ? '_' : s[i];
	name[p + i] = '\0';
	return cls_fvec_add(f, name, 1, sum);
}

/*
 * What the cues of a mention's sentence and of the sentences on each side
 * say: "s-1=import" (the sentence before ends with an import cue),
 * "s0=neg", "s+1=export". Directions are often said a sentence away.
 */
static int
sentence_features(struct yl_cls *c, struct cls_fvec *f, int sent)
{
	static const char *const side[3] = { "s-1=", "s0=", "s+1=" };
	static const struct { int flag; const char *name; } flags[] = {
		{ S_TRADE, "trade" }, { S_NEG, "neg" }, { S_UNSURE, "unsure" },
		{ S_GEN, "sanctions" },
	};
	int a, bad = 0;
	size_t i;

	for (a = -1; a <= 1; a++) {
		int s = sent + a;

		if (s < 0 || (size_t)s >= c->nsb)
			continue;
		if (c->sdir[s] > 0 && c->sdir[s] < 3)
			bad |= add_named(f, side[a + 1],
			    cls_dir_names[c->sdir[s]], 0);
		if (a != 0)
			continue;
		for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
			if (c->sflag[s] & flags[i].flag)
				bad |= add_named(f, "s0=", flags[i].name, 0);
	}
	return bad;
}

/*
 * The features of each category the rules kept: its ID, the directions
 * the rules gave it, how they decided each mention, why they dropped the
 * others, how many mentions and where the first stands, how many
 * categories the report has, and for every mention the term itself, the
 * words on each side and every word of its sentence.
 * `yalu train` learns from them (YL_CLS_FEATURES shows them).
 */
static int
features(struct yl_cls *c, size_t len, int all)
{
	const struct yl_tax *t = c->t;
	size_t i, j;

	if (c->cands == NULL) {
		if ((c->cands = calloc(t->ncats, sizeof(*c->cands))) == NULL)
			return -1;
		c->capcands = t->ncats;
	}
	c->ncands = 0;
	for (i = 0; i < c->nkept; i++) {
		int cat = c->men[c->kept[i].men].cat;
		struct cand *x;

		for (j = 0; j < c->ncands && c->cands[j].cat != cat; j++)
			;
		x = &c->cands[j];
		if (j == c->ncands) {
			c->ncands++;
			x->cat = cat;
			x->dirs = 0;
			cls_fvec_reset(&x->fv);
			x->fv.only = all ? NULL : &t->model;
			x->p = -1;
		}
		x->dirs |= 1u << c->kept[i].dir;
	}
	/*
	 * A category whose every mention was dropped for want of a cue in
	 * its sentence gets a second look: the direction is often said a
	 * sentence away ("The cargo was rolled steel. It went across on
	 * Tuesday."). Its candidate has no rule directions (dirs 0).
	 */
	for (i = 0; i < c->ndrops; i++) {
		const struct cls_pat *p = &t->pats[c->m[c->drops[i].m].pat];
		struct cand *x;

		if (p->kind != K_COMMODITY || !second_look(c->drops[i].why))
			continue;
		for (j = 0; j < c->ncands && c->cands[j].cat != p->target; j++)
			;
		if (j < c->ncands)
			continue;
		x = &c->cands[c->ncands++];
		x->cat = p->target;
		x->dirs = 0;
		cls_fvec_reset(&x->fv);
		x->fv.only = all ? NULL : &t->model;
		x->p = -1;
	}
	for (j = 0; j < c->ncands; j++) {
		struct cand *x = &c->cands[j];
		struct cls_fvec *f = &x->fv;
		size_t first = len, npos = 0;
		int d, bad = 0, lastsent = -1;

		bad |= cls_fvec_add(f, x->dirs ? "bias" : "dropped", 1, 0);
		bad |= add_named(f, "cat=", t->cats[x->cat].id, 0);
		for (d = 0; d < 3; d++)
			if (x->dirs & 1u << d)
				bad |= add_named(f, "dir=", cls_dir_names[d],
				    0);
		for (i = 0; i < c->nkept + c->ndrops; i++) {
			const struct match *m;

			if (i < c->nkept) {
				const struct mention *mn =
				    &c->men[c->kept[i].men];

				if (mn->cat != x->cat)
					continue;
				m = &c->m[mn->m];
				bad |= add_named(f, "how=",
				    how_names[c->kept[i].how], 1);
			} else {
				const struct drop *dr = &c->drops[i - c->nkept];
				const struct cls_pat *p;

				m = &c->m[dr->m];
				p = &t->pats[m->pat];
				if (p->kind != K_COMMODITY || p->target !=
				    x->cat)
					continue;
				bad |= add_named(f, "why=", dr->why, 1);
			}
			bad |= cls_fvec_words(f, c->body, len, m->os, m->oe);
			bad |= sentence_features(c, f, m->sent);
			bad |= cls_fvec_term(f, c->body, m->os, m->oe);
			if (m->sent != lastsent)	/* its words are there */
				bad |= cls_fvec_span(f, "S=", c->body,
				    c->sb[m->sent], (size_t)m->sent + 1 <
				    c->nsb ? c->sb[m->sent + 1] : len);
			lastsent = m->sent;
			if (m->os < first)
				first = m->os;
			npos++;
		}
		cls_fvec_log1p(f);
		bad |= cls_fvec_add(f, "nm", log1p((double)npos), 0);
		bad |= cls_fvec_add(f, "ncat", log1p((double)c->ncands), 0);
		bad |= cls_fvec_add(f, "first", (double)first / (double)len, 0);
		if (bad)
			return -1;
	}
	return 0;
}

/*
 * The directions the rules gave category cat from the report's own
 * wording: a fixed term, a strong cue, a place, an origin, an unsure
 * clause (*unsure set then).
 */
static unsigned
strong_dirs(const struct yl_cls *c, int cat, size_t n0, int *unsure)
{
	unsigned dirs = 0;
	size_t i;

	for (i = 0; i < n0; i++) {
		const struct kept *k = &c->kept[i];

		if (c->men[k->men].cat != cat)
			continue;
		if (k->how == HOW_UNSURE)
			*unsure = 1;
		if (k->how == HOW_TERM || k->how == HOW_PLACE ||
		    k->how == HOW_ORIGIN || k->how == HOW_UNSURE)
			dirs |= 1u << k->dir;
		if (k->how == HOW_CUE && k->cue >= 0 &&
		    !c->m[k->cue].weak)
			dirs |= 1u << k->dir;
		/* a term's second category goes with it: a Mercedes-Benz */
		if (!c->men[k->men].primary)
			dirs |= 1u << k->dir;
	}
	return dirs;
}

/*
 * Takes back the dropped mentions of x's category (second_look) as traded
 * in the directions want: the model found trade the rules had no cue for.
 * A direction other than unknown needs reassign_min, as for a category
 * the rules left unknown.
 */
static int
revive(struct yl_cls *c, const struct cand *x, unsigned want)
{
	const struct cls_model *md = &c->t->model;
	size_t i;
	int d;

	for (d = DIR_IMPORT; d <= DIR_EXPORT; d++)
		if (x->q[d] < md->reassign_min)
			want &= ~(1u << d);
	if (want == 0)
		want = 1u << DIR_UNKNOWN;
	else if (want & 6u)
		want &= 6u;
	for (i = 0; i < c->ndrops; i++) {
		struct drop *dr = &c->drops[i];
		const struct cls_pat *p = &c->t->pats[c->m[dr->m].pat];
		struct mention *mn;

		if (p->kind != K_COMMODITY || p->target != x->cat ||
		    !second_look(dr->why))
			continue;
		if (reserve((void **)&c->men, &c->capmen, c->nmen + 1,
		    sizeof(*mn)) == -1)
			return -1;
		mn = &c->men[c->nmen];
		mn->m = dr->m;
		mn->cat = x->cat;
		mn->dir = DIR_UNKNOWN;
		mn->how = HOW_MODEL;
		mn->cue = -1;
		mn->primary = 1;
		mn->pat = c->m[dr->m].pat;
		for (d = 0; d < 3; d++)
			if ((want & 1u << d) &&
			    keep(c, (int)c->nmen, d, HOW_MODEL, -1) == -1)
				return -1;
		c->nmen++;
		dr->why = NULL;		/* taken back: not listed as dropped */
	}
	return 0;
}

/*
 * The learned second stage. For each category the rules kept, the
 * presence model says whether the report trades it at all and the
 * direction model which directions (each at least direction_min, else
 * the likeliest one). Mentions of a direction the model does not keep
 * are dropped; a direction the rules did not give takes every mention of
 * the category as its evidence ("direction_from": "model").
 */
static int
model_stage(struct yl_cls *c, size_t len, int all)
{
	const struct cls_model *md = &c->t->model;
	size_t i, j, n0;
	int d;

	if (features(c, len, all) == -1)
		return -1;
	n0 = c->nkept;
	for (j = 0; j < c->ncands; j++) {
		struct cand *x = &c->cands[j];
		unsigned want = 0;
		int best = 0, unsure = 0;
		double pr[4];

		cls_model_score(md, &x->fv, pr);
		x->p = pr[0];
		/* the DPRK does not buy what it sells (foreign_origin) */
		if (c->t->cats[x->cat].foreign_sold)
			pr[1 + DIR_IMPORT] = 0;
		for (d = 0; d < 3; d++) {
			x->q[d] = pr[1 + d];
			if (x->q[d] > x->q[best])
				best = d;
			if (x->q[d] >= md->direction_min)
				want |= 1u << d;
		}
		if (want == 0)
			want = 1u << best;
		if (x->dirs == 0) {
			if (md->revive_min > 0 && x->p >= md->revive_min &&
			    revive(c, x, want) == -1)
				return -1;
			continue;
		}
		if (x->p < md->presence_min)
			want = 0;
		/*
		 * The report's own wording outranks the model: a direction a
		 * strong cue, a fixed term, a place, an origin or an unsure
		 * clause gave stays, and so does the category. A category the
		 * rules left unknown takes a direction only where the model is
		 * surer (reassign_min), and never beside an unsure clause.
		 */
		want |= strong_dirs(c, x->cat, n0, &unsure);
		if (x->dirs == 1u << DIR_UNKNOWN && want != 0) {
			for (d = DIR_IMPORT; d <= DIR_EXPORT; d++)
				if (unsure || x->q[d] < md->reassign_min)
					want &= ~(1u << d);
			want = want & 6u ? want & 6u : 1u << DIR_UNKNOWN;
		}
		if (want == x->dirs)
			continue;
		for (i = 0; i < n0; i++) {
			struct kept *k = &c->kept[i];

			if (c->men[k->men].cat != x->cat ||
			    (want & 1u << k->dir))
				continue;
			k->gone = 1;
			if (add_drop(c, c->men[k->men].m, -1, want ? "the "
			    "model reads another direction" : "the model "
			    "reads no trade in it") == -1)
				return -1;
		}
		for (d = 0; d < 3; d++) {
			if (!(want & 1u << d) || (x->dirs & 1u << d))
				continue;
			for (i = 0; i < n0; i++) {
				int men = c->kept[i].men;

				if (c->men[men].cat == x->cat &&
				    keep(c, men, d, HOW_MODEL, -1) == -1)
					return -1;
			}
		}
	}
	return 0;
}

static int
dir_rank(int d)
{
	return d == DIR_EXPORT ? 0 : d == DIR_IMPORT ? 1 : d;
}

/*
 * Hits by facet, ID (alphabetical rank), direction (alphabetical:
 * export, import, unknown) and match; ties keep the order they came in.
 */
static int
sort_hits(struct yl_cls *c)
{
	struct hit *t;
	size_t i, cap;

	if (c->nhits < 2)
		return 0;
	if (reserve((void **)&c->key, &c->capkey, c->nhits,
	    sizeof(*c->key)) == -1 || reserve((void **)&c->hitstmp,
	    &c->caphitstmp, c->nhits, sizeof(*c->hitstmp)) == -1)
		return -1;
	for (i = 0; i < c->nhits; i++) {
		const struct hit *h = &c->hits[i];

		c->key[i].hi = (uint64_t)h->facet << 56 |
		    (uint64_t)(uint32_t)h->rank << 8 |
		    (uint64_t)(dir_rank(h->dir) + 1);
		c->key[i].lo = (uint64_t)(uint32_t)h->m << 32 | i;
	}
	if (skey_sort(c, c->nhits) == -1)
		return -1;
	for (i = 0; i < c->nhits; i++)
		c->hitstmp[i] = c->hits[(uint32_t)c->key[i].lo];
	t = c->hits;
	c->hits = c->hitstmp;
	c->hitstmp = t;
	cap = c->caphits;
	c->caphits = c->caphitstmp;
	c->caphitstmp = cap;
	return 0;
}

static const struct yl_cls *cite_ctx;	/* qsort has no context argument */

static const char *
because_id(const struct yl_tax *t, const struct cite_ent *e)
{
	switch (e->bkind) {
	case 0:		return t->cats[e->bid].id;
	case 1:		return t->methods[e->bid].id;
	default:	return t->entities[e->bid].id;
	}
}

static int
cmp_cite(const void *a, const void *b)
{
	const struct cite_ent *x = a, *y = b;
	const struct yl_tax *t = cite_ctx->t;
	int r;

	if (x->prov != y->prov)
		return cite_ctx->prov_rank[x->prov] -
		    cite_ctx->prov_rank[y->prov];
	if ((r = strcmp(because_id(t, x), because_id(t, y))) != 0)
		return r;
	return x->bdir - y->bdir;
}

/*
 * Appends s[0..n) to o. Inline, so that the many short constant pieces of
 * the output cost a compare and a copy of known size, not two calls.
 */
static inline void
put(struct yl_buf *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap && yl_buf_reserve(o, n) == -1)
		return;
	if (o->oom)
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* Appends a string literal. */
#define PUT(o, lit)	put((o), (lit), sizeof(lit) - 1)

/* Writes v in decimal at p; returns the end. */
static char *
put_u32(char *p, uint32_t v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/*
 * {"start":S,"end":E,"text":"..."}, the bulk of the output, written in
 * place. Evidence rarely holds a character JSON escapes; when it does,
 * yl_buf_json() writes the text.
 */
static void
put_evidence(struct yl_buf *o, const char *body, const struct match *m)
{
	const unsigned char *t = (const unsigned char *)body + m->os;
	size_t i, n = m->oe - m->os;
	char *p;

	if (yl_buf_reserve(o, 48 + n) == -1)
		return;
	p = o->p + o->len;
	memcpy(p, "{\"start\":", 9);
	p = put_u32(p + 9, m->os);
	memcpy(p, ",\"end\":", 7);
	p = put_u32(p + 7, m->oe);
	memcpy(p, ",\"text\":", 8);
	p += 8;
	for (i = 0; i < n && t[i] >= 0x20 && t[i] != '"' && t[i] != '\\'; i++)
		;
	if (i == n) {
		*p++ = '"';
		memcpy(p, t, n);
		p += n;
		*p++ = '"';
		*p++ = '}';
		*p = '\0';
		o->len = (size_t)(p - o->p);
		return;
	}
	o->len = (size_t)(p - o->p);
	yl_buf_json(o, (const char *)t, n);
	PUT(o, "}");
}

/*
 * Writes the TAGS.md object into c->out from the hits, cites and drops:
 * {"ruleset": ..., "tags": {facets..., "sanctions": {...}}[, "dropped"]}
 * Facet arrays are sorted by ID (then direction), evidence by position.
 */
/*
 * "candidates": [{"category", "rules": [directions], "presence": p,
 * "directions": {dir: p}, "features": {name: value}}]: what the learned
 * stage saw and said (scores with --explain, features for `yalu train`).
 */
static void
render_cands(struct yl_cls *c, int flags)
{
	struct yl_buf *o = &c->out;
	size_t j, i;
	int d, n;

	PUT(o, ",\"candidates\":[");
	for (j = 0; j < c->ncands; j++) {
		const struct cand *x = &c->cands[j];

		yl_buf_str(o, j ? ",{\"category\":" : "{\"category\":");
		yl_buf_json(o, c->t->cats[x->cat].id,
		    strlen(c->t->cats[x->cat].id));
		PUT(o, ",\"rules\":[");
		for (d = 0, n = 0; d < 3; d++)
			if (x->dirs & 1u << d) {
				yl_buf_str(o, n++ ? ",\"" : "\"");
				yl_buf_str(o, cls_dir_names[d]);
				PUT(o, "\"");
			}
		PUT(o, "]");
		if (x->p >= 0) {
			yl_buf_printf(o, ",\"presence\":%.4f,\"directions\":"
			    "{\"import\":%.4f,\"export\":%.4f,\"unknown\":"
			    "%.4f}", x->p, x->q[DIR_IMPORT], x->q[DIR_EXPORT],
			    x->q[DIR_UNKNOWN]);
		}
		if (flags & YL_CLS_FEATURES) {
			PUT(o, ",\"features\":{");
			for (i = 0; i < x->fv.n; i++) {
				if (i)
					PUT(o, ",");
				yl_buf_json(o, x->fv.v[i].name,
				    strlen(x->fv.v[i].name));
				yl_buf_printf(o, ":%.6g", x->fv.v[i].v);
			}
			PUT(o, "}");
		}
		PUT(o, "}");
	}
	PUT(o, "]");
}

static void
render(struct yl_cls *c, int relevance, int flags)
{
	const struct yl_tax *t = c->t;
	struct yl_buf *o = &c->out;
	size_t i, j;
	int f, n, explain = flags & YL_CLS_EXPLAIN;

	if (sort_hits(c) == -1) {
		c->out.oom = 1;
		return;
	}
	cite_ctx = c;
	sort_small(c->cites, c->ncites, sizeof(*c->cites), cmp_cite);
	yl_buf_reset(o);
	put(o, c->head.p, c->head.len);
	for (f = 0, i = 0; f < F_N; f++) {
		int ntags = 0;

		yl_buf_str(o, f ? ",\"" : "\"");
		yl_buf_str(o, facet_names[f]);
		PUT(o, "\":[");
		while (i < c->nhits && c->hits[i].facet == f) {
			const struct hit *h = &c->hits[i];
			const size_t *pos = c->idpos[f];
			int nev = 0;
			uint32_t lasts = UINT32_MAX, laste = 0;

			if (ntags++)
				PUT(o, ",");
			PUT(o, "{\"id\":");
			put(o, c->idjson.p + pos[h->id], pos[h->id + 1] -
			    pos[h->id]);
			if (h->dir >= 0) {
				PUT(o, ",\"direction\":\"");
				yl_buf_str(o, cls_dir_names[h->dir]);
				PUT(o, "\"");
			}
			PUT(o, ",\"evidence\":[");
			for (j = i; j < c->nhits && c->hits[j].facet == f &&
			    c->hits[j].id == h->id && c->hits[j].dir == h->dir;
			    j++) {
				const struct match *m = &c->m[c->hits[j].m];

				if (nev >= MAX_EVIDENCE || (m->os == lasts &&
				    m->oe == laste))
					continue;
				if (nev++)
					PUT(o, ",");
				put_evidence(o, c->body, m);
				lasts = m->os;
				laste = m->oe;
			}
			PUT(o, "]");
			if (explain) {
				size_t k, nx = 0;

				PUT(o, ",\"explain\":[");
				for (k = i; k < j && nx < MAX_EVIDENCE; k++) {
					const struct hit *x = &c->hits[k];
					const struct match *m = &c->m[x->m];
					const struct cls_pat *p = &t->pats[m->pat];

					if (f != F_COMMODITIES && nx > 0)
						break;
					yl_buf_str(o, nx++ ? ",{\"term\":" :
					    "{\"term\":");
					yl_buf_json(o, p->written,
					    strlen(p->written));
					PUT(o, ",\"at\":");
					yl_buf_u64(o, m->os);
					if (x->how != NULL) {
						yl_buf_str(o, ",\"direction_"
						    "from\":\"");
						yl_buf_str(o, x->how);
						PUT(o, "\"");
					}
					if (x->cue >= 0) {
						PUT(o, ",\"cue\":");
						put_evidence(o, c->body,
						    &c->m[x->cue]);
					}
					if (f == F_ENTITIES &&
					    t->entities[x->id].designated)
						yl_buf_str(o, ",\"designated\":"
						    "true");
					PUT(o, "}");
				}
				PUT(o, "]");
			}
			PUT(o, "}");
			i = j;
		}
		PUT(o, "]");
	}
	PUT(o, ",\"sanctions\":{\"relevance\":\"");
	yl_buf_str(o, rel_names[relevance]);
	PUT(o, "\",\"provisions\":[");
	for (i = 0; i < c->ncites; ) {
		const struct cite_ent *e = &c->cites[i];
		const char *pid = t->provs[e->prov].id;
		int nb = 0;

		yl_buf_str(o, i ? ",{\"id\":" : "{\"id\":");
		yl_buf_json(o, pid, strlen(pid));
		PUT(o, ",\"because\":[");
		for (j = i; j < c->ncites && c->cites[j].prov == e->prov; j++) {
			const struct cite_ent *b = &c->cites[j];

			if (j > i && b->bkind == c->cites[j - 1].bkind &&
			    b->bid == c->cites[j - 1].bid &&
			    b->bdir == c->cites[j - 1].bdir)
				continue;
			yl_buf_str(o, nb++ ? ",\"" : "\"");
			yl_buf_str(o, because_id(t, b));
			if (b->bkind == 0 && b->bdir > 0) {
				PUT(o, "/");
				yl_buf_str(o, cls_dir_names[b->bdir]);
			}
			PUT(o, "\"");
		}
		PUT(o, "]}");
		i = j;
	}
	PUT(o, "]}}");
	if ((explain && c->t->model.set) || (flags & YL_CLS_FEATURES))
		render_cands(c, flags);
	if (explain && c->ndrops > 0) {
		PUT(o, ",\"dropped\":[");
		for (i = 0, n = 0; i < c->ndrops; i++) {
			const struct drop *d = &c->drops[i];
			const struct cls_pat *p = &t->pats[c->m[d->m].pat];

			if (d->why == NULL)
				continue;	/* taken back by the model */
			yl_buf_str(o, n++ ? ",{\"term\":" : "{\"term\":");
			yl_buf_json(o, p->written, strlen(p->written));
			if (p->kind == K_COMMODITY) {
				PUT(o, ",\"category\":");
				yl_buf_json(o, t->cats[p->target].id,
				    strlen(t->cats[p->target].id));
			}
			PUT(o, ",\"evidence\":");
			put_evidence(o, c->body, &c->m[d->m]);
			yl_buf_printf(o, ",\"why\":\"%s\"", d->why);
			if (d->cue >= 0) {
				PUT(o, ",\"cue\":");
				put_evidence(o, c->body, &c->m[d->cue]);
			}
			PUT(o, "}");
		}
		PUT(o, "]");
	}
	PUT(o, "}");
}

int
yl_cls_run_text(struct yl_cls *c, const char *body, size_t len, int flags,
    const char **out, size_t *outlen, char *err, size_t errsz)
{
	const struct yl_tax *t = c->t;
	size_t i, j, bad, ncm, sent, clause;
	int trade = 0, transit = 0, *sdir = NULL, *sflag = NULL, rc = -1;
	int placed, partner;
	int relevance = 0;	/* 0 none, 1 low, 2 medium, 3 high */

	if (len == 0 || strspn(body, " \t\r\n") >= len) {
		snprintf(err, errsz, "empty body");
		return -1;
	}
	if (len > t->max_body) {
		snprintf(err, errsz, "body is %zu bytes, over the limit of %zu "
		    "(max_body_bytes)", len, t->max_body);
		return -1;
	}
	if (memchr(body, '\0', len) != NULL) {
		snprintf(err, errsz, "body has a NUL byte at offset %zu (binary "
		    "data?)", (size_t)((const char *)memchr(body, '\0', len) -
		    body));
		return -1;
	}
	if (yl_norm_text(&c->norm, body, len, &bad) == -1) {
		snprintf(err, errsz, "invalid UTF-8 at byte %zu", bad);
		return -1;
	}
	c->body = body;
	c->nm = 0;
	if (hs_scan(t->db, c->norm.s, (unsigned)c->norm.len, 0, c->scratch,
	    on_match, c) != HS_SUCCESS) {
		snprintf(err, errsz, "matcher failed (out of memory?)");
		return -1;
	}
	if (resolve_overlaps(c) == -1 || segment(c, body, len) == -1)
		goto oom;

	/* Clause starts: ';' and ':' (from segment()), every sentence start
	 * and the clause cues. */
	for (i = 0; i < c->nsb; i++)
		if (push_break(&c->cb, &c->ncb, &c->capcb, c->sb[i]) == -1)
			goto oom;
	for (i = 0; i < c->nm; i++) {
		struct match *m = &c->m[i];

		/*
		 * A clause word set off by commas is an aside, no new clause:
		 * "Crude oil, meanwhile, keeps flowing from the Chinese side".
		 */
		if (t->pats[m->pat].kind == K_CUE_CLAUSE &&
		    !(m->os >= 2 && body[m->os - 1] == ' ' &&
		    body[m->os - 2] == ',' && m->oe < len &&
		    body[m->oe] == ',') &&
		    push_break(&c->cb, &c->ncb, &c->capcb, m->os) == -1)
			goto oom;
	}
	sort_u32(c->cb, c->ncb);

	if (reserve((void **)&c->sdir, &c->capsdir, c->nsb + 1,
	    sizeof(int)) == -1 || reserve((void **)&c->sflag, &c->capsflag,
	    c->nsb + 1, sizeof(int)) == -1 ||
	    reserve((void **)&c->sfirst, &c->capsfirst, c->nsb + 1,
	    sizeof(size_t)) == -1)
		goto oom;
	sdir = c->sdir;
	sflag = c->sflag;
	memset(sdir, 0, c->nsb * sizeof(int));
	memset(sflag, 0, c->nsb * sizeof(int));
	c->ncm = 0;
	for (i = 0, sent = 0, clause = 0; i < c->nm; i++) {
		struct match *m = &c->m[i];
		enum cls_kind k = t->pats[m->pat].kind;

		/*
		 * The last sentence and clause start at or before the match:
		 * matches are in text order, so both only move forward.
		 */
		while (sent + 1 < c->nsb && c->sb[sent + 1] <= m->os)
			sent++;
		while (clause + 1 < c->ncb && c->cb[clause + 1] <= m->os)
			clause++;
		m->sent = (int)sent;
		m->clause = (int)clause;
		if (i == 0 || c->m[i - 1].sent != m->sent)
			c->sfirst[m->sent] = i;
		if (k == K_COMMODITY) {
			if (reserve((void **)&c->cm, &c->capcm, c->ncm + 1,
			    sizeof(*c->cm)) == -1)
				goto oom;
			c->cm[c->ncm++] = i;
		}
		m->dir = m->weak = 0;
		if (k == K_CUE_IMPORT || k == K_CUE_EXPORT) {
			m->dir = k == K_CUE_IMPORT ? DIR_IMPORT : DIR_EXPORT;
			m->weak = t->pats[m->pat].target == CLS_CUE_WEAK;
		} else if (k == K_COUNTRY || k == K_CROSSING) {
			/* "from Dandong", "into Sinuiju": see place_dir() */
			m->dir = place_dir(c, m, k == K_COUNTRY ||
			    t->pats[m->pat].country >= 0);
			m->weak = 1;
		}
		if (m->dir)
			sdir[m->sent] = m->dir;	/* the sentence's last cue */
		if (m->dir && !m->weak)
			trade = 1;
		if (k == K_CUE_TRADE || (m->dir && !m->weak))
			sflag[m->sent] |= S_TRADE;
		else if (k == K_CUE_NEG)
			sflag[m->sent] |= S_NEG;
		else if (k == K_CUE_UNSURE)
			sflag[m->sent] |= S_UNSURE;
		else if (k == K_CUE_USE)
			sflag[m->sent] |= S_USE;
		if (k == K_CUE_NEG &&
		    (t->pats[m->pat].target == CLS_CUE_GENERAL ||
		    t->pats[m->pat].target == CLS_CUE_SANCTION))
			sflag[m->sent] |= S_GEN;
		if (k == K_MODE || k == K_METHOD || k == K_CUE_IMPORT ||
		    k == K_CUE_EXPORT)
			sflag[m->sent] |= S_MOVE;
		if (k == K_CUE_TRADE &&
		    t->pats[m->pat].target == CLS_CUE_TRANSIT)
			transit = 1;
		if (k == K_CUE_TRADE || k == K_METHOD ||
		    (k == K_COMMODITY && (t->pats[m->pat].fixed_dir !=
		    DIR_UNKNOWN || t->cats[t->pats[m->pat].target].cite[
		    DIR_ANY].n > 0)))
			trade = 1;	/* smuggling or workers sent abroad */
	}

	/* Decide each commodity mention. */
	c->nmen = 0;
	c->ndrops = 0;
	for (i = 0, ncm = 0; i < c->nm; i++) {
		const struct match *m = &c->m[i];
		const struct cls_pat *p = &t->pats[m->pat];
		enum cls_dir d = DIR_UNKNOWN;
		enum how how = HOW_NONE;
		int cue = -1, best = 1 << 30, a, neg, pat, org, unsure;
		size_t k;

		if (p->kind != K_COMMODITY)
			continue;
		pat = antecedent(c, ncm++);
		p = &t->pats[pat];
		if ((sflag[m->sent] & S_NEG) && (neg = negated_by(c, m)) >= 0) {
			if (add_drop(c, (int)i, neg, "negated") == -1)
				goto oom;
			continue;
		}
		if (p->needs_sale && !sold_nearby(c, m)) {
			if (add_drop(c, (int)i, -1, why_unsold) == -1)
				goto oom;
			continue;
		}
		/* The nearest direction cue of the sentence, same clause first. */
		for (k = c->sfirst[m->sent]; k < c->nm &&
		    c->m[k].sent == m->sent; k++) {
			const struct match *q = &c->m[k];
			int dist;

			/* A weak cue reaches only its own clause. */
			if (!q->dir || (q->weak && q->clause != m->clause))
				continue;
			/*
			 * A cue inside what the report says it cannot tell
			 * ("could not say whether the diesel had been brought
			 * in") asserts no direction for the other goods.
			 */
			if ((sflag[m->sent] & S_UNSURE) &&
			    clause_cue(c, q, K_CUE_UNSURE) >= 0)
				continue;
			dist = q->os >= m->oe ? (int)(q->os - m->oe) :
			    q->oe <= m->os ? (int)(m->os - q->oe) : 0;
			if (q->clause != m->clause)
				dist += 100000;
			if (dist < best) {
				best = dist;
				cue = (int)k;
				d = (enum cls_dir)q->dir;
				how = t->pats[q->pat].kind == K_CUE_IMPORT ||
				    t->pats[q->pat].kind == K_CUE_EXPORT ?
				    HOW_CUE : HOW_PLACE;
			}
		}
		if (cue >= 0 && how == HOW_CUE &&
		    t->pats[c->m[cue].pat].target == CLS_CUE_BARTER)
			d = barter_dir(c, m, &c->m[cue]);
		/*
		 * A trade verb seen from the other side: "a Kobe company
		 * exporting cosmetics that ended up in North Korea", "China
		 * imported anthracite from North Korean suppliers". A weak
		 * cue or a place of the other direction later in the verb's
		 * clause says where the goods went.
		 */
		if (cue >= 0 && how == HOW_CUE && !c->m[cue].weak &&
		    t->pats[c->m[cue].pat].target != CLS_CUE_BARTER) {
			for (k = (size_t)cue + 1; k < c->nm &&
			    c->m[k].clause == c->m[cue].clause; k++)
				if (c->m[k].dir && c->m[k].weak &&
				    c->m[k].dir != (int)d) {
					d = (enum cls_dir)c->m[k].dir;
					cue = (int)k;
					break;
				}
			/*
			 * "sold to a Rason food distributor", "sold the
			 * machines to a company registered in Rason": the
			 * buyer is on the DPRK side, so the goods came in.
			 */
			if (d == DIR_EXPORT && (k = (size_t)buyer_home(c,
			    (size_t)cue)) != (size_t)-1) {
				d = DIR_IMPORT;
				cue = (int)k;
			}
		}
		if (p->fixed_dir != DIR_UNKNOWN) {
			d = p->fixed_dir;
			how = HOW_TERM;
			cue = -1;
			if (at_home(c, m)) {
				if (add_drop(c, (int)i, -1, "working at home, "
				    "not abroad") == -1)
					goto oom;
				continue;
			}
		}
		/* A foreign origin is a cue: "Chinese rice", "South Korean
		 * cosmetics" came in (below). */
		if (d == DIR_UNKNOWN && p->needs_cue && origin_of(c, i) < 0) {
			if (add_drop(c, (int)i, -1, why_nocue) == -1)
				goto oom;
			continue;
		}
		/*
		 * Foreign-made goods came in, whatever cue is nearest: the
		 * "Russian coal" loaded for foreign buyers passes through.
		 */
		if (p->foreign_sold && p->fixed_dir == DIR_UNKNOWN &&
		    (org = origin_after(c, i)) >= 0) {
			if (add_drop(c, (int)i, org, foreign_why) == -1)
				goto oom;
			continue;
		}
		if (p->fixed_dir == DIR_UNKNOWN &&
		    (org = origin_of(c, i)) >= 0) {
			/*
			 * Goods the DPRK itself sells ("Russian coal",
			 * "Russian fish" a Korean crew processes at Nakhodka)
			 * pass through, are sold abroad or are Korean goods
			 * under a false flag: none of it came in.
			 */
			if (p->foreign_sold) {
				if (add_drop(c, (int)i, org, foreign_why) == -1)
					goto oom;
				continue;
			}
			d = DIR_IMPORT;
			how = HOW_ORIGIN;
			cue = org;
		}
		/*
		 * In a report that speaks of transit, foreign goods pass
		 * through and are no DPRK trade ("Russian coal" shipped out
		 * of Rajin), nor is the same term named again without a cue
		 * of its own clause ("the coal was loaded at Rajin").
		 */
		if (transit && p->fixed_dir == DIR_UNKNOWN &&
		    (how == HOW_ORIGIN || ((cue < 0 ||
		    c->m[cue].clause != m->clause || c->m[cue].weak) &&
		    dropped_as(c, m->pat, transit_why)))) {
			if (add_drop(c, (int)i, cue, transit_why) == -1)
				goto oom;
			continue;
		}
		/* "The squid sold fast" after the squid fishermen brought in. */
		if ((cue < 0 || c->m[cue].clause != m->clause ||
		    c->m[cue].weak) && dropped_as(c, m->pat, sold_in_why)) {
			if (add_drop(c, (int)i, cue, sold_in_why) == -1)
				goto oom;
			continue;
		}
		/*
		 * "whether the copper had come out of North Korea or ...": the
		 * report leaves the direction open, and says so; the mention
		 * stays, as unknown, and nothing is carried into it.
		 */
		unsure = 0;
		if (p->fixed_dir == DIR_UNKNOWN &&
		    (sflag[m->sent] & S_UNSURE) && ((k = (size_t)clause_cue(c,
		    m, K_CUE_UNSURE)) != (size_t)-1 || (d == DIR_UNKNOWN &&
		    (k = (size_t)unsure_later(c, m)) != (size_t)-1))) {
			d = DIR_UNKNOWN;
			how = HOW_UNSURE;
			cue = (int)k;
			unsure = 1;
		}
		/*
		 * A joint venture moves no goods: where its sentence names DPRK
		 * labour abroad ("a North Korean restaurant in Hanoi run as a
		 * joint venture"), the venture is abroad too.
		 */
		for (k = c->sfirst[m->sent]; d == DIR_UNKNOWN && !unsure &&
		    t->cats[p->target].cite[DIR_ANY].n > 0 && k < c->nm &&
		    c->m[k].sent == m->sent; k++) {
			const struct cls_pat *q = &t->pats[c->m[k].pat];

			if (q->kind == K_COMMODITY &&
			    q->fixed_dir != DIR_UNKNOWN &&
			    !at_home(c, &c->m[k])) {
				d = q->fixed_dir;
				how = HOW_TERM;
				cue = (int)k;
			}
		}
		/*
		 * A term named again with no cue of its own keeps the direction
		 * its last mention had: "the coal" after "Russian coal" is that
		 * coal, whatever the previous sentence was about.
		 */
		for (k = c->nmen; d == DIR_UNKNOWN && !unsure && k-- > 0; ) {
			const struct mention *e = &c->men[k];

			/* the same term, or a longer one ending in it: "squid"
			 * after "dried squid" */
			if ((c->m[e->m].pat != m->pat && !ends_in(c->t,
			    c->m[e->m].pat, m->pat)) || !e->primary ||
			    e->how == HOW_PENDING)
				continue;
			if (e->dir != DIR_UNKNOWN &&
			    e->how != HOW_DEFAULT) {
				d = e->dir;
				how = HOW_EARLIER;
				cue = e->m;
			} else if (e->how == HOW_UNSURE) {
				/* "the starch" the report could not place */
				how = HOW_UNSURE;
				cue = e->cue;
				unsure = 1;
			}
			break;
		}
		for (a = 1; d == DIR_UNKNOWN && !unsure && a <= t->carry &&
		    m->sent - a >= 0; a++)
			if (sdir[m->sent - a]) {
				d = (enum cls_dir)sdir[m->sent - a];
				how = HOW_CARRIED;
			}
		/*
		 * Goods the DPRK sells are not seen coming in: "bought from"
		 * and "arrived from" are the buyer's side of an export, and
		 * the snow crab fishing boats "bring in" is their own catch.
		 */
		if (d == DIR_IMPORT && p->foreign_sold) {
			if (add_drop(c, (int)i, cue, sold_in_why) == -1)
				goto oom;
			continue;
		}
		/*
		 * A mention nothing gives a direction is kept, as unknown,
		 * only where its own sentence speaks of trade: "rebar" in a
		 * quote or "timber" that workers cut is not traded.
		 */
		/*
		 * Equipment that handles or moves the goods ("Chinese
		 * excavators are used to fill the holds") is in use, not
		 * traded, unless a strong cue of its own clause says it was.
		 */
		if ((sflag[m->sent] & S_USE) && p->fixed_dir == DIR_UNKNOWN &&
		    (k = (size_t)used_after(c, m)) != (size_t)-1 &&
		    !(cue >= 0 && how == HOW_CUE && !c->m[cue].weak &&
		    c->m[cue].clause == m->clause)) {
			if (add_drop(c, (int)i, (int)k, "in use, not traded") ==
			    -1)
				goto oom;
			continue;
		}
		/*
		 * Such a mention is held back, as "pending", until the whole
		 * report is read: where the report gives its category one
		 * direction elsewhere it is more of the same goods (lead and
		 * copper "added to the same convoys" as the iron ore going
		 * out), else it is dropped below.
		 */
		if (d == DIR_UNKNOWN && !(sflag[m->sent] & S_TRADE) &&
		    !unsure && t->cats[p->target].default_dir == DIR_UNKNOWN &&
		    t->cats[p->target].cite[DIR_ANY].n == 0)
			how = HOW_PENDING;
		/*
		 * Goods a sanction is described as covering ("the UN has banned
		 * exports of coal, iron and seafood") are not seen traded; the
		 * mention only lends its direction to the same term named
		 * again ("the coal" loaded at Nampo that night).
		 */
		if ((sflag[m->sent] & S_GEN) && sanction_before(c, m) >= 0)
			how = HOW_GENERAL;
		/*
		 * Goods that a place or a weak cue of their own clause sends
		 * somewhere ("fish goes to Russia on the ferry") are trade,
		 * though the same words about people are not.
		 */
		if (d != DIR_UNKNOWN && cue >= 0 && c->m[cue].weak &&
		    c->m[cue].clause == m->clause &&
		    (how == HOW_CUE || how == HOW_PLACE))
			trade = 1;
		for (a = -1; a < 4; a++) {
			int cat = a < 0 ? p->target : p->also[a];
			struct mention *mn;

			if (cat < 0)
				break;
			if (reserve((void **)&c->men, &c->capmen, c->nmen + 1,
			    sizeof(*mn)) == -1)
				goto oom;
			mn = &c->men[c->nmen++];
			mn->m = (int)i;
			mn->cat = cat;
			mn->dir = d;
			mn->how = how;
			mn->cue = cue;
			mn->primary = a < 0;
			mn->pat = pat;
			if (d == DIR_UNKNOWN && !unsure && how != HOW_GENERAL &&
			    t->cats[cat].default_dir != DIR_UNKNOWN) {
				mn->dir = t->cats[cat].default_dir;
				mn->how = HOW_DEFAULT;
			}
			/*
			 * Bits: 1 a default direction, 2 import, 4 export; 8
			 * and 16 the same from sanctions described in general.
			 */
			if (mn->dir != DIR_UNKNOWN)
				c->catknown[cat] |= mn->how == HOW_GENERAL ?
				    4 << mn->dir : mn->how == HOW_DEFAULT ? 1 :
				    1 << mn->dir;
		}
	}

	/*
	 * Goods a sanction covers are background only where the report has
	 * goods of its own: a report that says seafood exports are banned and
	 * then tells how "the catch" still goes to Chinese buyers is about
	 * that seafood.
	 */
	for (i = 0, j = 0; i < c->nmen && !j; i++)
		j = c->men[i].how != HOW_PENDING &&
		    c->men[i].how != HOW_GENERAL;
	for (i = 0; !j && i < c->nmen; i++) {
		struct mention *mn = &c->men[i];

		if (mn->how != HOW_GENERAL)
			continue;
		mn->how = HOW_SANCTION;
		if (mn->dir != DIR_UNKNOWN)
			c->catknown[mn->cat] |= 1 << mn->dir;
	}

	/* Commodities: a category with a known direction drops unknown. */
	c->nhits = c->ncites = c->nkept = c->ncands = 0;
	for (i = 0; trade && i < c->nmen; i++) {
		const struct mention *mn = &c->men[i];
		const struct cls_category *cat = &t->cats[mn->cat];
		int dir = mn->dir, known = c->catknown[mn->cat] & 6;
		enum how how = mn->how;

		/*
		 * A mention without a direction, in a report that gives its
		 * category exactly one (from evidence, not a default), is
		 * more of the same goods: it cites by its own term ("lead"
		 * beside iron ore going out cites the lead row).
		 */
		if (how == HOW_GENERAL) {
			if (add_drop(c, mn->m, -1, "named in sanctions "
			    "described in general") == -1)
				goto oom;
			continue;
		}
		if (dir == DIR_UNKNOWN && how != HOW_UNSURE &&
		    (known == 2 || known == 4) && cat->cite[DIR_ANY].n == 0) {
			dir = known == 2 ? DIR_IMPORT : DIR_EXPORT;
			how = HOW_CATEGORY;
		}
		/*
		 * Failing that, the direction a sanction gives the category:
		 * "rice cookers" that partners order, in a report that says
		 * the UN bans the supply of machinery to the country.
		 */
		known = c->catknown[mn->cat] & 24;
		if (dir == DIR_UNKNOWN && how != HOW_UNSURE &&
		    !(c->catknown[mn->cat] & 7) && (known == 8 ||
		    known == 16) && cat->cite[DIR_ANY].n == 0) {
			dir = known == 8 ? DIR_IMPORT : DIR_EXPORT;
			how = HOW_CATEGORY;
		}
		if (dir == DIR_UNKNOWN && how == HOW_PENDING) {
			if (add_drop(c, mn->m, -1, why_notrade) == -1)
				goto oom;
			continue;
		}
		if (dir == DIR_UNKNOWN && (c->catknown[mn->cat] & 7))
			continue;
		/*
		 * Goods that nothing in the report gives a direction, in a
		 * sentence that speaks of trade ("the buyer paid US$14 a
		 * kilogram for the crab"), are mostly not the report's trade:
		 * in the tune half 4 of 60 such tags were right. The learned
		 * stage may take them back.
		 */
		if (dir == DIR_UNKNOWN && how == HOW_NONE) {
			if (add_drop(c, mn->m, -1, why_nodir) == -1)
				goto oom;
			continue;
		}
		if (keep(c, (int)i, dir, how, mn->cue) == -1)
			goto oom;
	}
	if (trade && c->t->model.set && !(flags & YL_CLS_RULES_ONLY) &&
	    model_stage(c, len, flags & YL_CLS_FEATURES) == -1)
		goto oom;
	else if (trade && (flags & YL_CLS_FEATURES) && features(c, len, 1) ==
	    -1)
		goto oom;
	for (i = 0; i < c->nkept; i++) {
		const struct kept *k = &c->kept[i];
		const struct mention *mn = &c->men[k->men];
		const struct cls_pat *p = &t->pats[mn->pat];
		const struct cls_category *cat = &t->cats[mn->cat];
		int d, dir = (int)k->dir;

		if (k->gone)
			continue;
		if (add_hit(c, F_COMMODITIES, mn->cat, dir, mn->m, k->cue,
		    how_names[k->how]) == -1)
			goto oom;
		if (dir == DIR_UNKNOWN) {
			/* Joint ventures cite in any direction. */
			const struct cls_cites *cs = &cat->cite[DIR_ANY];

			for (j = 0; j < (size_t)cs->n; j++)
				if (add_cite(c, cs->v[j], 0, mn->cat,
				    DIR_UNKNOWN, &relevance) == -1)
					goto oom;
			if (cs->n == 0 && cat->covered && relevance < 2)
				relevance = 2;
			continue;
		}
		for (d = dir; ; d = DIR_ANY) {
			const struct cls_cites *cs = &cat->cite[d];

			if (mn->primary && p->cite[d].set)
				cs = &p->cite[d];
			for (j = 0; j < (size_t)cs->n; j++)
				if (add_cite(c, cs->v[j], 0, mn->cat, dir,
				    &relevance) == -1)
					goto oom;
			if (d == DIR_ANY)
				break;
		}
	}

	/*
	 * Sentences that name goods kept as traded. Workers abroad and
	 * ventures are placed, not moved: "a restaurant in Dubai", "developers
	 * working in Shenyang" name their partner in sentences with no other
	 * sign of trade, so such a report keeps every country; so does one
	 * whose countries all stand in such sentences.
	 */
	for (i = 0, placed = 0; trade && i < c->nmen; i++) {
		const struct cls_pat *p = &t->pats[c->m[c->men[i].m].pat];

		if (c->men[i].how == HOW_PENDING ||
		    c->men[i].how == HOW_GENERAL)
			continue;
		sflag[c->m[c->men[i].m].sent] |= S_GOODS;
		if (p->fixed_dir != DIR_UNKNOWN ||
		    t->cats[c->men[i].cat].cite[DIR_ANY].n > 0)
			placed = 1;
	}
	for (i = 0, partner = 0; trade && !placed && i < c->nm; i++)
		if ((t->pats[c->m[i].pat].kind == K_COUNTRY &&
		    trade_sentence(sflag[c->m[i].sent])) ||
		    (t->pats[c->m[i].pat].kind == K_CROSSING &&
		    t->pats[c->m[i].pat].country >= 0))
			partner = 1;

	/* The other facets. */
	for (i = 0; i < c->nm; i++) {
		const struct match *m = &c->m[i];
		const struct cls_pat *p = &t->pats[m->pat];
		const struct cls_named *nm;
		int f, bkind = -1;

		/*
		 * A country or a mode in a negated clause is no partner and
		 * no route: "has no plans to buy Chinese trucks".
		 */
		if ((p->kind == K_COUNTRY || p->kind == K_MODE) && trade &&
		    (sflag[m->sent] & S_NEG) &&
		    (j = (size_t)negated_by(c, m)) != (size_t)-1) {
			if (add_drop(c, (int)i, (int)j, "negated") == -1)
				goto oom;
			continue;
		}
		switch (p->kind) {
		case K_COUNTRY:
			if (!trade)
				continue;
			/*
			 * A country is a partner where its sentence speaks of
			 * trade: traded goods, a trade or direction cue, a
			 * mode or a method. "A Japanese newspaper reported",
			 * "the cook is from Uzbekistan", "his brother reached
			 * Seoul" name no partner, whatever the report is about
			 * (if another country is one: see placed above).
			 */
			if (dateline(c, m)) {
				if (add_drop(c, (int)i, -1, "a dateline, not a "
				    "partner") == -1)
					goto oom;
				continue;
			}
			if (maker_or_crew(c, i)) {
				if (add_drop(c, (int)i, -1, "names a maker or a "
				    "crew, not a partner") == -1)
					goto oom;
				continue;
			}
			if (observer_after(c, i)) {
				if (add_drop(c, (int)i, -1, "names an observer, "
				    "not a partner") == -1)
					goto oom;
				continue;
			}
			if (partner && !trade_sentence(sflag[m->sent])) {
				if (add_drop(c, (int)i, -1, "no trade in its "
				    "sentence") == -1)
					goto oom;
				continue;
			}
			f = F_COUNTRIES;
			nm = &t->countries[p->target];
			break;
		case K_CROSSING:
			if (!trade)
				continue;
			f = F_CROSSINGS;
			nm = &t->crossings[p->target];
			if (p->country >= 0 && add_hit(c, F_COUNTRIES,
			    p->country, -1, (int)i, -1, NULL) == -1)
				goto oom;
			break;
		case K_MODE:
			if (!trade)
				continue;
			f = F_MODES;
			nm = &t->modes[p->target];
			break;
		case K_METHOD:
			f = F_METHODS;
			nm = &t->methods[p->target];
			bkind = 1;
			break;
		case K_ENTITY:
			f = F_ENTITIES;
			nm = &t->entities[p->target];
			bkind = 2;
			if (nm->designated && trade && relevance < 2)
				relevance = 2;
			break;
		default:
			continue;
		}
		if (add_hit(c, f, p->target, -1, (int)i, -1, NULL) == -1)
			goto oom;
		for (j = 0; j < (size_t)nm->cite.n; j++)
			if (add_cite(c, nm->cite.v[j], bkind, p->target, -1,
			    &relevance) == -1)
				goto oom;
	}
	if (trade && relevance < 1)
		relevance = 1;
	render(c, relevance, flags);
	if (c->out.oom)
		goto oom;
	*out = c->out.p;
	*outlen = c->out.len;
	rc = 0;
	goto done;
oom:
	snprintf(err, errsz, "out of memory");
done:
	memset(c->catknown, 0, t->ncats);
	return rc;
}

int
yl_cls_run(struct yl_cls *c, const char *body, size_t len, int flags,
    json_t **out, char *err, size_t errsz)
{
	const char *s;
	size_t n;
	json_error_t jerr;

	if (yl_cls_run_text(c, body, len, flags, &s, &n, err, errsz) == -1)
		return -1;
	if ((*out = json_loadb(s, n, 0, &jerr)) == NULL) {
		snprintf(err, errsz, "internal error: %s", jerr.text);
		return -1;
	}
	return 0;
}
