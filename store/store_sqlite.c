/*
 * store_sqlite.c - the SQLite backend of the archive.
 *
 * One database file in WAL mode: yalu-store is the one writer, and any
 * number of `yalu query` readers (opened SQLITE_OPEN_READONLY) read a
 * consistent snapshot while it writes. Schema version 2 (PRAGMA
 * user_version):
 *
 *   reports     one row per report id; rid is an explicit INTEGER PRIMARY
 *               KEY because the FTS5 index and the tag tables refer to
 *               rows by it, and VACUUM may renumber an implicit rowid;
 *               tags holds the TAGS.md object as the classifier sent it
 *               (JSON, evidence included): what `yalu query` prints
 *   tags        (facet, tag_id, direction, rid): one row per tag, for the
 *               filters; direction is '' outside commodities
 *   provisions  (provision_id, rid, because): because is the JSON array
 *               of triggers, e.g. ["seafood/export"]
 *   reports_fts FTS5 over reports.title and reports.body (external
 *               content: the text is stored once, in reports)
 *
 * Written for speed (yalu-store was the pipeline's bottleneck): tags and
 * provisions are WITHOUT ROWID tables whose primary key is the filter's
 * index, so a tag costs one b-tree entry, not a row and two index
 * entries; evidence stays inside the tags JSON instead of one row per
 * span (reach it from SQL with json_each); the FTS5 index is written by
 * the code, not by triggers, so that a redelivered report whose title and
 * body did not change is not indexed again.
 *
 * A report that is archived again (Kafka redelivers after a crash or a
 * rebalance; the classifier re-tags) is updated in place: the reports row
 * keeps its rid and archived_at, the tag rows its old tags JSON names are
 * deleted and the new ones inserted, all inside the batch's transaction.
 * If the archived row came from a newer ruleset, it is kept as it is.
 * yalu never deletes a report; triggers clean the other tables when
 * someone does by hand.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "yalu/log.h"

#include "sto_int.h"

#define SCHEMA_VERSION	2
#define BUSY_TIMEOUT_MS	5000

static const char schema_v2[] =
	"CREATE TABLE reports ("
	" rid INTEGER PRIMARY KEY,"
	" id TEXT NOT NULL UNIQUE,"
	" source TEXT,"
	" title TEXT,"
	" body TEXT NOT NULL,"
	" received_at TEXT,"
	" published_at TEXT,"
	" dated_at TEXT,"	/* published_at else received_at, UTC */
	" classified_at TEXT,"
	" ruleset TEXT NOT NULL,"
	" relevance TEXT NOT NULL,"
	" meta TEXT,"			/* JSON object */
	" tags TEXT NOT NULL,"		/* JSON: the TAGS.md object */
	" archived_at TEXT NOT NULL,"
	" updated_at TEXT NOT NULL,"
	" kafka_partition INTEGER,"
	" kafka_offset INTEGER);"
	"CREATE INDEX reports_dated ON reports(dated_at);"
	"CREATE INDEX reports_relevance ON reports(relevance, dated_at);"
	"CREATE TABLE tags ("
	" facet TEXT NOT NULL,"
	" tag_id TEXT NOT NULL,"
	" direction TEXT NOT NULL,"
	" rid INTEGER NOT NULL,"
	" PRIMARY KEY (facet, tag_id, direction, rid)) WITHOUT ROWID;"
	"CREATE TABLE provisions ("
	" provision_id TEXT NOT NULL,"
	" rid INTEGER NOT NULL,"
	" because TEXT NOT NULL,"
	" PRIMARY KEY (provision_id, rid)) WITHOUT ROWID;"
	"CREATE VIRTUAL TABLE reports_fts USING fts5(title, body,"
	" content='reports', content_rowid='rid',"
	" tokenize='unicode61 remove_diacritics 2');"
	/*
	 * Every commit adds a segment to the index; FTS5 merges segments
	 * once `automerge` of them pile up on a level. 16 instead of 4
	 * rewrites each entry half as often (a sixth less CPU per report
	 * under load) for a few more segments to read per search.
	 */
	"INSERT INTO reports_fts(reports_fts, rank) VALUES ('automerge', 16);"
	"INSERT INTO reports_fts(reports_fts, rank) VALUES ('crisismerge', 32);"
	/* Only for a hand-made DELETE: yalu itself never deletes. */
	"CREATE TRIGGER reports_ad AFTER DELETE ON reports BEGIN"
	" INSERT INTO reports_fts(reports_fts, rowid, title, body)"
	"  VALUES ('delete', old.rid, old.title, old.body);"
	" DELETE FROM tags WHERE rid = old.rid;"
	" DELETE FROM provisions WHERE rid = old.rid;"
	" END;"
	"PRAGMA user_version = 2;";

/* The statements of the write path, prepared once. */
enum {
	S_FIND, S_INSERT, S_UPDATE, S_DEL_TAG, S_DEL_PROV, S_ADD_TAG,
	S_ADD_PROV, S_FTS_ADD, S_FTS_DEL, S_COUNT
};

static const char *const write_sql[S_COUNT] = {
	[S_FIND] = "SELECT rid, ruleset, classified_at, title, body, tags "
	    "FROM reports WHERE id = ?1",
	[S_INSERT] = "INSERT INTO reports (id, source, title, body, "
	    "received_at, published_at, dated_at, classified_at, ruleset, "
	    "relevance, meta, archived_at, updated_at, kafka_partition, "
	    "kafka_offset, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10, ?11, ?12, ?12, ?13, ?14, ?15)",
	[S_UPDATE] = "UPDATE reports SET source = ?2, title = ?3, body = ?4, "
	    "received_at = ?5, published_at = ?6, dated_at = ?7, "
	    "classified_at = ?8, ruleset = ?9, relevance = ?10, meta = ?11, "
	    "updated_at = ?12, kafka_partition = ?13, kafka_offset = ?14, "
	    "tags = ?15 WHERE rid = ?16",
	[S_DEL_TAG] = "DELETE FROM tags WHERE facet = ?1 AND tag_id = ?2 AND "
	    "direction = ?3 AND rid = ?4",
	[S_DEL_PROV] = "DELETE FROM provisions WHERE provision_id = ?1 AND "
	    "rid = ?2",
	[S_ADD_TAG] = "INSERT INTO tags (facet, tag_id, direction, rid) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[S_ADD_PROV] = "INSERT INTO provisions (provision_id, rid, because) "
	    "VALUES (?1, ?2, ?3)",
	[S_FTS_ADD] = "INSERT INTO reports_fts (rowid, title, body) "
	    "VALUES (?1, ?2, ?3)",
	[S_FTS_DEL] = "INSERT INTO reports_fts (reports_fts, rowid, title, "
	    "body) VALUES ('delete', ?1, ?2, ?3)",
};

struct sqlite_h {
	sqlite3		*db;
	char		*path;
	int		 rdonly;
	int		 in_tx;
	int		 isolate;	/* STO_TX_ISOLATE: savepoint per put */
	sqlite3_stmt	*st[S_COUNT];
};

static void
set_err(struct sqlite_h *h, const char *what, char *err, size_t errsz)
{
	snprintf(err, errsz, "%s: %s: %s", h->path, what,
	    sqlite3_errmsg(h->db));
}

static int
exec(struct sqlite_h *h, const char *sql, char *err, size_t errsz)
{
	char *msg = NULL;

	if (sqlite3_exec(h->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", h->path,
		    msg != NULL ? msg : sqlite3_errmsg(h->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* The integer result of a one-value statement such as a PRAGMA. */
static int
query_int(struct sqlite_h *h, const char *sql, long long *out, char *err,
    size_t errsz)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK) {
		set_err(h, sql, err, errsz);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		set_err(h, sql, err, errsz);
		sqlite3_finalize(st);
		return -1;
	}
	*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/*
 * Creates the schema in an empty file, or checks the version of an
 * existing one. A file with other tables and no version is not ours.
 */
static int
ensure_schema(struct sqlite_h *h, char *err, size_t errsz)
{
	long long ver, ntables;

	if (exec(h, "BEGIN IMMEDIATE", err, errsz) == -1)
		return -1;
	if (query_int(h, "PRAGMA user_version", &ver, err, errsz) == -1 ||
	    query_int(h, "SELECT count(*) FROM sqlite_master", &ntables, err,
	    errsz) == -1)
		goto fail;
	if (ver == 0 && ntables > 0) {
		snprintf(err, errsz, "%s: not a yalu archive (tables without "
		    "a schema version)", h->path);
		goto fail;
	}
	if (ver > 0 && ver < SCHEMA_VERSION) {
		/* Pre-release formats: no migration, archive anew. */
		snprintf(err, errsz, "%s: archive schema version %lld is older "
		    "than this yalu-store's (%d): archive into a new file "
		    "(reports.tagged can be consumed again by a new group)",
		    h->path, ver, SCHEMA_VERSION);
		goto fail;
	}
	if (ver > SCHEMA_VERSION) {
		snprintf(err, errsz, "%s: archive schema version %lld is newer "
		    "than this yalu-store's (%d)", h->path, ver,
		    SCHEMA_VERSION);
		goto fail;
	}
	if (ver == 0) {
		if (exec(h, schema_v2, err, errsz) == -1)
			goto fail;
		yl_log_info("store: %s: archive created (schema version %d)",
		    h->path, SCHEMA_VERSION);
	}
	return exec(h, "COMMIT", err, errsz);
fail:
	sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static void sqlite_close(void *vh);

static void *
sqlite_open(const char *path, int flags, char *err, size_t errsz)
{
	struct sqlite_h *h;
	long long ver;
	int oflags, i;
	char mode[16] = "";

	if (!sqlite3_compileoption_used("ENABLE_FTS5")) {
		snprintf(err, errsz, "SQLite %s was built without FTS5",
		    sqlite3_libversion());
		return NULL;
	}
	if ((flags & STO_DB_RDONLY) && access(path, F_OK) == -1) {
		snprintf(err, errsz, "%s: no archive there (set --db or "
		    "$YALU_DB)", path);
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->path = strdup(path)) == NULL) {
		free(h);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	h->rdonly = (flags & STO_DB_RDONLY) != 0;
	oflags = h->rdonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &h->db, oflags | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		if (h->db != NULL)
			set_err(h, "open", err, errsz);
		else
			snprintf(err, errsz, "%s: open: out of memory", path);
		goto fail;
	}
	sqlite3_extended_result_codes(h->db, 1);
	/*
	 * The writer holds the lock for one batch at a time; a reader
	 * waits briefly while WAL recovery runs after a crash.
	 */
	sqlite3_busy_timeout(h->db, BUSY_TIMEOUT_MS);
	if (h->rdonly) {
		if (query_int(h, "PRAGMA user_version", &ver, err, errsz) == -1)
			goto fail;
		if (ver != SCHEMA_VERSION) {
			snprintf(err, errsz, "%s: %s", path, ver == 0 ?
			    "not a yalu archive" : ver < SCHEMA_VERSION ?
			    "archive schema is older than this yalu" :
			    "archive schema is newer than this yalu");
			goto fail;
		}
		return h;
	}
	/* WAL: readers never block the writer nor the writer them. */
	{
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(h->db, "PRAGMA journal_mode=WAL", -1,
		    &st, NULL) != SQLITE_OK) {
			set_err(h, "journal_mode", err, errsz);
			goto fail;
		}
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(mode, sizeof(mode), "%s",
			    (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		if (strcmp(mode, "wal") != 0) {
			snprintf(err, errsz, "%s: cannot switch to WAL mode "
			    "(journal mode is '%s')", path, mode);
			goto fail;
		}
	}
	/*
	 * synchronous=FULL, not NORMAL: in WAL mode NORMAL survives a crash
	 * of the process but a power loss may roll back the last commits.
	 * We tell Kafka a batch is done (offsets stored, then committed)
	 * right after its COMMIT returns, so a commit that could still
	 * vanish would lose those reports for good: Kafka would not
	 * redeliver them. FULL syncs the WAL on every commit; with one
	 * commit per batch of up to 500 reports the cost is one fsync per
	 * batch.
	 */
	if (exec(h, "PRAGMA synchronous=FULL", err, errsz) == -1 ||
	    ensure_schema(h, err, errsz) == -1)
		goto fail;
	for (i = 0; i < S_COUNT; i++)
		if (sqlite3_prepare_v3(h->db, write_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &h->st[i], NULL) != SQLITE_OK) {
			set_err(h, "prepare", err, errsz);
			goto fail;
		}
	return h;
fail:
	sqlite_close(h);
	return NULL;
}

static void
sqlite_close(void *vh)
{
	struct sqlite_h *h = vh;
	int i;

	if (h == NULL)
		return;
	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(h->st[i]);
	if (h->db != NULL) {
		if (h->in_tx)
			sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		/* The last connection checkpoints and removes the WAL. */
		sqlite3_close(h->db);
	}
	free(h->path);
	free(h);
}

static int
sqlite_begin(void *vh, int flags, char *err, size_t errsz)
{
	struct sqlite_h *h = vh;

	/* IMMEDIATE: take the write lock now, not halfway through. */
	if (exec(h, "BEGIN IMMEDIATE", err, errsz) == -1)
		return -1;
	h->in_tx = 1;
	h->isolate = (flags & STO_TX_ISOLATE) != 0;
	return 0;
}

static int
sqlite_commit(void *vh, char *err, size_t errsz)
{
	struct sqlite_h *h = vh;

	if (exec(h, "COMMIT", err, errsz) == -1)
		return -1;
	h->in_tx = 0;
	return 0;
}

static void
sqlite_rollback(void *vh)
{
	struct sqlite_h *h = vh;

	if (h->in_tx)
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	h->in_tx = 0;
}

/* ---------------------------------------------------------------- writing */

static void
bind_str(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Runs a bound statement that returns no row, then resets it. */
static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Adds (add != 0) or deletes the tags and provisions rows of the TAGS.md
 * object tags for report rid. Only what the decoder let through is here:
 * known facets, no duplicates.
 */
static int
tag_rows(struct sqlite_h *h, const json_t *tags, sqlite3_int64 rid, int add)
{
	sqlite3_stmt *ts = h->st[add ? S_ADD_TAG : S_DEL_TAG];
	sqlite3_stmt *ps = h->st[add ? S_ADD_PROV : S_DEL_PROV];
	const json_t *provs, *t, *p;
	size_t fi, i;

	for (fi = 0; sto_facets[fi] != NULL; fi++) {
		json_array_foreach(json_object_get(tags, sto_facets[fi]), i,
		    t) {
			const char *dir = json_string_value(json_object_get(t,
			    "direction"));

			bind_str(ts, 1, sto_facets[fi]);
			bind_str(ts, 2, json_string_value(json_object_get(t,
			    "id")));
			/* NOT NULL in a primary key: '' for no direction. */
			bind_str(ts, 3, dir != NULL ? dir : "");
			sqlite3_bind_int64(ts, 4, rid);
			if (step_done(ts) == -1)
				return -1;
		}
	}
	provs = json_object_get(json_object_get(tags, "sanctions"),
	    "provisions");
	json_array_foreach(provs, i, p) {
		const json_t *because = json_object_get(p, "because");
		char *bj = NULL;
		int rc;

		bind_str(ps, 1, json_string_value(json_object_get(p, "id")));
		sqlite3_bind_int64(ps, 2, rid);
		if (add) {
			bj = because != NULL ? json_dumps(because,
			    JSON_COMPACT) : strdup("[]");
			if (bj == NULL) {
				sqlite3_reset(ps);
				sqlite3_clear_bindings(ps);
				return -1;
			}
			sqlite3_bind_text(ps, 3, bj, -1, SQLITE_STATIC);
		}
		rc = step_done(ps);
		free(bj);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/*
 * Deletes the tags and provisions rows of report rid, named by its
 * archived tags JSON (their primary keys: no scan). Should that JSON not
 * parse (the file was edited by hand), every row of rid goes, by a scan.
 */
static int
del_tag_rows(struct sqlite_h *h, const char *old, sqlite3_int64 rid)
{
	sqlite3_stmt *st;
	json_t *tags;
	int rc, i;

	if (old != NULL && (tags = json_loads(old, 0, NULL)) != NULL) {
		rc = tag_rows(h, tags, rid, 0);
		json_decref(tags);
		return rc;
	}
	for (i = 0; i < 2; i++) {
		if (sqlite3_prepare_v2(h->db, i == 0 ? "DELETE FROM tags "
		    "WHERE rid = ?1" : "DELETE FROM provisions WHERE rid = ?1",
		    -1, &st, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_int64(st, 1, rid);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

/* Binds the report columns ?1..?15 shared by INSERT and UPDATE. */
static void
bind_report(sqlite3_stmt *st, const struct sto_rec *rec, const char *meta,
    const char *tags, size_t tags_len, const char *now)
{
	const struct yl_report *r = rec->rep;

	bind_str(st, 1, r->id);
	bind_str(st, 2, r->source);
	bind_str(st, 3, r->title);
	sqlite3_bind_text(st, 4, r->body, (int)r->body_len, SQLITE_STATIC);
	bind_str(st, 5, r->received_at);
	bind_str(st, 6, r->published_at);
	bind_str(st, 7, rec->dated_at);
	bind_str(st, 8, rec->classified_at);
	bind_str(st, 9, rec->ruleset);
	bind_str(st, 10, rec->relevance);
	bind_str(st, 11, meta);
	bind_str(st, 12, now);
	if (rec->partition >= 0) {
		sqlite3_bind_int(st, 13, rec->partition);
		sqlite3_bind_int64(st, 14, rec->offset);
	} else {
		sqlite3_bind_null(st, 13);
		sqlite3_bind_null(st, 14);
	}
	sqlite3_bind_text(st, 15, tags, (int)tags_len, SQLITE_STATIC);
}

/* Whether column i of st holds the string s (NULL included). */
static int
col_is(sqlite3_stmt *st, int i, const char *s, size_t len)
{
	const void *c = sqlite3_column_blob(st, i);

	if (c == NULL || s == NULL)
		return c == NULL && s == NULL;
	return (size_t)sqlite3_column_bytes(st, i) == len &&
	    memcmp(c, s, len) == 0;
}

/*
 * Archives one record. -1 with the reason in err and the SQLite result
 * code in *code; in a batch without savepoints, the caller must then roll
 * back.
 */
static int
put_rec(struct sqlite_h *h, const struct sto_rec *rec,
    enum sto_outcome *outcome, int *code, char *err, size_t errsz)
{
	const struct yl_report *r = rec->rep;
	sqlite3_stmt *st = h->st[S_FIND];
	char now[32], *meta = NULL, *tags = NULL;
	sqlite3_int64 rid = 0;
	int rc, found, same = 0;

	bind_str(st, 1, r->id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	found = rc == SQLITE_ROW;
	if (found && sto_ruleset_cmp((const char *)sqlite3_column_text(st, 1),
	    (const char *)sqlite3_column_text(st, 2), rec->ruleset,
	    rec->classified_at) > 0) {
		/* Tagged by a newer ruleset already: that one wins. */
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		*outcome = STO_KEPT_NEWER;
		return 0;
	}
	if (found) {
		/*
		 * The old rows go while the old values are at hand. The
		 * text is indexed again only if it changed: a redelivery
		 * mostly brings the same report.
		 */
		rid = sqlite3_column_int64(st, 0);
		same = col_is(st, 3, r->title, r->title != NULL ?
		    strlen(r->title) : 0) && col_is(st, 4, r->body,
		    r->body_len);
		if (del_tag_rows(h, (const char *)sqlite3_column_text(st, 5),
		    rid) == -1)
			goto fail;
		if (!same) {
			sqlite3_stmt *fd = h->st[S_FTS_DEL];

			sqlite3_bind_int64(fd, 1, rid);
			sqlite3_bind_value(fd, 2, sqlite3_column_value(st, 3));
			sqlite3_bind_value(fd, 3, sqlite3_column_value(st, 4));
			if (step_done(fd) == -1)
				goto fail;
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	yl_now_iso(now, sizeof(now));
	/* The tags as the message spelled them, else dumped again. */
	if ((r->meta != NULL &&
	    (meta = json_dumps(r->meta, JSON_COMPACT)) == NULL) ||
	    (rec->tags_text == NULL &&
	    (tags = json_dumps(rec->tags, JSON_COMPACT)) == NULL)) {
		snprintf(err, errsz, "%s: %s: out of memory", h->path, r->id);
		*code = SQLITE_NOMEM;
		goto out;
	}
	st = h->st[found ? S_UPDATE : S_INSERT];
	if (rec->tags_text != NULL)
		bind_report(st, rec, meta, rec->tags_text, rec->tags_len, now);
	else
		bind_report(st, rec, meta, tags, strlen(tags), now);
	if (found)
		sqlite3_bind_int64(st, 16, rid);
	if (step_done(st) == -1)
		goto fail;
	if (!found)
		rid = sqlite3_last_insert_rowid(h->db);
	if (!same) {
		st = h->st[S_FTS_ADD];
		sqlite3_bind_int64(st, 1, rid);
		bind_str(st, 2, r->title);
		sqlite3_bind_text(st, 3, r->body, (int)r->body_len,
		    SQLITE_STATIC);
		if (step_done(st) == -1)
			goto fail;
	}
	if (tag_rows(h, rec->tags, rid, 1) == -1)
		goto fail;
	free(meta);
	free(tags);
	*outcome = found ? STO_UPDATED : STO_INSERTED;
	return 0;
fail:
	*code = sqlite3_extended_errcode(h->db);
	set_err(h, r->id, err, errsz);
out:
	sqlite3_reset(h->st[S_FIND]);
	sqlite3_clear_bindings(h->st[S_FIND]);
	free(meta);
	free(tags);
	return -1;
}

/*
 * Errors that belong to one record (a constraint, a value too big) roll
 * back that record's savepoint and let the batch go on; anything else
 * (I/O, full disk, corruption, lock) fails the transaction.
 */
static int
record_error(int code)
{
	switch (code & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_TOOBIG:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return 1;
	default:
		return 0;
	}
}

/*
 * Without STO_TX_ISOLATE, records are written straight into the batch's
 * transaction and any failure is the transaction's: the caller rolls
 * back and, if it wants the good records, redoes the batch isolated.
 * A savepoint per record cost a tenth of the time, for a failure the
 * decoder nearly always catches first.
 */
static int
sqlite_put(void *vh, const struct sto_rec *rec, enum sto_outcome *outcome,
    char *err, size_t errsz)
{
	struct sqlite_h *h = vh;
	enum sto_outcome oc;
	int code = SQLITE_OK;

	if (!h->isolate) {
		if (put_rec(h, rec, &oc, &code, err, errsz) == -1)
			return -1;
		*outcome = oc;
		return 0;
	}
	if (exec(h, "SAVEPOINT rec", err, errsz) == -1)
		return -1;
	if (put_rec(h, rec, &oc, &code, err, errsz) == 0) {
		if (exec(h, "RELEASE rec", err, errsz) == -1)
			return -1;
		*outcome = oc;
		return 0;
	}
	if (!record_error(code))
		return -1;
	if (sqlite3_exec(h->db, "ROLLBACK TO rec; RELEASE rec", NULL, NULL,
	    NULL) != SQLITE_OK)
		return -1;
	*outcome = STO_REJECTED;
	return 0;
}

/* ---------------------------------------------------------------- queries */

char *
sto_fts_query(const char *words)
{
	size_t cap = strlen(words) * 2 + 16, n = 0;
	const char *p = words, *w;
	char *q;

	if ((q = malloc(cap)) == NULL)
		return NULL;
	for (;;) {
		size_t len, i;
		int prefix = 0, wordy = 0;

		while (*p != '\0' && isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		for (w = p; *p != '\0' && !isspace((unsigned char)*p); p++)
			;
		len = (size_t)(p - w);
		if (len > 1 && w[len - 1] == '*') {
			prefix = 1;
			len--;
		}
		/* A word of punctuation alone would be an empty phrase. */
		for (i = 0; i < len; i++)
			if (isalnum((unsigned char)w[i]) ||
			    (unsigned char)w[i] >= 0x80)
				wordy = 1;
		if (!wordy)
			continue;
		if (n > 0)
			q[n++] = ' ';
		q[n++] = '"';
		for (i = 0; i < len; i++) {
			if (w[i] == '"')
				q[n++] = '"';
			q[n++] = w[i];
		}
		q[n++] = '"';
		if (prefix)
			q[n++] = '*';
	}
	if (n == 0) {
		free(q);
		return NULL;
	}
	q[n] = '\0';
	return q;
}

/* A WHERE clause under construction, with its parameters. */
#define MAXPARAMS	32
struct where {
	char		 sql[2048];
	size_t		 len;
	const char	*p[MAXPARAMS];
	long long	 pi[MAXPARAMS];	/* used when p[i] is NULL */
	int		 n;
	char		*fts;		/* owned */
};

static void
w_add(struct where *w, const char *sql)
{
	int n = snprintf(w->sql + w->len, sizeof(w->sql) - w->len, " AND %s",
	    sql);

	if (n > 0)
		w->len += (size_t)n;
}

static void
w_str(struct where *w, const char *s)
{
	if (w->n < MAXPARAMS)
		w->p[w->n++] = s;
}

static void
w_int(struct where *w, long long v)
{
	if (w->n < MAXPARAMS) {
		w->p[w->n] = NULL;
		w->pi[w->n++] = v;
	}
}

static void
w_tag(struct where *w, const char *facet, const char *id)
{
	if (id == NULL)
		return;
	w_add(w, "r.rid IN (SELECT rid FROM tags WHERE facet = ? AND "
	    "tag_id = ?)");
	w_str(w, facet);
	w_str(w, id);
}

/* Builds the filter's WHERE clause (after "WHERE 1"). */
static int
build_where(const struct sto_filter *f, struct where *w, char *err,
    size_t errsz)
{
	int i;

	memset(w, 0, sizeof(*w));
	if (f->commodity != NULL && f->direction != NULL) {
		/* The direction is the direction of that commodity. */
		w_add(w, "r.rid IN (SELECT rid FROM tags WHERE "
		    "facet = 'commodities' AND tag_id = ? AND direction = ?)");
		w_str(w, f->commodity);
		w_str(w, f->direction);
	} else if (f->direction != NULL) {
		w_add(w, "r.rid IN (SELECT rid FROM tags WHERE "
		    "facet = 'commodities' AND direction = ?)");
		w_str(w, f->direction);
	} else
		w_tag(w, "commodities", f->commodity);
	w_tag(w, "crossings", f->crossing);
	w_tag(w, "countries", f->country);
	w_tag(w, "entities", f->entity);
	w_tag(w, "methods", f->method);
	w_tag(w, "modes", f->mode);
	if (f->provision != NULL) {
		w_add(w, "r.rid IN (SELECT rid FROM provisions WHERE "
		    "provision_id = ?)");
		w_str(w, f->provision);
	}
	if (f->min_relevance > 0) {
		/* At least: an IN list keeps the relevance index usable. */
		char in[128] = "r.relevance IN (";

		for (i = f->min_relevance; sto_relevance_levels[i] != NULL;
		    i++) {
			strcat(in, i > f->min_relevance ? ", ?" : "?");
			w_str(w, sto_relevance_levels[i]);
		}
		strcat(in, ")");
		w_add(w, in);
	}
	if (f->since[0] != '\0') {
		w_add(w, "r.dated_at >= ?");
		w_str(w, f->since);
	}
	if (f->until[0] != '\0') {
		/* Inclusive: --until 2026-11 takes all of November. */
		w_add(w, "substr(r.dated_at, 1, ?) <= ?");
		w_int(w, (long long)strlen(f->until));
		w_str(w, f->until);
	}
	if (f->text != NULL) {
		if ((w->fts = sto_fts_query(f->text)) == NULL) {
			snprintf(err, errsz, "--text: no word to search for");
			return -1;
		}
		w_add(w, "r.rid IN (SELECT rowid FROM reports_fts WHERE "
		    "reports_fts MATCH ?)");
		w_str(w, w->fts);
	}
	if (w->n >= MAXPARAMS || w->len >= sizeof(w->sql) - 1) {
		snprintf(err, errsz, "query too complex");
		free(w->fts);
		return -1;
	}
	return 0;
}

static int
prepare_where(struct sqlite_h *h, const char *head, const struct where *w,
    const char *tail, sqlite3_stmt **out, char *err, size_t errsz)
{
	char sql[4096];
	int i;

	snprintf(sql, sizeof(sql), "%s WHERE 1%s%s", head, w->sql, tail);
	if (sqlite3_prepare_v2(h->db, sql, -1, out, NULL) != SQLITE_OK) {
		set_err(h, "query", err, errsz);
		return -1;
	}
	for (i = 0; i < w->n; i++) {
		if (w->p[i] != NULL)
			sqlite3_bind_text(*out, i + 1, w->p[i], -1,
			    SQLITE_STATIC);
		else
			sqlite3_bind_int64(*out, i + 1, w->pi[i]);
	}
	return 0;
}

static int
sqlite_count(void *vh, const struct sto_filter *f, long long *out,
    char *err, size_t errsz)
{
	struct sqlite_h *h = vh;
	struct where w;
	sqlite3_stmt *st;
	int rc;

	if (build_where(f, &w, err, errsz) == -1)
		return -1;
	if (prepare_where(h, "SELECT count(*) FROM reports r", &w, "", &st,
	    err, errsz) == -1) {
		free(w.fts);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		set_err(h, "query", err, errsz);
	sqlite3_finalize(st);
	free(w.fts);
	return rc == SQLITE_ROW ? 0 : -1;
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL ? strdup((const char *)s) : NULL;
}

/* A row of the report query, back into a sto_rec. */
static struct sto_rec *
row_rec(sqlite3_stmt *st)
{
	struct sto_rec *r;
	const char *meta, *tags;

	if ((r = sto_rec_new()) == NULL)
		return NULL;
	r->rep = yl_report_new(sqlite3_column_type(st, 3) == SQLITE_NULL ? "" :
	    (const char *)sqlite3_column_text(st, 3),
	    (size_t)sqlite3_column_bytes(st, 3));
	if (r->rep == NULL)
		goto fail;
	r->rep->id = col_dup(st, 0);
	r->rep->source = col_dup(st, 1);
	r->rep->title = col_dup(st, 2);
	r->rep->received_at = col_dup(st, 4);
	r->rep->published_at = col_dup(st, 5);
	r->dated_at = col_dup(st, 6);
	r->classified_at = col_dup(st, 7);
	r->ruleset = col_dup(st, 8);
	r->relevance = col_dup(st, 9);
	if ((meta = (const char *)sqlite3_column_text(st, 10)) != NULL)
		r->rep->meta = json_loads(meta, 0, NULL);
	r->archived_at = col_dup(st, 11);
	r->updated_at = col_dup(st, 12);
	if (sqlite3_column_type(st, 13) != SQLITE_NULL) {
		r->partition = sqlite3_column_int(st, 13);
		r->offset = sqlite3_column_int64(st, 14);
	}
	/* The tags as the classifier sent them, evidence included. */
	if ((tags = (const char *)sqlite3_column_text(st, 15)) != NULL)
		r->tags = json_loads(tags, 0, NULL);
	if (r->rep->id == NULL || r->relevance == NULL || r->tags == NULL)
		goto fail;
	return r;
fail:
	sto_rec_free(&r);
	return NULL;
}

static int
sqlite_query(void *vh, const struct sto_filter *f, sto_row_fn fn, void *arg,
    char *err, size_t errsz)
{
	struct sqlite_h *h = vh;
	struct where w;
	sqlite3_stmt *st;
	char tail[96];
	int rc = SQLITE_DONE, stop = 0;

	if (build_where(f, &w, err, errsz) == -1)
		return -1;
	/* Newest first; undated reports last. */
	snprintf(tail, sizeof(tail), " ORDER BY r.dated_at DESC NULLS LAST, "
	    "r.id LIMIT %lld", f->limit > 0 ? f->limit : -1LL);
	if (prepare_where(h, "SELECT r.id, r.source, r.title, r.body, "
	    "r.received_at, r.published_at, r.dated_at, r.classified_at, "
	    "r.ruleset, r.relevance, r.meta, r.archived_at, r.updated_at, "
	    "r.kafka_partition, r.kafka_offset, r.tags FROM reports r", &w,
	    tail, &st, err, errsz) == -1) {
		free(w.fts);
		return -1;
	}
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sto_rec *r = row_rec(st);

		if (r == NULL) {
			set_err(h, "reading a report", err, errsz);
			rc = SQLITE_ERROR;
			break;
		}
		stop = fn(r, arg);
		sto_rec_free(&r);
	}
	if (!stop && rc != SQLITE_DONE)
		set_err(h, "query", err, errsz);
	sqlite3_finalize(st);
	free(w.fts);
	return stop || rc == SQLITE_DONE ? 0 : -1;
}

const struct sto_backend sto_sqlite_backend = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.begin = sqlite_begin,
	.put = sqlite_put,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.count = sqlite_count,
	.query = sqlite_query,
};
