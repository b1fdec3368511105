/*
 * cls_eval.c - `yalu eval GOLD.jsonl [REPORTS...]`: classifies labelled
 * reports and scores the tags the way an NLP team would: per facet micro
 * precision, recall and F1 over (report, label) pairs, commodities both as
 * (category, direction) pairs and as categories alone, relevance accuracy
 * with a confusion matrix, and the worst reports with what was expected
 * and what came out.
 *
 * GOLD.jsonl has the shape of TAGS.md's seed-labels.jsonl: one object per
 * report with "file" and the label arrays. Reports are read from the
 * files named on the command line (matched by base name) or, without
 * any, from "file" beside GOLD.jsonl.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cls_cli.h"

#define NFACETS 8

static const char *const facet_names[NFACETS] = {
	"commodities", "commodity-categories", "countries", "crossings",
	"modes", "methods", "entities", "provisions"
};
static const char *const rel_names[4] = { "none", "low", "medium", "high" };

struct counts {
	long	tp, fp, fn;
};

struct report_score {
	char	*file;
	int	 errors;
	json_t	*expected, *got;	/* {facet: [labels]} */
};

static int
rel_index(const char *s)
{
	int i;

	for (i = 0; i < 4; i++)
		if (s != NULL && strcmp(s, rel_names[i]) == 0)
			return i;
	return -1;
}

/* Labels of a gold object for facet f, as a JSON array of strings. */
static json_t *
gold_labels(json_t *g, int f)
{
	json_t *out = json_array(), *arr, *v;
	size_t i;

	if (f <= 1) {
		arr = json_object_get(g, "commodities");
		json_array_foreach(arr, i, v) {
			char buf[160];
			const char *cat = json_string_value(json_array_get(v, 0));
			const char *dir = json_string_value(json_array_get(v, 1));

			if (cat == NULL)
				continue;
			if (f == 0)
				snprintf(buf, sizeof(buf), "%s/%s", cat,
				    dir ? dir : "?");
			else
				snprintf(buf, sizeof(buf), "%s", cat);
			json_array_append_new(out, json_string(buf));
		}
		return out;
	}
	arr = json_object_get(g, facet_names[f]);
	json_array_foreach(arr, i, v)
		if (json_is_string(v))
			json_array_append(out, v);
	return out;
}

/* The same from a classifier result. */
static json_t *
got_labels(json_t *res, int f)
{
	json_t *tags = json_object_get(res, "tags"), *out = json_array(), *arr,
	    *t;
	size_t i;

	if (f == 7)
		arr = json_object_get(json_object_get(tags, "sanctions"),
		    "provisions");
	else
		arr = json_object_get(tags, f <= 1 ? "commodities" :
		    facet_names[f]);
	json_array_foreach(arr, i, t) {
		char buf[160];
		const char *id = json_string_value(json_object_get(t, "id"));
		json_t *d = json_object_get(t, "direction");

		if (f == 0)
			snprintf(buf, sizeof(buf), "%s/%s", id,
			    json_string_value(d));
		else
			snprintf(buf, sizeof(buf), "%s", id);
		json_array_append_new(out, json_string(buf));
	}
	return out;
}

static int
contains(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

/* Unique labels only: a category may come from two directions. */
static json_t *
uniq(json_t *arr)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (!contains(out, json_string_value(v)))
			json_array_append(out, v);
	json_decref(arr);
	return out;
}

static double
ratio(long a, long b)
{
	return b == 0 ? 1.0 : (double)a / (double)b;
}

static double
f1(const struct counts *c)
{
	double p = ratio(c->tp, c->tp + c->fp), r = ratio(c->tp, c->tp + c->fn);

	return p + r == 0 ? 0.0 : 2 * p * r / (p + r);
}

char *
cls_read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long sz;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (sz = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 || (buf = malloc((size_t)sz + 1)) ==
	    NULL) {
		fclose(fp);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)sz, fp);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

json_t *
cls_gold_line(const char *line, const char *path, size_t lineno,
    const char **file, int *bad)
{
	json_error_t jerr;
	json_t *g;

	if (strspn(line, " \t\r\n") == strlen(line))
		return NULL;
	if ((g = json_loads(line, 0, &jerr)) == NULL ||
	    (*file = json_string_value(json_object_get(g, "file"))) == NULL) {
		fprintf(stderr, "yalu: %s:%zu: %s\n", path, lineno,
		    g ? "no \"file\"" : jerr.text);
		json_decref(g);
		(*bad)++;
		return NULL;
	}
	return g;
}

/* Classifies one report file; NULL after saying why on stderr. */
static json_t *
classify_file(struct yl_cls *cls, const char *path, int flags)
{
	json_t *res = NULL;
	char *body, err[512];
	size_t len = 0;

	if ((body = cls_read_file(path, &len)) == NULL) {
		fprintf(stderr, "yalu: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (yl_cls_run(cls, body, len, flags, &res, err, sizeof(err)) == -1) {
		fprintf(stderr, "yalu: %s: %s\n", path, err);
		res = NULL;
	}
	free(body);
	return res;
}

static int
cmp_score(const void *a, const void *b)
{
	const struct report_score *x = a, *y = b;

	if (x->errors != y->errors)
		return y->errors - x->errors;
	return strcmp(x->file, y->file);
}

static void
print_list(FILE *fp, json_t *arr)
{
	size_t i;
	json_t *v;

	if (json_array_size(arr) == 0)
		fputs("-", fp);
	json_array_foreach(arr, i, v)
		fprintf(fp, "%s%s", i ? " " : "", json_string_value(v));
}

/*
 * Reads a labels file of GOLD.jsonl's shape into {file: object}. Errors
 * name the file and line; a file labelled twice is an error too.
 */
static json_t *
load_labels(const char *path)
{
	FILE *fp;
	json_t *map, *o;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	int bad = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "yalu: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	map = json_object();
	while (getline(&line, &cap, fp) != -1) {
		json_error_t jerr;
		const char *file;

		lineno++;
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		if ((o = json_loads(line, 0, &jerr)) == NULL) {
			fprintf(stderr, "yalu: %s:%zu:%d: %s\n", path, lineno,
			    jerr.column, jerr.text);
			bad++;
			continue;
		}
		if ((file = json_string_value(json_object_get(o, "file"))) ==
		    NULL) {
			fprintf(stderr, "yalu: %s:%zu: no \"file\"\n", path,
			    lineno);
			bad++;
		} else if (json_object_get(map, file) != NULL) {
			fprintf(stderr, "yalu: %s:%zu: %s is labelled twice\n",
			    path, lineno, file);
			bad++;
		} else
			json_object_set(map, file, o);
		json_decref(o);
	}
	free(line);
	fclose(fp);
	if (bad) {
		json_decref(map);
		return NULL;
	}
	return map;
}

int
cls_cmd_eval(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "taxonomy", required_argument, NULL, 't' },
		{ "worst", required_argument, NULL, 'w' },
		{ "against", required_argument, NULL, 'a' },
		{ "rules-only", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *taxdir = NULL, *goldpath, *againstpath = NULL;
	json_t *against = NULL;
	int ch, json = 0, worst = 10, bad = 0, i, f, n = 0, rel_ok = 0;
	int flags = 0;
	long confusion[4][4] = { { 0 } };
	struct counts c[NFACETS];
	struct report_score *scores = NULL;
	struct yl_tax *tax = NULL;
	struct yl_cls *cls = NULL;
	FILE *gf;
	char *line = NULL, err[512], *gdir, *gcopy;
	size_t cap = 0, lineno = 0;

	memset(c, 0, sizeof(c));
	while ((ch = getopt_long(argc, argv, "a:F:rt:w:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'F':
			json = strcmp(optarg, "json") == 0;
			if (!json && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "yalu: --format: text or json\n");
				return 2;
			}
			break;
		case 't':
			taxdir = optarg;
			break;
		case 'w':
			worst = atoi(optarg);
			break;
		case 'a':
			againstpath = optarg;
			break;
		case 'r':
			flags |= YL_CLS_RULES_ONLY;
			break;
		default:
			fprintf(stderr, "usage: yalu eval [--format text|json] "
			    "[--worst N] [--rules-only] [--taxonomy DIR] "
			    "GOLD.jsonl [REPORTS...]\n"
			    "       yalu eval [--format text|json] [--worst N] "
			    "--against LABELS.jsonl GOLD.jsonl\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: yalu eval GOLD.jsonl [REPORTS...]\n");
		return 2;
	}
	goldpath = argv[optind];
	if ((gf = fopen(goldpath, "r")) == NULL) {
		fprintf(stderr, "yalu: %s: %s\n", goldpath, strerror(errno));
		return 1;
	}
	if (againstpath != NULL) {
		if ((against = load_labels(againstpath)) == NULL) {
			fclose(gf);
			return 1;
		}
	} else if ((tax = cls_taxonomy_open(taxdir)) == NULL) {
		fclose(gf);
		return 78;
	} else if ((cls = yl_cls_new(tax, err, sizeof(err))) == NULL) {
		fprintf(stderr, "yalu: %s\n", err);
		fclose(gf);
		yl_tax_free(&tax);
		return 1;
	}
	gcopy = strdup(goldpath);
	gdir = dirname(gcopy);
	while (getline(&line, &cap, gf) != -1) {
		json_t *g, *res = NULL;
		const char *file, *path = NULL;
		char pbuf[4096];
		struct report_score *rs;
		int k, errors = 0, ri, gi;

		lineno++;
		if ((g = cls_gold_line(line, goldpath, lineno, &file, &bad)) ==
		    NULL)
			continue;
		for (k = optind + 1; k < argc; k++) {
			char *cp = strdup(argv[k]);

			if (strcmp(basename(cp), file) == 0)
				path = argv[k];
			free(cp);
		}
		if (optind + 1 < argc && path == NULL) {
			json_decref(g);
			continue;	/* not among the reports given */
		}
		if (against != NULL) {
			if ((res = json_object_get(against, file)) == NULL)
				fprintf(stderr, "yalu: %s: %s has no labels\n",
				    againstpath, file);
			json_incref(res);
		} else {
			if (path == NULL) {
				snprintf(pbuf, sizeof(pbuf), "%s/%s", gdir,
				    file);
				path = pbuf;
			}
			res = classify_file(cls, path, flags);
		}
		if (res == NULL) {
			json_decref(g);
			bad++;
			continue;
		}
		scores = realloc(scores, (size_t)(n + 1) * sizeof(*scores));
		rs = &scores[n++];
		rs->file = strdup(file);
		rs->expected = json_object();
		rs->got = json_object();
		for (f = 0; f < NFACETS; f++) {
			json_t *want = uniq(gold_labels(g, f));
			json_t *have = uniq(against ? gold_labels(res, f) :
			    got_labels(res, f));
			json_t *v;
			size_t j;

			json_array_foreach(have, j, v) {
				if (contains(want, json_string_value(v)))
					c[f].tp++;
				else {
					c[f].fp++;
					if (f != 1)
						errors++;
				}
			}
			json_array_foreach(want, j, v)
				if (!contains(have, json_string_value(v))) {
					c[f].fn++;
					if (f != 1)
						errors++;
				}
			json_object_set_new(rs->expected, facet_names[f], want);
			json_object_set_new(rs->got, facet_names[f], have);
		}
		gi = rel_index(json_string_value(json_object_get(g,
		    "relevance")));
		ri = rel_index(json_string_value(against ? json_object_get(res,
		    "relevance") : json_object_get(json_object_get(
		    json_object_get(res, "tags"), "sanctions"), "relevance")));
		json_object_set_new(rs->expected, "relevance", json_string(
		    gi >= 0 ? rel_names[gi] : "?"));
		json_object_set_new(rs->got, "relevance", json_string(
		    ri >= 0 ? rel_names[ri] : "?"));
		if (gi >= 0 && ri >= 0) {
			confusion[gi][ri]++;
			if (gi == ri)
				rel_ok++;
			else
				errors++;
		}
		rs->errors = errors;
		json_decref(res);
		json_decref(g);
	}
	free(line);
	free(gcopy);
	fclose(gf);
	if (n == 0) {
		fprintf(stderr, "yalu: %s: no labelled report could be scored\n",
		    goldpath);
		bad++;
	}
	qsort(scores, (size_t)n, sizeof(*scores), cmp_score);

	if (json) {
		json_t *o = json_object(), *fac = json_object(), *conf =
		    json_object(), *w = json_array();
		char *s;
		int a, b;

		json_object_set_new(o, "reports", json_integer(n));
		for (f = 0; f < NFACETS; f++) {
			json_t *x = json_object();

			json_object_set_new(x, "precision", json_real(ratio(
			    c[f].tp, c[f].tp + c[f].fp)));
			json_object_set_new(x, "recall", json_real(ratio(c[f].tp,
			    c[f].tp + c[f].fn)));
			json_object_set_new(x, "f1", json_real(f1(&c[f])));
			json_object_set_new(x, "tp", json_integer(c[f].tp));
			json_object_set_new(x, "fp", json_integer(c[f].fp));
			json_object_set_new(x, "fn", json_integer(c[f].fn));
			json_object_set_new(fac, facet_names[f], x);
		}
		json_object_set_new(o, "facets", fac);
		json_object_set_new(o, "relevance_accuracy", json_real(ratio(
		    rel_ok, n)));
		for (a = 0; a < 4; a++) {
			json_t *row = json_object();

			for (b = 0; b < 4; b++)
				json_object_set_new(row, rel_names[b],
				    json_integer(confusion[a][b]));
			json_object_set_new(conf, rel_names[a], row);
		}
		json_object_set_new(o, "relevance_confusion", conf);
		for (i = 0; i < n && i < worst; i++) {
			json_t *x;

			if (scores[i].errors == 0)
				break;
			x = json_object();
			json_object_set_new(x, "file",
			    json_string(scores[i].file));
			json_object_set_new(x, "errors",
			    json_integer(scores[i].errors));
			json_object_set(x, "expected", scores[i].expected);
			json_object_set(x, "got", scores[i].got);
			json_array_append_new(w, x);
		}
		json_object_set_new(o, "worst", w);
		s = json_dumps(o, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(o);
	} else {
		int a, b;

		printf("%d reports scored\n\n", n);
		printf("%-22s %9s %9s %9s %6s %6s %6s\n", "facet", "precision",
		    "recall", "F1", "tp", "fp", "fn");
		for (f = 0; f < NFACETS; f++)
			printf("%-22s %9.3f %9.3f %9.3f %6ld %6ld %6ld\n",
			    facet_names[f], ratio(c[f].tp, c[f].tp + c[f].fp),
			    ratio(c[f].tp, c[f].tp + c[f].fn), f1(&c[f]),
			    c[f].tp, c[f].fp, c[f].fn);
		printf("\nrelevance accuracy %.3f (%d of %d)\n\n",
		    ratio(rel_ok, n), rel_ok, n);
		printf("%-16s", "gold \\ tagged");
		for (b = 0; b < 4; b++)
			printf(" %7s", rel_names[b]);
		putchar('\n');
		for (a = 0; a < 4; a++) {
			printf("%-16s", rel_names[a]);
			for (b = 0; b < 4; b++)
				printf(" %7ld", confusion[a][b]);
			putchar('\n');
		}
		for (i = 0; i < n && i < worst; i++) {
			if (scores[i].errors == 0)
				break;
			if (i == 0)
				printf("\nworst reports:\n");
			printf("\n%s: %d error(s)\n", scores[i].file,
			    scores[i].errors);
			for (f = 0; f < NFACETS + 1; f++) {
				const char *fn = f < NFACETS ? facet_names[f] :
				    "relevance";
				json_t *e = json_object_get(scores[i].expected,
				    fn), *g = json_object_get(scores[i].got, fn);

				if (f == 1 || json_equal(e, g))
					continue;
				printf("  %-13s expected ", fn);
				if (json_is_string(e))
					fputs(json_string_value(e), stdout);
				else
					print_list(stdout, e);
				printf("\n  %-13s      got ", "");
				if (json_is_string(g))
					fputs(json_string_value(g), stdout);
				else
					print_list(stdout, g);
				putchar('\n');
			}
		}
	}
	for (i = 0; i < n; i++) {
		free(scores[i].file);
		json_decref(scores[i].expected);
		json_decref(scores[i].got);
	}
	free(scores);
	json_decref(against);
	if (cls != NULL)
		yl_cls_free(&cls);
	if (tax != NULL)
		yl_tax_free(&tax);
	return bad ? 1 : 0;
}
