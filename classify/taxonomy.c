/*
 * taxonomy.c - loads the *.yaml files of configs/taxonomy, checks it strictly and
 * compiles every term and cue into one Vectorscan literal database.
 *
 * Problems are collected, each as "file:line:col: problem", and reported
 * together; a taxonomy with any problem is rejected whole, so a running
 * classifier keeps its old rules (see SIGHUP in yalu-classify).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "yalu/conf.h"
#include "yalu/norm.h"
#include "yalu/report.h"
#include "yalu/yaml.h"

#include "cls_int.h"

const char *const cls_dir_names[4] = { "unknown", "import", "export", "any" };

/* The IDs of TAGS.md. A taxonomy may not invent or misspell one. */
static const char *const contract_commodities[] = {
	"seafood", "agricultural-products", "foodstuffs",
	"construction-materials", "metals", "machinery-electrical", "vehicles",
	"luxury-goods", "petroleum", "coal", "textiles", "medical-supplies",
	"arms", "minerals", "overseas-labor", "wood", "statues",
	"joint-ventures", NULL
};
static const char *const contract_crossings[] = {
	"dandong-sinuiju", "dandong-sinuiju-new-bridge", "kuandian-hekou",
	"jian-manpo", "linjiang-junggang", "changbai-hyesan", "nanping-musan",
	"sanhe-hoeryong", "tumen-namyang", "quanhe-wonjong",
	"khasan-tumangang", "rajin-port", "nampo-port", "chongjin-port",
	"vladivostok", "nakhodka", "sunan-airport", NULL
};
static const char *const contract_modes[] = {
	"road", "rail", "sea", "air", NULL
};
static const char *const contract_methods[] = {
	"smuggling", "ship-to-ship", NULL
};
static const char *const contract_entities[] = {
	"office-39", "korea-daesong", "komid", "ryonbong", "tanchon-bank",
	"green-pine", "omm", "kkbc", "rgb", "tangun-trading",
	"munitions-industry-department", "foreign-trade-bank", "mpaf",
	"mansudae-overseas", "mansudae-art-studio", "knic",
	"korea-oil-exploration", "air-koryo", "dandong-hongxiang",
	"dalian-global-unity", "kangsong-trading", "songsan-trading",
	"kimbongsokyong-trading", "shinhung-trading", "rasoncontrans", NULL
};

static int
in_list(const char *const *l, const char *s)
{
	for (; *l != NULL; l++)
		if (strcmp(*l, s) == 0)
			return 1;
	return 0;
}

static int
valid_country(const char *id)
{
	return strlen(id) == 2 && id[0] >= 'a' && id[0] <= 'z' &&
	    id[1] >= 'a' && id[1] <= 'z' && strcmp(id, "kp") != 0;
}

int
yl_contract_has(const char *facet, const char *id)
{
	if (strcmp(facet, "commodities") == 0)
		return in_list(contract_commodities, id);
	if (strcmp(facet, "crossings") == 0)
		return in_list(contract_crossings, id);
	if (strcmp(facet, "modes") == 0)
		return in_list(contract_modes, id);
	if (strcmp(facet, "methods") == 0)
		return in_list(contract_methods, id);
	if (strcmp(facet, "entities") == 0)
		return in_list(contract_entities, id);
	if (strcmp(facet, "countries") == 0)
		return valid_country(id);
	return 0;
}

/* Where a pattern was written, for duplicate reports. */
struct where {
	const struct yl_ydoc	*doc;
	int			 line, col;
};

struct loader {
	struct yl_tax	*t;
	struct yl_errs	 errs;
	struct where	*where;		/* parallel to t->pats */
	size_t		 cap;
	struct yl_ydoc	*docs[64];
	size_t		 ndocs;
};

/* Top-level keys and the order in which they are processed. */
static const char *const top_keys[] = {
	"version", "provisions", "carry_sentences", "max_body_bytes", "cues",
	"commodities", "ignore", "countries", "crossings", "entities",
	"modes", "methods", "model", NULL
};

static void *
xgrow(void *p, size_t n, size_t sz)
{
	return realloc(p, n * sz);
}

static int
prov_find(const struct yl_tax *t, const char *id)
{
	size_t i;

	for (i = 0; i < t->nprovs; i++)
		if (strcmp(t->provs[i].id, id) == 0)
			return (int)i;
	return -1;
}

/* Parses a list of provision IDs into c. */
static int
parse_cites(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n, struct cls_cites *c)
{
	size_t i;
	int bad = 0;

	if (n->type != YL_Y_SEQ) {
		yl_errs_at(&ld->errs, doc, n, "cite: expected a list of "
		    "provision IDs");
		return -1;
	}
	free(c->v);
	c->v = calloc(n->n + 1, sizeof(int));
	c->n = 0;
	c->set = 1;
	for (i = 0; i < n->n; i++) {
		const struct yl_ynode *k = n->kids[i];
		int p;

		if (k->type != YL_Y_SCALAR) {
			yl_errs_at(&ld->errs, doc, k, "cite: expected a "
			    "provision ID");
			bad = 1;
			continue;
		}
		if ((p = prov_find(ld->t, k->str)) < 0) {
			yl_errs_at(&ld->errs, doc, k, "unknown provision '%s' "
			    "(not in the provisions of ruleset.yaml)", k->str);
			bad = 1;
			continue;
		}
		if (c->v != NULL)
			c->v[c->n++] = p;
	}
	return bad ? -1 : 0;
}

/* cite: {import: [...], export: [...], any: [...]} */
static int
parse_dir_cites(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n, struct cls_cites cite[4])
{
	size_t i;
	int bad = 0;

	if (n->type != YL_Y_MAP) {
		yl_errs_at(&ld->errs, doc, n, "cite: expected a map of "
		    "direction: [provisions] (import, export, any)");
		return -1;
	}
	for (i = 0; i + 1 < n->n; i += 2) {
		const char *k = n->kids[i]->str;
		int d;

		if (strcmp(k, "import") == 0)
			d = DIR_IMPORT;
		else if (strcmp(k, "export") == 0)
			d = DIR_EXPORT;
		else if (strcmp(k, "any") == 0)
			d = DIR_ANY;
		else {
			yl_errs_at(&ld->errs, doc, n->kids[i], "cite: unknown "
			    "direction '%s' (import, export or any)", k);
			bad = 1;
			continue;
		}
		if (parse_cites(ld, doc, n->kids[i + 1], &cite[d]) == -1)
			bad = 1;
	}
	return bad ? -1 : 0;
}

static int
parse_dir(const char *s, enum cls_dir *d)
{
	if (strcmp(s, "import") == 0)
		*d = DIR_IMPORT;
	else if (strcmp(s, "export") == 0)
		*d = DIR_EXPORT;
	else
		return -1;
	return 0;
}

static int
cat_find(const struct yl_tax *t, const char *id)
{
	size_t i;

	for (i = 0; i < t->ncats; i++)
		if (strcmp(t->cats[i].id, id) == 0)
			return (int)i;
	return -1;
}

static int
named_find(const struct cls_named *v, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return (int)i;
	return -1;
}

static int
named_add(struct cls_named **v, size_t *n, const char *id)
{
	struct cls_named *p;

	if ((p = xgrow(*v, *n + 1, sizeof(*p))) == NULL)
		return -1;
	*v = p;
	memset(&p[*n], 0, sizeof(p[*n]));
	if ((p[*n].id = strdup(id)) == NULL)
		return -1;
	return (int)(*n)++;
}

/*
 * Adds one term (a scalar or a map) of the given kind and target. Returns
 * the new pattern or NULL after recording an error.
 */
/* foreign_origin: import (0) or not-dprk-trade (1), on *out. */
static int
parse_foreign(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *x, int *out)
{
	if (x->type == YL_Y_SCALAR && strcmp(x->str, "import") == 0)
		*out = 0;
	else if (x->type == YL_Y_SCALAR &&
	    strcmp(x->str, "not-dprk-trade") == 0)
		*out = 1;
	else {
		yl_errs_at(&ld->errs, doc, x, "foreign_origin: import or "
		    "not-dprk-trade, on commodities");
		return -1;
	}
	return 0;
}

static struct cls_pat *add_one(struct loader *, const struct yl_ydoc *,
    const struct yl_ynode *, const struct yl_ynode *, const char *, size_t,
    enum cls_kind, int);
static void add_composed(struct loader *, const struct yl_ydoc *,
    const struct yl_ynode *, const struct yl_ynode *, enum cls_kind, int);

/*
 * One entry of a terms: list, a string or a map with term: and options.
 * A term: that is a list of lists composes terms, one per way of taking
 * a word from each list in turn: [[korean, dprk], [builders, cooks]] is
 * "korean builders", "korean cooks", "dprk builders", "dprk cooks".
 */
static void
add_term(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n, enum cls_kind kind, int target)
{
	const struct yl_ynode *tn = n;
	int bad = 0;

	if (n->type == YL_Y_MAP) {
		size_t i;
		static const char *const keys[] = { "term", "also", "cite",
		    "direction", "needs_cue", "needs_sale", "foreign_origin",
		    "country", NULL };

		for (i = 0; i + 1 < n->n; i += 2)
			if (n->kids[i]->type != YL_Y_SCALAR ||
			    !in_list(keys, n->kids[i]->str)) {
				yl_errs_at(&ld->errs, doc, n->kids[i],
				    "unknown term key '%s' (term, also, cite, "
				    "direction, needs_cue, needs_sale, "
				    "foreign_origin, country)",
				    n->kids[i]->str ? n->kids[i]->str : "?");
				bad = 1;
			}
		if ((tn = yl_ymap_get(n, "term")) == NULL) {
			yl_errs_at(&ld->errs, doc, n, "term: missing");
			return;
		}
	}
	if (bad)
		return;
	if (tn->type == YL_Y_SEQ && n != tn)
		add_composed(ld, doc, n, tn, kind, target);
	else if (tn->type != YL_Y_SCALAR)
		yl_errs_at(&ld->errs, doc, tn, "a term must be a string (or, "
		    "in a map, a list of lists of words to compose)");
	else
		(void)add_one(ld, doc, n, tn, tn->str, tn->len, kind, target);
}

#define COMPOSE_PARTS	4
#define COMPOSE_MAX	256

static void
add_composed(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n, const struct yl_ynode *tn, enum cls_kind kind,
    int target)
{
	size_t at[COMPOSE_PARTS] = { 0 }, i, len, total = 1;
	char buf[512];
	int w;

	if (tn->n < 2 || tn->n > COMPOSE_PARTS) {
		yl_errs_at(&ld->errs, doc, tn, "term: a composed term takes "
		    "2 to %d lists of words", COMPOSE_PARTS);
		return;
	}
	for (i = 0; i < tn->n; i++) {
		const struct yl_ynode *l = tn->kids[i];
		size_t k;

		if (l->type != YL_Y_SEQ || l->n == 0) {
			yl_errs_at(&ld->errs, doc, l, "term: each part of a "
			    "composed term is a non-empty list of words");
			return;
		}
		for (k = 0; k < l->n; k++)
			if (l->kids[k]->type != YL_Y_SCALAR) {
				yl_errs_at(&ld->errs, doc, l->kids[k], "term: "
				    "a word must be a string");
				return;
			}
		total *= l->n;
		if (total > COMPOSE_MAX) {
			yl_errs_at(&ld->errs, doc, tn, "term: composes more "
			    "than %d terms", COMPOSE_MAX);
			return;
		}
	}
	for (;;) {
		for (i = 0, len = 0; i < tn->n; i++) {
			const struct yl_ynode *x = tn->kids[i]->kids[at[i]];

			w = snprintf(buf + len, sizeof(buf) - len, "%s%s",
			    i ? " " : "", x->str);
			if (w < 0 || (size_t)w >= sizeof(buf) - len) {
				yl_errs_at(&ld->errs, doc, x, "term: composed "
				    "term too long");
				return;
			}
			len += (size_t)w;
		}
		(void)add_one(ld, doc, n, tn, buf, len, kind, target);
		/* the next combination, the last list fastest */
		for (i = tn->n; i-- > 0; ) {
			if (++at[i] < tn->kids[i]->n)
				break;
			at[i] = 0;
		}
		if (i == (size_t)-1)
			return;
	}
}

/*
 * The pattern for term text str (slen bytes) written at tn, with the
 * options of map n (or none where n is the term itself): the new pattern,
 * or NULL after recording an error.
 */
static struct cls_pat *
add_one(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n, const struct yl_ynode *tn, const char *str,
    size_t slen, enum cls_kind kind, int target)
{
	struct yl_tax *t = ld->t;
	const struct yl_ynode *v;
	struct cls_pat *p;
	char *raw;
	size_t rlen;
	int prefix = 0, bad = 0;

	rlen = slen;
	if (rlen > 0 && str[rlen - 1] == '*') {
		prefix = 1;
		rlen--;
	}
	if (t->npats == ld->cap) {
		size_t cap = ld->cap ? ld->cap * 2 : 1024;

		if ((p = xgrow(t->pats, cap, sizeof(*p))) == NULL)
			return NULL;
		t->pats = p;
		if ((ld->where = xgrow(ld->where, cap, sizeof(*ld->where))) ==
		    NULL)
			return NULL;
		ld->cap = cap;
	}
	p = &t->pats[t->npats];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->target = target;
	p->prefix = prefix;
	p->country = -1;
	p->also[0] = -1;
	if (kind == K_COMMODITY)
		p->foreign_sold = t->cats[target].foreign_sold;
	if ((raw = yl_norm_dup(str, rlen, &p->len)) == NULL ||
	    p->len == 0) {
		free(raw);
		yl_errs_at(&ld->errs, doc, tn, "term '%.*s' is empty after "
		    "normalization", (int)slen, str);
		return NULL;
	}
	p->text = raw;
	p->written = strndup(str, slen);
	ld->where[t->npats].doc = doc;
	ld->where[t->npats].line = tn->line;
	ld->where[t->npats].col = tn->col;
	t->npats++;

	if (n == tn)
		return p;
	if ((v = yl_ymap_get(n, "also")) != NULL) {
		size_t i, k = 0;

		if (kind != K_COMMODITY || v->type != YL_Y_SEQ) {
			yl_errs_at(&ld->errs, doc, v, "also: only commodity "
			    "terms take it, as a list of category IDs");
			bad = 1;
		} else
			for (i = 0; i < v->n; i++) {
				int c = v->kids[i]->type == YL_Y_SCALAR ?
				    cat_find(t, v->kids[i]->str) : -1;

				if (c < 0) {
					yl_errs_at(&ld->errs, doc, v->kids[i],
					    "also: unknown category '%s'",
					    v->kids[i]->str ? v->kids[i]->str :
					    "?");
					bad = 1;
				} else if (k >= 3) {
					yl_errs_at(&ld->errs, doc, v->kids[i],
					    "also: at most 3 more categories");
					bad = 1;
				} else if (c != target)
					p->also[k++] = c;
			}
		p->also[k] = -1;
	}
	if ((v = yl_ymap_get(n, "cite")) != NULL) {
		if (kind != K_COMMODITY) {
			yl_errs_at(&ld->errs, doc, v, "cite: only commodity "
			    "terms take it");
			bad = 1;
		} else if (parse_dir_cites(ld, doc, v, p->cite) == -1)
			bad = 1;
	}
	if ((v = yl_ymap_get(n, "direction")) != NULL) {
		if (kind != K_COMMODITY || v->type != YL_Y_SCALAR ||
		    parse_dir(v->str, &p->fixed_dir) == -1) {
			yl_errs_at(&ld->errs, doc, v, "direction: import or "
			    "export, on commodity terms");
			bad = 1;
		}
	}
	if ((v = yl_ymap_get(n, "needs_cue")) != NULL) {
		if (kind != K_COMMODITY || v->type != YL_Y_SCALAR ||
		    yl_parse_bool(v->str, &p->needs_cue) == -1) {
			yl_errs_at(&ld->errs, doc, v, "needs_cue: true or "
			    "false, on commodity terms");
			bad = 1;
		}
	}
	if ((v = yl_ymap_get(n, "needs_sale")) != NULL) {
		if (kind != K_COMMODITY || v->type != YL_Y_SCALAR ||
		    yl_parse_bool(v->str, &p->needs_sale) == -1) {
			yl_errs_at(&ld->errs, doc, v, "needs_sale: true or "
			    "false, on commodity terms");
			bad = 1;
		}
	}
	if ((v = yl_ymap_get(n, "foreign_origin")) != NULL) {
		if (kind != K_COMMODITY ||
		    parse_foreign(ld, doc, v, &p->foreign_sold) == -1)
			bad = 1;
	}
	if ((v = yl_ymap_get(n, "country")) != NULL) {
		if (kind != K_CROSSING || v->type != YL_Y_SCALAR ||
		    !valid_country(v->str)) {
			yl_errs_at(&ld->errs, doc, v, "country: an ISO 3166-1 "
			    "alpha-2 code in lower case, on crossing terms");
			bad = 1;
		} else {
			int c = named_find(t->countries, t->ncountries, v->str);

			if (c < 0)
				c = named_add(&t->countries, &t->ncountries,
				    v->str);
			p->country = c;
		}
	}
	return bad ? NULL : p;
}

static void
add_terms(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *list, enum cls_kind kind, int target)
{
	size_t i;

	if (list->type != YL_Y_SEQ) {
		yl_errs_at(&ld->errs, doc, list, "terms: expected a list");
		return;
	}
	for (i = 0; i < list->n; i++)
		add_term(ld, doc, list->kids[i], kind, target);
}

static void
load_provisions(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n)
{
	struct yl_tax *t = ld->t;
	size_t i;

	if (n->type != YL_Y_MAP) {
		yl_errs_at(&ld->errs, doc, n, "provisions: expected a map of "
		    "ID: ban|cap");
		return;
	}
	for (i = 0; i + 1 < n->n; i += 2) {
		const struct yl_ynode *k = n->kids[i], *v = n->kids[i + 1];
		struct cls_provision *p;
		const char *s = k->str;

		if (k->type != YL_Y_SCALAR || strncmp(s, "UNSCR-", 6) != 0 ||
		    strchr(s, ' ') != NULL) {
			yl_errs_at(&ld->errs, doc, k, "provision ID '%s' is not "
			    "of the form UNSCR-<res>-OP<para>", s ? s : "?");
			continue;
		}
		if (prov_find(t, s) >= 0) {
			yl_errs_at(&ld->errs, doc, k, "duplicate provision "
			    "'%s'", s);
			continue;
		}
		if (v->type != YL_Y_SCALAR || (strcmp(v->str, "ban") != 0 &&
		    strcmp(v->str, "cap") != 0)) {
			yl_errs_at(&ld->errs, doc, v, "provision '%s': measure "
			    "must be ban or cap", s);
			continue;
		}
		if ((p = xgrow(t->provs, t->nprovs + 1, sizeof(*p))) == NULL)
			return;
		t->provs = p;
		p[t->nprovs].id = strdup(s);
		p[t->nprovs].ban = strcmp(v->str, "ban") == 0;
		t->nprovs++;
	}
}

static void
load_cues(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n)
{
	static const char *const names[] = { "import", "export", "negation",
	    "trade", "clause", "import_weak", "export_weak", "unsure",
	    "import_barter", "export_barter", "label", "transit", "retraction",
	    "in_use", "general", "observer", "sanction", NULL };
	static const enum cls_kind kinds[] = { K_CUE_IMPORT, K_CUE_EXPORT,
	    K_CUE_NEG, K_CUE_TRADE, K_CUE_CLAUSE, K_CUE_IMPORT, K_CUE_EXPORT,
	    K_CUE_UNSURE, K_CUE_IMPORT, K_CUE_EXPORT, K_CUE_NEG, K_CUE_TRADE,
	    K_CUE_NEG, K_CUE_USE, K_CUE_NEG, K_CUE_OBS, K_CUE_NEG };
	/* A weak direction cue gives a direction but does not by itself make
	 * a report about trade: its target is CLS_CUE_WEAK; a barter cue
	 * turns round for the goods before it: CLS_CUE_BARTER; a label is a
	 * negation of the goods just after it: CLS_CUE_LABEL; a transit cue
	 * a trade cue, CLS_CUE_TRANSIT; a retraction a negation of what
	 * stands before it, CLS_CUE_RETRACT; a general cue (sanctions in
	 * general) CLS_CUE_GENERAL, with the negation's kind so that it shares
	 * the negation's overlaps (cls_int.h); a sanction cue, a general cue
	 * that governs the goods after it, CLS_CUE_SANCTION. */
	static const int targets[] = { 0, 0, 0, 0, 0, CLS_CUE_WEAK,
	    CLS_CUE_WEAK, 0, CLS_CUE_BARTER, CLS_CUE_BARTER, CLS_CUE_LABEL,
	    CLS_CUE_TRANSIT, CLS_CUE_RETRACT, 0, CLS_CUE_GENERAL, 0,
	    CLS_CUE_SANCTION };
	size_t i;
	int j;

	if (n->type != YL_Y_MAP) {
		yl_errs_at(&ld->errs, doc, n, "cues: expected a map");
		return;
	}
	for (i = 0; i + 1 < n->n; i += 2) {
		const struct yl_ynode *k = n->kids[i];

		for (j = 0; names[j] != NULL; j++)
			if (strcmp(k->str, names[j]) == 0)
				break;
		if (names[j] == NULL) {
			yl_errs_at(&ld->errs, doc, k, "cues: unknown kind '%s' "
			    "(import, export, negation, trade, clause, "
			    "import_weak, export_weak, unsure, import_barter, "
			    "export_barter, label, transit, retraction, "
			    "in_use, general, observer, sanction)",
			    k->str);
			continue;
		}
		add_terms(ld, doc, n->kids[i + 1], kinds[j], targets[j]);
	}
}

static void
load_commodities(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n)
{
	struct yl_tax *t = ld->t;
	size_t i, j;

	if (n->type != YL_Y_MAP) {
		yl_errs_at(&ld->errs, doc, n, "commodities: expected a map of "
		    "category: {cite, default_direction, terms}");
		return;
	}
	/* First every category, so that "also" may name a later one. */
	for (i = 0; i + 1 < n->n; i += 2) {
		const struct yl_ynode *k = n->kids[i];
		struct cls_category *c;

		if (!in_list(contract_commodities, k->str)) {
			yl_errs_at(&ld->errs, doc, k, "unknown commodity "
			    "category '%s' (not in TAGS.md)", k->str);
			continue;
		}
		if (cat_find(t, k->str) >= 0) {
			yl_errs_at(&ld->errs, doc, k, "duplicate commodity "
			    "category '%s'", k->str);
			continue;
		}
		if ((c = xgrow(t->cats, t->ncats + 1, sizeof(*c))) == NULL)
			return;
		t->cats = c;
		memset(&c[t->ncats], 0, sizeof(*c));
		c[t->ncats].id = strdup(k->str);
		t->ncats++;
	}
	for (i = 0; i + 1 < n->n; i += 2) {
		const struct yl_ynode *k = n->kids[i], *v = n->kids[i + 1], *x;
		int ci = cat_find(t, k->str);
		struct cls_category *c;

		if (ci < 0)
			continue;
		c = &t->cats[ci];
		if (v->type != YL_Y_MAP) {
			yl_errs_at(&ld->errs, doc, v, "%s: expected a map "
			    "{cite, default_direction, terms}", k->str);
			continue;
		}
		for (j = 0; j + 1 < v->n; j += 2) {
			const char *key = v->kids[j]->str;

			if (strcmp(key, "cite") != 0 &&
			    strcmp(key, "default_direction") != 0 &&
			    strcmp(key, "foreign_origin") != 0 &&
			    strcmp(key, "usual_direction") != 0 &&
			    strcmp(key, "terms") != 0)
				yl_errs_at(&ld->errs, doc, v->kids[j],
				    "%s: unknown key '%s' (cite, "
				    "default_direction, foreign_origin, "
				    "usual_direction, terms)", k->str, key);
		}
		if ((x = yl_ymap_get(v, "cite")) != NULL)
			parse_dir_cites(ld, doc, x, c->cite);
		if ((x = yl_ymap_get(v, "default_direction")) != NULL &&
		    (x->type != YL_Y_SCALAR ||
		    parse_dir(x->str, &c->default_dir) == -1))
			yl_errs_at(&ld->errs, doc, x, "default_direction: "
			    "import or export");
		c->usual_dir = c->default_dir;
		if ((x = yl_ymap_get(v, "usual_direction")) != NULL &&
		    (x->type != YL_Y_SCALAR ||
		    parse_dir(x->str, &c->usual_dir) == -1))
			yl_errs_at(&ld->errs, doc, x, "usual_direction: "
			    "import or export");
		if ((x = yl_ymap_get(v, "foreign_origin")) != NULL)
			(void)parse_foreign(ld, doc, x, &c->foreign_sold);
		if ((x = yl_ymap_get(v, "terms")) == NULL)
			yl_errs_at(&ld->errs, doc, v, "%s: terms: missing",
			    k->str);
		else
			add_terms(ld, doc, x, K_COMMODITY, ci);
	}
}

static int
weight_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cls_weight *)a)->name,
	    ((const struct cls_weight *)b)->name);
}

/* "feature": weight, ... -> a sorted array; errors at file:line:col. */
static void
load_weights(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n, const char *what, struct cls_weight **out,
    size_t *nout)
{
	struct cls_weight *v;
	size_t i, k, max = 63;

	if (n->type != YL_Y_MAP) {
		yl_errs_at(&ld->errs, doc, n, "model: %s: expected a map of "
		    "feature: weight", what);
		return;
	}
	if ((v = calloc(n->n / 2 + 1, sizeof(*v))) == NULL) {
		yl_errs_add(&ld->errs, doc->path, 0, 0, "out of memory");
		return;
	}
	for (i = 0, k = 0; i + 1 < n->n; i += 2) {
		const struct yl_ynode *key = n->kids[i], *val = n->kids[i + 1];
		char *end = NULL;
		double w = 0;

		if (key->type != YL_Y_SCALAR || key->len == 0 ||
		    key->len > max) {
			yl_errs_at(&ld->errs, doc, key, "model: %s: a feature "
			    "name is 1 to %zu bytes", what, max);
			continue;
		}
		if (val->type == YL_Y_SCALAR)
			w = strtod(val->str, &end);
		if (val->type != YL_Y_SCALAR || end == val->str ||
		    *end != '\0') {
			yl_errs_at(&ld->errs, doc, val, "model: %s: weight of "
			    "'%s' is not a number", what, key->str);
			continue;
		}
		if ((v[k].name = strdup(key->str)) == NULL)
			break;
		v[k++].w = w;
	}
	qsort(v, k, sizeof(*v), weight_cmp);
	for (i = 1; i < k; i++)
		if (strcmp(v[i - 1].name, v[i].name) == 0)
			yl_errs_add(&ld->errs, doc->path, 0, 0, "model: %s: "
			    "feature '%s' given twice", what, v[i].name);
	*out = v;
	*nout = k;
}

/*
 * model: {presence: {...}, direction: {...}, presence_min: 0.5,
 * direction_min: 0.5, reports: N}, as `yalu train` writes it.
 */
static void
load_model(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n)
{
	struct cls_model *m = &ld->t->model;
	size_t i;

	m->presence_min = m->direction_min = 0.5;
	m->reassign_min = 0.6;
	if (n->type != YL_Y_MAP) {
		yl_errs_at(&ld->errs, doc, n, "model: expected a map");
		return;
	}
	for (i = 0; i + 1 < n->n; i += 2) {
		const struct yl_ynode *key = n->kids[i], *val = n->kids[i + 1];
		const char *k = key->type == YL_Y_SCALAR ? key->str : "";

		if (strcmp(k, "presence") == 0 && m->presence == NULL)
			load_weights(ld, doc, val, k, &m->presence,
			    &m->npresence);
		else if (strcmp(k, "direction") == 0 && m->direction == NULL)
			load_weights(ld, doc, val, k, &m->direction,
			    &m->ndirection);
		else if (strcmp(k, "presence_min") == 0 ||
		    strcmp(k, "direction_min") == 0 ||
		    strcmp(k, "reassign_min") == 0 ||
		    strcmp(k, "revive_min") == 0) {
			char *end = NULL;
			double x = val->type == YL_Y_SCALAR ?
			    strtod(val->str, &end) : -1;

			if (end == NULL || *end != '\0' || x <= 0 || x >= 1)
				yl_errs_at(&ld->errs, doc, val, "model: %s: a "
				    "probability between 0 and 1", k);
			else if (k[0] == 'p')
				m->presence_min = x;
			else if (strcmp(k, "reassign_min") == 0)
				m->reassign_min = x;
			else if (k[0] == 'r')
				m->revive_min = x;
			else
				m->direction_min = x;
		} else if (strcmp(k, "reports") != 0)
			yl_errs_at(&ld->errs, doc, key, "model: unknown key "
			    "'%s' (presence, direction, presence_min, "
			    "direction_min, reassign_min, revive_min, reports)",
			    k);
	}
	if (m->presence == NULL || m->direction == NULL)
		yl_errs_at(&ld->errs, doc, n, "model: needs both presence and "
		    "direction weights");
	else if (cls_model_index(m) == -1)
		yl_errs_add(&ld->errs, doc->path, 0, 0, "out of memory");
	m->set = 1;
}

/*
 * countries, crossings, entities, modes, methods: id -> [terms] or
 * id -> {terms, cite, designated}.
 */
static void
load_named(struct loader *ld, const struct yl_ydoc *doc,
    const struct yl_ynode *n, const char *facet, enum cls_kind kind,
    struct cls_named **v, size_t *nv)
{
	size_t i, j;

	if (n->type != YL_Y_MAP) {
		yl_errs_at(&ld->errs, doc, n, "%s: expected a map of ID: "
		    "[terms]", facet);
		return;
	}
	for (i = 0; i + 1 < n->n; i += 2) {
		const struct yl_ynode *k = n->kids[i], *val = n->kids[i + 1];
		const struct yl_ynode *terms = val, *x;
		int idx;

		if (k->type != YL_Y_SCALAR || !yl_contract_has(facet, k->str)) {
			yl_errs_at(&ld->errs, doc, k, "unknown %s ID '%s'%s",
			    facet, k->str ? k->str : "?",
			    kind == K_COUNTRY ? " (ISO 3166-1 alpha-2, lower "
			    "case, never kp)" : " (not in TAGS.md)");
			continue;
		}
		idx = named_find(*v, *nv, k->str);
		if (idx >= 0 && kind != K_COUNTRY) {
			yl_errs_at(&ld->errs, doc, k, "duplicate %s ID '%s'",
			    facet, k->str);
			continue;
		}
		if (idx < 0 && (idx = named_add(v, nv, k->str)) < 0)
			return;
		if (val->type == YL_Y_MAP) {
			for (j = 0; j + 1 < val->n; j += 2) {
				const char *key = val->kids[j]->str;

				if (strcmp(key, "terms") != 0 &&
				    strcmp(key, "cite") != 0 &&
				    strcmp(key, "designated") != 0)
					yl_errs_at(&ld->errs, doc, val->kids[j],
					    "%s: unknown key '%s' (terms, cite, "
					    "designated)", k->str, key);
			}
			if ((x = yl_ymap_get(val, "cite")) != NULL)
				parse_cites(ld, doc, x, &(*v)[idx].cite);
			if ((x = yl_ymap_get(val, "designated")) != NULL &&
			    (x->type != YL_Y_SCALAR || yl_parse_bool(x->str,
			    &(*v)[idx].designated) == -1))
				yl_errs_at(&ld->errs, doc, x, "designated: true "
				    "or false");
			if ((terms = yl_ymap_get(val, "terms")) == NULL) {
				yl_errs_at(&ld->errs, doc, val, "%s: terms: "
				    "missing", k->str);
				continue;
			}
		}
		add_terms(ld, doc, terms, kind, idx);
	}
}

static int
pat_cmp_idx(const void *a, const void *b, void *arg)
{
	const struct yl_tax *t = arg;
	const struct cls_pat *x = &t->pats[*(const size_t *)a];
	const struct cls_pat *y = &t->pats[*(const size_t *)b];
	int c;

	if (cls_layer(x->kind) != cls_layer(y->kind))
		return cls_layer(x->kind) - cls_layer(y->kind);
	if ((c = strcmp(x->text, y->text)) != 0)
		return c;
	if (x->prefix != y->prefix)
		return x->prefix - y->prefix;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static const char *
kind_facet(enum cls_kind k)
{
	switch (k) {
	case K_COMMODITY:	return "commodity";
	case K_COUNTRY:		return "country";
	case K_CROSSING:	return "crossing";
	case K_ENTITY:		return "entity";
	case K_IGNORE:		return "ignore";
	case K_MODE:		return "mode";
	case K_METHOD:		return "method";
	case K_CUE_IMPORT:	return "import cue";
	case K_CUE_EXPORT:	return "export cue";
	case K_CUE_NEG:		return "negation cue";
	case K_CUE_TRADE:	return "trade cue";
	case K_CUE_CLAUSE:	return "clause cue";
	case K_CUE_UNSURE:	return "unsure cue";
	case K_CUE_USE:		return "in-use cue";
	case K_CUE_OBS:		return "observer cue";
	default:		return "?";
	}
}

static const char *
target_id(const struct yl_tax *t, const struct cls_pat *p)
{
	switch (p->kind) {
	case K_COMMODITY:	return t->cats[p->target].id;
	case K_COUNTRY:		return t->countries[p->target].id;
	case K_CROSSING:	return t->crossings[p->target].id;
	case K_ENTITY:		return t->entities[p->target].id;
	case K_MODE:		return t->modes[p->target].id;
	case K_METHOD:		return t->methods[p->target].id;
	default:		return kind_facet(p->kind);
	}
}

/*
 * A term may stand once per layer; the same text under two IDs of one
 * facet is ambiguous, and under one ID twice is a slip. Both are errors.
 */
static void
check_duplicates(struct loader *ld)
{
	struct yl_tax *t = ld->t;
	size_t *idx, i;

	if (t->npats < 2 || (idx = malloc(t->npats * sizeof(*idx))) == NULL)
		return;
	for (i = 0; i < t->npats; i++)
		idx[i] = i;
	/* qsort_r is a GNU extension; a simple insertion-free approach: */
	{
		size_t gap, j;

		/* Shell sort: the list is a few thousand terms at most. */
		for (gap = t->npats / 2; gap > 0; gap /= 2)
			for (i = gap; i < t->npats; i++)
				for (j = i; j >= gap && pat_cmp_idx(&idx[j -
				    gap], &idx[j], t) > 0; j -= gap) {
					size_t tmp = idx[j];

					idx[j] = idx[j - gap];
					idx[j - gap] = tmp;
				}
	}
	for (i = 1; i < t->npats; i++) {
		const struct cls_pat *a = &t->pats[idx[i - 1]];
		const struct cls_pat *b = &t->pats[idx[i]];
		const struct where *wa = &ld->where[idx[i - 1]];
		const struct where *wb = &ld->where[idx[i]];

		if (cls_layer(a->kind) != cls_layer(b->kind) ||
		    strcmp(a->text, b->text) != 0 || a->prefix != b->prefix)
			continue;
		if (a->kind == b->kind && a->target == b->target)
			yl_errs_add(&ld->errs, wb->doc->path, wb->line, wb->col,
			    "duplicate term '%s' for %s %s (first at %s:%d)",
			    b->written, kind_facet(b->kind), target_id(t, b),
			    wa->doc->path, wa->line);
		else if (a->kind == b->kind || a->kind == K_IGNORE ||
		    b->kind == K_IGNORE || a->kind == K_COMMODITY ||
		    b->kind == K_COMMODITY || cls_layer(a->kind) == 2)
			yl_errs_add(&ld->errs, wb->doc->path, wb->line, wb->col,
			    "term '%s' for %s %s is already a term of %s %s "
			    "(%s:%d)", b->written, kind_facet(b->kind),
			    target_id(t, b), kind_facet(a->kind),
			    target_id(t, a), wa->doc->path, wa->line);
	}
	free(idx);
}

/*
 * Compiling a few thousand literals takes about 0.1 s, longer than
 * classifying a report, so `yalu classify FILE` would mostly compile. The
 * database is therefore cached, keyed by every pattern's text and the
 * matcher's version, in $YALU_CACHE, else $XDG_CACHE_HOME/yalu, else
 * ~/.cache/yalu. No cache directory or a stale file just means compiling.
 * Every edit of the taxonomy makes a new file (about 1 MB): the
 * CACHE_KEEP most recently used are kept, the others removed.
 */
#define CACHE_KEEP	8
static char	*read_file(const char *, size_t *);

static int
cache_path(const struct yl_tax *t, char *buf, size_t sz)
{
	const char *d = getenv("YALU_CACHE"), *x, *home;
	char base[3072];
	hs_platform_info_t plat;
	uint64_t k = YL_FNV_OFFSET;
	size_t i;

	if (d == NULL || *d == '\0') {
		if ((x = getenv("XDG_CACHE_HOME")) != NULL && *x != '\0')
			snprintf(base, sizeof(base), "%s/yalu", x);
		else if ((home = getenv("HOME")) != NULL && *home != '\0')
			snprintf(base, sizeof(base), "%s/.cache/yalu", home);
		else
			return -1;
		d = base;
	}
	k = yl_hash64(k, hs_version(), strlen(hs_version()));
	/*
	 * And the CPU it was compiled for: a database built where fewer
	 * instructions are available (under valgrind, on an older host
	 * sharing the home directory) still loads, but scans slower.
	 */
	if (hs_populate_platform(&plat) == HS_SUCCESS) {
		k = yl_hash64(k, &plat.tune, sizeof(plat.tune));
		k = yl_hash64(k, &plat.cpu_features,
		    sizeof(plat.cpu_features));
	}
	for (i = 0; i < t->npats; i++)
		k = yl_hash64(k, t->pats[i].text, t->pats[i].len + 1);
	if ((size_t)snprintf(buf, sz, "%s/taxonomy-%016llx.hsdb", d,
	    (unsigned long long)k) >= sz)
		return -1;
	return 0;
}

static int
cache_load(struct yl_tax *t, const char *path)
{
	size_t len = 0;
	char *bytes = read_file(path, &len);
	int rc = -1;

	if (bytes != NULL && len > 0 &&
	    hs_deserialize_database(bytes, len, &t->db) == HS_SUCCESS) {
		rc = 0;
		utimensat(AT_FDCWD, path, NULL, 0);	/* used: keep it */
	}
	free(bytes);
	return rc;
}

struct cache_file {
	char		name[32];
	struct timespec	mtime;
};

static int
cache_file_cmp(const void *a, const void *b)
{
	const struct timespec *x = &((const struct cache_file *)a)->mtime;
	const struct timespec *y = &((const struct cache_file *)b)->mtime;

	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? 1 : -1;	/* newest first */
	if (x->tv_nsec != y->tv_nsec)
		return x->tv_nsec < y->tv_nsec ? 1 : -1;
	return 0;
}

/*
 * Best effort: remove all but the CACHE_KEEP most recently used
 * taxonomy-<key>.hsdb files of dir (nothing else there: the broker's jars
 * share the directory).
 */
static void
cache_prune(const char *dir)
{
	struct cache_file *v = NULL, *p;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l != strlen("taxonomy-") + 16 + strlen(".hsdb") ||
		    strncmp(de->d_name, "taxonomy-", 9) != 0 ||
		    strcmp(de->d_name + l - 5, ".hsdb") != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, 0) == -1)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((p = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = p;
		}
		memcpy(v[n].name, de->d_name, l + 1);
		v[n++].mtime = st.st_mtim;
	}
	if (n > CACHE_KEEP) {
		qsort(v, n, sizeof(*v), cache_file_cmp);
		for (i = CACHE_KEEP; i < n; i++)
			unlinkat(dirfd(d), v[i].name, 0);
	}
	closedir(d);
	free(v);
}

/* Best effort: write to a temporary name, then rename into place. */
static void
cache_store(const struct yl_tax *t, const char *path)
{
	char *bytes = NULL, tmp[4200], dir[4096], *slash;
	size_t len = 0;
	FILE *fp;

	if (hs_serialize_database(t->db, &bytes, &len) != HS_SUCCESS)
		return;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if ((slash = strrchr(dir, '/')) != NULL) {
			*slash = '\0';
			mkdir(dir, 0700);	/* ~/.cache */
			*slash = '/';
		}
		mkdir(dir, 0700);
	}
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if ((fp = fopen(tmp, "wb")) != NULL) {
		int ok = fwrite(bytes, 1, len, fp) == len;

		/* dir: the cache directory, path's own */
		if (fclose(fp) == 0 && ok && rename(tmp, path) == 0 &&
		    strchr(path, '/') != NULL)
			cache_prune(dir);
		unlink(tmp);
	}
	free(bytes);
}

static int
compile(struct loader *ld)
{
	char cpath[4096];
	int cached;

	struct yl_tax *t = ld->t;
	const char **exprs;
	unsigned *ids, *flags;
	size_t *lens, i;
	hs_compile_error_t *cerr = NULL;
	int rc = -1;

	cached = cache_path(t, cpath, sizeof(cpath)) == 0;
	if (cached && cache_load(t, cpath) == 0)
		return 0;
	exprs = calloc(t->npats, sizeof(*exprs));
	ids = calloc(t->npats, sizeof(*ids));
	flags = calloc(t->npats, sizeof(*flags));
	lens = calloc(t->npats, sizeof(*lens));
	if (exprs && ids && flags && lens) {
		for (i = 0; i < t->npats; i++) {
			exprs[i] = t->pats[i].text;
			ids[i] = (unsigned)i;
			lens[i] = t->pats[i].len;
		}
		if (hs_compile_lit_multi(exprs, flags, ids, lens,
		    (unsigned)t->npats, HS_MODE_BLOCK, NULL, &t->db, &cerr) !=
		    HS_SUCCESS) {
			yl_errs_add(&ld->errs, "taxonomy", 0, 0, "cannot compile "
			    "the terms: %s", cerr ? cerr->message : "?");
			hs_free_compile_error(cerr);
		} else {
			rc = 0;
			if (cached)
				cache_store(t, cpath);
		}
	}
	free(exprs);
	free(ids);
	free(flags);
	free(lens);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *fp;
	char *buf = NULL;
	long sz;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (sz = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)sz + 1))) {
		*len = fread(buf, 1, (size_t)sz, fp);
		buf[*len] = '\0';
	}
	fclose(fp);
	return buf;
}

struct yl_tax *
yl_tax_load(const char *dir, char *err, size_t errsz)
{
	struct loader ld;
	DIR *d;
	struct dirent *de;
	char **names = NULL, path[4096], *version = NULL;
	size_t nnames = 0, i, k;
	const struct yl_ynode *found[16] = { 0 };
	const struct yl_ydoc *found_doc[16] = { 0 };
	uint64_t h = YL_FNV_OFFSET;

	memset(&ld, 0, sizeof(ld));
	if ((ld.t = calloc(1, sizeof(*ld.t))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	ld.t->carry = 1;
	ld.t->max_body = 8 << 20;
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		yl_tax_free(&ld.t);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char **p;

		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0 ||
		    de->d_name[0] == '.')
			continue;
		if ((p = realloc(names, (nnames + 1) * sizeof(*p))) == NULL)
			break;
		names = p;
		names[nnames++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, nnames, sizeof(*names), name_cmp);
	if (nnames == 0)
		yl_errs_add(&ld.errs, dir, 0, 0, "no *.yaml taxonomy files");

	for (i = 0; i < nnames && ld.ndocs < 64; i++) {
		char e[1024], *buf;
		size_t len = 0;
		struct yl_ydoc *doc;
		const struct yl_ynode *root;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((buf = read_file(path, &len)) == NULL) {
			yl_errs_add(&ld.errs, path, 0, 0, "%s", strerror(errno));
			continue;
		}
		h = yl_hash64(h, names[i], strlen(names[i]) + 1);
		h = yl_hash64(h, buf, len);
		doc = yl_ydoc_parse(path, buf, len, e, sizeof(e));
		free(buf);
		if (doc == NULL) {
			yl_errs_raw(&ld.errs, e);
			continue;
		}
		ld.docs[ld.ndocs++] = doc;
		root = doc->root;
		if (root == NULL)
			continue;
		if (root->type != YL_Y_MAP) {
			yl_errs_at(&ld.errs, doc, root, "expected a map of "
			    "sections at the top");
			continue;
		}
		for (k = 0; k + 1 < root->n; k += 2) {
			const struct yl_ynode *key = root->kids[k];
			size_t j;

			for (j = 0; top_keys[j] != NULL; j++)
				if (key->type == YL_Y_SCALAR &&
				    strcmp(key->str, top_keys[j]) == 0)
					break;
			if (top_keys[j] == NULL) {
				yl_errs_at(&ld.errs, doc, key, "unknown section "
				    "'%s'", key->str ? key->str : "?");
				continue;
			}
			if (found[j] != NULL) {
				yl_errs_at(&ld.errs, doc, key, "section '%s' "
				    "already given at %s:%d", key->str,
				    found_doc[j]->path, found[j]->line);
				continue;
			}
			found[j] = root->kids[k + 1];
			found_doc[j] = doc;
		}
	}
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);

	/* In the order of top_keys: provisions before what cites them. */
	for (k = 0; top_keys[k] != NULL; k++) {
		const struct yl_ynode *n = found[k];
		const struct yl_ydoc *doc = found_doc[k];
		const char *key = top_keys[k];

		if (n == NULL)
			continue;
		if (strcmp(key, "version") == 0) {
			if (n->type != YL_Y_SCALAR)
				yl_errs_at(&ld.errs, doc, n, "version: expected "
				    "a string");
			else
				version = n->str;
		} else if (strcmp(key, "provisions") == 0)
			load_provisions(&ld, doc, n);
		else if (strcmp(key, "carry_sentences") == 0 ||
		    strcmp(key, "max_body_bytes") == 0) {
			char *end;
			long long x = n->type == YL_Y_SCALAR ?
			    strtoll(n->str, &end, 10) : -1;

			if (n->type != YL_Y_SCALAR || *end != '\0' || x < 0 ||
			    (key[0] == 'c' && x > 10) ||
			    (key[0] == 'm' && (x < 1 || x > (1LL << 30))))
				yl_errs_at(&ld.errs, doc, n, "%s: out of range "
				    "(%s)", key, key[0] == 'c' ? "0 to 10" :
				    "1 to 1073741824");
			else if (key[0] == 'c')
				ld.t->carry = (int)x;
			else
				ld.t->max_body = (size_t)x;
		} else if (strcmp(key, "cues") == 0)
			load_cues(&ld, doc, n);
		else if (strcmp(key, "commodities") == 0)
			load_commodities(&ld, doc, n);
		else if (strcmp(key, "ignore") == 0)
			add_terms(&ld, doc, n, K_IGNORE, 0);
		else if (strcmp(key, "countries") == 0)
			load_named(&ld, doc, n, "countries", K_COUNTRY,
			    &ld.t->countries, &ld.t->ncountries);
		else if (strcmp(key, "crossings") == 0)
			load_named(&ld, doc, n, "crossings", K_CROSSING,
			    &ld.t->crossings, &ld.t->ncrossings);
		else if (strcmp(key, "entities") == 0)
			load_named(&ld, doc, n, "entities", K_ENTITY,
			    &ld.t->entities, &ld.t->nentities);
		else if (strcmp(key, "modes") == 0)
			load_named(&ld, doc, n, "modes", K_MODE,
			    &ld.t->modes, &ld.t->nmodes);
		else if (strcmp(key, "methods") == 0)
			load_named(&ld, doc, n, "methods", K_METHOD,
			    &ld.t->methods, &ld.t->nmethods);
		else if (strcmp(key, "model") == 0)
			load_model(&ld, doc, n);
	}
	if (version == NULL && ld.ndocs > 0)
		yl_errs_add(&ld.errs, dir, 0, 0, "version: missing (give it "
		    "in ruleset.yaml)");
	for (i = 0; i < ld.t->ncats; i++) {
		struct cls_category *c = &ld.t->cats[i];
		int d;

		for (d = 1; d < 4; d++)
			if (c->cite[d].n > 0)
				c->covered = 1;
	}
	if (ld.errs.count == 0 && ld.t->npats == 0)
		yl_errs_add(&ld.errs, dir, 0, 0, "no terms");
	if (ld.errs.count == 0)
		check_duplicates(&ld);
	if (ld.errs.count == 0)
		compile(&ld);
	if (ld.errs.count == 0) {
		char rs[256];

		snprintf(rs, sizeof(rs), "%s+%08llx", version,
		    (unsigned long long)(h >> 32));
		ld.t->ruleset = strdup(rs);
	}
	for (i = 0; i < ld.ndocs; i++)
		yl_ydoc_free(&ld.docs[i]);
	free(ld.where);
	if (ld.errs.count > 0) {
		yl_errs_copy(&ld.errs, err, errsz);
		yl_errs_clear(&ld.errs);
		yl_tax_free(&ld.t);
		return NULL;
	}
	yl_errs_clear(&ld.errs);
	return ld.t;
}

static void
named_free(struct cls_named *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].cite.v);
	}
	free(v);
}

void
yl_tax_free(struct yl_tax **pt)
{
	struct yl_tax *t;
	size_t i;
	int d;

	if (pt == NULL || (t = *pt) == NULL)
		return;
	for (i = 0; i < t->npats; i++) {
		free(t->pats[i].text);
		free(t->pats[i].written);
		for (d = 0; d < 4; d++)
			free(t->pats[i].cite[d].v);
	}
	free(t->pats);
	for (i = 0; i < t->ncats; i++) {
		free(t->cats[i].id);
		for (d = 0; d < 4; d++)
			free(t->cats[i].cite[d].v);
	}
	free(t->cats);
	named_free(t->countries, t->ncountries);
	named_free(t->crossings, t->ncrossings);
	named_free(t->entities, t->nentities);
	named_free(t->modes, t->nmodes);
	named_free(t->methods, t->nmethods);
	for (i = 0; i < t->nprovs; i++)
		free(t->provs[i].id);
	free(t->provs);
	if (t->db != NULL)
		hs_free_database(t->db);
	cls_model_free(&t->model);
	free(t->ruleset);
	free(t);
	*pt = NULL;
}

const char *
yl_tax_ruleset(const struct yl_tax *t)
{
	return t->ruleset;
}

size_t
yl_tax_max_body(const struct yl_tax *t)
{
	return t->max_body;
}

size_t
yl_tax_npatterns(const struct yl_tax *t)
{
	return t->npats;
}
