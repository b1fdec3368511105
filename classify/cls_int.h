/*
 * cls_int.h - the compiled taxonomy, shared by the loader and the engine.
 */
#ifndef YALU_CLS_INT_H
#define YALU_CLS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "classify.h"

enum cls_dir { DIR_UNKNOWN = 0, DIR_IMPORT = 1, DIR_EXPORT = 2, DIR_ANY = 3 };

/* What a pattern stands for. The order matters: see cls_layer(). */
enum cls_kind {
	K_COMMODITY, K_COUNTRY, K_CROSSING, K_ENTITY, K_IGNORE,	/* tags */
	K_MODE, K_METHOD,					/* transport */
	K_CUE_IMPORT, K_CUE_EXPORT, K_CUE_NEG, K_CUE_TRADE, K_CUE_CLAUSE,
	K_CUE_UNSURE, K_CUE_USE, K_CUE_OBS,
	K_NKINDS
};

/*
 * The target of an import or export cue listed under import_weak or
 * export_weak: it gives a direction but does not by itself make a report
 * about trade ("from abroad", "to North Korea" also fill travel news).
 */
#define CLS_CUE_WEAK	1
/*
 * The target of an import_barter or export_barter cue: its direction holds
 * for the goods after it; goods before it in its sentence went the other
 * way, in return ("pass over squid, taking back diesel").
 */
#define CLS_CUE_BARTER	2
/* The target of a label cue, a negation of the goods just after it only. */
#define CLS_CUE_LABEL	3
/* The target of a transit cue, a trade cue that marks foreign goods as
 * passing through. */
#define CLS_CUE_TRANSIT	4
/* The target of a retraction cue, a negation of what its clause named
 * before it ("the rumours turned out to be untrue"). */
#define CLS_CUE_RETRACT	5
/* The target of a general cue: sanctions described in general ("the US
 * added two Chinese firms to its sanctions list"). It negates nothing; its
 * sentence names no trade partner unless it names traded goods. */
#define CLS_CUE_GENERAL	6
/* The target of a sanction cue: a general cue that also governs the goods
 * after it in its clause ("the UN has banned exports of coal"): they are
 * the subject of a sanction, not goods the report sees traded. */
#define CLS_CUE_SANCTION	7

/* Overlapping matches compete only within a layer. */
static inline int
cls_layer(enum cls_kind k)
{
	if (k <= K_IGNORE)
		return 0;
	if (k <= K_METHOD)
		return 1;
	return 2;
}

/* A list of provision indices. */
struct cls_cites {
	int	*v;
	int	 n;
	int	 set;		/* given explicitly (an override) */
};

struct cls_pat {
	char		*text;		/* normalized */
	size_t		 len;
	int		 prefix;	/* written with a trailing '*' */
	enum cls_kind	 kind;
	int		 target;	/* index into the facet's ID table */
	char		*written;	/* as written in YAML, for --explain */
	/* commodity terms only */
	int		 also[4];	/* more categories, -1 terminated */
	struct cls_cites cite[4];	/* by enum cls_dir */
	enum cls_dir	 fixed_dir;	/* DIR_UNKNOWN: none */
	int		 needs_cue;
	int		 needs_sale;	/* a transport word that is goods only
					   where it is sold or bought */
	int		 foreign_sold;	/* goods the DPRK sells: never come in
					   (the category's unless the term
					   says) */
	int		 country;	/* crossing terms: country index, -1 */
};

struct cls_category {
	char		*id;
	struct cls_cites cite[4];
	enum cls_dir	 default_dir;
	int		 covered;	/* some direction cites something */
	int		 foreign_sold;	/* foreign-made ones are no import */
	enum cls_dir	 usual_dir;	/* which way the DPRK trades them */
};

struct cls_named {
	char		*id;
	int		 designated;	/* entities */
	struct cls_cites cite;		/* methods, entities */
};

struct cls_provision {
	char	*id;
	int	 ban;			/* 1: ban, 0: cap */
};

/*
 * The learned second stage (model.yaml, written by `yalu train`): two
 * logistic regressions over features of each commodity category the rules
 * kept. presence: is the category traded at all; direction: is it traded
 * in direction d (features prefixed "d|"). Weights sorted by name.
 */
struct cls_weight {
	char	*name;
	double	 w;
};

/* A feature's four weights: presence, then unknown|, import|, export|. */
struct cls_wentry {
	const char	*name;		/* NULL: empty slot */
	uint64_t	 hash;
	double		 w[4];
};

struct cls_model {
	struct cls_weight	*presence, *direction;
	size_t			 npresence, ndirection;
	struct cls_wentry	*tab;		/* open addressing by name */
	size_t			 tabmask;
	double			 presence_min, direction_min;
	double			 reassign_min;	/* unknown -> a direction */
	double			 revive_min;	/* dropped -> traded; 0: never */
	int			 set;
};

/*
 * A feature vector: names and values, built per category and report.
 * Adding a name already there merges (sum: counts add up; else the
 * value is set), found through a small hash index.
 */
struct cls_feat {
	char			 name[48];
	uint64_t		 hash;
	double			 v;
	int			 sum;
	const struct cls_wentry	*e;	/* its weights, when only is set */
};

struct cls_fvec {
	struct cls_feat		*v;
	size_t			 n, cap;
	uint32_t		*idx;	/* 1 + index into v, 0 empty */
	size_t			 idxmask;
	/*
	 * When set, a feature the model has no weight for is not kept:
	 * it cannot change a score. Training and YL_CLS_FEATURES leave it
	 * NULL to see every feature.
	 */
	const struct cls_model	*only;
};

void	cls_fvec_reset(struct cls_fvec *);
void	cls_fvec_free(struct cls_fvec *);
int	cls_fvec_add(struct cls_fvec *, const char *name, double v, int sum);
int	cls_fvec_words(struct cls_fvec *, const char *body, size_t len,
	    size_t start, size_t end);
int	cls_fvec_term(struct cls_fvec *, const char *body, size_t start,
	    size_t end);
int	cls_fvec_span(struct cls_fvec *, const char *pfx, const char *body,
	    size_t from, size_t to);
void	cls_fvec_log1p(struct cls_fvec *);
/* Builds the table of m from its presence and direction arrays. */
int	cls_model_index(struct cls_model *m);
/* p[0]: presence; p[1 + d]: direction d (unknown, import, export). */
void	cls_model_score(const struct cls_model *, const struct cls_fvec *,
	    double p[4]);
void	cls_model_free(struct cls_model *);

struct yl_tax {
	char			*ruleset;
	struct cls_model	 model;
	size_t			 max_body;
	int			 carry;
	struct cls_pat		*pats;
	size_t			 npats;
	struct cls_category	*cats;
	size_t			 ncats;
	struct cls_named	*countries, *crossings, *entities, *modes,
				*methods;
	size_t			 ncountries, ncrossings, nentities, nmodes,
				 nmethods;
	struct cls_provision	*provs;
	size_t			 nprovs;
	hs_database_t		*db;
};

extern const char *const cls_dir_names[4];

#endif
