/*
 * check_classify.c - the engine on a small fixed taxonomy
 * (tests/data/taxonomy-mini): evidence offsets on the original bytes,
 * longest match, direction, negation, needs_cue, countries from
 * crossings, and the loader's errors for a broken taxonomy.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classify.h"
#include "cls_cli.h"

#define MINI "tests/data/taxonomy-mini"

static struct yl_tax *tax;
static struct yl_cls *cls;

static void
setup(void)
{
	char err[4096];

	tax = yl_tax_load(MINI, err, sizeof(err));
	ck_assert_msg(tax != NULL, "%s", err);
	cls = yl_cls_new(tax, err, sizeof(err));
	ck_assert_ptr_nonnull(cls);
}

static void
teardown(void)
{
	yl_cls_free(&cls);
	yl_tax_free(&tax);
	ck_assert_ptr_null(tax);
}

static json_t *
run(const char *body)
{
	char err[256];
	json_t *res = NULL;

	ck_assert_msg(yl_cls_run(cls, body, strlen(body), YL_CLS_EXPLAIN, &res,
	    err, sizeof(err)) == 0, "%s", err);
	return res;
}

/* "cat/dir" or "id" labels of a facet, space separated. */
static void
labels(json_t *res, const char *facet, char *buf, size_t sz)
{
	json_t *arr, *t;
	size_t i, o = 0;

	buf[0] = '\0';
	if (strcmp(facet, "provisions") == 0)
		arr = json_object_get(json_object_get(json_object_get(res,
		    "tags"), "sanctions"), "provisions");
	else
		arr = json_object_get(json_object_get(res, "tags"), facet);
	json_array_foreach(arr, i, t) {
		json_t *d = json_object_get(t, "direction");

		/* Truncate rather than overrun: a runaway result must fail. */
		if (o >= sz)
			break;
		o += (size_t)snprintf(buf + o, sz - o, "%s%s%s%s", i ? " " : "",
		    json_string_value(json_object_get(t, "id")), d ? "/" : "",
		    d ? json_string_value(d) : "");
	}
}

/*
 * The labels of a facet must be exactly want. A macro, not a function,
 * so that Check reports the caller's line; the message names the facet
 * and both lists.
 */
#define ck_assert_labels(res, facet, want) do {				\
	char got_[256];							\
									\
	labels((res), (facet), got_, sizeof(got_));			\
	ck_assert_msg(strcmp(got_, (want)) == 0,			\
	    "%s: got \"%s\", want \"%s\"", (facet), got_, (want));	\
} while (0)

/* err must contain want; a macro for the same reason. */
#define ck_assert_err_has(err, want)					\
	ck_assert_msg(strstr((err), (want)) != NULL,			\
	    "no \"%s\" in: %s", (want), (err))

static const char *
relevance(json_t *res)
{
	return json_string_value(json_object_get(json_object_get(
	    json_object_get(res, "tags"), "sanctions"), "relevance"));
}

/* Every evidence span must be the original bytes: body[start:end]. */
static int
check_spans(const char *body, json_t *res)
{
	json_t *tags = json_object_get(res, "tags"), *arr, *t, *e;
	const char *key;
	size_t i, j;
	int n = 0;

	json_object_foreach(tags, key, arr) {
		if (!json_is_array(arr))
			continue;
		json_array_foreach(arr, i, t)
			json_array_foreach(json_object_get(t, "evidence"), j, e) {
				json_int_t s = json_integer_value(
				    json_object_get(e, "start"));
				json_int_t en = json_integer_value(
				    json_object_get(e, "end"));
				const char *txt = json_string_value(
				    json_object_get(e, "text"));

				ck_assert_int_le(en, (json_int_t)strlen(body));
				ck_assert_int_eq(en - s, (json_int_t)strlen(txt));
				ck_assert(memcmp(body + s, txt, (size_t)(en - s))
				    == 0);
				n++;
			}
	}
	return n;
}

START_TEST(test_evidence_spans_are_original_bytes_with_curly_quotes_hangul_crlf)
{
	const char *body = "Traders in \xe2\x80\x9c" "Dandong\xe2\x80\x9d said "
	    "they brought in DIESEL\xe2\x80\x94" "and crab.\r\n"
	    "\xec\x8b\xa0\xec\x9d\x98\xec\xa3\xbc\xec\x97\x90\xec\x84\x9c "
	    "\xeb\xaa\x85\xed\x83\x9c for export to \xe4\xb8\xad\xe5\x9b\xbd" " "
	    "China.";
	json_t *res = run(body);

	ck_assert_int_ge(check_spans(body, res), 5);
	ck_assert_labels(res, "crossings", "dandong-sinuiju");
	/* crab rides "brought in"; the pollack (명태) "for export". */
	ck_assert_labels(res, "commodities",
	    "petroleum/import seafood/export seafood/import");
	json_decref(res);
}
END_TEST

START_TEST(test_longest_term_wins_soybean_oil_is_food)
{
	json_t *res = run("The company imported soybean oil last week.");

	ck_assert_labels(res, "commodities", "foodstuffs/import");
	ck_assert_labels(res, "provisions", "");
	ck_assert_str_eq(relevance(res), "low");
	json_decref(res);
}
END_TEST

/*
 * Overlaps chain: "soybean oil" overlaps the longer ignore term "oil
 * painting", which wins the bytes of both, so neither the food nor the
 * fuel is tagged there; the diesel after them still is.
 */
START_TEST(test_longest_term_wins_across_a_chain_of_overlaps)
{
	const char *body = "The company imported soybean oil painting kits "
	    "and diesel.";
	json_t *res = run(body);

	ck_assert_labels(res, "commodities", "petroleum/import");
	ck_assert_int_eq(check_spans(body, res), 1);
	json_decref(res);
}
END_TEST

START_TEST(test_direction_from_nearest_cue_in_sentence)
{
	json_t *res = run("They imported diesel; later crab was prepared for "
	    "export.");

	ck_assert_labels(res, "commodities", "petroleum/import seafood/export");
	ck_assert_labels(res, "provisions", "UNSCR-2371-OP9 UNSCR-2397-OP5");
	ck_assert_str_eq(relevance(res), "high");
	json_decref(res);
}
END_TEST

START_TEST(test_direction_carried_from_previous_sentence_only)
{
	json_t *res = run("Crab was sold for export. Salted pollack too.\n\n"
	    "Later they talked. Diesel trading was slow.");

	/*
	 * Diesel is two sentences away from any cue: nothing in the report
	 * gives it a direction, so it is no trade of the report's.
	 */
	ck_assert_labels(res, "commodities", "seafood/export");
	json_decref(res);
}
END_TEST

START_TEST(test_negation_cancels_in_clause_only)
{
	json_t *res = run("They did not import diesel, but crab was smuggled "
	    "in.");

	ck_assert_labels(res, "commodities", "seafood/import");
	ck_assert_ptr_nonnull(json_object_get(res, "dropped"));
	json_decref(res);
}
END_TEST

START_TEST(test_needs_cue_fishing_boats_going_fishing)
{
	json_t *res = run("Trading resumed. Fishing boats went out to sea.");

	ck_assert_labels(res, "commodities", "");
	json_decref(res);
	res = run("The firm imported fishing boats from China.");
	ck_assert_labels(res, "commodities", "vehicles/import");
	json_decref(res);
}
END_TEST

START_TEST(test_also_category_and_ignore)
{
	json_t *res = run("A Mercedes-Benz was smuggled in; an oil painting "
	    "was not.");

	ck_assert_labels(res, "commodities",
	    "luxury-goods/import vehicles/import");
	json_decref(res);
}
END_TEST

START_TEST(test_no_trade_no_places_relevance_none)
{
	json_t *res = run("A festival was held in Sinuiju and Dandong. Crab "
	    "was served.");

	ck_assert_labels(res, "crossings", "");
	ck_assert_labels(res, "commodities", "");
	ck_assert_str_eq(relevance(res), "none");
	json_decref(res);
}
END_TEST

START_TEST(test_crossing_implies_country_and_word_boundaries)
{
	json_t *res = run("Trade via Dandong grew; the coalition of oily "
	    "traders imported nothing named.");

	ck_assert_labels(res, "countries", "cn");
	ck_assert_labels(res, "commodities", "");
	json_decref(res);
}
END_TEST

START_TEST(test_bad_bodies_are_refused_with_reason)
{
	char err[256];
	json_t *res = NULL;
	size_t big = yl_tax_max_body(tax) + 1;
	char *b = malloc(big);

	ck_assert_int_eq(yl_cls_run(cls, "", 0, 0, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "empty body");
	ck_assert_int_eq(yl_cls_run(cls, " \r\n ", 4, 0, &res, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(yl_cls_run(cls, "coal \xc3\x28", 7, 0, &res, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "invalid UTF-8 at byte 5");
	ck_assert_int_eq(yl_cls_run(cls, "ab\0cd", 5, 0, &res, err,
	    sizeof(err)), -1);
	ck_assert_err_has(err, "NUL byte at offset 2");
	memset(b, 'a', big);
	ck_assert_int_eq(yl_cls_run(cls, b, big, 0, &res, err, sizeof(err)),
	    -1);
	ck_assert_err_has(err, "over the limit");
	ck_assert_ptr_null(res);
	free(b);
}
END_TEST

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

/* A copy of the mini taxonomy with one file replaced. */
static char *
broken_copy(const char *file, const char *text)
{
	static char dir[64];
	const char *files[] = { "ruleset.yaml", "cues.yaml", "commodities.yaml",
	    "places.yaml", NULL };
	char src[256], cmd[600];
	int i;

	strcpy(dir, "/tmp/yalu-tax-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (i = 0; files[i]; i++) {
		snprintf(src, sizeof(src), "%s/%s", MINI, files[i]);
		snprintf(cmd, sizeof(cmd), "cp %s %s/", src, dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	write_file(dir, file, text);
	return dir;
}

static void
rm_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/*
 * Loads the mini taxonomy with one file replaced, from a copy removed at
 * once: the loader keeps nothing of the directory. NULL with the reason
 * in err, as yl_tax_load.
 */
static struct yl_tax *
load_mini_with(const char *file, const char *text, char *err, size_t errsz)
{
	char *dir = broken_copy(file, text);
	struct yl_tax *t = yl_tax_load(dir, err, errsz);

	rm_dir(dir);
	return t;
}

START_TEST(test_taxonomy_typo_and_duplicate_id_are_errors_with_position)
{
	char err[4096];
	struct yl_tax *t;

	t = load_mini_with("commodities.yaml", "commodities:\n"
	    "  seafod:\n    terms: [crab]\n"
	    "  petroleum:\n    cite: {import: [UNSCR-9999-OP1]}\n"
	    "    terms: [oil, {term: diesel, directon: import}]\n"
	    "  petroleum:\n    terms: [oil]\n"
	    "  coal:\n    foreign_origin: transit\n    terms: [coal]\n"
	    "  wood:\n    usual_direction: out\n    terms: [logs]\n",
	    err, sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_err_has(err, "commodities.yaml:2:3: unknown commodity "
	    "category 'seafod'");
	ck_assert_err_has(err, "commodities.yaml:5:21: unknown provision "
	    "'UNSCR-9999-OP1'");
	ck_assert_err_has(err, "unknown term key 'directon'");
	ck_assert_msg(strstr(err, "commodities.yaml:7:3: duplicate key "
	    "'petroleum'") != NULL || strstr(err, "duplicate commodity "
	    "category 'petroleum'") != NULL, "%s", err);
	ck_assert_err_has(err, "commodities.yaml:10:21: foreign_origin: "
	    "import or not-dprk-trade");
	ck_assert_err_has(err, "commodities.yaml:13:22: usual_direction: "
	    "import or export");

	t = load_mini_with("places.yaml", "countries:\n  cn: [china]\n"
	    "  kp: [pyongyang]\ncrossings:\n  dandong-sinuiju: [sinuiju]\n"
	    "  rajin-port: [Sinuiju]\n", err, sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_err_has(err, "places.yaml:3:3: unknown countries ID 'kp'");

	t = load_mini_with("places.yaml", "countries:\n  cn: [china]\n"
	    "crossings:\n  dandong-sinuiju: [sinuiju]\n"
	    "  rajin-port: [Sinuiju]\n", err, sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_err_has(err, "places.yaml:5:16: term 'Sinuiju' for "
	    "crossing rajin-port is already a term of crossing "
	    "dandong-sinuiju");

	t = load_mini_with("cues.yaml", "cues:\n  import: [import*\n", err,
	    sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_err_has(err, "cues.yaml:3:");
}
END_TEST

/* A term of lists composes one term per way of taking a word from each. */
START_TEST(test_taxonomy_composed_terms)
{
	const char *head = "commodities:\n"
	    "  seafood:\n    cite: {export: [UNSCR-2371-OP9]}\n"
	    "    terms: [crab, salted pollack, ";
	const char *tail = "]\n"
	    "  petroleum:\n    terms: [oil, diesel]\n"
	    "ignore: [{term: [[squid], [ink, jigging]]}]\n";
	char err[4096], text[1024];
	struct yl_tax *t;
	struct yl_cls *c;
	json_t *res = NULL;

	snprintf(text, sizeof(text), "%s%s%s", head, "{term: [[dried, frozen], "
	    "[squid, octopus]], needs_cue: true}", tail);
	t = load_mini_with("commodities.yaml", text, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	c = yl_cls_new(t, err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	/* the last combination of the lists, with the options of the map */
	ck_assert_int_eq(yl_cls_run(c, "Frozen octopus was exported to China.",
	    37, 0, &res, err, sizeof(err)), 0);
	ck_assert_labels(res, "commodities", "seafood/export");
	json_decref(res);
	res = NULL;
	/* needs_cue reached every composed term; ignore composes too */
	ck_assert_int_eq(yl_cls_run(c, "Dried squid and squid ink are sold in "
	    "Sinuiju.", 45, 0, &res, err, sizeof(err)), 0);
	ck_assert_labels(res, "commodities", "");
	json_decref(res);
	yl_cls_free(&c);
	yl_tax_free(&t);

	/* one list is no composition; a word is a string */
	snprintf(text, sizeof(text), "%s%s%s", head, "{term: [[dried]]}, "
	    "{term: [[a], [b, [c]]]}", tail);
	t = load_mini_with("commodities.yaml", text, err, sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_err_has(err, "commodities.yaml:4:42: term: a composed "
	    "term takes 2 to 4 lists of words");
	ck_assert_err_has(err, "commodities.yaml:4:71: term: a word must "
	    "be a string");

	/* a composed term that is also written out is a duplicate */
	snprintf(text, sizeof(text), "%s%s%s", head,
	    "{term: [[salted], [cod, pollack]]}", tail);
	t = load_mini_with("commodities.yaml", text, err, sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_err_has(err, "duplicate term 'salted pollack'");
}
END_TEST

START_TEST(test_ruleset_id_changes_with_rules)
{
	char err[1024], rs[128];
	struct yl_tax *t;

	t = load_mini_with("places.yaml", "countries:\n  cn: [china, beijing]\n"
	    "crossings:\n  dandong-sinuiju: [sinuiju, {term: dandong, country: "
	    "cn}]\n", err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	snprintf(rs, sizeof(rs), "%s", yl_tax_ruleset(t));
	ck_assert_str_ne(rs, yl_tax_ruleset(tax));
	ck_assert(strncmp(rs, "0.0.1+", 6) == 0);
	yl_tax_free(&t);
}
END_TEST

/* ------------------------------------------------ yalu replay's diff */

START_TEST(test_tag_keys_name_every_facet_once_sorted)
{
	json_t *tags = json_loads("{"
	    "\"commodities\": [{\"id\": \"seafood\", \"direction\": \"export\"},"
	    " {\"id\": \"coal\", \"direction\": \"export\"},"
	    " {\"id\": \"seafood\", \"direction\": \"export\"}],"
	    "\"countries\": [{\"id\": \"cn\"}], \"crossings\": [],"
	    "\"modes\": [{\"id\": \"sea\"}], \"methods\": [],"
	    "\"entities\": [{\"id\": \"office-39\"}],"
	    "\"sanctions\": {\"relevance\": \"high\", \"provisions\":"
	    " [{\"id\": \"UNSCR-2371-OP9\", \"because\": [\"seafood/export\"]}]}}",
	    0, NULL);
	char *k;

	ck_assert_ptr_nonnull(tags);
	k = cls_tag_keys(tags);
	ck_assert_str_eq(k, "commodities coal/export\n"
	    "commodities seafood/export\n" "countries cn\n"
	    "entities office-39\n" "modes sea\n"
	    "provisions UNSCR-2371-OP9\n" "relevance high\n");
	free(k);
	ck_assert_ptr_null(cls_tag_keys(NULL));
	json_decref(tags);
}
END_TEST

/* The "facet/id" entry of a diff's JSON, or NULL. */
static json_t *
diff_entry(json_t *d, const char *facet, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(d, "changes"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "facet")),
		    facet) == 0 && strcmp(json_string_value(json_object_get(e,
		    "id")), id) == 0)
			return e;
	return NULL;
}

START_TEST(test_diff_counts_gains_and_losses_per_facet_and_id)
{
	struct cls_diff *d = cls_diff_new(2);
	json_t *j, *e;
	char *s;

	ck_assert_ptr_nonnull(d);
	/* r-3 loses seafood and its provision, relevance high -> medium. */
	ck_assert_int_eq(cls_diff_add(d, "r-3", "commodities seafood/export\n"
	    "provisions UNSCR-2371-OP9\nrelevance high\n",
	    "relevance medium\n"), 0);
	ck_assert_int_eq(cls_diff_add(d, "r-1", "commodities seafood/export\n"
	    "relevance high\n", "relevance high\n"), 0);
	ck_assert_int_eq(cls_diff_add(d, "r-2", "commodities seafood/export\n"
	    "relevance high\n", "commodities coal/export\nrelevance high\n"),
	    0);
	/* Nothing changes for r-4: compared, not changed. */
	ck_assert_int_eq(cls_diff_add(d, "r-4", "modes sea\nrelevance low\n",
	    "modes sea\nrelevance low\n"), 0);
	ck_assert_int_eq(cls_diff_compared(d), 4);
	ck_assert_int_eq(cls_diff_changed(d), 3);
	j = cls_diff_json(d);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "changed")), 3);
	e = diff_entry(j, "commodities", "seafood/export");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(json_integer_value(json_object_get(e, "lose")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(e, "gain")), 0);
	/* Examples: the two smallest ids, whatever the order they came in. */
	s = json_dumps(json_object_get(e, "lose_examples"), JSON_COMPACT);
	ck_assert_str_eq(s, "[\"r-1\",\"r-2\"]");
	free(s);
	e = diff_entry(j, "commodities", "coal/export");
	ck_assert_int_eq(json_integer_value(json_object_get(e, "gain")), 1);
	e = diff_entry(j, "relevance", "high");
	ck_assert_int_eq(json_integer_value(json_object_get(e, "lose")), 1);
	e = diff_entry(j, "relevance", "medium");
	ck_assert_int_eq(json_integer_value(json_object_get(e, "gain")), 1);
	ck_assert_ptr_nonnull(diff_entry(j, "provisions", "UNSCR-2371-OP9"));
	ck_assert_ptr_null(diff_entry(j, "modes", "sea"));
	/* Facet order of TAGS.md: commodities first, relevance last. */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "changes"), 0), "facet")), "commodities");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "changes"), json_array_size(json_object_get(j,
	    "changes")) - 1), "facet")), "relevance");
	json_decref(j);
	cls_diff_free(&d);
	ck_assert_ptr_null(d);
}
END_TEST

START_TEST(test_replay_from_earliest_dates_and_durations)
{
	long long ts = 0, now = 1764000000000LL;

	ck_assert_int_eq(cls_replay_from("earliest", now, &ts), 0);
	ck_assert_int_eq(ts, -1);
	ck_assert_int_eq(cls_replay_from("2026-11-01", now, &ts), 0);
	ck_assert_int_eq(ts, 1793491200000LL);
	ck_assert_int_eq(cls_replay_from("2026-11-01T09:00:00+09:00", now,
	    &ts), 0);
	ck_assert_int_eq(ts, 1793491200000LL);
	ck_assert_int_eq(cls_replay_from("2026-11-01T00:00:01.5Z", now, &ts),
	    0);
	ck_assert_int_eq(ts, 1793491201500LL);
	ck_assert_int_eq(cls_replay_from("-90m", now, &ts), 0);
	ck_assert_int_eq(ts, now - 90 * 60000LL);
	ck_assert_int_eq(cls_replay_from("-1h30m", now, &ts), 0);
	ck_assert_int_eq(ts, now - 90 * 60000LL);
	ck_assert_int_eq(cls_replay_from("-7d", now, &ts), 0);
	ck_assert_int_eq(ts, now - 7 * 86400000LL);
	ck_assert_int_eq(cls_replay_from("-", now, &ts), -1);
	ck_assert_int_eq(cls_replay_from("-5x", now, &ts), -1);
	ck_assert_int_eq(cls_replay_from("-m", now, &ts), -1);
	ck_assert_int_eq(cls_replay_from("2026-13-01", now, &ts), -1);
	ck_assert_int_eq(cls_replay_from("yesterday", now, &ts), -1);
	ck_assert_int_eq(cls_replay_from("2026-11-01T25:00", now, &ts), -1);
}
END_TEST

/*
 * What the learned stage reads of a category (yalu train learns from it):
 * the term itself, whatever its case and however many words, and every
 * word of the mention's sentence, even far from the term, but none of the
 * next sentence's.
 */
START_TEST(test_features_name_the_term_and_its_whole_sentence)
{
	const char *body = "Two drums of Diesel and a crate of Salted Pollack, "
	    "the drivers said after a long wait at the yard in the rain, were "
	    "quietly exported. Nobody checked them.";
	json_t *res = NULL, *cands, *x, *f;
	char err[256];
	size_t i;
	int seen = 0;

	ck_assert_msg(yl_cls_run(cls, body, strlen(body), YL_CLS_FEATURES,
	    &res, err, sizeof(err)) == 0, "%s", err);
	cands = json_object_get(res, "candidates");
	ck_assert_int_eq(json_array_size(cands), 2);
	json_array_foreach(cands, i, x) {
		const char *cat = json_string_value(json_object_get(x,
		    "category"));

		f = json_object_get(x, "features");
		if (strcmp(cat, "petroleum") == 0) {
			ck_assert_ptr_nonnull(json_object_get(f, "T=diesel"));
			ck_assert_ptr_null(json_object_get(f,
			    "T=salted_pollack"));
		} else {
			ck_assert_str_eq(cat, "seafood");
			ck_assert_ptr_nonnull(json_object_get(f,
			    "T=salted_pollack"));
		}
		/* 20 words after the term: past the window, in the sentence */
		ck_assert_ptr_null(json_object_get(f, "R=quietly"));
		ck_assert_ptr_nonnull(json_object_get(f, "S=quietly"));
		ck_assert_ptr_nonnull(json_object_get(f, "S=drums"));
		ck_assert_ptr_null(json_object_get(f, "S=nobody"));
		seen++;
	}
	ck_assert_int_eq(seen, 2);
	json_decref(res);
}
END_TEST

static Suite *
classify_suite(void)
{
	Suite *s = suite_create("classify");
	TCase *tc;

#define ADD(fn) do { tc = tcase_create(#fn); \
	tcase_add_checked_fixture(tc, setup, teardown); \
	tcase_add_test(tc, fn); suite_add_tcase(s, tc); } while (0)
	ADD(test_evidence_spans_are_original_bytes_with_curly_quotes_hangul_crlf);
	ADD(test_longest_term_wins_soybean_oil_is_food);
	ADD(test_longest_term_wins_across_a_chain_of_overlaps);
	ADD(test_direction_from_nearest_cue_in_sentence);
	ADD(test_direction_carried_from_previous_sentence_only);
	ADD(test_negation_cancels_in_clause_only);
	ADD(test_needs_cue_fishing_boats_going_fishing);
	ADD(test_also_category_and_ignore);
	ADD(test_no_trade_no_places_relevance_none);
	ADD(test_crossing_implies_country_and_word_boundaries);
	ADD(test_bad_bodies_are_refused_with_reason);
	ADD(test_taxonomy_typo_and_duplicate_id_are_errors_with_position);
	ADD(test_taxonomy_composed_terms);
	ADD(test_ruleset_id_changes_with_rules);
	ADD(test_features_name_the_term_and_its_whole_sentence);
	/* yalu replay's diff and --from: no taxonomy needed. */
#define ADD_PLAIN(fn) do { tc = tcase_create(#fn); \
	tcase_add_test(tc, fn); suite_add_tcase(s, tc); } while (0)
	ADD_PLAIN(test_tag_keys_name_every_facet_once_sorted);
	ADD_PLAIN(test_diff_counts_gains_and_losses_per_facet_and_id);
	ADD_PLAIN(test_replay_from_earliest_dates_and_durations);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(classify_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
