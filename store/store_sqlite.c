/*
 * store_sqlite.c - the SQLite backend of the archive.
 *
 * One database file in WAL mode: yalu-store is the one writer, and any
 * number of `yalu query` readers (opened SQLITE_OPEN_READONLY) read a
 * consistent snapshot while it writes. Schema version 1 (PRAGMA
 * user_version):
 *
 *   reports     one row per report id; rid is an explicit INTEGER PRIMARY
 *               KEY because the FTS5 index refers to rows by rowid, and
 *               VACUUM may renumber an implicit rowid; id is UNIQUE and
 *               is what every other table refers to
 *   tags        (report_id, facet, tag_id, direction): one row per tag;
 *               direction only for commodities, NULL otherwise
 *   evidence    (report_id, facet, tag_id, direction, start, "end", text)
 *   provisions  (report_id, provision_id, because): because is the JSON
 *               array of triggers, e.g. ["seafood/export"]
 *   reports_fts FTS5 over reports.title and reports.body, external
 *               content kept in sync by triggers
 *
 * A report that is archived again (Kafka redelivers after a crash or a
 * rebalance; the classifier re-tags) is updated in place: the reports row
 * keeps its rid and archived_at, its tag rows are deleted and inserted
 * anew, all inside the batch's transaction. If the archived row came from
 * a newer ruleset, it is kept as it is.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "yalu/log.h"

#include "sto_int.h"

#define SCHEMA_VERSION	1
#define BUSY_TIMEOUT_MS	5000

static const char schema_v1[] =
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
	" archived_at TEXT NOT NULL,"
	" updated_at TEXT NOT NULL,"
	" kafka_partition INTEGER,"
	" kafka_offset INTEGER);"
	"CREATE INDEX reports_dated ON reports(dated_at);"
	"CREATE INDEX reports_relevance ON reports(relevance, dated_at);"
	"CREATE TABLE tags ("
	" report_id TEXT NOT NULL,"
	" facet TEXT NOT NULL,"
	" tag_id TEXT NOT NULL,"
	" direction TEXT,"
	" UNIQUE (report_id, facet, tag_id, direction));"
	"CREATE INDEX tags_tag ON tags(facet, tag_id, direction);"
	"CREATE TABLE evidence ("
	" report_id TEXT NOT NULL,"
	" facet TEXT NOT NULL,"
	" tag_id TEXT NOT NULL,"
	" direction TEXT,"
	" start INTEGER NOT NULL,"
	" \"end\" INTEGER NOT NULL,"
	" text TEXT);"
	"CREATE INDEX evidence_report ON evidence(report_id);"
	"CREATE TABLE provisions ("
	" report_id TEXT NOT NULL,"
	" provision_id TEXT NOT NULL,"
	" because TEXT NOT NULL,"
	" UNIQUE (report_id, provision_id));"
	"CREATE INDEX provisions_id ON provisions(provision_id);"
	"CREATE VIRTUAL TABLE reports_fts USING fts5(title, body,"
	" content='reports', content_rowid='rid',"
	" tokenize='unicode61 remove_diacritics 2');"
	"CREATE TRIGGER reports_fts_ai AFTER INSERT ON reports BEGIN"
	" INSERT INTO reports_fts(rowid, title, body)"
	"  VALUES (new.rid, new.title, new.body);"
	" END;"
	"CREATE TRIGGER reports_fts_ad AFTER DELETE ON reports BEGIN"
	" INSERT INTO reports_fts(reports_fts, rowid, title, body)"
	"  VALUES ('delete', old.rid, old.title, old.body);"
	" END;"
	"CREATE TRIGGER reports_fts_au AFTER UPDATE OF title, body ON reports"
	" BEGIN"
	" INSERT INTO reports_fts(reports_fts, rowid, title, body)"
	"  VALUES ('delete', old.rid, old.title, old.body);"
	" INSERT INTO reports_fts(rowid, title, body)"
	"  VALUES (new.rid, new.title, new.body);"
	" END;"
	"PRAGMA user_version = 1;";

/* The statements of the write path, prepared once. */
enum {
	S_FIND, S_INSERT, S_UPDATE, S_DEL_TAGS, S_DEL_EV, S_DEL_PROV,
	S_ADD_TAG, S_ADD_EV, S_ADD_PROV, S_COUNT
};

static const char *const write_sql[S_COUNT] = {
	[S_FIND] = "SELECT rid, ruleset, classified_at FROM reports "
	    "WHERE id = ?1",
	[S_INSERT] = "INSERT INTO reports (id, source, title, body, "
	    "received_at, published_at, dated_at, classified_at, ruleset, "
	    "relevance, meta, archived_at, updated_at, kafka_partition, "
	    "kafka_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	    "?11, ?12, ?12, ?13, ?14)",
	[S_UPDATE] = "UPDATE reports SET source = ?2, title = ?3, body = ?4, "
	    "received_at = ?5, published_at = ?6, dated_at = ?7, "
	    "classified_at = ?8, ruleset = ?9, relevance = ?10, meta = ?11, "
	    "updated_at = ?12, kafka_partition = ?13, kafka_offset = ?14 "
	    "WHERE id = ?1",
	[S_DEL_TAGS] = "DELETE FROM tags WHERE report_id = ?1",
	[S_DEL_EV] = "DELETE FROM evidence WHERE report_id = ?1",
	[S_DEL_PROV] = "DELETE FROM provisions WHERE report_id = ?1",
	[S_ADD_TAG] = "INSERT INTO tags (report_id, facet, tag_id, direction) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[S_ADD_EV] = "INSERT INTO evidence (report_id, facet, tag_id, "
	    "direction, start, \"end\", text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "?7)",
	[S_ADD_PROV] = "INSERT INTO provisions (report_id, provision_id, "
	    "because) VALUES (?1, ?2, ?3)",
};

struct sqlite_h {
	sqlite3		*db;
	char		*path;
	int		 rdonly;
	int		 in_tx;
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
	if (ver > SCHEMA_VERSION) {
		snprintf(err, errsz, "%s: archive schema version %lld is newer "
		    "than this yalu-store's (%d)", h->path, ver,
		    SCHEMA_VERSION);
		goto fail;
	}
	if (ver == 0) {
		if (exec(h, schema_v1, err, errsz) == -1)
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
		if (ver == 0 || ver > SCHEMA_VERSION) {
			snprintf(err, errsz, "%s: %s", path, ver == 0 ?
			    "not a yalu archive" : "archive schema is newer "
			    "than this yalu");
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
sqlite_begin(void *vh, char *err, size_t errsz)
{
	struct sqlite_h *h = vh;

	/* IMMEDIATE: take the write lock now, not halfway through. */
	if (exec(h, "BEGIN IMMEDIATE", err, errsz) == -1)
		return -1;
	h->in_tx = 1;
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
step_done(struct sqlite_h *h, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	(void)h;
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
put_tags(struct sqlite_h *h, const struct sto_rec *rec)
{
	const char *id = rec->rep->id;
	const json_t *sanctions, *provs, *p;
	size_t fi, i, j;

	for (fi = 0; sto_facets[fi] != NULL; fi++) {
		const json_t *arr = json_object_get(rec->tags, sto_facets[fi]);
		const json_t *t, *e;

		json_array_foreach(arr, i, t) {
			const char *tid = json_string_value(json_object_get(t,
			    "id"));
			const char *dir = json_string_value(json_object_get(t,
			    "direction"));
			sqlite3_stmt *st = h->st[S_ADD_TAG];

			bind_str(st, 1, id);
			bind_str(st, 2, sto_facets[fi]);
			bind_str(st, 3, tid);
			bind_str(st, 4, dir);
			if (step_done(h, st) == -1)
				return -1;
			json_array_foreach(json_object_get(t, "evidence"), j,
			    e) {
				st = h->st[S_ADD_EV];
				bind_str(st, 1, id);
				bind_str(st, 2, sto_facets[fi]);
				bind_str(st, 3, tid);
				bind_str(st, 4, dir);
				sqlite3_bind_int64(st, 5, json_integer_value(
				    json_object_get(e, "start")));
				sqlite3_bind_int64(st, 6, json_integer_value(
				    json_object_get(e, "end")));
				bind_str(st, 7, json_string_value(
				    json_object_get(e, "text")));
				if (step_done(h, st) == -1)
					return -1;
			}
		}
	}
	sanctions = json_object_get(rec->tags, "sanctions");
	provs = json_object_get(sanctions, "provisions");
	json_array_foreach(provs, i, p) {
		const json_t *because = json_object_get(p, "because");
		sqlite3_stmt *st = h->st[S_ADD_PROV];
		char *bj;
		int rc;

		bj = because != NULL ? json_dumps(because, JSON_COMPACT) :
		    strdup("[]");
		if (bj == NULL)
			return -1;
		bind_str(st, 1, id);
		bind_str(st, 2, json_string_value(json_object_get(p, "id")));
		sqlite3_bind_text(st, 3, bj, -1, SQLITE_TRANSIENT);
		rc = step_done(h, st);
		free(bj);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* Binds the report columns ?1..?14 shared by INSERT and UPDATE. */
static void
bind_report(sqlite3_stmt *st, const struct sto_rec *rec, const char *meta,
    const char *now)
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
}

/* The body of put, inside the record's savepoint. */
static int
put_rec(struct sqlite_h *h, const struct sto_rec *rec,
    enum sto_outcome *outcome)
{
	sqlite3_stmt *st = h->st[S_FIND];
	char now[32], *meta = NULL;
	int rc, found;

	bind_str(st, 1, rec->rep->id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return -1;
	}
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
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	yl_now_iso(now, sizeof(now));
	if (rec->rep->meta != NULL &&
	    (meta = json_dumps(rec->rep->meta, JSON_COMPACT)) == NULL)
		return -1;
	if (found) {
		int i;

		for (i = S_DEL_TAGS; i <= S_DEL_PROV; i++) {
			bind_str(h->st[i], 1, rec->rep->id);
			if (step_done(h, h->st[i]) == -1)
				goto fail;
		}
		st = h->st[S_UPDATE];
	} else
		st = h->st[S_INSERT];
	bind_report(st, rec, meta, now);
	if (step_done(h, st) == -1 || put_tags(h, rec) == -1)
		goto fail;
	free(meta);
	*outcome = found ? STO_UPDATED : STO_INSERTED;
	return 0;
fail:
	free(meta);
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

static int
sqlite_put(void *vh, const struct sto_rec *rec, enum sto_outcome *outcome,
    char *err, size_t errsz)
{
	struct sqlite_h *h = vh;
	enum sto_outcome oc;
	int code;

	if (exec(h, "SAVEPOINT rec", err, errsz) == -1)
		return -1;
	if (put_rec(h, rec, &oc) == 0) {
		if (exec(h, "RELEASE rec", err, errsz) == -1)
			return -1;
		*outcome = oc;
		return 0;
	}
	code = sqlite3_extended_errcode(h->db);
	set_err(h, rec->rep->id, err, errsz);
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
	w_add(w, "r.id IN (SELECT report_id FROM tags WHERE facet = ? AND "
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
		w_add(w, "r.id IN (SELECT report_id FROM tags WHERE "
		    "facet = 'commodities' AND tag_id = ? AND direction = ?)");
		w_str(w, f->commodity);
		w_str(w, f->direction);
	} else if (f->direction != NULL) {
		w_add(w, "r.id IN (SELECT report_id FROM tags WHERE "
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
		w_add(w, "r.id IN (SELECT report_id FROM provisions WHERE "
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

/* The statements that read one report's tags back, prepared per query. */
struct tag_stmts {
	sqlite3_stmt	*tags, *evidence, *provisions;
};

static void
tag_stmts_free(struct tag_stmts *ts)
{
	sqlite3_finalize(ts->tags);
	sqlite3_finalize(ts->evidence);
	sqlite3_finalize(ts->provisions);
}

static int
tag_stmts_prepare(struct sqlite_h *h, struct tag_stmts *ts)
{
	memset(ts, 0, sizeof(*ts));
	/* rowid order is the order the classifier sent them in. */
	if (sqlite3_prepare_v2(h->db, "SELECT facet, tag_id, direction FROM "
	    "tags WHERE report_id = ?1 ORDER BY rowid", -1, &ts->tags,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db, "SELECT start, \"end\", text FROM "
	    "evidence WHERE report_id = ?1 AND facet = ?2 AND tag_id = ?3 AND "
	    "direction IS ?4 ORDER BY rowid", -1, &ts->evidence, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(h->db, "SELECT provision_id, because FROM "
	    "provisions WHERE report_id = ?1 ORDER BY rowid", -1,
	    &ts->provisions, NULL) != SQLITE_OK) {
		tag_stmts_free(ts);
		return -1;
	}
	return 0;
}

/* Rebuilds the TAGS.md object of one report from its rows. */
static json_t *
load_tags(struct tag_stmts *ts, const char *id, const char *relevance)
{
	sqlite3_stmt *tq = ts->tags, *eq = ts->evidence, *pq = ts->provisions;
	json_t *tags = json_object(), *provs = json_array(), *s;
	size_t fi;

	if (tags == NULL || provs == NULL) {
		json_decref(tags);
		json_decref(provs);
		return NULL;
	}
	for (fi = 0; sto_facets[fi] != NULL; fi++)
		json_object_set_new(tags, sto_facets[fi], json_array());
	sqlite3_bind_text(tq, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(tq) == SQLITE_ROW) {
		const char *facet = (const char *)sqlite3_column_text(tq, 0);
		const char *dir = (const char *)sqlite3_column_text(tq, 2);
		json_t *arr = json_object_get(tags, facet), *t, *ev;

		if (arr == NULL)
			continue;
		t = json_object();
		json_object_set_new(t, "id", json_string((const char *)
		    sqlite3_column_text(tq, 1)));
		if (dir != NULL)
			json_object_set_new(t, "direction", json_string(dir));
		ev = json_array();
		sqlite3_bind_text(eq, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_value(eq, 2, sqlite3_column_value(tq, 0));
		sqlite3_bind_value(eq, 3, sqlite3_column_value(tq, 1));
		sqlite3_bind_value(eq, 4, sqlite3_column_value(tq, 2));
		while (sqlite3_step(eq) == SQLITE_ROW) {
			json_t *e = json_object();
			const char *text = (const char *)sqlite3_column_text(
			    eq, 2);

			json_object_set_new(e, "start", json_integer(
			    sqlite3_column_int64(eq, 0)));
			json_object_set_new(e, "end", json_integer(
			    sqlite3_column_int64(eq, 1)));
			if (text != NULL)
				json_object_set_new(e, "text",
				    json_string(text));
			json_array_append_new(ev, e);
		}
		sqlite3_reset(eq);
		json_object_set_new(t, "evidence", ev);
		json_array_append_new(arr, t);
	}
	sqlite3_bind_text(pq, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(pq) == SQLITE_ROW) {
		json_t *p = json_object(), *because;

		json_object_set_new(p, "id", json_string((const char *)
		    sqlite3_column_text(pq, 0)));
		because = json_loads((const char *)sqlite3_column_text(pq, 1),
		    0, NULL);
		json_object_set_new(p, "because", because != NULL ? because :
		    json_array());
		json_array_append_new(provs, p);
	}
	sqlite3_reset(tq);
	sqlite3_reset(pq);
	s = json_object();
	json_object_set_new(s, "relevance", json_string(relevance));
	json_object_set_new(s, "provisions", provs);
	json_object_set_new(tags, "sanctions", s);
	return tags;
}

/* A row of the report query, back into a sto_rec. */
static struct sto_rec *
row_rec(struct tag_stmts *ts, sqlite3_stmt *st)
{
	struct sto_rec *r;
	const char *meta;

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
	if (r->rep->id == NULL || r->relevance == NULL ||
	    (r->tags = load_tags(ts, r->rep->id, r->relevance)) == NULL)
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
	struct tag_stmts ts;
	struct where w;
	sqlite3_stmt *st;
	char tail[96];
	int rc = SQLITE_DONE, stop = 0;

	if (build_where(f, &w, err, errsz) == -1)
		return -1;
	if (tag_stmts_prepare(h, &ts) == -1) {
		set_err(h, "query", err, errsz);
		free(w.fts);
		return -1;
	}
	/* Newest first; undated reports last. */
	snprintf(tail, sizeof(tail), " ORDER BY r.dated_at DESC NULLS LAST, "
	    "r.id LIMIT %lld", f->limit > 0 ? f->limit : -1LL);
	if (prepare_where(h, "SELECT r.id, r.source, r.title, r.body, "
	    "r.received_at, r.published_at, r.dated_at, r.classified_at, "
	    "r.ruleset, r.relevance, r.meta, r.archived_at, r.updated_at, "
	    "r.kafka_partition, r.kafka_offset FROM reports r", &w, tail, &st,
	    err, errsz) == -1) {
		tag_stmts_free(&ts);
		free(w.fts);
		return -1;
	}
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sto_rec *r = row_rec(&ts, st);

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
	tag_stmts_free(&ts);
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
