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

/* Subcommands: argc/argv start at the subcommand's name. */
int	cls_cmd_classify(int argc, char **argv);
int	cls_cmd_test_rules(int argc, char **argv);
int	cls_cmd_eval(int argc, char **argv);
int	cls_cmd_watch(int argc, char **argv);

#endif
