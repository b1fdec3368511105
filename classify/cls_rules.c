/*
 * cls_rules.c - `yalu test-rules`: runs the examples of
 * the tests/ YAML files of the taxonomy like unit tests of the rules.
 *
 * Each example names the tags it must get (expect), must not get (reject),
 * optionally its relevance and facets that must match exactly. A commodity
 * is written "category/direction", or "category" for any direction.
 * Examples run through the whole tagger, learned stage included, unless
 * they say `rules_only: true` (what the rules alone must do).
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yalu/yaml.h"

#include "cls_cli.h"

static const char *const facets[] = { "commodities", "countries",
    "crossings", "modes", "methods", "entities", "provisions", NULL };

/* The IDs a result has in a facet ("cat/dir" for commodities). */
static json_t *
result_ids(json_t *res, const char *facet)
{
	json_t *tags = json_object_get(res, "tags"), *arr, *t, *out;
	size_t i;

	out = json_array();
	if (strcmp(facet, "provisions") == 0)
		arr = json_object_get(json_object_get(tags, "sanctions"),
		    "provisions");
	else
		arr = json_object_get(tags, facet);
	json_array_foreach(arr, i, t) {
		json_t *d = json_object_get(t, "direction");
		char buf[256];

		snprintf(buf, sizeof(buf), "%s%s%s",
		    json_string_value(json_object_get(t, "id")), d ? "/" : "",
		    d ? json_string_value(d) : "");
		json_array_append_new(out, json_string(buf));
	}
	return out;
}

/* Does ids contain want ("cat" matches any "cat/dir")? */
static int
has_id(json_t *ids, const char *want)
{
	size_t i, wl = strlen(want);
	json_t *v;

	json_array_foreach(ids, i, v) {
		const char *s = json_string_value(v);

		if (strcmp(s, want) == 0)
			return 1;
		if (strchr(want, '/') == NULL && strncmp(s, want, wl) == 0 &&
		    s[wl] == '/')
			return 1;
	}
	return 0;
}

static void
join(json_t *ids, char *buf, size_t sz)
{
	size_t i, o = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(ids, i, v) {
		int n = snprintf(buf + o, sz - o, "%s%s", i ? ", " : "",
		    json_string_value(v));

		if (n < 0 || (size_t)n >= sz - o)
			break;
		o += (size_t)n;
	}
	if (o == 0)
		snprintf(buf, sz, "(none)");
}

struct stats {
	int	run, failed, bad;
};

static void
fail(struct stats *st, const struct yl_ydoc *doc, const struct yl_ynode *n,
    const char *name, const char *what)
{
	printf("FAIL %s:%d: %s: %s\n", doc->path, n->line, name, what);
	st->failed++;
}

static void
run_case(struct yl_cls *cls, const struct yl_ydoc *doc,
    const struct yl_ynode *tc, struct stats *st)
{
	const struct yl_ynode *name = yl_ymap_get(tc, "name");
	const struct yl_ynode *text = yl_ymap_get(tc, "text");
	const struct yl_ynode *expect = yl_ymap_get(tc, "expect");
	const struct yl_ynode *reject = yl_ymap_get(tc, "reject");
	const struct yl_ynode *rel = yl_ymap_get(tc, "relevance");
	const struct yl_ynode *exact = yl_ymap_get(tc, "exact");
	const struct yl_ynode *ronly = yl_ymap_get(tc, "rules_only");
	const char *nm;
	char err[512], msg[2048], got[1024];
	json_t *res;
	size_t i, k;
	int before = st->failed;

	for (i = 0; i + 1 < tc->n; i += 2) {
		const char *key = tc->kids[i]->str;

		if (strcmp(key, "name") && strcmp(key, "text") &&
		    strcmp(key, "expect") && strcmp(key, "reject") &&
		    strcmp(key, "relevance") && strcmp(key, "exact") &&
		    strcmp(key, "rules_only")) {
			printf("ERROR %s:%d:%d: unknown key '%s'\n", doc->path,
			    tc->kids[i]->line, tc->kids[i]->col, key);
			st->bad++;
			return;
		}
	}
	if (ronly != NULL && (ronly->type != YL_Y_SCALAR ||
	    (strcmp(ronly->str, "true") && strcmp(ronly->str, "false")))) {
		printf("ERROR %s:%d:%d: rules_only: true or false\n",
		    doc->path, ronly->line, ronly->col);
		st->bad++;
		return;
	}
	if (name == NULL || text == NULL || text->type != YL_Y_SCALAR) {
		printf("ERROR %s:%d:%d: a test needs name and text\n",
		    doc->path, tc->line, tc->col);
		st->bad++;
		return;
	}
	nm = name->str;
	st->run++;
	if (yl_cls_run(cls, text->str, text->len, YL_CLS_EXPLAIN |
	    (ronly != NULL && strcmp(ronly->str, "true") == 0 ?
	    YL_CLS_RULES_ONLY : 0), &res, err, sizeof(err)) == -1) {
		fail(st, doc, tc, nm, err);
		return;
	}
	for (k = 0; k < 2; k++) {
		const struct yl_ynode *spec = k == 0 ? expect : reject;

		if (spec == NULL)
			continue;
		if (spec->type != YL_Y_MAP) {
			fail(st, doc, spec, nm, "expect/reject must be maps");
			continue;
		}
		for (i = 0; i + 1 < spec->n; i += 2) {
			const char *facet = spec->kids[i]->str;
			const struct yl_ynode *want = spec->kids[i + 1];
			json_t *ids;
			size_t j;
			int known = 0;

			for (j = 0; facets[j]; j++)
				known |= strcmp(facets[j], facet) == 0;
			if (!known || want->type != YL_Y_SEQ) {
				snprintf(msg, sizeof(msg), "'%s' is not a facet "
				    "with a list of IDs", facet);
				fail(st, doc, spec->kids[i], nm, msg);
				continue;
			}
			ids = result_ids(res, facet);
			for (j = 0; j < want->n; j++) {
				const char *w = want->kids[j]->str;

				if (w == NULL || has_id(ids, w) == (k == 1)) {
					join(ids, got, sizeof(got));
					snprintf(msg, sizeof(msg), "%s: %s %s, "
					    "got %s", facet, k == 0 ?
					    "expected" : "did not want",
					    w ? w : "?", got);
					fail(st, doc, want->kids[j], nm, msg);
				}
			}
			json_decref(ids);
		}
	}
	if (exact != NULL && exact->type == YL_Y_SEQ) {
		for (i = 0; i < exact->n; i++) {
			const char *facet = exact->kids[i]->str;
			const struct yl_ynode *want = yl_ymap_get(expect, facet);
			json_t *ids = result_ids(res, facet);
			size_t nwant = want ? want->n : 0;

			if (json_array_size(ids) != nwant) {
				join(ids, got, sizeof(got));
				snprintf(msg, sizeof(msg), "%s: expected exactly "
				    "%zu, got %s", facet, nwant, got);
				fail(st, doc, exact->kids[i], nm, msg);
			}
			json_decref(ids);
		}
	}
	if (rel != NULL) {
		const char *r = json_string_value(json_object_get(
		    json_object_get(json_object_get(res, "tags"), "sanctions"),
		    "relevance"));

		if (strcmp(r, rel->str) != 0) {
			snprintf(msg, sizeof(msg), "relevance: expected %s, got "
			    "%s", rel->str, r);
			fail(st, doc, rel, nm, msg);
		}
	}
	if (st->failed > before) {
		printf("     text: %s\n", text->str);
		cls_print_text(stdout, "     got", text->str, res, 1);
	}
	json_decref(res);
}

static int
run_file(struct yl_cls *cls, const char *path, struct stats *st)
{
	char err[1024];
	struct yl_ydoc *doc = yl_ydoc_load(path, err, sizeof(err));
	const struct yl_ynode *tests;
	size_t i;

	if (doc == NULL) {
		printf("ERROR %s\n", err);
		st->bad++;
		return -1;
	}
	tests = yl_ymap_get(doc->root, "tests");
	if (tests == NULL || tests->type != YL_Y_SEQ) {
		printf("ERROR %s: expected a top-level 'tests:' list\n", path);
		st->bad++;
	} else
		for (i = 0; i < tests->n; i++) {
			if (tests->kids[i]->type != YL_Y_MAP) {
				printf("ERROR %s:%d:%d: a test is a map\n", path,
				    tests->kids[i]->line, tests->kids[i]->col);
				st->bad++;
				continue;
			}
			run_case(cls, doc, tests->kids[i], st);
		}
	yl_ydoc_free(&doc);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
cls_cmd_test_rules(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "taxonomy", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *taxdir = NULL;
	struct yl_tax *tax;
	struct yl_cls *cls;
	struct stats st = { 0 };
	char err[512];
	int ch, i;

	while ((ch = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
		if (ch == 't')
			taxdir = optarg;
		else {
			fprintf(stderr, "usage: yalu test-rules [--taxonomy DIR] "
			    "[TESTFILE...]\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if ((tax = cls_taxonomy_open(taxdir)) == NULL)
		return 78;
	if ((cls = yl_cls_new(tax, err, sizeof(err))) == NULL) {
		fprintf(stderr, "yalu: %s\n", err);
		yl_tax_free(&tax);
		return 1;
	}
	if (optind < argc) {
		for (i = optind; i < argc; i++)
			run_file(cls, argv[i], &st);
	} else {
		char dir[4096], path[4200];
		char **names = NULL;
		size_t n = 0, k;
		DIR *d;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "%s/tests",
		    cls_taxonomy_dir(taxdir));
		if ((d = opendir(dir)) == NULL) {
			fprintf(stderr, "yalu: %s: no rule tests\n", dir);
			st.bad++;
		} else {
			while ((de = readdir(d)) != NULL) {
				size_t l = strlen(de->d_name);

				if (l > 5 && strcmp(de->d_name + l - 5,
				    ".yaml") == 0) {
					names = realloc(names, (n + 1) *
					    sizeof(*names));
					names[n++] = strdup(de->d_name);
				}
			}
			closedir(d);
			qsort(names, n, sizeof(*names), cmp_str);
			for (k = 0; k < n; k++) {
				snprintf(path, sizeof(path), "%s/%s", dir,
				    names[k]);
				run_file(cls, path, &st);
				free(names[k]);
			}
			free(names);
		}
	}
	printf("%d passed, %d failed\n", st.run - st.failed, st.failed);
	if (st.bad)
		printf("%d malformed test(s)\n", st.bad);
	yl_cls_free(&cls);
	yl_tax_free(&tax);
	return st.failed || st.bad || st.run == 0 ? 1 : 0;
}
