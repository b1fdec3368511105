/*
 * classify.h - the classifier: a taxonomy compiled once, then reports
 * tagged by the rules of TAGS.md with evidence for every tag.
 *
 * struct yl_tax is immutable once loaded and may be shared by threads;
 * struct yl_cls holds one thread's scratch space and buffers.
 */
#ifndef YALU_CLASSIFY_H
#define YALU_CLASSIFY_H

#include <stddef.h>

#include <jansson.h>

struct yl_tax;
struct yl_cls;

/*
 * Loads every *.yaml of dir and compiles it. Returns NULL with every
 * problem, one "file:line:col: problem" per line, in err.
 */
struct yl_tax	*yl_tax_load(const char *dir, char *err, size_t errsz);
void		 yl_tax_free(struct yl_tax **);
/* "2026.11.0+3f2a9c1": version plus a hash of the rule files. */
const char	*yl_tax_ruleset(const struct yl_tax *);
size_t		 yl_tax_max_body(const struct yl_tax *);
/* Number of terms and cues compiled into the matcher. */
size_t		 yl_tax_npatterns(const struct yl_tax *);

struct yl_cls	*yl_cls_new(const struct yl_tax *, char *err, size_t errsz);
void		 yl_cls_free(struct yl_cls **);

#define YL_CLS_EXPLAIN	0x1	/* add the terms and cues behind each tag */
#define YL_CLS_RULES_ONLY 0x2	/* skip the learned stage (model.yaml) */
#define YL_CLS_FEATURES	0x4	/* add "candidates": each kept category's
				   features, for `yalu train` */

/*
 * Tags body[0..len). On success *out is a new object
 *   {"ruleset": ..., "tags": {...}}
 * shaped as in TAGS.md (the caller adds "id"). Returns -1 with the reason
 * in err for invalid UTF-8, an empty body or one over max_body_bytes.
 */
int	yl_cls_run(struct yl_cls *, const char *body, size_t len, int flags,
	    json_t **out, char *err, size_t errsz);

/*
 * The same, written as JSON text into a buffer the classifier owns (valid
 * until its next run): the fast path for output and for producing.
 */
int	yl_cls_run_text(struct yl_cls *, const char *body, size_t len,
	    int flags, const char **out, size_t *outlen, char *err,
	    size_t errsz);

/* The contract's IDs (TAGS.md), for validation. */
int	yl_contract_has(const char *facet, const char *id);

#endif
