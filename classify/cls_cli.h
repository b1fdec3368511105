/*
 * cls_cli.h - the classifier's subcommands of `yalu`, and helpers they share.
 */
#ifndef YALU_CLS_CLI_H
#define YALU_CLS_CLI_H

#include <stdio.h>

#include <jansson.h>

#include "classify.h"

/*
 * The taxonomy directory: --taxonomy, else $YALU_TAXONOMY, else
 * ./configs/taxonomy, else the installed one, else the source tree's.
 */
const char	*cls_taxonomy_dir(const char *given);
/* Loads the taxonomy, printing every problem to stderr on failure. */
struct yl_tax	*cls_taxonomy_open(const char *given);

/*
 * Calls fn for every report of the inputs (.txt: one report, id from the
 * file name; .jsonl or stdin starting with '{': one per line). A report
 * that cannot be read calls bad() with "where: reason". Returns the
 * number of bad reports, or -1 if an input could not be opened.
 */
struct cls_input {
	const char	*id;		/* may be NULL */
	const char	*body;
	size_t		 len;
	const char	*where;		/* "file" or "file:line" */
	const char	*file;		/* base name of the file */
	json_t		*obj;		/* the JSON line, or NULL */
};
typedef int (*cls_input_fn)(const struct cls_input *, void *arg);
int	cls_for_each_input(char **files, int nfiles, size_t max_body,
	    cls_input_fn fn, void *arg);

/* Writes the compact human summary of one result. */
void	cls_print_text(FILE *, const char *id, const char *body,
	    json_t *result, int explain);

/*
 * One line of a GOLD.jsonl: the object and its "file", or NULL for a
 * blank line, or NULL with bad incremented after saying path:line: why.
 */
json_t	*cls_gold_line(const char *line, const char *path, size_t lineno,
	    const char **file, int *bad);
/* A whole file, NUL-terminated; NULL with errno set. */
char	*cls_read_file(const char *path, size_t *len);

/* Subcommands: argc/argv start at the subcommand's name. */
int	cls_cmd_classify(int argc, char **argv);
int	cls_cmd_test_rules(int argc, char **argv);
int	cls_cmd_eval(int argc, char **argv);
int	cls_cmd_train(int argc, char **argv);
int	cls_cmd_watch(int argc, char **argv);

/* ------------------------------------------------ yalu replay (cls_replay.c) */

/*
 * The tags of a TAGS.md object as "facet id" keys, sorted, one per line
 * ("commodities seafood/export\nprovisions UNSCR-2371-OP9\nrelevance
 * high\n"): commodities with their direction, the IDs of the other list
 * facets, the provision IDs and the relevance level. A new string, or
 * NULL if tags is not an object (or out of memory).
 */
char		*cls_tag_keys(json_t *tags);

/*
 * The dry run's diff: per "facet id", how many reports gain and lose it,
 * with the smallest report ids as examples (at most `examples` each), so
 * the output does not depend on the order partitions are read in.
 */
struct cls_diff;

struct cls_diff	*cls_diff_new(size_t examples);
void		 cls_diff_free(struct cls_diff **);
/* One report: its keys before and after (cls_tag_keys). 0 or -1 (ENOMEM). */
int		 cls_diff_add(struct cls_diff *, const char *id,
		    const char *before, const char *after);
long long	 cls_diff_compared(const struct cls_diff *);
long long	 cls_diff_changed(const struct cls_diff *);
/*
 * {"compared": N, "changed": N, "changes": [{"facet", "id", "gain",
 * "lose", "gain_examples", "lose_examples"}, ...]} in facet order
 * (commodities ... entities, provisions, relevance), then by ID. New
 * reference, or NULL.
 */
json_t		*cls_diff_json(const struct cls_diff *);
/* The same as a table for people. 0 or -1. */
int		 cls_diff_print(const struct cls_diff *, FILE *);

/*
 * --from: "earliest" (*ts_ms = -1), an ISO 8601 date or time (UTC unless
 * it says otherwise) or "-DURATION" before now_ms (-90m, -2h, -1h30m,
 * -7d; units s m h d w). 0, or -1 if s is none of these.
 */
int		 cls_replay_from(const char *s, long long now_ms,
		    long long *ts_ms);

/*
 * What `yalu replay --dry-run --db` needs from the archive, given by the
 * `yalu` program (yalu-store's library): every archived report with its
 * ruleset, classified_at and tags, and yalu-store's order of rulesets.
 */
typedef int (*cls_archive_row_fn)(const char *id, const char *ruleset,
		    const char *classified_at, json_t *tags, void *arg);
struct cls_archive {
	int	(*each)(const char *db, cls_archive_row_fn fn, void *arg,
		    char *err, size_t errsz);
	int	(*cmp)(const char *rs_a, const char *at_a, const char *rs_b,
		    const char *at_b);
};

/* `yalu replay`; ar may be NULL (then --db is refused). */
int	cls_cmd_replay(int argc, char **argv, const struct cls_archive *ar);

#endif
