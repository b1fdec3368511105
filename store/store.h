/*
 * store.h - yalu-store: archives tagged reports in SQLite.
 */
#ifndef YALU_STORE_H
#define YALU_STORE_H

#include <jansson.h>

/* `yalu query [--db PATH] [filters] [--format table|jsonl|csv]` */
int	sto_cmd_query(int argc, char **argv);

/*
 * The archive for `yalu replay --dry-run --db` and `yalu status`
 * (sto_archive.c), read-only, while yalu-store writes. Both return 0, or
 * -1 with the reason in err; fn returning non-zero stops early.
 */
/* Every archived report: its id, ruleset, classified_at (may be NULL) and
   TAGS.md object, all borrowed for the call. */
typedef int (*sto_archive_fn)(const char *id, const char *ruleset,
	    const char *classified_at, json_t *tags, void *arg);
int	sto_archive_each(const char *path, sto_archive_fn fn, void *arg,
	    char *err, size_t errsz);
/* How many reports each ruleset tagged, by ruleset id. */
typedef int (*sto_ruleset_fn)(const char *ruleset, long long n, void *arg);
int	sto_archive_rulesets(const char *path, sto_ruleset_fn fn, void *arg,
	    char *err, size_t errsz);
/*
 * 1 if a report tagged by rs is behind current: an older version, or the
 * same version with other rule files (the ordering of yalu-store).
 */
int	sto_ruleset_older(const char *rs, const char *current);
/*
 * yalu-store's order of two rulesets ("2026.11.0+3f2a9c1") with their
 * classified_at times: the version before '+' by strverscmp(), then
 * classified_at (a missing time is the oldest). <0, 0 or >0 like strcmp.
 */
int	sto_ruleset_cmp(const char *rs_a, const char *at_a, const char *rs_b,
	    const char *at_b);

#endif
