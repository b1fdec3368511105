/*
 * check_ingest.c - yalu-ingest's door without a network: normalization,
 * request decoding, the config and the spool directory.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "yalu/conf.h"
#include "yalu/report.h"

#include "ingest.h"

/* ------------------------------------------------------------ helpers */

static struct ing_norm *
default_norm(void)
{
	struct yl_strlist l = { 0 };
	struct ing_norm *nm;
	char err[256];
	size_t i;

	for (i = 0; ing_default_boilerplate[i] != NULL; i++)
		yl_strlist_add(&l, ing_default_boilerplate[i]);
	nm = ing_norm_new(&l, err, sizeof(err));
	ck_assert_msg(nm != NULL, "%s", err);
	yl_strlist_clear(&l);
	return nm;
}

/* Normalizes body with the default patterns; the report or NULL. */
static struct yl_report *
normalized(const char *body, enum ing_refusal *why, char *err, size_t errsz)
{
	struct ing_norm *nm = default_norm();
	struct yl_report *r = yl_report_new(body, strlen(body));

	*why = ing_normalize(nm, r, err, errsz);
	ing_norm_free(&nm);
	if (*why != ING_OK)
		yl_report_free(&r);
	return r;
}

static struct tm
utc(int y, int mon, int d)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	return tm;
}

/* Decodes frames given as strings (NULL-terminated list). */
static enum ing_refusal
decode(const char *const *frames, size_t max, struct yl_report **r,
    char *err, size_t errsz)
{
	struct ing_frame f[8];
	size_t n;

	for (n = 0; frames[n] != NULL; n++) {
		f[n].data = frames[n];
		f[n].len = strlen(frames[n]);
	}
	*r = NULL;
	return ing_request_decode(f, n, max, r, err, errsz);
}

static void
assert_refused(const char *const *frames, enum ing_refusal want,
    const char *reason)
{
	struct yl_report *r;
	char err[512];
	enum ing_refusal why;

	why = decode(frames, ING_DEFAULT_MAX_BYTES, &r, err, sizeof(err));
	ck_assert_int_eq(why, want);
	ck_assert_ptr_null(r);
	ck_assert_str_eq(err, reason);
}

/* ------------------------------------------------------ boilerplate */

START_TEST(test_boilerplate_newsletter_footer_removed)
{
	const char *body =
	    "Traders in Sinuiju said salted pollack was moving again.\n"
	    "\n"
	    "Read in Korean\n"
	    "\n"
	    "Prices rose by a third in a week.\n"
	    "\n"
	    "Please direct any comments or questions about this story to "
	    "feedback@example.org.\n"
	    "Subscribe to our newsletter for weekly market reports.\n"
	    "\n";
	enum ing_refusal why;
	char err[256];
	struct yl_report *r = normalized(body, &why, err, sizeof(err));

	ck_assert_int_eq(why, ING_OK);
	ck_assert_str_eq(r->body,
	    "Traders in Sinuiju said salted pollack was moving again.\n"
	    "\n"
	    "\n"
	    "Prices rose by a third in a week.");
	ck_assert_uint_eq(r->body_len, strlen(r->body));
	yl_report_free(&r);
}
END_TEST

START_TEST(test_boilerplate_mentioned_in_a_sentence_is_kept)
{
	const char *body = "Officials told traders to subscribe to our "
	    "newsletter, a source said.\nRead in Korean, the order is "
	    "stricter.\n";
	enum ing_refusal why;
	char err[256];
	struct yl_report *r = normalized(body, &why, err, sizeof(err));

	ck_assert_int_eq(why, ING_OK);
	ck_assert_str_eq(r->body, body);
	yl_report_free(&r);
}
END_TEST

START_TEST(test_boilerplate_configured_patterns_replace_defaults)
{
	struct yl_strlist l = { 0 };
	struct ing_norm *nm;
	struct yl_report *r;
	char err[256];
	const char *body = "Coal left Nampo.\nSubscribe to our newsletter\n"
	    "-- sent by FeedBot\n";

	yl_strlist_add(&l, "^-- sent by [A-Za-z]+$");
	nm = ing_norm_new(&l, err, sizeof(err));
	ck_assert_ptr_nonnull(nm);
	r = yl_report_new(body, strlen(body));
	ck_assert_int_eq(ing_normalize(nm, r, err, sizeof(err)), ING_OK);
	ck_assert_str_eq(r->body, "Coal left Nampo.\nSubscribe to our "
	    "newsletter");
	yl_report_free(&r);
	ing_norm_free(&nm);
	ck_assert_ptr_null(nm);
	yl_strlist_clear(&l);
}
END_TEST

START_TEST(test_boilerplate_bad_pattern_refused)
{
	struct yl_strlist l = { 0 };
	char err[256];

	yl_strlist_add(&l, "(unclosed");
	ck_assert_ptr_null(ing_norm_new(&l, err, sizeof(err)));
	ck_assert_msg(strncmp(err, "boilerplate[0]: '(unclosed': ", 29) == 0,
	    "%s", err);
	yl_strlist_clear(&l);
}
END_TEST

START_TEST(test_boilerplate_only_body_refused)
{
	enum ing_refusal why;
	char err[256];
	struct yl_report *r = normalized("Read in Korean\n\nSubscribe to our "
	    "newsletter\n", &why, err, sizeof(err));

	ck_assert_ptr_null(r);
	ck_assert_int_eq(why, ING_R_EMPTY);
	ck_assert_str_eq(err, "body: empty once boilerplate is removed");
}
END_TEST

/* -------------------------------------------------- dateline, byline */

/* The dateline read from body on day y-m-d (UTC), or NULL. */
static const char *
dateline(const char *body, int y, int m, int d)
{
	static char iso[64];
	struct tm now = utc(y, m, d);

	return ing_find_dateline(body, strlen(body), &now, iso,
	    sizeof(iso)) == 0 ? iso : NULL;
}

START_TEST(test_dateline_place_and_short_date)
{
	ck_assert_pstr_eq(dateline("SEOUL, Nov. 3 \xe2\x80\x94 North Korean "
	    "traders in Hyesan said ...\n", 2026, 11, 20), "2026-11-03");
}
END_TEST

START_TEST(test_dateline_without_year_from_last_year)
{
	ck_assert_pstr_eq(dateline("SEOUL, Dec. 30 -- Smugglers said ...\n",
	    2027, 1, 5), "2026-12-30");
}
END_TEST

START_TEST(test_dateline_place_country_and_year)
{
	ck_assert_pstr_eq(dateline("Market notes\n\nDANDONG, China, November "
	    "3, 2026 \xe2\x80\x93 Trucks crossed ...\n", 2026, 11, 20),
	    "2026-11-03");
}
END_TEST

START_TEST(test_dateline_feed_timestamp_with_time)
{
	ck_assert_pstr_eq(dateline("Fuel prices fell in Pyongyang.\n\nvia "
	    "Daily NK\nJanuary 17, 2026 at 07:21PM\n", 2026, 1, 20),
	    "2026-01-17T19:21:00");
}
END_TEST

START_TEST(test_dateline_iso_and_published_lines)
{
	ck_assert_pstr_eq(dateline("Published: 2026-11-03\nText.\n", 2026, 1,
	    20), "2026-11-03");
	ck_assert_pstr_eq(dateline("Tuesday, 3 November 2026 14:05 KST\n"
	    "Text.\n", 2026, 1, 20), "2026-11-03T14:05:00");
}
END_TEST

START_TEST(test_dateline_date_in_prose_is_not_a_dateline)
{
	ck_assert_ptr_null(dateline("On November 3, 2026 the customs office "
	    "closed.\nBy then, prices had doubled.\nMay 5 was quiet.\n", 2026,
	    11, 20));
}
END_TEST

START_TEST(test_dateline_impossible_date_kept_as_written)
{
	ck_assert_pstr_eq(dateline("SEOUL, Nov. 31 -- ...\n", 2026, 11, 20),
	    "Nov. 31");
}
END_TEST

START_TEST(test_byline_name_extracted)
{
	char name[128];
	const char *a = "Fuel smuggling resumes\nBy Kim Ji-eun\n\nText.\n";
	const char *b = "Text.\n\nReporting by Lee Sang-yong, Daily NK\n";
	const char *c = "Text.\nby 김정은 and J. Park\n";

	ck_assert_int_eq(ing_find_byline(a, strlen(a), name, sizeof(name)), 0);
	ck_assert_str_eq(name, "Kim Ji-eun");
	ck_assert_int_eq(ing_find_byline(b, strlen(b), name, sizeof(name)), 0);
	ck_assert_str_eq(name, "Lee Sang-yong, Daily NK");
	ck_assert_int_eq(ing_find_byline(c, strlen(c), name, sizeof(name)), 0);
	ck_assert_str_eq(name, "김정은 and J. Park");
}
END_TEST

START_TEST(test_byline_sentences_are_not_bylines)
{
	char name[128];
	const char *body = "By the way, trade was brisk.\n"
	    "By Tuesday, traders had sold everything.\n"
	    "By order of the Central Committee, markets closed\n";

	ck_assert_int_eq(ing_find_byline(body, strlen(body), name,
	    sizeof(name)), -1);
}
END_TEST

START_TEST(test_normalize_fills_published_at_and_source)
{
	enum ing_refusal why;
	char err[256], year[16];
	time_t t = time(NULL);
	struct tm now;
	struct yl_report *r = normalized("By Kim Ji-eun\n\nSEOUL, Nov. 3 -- "
	    "Traders said ...\n", &why, err, sizeof(err));

	ck_assert_int_eq(why, ING_OK);
	ck_assert_str_eq(r->source, "Kim Ji-eun");
	gmtime_r(&t, &now);
	snprintf(year, sizeof(year), "%04d", now.tm_year + 1900 -
	    (now.tm_mon + 1 < 10 ? 1 : 0));
	ck_assert_msg(strncmp(r->published_at, year, 4) == 0 &&
	    strcmp(r->published_at + 4, "-11-03") == 0, "%s", r->published_at);
	/* The lines are read, not cut. */
	ck_assert_str_eq(r->body, "By Kim Ji-eun\n\nSEOUL, Nov. 3 -- "
	    "Traders said ...\n");
	yl_report_free(&r);
}
END_TEST

START_TEST(test_normalize_keeps_what_the_report_carries)
{
	struct ing_norm *nm = default_norm();
	const char *body = "By Kim Ji-eun\nSEOUL, Nov. 3 -- Text.\n";
	struct yl_report *r = yl_report_new(body, strlen(body));
	char err[256];

	yl_report_set(&r->source, "Daily NK");
	yl_report_set(&r->published_at, "2026-11-04");
	yl_report_set(&r->id, "r42");
	ck_assert_int_eq(ing_normalize(nm, r, err, sizeof(err)), ING_OK);
	ck_assert_str_eq(r->source, "Daily NK");
	ck_assert_str_eq(r->published_at, "2026-11-04");
	ck_assert_str_eq(r->id, "r42");
	ck_assert_ptr_nonnull(r->received_at);
	ck_assert_int_eq(r->received_at[4], '-');
	ck_assert_int_eq(r->received_at[strlen(r->received_at) - 1], 'Z');
	yl_report_free(&r);
	ing_norm_free(&nm);
}
END_TEST

/* ---------------------------------------------------------- content id */

START_TEST(test_content_id_stable_across_rewrapping)
{
	const char *a = "Salted pollack and dried squid were loaded at Nampo "
	    "for Dalian,\ntraders said.\n";
	const char *b = "  Salted pollack and dried squid\nwere loaded at "
	    "Nampo for\tDalian, traders said.\n\nRead in Korean\n"
	    "Subscribe to our newsletter\n";
	const char *c = "Salted pollack and dried squid were loaded at Nampo "
	    "for Dalian, traders said!\n";
	enum ing_refusal why;
	char err[256];
	struct yl_report *ra = normalized(a, &why, err, sizeof(err));
	struct yl_report *rb = normalized(b, &why, err, sizeof(err));
	struct yl_report *rc = normalized(c, &why, err, sizeof(err));

	ck_assert_ptr_nonnull(ra);
	ck_assert_ptr_nonnull(rb);
	ck_assert_ptr_nonnull(rc);
	ck_assert_int_eq(strncmp(ra->id, "r-", 2), 0);
	ck_assert_uint_eq(strlen(ra->id), 18);
	ck_assert_str_eq(ra->id, rb->id);
	ck_assert_str_ne(ra->id, rc->id);
	yl_report_free(&ra);
	yl_report_free(&rb);
	yl_report_free(&rc);
}
END_TEST

/* --------------------------------------------------- refused bodies */

START_TEST(test_normalize_invalid_utf8_refused_with_offset)
{
	enum ing_refusal why;
	char err[256];
	struct yl_report *r;

	r = normalized("Hyesan \xed\xa0\x80 surrogate", &why, err, sizeof(err));
	ck_assert_ptr_null(r);
	ck_assert_int_eq(why, ING_R_UTF8);
	ck_assert_str_eq(err, "invalid UTF-8 at byte 7");
	r = normalized("caf\xc3\xa9 ok \xc0\xaf overlong", &why, err,
	    sizeof(err));
	ck_assert_ptr_null(r);
	ck_assert_str_eq(err, "invalid UTF-8 at byte 9");
}
END_TEST

START_TEST(test_normalize_blank_and_nul_bodies_refused)
{
	struct ing_norm *nm = default_norm();
	struct yl_report *r = yl_report_new("ab\0cd", 5);
	enum ing_refusal why;
	char err[256];

	ck_assert_int_eq(ing_normalize(nm, r, err, sizeof(err)), ING_R_UTF8);
	ck_assert_str_eq(err, "body: NUL byte at byte 2");
	yl_report_free(&r);
	ing_norm_free(&nm);
	ck_assert_ptr_null(normalized(" \n\t\r\n", &why, err, sizeof(err)));
	ck_assert_int_eq(why, ING_R_EMPTY);
	ck_assert_str_eq(err, "body: empty");
}
END_TEST

/* --------------------------------------------------------- requests */

START_TEST(test_decode_frame_count)
{
	const char *none[] = { NULL };
	const char *three[] = { "{}", "body", "extra", NULL };

	assert_refused(none, ING_R_FRAMES, "expected 1 or 2 frames, got 0");
	assert_refused(three, ING_R_FRAMES, "expected 1 or 2 frames, got 3");
}
END_TEST

START_TEST(test_decode_not_json)
{
	const char *f[] = { "this is not json", NULL };
	const char *arr[] = { "[\"body\"]", NULL };
	const char *meta[] = { "{\"title\": ", "body", NULL };
	struct yl_report *r;
	char err[512];

	ck_assert_int_eq(decode(f, ING_DEFAULT_MAX_BYTES, &r, err, sizeof(err)),
	    ING_R_JSON);
	ck_assert_msg(strncmp(err, "invalid JSON at line 1 col ", 27) == 0,
	    "%s", err);
	assert_refused(arr, ING_R_JSON, "not a JSON object");
	ck_assert_int_eq(decode(meta, ING_DEFAULT_MAX_BYTES, &r, err,
	    sizeof(err)), ING_R_JSON);
	ck_assert_msg(strncmp(err, "meta: invalid JSON at line 1 col ",
	    33) == 0, "%s", err);
}
END_TEST

START_TEST(test_decode_strict_fields)
{
	const char *unknown[] = { "{\"body\": \"x\", \"foo\": 1}", NULL };
	const char *missing[] = { "{\"title\": \"x\"}", NULL };
	const char *badtype[] = { "{\"body\": \"x\", \"title\": 5}", NULL };
	const char *badmeta[] = { "{\"body\": \"x\", \"meta\": []}", NULL };
	const char *meta_unknown[] = { "{\"foo\": 1}", "body", NULL };
	const char *meta_body[] = { "{\"body\": \"a\"}", "body", NULL };
	const char *dup[] = { "{\"body\": \"a\", \"body\": \"b\"}", NULL };
	struct yl_report *r;
	char err[512];

	assert_refused(unknown, ING_R_FIELD, "unknown field 'foo'");
	assert_refused(missing, ING_R_FIELD, "body: missing");
	assert_refused(badtype, ING_R_FIELD, "title: not a string");
	assert_refused(badmeta, ING_R_FIELD, "meta: not an object");
	assert_refused(meta_unknown, ING_R_FIELD, "unknown field 'foo'");
	assert_refused(meta_body, ING_R_FIELD, "meta: must not carry body "
	    "(the second frame is the body)");
	ck_assert_int_eq(decode(dup, ING_DEFAULT_MAX_BYTES, &r, err,
	    sizeof(err)), ING_R_JSON);
	ck_assert_msg(strstr(err, "duplicate") != NULL, "%s", err);
}
END_TEST

START_TEST(test_decode_empty_body)
{
	const char *json[] = { "{\"body\": \"\"}", NULL };
	const char *blank[] = { "{\"body\": \" \\n\\t\"}", NULL };
	const char *raw[] = { "{\"title\": \"t\"}", "", NULL };

	assert_refused(json, ING_R_EMPTY, "body: empty");
	assert_refused(blank, ING_R_EMPTY, "body: empty");
	assert_refused(raw, ING_R_EMPTY, "body: empty");
}
END_TEST

START_TEST(test_decode_oversized)
{
	size_t n = 9000000;
	char *big = malloc(n);
	struct ing_frame f = { big, n };
	struct ing_frame two[2] = { { "{}", 2 }, { big, 1048575 } };
	struct yl_report *r = NULL;
	char err[512];

	memset(big, 'a', n);
	ck_assert_int_eq(ing_request_decode(&f, 1, 1048576, &r, err,
	    sizeof(err)), ING_R_SIZE);
	ck_assert_str_eq(err, "report is 9000000 bytes, over max_report_bytes "
	    "1048576");
	/* The limit is on the request, meta frame included. */
	ck_assert_int_eq(ing_request_decode(two, 2, 1048576, &r, err,
	    sizeof(err)), ING_R_SIZE);
	ck_assert_str_eq(err, "report is 1048577 bytes, over max_report_bytes "
	    "1048576");
	two[1].len = 1048574;
	ck_assert_int_eq(ing_request_decode(two, 2, 1048576, &r, err,
	    sizeof(err)), ING_OK);
	ck_assert_uint_eq(r->body_len, 1048574);
	yl_report_free(&r);
	free(big);
}
END_TEST

START_TEST(test_decode_invalid_utf8)
{
	/* Byte 17 of the frame is the 0xff. */
	const char *json[] = { "{\"body\": \"abcdefg\xff\"}", NULL };
	const char *raw[] = { "{}", "Hyesan \xe2\x82", NULL };
	const char *meta[] = { "{\"title\": \"\xc3\"}", "body", NULL };
	const char *nul_esc[] = { "{\"body\": \"a\\u0000b\"}", NULL };
	struct ing_frame nul[2] = { { "{}", 2 }, { "ab\0c", 4 } };
	struct yl_report *r = NULL;
	char err[512];

	assert_refused(json, ING_R_UTF8, "invalid UTF-8 at byte 17");
	assert_refused(raw, ING_R_UTF8, "invalid UTF-8 at byte 7");
	assert_refused(meta, ING_R_UTF8, "meta: invalid UTF-8 at byte 11");
	ck_assert_int_eq(ing_request_decode(nul, 2, 100, &r, err, sizeof(err)),
	    ING_R_UTF8);
	ck_assert_str_eq(err, "body: NUL byte at byte 2");
	ck_assert_int_eq(decode(nul_esc, 100, &r, err, sizeof(err)),
	    ING_R_JSON);
}
END_TEST

START_TEST(test_decode_good_requests)
{
	const char *one[] = { "{\"id\": \"r1\", \"title\": \"T\", \"body\": "
	    "\"Coal\", \"meta\": {\"k\": 1}}", NULL };
	const char *two[] = { "{\"source\": \"Daily NK\"}", "Coal \xed\x95\x9c",
	    NULL };
	struct yl_report *r;
	char err[512];

	ck_assert_int_eq(decode(one, 1000, &r, err, sizeof(err)), ING_OK);
	ck_assert_str_eq(r->id, "r1");
	ck_assert_str_eq(r->title, "T");
	ck_assert_str_eq(r->body, "Coal");
	ck_assert_ptr_nonnull(r->meta);
	yl_report_free(&r);
	ck_assert_int_eq(decode(two, 1000, &r, err, sizeof(err)), ING_OK);
	ck_assert_str_eq(r->source, "Daily NK");
	ck_assert_str_eq(r->body, "Coal \xed\x95\x9c");
	ck_assert_ptr_null(r->id);
	yl_report_free(&r);
}
END_TEST

START_TEST(test_envelope_up_to_first_empty_frame)
{
	struct ing_frame req[3] = { { "id", 2 }, { "", 0 }, { "{}", 2 } };
	struct ing_frame proxied[5] = { { "a", 1 }, { "b", 1 }, { "", 0 },
	    { "{}", 2 }, { "", 0 } };
	struct ing_frame bare[2] = { { "id", 2 }, { "{}", 2 } };

	ck_assert_uint_eq(ing_envelope_len(req, 3), 2);
	ck_assert_uint_eq(ing_envelope_len(proxied, 5), 3);
	ck_assert_uint_eq(ing_envelope_len(bare, 2), 0);
}
END_TEST

/* ------------------------------------------------------------- config */

static char *
write_tmp(const char *text)
{
	char *path = strdup("/tmp/check_ingest.XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(test_conf_defaults_and_boilerplate_default)
{
	char *p = write_tmp("kafka:\n  bootstrap.servers: 127.0.0.1:1\n");
	struct yl_errs errs = { 0 };
	struct ing_conf *c = ing_conf_load(p, &errs);

	ck_assert_msg(c != NULL, "%s", errs.buf);
	ck_assert_str_eq(c->listen, "tcp://127.0.0.1:7601");
	ck_assert_ptr_null(c->spool);
	ck_assert_int_eq(c->max_report_bytes, 1048576);
	ck_assert_str_eq(c->topics.raw.name, "reports.raw");
	ck_assert_ptr_nonnull(c->boilerplate.v);
	ck_assert_str_eq(c->boilerplate.v[0], ing_default_boilerplate[0]);
	ing_conf_free(&c);
	ck_assert_ptr_null(c);
	unlink(p);
	free(p);
	p = write_tmp("boilerplate: []\n");
	c = ing_conf_load(p, &errs);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->boilerplate.n, 0);
	ing_conf_free(&c);
	unlink(p);
	free(p);
	p = write_tmp("spool: relative/dir\n");
	ck_assert_ptr_null(ing_conf_load(p, &errs));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":1:8: spool: 'relative/dir' "
	    "is not an absolute path"));
	yl_errs_clear(&errs);
	c = NULL;
	ing_conf_free(&c);
	unlink(p);
	free(p);
}
END_TEST

START_TEST(test_conf_every_problem_reported)
{
	char *p = write_tmp("listen: 7601\nmax_report_bytes: 70000000\n"
	    "colour: blue\nboilerplate:\n  - '(x'\nkafka:\n"
	    "  enable.idempotence: \"false\"\n  acks: \"1\"\n");
	struct yl_errs errs = { 0 };

	ck_assert_ptr_null(ing_conf_load(p, &errs));
	ck_assert_int_eq(errs.count, 6);
	ck_assert_ptr_nonnull(strstr(errs.buf, ":2:19: max_report_bytes: "
	    "70000000 is out of range [1, 67108864]"));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":3:1: unknown key 'colour'"));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":5:5: boilerplate: '(x'"));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":7:23: kafka: "
	    "enable.idempotence: must stay true"));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":8:9: kafka: acks: must stay "
	    "all"));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":1:9: listen: '7601' is not "
	    "a ZeroMQ endpoint"));
	yl_errs_clear(&errs);
	unlink(p);
	free(p);
}
END_TEST

START_TEST(test_conf_reload_keeps_fixed_keys)
{
	char *a = write_tmp("listen: tcp://127.0.0.1:1\nmax_report_bytes: 10\n");
	char *b = write_tmp("listen: tcp://127.0.0.1:2\nmax_report_bytes: 20\n"
	    "spool: /tmp/x\n");
	struct yl_errs errs = { 0 };
	struct ing_conf *oc = ing_conf_load(a, &errs);
	struct ing_conf *nc = ing_conf_load(b, &errs);

	ing_conf_keep_fixed(nc, oc);
	ck_assert_str_eq(nc->listen, "tcp://127.0.0.1:1");
	ck_assert_ptr_null(nc->spool);
	ck_assert_int_eq(nc->max_report_bytes, 20);
	ing_conf_free(&oc);
	ing_conf_free(&nc);
	unlink(a);
	unlink(b);
	free(a);
	free(b);
}
END_TEST

/* ------------------------------------------------------------- spool */

struct fake {
	int		 busy;		/* submit says "queue full" */
	int		 submitted, refused;
	char		 last_id[64];
	enum ing_refusal last_why;
};

static int
fake_submit(void *arg, struct yl_report *r, const char *name)
{
	struct fake *f = arg;

	(void)name;
	if (f->busy)
		return -1;
	f->submitted++;
	snprintf(f->last_id, sizeof(f->last_id), "%s", r->id);
	return 0;
}

static void
fake_refused(void *arg, const char *name, enum ing_refusal why,
    const char *reason)
{
	struct fake *f = arg;

	(void)name;
	(void)reason;
	f->refused++;
	f->last_why = why;
}

static void
put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/incoming/%s", dir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

/* Removes a spool made by a test: dir/{incoming,done,rejected}/files. */
static void
rm_spool(const char *dir)
{
	static const char *const subs[] = { "incoming", "done", "rejected" };
	char path[512], file[1024];
	struct dirent *de;
	size_t i;
	DIR *d;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0) {
				snprintf(file, sizeof(file), "%s/%s", path,
				    de->d_name);
				unlink(file);
			}
		closedir(d);
		rmdir(path);
	}
	rmdir(dir);
}

static const struct ing_spool_ops spool_ops = { fake_submit, fake_refused };

/* A spool in a new temporary directory, read with the default patterns. */
struct spool_fx {
	char		 dir[64];
	struct ing_norm	*nm;
	struct ing_spool *sp;
};

static void
spool_fx_open(struct spool_fx *fx)
{
	char err[256];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/check_ingest_spool.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx->dir));
	fx->nm = default_norm();
	fx->sp = ing_spool_new(fx->dir, err, sizeof(err));
	ck_assert_msg(fx->sp != NULL, "%s", err);
}

/* One scan of the fixture's spool through the fake Kafka f. */
static size_t
spool_fx_scan(struct spool_fx *fx, size_t max_bytes, size_t max_files,
    struct fake *f)
{
	return ing_spool_scan(fx->sp, fx->nm, max_bytes, max_files,
	    &spool_ops, f);
}

/* Frees what spool_fx_open made and removes the directory. */
static void
spool_fx_close(struct spool_fx *fx)
{
	ing_spool_free(&fx->sp);
	ck_assert_ptr_null(fx->sp);
	ing_norm_free(&fx->nm);
	rm_spool(fx->dir);
}

static int
exists(const char *dir, const char *sub, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	return access(path, F_OK) == 0;
}

static char *
slurp_small(const char *dir, const char *sub, const char *name)
{
	static char buf[512];
	char path[512];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

START_TEST(test_spool_moves_only_after_delivery)
{
	struct spool_fx fx;
	struct fake f = { 0 };

	spool_fx_open(&fx);
	put(fx.dir, "a.txt", "Coal left Nampo for Longkou.\n");
	put(fx.dir, ".b.txt", "still being written");
	put(fx.dir, "c.json", "{\"body\": \"x\", \"colour\": 1}");
	put(fx.dir, "d.doc", "what is this");
	put(fx.dir, "e.txt", "");

	ck_assert_uint_eq(spool_fx_scan(&fx, 1000, 10, &f), 1);
	ck_assert_int_eq(f.submitted, 1);
	ck_assert_int_eq(f.refused, 3);
	ck_assert_uint_eq(ing_spool_inflight(fx.sp), 1);
	/* In flight: stays in incoming/ and is not sent twice. */
	ck_assert(exists(fx.dir, "incoming", "a.txt"));
	ck_assert_uint_eq(spool_fx_scan(&fx, 1000, 10, &f), 0);
	ck_assert_int_eq(f.submitted, 1);
	ing_spool_delivered(fx.sp, "a.txt", 1, 0, NULL);
	ck_assert(!exists(fx.dir, "incoming", "a.txt"));
	ck_assert(exists(fx.dir, "done", "a.txt"));
	ck_assert_uint_eq(ing_spool_inflight(fx.sp), 0);
	/* The dot-file is left for its writer to rename. */
	ck_assert(exists(fx.dir, "incoming", ".b.txt"));
	ck_assert(exists(fx.dir, "rejected", "c.json"));
	ck_assert_str_eq(slurp_small(fx.dir, "rejected", "c.json.reason"),
	    "unknown field 'colour'\n");
	ck_assert(exists(fx.dir, "rejected", "d.doc"));
	ck_assert_str_eq(slurp_small(fx.dir, "rejected", "e.txt.reason"),
	    "body: empty\n");
	spool_fx_close(&fx);
}
END_TEST

START_TEST(test_spool_delivery_failures)
{
	struct spool_fx fx;
	struct fake f = { 0 };

	spool_fx_open(&fx);
	put(fx.dir, "a.txt", "Report one.\n");
	put(fx.dir, "b.txt", "Report two.\n");
	ck_assert_uint_eq(spool_fx_scan(&fx, 1000, 10, &f), 2);
	/* Kafka refuses the message itself: rejected with the reason. */
	ing_spool_delivered(fx.sp, "a.txt", 0, 0, "delivery failed: Broker: "
	    "Message size too large");
	ck_assert(exists(fx.dir, "rejected", "a.txt"));
	ck_assert_str_eq(slurp_small(fx.dir, "rejected", "a.txt.reason"),
	    "delivery failed: Broker: Message size too large\n");
	/* Kafka is away: kept for a later scan, which waits a while. */
	ing_spool_delivered(fx.sp, "b.txt", 0, 1, "delivery failed: Local: "
	    "Message timed out");
	ck_assert(exists(fx.dir, "incoming", "b.txt"));
	ck_assert_uint_eq(ing_spool_inflight(fx.sp), 0);
	ck_assert_uint_eq(spool_fx_scan(&fx, 1000, 10, &f), 0);
	spool_fx_close(&fx);
}
END_TEST

START_TEST(test_spool_size_limit)
{
	struct spool_fx fx;
	struct fake f = { 0 };

	spool_fx_open(&fx);
	put(fx.dir, "big.txt", "0123456789abcdef");
	ck_assert_uint_eq(spool_fx_scan(&fx, 10, 10, &f), 0);
	ck_assert_int_eq(f.last_why, ING_R_SIZE);
	ck_assert_str_eq(slurp_small(fx.dir, "rejected", "big.txt.reason"),
	    "report is 16 bytes, over max_report_bytes 10\n");
	spool_fx_close(&fx);
}
END_TEST

START_TEST(test_spool_file_waits_while_kafka_queue_is_full)
{
	struct spool_fx fx;
	struct fake f = { 0 };

	spool_fx_open(&fx);
	put(fx.dir, "a.txt", "Report one.\n");
	f.busy = 1;
	ck_assert_uint_eq(spool_fx_scan(&fx, 1000, 10, &f), 0);
	ck_assert_uint_eq(ing_spool_inflight(fx.sp), 0);
	ck_assert(exists(fx.dir, "incoming", "a.txt"));
	f.busy = 0;
	ck_assert_uint_eq(spool_fx_scan(&fx, 1000, 10, &f), 1);
	/* No room at all: nothing is read. */
	put(fx.dir, "b.txt", "Report two.\n");
	ck_assert_uint_eq(spool_fx_scan(&fx, 1000, 0, &f), 0);
	ck_assert_int_eq(f.submitted, 1);
	spool_fx_close(&fx);
}
END_TEST

/* ------------------------------------------------------------- suite */

static Suite *
ingest_suite(void)
{
	Suite *s = suite_create("ingest");
	struct {
		const char *name;
		const TTest *fn;
	} t[] = {
#define T(x)	{ #x, x }
		T(test_boilerplate_newsletter_footer_removed),
		T(test_boilerplate_mentioned_in_a_sentence_is_kept),
		T(test_boilerplate_configured_patterns_replace_defaults),
		T(test_boilerplate_bad_pattern_refused),
		T(test_boilerplate_only_body_refused),
		T(test_dateline_place_and_short_date),
		T(test_dateline_without_year_from_last_year),
		T(test_dateline_place_country_and_year),
		T(test_dateline_feed_timestamp_with_time),
		T(test_dateline_iso_and_published_lines),
		T(test_dateline_date_in_prose_is_not_a_dateline),
		T(test_dateline_impossible_date_kept_as_written),
		T(test_byline_name_extracted),
		T(test_byline_sentences_are_not_bylines),
		T(test_normalize_fills_published_at_and_source),
		T(test_normalize_keeps_what_the_report_carries),
		T(test_content_id_stable_across_rewrapping),
		T(test_normalize_invalid_utf8_refused_with_offset),
		T(test_normalize_blank_and_nul_bodies_refused),
		T(test_decode_frame_count),
		T(test_decode_not_json),
		T(test_decode_strict_fields),
		T(test_decode_empty_body),
		T(test_decode_oversized),
		T(test_decode_invalid_utf8),
		T(test_decode_good_requests),
		T(test_envelope_up_to_first_empty_frame),
		T(test_conf_defaults_and_boilerplate_default),
		T(test_conf_every_problem_reported),
		T(test_conf_reload_keeps_fixed_keys),
		T(test_spool_moves_only_after_delivery),
		T(test_spool_delivery_failures),
		T(test_spool_size_limit),
		T(test_spool_file_waits_while_kafka_queue_is_full),
#undef T
	};
	size_t i;

	/* One TCase per behaviour, named for what it proves. */
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		TCase *tc = tcase_create(t[i].name);

		tcase_add_test(tc, t[i].fn);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ingest_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
