/*
 * sto_archive.c - the archive as the other commands of `yalu` read it:
 * `yalu replay --dry-run --db` (the tags every report has now) and
 * `yalu status` (how many reports each ruleset tagged).
 *
 * Both open the archive read-only, so they work while yalu-store writes.
 * The tags are read through the backend (sto_db_query), never from the
 * tag tables directly, so that a change of their layout stays inside
 * store_sqlite.c; the ruleset summary only needs reports.ruleset.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sto_int.h"

struct each_arg {
	sto_archive_fn	 fn;
	void		*arg;
};

static int
each_row(const struct sto_rec *r, void *arg)
{
	struct each_arg *a = arg;

	return a->fn(r->rep->id, r->ruleset, r->classified_at, r->tags,
	    a->arg);
}

int
sto_archive_each(const char *path, sto_archive_fn fn, void *arg, char *err,
    size_t errsz)
{
	struct sto_filter f;
	struct sto_db *db;
	struct each_arg a = { fn, arg };
	int rc;

	memset(&f, 0, sizeof(f));
	f.min_relevance = -1;
	if ((db = sto_db_open(path, STO_DB_RDONLY, err, errsz)) == NULL)
		return -1;
	rc = sto_db_query(db, &f, each_row, &a, err, errsz);
	sto_db_free(&db);
	return rc;
}

int
sto_archive_rulesets(const char *path, sto_ruleset_fn fn, void *arg,
    char *err, size_t errsz)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	if (access(path, F_OK) == -1) {
		snprintf(err, errsz, "%s: no archive there", path);
		return -1;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		goto fail;
	/* yalu-store may hold the write lock for a moment: wait for it. */
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, "SELECT ruleset, count(*) FROM reports "
	    "GROUP BY ruleset ORDER BY ruleset", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (fn((const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_int64(st, 1), arg) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
fail:
	snprintf(err, errsz, "%s: %s", path, db != NULL ? sqlite3_errmsg(db) :
	    "out of memory");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return -1;
}

int
sto_ruleset_older(const char *rs, const char *current)
{
	int c;

	if (rs == NULL || current == NULL || strcmp(rs, current) == 0)
		return 0;
	/*
	 * The store's rule without the times: a lower version is older.
	 * The same version with other rule files is stale too: only the
	 * current rule files give the current tags.
	 */
	c = sto_ruleset_cmp(rs, NULL, current, NULL);
	return c <= 0 ? 1 : 0;
}
