/*
 * yalu.c - the analysts' command: one program, one subcommand per task.
 */
#include <stdio.h>
#include <string.h>

#include "yalu/log.h"

#include "cls_cli.h"
#include "ingest.h"
#include "store.h"
#include "yalu_cli.h"

struct subcmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*help;
};

/* `yalu replay --dry-run --db` reads the archive through yalu-store's code. */
static const struct cls_archive archive = { sto_archive_each, sto_ruleset_cmp };

static int
cmd_replay(int argc, char **argv)
{
	return cls_cmd_replay(argc, argv, &archive);
}

static const struct subcmd cmds[] = {
	{ "classify", cls_cmd_classify, "tag report files or stdin" },
	{ "test-rules", cls_cmd_test_rules, "run the taxonomy's rule tests" },
	{ "eval", cls_cmd_eval, "score the tagger against labelled reports" },
	{ "train", cls_cmd_train, "learn model.yaml from labelled reports" },
	{ "submit", ing_cmd_submit, "send reports to yalu-ingest" },
	{ "watch", cls_cmd_watch, "print the live feed of tagged reports" },
	{ "query", sto_cmd_query, "query the archive" },
	{ "topics", cli_cmd_topics, "create the Kafka topics (topics ensure)" },
	{ "replay", cmd_replay, "re-tag reports.raw with another taxonomy" },
	{ "status", cli_cmd_status, "pipeline health on one screen" },
	{ NULL, NULL, NULL }
};

static void
usage(FILE *fp)
{
	const struct subcmd *c;

	fprintf(fp, "usage: yalu COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
	for (c = cmds; c->name != NULL; c++)
		fprintf(fp, "  %-12s %s\n", c->name, c->help);
	fprintf(fp, "\n'yalu COMMAND --help' tells more.\n");
}

int
main(int argc, char **argv)
{
	const struct subcmd *c;

	yl_log_init("yalu", 0);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (c = cmds; c->name != NULL; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "yalu: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
