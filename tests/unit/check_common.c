/*
 * check_common.c - the common library: UTF-8 checking, the normalizer and
 * its offset map, YAML positions, strict config tables, the report JSON.
 */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "yalu/conf.h"
#include "yalu/kafka.h"
#include "yalu/norm.h"
#include "yalu/report.h"
#include "yalu/yaml.h"

START_TEST(test_utf8_check_refuses_overlong_surrogate_and_truncated)
{
	size_t bad = 0;

	ck_assert_int_eq(yl_utf8_check("plain \xed\x95\x9c", 9, &bad), 0);
	ck_assert_int_eq(yl_utf8_check("ab\xc0\xaf", 4, &bad), -1);
	ck_assert_uint_eq(bad, 2);
	ck_assert_int_eq(yl_utf8_check("x\xed\xa0\x80", 4, &bad), -1);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(yl_utf8_check("abc\xe2\x80", 5, &bad), -1);
	ck_assert_uint_eq(bad, 3);
	ck_assert_int_eq(yl_utf8_check("\xf4\x90\x80\x80", 4, &bad), -1);
}
END_TEST

START_TEST(test_norm_folds_case_quotes_dashes_space)
{
	struct yl_norm n = { 0 };
	const char *s = "The  \xe2\x80\x9cSino\xe2\x80\x93Korean\xe2\x80\x9d "
	    "Friendship-Bridge\r\n\tSIN\xc5\xac" "IJU";

	ck_assert_int_eq(yl_norm_text(&n, s, strlen(s), NULL), 0);
	ck_assert_str_eq(n.s, "the \"sino korean\" friendship bridge sinuiju");
	yl_norm_clear(&n);
}
END_TEST

START_TEST(test_norm_map_points_back_to_original_bytes)
{
	struct yl_norm n = { 0 };
	/* "Ｃhina’s 신의주 丹东 Владивосток" with CRLF between */
	const char *s = "\xef\xbc\xa3hina\xe2\x80\x99s\r\n\xec\x8b\xa0\xec\x9d"
	    "\x98\xec\xa3\xbc \xe4\xb8\xb9\xe4\xb8\x9c \xd0\x92\xd0\xbb\xd0\xb0"
	    "\xd0\xb4\xd0\xb8\xd0\xb2\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe\xd0\xba";
	const char *want[] = { "china", "신의주", "丹东", "владивосток" };
	const char *orig[] = { "\xef\xbc\xa3hina", "\xec\x8b\xa0\xec\x9d\x98"
	    "\xec\xa3\xbc", "\xe4\xb8\xb9\xe4\xb8\x9c", "\xd0\x92\xd0\xbb\xd0\xb0"
	    "\xd0\xb4\xd0\xb8\xd0\xb2\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe\xd0\xba" };
	size_t i;

	ck_assert_int_eq(yl_norm_text(&n, s, strlen(s), NULL), 0);
	for (i = 0; i < 4; i++) {
		const char *at = strstr(n.s, want[i]);
		size_t ns, ne, os, oe;

		ck_assert_ptr_nonnull(at);
		ns = (size_t)(at - n.s);
		ne = ns + strlen(want[i]);
		os = n.start[ns];
		oe = yl_norm_orig_end(&n, s, ne - 1);
		ck_assert_uint_eq(oe - os, strlen(orig[i]));
		ck_assert(memcmp(s + os, orig[i], oe - os) == 0);
	}
	yl_norm_clear(&n);
}
END_TEST

/*
 * Long ASCII text goes through the normalizer 16 bytes at a time: runs of
 * white space and dashes that straddle those blocks, at every alignment,
 * still collapse to one space, and every byte maps back to its origin.
 */
START_TEST(test_norm_ascii_blocks_collapse_space_at_every_alignment)
{
	static const char piece[] = "Coal  -  ORE\t\tby TRUCK from Musan--to "
	    "CHONGJIN, 40 t.\r\n  Rice Trucks from Dandong carried coal  "
	    "north ";
	struct yl_norm n = { 0 };
	char src[512], want[512];
	uint32_t wstart[512];
	size_t a, i, len, w;

	for (a = 0; a < 32; a++) {
		int space = 0;

		memset(src, 'Q', a);
		len = a;
		while (len + sizeof(piece) < sizeof(src) - 1) {
			memcpy(src + len, piece, sizeof(piece) - 1);
			len += sizeof(piece) - 1;
		}
		src[len] = '\0';
		/* What the normalizer promises for ASCII, byte by byte. */
		for (i = 0, w = 0; i < len; i++) {
			char c = src[i];

			if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
			    c == '-') {
				if (space)
					continue;
				c = ' ';
				space = 1;
			} else {
				if (c >= 'A' && c <= 'Z')
					c = (char)(c - 'A' + 'a');
				space = 0;
			}
			want[w] = c;
			wstart[w++] = (uint32_t)i;
		}
		want[w] = '\0';
		ck_assert_int_eq(yl_norm_text(&n, src, len, NULL), 0);
		ck_assert_str_eq(n.s, want);
		ck_assert_uint_eq(n.len, w);
		for (i = 0; i < w; i++)
			ck_assert_uint_eq(n.start[i], wstart[i]);
	}
	yl_norm_clear(&n);
}
END_TEST

START_TEST(test_norm_reports_invalid_utf8_offset)
{
	struct yl_norm n = { 0 };
	size_t bad = 0;

	ck_assert_int_eq(yl_norm_text(&n, "coal \xff ore", 10, &bad), -1);
	ck_assert_uint_eq(bad, 5);
	yl_norm_clear(&n);
}
END_TEST

struct tconf {
	char		*name;
	long long	 port;
	int		 flag;
	struct yl_kv	 kafka;
	struct yl_strlist list;
};

static const struct yl_confkey tspec[] = {
	{ "name", YL_CONF_STR, offsetof(struct tconf, name), "dflt", 0, 0, 0,
	  NULL, NULL },
	{ "port", YL_CONF_INT, offsetof(struct tconf, port), NULL, 7, 1, 100,
	  NULL, NULL },
	{ "flag", YL_CONF_BOOL, offsetof(struct tconf, flag), NULL, 0, 0, 0,
	  NULL, NULL },
	{ "kafka", YL_CONF_KV, offsetof(struct tconf, kafka), NULL, 0, 0, 0,
	  NULL, NULL },
	{ "list", YL_CONF_STRLIST, offsetof(struct tconf, list), NULL, 0, 0, 0,
	  NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL }
};

static char *
write_tmp(const char *text)
{
	static char path[64];
	FILE *fp;
	int fd;

	strcpy(path, "/tmp/yalu-check-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	return path;
}

START_TEST(test_conf_reports_every_error_with_line_and_column)
{
	struct tconf c;
	struct yl_errs errs = { 0 };
	char *path = write_tmp("name: ok\nport: 1000\nflagg: true\n"
	    "kafka:\n  bootstrap.servers: 127.0.0.1:9\nport: x\n");

	memset(&c, 0, sizeof(c));
	yl_conf_defaults(tspec, &c);
	ck_assert_int_eq(yl_conf_load(path, tspec, &c, &errs), -1);
	ck_assert_int_eq(errs.count, 4);
	ck_assert_ptr_nonnull(strstr(errs.buf, ":2:7: port: 1000 is out of "
	    "range [1, 100]"));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":3:1: unknown key 'flagg'"));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":6:1: duplicate key 'port'"));
	ck_assert_ptr_nonnull(strstr(errs.buf, ":6:7: port: 'x' is not an "
	    "integer"));
	unlink(path);
	yl_errs_clear(&errs);
	yl_conf_release(tspec, &c);
}
END_TEST

START_TEST(test_conf_defaults_and_passthrough)
{
	struct tconf c;
	struct yl_errs errs = { 0 };
	char *path = write_tmp("flag: yes\nkafka:\n  linger.ms: 5\n"
	    "list: [a, b]\n");

	memset(&c, 0, sizeof(c));
	yl_conf_defaults(tspec, &c);
	ck_assert_int_eq(yl_conf_load(path, tspec, &c, &errs), 0);
	ck_assert_str_eq(c.name, "dflt");
	ck_assert_int_eq(c.port, 7);
	ck_assert_int_eq(c.flag, 1);
	ck_assert_uint_eq(c.kafka.n, 1);
	ck_assert_str_eq(c.kafka.key[0], "linger.ms");
	ck_assert_str_eq(c.kafka.val[0], "5");
	ck_assert_uint_eq(c.list.n, 2);
	unlink(path);
	yl_conf_release(tspec, &c);
	yl_errs_clear(&errs);
}
END_TEST

START_TEST(test_yaml_syntax_error_has_position)
{
	char err[512];
	struct yl_ydoc *d = yl_ydoc_parse("t.yaml", "a: [1, 2\nb: c\n", 14,
	    err, sizeof(err));

	ck_assert_ptr_null(d);
	ck_assert_msg(strncmp(err, "t.yaml:", 7) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, ":2:"));
}
END_TEST

START_TEST(test_report_strict_parse)
{
	struct yl_report *r = NULL;
	char err[256];
	const char *good = "{\"id\":\"x1\",\"title\":\"T\",\"body\":\"coal\","
	    "\"meta\":{\"lang\":\"en\"}}";

	ck_assert_int_eq(yl_report_parse(good, strlen(good), YL_REPORT_STRICT,
	    &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r->id, "x1");
	ck_assert_uint_eq(r->body_len, 4);
	yl_report_free(&r);
	ck_assert_ptr_null(r);

	ck_assert_int_eq(yl_report_parse("{\"body\":\"a\",\"foo\":1}", 20,
	    YL_REPORT_STRICT, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown field 'foo'");
	ck_assert_int_eq(yl_report_parse("{\"title\":\"a\"}", 13,
	    YL_REPORT_STRICT, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "body: missing");
	ck_assert_int_eq(yl_report_parse("{\"body\":\"a\\u0000b\"}", 19, 0, &r,
	    err, sizeof(err)), -1);
	ck_assert_int_eq(yl_report_parse("{\"body\":\"\xff\"}", 12, 0, &r, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "invalid JSON"));
	ck_assert_int_eq(yl_report_parse("[1]", 3, 0, &r, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "not a JSON object");
}
END_TEST

START_TEST(test_content_id_ignores_rewrapping)
{
	char a[32], b[32], c[32];

	yl_report_content_id("Coal left Nampo.\nAgain.", 23, a, sizeof(a));
	yl_report_content_id("  Coal left   Nampo. Again.\r\n", 29, b,
	    sizeof(b));
	yl_report_content_id("Coal left Nampo. Again!", 23, c, sizeof(c));
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	ck_assert_uint_eq(strlen(a), 18);
}
END_TEST

/* Forced settings win over the kafka: map; defaults give way to it. */
START_TEST(test_kafka_conf_with_forces_and_defaults)
{
	const struct yl_kafka_set set[] = {
		YL_KAFKA_DURABLE,
		YL_KAFKA_DEFAULT("client.id", "yalu-test"),
		YL_KAFKA_DEFAULT("linger.ms", "7"),
		YL_KAFKA_END
	}, bad[] = {
		YL_KAFKA_FORCE("acks", "sometimes"),
		YL_KAFKA_END
	};
	struct yl_kv kv = { NULL, NULL, 0 };
	rd_kafka_conf_t *c;
	char err[256], v[64];
	size_t n;

	unsetenv("YALU_KAFKA");
	ck_assert_int_eq(yl_kv_set(&kv, "acks", "1"), 0);
	ck_assert_int_eq(yl_kv_set(&kv, "client.id", "mine"), 0);
	c = yl_kafka_conf_with(&kv, set, "producer", err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	n = sizeof(v);
	ck_assert_int_eq(rd_kafka_conf_get(c, "acks", v, &n), RD_KAFKA_CONF_OK);
	ck_assert_str_eq(v, "-1");		/* "all": forced */
	n = sizeof(v);
	ck_assert_int_eq(rd_kafka_conf_get(c, "client.id", v, &n),
	    RD_KAFKA_CONF_OK);
	ck_assert_str_eq(v, "mine");		/* the map's own */
	n = sizeof(v);
	ck_assert_int_eq(rd_kafka_conf_get(c, "linger.ms", v, &n),
	    RD_KAFKA_CONF_OK);
	ck_assert_str_eq(v, "7");		/* the default */
	rd_kafka_conf_destroy(c);

	ck_assert_ptr_null(yl_kafka_conf_with(&kv, bad, "producer", err,
	    sizeof(err)));
	ck_assert_msg(strncmp(err, "kafka: producer: ", 17) == 0 &&
	    strstr(err, "acks") != NULL, "%s", err);
	yl_kv_clear(&kv);
}
END_TEST

static Suite *
common_suite(void)
{
	Suite *s = suite_create("common");
	TCase *tc;

#define ADD(fn) do { tc = tcase_create(#fn); tcase_add_test(tc, fn); \
	suite_add_tcase(s, tc); } while (0)
	ADD(test_utf8_check_refuses_overlong_surrogate_and_truncated);
	ADD(test_norm_folds_case_quotes_dashes_space);
	ADD(test_norm_map_points_back_to_original_bytes);
	ADD(test_norm_ascii_blocks_collapse_space_at_every_alignment);
	ADD(test_norm_reports_invalid_utf8_offset);
	ADD(test_conf_reports_every_error_with_line_and_column);
	ADD(test_conf_defaults_and_passthrough);
	ADD(test_yaml_syntax_error_has_position);
	ADD(test_report_strict_parse);
	ADD(test_content_id_ignores_rewrapping);
	ADD(test_kafka_conf_with_forces_and_defaults);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(common_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
