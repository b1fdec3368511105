/*
 * engine.c - tags one report: match, resolve overlaps, segment, decide
 * direction and negation per mention, aggregate, cite, rate relevance.
 *
 * The rules are those of TAGS.md; how they map onto the taxonomy is told
 * in docs/taxonomy.md ("How a report is tagged"). Everything is computed
 * in buffers owned by struct yl_cls and reused from report to report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yalu/norm.h"

#include "cls_int.h"

struct match {
	uint32_t	ns, ne;		/* in the normalized text */
	uint32_t	os, oe;		/* in the original body */
	int		pat;
	int		layer;		/* see cls_layer() */
	int		sent, clause;
};

/* A commodity mention after direction and negation were decided. */
struct mention {
	int		 m;		/* match index */
	int		 cat;
	enum cls_dir	 dir;
	const char	*how;		/* term, cue, carried, default, none */
	int		 cue;		/* match index of the deciding cue, -1 */
	int		 primary;	/* the term's own category, not also */
};

struct yl_cls {
	const struct yl_tax	*t;
	hs_scratch_t		*scratch;
	struct yl_norm		 norm;
	struct match		*m;
	size_t			 nm, capm;
	int			*owner;
	size_t			 capowner;
	uint32_t		*sb, *cb;	/* sentence, clause starts */
	size_t			 nsb, ncb, capsb, capcb;
	struct mention		*men;
	size_t			 nmen, capmen;
	const char		*body;
};

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
	return c;
}

void
yl_cls_free(struct yl_cls **pc)
{
	struct yl_cls *c;

	if (pc == NULL || (c = *pc) == NULL)
		return;
	hs_free_scratch(c->scratch);
	yl_norm_clear(&c->norm);
	free(c->m);
	free(c->owner);
	free(c->sb);
	free(c->cb);
	free(c->men);
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
is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    (c >= 'A' && c <= 'Z');
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
	 * An ignore term also silences cues it overlaps: "refused entry" is
	 * a blocked attempt, not the negation "refused".
	 */
	if (p->kind == K_IGNORE) {
		if (reserve((void **)&c->m, &c->capm, c->nm + 1, sizeof(*m)) ==
		    -1)
			return 1;
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

static int
cmp_overlap_q(const void *a, const void *b)
{
	return cmp_overlap(a, b, sort_tax);
}

static int
cmp_start(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	if (x->os != y->os)
		return x->os < y->os ? -1 : 1;
	if (x->oe != y->oe)
		return x->oe > y->oe ? -1 : 1;
	return x->pat - y->pat;
}

/*
 * Keeps, within each layer, the longest of overlapping matches; matches
 * with the very same span (one text, several meanings) all stay.
 */
static int
resolve_overlaps(struct yl_cls *c)
{
	size_t i, k = 0, j;
	int layer = -1;

	if (c->nm == 0)
		return 0;
	if (reserve((void **)&c->owner, &c->capowner, c->norm.len + 1,
	    sizeof(int)) == -1)
		return -1;
	sort_tax = c->t;
	qsort(c->m, c->nm, sizeof(*c->m), cmp_overlap_q);
	for (i = 0; i < c->nm; i++) {
		struct match *m = &c->m[i];
		int l = m->layer, ok = 1;

		if (l != layer) {
			memset(c->owner, 0xff, c->norm.len * sizeof(int));
			layer = l;
		}
		for (j = m->ns; j < m->ne; j++) {
			int o = c->owner[j];

			if (o >= 0 && (c->m[o].ns != m->ns ||
			    c->m[o].ne != m->ne)) {
				ok = 0;
				break;
			}
		}
		if (!ok)
			continue;
		c->m[k] = *m;
		for (j = m->ns; j < m->ne; j++)
			c->owner[j] = (int)k;
		k++;
	}
	c->nm = k;
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
	for (i = 0; abbrevs[i] != NULL; i++)
		if (strcmp(w, abbrevs[i]) == 0)
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
 * Sentence starts into c->sb: after '.', '!' or '?' (and CJK full stops)
 * with closing quotes, white space and a capital; at line breaks, unless
 * a long line without a terminator continues in lower case (hard wrap).
 */
static int
segment(struct yl_cls *c, const char *body, size_t len)
{
	const unsigned char *s = (const unsigned char *)body;
	size_t i, linestart = 0;

	c->nsb = 0;
	if (push_break(&c->sb, &c->nsb, &c->capsb, 0) == -1)
		return -1;
	for (i = 0; i < len; i++) {
		size_t j;
		int term = 0;

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
		if (s[i] == '.' && is_abbrev(body, i))
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
		if (starts_sentence(s, j, len) &&
		    push_break(&c->sb, &c->nsb, &c->capsb, (uint32_t)j) == -1)
			return -1;
	}
	return 0;
}

/* Index of the last break <= at. */
static int
find_span(const uint32_t *v, size_t n, uint32_t at)
{
	size_t lo = 0, hi = n;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (v[mid] <= at)
			lo = mid;
		else
			hi = mid;
	}
	return (int)lo;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static json_t *
evidence(const char *body, const struct match *m)
{
	json_t *o = json_object();

	json_object_set_new(o, "start", json_integer(m->os));
	json_object_set_new(o, "end", json_integer(m->oe));
	json_object_set_new(o, "text", json_stringn(body + m->os,
	    m->oe - m->os));
	return o;
}

#define MAX_EVIDENCE	16

/* Appends evidence for match m to the tag object, unless already there. */
static void
add_evidence(json_t *tag, const char *body, const struct match *m)
{
	json_t *ev = json_object_get(tag, "evidence");
	size_t i, n = json_array_size(ev);

	if (n >= MAX_EVIDENCE)
		return;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(ev, i);

		if (json_integer_value(json_object_get(e, "start")) == m->os &&
		    json_integer_value(json_object_get(e, "end")) == m->oe)
			return;
	}
	json_array_append_new(ev, evidence(body, m));
}

static json_t *
new_tag(const char *id, const char *dir)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(id));
	if (dir != NULL)
		json_object_set_new(o, "direction", json_string(dir));
	json_object_set_new(o, "evidence", json_array());
	return o;
}

static int
cmp_tag(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(json_string_value(json_object_get(x, "id")),
	    json_string_value(json_object_get(y, "id")));
	json_t *dx, *dy;

	if (c != 0)
		return c;
	dx = json_object_get(x, "direction");
	dy = json_object_get(y, "direction");
	if (dx && dy)
		return strcmp(json_string_value(dx), json_string_value(dy));
	return 0;
}

/* Sorts a JSON array of tags by id (then direction), in place. */
static void
sort_tags(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	json_t **v;

	if (n < 2 || (v = malloc(n * sizeof(*v))) == NULL)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), cmp_tag);
	json_array_clear(arr);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

/* Finds or creates the tag with this id (and direction) in arr. */
static json_t *
get_tag(json_t *arr, const char *id, const char *dir)
{
	size_t i;
	json_t *t;

	json_array_foreach(arr, i, t) {
		json_t *d = json_object_get(t, "direction");

		if (strcmp(json_string_value(json_object_get(t, "id")), id) ==
		    0 && (dir == NULL || (d && strcmp(json_string_value(d),
		    dir) == 0)))
			return t;
	}
	t = new_tag(id, dir);
	json_array_append_new(arr, t);
	return t;
}

static void
explain_add(json_t *tag, json_t *why)
{
	json_t *ex = json_object_get(tag, "explain");

	if (ex == NULL) {
		ex = json_array();
		json_object_set_new(tag, "explain", ex);
	}
	if (json_array_size(ex) < MAX_EVIDENCE)
		json_array_append_new(ex, why);
	else
		json_decref(why);
}

/* Adds provision p with the reason to the provisions map. */
static void
cite(json_t *provs, const struct yl_tax *t, int p, const char *because)
{
	const char *id = t->provs[p].id;
	json_t *arr = json_object_get(provs, id);
	size_t i;
	json_t *v;

	if (arr == NULL) {
		arr = json_array();
		json_object_set_new(provs, id, arr);
	}
	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), because) == 0)
			return;
	json_array_append_new(arr, json_string(because));
}

/*
 * How far after a term a negation still reaches. 0: only negations before
 * the term count ("coal exports were halted" reports trade that was done).
 */
#define NEG_AFTER	0

/*
 * The negation cue that cancels mention m, or -1: one before it in its
 * clause ("did not import any coal"), or within NEG_AFTER bytes after
 * it. A negation that governs a later verb of the clause ("copper that
 * buyers refused to take") is out of reach.
 */
static int
negated_by(const struct yl_cls *c, const struct match *m)
{
	size_t i;

	for (i = 0; i < c->nm; i++) {
		const struct match *q = &c->m[i];

		if (c->t->pats[q->pat].kind != K_CUE_NEG ||
		    q->clause != m->clause)
			continue;
		if (q->oe <= m->os ||
		    (NEG_AFTER > 0 && q->os >= m->oe &&
		    q->os - m->oe <= NEG_AFTER))
			return (int)i;
	}
	return -1;
}

static int
cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
yl_cls_run(struct yl_cls *c, const char *body, size_t len, int flags,
    json_t **out, char *err, size_t errsz)
{
	const struct yl_tax *t = c->t;
	size_t i, j, bad;
	int trade = 0, *sdir = NULL, *strade = NULL, rc = -1;
	json_t *res = NULL, *tags, *fac[6], *provs = NULL;
	static const char *const facets[6] = { "commodities", "countries",
	    "crossings", "modes", "methods", "entities" };
	int relevance = 0;	/* 0 none, 1 low, 2 medium, 3 high */
	static const char *const rel_names[] = { "none", "low", "medium",
	    "high" };

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

	/* Clause starts: every sentence start, ';', ':' and clause cues. */
	c->ncb = 0;
	for (i = 0; i < c->nsb; i++)
		if (push_break(&c->cb, &c->ncb, &c->capcb, c->sb[i]) == -1)
			goto oom;
	for (i = 0; i < len; i++)
		if ((body[i] == ';' || body[i] == ':') &&
		    push_break(&c->cb, &c->ncb, &c->capcb, (uint32_t)i) == -1)
			goto oom;
	for (i = 0; i < c->nm; i++) {
		struct match *m = &c->m[i];

		m->os = c->norm.start[m->ns];
		m->oe = c->norm.end[m->ne - 1];
		if (t->pats[m->pat].kind == K_CUE_CLAUSE &&
		    push_break(&c->cb, &c->ncb, &c->capcb, m->os) == -1)
			goto oom;
	}
	qsort(c->cb, c->ncb, sizeof(*c->cb), cmp_u32);
	qsort(c->m, c->nm, sizeof(*c->m), cmp_start);

	if ((sdir = calloc(c->nsb, sizeof(int))) == NULL ||
	    (strade = calloc(c->nsb, sizeof(int))) == NULL)
		goto oom;
	for (i = 0; i < c->nm; i++) {
		struct match *m = &c->m[i];
		enum cls_kind k = t->pats[m->pat].kind;

		m->sent = find_span(c->sb, c->nsb, m->os);
		m->clause = find_span(c->cb, c->ncb, m->os);
		if (k == K_CUE_IMPORT || k == K_CUE_EXPORT) {
			sdir[m->sent] = k == K_CUE_IMPORT ? DIR_IMPORT :
			    DIR_EXPORT;	/* the last cue of the sentence */
			trade = 1;
		}
		if (k == K_CUE_TRADE || k == K_CUE_IMPORT || k == K_CUE_EXPORT)
			strade[m->sent] = 1;
		if (k == K_CUE_TRADE || k == K_METHOD ||
		    (k == K_COMMODITY && (t->pats[m->pat].fixed_dir !=
		    DIR_UNKNOWN || t->cats[t->pats[m->pat].target].cite[
		    DIR_ANY].n > 0)))
			trade = 1;	/* smuggling or workers sent abroad */
	}

	/* Decide each commodity mention. */
	c->nmen = 0;
	res = json_object();
	json_object_set_new(res, "ruleset", json_string(t->ruleset));
	tags = json_object();
	json_object_set_new(res, "tags", tags);
	for (j = 0; j < 6; j++) {
		fac[j] = json_array();
		json_object_set_new(tags, facets[j], fac[j]);
	}
	provs = json_object();
	{
		json_t *dropped = (flags & YL_CLS_EXPLAIN) ? json_array() : NULL;

		for (i = 0; i < c->nm; i++) {
			const struct match *m = &c->m[i];
			const struct cls_pat *p = &t->pats[m->pat];
			enum cls_dir d = DIR_UNKNOWN;
			const char *how = "none";
			int cue = -1, best = 1 << 30, a, neg;
			size_t k;

			if (p->kind != K_COMMODITY)
				continue;
			if ((neg = negated_by(c, m)) >= 0) {
				if (dropped) {
					json_t *x = json_object();
					const struct match *nm = &c->m[neg];

					json_object_set_new(x, "term",
					    json_string(p->written));
					json_object_set_new(x, "evidence",
					    evidence(body, m));
					json_object_set_new(x, "why",
					    json_string("negated"));
					json_object_set_new(x, "cue",
					    evidence(body, nm));
					json_array_append_new(dropped, x);
				}
				continue;
			}
			/* The nearest direction cue of the sentence. */
			for (k = 0; k < c->nm; k++) {
				const struct match *q = &c->m[k];
				enum cls_kind qk = t->pats[q->pat].kind;
				int dist;

				if (q->sent != m->sent ||
				    (qk != K_CUE_IMPORT && qk != K_CUE_EXPORT))
					continue;
				dist = q->os >= m->oe ? (int)(q->os - m->oe) :
				    q->oe <= m->os ? (int)(m->os - q->oe) : 0;
				if (q->clause != m->clause)
					dist += 100000;
				if (dist < best) {
					best = dist;
					cue = (int)k;
					d = qk == K_CUE_IMPORT ? DIR_IMPORT :
					    DIR_EXPORT;
					how = "cue";
				}
			}
			if (p->fixed_dir != DIR_UNKNOWN) {
				d = p->fixed_dir;
				how = "term";
				cue = -1;
			}
			if (d == DIR_UNKNOWN && p->needs_cue) {
				if (dropped) {
					json_t *x = json_object();

					json_object_set_new(x, "term",
					    json_string(p->written));
					json_object_set_new(x, "evidence",
					    evidence(body, m));
					json_object_set_new(x, "why", json_string(
					    "no direction cue in its sentence"));
					json_array_append_new(dropped, x);
				}
				continue;
			}
			for (a = 1; d == DIR_UNKNOWN && a <= t->carry &&
			    m->sent - a >= 0; a++)
				if (sdir[m->sent - a]) {
					d = (enum cls_dir)sdir[m->sent - a];
					how = "carried";
				}
			/*
			 * A mention nothing gives a direction is kept, as
			 * unknown, only where its own sentence speaks of trade:
			 * "rebar" in a quote or "timber" that workers cut is
			 * not traded.
			 */
			if (d == DIR_UNKNOWN && !strade[m->sent] &&
			    t->cats[p->target].default_dir == DIR_UNKNOWN &&
			    t->cats[p->target].cite[DIR_ANY].n == 0) {
				if (dropped) {
					json_t *x = json_object();

					json_object_set_new(x, "term",
					    json_string(p->written));
					json_object_set_new(x, "evidence",
					    evidence(body, m));
					json_object_set_new(x, "why", json_string(
					    "no direction and no trade cue in its "
					    "sentence"));
					json_array_append_new(dropped, x);
				}
				continue;
			}
			for (a = -1; a < 4; a++) {
				int cat = a < 0 ? p->target : p->also[a];
				struct mention *mn;

				if (cat < 0)
					break;
				if (reserve((void **)&c->men, &c->capmen,
				    c->nmen + 1, sizeof(*mn)) == -1)
					goto oom;
				mn = &c->men[c->nmen++];
				mn->m = (int)i;
				mn->cat = cat;
				mn->dir = d;
				mn->how = how;
				mn->cue = cue;
				mn->primary = a < 0;
				if (d == DIR_UNKNOWN &&
				    t->cats[cat].default_dir != DIR_UNKNOWN) {
					mn->dir = t->cats[cat].default_dir;
					mn->how = "default";
				}
			}
		}
		if (dropped != NULL) {
			if (json_array_size(dropped) > 0)
				json_object_set_new(res, "dropped", dropped);
			else
				json_decref(dropped);
		}
	}

	/* Commodities: a category with a known direction drops unknown. */
	if (trade) {
		for (i = 0; i < c->nmen; i++) {
			const struct mention *mn = &c->men[i];
			const struct match *m = &c->m[mn->m];
			const struct cls_pat *p = &t->pats[m->pat];
			const struct cls_category *cat = &t->cats[mn->cat];
			json_t *tag;
			char because[96];
			int d;

			if (mn->dir == DIR_UNKNOWN) {
				for (j = 0; j < c->nmen; j++)
					if (c->men[j].cat == mn->cat &&
					    c->men[j].dir != DIR_UNKNOWN)
						break;
				if (j < c->nmen)
					continue;
			}
			tag = get_tag(fac[0], cat->id, cls_dir_names[mn->dir]);
			add_evidence(tag, body, m);
			if (flags & YL_CLS_EXPLAIN) {
				json_t *x = json_object();

				json_object_set_new(x, "term",
				    json_string(p->written));
				json_object_set_new(x, "at", json_integer(m->os));
				json_object_set_new(x, "direction_from",
				    json_string(mn->how));
				if (mn->cue >= 0)
					json_object_set_new(x, "cue", evidence(
					    body, &c->m[mn->cue]));
				explain_add(tag, x);
			}
			if (mn->dir == DIR_UNKNOWN) {
				/* Joint ventures cite in any direction. */
				const struct cls_cites *cs = &cat->cite[DIR_ANY];

				for (j = 0; j < (size_t)cs->n; j++) {
					cite(provs, t, cs->v[j], cat->id);
					relevance = t->provs[cs->v[j]].ban ? 3 :
					    relevance < 2 ? 2 : relevance;
				}
				if (cs->n == 0 && cat->covered && relevance < 2)
					relevance = 2;
				continue;
			}
			snprintf(because, sizeof(because), "%s/%s", cat->id,
			    cls_dir_names[mn->dir]);
			for (d = mn->dir; ; d = DIR_ANY) {
				const struct cls_cites *cs = &cat->cite[d];

				if (mn->primary && p->cite[d].set)
					cs = &p->cite[d];
				for (j = 0; j < (size_t)cs->n; j++) {
					cite(provs, t, cs->v[j], because);
					if (t->provs[cs->v[j]].ban)
						relevance = 3;
					else if (relevance < 2)
						relevance = 2;
				}
				if (d == DIR_ANY)
					break;
			}
		}
	}

	/* The other facets. */
	for (i = 0; i < c->nm; i++) {
		const struct match *m = &c->m[i];
		const struct cls_pat *p = &t->pats[m->pat];
		const struct cls_named *nm = NULL;
		json_t *arr = NULL, *tag;

		switch (p->kind) {
		case K_COUNTRY:
			if (!trade)
				continue;
			nm = &t->countries[p->target];
			arr = fac[1];
			break;
		case K_CROSSING:
			if (!trade)
				continue;
			nm = &t->crossings[p->target];
			arr = fac[2];
			if (p->country >= 0)
				add_evidence(get_tag(fac[1],
				    t->countries[p->country].id, NULL), body,
				    m);
			break;
		case K_MODE:
			if (!trade)
				continue;
			nm = &t->modes[p->target];
			arr = fac[3];
			break;
		case K_METHOD:
			nm = &t->methods[p->target];
			arr = fac[4];
			break;
		case K_ENTITY:
			nm = &t->entities[p->target];
			arr = fac[5];
			if (nm->designated && trade && relevance < 2)
				relevance = 2;
			break;
		default:
			continue;
		}
		tag = get_tag(arr, nm->id, NULL);
		add_evidence(tag, body, m);
		if ((flags & YL_CLS_EXPLAIN) && json_object_get(tag,
		    "explain") == NULL) {
			json_t *x = json_object();

			json_object_set_new(x, "term", json_string(p->written));
			if (p->kind == K_ENTITY && nm->designated)
				json_object_set_new(x, "designated",
				    json_true());
			explain_add(tag, x);
		}
		for (j = 0; j < (size_t)nm->cite.n; j++) {
			cite(provs, t, nm->cite.v[j], nm->id);
			if (t->provs[nm->cite.v[j]].ban)
				relevance = 3;
			else if (relevance < 2)
				relevance = 2;
		}
	}
	if (trade && relevance < 1)
		relevance = 1;

	for (j = 0; j < 6; j++)
		sort_tags(fac[j]);
	{
		json_t *sanc = json_object(), *plist = json_array();
		const char **ids;
		size_t n = json_object_size(provs), k = 0;
		const char *key;
		json_t *v;

		ids = calloc(n + 1, sizeof(*ids));
		json_object_foreach(provs, key, v)
			if (ids)
				ids[k++] = key;
		if (ids)
			qsort(ids, k, sizeof(*ids), cmp_str_ptr);
		for (j = 0; j < k; j++) {
			json_t *p = json_object(), *bec = json_object_get(provs,
			    ids[j]);

			json_object_set_new(p, "id", json_string(ids[j]));
			json_object_set(p, "because", bec);
			json_array_append_new(plist, p);
		}
		free(ids);
		json_object_set_new(sanc, "relevance",
		    json_string(rel_names[relevance]));
		json_object_set_new(sanc, "provisions", plist);
		json_object_set_new(tags, "sanctions", sanc);
	}
	*out = res;
	res = NULL;
	rc = 0;
	goto done;
oom:
	snprintf(err, errsz, "out of memory");
done:
	json_decref(res);
	json_decref(provs);
	free(sdir);
	free(strade);
	return rc;
}
