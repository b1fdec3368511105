/*
 * check_classifyd.c - yalu-classify's logic without a broker: the offset
 * tracker that only stores a contiguous confirmed prefix, the live feed
 * topic, the tagged JSON, dead-letter reasons and headers.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "yalu/daemon.h"
#include "yalu/report.h"

#include "classifyd.h"

/* --------------------------------------------------------- the tracker */

START_TEST(test_tracker_out_of_order_confirmations_store_contiguous_prefix)
{
	struct cls_trk *t = cls_trk_new();
	uint32_t ep;
	uint64_t seq[5];
	int64_t store = -7;
	int i;

	ck_assert_int_eq(cls_trk_assign(t, 0), 0);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(cls_trk_add(t, 0, 10 + i, &ep, &seq[i]), 0);
	ck_assert_uint_eq(cls_trk_pending(t, 0), 5);
	/* 12 and 11 confirmed first: 10 is still out, nothing to store. */
	ck_assert_int_eq(cls_trk_confirm(t, 0, ep, seq[2], &store), 0);
	ck_assert_int_eq(cls_trk_confirm(t, 0, ep, seq[1], &store), 0);
	ck_assert_int_eq(store, -7);
	ck_assert_int_eq(cls_trk_stored(t, 0), -1);
	/* 10 arrives: 10, 11, 12 are done, the next to consume is 13. */
	ck_assert_int_eq(cls_trk_confirm(t, 0, ep, seq[0], &store), 1);
	ck_assert_int_eq(store, 13);
	ck_assert_uint_eq(cls_trk_pending(t, 0), 2);
	ck_assert_int_eq(cls_trk_confirm(t, 0, ep, seq[4], &store), 0);
	ck_assert_int_eq(store, 13);
	ck_assert_int_eq(cls_trk_confirm(t, 0, ep, seq[3], &store), 1);
	ck_assert_int_eq(store, 15);
	ck_assert_uint_eq(cls_trk_pending_all(t), 0);
	ck_assert_int_eq(cls_trk_stored(t, 0), 15);
	cls_trk_free(&t);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_tracker_offset_gaps_store_last_plus_one)
{
	struct cls_trk *t = cls_trk_new();
	const int64_t offs[] = { 5, 9, 20 };	/* compaction, markers */
	uint32_t ep;
	uint64_t seq[3];
	int64_t store = 0;
	int i;

	cls_trk_assign(t, 3);
	for (i = 0; i < 3; i++)
		cls_trk_add(t, 3, offs[i], &ep, &seq[i]);
	ck_assert_int_eq(cls_trk_confirm(t, 3, ep, seq[1], &store), 0);
	ck_assert_int_eq(cls_trk_confirm(t, 3, ep, seq[0], &store), 1);
	ck_assert_int_eq(store, 10);
	ck_assert_int_eq(cls_trk_confirm(t, 3, ep, seq[2], &store), 1);
	ck_assert_int_eq(store, 21);
	cls_trk_free(&t);
}
END_TEST

START_TEST(test_tracker_duplicate_and_unassigned_are_refused)
{
	struct cls_trk *t = cls_trk_new();
	uint32_t ep;
	uint64_t s0, s1;
	int64_t store;

	/* A partition never assigned takes nothing. */
	ck_assert_int_eq(cls_trk_add(t, 2, 0, &ep, &s0), -1);
	cls_trk_assign(t, 2);
	cls_trk_add(t, 2, 0, &ep, &s0);
	cls_trk_add(t, 2, 1, &ep, &s1);
	ck_assert_int_eq(cls_trk_confirm(t, 2, ep, s1, &store), 0);
	/* A second delivery report for the same message changes nothing. */
	ck_assert_int_eq(cls_trk_confirm(t, 2, ep, s1, &store), -1);
	ck_assert_int_eq(cls_trk_confirm(t, 2, ep, s1 + 5, &store), -1);
	ck_assert_int_eq(cls_trk_confirm(t, 2, ep, s0, &store), 1);
	ck_assert_int_eq(store, 2);
	ck_assert_int_eq(cls_trk_confirm(t, 2, ep, s0, &store), -1);
	ck_assert_int_eq(cls_trk_confirm(t, 7, ep, 0, &store), -1);
	cls_trk_free(&t);
}
END_TEST

START_TEST(test_tracker_revoke_forgets_pending_and_stale_confirms)
{
	struct cls_trk *t = cls_trk_new();
	uint32_t ep1, ep2, ep3;
	uint64_t a, b, c;
	int64_t store = -1;

	cls_trk_assign(t, 1);
	cls_trk_assign(t, 4);
	cls_trk_add(t, 1, 100, &ep1, &a);
	cls_trk_add(t, 1, 101, &ep1, &b);
	cls_trk_add(t, 4, 7, &ep3, &c);
	ck_assert_int_eq(cls_trk_confirm(t, 1, ep1, a, &store), 1);
	ck_assert_int_eq(store, 101);
	ck_assert_uint_eq(cls_trk_pending_all(t), 2);
	/* Revoked with 101 in flight: forgotten, partition 4 untouched. */
	cls_trk_revoke(t, 1);
	ck_assert(!cls_trk_assigned(t, 1));
	ck_assert_uint_eq(cls_trk_pending(t, 1), 0);
	ck_assert_uint_eq(cls_trk_pending_all(t), 1);
	ck_assert_int_eq(cls_trk_stored(t, 1), -1);
	ck_assert(!cls_trk_current(t, 1, ep1));
	ck_assert_int_eq(cls_trk_confirm(t, 1, ep1, b, &store), -1);
	/* Back again: a new epoch; the late report of the old one is stale
	   even though its sequence number exists again. */
	cls_trk_assign(t, 1);
	cls_trk_add(t, 1, 101, &ep2, &a);
	ck_assert_uint_ne(ep1, ep2);
	ck_assert_int_eq(cls_trk_confirm(t, 1, ep1, a, &store), -1);
	ck_assert_uint_eq(cls_trk_pending(t, 1), 1);
	ck_assert_int_eq(cls_trk_confirm(t, 1, ep2, a, &store), 1);
	ck_assert_int_eq(store, 102);
	ck_assert_int_eq(cls_trk_confirm(t, 4, ep3, c, &store), 1);
	ck_assert_int_eq(store, 8);
	cls_trk_free(&t);
}
END_TEST

/* A fixed xorshift, so that a failure replays. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

#define NP	48
#define NM	700	/* per partition: several ring growths */

START_TEST(test_tracker_many_partitions_random_order_never_passes_a_hole)
{
	struct cls_trk *t = cls_trk_new();
	struct ent { int32_t p; int64_t off; uint32_t ep; uint64_t seq; }
	    *all = calloc(NP * NM, sizeof(*all));
	char *done = calloc(NP * NM, 1);
	int64_t store, last[NP];
	uint32_t seed = 0x9e3779b9;
	size_t i, n = NP * NM;
	int p, k;

	for (p = 0; p < NP; p++) {
		cls_trk_assign(t, p);
		last[p] = -1;
	}
	/* Interleaved consumption; offsets step by 1 or 2. */
	for (k = 0; k < NM; k++)
		for (p = 0; p < NP; p++) {
			struct ent *e = &all[k * NP + p];

			e->p = p;
			e->off = (int64_t)k * 2 + (k % 3 == 0);
			ck_assert_int_eq(cls_trk_add(t, p, e->off, &e->ep,
			    &e->seq), 0);
		}
	ck_assert_uint_eq(cls_trk_pending_all(t), n);
	/* Confirm in a shuffled order. */
	for (i = n - 1; i > 0; i--) {
		size_t j = rnd(&seed) % (i + 1);
		struct ent tmp = all[i];

		all[i] = all[j];
		all[j] = tmp;
	}
	for (i = 0; i < n; i++) {
		struct ent *e = &all[i];
		int r = cls_trk_confirm(t, e->p, e->ep, e->seq, &store);

		ck_assert_int_ge(r, 0);
		done[e->p * NM + e->seq] = 1;
		if (r == 1) {
			/* Every message below the stored offset is done, the
			   one at it (if any) is not. */
			uint64_t s;

			ck_assert_int_gt(store, last[e->p]);
			last[e->p] = store;
			for (s = 0; s < NM; s++) {
				int64_t off = (int64_t)s * 2 + (s % 3 == 0);

				if (off < store)
					ck_assert(done[e->p * NM + s]);
				else {
					ck_assert(!done[e->p * NM + s]);
					break;
				}
			}
		}
	}
	for (p = 0; p < NP; p++)
		ck_assert_int_eq(cls_trk_stored(t, p),
		    (int64_t)(NM - 1) * 2 + ((NM - 1) % 3 == 0) + 1);
	ck_assert_uint_eq(cls_trk_pending_all(t), 0);
	free(all);
	free(done);
	cls_trk_free(&t);
}
END_TEST

/* ------------------------------------------------------ live feed topic */

START_TEST(test_pub_topic_is_relevance_dot_first_commodity)
{
	json_t *tags;
	char buf[64];

	tags = json_loads("{\"commodities\":[{\"id\":\"coal\",\"direction\":"
	    "\"export\"},{\"id\":\"seafood\"}],\"sanctions\":{\"relevance\":"
	    "\"high\",\"provisions\":[]}}", 0, NULL);
	ck_assert_int_eq(cls_pub_topic(tags, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "high.coal");
	/* Too small a buffer is an error, never a cut topic. */
	ck_assert_int_eq(cls_pub_topic(tags, buf, 6), -1);
	json_decref(tags);
	tags = json_loads("{\"commodities\":[],\"sanctions\":{\"relevance\":"
	    "\"none\"}}", 0, NULL);
	ck_assert_int_eq(cls_pub_topic(tags, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "none.none");
	json_decref(tags);
	tags = json_loads("{\"commodities\":[]}", 0, NULL);
	ck_assert_int_eq(cls_pub_topic(tags, buf, sizeof(buf)), -1);
	json_decref(tags);
}
END_TEST

/* ------------------------------------------------------- tagged reports */

static char taxdir[64];
static struct yl_tax *tax;
static struct yl_cls *cls;

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

static void
tax_setup(void)
{
	char err[4096];

	snprintf(taxdir, sizeof(taxdir), "/tmp/check_classifyd.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(taxdir));
	write_file(taxdir, "ruleset.yaml", "version: \"9.9.9\"\n"
	    "provisions:\n  UNSCR-2371-OP9: ban\n  UNSCR-2371-OP8: ban\n");
	write_file(taxdir, "cues.yaml", "cues:\n"
	    "  import: [import*, brought in]\n"
	    "  export: [export*, sent to]\n"
	    "  negation: [did not]\n  trade: [trade, trading]\n"
	    "  clause: [but]\n");
	write_file(taxdir, "commodities.yaml", "commodities:\n"
	    "  seafood:\n    cite: {export: [UNSCR-2371-OP9]}\n"
	    "    terms: [crab]\n"
	    "  coal:\n    cite: {export: [UNSCR-2371-OP8]}\n"
	    "    terms: [coal]\n");
	write_file(taxdir, "places.yaml", "countries:\n  cn: [china]\n"
	    "crossings:\n  dandong-sinuiju: [sinuiju, {term: dandong, "
	    "country: cn}]\n");
	tax = yl_tax_load(taxdir, err, sizeof(err));
	if (tax == NULL)
		ck_abort_msg("taxonomy: %s", err);
	ck_assert_ptr_nonnull(cls = yl_cls_new(tax, err, sizeof(err)));
}

static void
tax_teardown(void)
{
	const char *f[] = { "ruleset.yaml", "cues.yaml", "commodities.yaml",
	    "places.yaml" };
	char path[256];
	size_t i;

	yl_cls_free(&cls);
	yl_tax_free(&tax);
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", taxdir, f[i]);
		unlink(path);
	}
	rmdir(taxdir);
}

START_TEST(test_tagged_json_keeps_every_report_field_and_tags_of_cls_run)
{
	const char *raw = "{\"id\":\"r-1\",\"source\":\"rfa\",\"received_at\":"
	    "\"2026-11-24T10:00:00Z\",\"published_at\":\"2026-11-23\","
	    "\"title\":\"Crab \\u00e0 Dandong\",\"body\":\"Traders exported crab "
	    "and coal to China through Sinuiju.\",\"meta\":{\"lang\":\"en\","
	    "\"n\":[1,2]}}";
	const char *fields[] = { "id", "source", "received_at", "published_at",
	    "title", "body", NULL };
	struct cls_tagged t;
	struct yl_report *back = NULL;
	json_t *in, *out, *res;
	char err[512];
	size_t i;

	ck_assert_int_eq(cls_tag_message(cls, raw, strlen(raw), "r-1", 3,
	    1 << 20, &t, err, sizeof(err)), 0);
	ck_assert_str_eq(t.id, "r-1");
	ck_assert_str_eq(t.topic, "high.coal");
	ck_assert_uint_eq(t.len, strlen(t.json));
	ck_assert_ptr_null(strchr(t.json, '\n'));
	in = json_loads(raw, 0, NULL);
	ck_assert_ptr_nonnull(out = json_loadb(t.json, t.len, 0, NULL));
	for (i = 0; fields[i] != NULL; i++)
		ck_assert_str_eq(json_string_value(json_object_get(out,
		    fields[i])), json_string_value(json_object_get(in,
		    fields[i])));
	ck_assert(json_equal(json_object_get(out, "meta"),
	    json_object_get(in, "meta")));
	/* The tags are exactly what the classifier says of the body. */
	ck_assert_int_eq(yl_cls_run(cls, json_string_value(json_object_get(in,
	    "body")), json_string_length(json_object_get(in, "body")), 0, &res,
	    err, sizeof(err)), 0);
	ck_assert(json_equal(json_object_get(out, "tags"),
	    json_object_get(res, "tags")));
	ck_assert_str_eq(json_string_value(json_object_get(out, "ruleset")),
	    yl_tax_ruleset(tax));
	ck_assert(json_is_string(json_object_get(out, "classified_at")));
	ck_assert_uint_eq(json_object_size(out), json_object_size(in) + 3);
	/* The store reads it back with the tagged fields tolerated. */
	ck_assert_int_eq(yl_report_parse(t.json, t.len, YL_REPORT_STRICT |
	    YL_REPORT_EXTRA_OK, &back, err, sizeof(err)), 0);
	ck_assert_str_eq(back->title, "Crab \xc3\xa0 Dandong");
	yl_report_free(&back);
	json_decref(res);
	json_decref(in);
	json_decref(out);
	cls_tagged_clear(&t);
}
END_TEST

START_TEST(test_tagged_id_from_key_else_content_id)
{
	const char *raw = "{\"body\":\"A festival.\"}";
	struct cls_tagged t;
	json_t *o;
	char err[512], cid[32];

	ck_assert_int_eq(cls_tag_message(cls, raw, strlen(raw), "k-7", 3,
	    1 << 20, &t, err, sizeof(err)), 0);
	ck_assert_str_eq(t.id, "k-7");
	ck_assert_str_eq(t.topic, "none.none");
	cls_tagged_clear(&t);
	/* No key (or one that is no id): the content id, as ingest does. */
	ck_assert_int_eq(cls_tag_message(cls, raw, strlen(raw), "\xff", 1,
	    1 << 20, &t, err, sizeof(err)), 0);
	yl_report_content_id("A festival.", 11, cid, sizeof(cid));
	ck_assert_str_eq(t.id, cid);
	o = json_loads(t.json, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "id")), cid);
	json_decref(o);
	cls_tagged_clear(&t);
}
END_TEST

/* Tags raw and expects a refusal whose reason contains want. */
static void
expect_refused(const char *raw, size_t len, size_t max, const char *want,
    const char *want_code, const char *want_id)
{
	struct cls_tagged t;
	char err[512] = "";

	if (raw != NULL && len == 0)
		len = strlen(raw);
	ck_assert_int_eq(cls_tag_message(cls, raw, len, NULL, 0, max, &t, err,
	    sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		ck_abort_msg("reason '%s' lacks '%s'", err, want);
	ck_assert_ptr_null(t.json);
	ck_assert_str_eq(t.reason, want_code);
	if (want_id != NULL)
		ck_assert_str_eq(t.id, want_id);
	else
		ck_assert_ptr_null(t.id);
	cls_tagged_clear(&t);
}

START_TEST(test_undecodable_messages_are_refused_with_reason)
{
	expect_refused(NULL, 0, 100, "empty message", "empty", NULL);
	expect_refused("{\"body\":\"crab\"}", 15, 10,
	    "report is 15 bytes, over max_report_bytes 10", "too_large", NULL);
	expect_refused("{\"body\":\"cr\xc3\x28\"}", 14, 100,
	    "invalid UTF-8 at byte 11", "invalid_utf8", NULL);
	expect_refused("not json", 0, 100, "invalid JSON", "invalid_json",
	    NULL);
	expect_refused("[1,2]", 0, 100, "not a JSON object", "invalid_report",
	    NULL);
	expect_refused("{\"id\":\"x1\"}", 0, 100, "body: missing",
	    "invalid_report", "x1");
	expect_refused("{\"id\":\"x2\",\"body\":\"\"}", 0, 100,
	    "classify: empty body", "classify", "x2");
	expect_refused("{\"id\":\"x3\",\"body\":\"b\",\"foo\":1}", 0, 100,
	    "unknown field 'foo'", "invalid_report", "x3");
	/* The tagged form is not a raw report. */
	expect_refused("{\"body\":\"b\",\"tags\":{}}", 0, 100,
	    "unknown field 'tags'", "invalid_report", NULL);
}
END_TEST

/* ---------------------------------------------------------- dead letters */

static const char *
header(rd_kafka_headers_t *h, const char *name, char *buf, size_t bufsz)
{
	const void *v;
	size_t n;

	if (rd_kafka_header_get_last(h, name, &v, &n) != 0)
		return NULL;
	snprintf(buf, bufsz, "%.*s", (int)n, (const char *)v);
	return buf;
}

START_TEST(test_dlq_headers_carry_reason_origin_and_stage)
{
	struct cls_job *j;
	rd_kafka_headers_t *h;
	const void *p;
	size_t n;
	char b[256];

	j = cls_job_new(3, 4242, "key-1", 5, "not json", 8,
	    "invalid JSON at line 1 col 1");
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(j->kind, CLS_JOB_DLQ);
	p = cls_job_payload(j, &n);
	ck_assert_uint_eq(n, 8);
	ck_assert(memcmp(p, "not json", 8) == 0);
	ck_assert_ptr_nonnull(h = cls_dlq_headers(j, "reports.raw"));
	ck_assert_uint_eq(rd_kafka_header_cnt(h), 5);
	ck_assert_str_eq(header(h, "yalu-error", b, sizeof(b)),
	    "invalid JSON at line 1 col 1");
	ck_assert_str_eq(header(h, "yalu-topic", b, sizeof(b)), "reports.raw");
	ck_assert_str_eq(header(h, "yalu-partition", b, sizeof(b)), "3");
	ck_assert_str_eq(header(h, "yalu-offset", b, sizeof(b)), "4242");
	ck_assert_str_eq(header(h, "yalu-stage", b, sizeof(b)), "classify");
	rd_kafka_headers_destroy(h);
	cls_job_free(&j);
	ck_assert_ptr_null(j);
}
END_TEST

START_TEST(test_tagged_job_too_large_becomes_dead_letter_of_original)
{
	const char *raw = "{\"id\":\"r-9\",\"body\":\"Traders exported crab to "
	    "China.\"}";
	struct cls_tagged t;
	struct cls_job *j;
	rd_kafka_headers_t *h;
	const void *p;
	size_t n;
	char err[512], b[256];

	ck_assert_int_eq(cls_tag_message(cls, raw, strlen(raw), NULL, 0,
	    1 << 20, &t, err, sizeof(err)), 0);
	j = cls_job_new(0, 17, NULL, 0, raw, strlen(raw), NULL);
	cls_job_set_tagged(j, &t);
	ck_assert_ptr_null(t.json);
	ck_assert_int_eq(j->kind, CLS_JOB_TAGGED);
	ck_assert_str_eq(j->topic, "high.seafood");
	p = cls_job_payload(j, &n);
	ck_assert_uint_eq(n, j->taggedlen);
	ck_assert(strstr(p, "\"ruleset\"") != NULL);
	/* The broker refuses it for good: the original bytes go to DLQ. */
	ck_assert_int_eq(cls_job_to_dlq(j, "tagged report is 2000000 bytes",
	    "tagged_too_large"), 0);
	ck_assert_str_eq(j->reason, "tagged_too_large");
	p = cls_job_payload(j, &n);
	ck_assert_uint_eq(n, strlen(raw));
	ck_assert(memcmp(p, raw, n) == 0);
	ck_assert_ptr_null(j->key);
	h = cls_dlq_headers(j, "raw");
	ck_assert_str_eq(header(h, "yalu-error", b, sizeof(b)),
	    "tagged report is 2000000 bytes");
	ck_assert_str_eq(header(h, "yalu-offset", b, sizeof(b)), "17");
	rd_kafka_headers_destroy(h);
	cls_job_free(&j);
}
END_TEST

/* ------------------------------------------------------------- config */

START_TEST(test_config_errors_are_all_listed)
{
	char path[] = "/tmp/check_classifyd_conf.XXXXXX";
	struct cls_conf c = { 0 };
	struct yl_errs errs = { 0 };
	FILE *fp;
	int fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_ptr_nonnull(fp = fdopen(fd, "w"));
	fputs("kafka:\n  no.such.property: 1\ngroup: g\nmax_inflight: 0\n"
	    "pubish: tcp://x:1\npublish: nowhere\n", fp);
	fclose(fp);
	ck_assert_int_eq(cls_conf_load(path, &c, &errs), -1);
	ck_assert_ptr_nonnull(strstr(errs.buf, ":4:15: max_inflight: 0 is out "
	    "of range"));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":5:1: unknown key 'pubish'"));
	ck_assert_ptr_nonnull(strstr(errs.buf, "no.such.property"));
	ck_assert_ptr_nonnull(strstr(errs.buf, "publish: 'nowhere'"));
	cls_conf_release(&c);
	yl_errs_clear(&errs);
	memset(&c, 0, sizeof(c));
	/* Defaults. */
	fp = fopen(path, "w");
	fputs("kafka:\n  bootstrap.servers: 127.0.0.1:1\n", fp);
	fclose(fp);
	ck_assert_int_eq(cls_conf_load(path, &c, &errs), 0);
	ck_assert_str_eq(c.group, "yalu-classify");
	ck_assert_str_eq(c.publish, "tcp://127.0.0.1:7602");
	ck_assert_str_eq(c.topics.raw.name, "reports.raw");
	ck_assert_int_eq(c.max_report_bytes, 1048576);
	ck_assert_ptr_null(c.taxonomy);
	cls_conf_release(&c);
	yl_errs_clear(&errs);
	unlink(path);
}
END_TEST


/* ------------------------------------------- rebalance, mock cluster */

/* The high watermark of topic [p]: the offset a full commit reaches. */
static int64_t
high_mark(rd_kafka_t *rk, const char *topic, int32_t p)
{
	int64_t lo, hi;

	ck_assert_int_eq(rd_kafka_query_watermark_offsets(rk, topic, p, &lo,
	    &hi, 5000), 0);
	return hi;
}

/* The group's committed offset of topic [p], or -1001 if none. */
static int64_t
committed(rd_kafka_t *rk, const char *topic, int32_t p)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int64_t off;

	rd_kafka_topic_partition_list_add(l, topic, p);
	ck_assert_int_eq(rd_kafka_committed(rk, l, 5000), 0);
	off = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	return off;
}

static rd_kafka_t *
mock_client(rd_kafka_type_t type, const char *bootstraps, const char **kv)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	char err[512];

	if (bootstraps != NULL)
		rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err,
		    sizeof(err));
	for (; kv != NULL && kv[0] != NULL; kv += 2)
		ck_assert_int_eq(rd_kafka_conf_set(conf, kv[0], kv[1], err,
		    sizeof(err)), RD_KAFKA_CONF_OK);
	rk = rd_kafka_new(type, conf, err, sizeof(err));
	ck_assert_msg(rk != NULL, "%s", err);
	return rk;
}

static void
produce_raw(rd_kafka_t *rk, const char *topic, int from, int to)
{
	char key[32], val[256];
	int i;

	for (i = from; i < to; i++) {
		snprintf(key, sizeof(key), "m-%d", i);
		if (i == 5)	/* one undecodable message */
			snprintf(val, sizeof(val), "{\"id\":\"m-5\",\"body\":");
		else
			snprintf(val, sizeof(val), "{\"id\":\"m-%d\",\"body\":"
			    "\"Traders exported crab to China, lot %d.\"}", i, i);
		ck_assert_int_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
		    RD_KAFKA_V_PARTITION(i % 4), RD_KAFKA_V_KEY(key,
		    strlen(key)), RD_KAFKA_V_VALUE(val, strlen(val)),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
		    0);
	}
	ck_assert_int_eq(rd_kafka_flush(rk, 10000), 0);
}

static void
set_str(char **field, const char *v)
{
	free(*field);
	*field = strdup(v);
}

/*
 * A second member joins while produces of the daemon are held back by
 * the broker: the partitions it takes are revoked from the daemon, which
 * waits for their deliveries before it commits and lets go, so the new
 * owner starts exactly after the last tagged report: nothing is lost,
 * nothing tagged twice.
 */
START_TEST(test_mock_cluster_revoke_waits_for_inflight_then_commits)
{
	static const char *fast[] = { "heartbeat.interval.ms", "200",
	    "session.timeout.ms", "10000", NULL };
	const char *member[] = { "group.id", "mock-group",
	    "partition.assignment.strategy", "cooperative-sticky",
	    "enable.auto.commit", "false", "heartbeat.interval.ms", "200",
	    "session.timeout.ms", "10000", NULL };
	const int n1 = 20, n2 = 8;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *prod, *b, *c;
	rd_kafka_topic_partition_list_t *ba = NULL;
	struct cls_conf conf;
	struct cls_daemon *d;
	struct yl_tax *t2;
	const char *bs;
	char err[4096];
	long long until;
	int64_t sum;
	size_t inflight_at_revoke = (size_t)-1;
	int i;

	unsetenv("YALU_KAFKA");
	prod = mock_client(RD_KAFKA_PRODUCER, NULL, (const char *[]){
	    "test.mock.num.brokers", "1", NULL });
	ck_assert_ptr_nonnull(mc = rd_kafka_handle_mock_cluster(prod));
	bs = rd_kafka_mock_cluster_bootstraps(mc);
	rd_kafka_mock_topic_create(mc, "m.raw", 4, 1);
	rd_kafka_mock_topic_create(mc, "m.tagged", 2, 1);
	rd_kafka_mock_topic_create(mc, "m.dlq", 1, 1);
	produce_raw(prod, "m.raw", 0, n1);

	memset(&conf, 0, sizeof(conf));
	ck_assert_int_eq(yl_conf_defaults(cls_conf_spec, &conf), 0);
	yl_kv_set(&conf.kafka, "bootstrap.servers", bs);
	for (i = 0; fast[i] != NULL; i += 2)
		yl_kv_set(&conf.kafka, fast[i], fast[i + 1]);
	set_str(&conf.topics.raw.name, "m.raw");
	set_str(&conf.topics.tagged.name, "m.tagged");
	set_str(&conf.topics.dlq.name, "m.dlq");
	set_str(&conf.group, "mock-group");
	set_str(&conf.publish, "");
	ck_assert_ptr_nonnull(t2 = yl_tax_load(taxdir, err, sizeof(err)));
	d = cls_daemon_new("-", &conf, &t2, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	/* The mock has no admin API: its topics exist already. */
	ck_assert_int_eq(cls_daemon_subscribe(d), 0);

	/* First the backlog, with one dead letter. */
	until = yl_now_ms() + 20000;
	while (d->st.tagged + d->st.dead < (unsigned)n1 && yl_now_ms() < until)
		cls_daemon_step(d, 50);
	ck_assert_uint_eq(d->st.tagged, n1 - 1);
	ck_assert_uint_eq(d->st.dead, 1);

	/*
	 * Then reports whose produces the broker answers 14 s late. The
	 * mock completes a rebalance after about session.timeout.ms (10 s)
	 * and gives a member as long again to rejoin: so the revoke comes
	 * while these are in flight and ends, once they are confirmed, in
	 * time. Its wait is raised for that (the default would be 5 s).
	 */
	ck_assert_int_eq(d->revoke_wait_ms, 5000);	/* session / 2 */
	d->revoke_wait_ms = 9000;
	produce_raw(prod, "m.raw", n1, n1 + n2);
	rd_kafka_mock_broker_push_request_error_rtts(mc, 1, 0 /* Produce */,
	    3, RD_KAFKA_RESP_ERR_NO_ERROR, 14000, RD_KAFKA_RESP_ERR_NO_ERROR,
	    14000, RD_KAFKA_RESP_ERR_NO_ERROR, 14000);
	until = yl_now_ms() + 10000;
	while (d->st.consumed < (unsigned)(n1 + n2) && yl_now_ms() < until)
		cls_daemon_step(d, 20);
	ck_assert_uint_eq(d->st.consumed, n1 + n2);
	ck_assert_uint_gt(d->inflight, 0);

	/* A second member joins: some partitions move to it. */
	b = mock_client(RD_KAFKA_CONSUMER, bs, member);
	rd_kafka_poll_set_consumer(b);
	ba = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(ba, "m.raw", RD_KAFKA_PARTITION_UA);
	ck_assert_int_eq(rd_kafka_subscribe(b, ba), 0);
	rd_kafka_topic_partition_list_destroy(ba);
	ba = NULL;
	until = yl_now_ms() + 40000;
	while (yl_now_ms() < until) {
		rd_kafka_message_t *m;
		size_t before = d->inflight;

		cls_daemon_step(d, 20);
		for (i = 0; i < 4 && inflight_at_revoke == (size_t)-1; i++)
			if (!cls_trk_assigned(d->trk, i))
				inflight_at_revoke = before;
		if ((m = rd_kafka_consumer_poll(b, 20)) != NULL)
			rd_kafka_message_destroy(m);
		ck_assert_int_eq(rd_kafka_assignment(b, &ba), 0);
		if (ba->cnt > 0)
			break;
		rd_kafka_topic_partition_list_destroy(ba);
		ba = NULL;
	}
	ck_assert_msg(ba != NULL, "the second member got no partition");
	ck_assert_uint_gt(inflight_at_revoke, 0);
	ck_assert_uint_ne(inflight_at_revoke, (size_t)-1);
	ck_assert_int_lt(ba->cnt, 4);
	for (i = 0; i < ba->cnt; i++) {
		int32_t p = ba->elems[i].partition;

		/* Let go of, after the late deliveries: committed to the end. */
		ck_assert(!cls_trk_assigned(d->trk, p));
		ck_assert_int_eq(committed(b, "m.raw", p),
		    high_mark(b, "m.raw", p));
	}
	rd_kafka_topic_partition_list_destroy(ba);
	rd_kafka_consumer_close(b);
	rd_kafka_destroy(b);

	/* SIGTERM: the rest is delivered and committed; exit code 0. */
	ck_assert_int_eq(cls_daemon_drain(d), 0);
	ck_assert_uint_eq(d->inflight, 0);
	/* And it all shows in the metrics. */
	{
		const char *want[] = { "yalu_classify_consumed_total 28\n",
		    "yalu_classify_tagged_total 27\n",
		    "yalu_classify_dead_letters_total{reason=\"invalid_json\"} "
		    "1\n", "yalu_classify_rebalances_total{type=\"revoke\"} ",
		    "yalu_classify_inflight 0\n",
		    "yalu_classify_seconds_count 28\n",
		    "yalu_classify_confirm_seconds_count 28\n", NULL };
		char *text;
		size_t len;

		ck_assert_int_eq(yl_metrics_render(d->metrics, &text, &len), 0);
		for (i = 0; want[i] != NULL; i++)
			ck_assert_msg(strstr(text, want[i]) != NULL,
			    "no '%s' in\n%s", want[i], text);
		free(text);
	}
	cls_daemon_free(&d);
	c = mock_client(RD_KAFKA_CONSUMER, bs, member);
	for (i = 0, sum = 0; i < 4; i++) {
		ck_assert_int_eq(committed(c, "m.raw", i),
		    high_mark(c, "m.raw", i));
		sum += high_mark(c, "m.raw", i);
	}
	ck_assert_int_eq(sum, n1 + n2);
	/* Every report once: tagged or dead-lettered, never twice. */
	ck_assert_int_eq(high_mark(c, "m.tagged", 0) +
	    high_mark(c, "m.tagged", 1), n1 + n2 - 1);
	ck_assert_int_eq(high_mark(c, "m.dlq", 0), 1);
	rd_kafka_destroy(c);
	rd_kafka_destroy(prod);
}
END_TEST

static Suite *
classifyd_suite(void)
{
	Suite *s = suite_create("classifyd");
	TCase *tc;

#define ADD(fn) do { tc = tcase_create(#fn); tcase_add_test(tc, fn); \
	suite_add_tcase(s, tc); } while (0)
/* Unchecked: the temp taxonomy goes away even when the test fails. */
#define ADD_TAX(fn) do { tc = tcase_create(#fn); \
	tcase_add_unchecked_fixture(tc, tax_setup, tax_teardown); \
	tcase_add_test(tc, fn); suite_add_tcase(s, tc); } while (0)
	ADD(test_tracker_out_of_order_confirmations_store_contiguous_prefix);
	ADD(test_tracker_offset_gaps_store_last_plus_one);
	ADD(test_tracker_duplicate_and_unassigned_are_refused);
	ADD(test_tracker_revoke_forgets_pending_and_stale_confirms);
	ADD(test_tracker_many_partitions_random_order_never_passes_a_hole);
	ADD(test_pub_topic_is_relevance_dot_first_commodity);
	ADD_TAX(test_tagged_json_keeps_every_report_field_and_tags_of_cls_run);
	ADD_TAX(test_tagged_id_from_key_else_content_id);
	ADD_TAX(test_undecodable_messages_are_refused_with_reason);
	ADD(test_dlq_headers_carry_reason_origin_and_stage);
	ADD_TAX(test_tagged_job_too_large_becomes_dead_letter_of_original);
	ADD(test_config_errors_are_all_listed);
	ADD_TAX(test_mock_cluster_revoke_waits_for_inflight_then_commits);
	tcase_set_timeout(tc, 120);	/* rebalances and a 14 s delay */
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(classifyd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
