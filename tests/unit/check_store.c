/*
 * check_store.c - yalu-store without Kafka: decoding tagged reports, the
 * SQLite backend against a temporary archive (batches, redelivery, newer
 * rulesets, every query filter, full-text search), and the query output.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "yalu/log.h"

#include "sto_int.h"

static char tmpdir[64];
static char dbpath[128];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof(dbpath), "%s/archive.db", tmpdir);
}

static void
teardown(void)
{
	char p[160];

	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
	rmdir(tmpdir);
}

/* ---------------------------------------------------------------- helpers */

static json_t *evidence_at(const char *, const char *);

/* What a fixture report says; NULL fields are left out. */
struct spec {
	const char	*id, *ruleset, *classified_at;
	const char	*published_at, *received_at;
	const char	*title, *body;
	const char	*commodity, *direction, *crossing, *provision;
	const char	*method, *entity;
	const char	*relevance;
};

/* Appends {"id": id, "evidence": [word in body]} to facet. */
static void
add_tag(json_t *tags, const char *facet, const char *id, const char *body,
    const char *word)
{
	json_array_append_new(json_object_get(tags, facet), json_pack(
	    "{s:s, s:o}", "id", id, "evidence", evidence_at(body, word)));
}

static json_t *
evidence_at(const char *body, const char *word)
{
	const char *at = strstr(body, word);
	json_t *a = json_array();
	size_t s = at != NULL ? (size_t)(at - body) : 0;
	size_t n = at != NULL ? strlen(word) : 0;

	json_array_append_new(a, json_pack("{s:I, s:I, s:s%}", "start",
	    (json_int_t)s, "end", (json_int_t)(s + n), "text", body + s, n));
	return a;
}

/* The reports.tagged JSON of a spec, as yalu-classify would send it. */
static char *
mk(const struct spec *sp)
{
	json_t *o = json_object(), *tags = json_object(), *t, *san, *provs;
	const char *facets[] = { "commodities", "countries", "crossings",
	    "modes", "methods", "entities" };
	const char *body = sp->body != NULL ? sp->body :
	    "Traders sent salted pollack to Dandong by truck.";
	char *s;
	size_t i;

	json_object_set_new(o, "id", json_string(sp->id));
	if (sp->published_at != NULL)
		json_object_set_new(o, "published_at",
		    json_string(sp->published_at));
	json_object_set_new(o, "received_at", json_string(sp->received_at ?
	    sp->received_at : "2026-11-24T10:00:00Z"));
	json_object_set_new(o, "source", json_string("daily-nk"));
	if (sp->title != NULL)
		json_object_set_new(o, "title", json_string(sp->title));
	json_object_set_new(o, "body", json_string(body));
	json_object_set_new(o, "meta", json_pack("{s:s}", "lang", "en"));
	json_object_set_new(o, "ruleset", json_string(sp->ruleset ?
	    sp->ruleset : "2026.11.0+aaaa"));
	json_object_set_new(o, "classified_at", json_string(
	    sp->classified_at ? sp->classified_at : "2026-11-24T10:00:01Z"));
	for (i = 0; i < 6; i++)
		json_object_set_new(tags, facets[i], json_array());
	if (sp->commodity != NULL) {
		t = json_pack("{s:s, s:s, s:o}", "id", sp->commodity,
		    "direction", sp->direction ? sp->direction : "export",
		    "evidence", evidence_at(body, "pollack"));
		json_array_append_new(json_object_get(tags, "commodities"), t);
	}
	if (sp->crossing != NULL) {
		/* Dandong: the crossing, China, and the trucks' road. */
		add_tag(tags, "crossings", sp->crossing, body, "Dandong");
		add_tag(tags, "countries", "cn", body, "Dandong");
		add_tag(tags, "modes", "road", body, "truck");
	}
	if (sp->method != NULL)
		add_tag(tags, "methods", sp->method, body, "muggl");
	if (sp->entity != NULL)
		add_tag(tags, "entities", sp->entity, body, "Nampo");
	provs = json_array();
	if (sp->provision != NULL)
		json_array_append_new(provs, json_pack("{s:s, s:[s]}", "id",
		    sp->provision, "because", "seafood/export"));
	san = json_pack("{s:s, s:o}", "relevance", sp->relevance ?
	    sp->relevance : "low", "provisions", provs);
	json_object_set_new(tags, "sanctions", san);
	json_object_set_new(o, "tags", tags);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* The record a spec's message decodes to; the caller frees it. */
static struct sto_rec *
decoded(const struct spec *sp)
{
	struct sto_rec *r = NULL;
	char err[512], *js = mk(sp);

	ck_assert_msg(sto_rec_decode(js, strlen(js), &r, err, sizeof(err)) == 0,
	    "decode %s: %s", sp->id, err);
	free(js);
	return r;
}

/*
 * Bypasses the decoder: a duplicate commodity breaks a UNIQUE constraint
 * in the archive. The message's spelling of the tags goes too, or the
 * put would store that instead of the broken tags.
 */
static void
dup_first_commodity(struct sto_rec *r)
{
	json_t *comm = json_object_get(r->tags, "commodities");

	json_array_append(comm, json_array_get(comm, 0));
	free(r->tags_text);
	r->tags_text = NULL;
}

static struct sto_db *
open_rw(void)
{
	char err[512];
	struct sto_db *db = sto_db_open(dbpath, 0, err, sizeof(err));

	if (db == NULL)
		ck_abort_msg("open %s: %s", dbpath, err);
	return db;
}

/* Archives each spec in one transaction; returns the last outcome. */
static enum sto_outcome
archive(struct sto_db *db, const struct spec *sp, size_t n)
{
	enum sto_outcome oc = STO_REJECTED;
	char err[512];
	size_t i;

	ck_assert_int_eq(sto_db_begin(db, 0, err, sizeof(err)), 0);
	for (i = 0; i < n; i++) {
		struct sto_rec *r = decoded(&sp[i]);

		r->partition = 0;
		r->offset = (int64_t)i;
		ck_assert_int_eq(sto_db_put(db, r, &oc, err, sizeof(err)), 0);
		sto_rec_free(&r);
	}
	ck_assert_int_eq(sto_db_commit(db, err, sizeof(err)), 0);
	return oc;
}

static long long
rows(const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long n = -1;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &h, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* Pieces of evidence in the archive: they live in reports.tags. */
#define EVIDENCE_SQL	"SELECT count(*) FROM reports, json_tree(reports.tags) " \
	"WHERE json_tree.path LIKE '%.evidence' AND json_tree.type = 'object'"

static void
filter_init(struct sto_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->min_relevance = -1;
}

static long long
count(struct sto_db *db, const struct sto_filter *f)
{
	char err[512];
	long long n = -1;

	if (sto_db_count(db, f, &n, err, sizeof(err)) == -1)
		ck_abort_msg("count: %s", err);
	return n;
}

/* Collects the ids a query returns, comma-joined, in order. */
static int
collect(const struct sto_rec *r, void *arg)
{
	char *buf = arg;

	if (buf[0] != '\0')
		strcat(buf, ",");
	strcat(buf, r->rep->id);
	return 0;
}

static const char *
ids(struct sto_db *db, const struct sto_filter *f)
{
	static char buf[4096];
	char err[512];

	buf[0] = '\0';
	if (sto_db_query(db, f, collect, buf, err, sizeof(err)) == -1)
		ck_abort_msg("query: %s", err);
	return buf;
}

/* The archive every filter test reads. */
static const struct spec corpus[] = {
	{ .id = "r1", .title = "Pollack exports via Dandong",
	  .published_at = "2026-11-01", .commodity = "seafood",
	  .direction = "export", .crossing = "dandong-sinuiju",
	  .provision = "UNSCR-2371-OP9", .relevance = "high",
	  .body = "Traders sent salted pollack to Dandong by truck." },
	{ .id = "r2", .title = "Coal barges at Nampo",
	  .published_at = "2026-11-10T23:30:00-05:00", .commodity = "coal",
	  .direction = "export", .provision = "UNSCR-2371-OP8",
	  .entity = "korea-daesong",
	  .relevance = "high",
	  .body = "Coal barges left Nampo for China; pollack fishing too." },
	{ .id = "r3", .title = "Diesel smuggled into Sin\xc5\xad" "iju",
	  .received_at = "2026-11-05T08:00:00Z", .commodity = "petroleum",
	  .direction = "import", .crossing = "dandong-sinuiju",
	  .method = "smuggling", .relevance = "medium",
	  .body = "Smugglers brought diesel from Dandong into Sinuiju." },
	{ .id = "r4", .title = "Market prices", .published_at = "2026-12-02",
	  .relevance = "low",
	  .body = "Rice prices in Hyesan markets rose, traders said." },
	{ .id = "r5", .title = "Missile launch", .published_at = "2026-10-20",
	  .relevance = "none", .body = "A missile was launched at dawn." },
};
#define NCORPUS	(sizeof(corpus) / sizeof(corpus[0]))

/* A new archive of the whole corpus, and in f a filter that takes all. */
static struct sto_db *
open_corpus(struct sto_filter *f)
{
	struct sto_db *db = open_rw();

	archive(db, corpus, NCORPUS);
	filter_init(f);
	return db;
}

/* ------------------------------------------------------------- decoding */

START_TEST(test_decode_reads_a_tagged_report)
{
	struct sto_rec *r = decoded(&corpus[0]);

	ck_assert_str_eq(r->rep->id, "r1");
	ck_assert_str_eq(r->ruleset, "2026.11.0+aaaa");
	ck_assert_str_eq(r->relevance, "high");
	ck_assert_str_eq(r->dated_at, "2026-11-01");
	ck_assert_ptr_nonnull(json_object_get(r->tags, "commodities"));
	sto_rec_free(&r);
	ck_assert_ptr_null(r);
}
END_TEST

/* Each malformed message and the start of the reason it gets. */
START_TEST(test_decode_refuses_malformed_with_reason)
{
	static const struct {
		const char *json, *reason;
	} cases[] = {
		{ "not json", "invalid JSON" },
		{ "{\"id\":\"x\",\"body\":\"b\",\"ruleset\":\"1\"}", "tags: "
		  "missing" },
		{ "{\"id\":\"x\",\"body\":\"b\",\"tags\":{\"sanctions\":"
		  "{\"relevance\":\"low\"}}}", "ruleset: missing" },
		{ "{\"body\":\"b\",\"ruleset\":\"1\",\"tags\":{\"sanctions\":"
		  "{\"relevance\":\"low\"}}}", "id: missing" },
		{ "{\"id\":\"x\",\"body\":\"b\",\"ruleset\":\"1\",\"tags\":[]}",
		  "tags: not an object" },
		{ "{\"id\":\"x\",\"body\":\"b\",\"ruleset\":\"1\",\"tags\":"
		  "{\"commodities\":{},\"sanctions\":{\"relevance\":\"low\"}}}",
		  "tags.commodities: not an array" },
		{ "{\"id\":\"x\",\"body\":\"b\",\"ruleset\":\"1\",\"tags\":"
		  "{\"commodities\":[{\"id\":\"coal\"}],\"sanctions\":"
		  "{\"relevance\":\"low\"}}}",
		  "tags.commodities[0].direction: missing" },
		{ "{\"id\":\"x\",\"body\":\"b\",\"ruleset\":\"1\",\"tags\":"
		  "{\"crossings\":[{\"id\":\"a\",\"evidence\":[{\"start\":0,"
		  "\"end\":9,\"text\":\"b\"}]}],\"sanctions\":{\"relevance\":"
		  "\"low\"}}}",
		  "tags.crossings[0].evidence[0]: end 9 is past" },
		{ "{\"id\":\"x\",\"body\":\"b\",\"ruleset\":\"1\",\"tags\":"
		  "{\"weather\":[],\"sanctions\":{\"relevance\":\"low\"}}}",
		  "tags: unknown facet 'weather'" },
		{ "{\"id\":\"x\",\"body\":\"b\",\"ruleset\":\"1\",\"tags\":"
		  "{\"sanctions\":{\"relevance\":\"huge\"}}}",
		  "tags.sanctions.relevance: not one of" },
		{ "{\"id\":\"x\",\"body\":\"b\",\"ruleset\":\"1\",\"tags\":"
		  "{\"modes\":[{\"id\":\"sea\"},{\"id\":\"sea\"}],"
		  "\"sanctions\":{\"relevance\":\"low\"}}}",
		  "tags.modes[1]: duplicate" },
		{ "{\"id\":\"x\",\"body\":7,\"ruleset\":\"1\",\"tags\":{}}",
		  "body: not a string" },
		{ "{\"id\":\"x\",\"body\":\"b\",\"extra\":1,\"ruleset\":\"1\","
		  "\"tags\":{}}", "unknown field 'extra'" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sto_rec *r = NULL;
		char err[256] = "";

		ck_assert_msg(sto_rec_decode(cases[i].json,
		    strlen(cases[i].json), &r, err, sizeof(err)) == -1,
		    "case %zu accepted", i);
		ck_assert_ptr_null(r);
		ck_assert_msg(strncmp(err, cases[i].reason,
		    strlen(cases[i].reason)) == 0, "case %zu: got '%s', want "
		    "'%s...'", i, err, cases[i].reason);
	}
}
END_TEST

START_TEST(test_ruleset_order_by_version_then_time)
{
	/* 2026.9.0 is older than 2026.11.0 (not by strcmp). */
	ck_assert_int_lt(sto_ruleset_cmp("2026.9.0+ff", NULL, "2026.11.0+00",
	    NULL), 0);
	ck_assert_int_gt(sto_ruleset_cmp("2026.11.1+00", "2026-01-01T00:00:00Z",
	    "2026.11.0+ff", "2026-12-01T00:00:00Z"), 0);
	/* Same version: the later classification wins, any offset. */
	ck_assert_int_gt(sto_ruleset_cmp("2026.11.0+a", "2026-11-24T10:00:00Z",
	    "2026.11.0+b", "2026-11-24T11:00:00+02:00"), 0);
	ck_assert_int_lt(sto_ruleset_cmp("2026.11.0+a", NULL, "2026.11.0+a",
	    "2026-11-24T10:00:00Z"), 0);
	ck_assert_int_eq(sto_ruleset_cmp("2026.11.0+a", "2026-11-24T10:00:00Z",
	    "2026.11.0+a", "2026-11-24T10:00:00Z"), 0);
}
END_TEST

START_TEST(test_iso_dates_normalize_to_utc)
{
	char b[32];

	ck_assert_int_eq(sto_iso_norm("2026-11-24", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "2026-11-24");
	ck_assert_int_eq(sto_iso_norm("2026-11-24T23:30:00-05:00", b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "2026-11-25T04:30:00Z");
	ck_assert_int_eq(sto_iso_norm("2026-11-24 08:15", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "2026-11-24T08:15:00Z");
	ck_assert_int_eq(sto_iso_norm("2026-11-24T08:15:00.123+0900", b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "2026-11-23T23:15:00Z");
	ck_assert_int_eq(sto_iso_norm("2026-11", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "2026-11");
	ck_assert_int_eq(sto_iso_norm("2026-02-30", b, sizeof(b)), -1);
	ck_assert_int_eq(sto_iso_norm("24/11/2026", b, sizeof(b)), -1);
	ck_assert_int_eq(sto_iso_norm("2026-11-24T25:00", b, sizeof(b)), -1);
	ck_assert_int_eq(sto_iso_norm("2026-11-24Tjunk", b, sizeof(b)), -1);
}
END_TEST

START_TEST(test_config_defaults_and_strict_keys)
{
	struct yl_errs errs = { 0 };
	struct sto_conf c;
	char path[160];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/store.yaml", tmpdir);
	fp = fopen(path, "w");
	fputs("kafka:\n  bootstrap.servers: 127.0.0.1:1\ndb: /x.db\n", fp);
	fclose(fp);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(sto_conf_load(path, &c, &errs), 0);
	ck_assert_str_eq(c.db, "/x.db");
	ck_assert_str_eq(c.group, "yalu-store");
	ck_assert_str_eq(c.topics.tagged.name, "reports.tagged");
	ck_assert_str_eq(c.topics.dlq.name, "reports.dlq");
	ck_assert_int_eq(c.batch_size, 500);
	ck_assert_int_eq(c.batch_ms, 200);
	sto_conf_release(&c);

	fp = fopen(path, "w");
	fputs("batch_ms: 0\ndatabase: /x.db\nkafka:\n  no.such.prop: 1\n",
	    fp);
	fclose(fp);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(sto_conf_load(path, &c, &errs), -1);
	/* Every problem, with its line and column. */
	ck_assert_ptr_nonnull(strstr(errs.buf, ":1:11: batch_ms: 0 is out of "
	    "range"));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":2:1: unknown key "
	    "'database'"));
	ck_assert_ptr_nonnull(strstr(errs.buf, "no.such.prop"));
	sto_conf_release(&c);
	yl_errs_clear(&errs);
	unlink(path);
}
END_TEST

/* ---------------------------------------------------------------- archive */

START_TEST(test_batch_insert_archives_every_report)
{
	struct sto_filter f;
	struct sto_db *db = open_corpus(&f);

	ck_assert_int_eq(count(db, &f), NCORPUS);
	/* r1 4 tags, r2 2, r3 5; one piece of evidence each. */
	ck_assert_int_eq(rows("SELECT count(*) FROM tags"), 11);
	ck_assert_int_eq(rows(EVIDENCE_SQL), 11);
	ck_assert_int_eq(rows("SELECT count(*) FROM provisions"), 2);
	ck_assert_int_eq(rows("SELECT count(*) FROM tags WHERE direction <> "
	    "''"), 3);
	ck_assert_int_eq(rows("PRAGMA user_version"), 2);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports WHERE "
	    "kafka_partition = 0 AND kafka_offset IS NOT NULL"), NCORPUS);
	sto_db_free(&db);
	ck_assert_ptr_null(db);
	/* Reopening an existing archive keeps it. */
	db = open_rw();
	ck_assert_int_eq(count(db, &f), NCORPUS);
	sto_db_free(&db);
}
END_TEST

START_TEST(test_redelivery_updates_in_place)
{
	struct sto_db *db = open_rw();
	struct spec again = corpus[0];
	long long rid;

	archive(db, corpus, NCORPUS);
	rid = rows("SELECT rid FROM reports WHERE id = 'r1'");
	/* The very same message, twice more. */
	ck_assert_int_eq(archive(db, corpus, 1), STO_UPDATED);
	ck_assert_int_eq(archive(db, corpus, 1), STO_UPDATED);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports"), NCORPUS);
	ck_assert_int_eq(rows("SELECT count(*) FROM tags"), 11);
	ck_assert_int_eq(rows(EVIDENCE_SQL), 11);
	ck_assert_int_eq(rows("SELECT count(*) FROM provisions"), 2);
	ck_assert_int_eq(rows("SELECT rid FROM reports WHERE id = 'r1'"), rid);
	/* The same text is not indexed twice. */
	ck_assert_int_eq(rows("SELECT count(*) FROM reports_fts WHERE "
	    "reports_fts MATCH 'title:exports'"), 1);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports_fts WHERE "
	    "reports_fts MATCH 'pollack'"), 2);
	/* Re-tagged by the same ruleset later: the new tags replace. */
	again.classified_at = "2026-11-25T00:00:00Z";
	again.commodity = "coal";
	again.crossing = NULL;
	again.title = "Coal, not pollack";
	ck_assert_int_eq(archive(db, &again, 1), STO_UPDATED);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports"), NCORPUS);
	ck_assert_int_eq(rows("SELECT count(*) FROM tags WHERE rid = "
	    "(SELECT rid FROM reports WHERE id = 'r1')"), 1);
	ck_assert_int_eq(rows("SELECT count(*) FROM tags WHERE rid = "
	    "(SELECT rid FROM reports WHERE id = 'r1') AND tag_id = 'coal'"),
	    1);
	ck_assert_int_eq(rows("SELECT count(*) FROM tags"), 8);
	/* The full-text index follows the update, without duplicates. */
	ck_assert_int_eq(rows("SELECT count(*) FROM reports_fts WHERE "
	    "reports_fts MATCH 'title:pollack'"), 1);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports_fts WHERE "
	    "reports_fts MATCH 'title:exports'"), 0);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports r WHERE "
	    "archived_at <= updated_at"), NCORPUS);
	sto_db_free(&db);
}
END_TEST

START_TEST(test_older_ruleset_does_not_overwrite_newer)
{
	struct sto_db *db = open_rw();
	struct spec newer = corpus[0], older = corpus[0];
	struct sto_filter f;

	newer.ruleset = "2026.11.0+bbbb";
	ck_assert_int_eq(archive(db, &newer, 1), STO_INSERTED);
	/* A late redelivery tagged by an older ruleset, classified later. */
	older.ruleset = "2026.9.3+cccc";
	older.classified_at = "2026-12-01T00:00:00Z";
	older.commodity = "coal";
	older.provision = NULL;
	ck_assert_int_eq(archive(db, &older, 1), STO_KEPT_NEWER);
	filter_init(&f);
	f.commodity = "seafood";
	ck_assert_str_eq(ids(db, &f), "r1");
	f.commodity = "coal";
	ck_assert_str_eq(ids(db, &f), "");
	ck_assert_int_eq(rows("SELECT count(*) FROM reports WHERE ruleset = "
	    "'2026.11.0+bbbb'"), 1);
	ck_assert_int_eq(rows("SELECT count(*) FROM provisions"), 1);
	/* A newer ruleset does replace. */
	older.ruleset = "2026.12.0+dddd";
	ck_assert_int_eq(archive(db, &older, 1), STO_UPDATED);
	ck_assert_str_eq(ids(db, &f), "r1");
	ck_assert_int_eq(rows("SELECT count(*) FROM reports"), 1);
	sto_db_free(&db);
}
END_TEST

START_TEST(test_bad_record_is_rejected_alone)
{
	struct sto_db *db = open_rw();
	struct sto_rec *r = decoded(&corpus[0]);
	enum sto_outcome oc;
	char err[512];

	dup_first_commodity(r);
	ck_assert_int_eq(sto_db_begin(db, STO_TX_ISOLATE, err, sizeof(err)),
	    0);
	ck_assert_int_eq(sto_db_put(db, r, &oc, err, sizeof(err)), 0);
	ck_assert_int_eq(oc, STO_REJECTED);
	ck_assert_ptr_nonnull(strstr(err, "UNIQUE"));
	sto_rec_free(&r);
	/* The rest of the batch goes on. */
	r = decoded(&corpus[1]);
	ck_assert_int_eq(sto_db_put(db, r, &oc, err, sizeof(err)), 0);
	ck_assert_int_eq(oc, STO_INSERTED);
	ck_assert_int_eq(sto_db_commit(db, err, sizeof(err)), 0);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports"), 1);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports WHERE id = 'r1'"),
	    0);
	ck_assert_int_eq(rows("SELECT count(*) FROM tags"), 2);
	sto_rec_free(&r);
	sto_db_free(&db);
}
END_TEST

/*
 * The daemon's fast path: no savepoints, so a refused record fails the
 * put, and the rollback that follows leaves none of the batch, not even
 * the records before it.
 */
START_TEST(test_unisolated_failure_fails_the_transaction)
{
	struct sto_db *db = open_rw();
	struct sto_rec *good = decoded(&corpus[1]);
	struct sto_rec *bad = decoded(&corpus[0]);
	enum sto_outcome oc;
	char err[512];

	dup_first_commodity(bad);
	ck_assert_int_eq(sto_db_begin(db, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(sto_db_put(db, good, &oc, err, sizeof(err)), 0);
	ck_assert_int_eq(oc, STO_INSERTED);
	ck_assert_int_eq(sto_db_put(db, bad, &oc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "UNIQUE"));
	sto_db_rollback(db);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports"), 0);
	ck_assert_int_eq(rows("SELECT count(*) FROM tags"), 0);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports_fts WHERE "
	    "reports_fts MATCH 'coal'"), 0);
	/* Redone isolated, the good one is archived and the bad refused. */
	ck_assert_int_eq(sto_db_begin(db, STO_TX_ISOLATE, err, sizeof(err)),
	    0);
	ck_assert_int_eq(sto_db_put(db, good, &oc, err, sizeof(err)), 0);
	ck_assert_int_eq(oc, STO_INSERTED);
	ck_assert_int_eq(sto_db_put(db, bad, &oc, err, sizeof(err)), 0);
	ck_assert_int_eq(oc, STO_REJECTED);
	ck_assert_int_eq(sto_db_commit(db, err, sizeof(err)), 0);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports"), 1);
	sto_rec_free(&good);
	sto_rec_free(&bad);
	sto_db_free(&db);
}
END_TEST


START_TEST(test_rollback_leaves_nothing)
{
	struct sto_db *db = open_rw();
	struct sto_rec *r = decoded(&corpus[0]);
	enum sto_outcome oc;
	char err[512];

	ck_assert_int_eq(sto_db_begin(db, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(sto_db_put(db, r, &oc, err, sizeof(err)), 0);
	sto_db_rollback(db);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports"), 0);
	ck_assert_int_eq(rows("SELECT count(*) FROM reports_fts WHERE "
	    "reports_fts MATCH 'pollack'"), 0);
	sto_rec_free(&r);
	sto_db_free(&db);
}
END_TEST

START_TEST(test_reader_sees_only_committed_batches)
{
	struct sto_db *db = open_rw(), *ro;
	struct sto_rec *r;
	struct sto_filter f;
	enum sto_outcome oc;
	char err[512];

	archive(db, corpus + 1, 1);
	ro = sto_db_open(dbpath, STO_DB_RDONLY, err, sizeof(err));
	ck_assert_msg(ro != NULL, "%s", err);
	r = decoded(&corpus[0]);
	ck_assert_int_eq(sto_db_begin(db, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(sto_db_put(db, r, &oc, err, sizeof(err)), 0);
	filter_init(&f);
	/* WAL: the reader is not blocked and sees the last commit. */
	ck_assert_int_eq(count(ro, &f), 1);
	ck_assert_int_eq(sto_db_commit(db, err, sizeof(err)), 0);
	ck_assert_int_eq(count(ro, &f), 2);
	sto_rec_free(&r);
	sto_db_free(&ro);
	sto_db_free(&db);
}
END_TEST

START_TEST(test_readonly_open_of_missing_archive_fails)
{
	char err[512] = "";

	ck_assert_ptr_null(sto_db_open(dbpath, STO_DB_RDONLY, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no archive"));
	/* And it did not create one. */
	ck_assert_int_eq(access(dbpath, F_OK), -1);
}
END_TEST

START_TEST(test_foreign_database_is_refused)
{
	sqlite3 *h;
	char err[512] = "";

	ck_assert_int_eq(sqlite3_open(dbpath, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE t(x)", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	ck_assert_ptr_null(sto_db_open(dbpath, 0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a yalu archive"));
}
END_TEST

/* No migration before the first release: an old archive is refused. */
START_TEST(test_older_schema_is_refused)
{
	sqlite3 *h;
	char err[512] = "";

	ck_assert_int_eq(sqlite3_open(dbpath, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE reports(x); "
	    "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	ck_assert_ptr_null(sto_db_open(dbpath, 0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "version 1 is older"));
	ck_assert_ptr_null(sto_db_open(dbpath, STO_DB_RDONLY, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "older"));
}
END_TEST

/* ---------------------------------------------------------------- queries */

START_TEST(test_query_tag_filters)
{
	struct sto_filter f;
	struct sto_db *db = open_corpus(&f);

	f.commodity = "seafood";
	ck_assert_str_eq(ids(db, &f), "r1");
	f.direction = "import";		/* seafood is exported only */
	ck_assert_str_eq(ids(db, &f), "");
	filter_init(&f);
	f.direction = "export";		/* any commodity; newest first */
	ck_assert_str_eq(ids(db, &f), "r2,r1");
	filter_init(&f);
	f.crossing = "dandong-sinuiju";
	ck_assert_str_eq(ids(db, &f), "r3,r1");
	f.commodity = "petroleum";	/* AND */
	ck_assert_str_eq(ids(db, &f), "r3");
	filter_init(&f);
	f.provision = "UNSCR-2371-OP8";
	ck_assert_str_eq(ids(db, &f), "r2");
	filter_init(&f);
	f.country = "cn";
	ck_assert_str_eq(ids(db, &f), "r3,r1");
	f.mode = "road";
	ck_assert_str_eq(ids(db, &f), "r3,r1");
	f.method = "smuggling";
	ck_assert_str_eq(ids(db, &f), "r3");
	filter_init(&f);
	f.entity = "korea-daesong";
	ck_assert_str_eq(ids(db, &f), "r2");
	f.country = "ru";
	ck_assert_int_eq(count(db, &f), 0);
	sto_db_free(&db);
}
END_TEST

START_TEST(test_query_relevance_is_at_least)
{
	struct sto_filter f;
	struct sto_db *db = open_corpus(&f);

	f.min_relevance = sto_relevance_rank("high");
	ck_assert_str_eq(ids(db, &f), "r2,r1");
	f.min_relevance = sto_relevance_rank("medium");
	ck_assert_str_eq(ids(db, &f), "r2,r3,r1");
	f.min_relevance = sto_relevance_rank("low");
	ck_assert_int_eq(count(db, &f), 4);
	f.min_relevance = sto_relevance_rank("none");
	ck_assert_int_eq(count(db, &f), 5);
	ck_assert_int_eq(sto_relevance_rank("urgent"), -1);
	sto_db_free(&db);
}
END_TEST

START_TEST(test_query_dates_use_published_then_received)
{
	struct sto_filter f;
	struct sto_db *db = open_corpus(&f);

	/* Newest first: r4 Dec 2, r2 Nov 11 04:30 UTC, r3 received Nov 5. */
	ck_assert_str_eq(ids(db, &f), "r4,r2,r3,r1,r5");
	sto_iso_norm("2026-11-05", f.since, sizeof(f.since));
	ck_assert_str_eq(ids(db, &f), "r4,r2,r3");
	/* --until is inclusive: the whole day, or the whole month. */
	sto_iso_norm("2026-11-10", f.until, sizeof(f.until));
	ck_assert_str_eq(ids(db, &f), "r3");	/* r2 is Nov 11 in UTC */
	sto_iso_norm("2026-11", f.until, sizeof(f.until));
	ck_assert_str_eq(ids(db, &f), "r2,r3");
	filter_init(&f);
	sto_iso_norm("2026-11-11T04:30:00Z", f.since, sizeof(f.since));
	sto_iso_norm("2026-11-11T04:30:00Z", f.until, sizeof(f.until));
	ck_assert_str_eq(ids(db, &f), "r2");
	filter_init(&f);
	f.limit = 2;
	ck_assert_str_eq(ids(db, &f), "r4,r2");
	sto_db_free(&db);
}
END_TEST

START_TEST(test_query_text_search)
{
	struct sto_filter f;
	struct sto_db *db = open_corpus(&f);

	f.text = "pollack";			/* title or body */
	ck_assert_str_eq(ids(db, &f), "r2,r1");
	f.text = "  POLLACK   dandong ";	/* every word, any case */
	ck_assert_str_eq(ids(db, &f), "r1");
	f.text = "smuggl*";			/* prefix */
	ck_assert_str_eq(ids(db, &f), "r3");
	f.text = "sinuiju";			/* matches Sinŭiju too */
	ck_assert_int_eq(count(db, &f), 1);
	/* FTS5 syntax in user words is only text, never an error. */
	f.text = "pollack OR \"coal NEAR( title:x -";
	ck_assert_int_eq(count(db, &f), 0);
	f.text = "coal AND";
	ck_assert_int_eq(count(db, &f), 0);
	f.text = "\"coal\"";
	ck_assert_str_eq(ids(db, &f), "r2");
	f.min_relevance = sto_relevance_rank("high");
	f.text = "dandong";
	ck_assert_str_eq(ids(db, &f), "r1");
	sto_db_free(&db);
}
END_TEST

START_TEST(test_fts_query_quotes_words)
{
	char *q;

	q = sto_fts_query(" salted  \"pollack\" smuggl* - ");
	ck_assert_str_eq(q, "\"salted\" \"\"\"pollack\"\"\" \"smuggl\"*");
	free(q);
	ck_assert_ptr_null(sto_fts_query("  * -- "));
}
END_TEST

struct grabbed {
	json_t	*tags;
	json_t	*meta;
};

static int
grab(const struct sto_rec *r, void *arg)
{
	struct grabbed *g = arg;

	g->tags = json_incref(r->tags);
	g->meta = json_incref(r->rep->meta);
	return 0;
}

START_TEST(test_query_returns_tags_as_archived)
{
	struct sto_db *db = open_rw();
	struct sto_filter f;
	struct sto_rec *in;
	char err[256];
	struct grabbed got = { NULL, NULL };

	archive(db, corpus, 1);
	in = decoded(&corpus[0]);
	filter_init(&f);
	ck_assert_int_eq(sto_db_query(db, &f, grab, &got, err, sizeof(err)),
	    0);
	ck_assert_msg(json_equal(got.tags, in->tags), "tags differ");
	ck_assert_msg(json_equal(got.meta, in->rep->meta), "meta differs");
	json_decref(got.tags);
	json_decref(got.meta);
	sto_rec_free(&in);
	sto_db_free(&db);
}
END_TEST

/*
 * The archive stores the tags as the message spelled them: the span of
 * the top-level "tags" value, found without being fooled by "tags" in a
 * string or in a nested object; spelled with escapes, it is dumped anew.
 * Either way it reads back equal to the decoded tags.
 */
START_TEST(test_tags_kept_as_sent)
{
	static const char *const msgs[] = {
		"{\"id\":\"a\",\"title\":\"\\\"tags\\\": {\\\"x\\\":1} [}\","
		  "\"meta\":{\"tags\":{\"not\":\"these\"},\"n\":[1,{\"a\":\"}\"}]},"
		  "\"body\":\"a b\",\"ruleset\":\"1+x\",\"classified_at\":null ,"
		  "\"tags\" : {\"modes\":[{\"id\":\"road\",\"note\":\"kept\","
		  "\"evidence\":[{\"start\":0,\"end\":1}]}],"
		  "\"sanctions\":{\"relevance\":\"low\"}} }",
		"{\"id\":\"b\",\"body\":\"c\",\"ruleset\":\"1+x\","
		  "\"t\\u0061gs\":{\"sanctions\":{\"relevance\":\"none\"}}}",
	};
	struct sto_db *db = open_rw();
	struct sto_filter f;
	struct grabbed got = { NULL, NULL };
	struct sto_rec *r = NULL;
	enum sto_outcome oc;
	char err[512];
	json_t *t;
	size_t i;

	for (i = 0; i < 2; i++) {
		ck_assert_msg(sto_rec_decode(msgs[i], strlen(msgs[i]), &r, err,
		    sizeof(err)) == 0, "%s", err);
		if (i == 0) {
			ck_assert_ptr_nonnull(r->tags_text);
			t = json_loadb(r->tags_text, r->tags_len, 0, NULL);
			ck_assert_msg(json_equal(t, r->tags), "span %.*s",
			    (int)r->tags_len, r->tags_text);
			json_decref(t);
		} else
			ck_assert_ptr_null(r->tags_text);
		ck_assert_int_eq(sto_db_begin(db, 0, err, sizeof(err)), 0);
		ck_assert_int_eq(sto_db_put(db, r, &oc, err, sizeof(err)), 0);
		ck_assert_int_eq(sto_db_commit(db, err, sizeof(err)), 0);
		filter_init(&f);
		f.text = i == 0 ? "b" : "c";	/* one report each */
		ck_assert_int_eq(sto_db_query(db, &f, grab, &got, err,
		    sizeof(err)), 0);
		ck_assert_msg(json_equal(got.tags, r->tags), "tags differ");
		json_decref(got.tags);
		json_decref(got.meta);
		got.tags = got.meta = NULL;
		sto_rec_free(&r);
	}
	/* An annotation inside a tag is kept; the filters see the tag. */
	filter_init(&f);
	f.mode = "road";
	ck_assert_int_eq(count(db, &f), 1);
	sto_db_free(&db);
}
END_TEST

/* ----------------------------------------------------------------- output */

static char *
capture_csv(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	sto_csv_field(fp, s);
	fclose(fp);
	return buf;
}

START_TEST(test_csv_quoting_rfc4180)
{
	char *s;

	s = capture_csv("plain text");
	ck_assert_str_eq(s, "plain text");
	free(s);
	s = capture_csv("a,b");
	ck_assert_str_eq(s, "\"a,b\"");
	free(s);
	s = capture_csv("say \"hi\"");
	ck_assert_str_eq(s, "\"say \"\"hi\"\"\"");
	free(s);
	s = capture_csv("two\nlines\r\n");
	ck_assert_str_eq(s, "\"two\nlines\r\n\"");
	free(s);
	s = capture_csv("");
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

static int
out_row(const struct sto_rec *r, void *arg)
{
	return sto_out_row(arg, r) == -1;
}

/* What the query f prints in format fmt, NUL-terminated; caller frees. */
static char *
render(struct sto_db *db, const struct sto_filter *f, enum sto_format fmt)
{
	struct sto_out *o;
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	o = sto_out_new(fmt, fp);
	ck_assert_int_eq(sto_db_query(db, f, out_row, o, err, sizeof(err)),
	    0);
	ck_assert_int_eq(sto_out_end(&o), 0);
	fclose(fp);
	return buf;
}

START_TEST(test_output_formats)
{
	struct sto_db *db = open_rw();
	struct sto_filter f;
	char *buf;
	struct spec sp = corpus[0];

	sp.title = "Pollack, \"salted\", via Dandong";
	archive(db, &sp, 1);
	filter_init(&f);

	buf = render(db, &f, STO_FMT_CSV);
	ck_assert_msg(strncmp(buf, "id,published_at,received_at,", 28) == 0,
	    "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "\r\nr1,2026-11-01,"));
	ck_assert_ptr_nonnull(strstr(buf,
	    ",seafood/export,cn,dandong-sinuiju,road,,,UNSCR-2371-OP9,"));
	ck_assert_ptr_nonnull(strstr(buf,
	    ",\"Pollack, \"\"salted\"\", via Dandong\"\r\n"));
	free(buf);

	buf = render(db, &f, STO_FMT_TABLE);
	ck_assert_msg(strncmp(buf, "ID  PUBLISHED   RELEVANCE  COMMODITIES",
	    38) == 0, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "\nr1  2026-11-01  high       "
	    "seafood/export  dandong-sinuiju  UNSCR-2371-OP9  Pollack"));
	free(buf);

	buf = render(db, &f, STO_FMT_JSONL);
	{
		json_t *j = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);

		ck_assert_ptr_nonnull(j);
		ck_assert_str_eq(json_string_value(json_object_get(j, "id")),
		    "r1");
		ck_assert_ptr_nonnull(json_object_get(json_object_get(j,
		    "tags"), "sanctions"));
		ck_assert_ptr_nonnull(json_object_get(json_object_get(j,
		    "archive"), "archived_at"));
		json_decref(j);
	}
	free(buf);
	sto_db_free(&db);
}
END_TEST

START_TEST(test_facet_and_provision_lists)
{
	json_t *tags = json_pack(
	    "{s:[{s:s,s:s},{s:s,s:s}], s:{s:[{s:s},{s:s}]}}",
	    "commodities", "id", "coal", "direction", "export", "id", "metals",
	    "direction", "import", "sanctions", "provisions", "id", "P1",
	    "id", "P2");
	char *s;

	s = sto_facet_join(tags, "commodities");
	ck_assert_str_eq(s, "coal/export,metals/import");
	free(s);
	s = sto_facet_join(tags, "crossings");
	ck_assert_str_eq(s, "");
	free(s);
	s = sto_provisions_join(tags);
	ck_assert_str_eq(s, "P1,P2");
	free(s);
	json_decref(tags);
}
END_TEST

/* One TCase per behaviour, named for what it proves. */
#define ADD(s, fn) do {							\
	TCase *tc_ = tcase_create(#fn);					\
									\
	tcase_add_checked_fixture(tc_, setup, teardown);		\
	tcase_add_test(tc_, fn);					\
	suite_add_tcase((s), tc_);					\
} while (0)

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");

	ADD(s, test_decode_reads_a_tagged_report);
	ADD(s, test_decode_refuses_malformed_with_reason);
	ADD(s, test_ruleset_order_by_version_then_time);
	ADD(s, test_iso_dates_normalize_to_utc);
	ADD(s, test_config_defaults_and_strict_keys);
	ADD(s, test_batch_insert_archives_every_report);
	ADD(s, test_redelivery_updates_in_place);
	ADD(s, test_older_ruleset_does_not_overwrite_newer);
	ADD(s, test_bad_record_is_rejected_alone);
	ADD(s, test_unisolated_failure_fails_the_transaction);
	ADD(s, test_older_schema_is_refused);
	ADD(s, test_rollback_leaves_nothing);
	ADD(s, test_reader_sees_only_committed_batches);
	ADD(s, test_readonly_open_of_missing_archive_fails);
	ADD(s, test_foreign_database_is_refused);
	ADD(s, test_query_tag_filters);
	ADD(s, test_query_relevance_is_at_least);
	ADD(s, test_query_dates_use_published_then_received);
	ADD(s, test_query_text_search);
	ADD(s, test_fts_query_quotes_words);
	ADD(s, test_query_returns_tags_as_archived);
	ADD(s, test_tags_kept_as_sent);
	ADD(s, test_csv_quoting_rfc4180);
	ADD(s, test_output_formats);
	ADD(s, test_facet_and_provision_lists);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	yl_log_level = YL_LOG_WARNING;	/* no "archive created" lines */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
