/*
 * cls_train.c - `yalu train GOLD.jsonl...`: learns the second stage of the
 * tagger (model.yaml) from labelled reports.
 *
 * The rules run alone on every report (YL_CLS_RULES_ONLY) and say, for
 * each commodity category they kept, its features (engine.c, features()).
 * Two L2-regularized logistic regressions are fitted with liblinear:
 *
 *   presence   one example per kept category: 1 if gold has the category
 *   direction  for each kept category gold has, one example per direction
 *              (import, export, unknown), its features prefixed "dir|":
 *              1 if gold has (category, direction)
 *
 * Features seen in fewer than --min-count examples are left out, so the
 * model does not learn the words of one report. The output is a taxonomy
 * file: its hash is part of the ruleset ID, like every rule's.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linear.h>

#include "cls_cli.h"

static const char *const dir_names[3] = { "unknown", "import", "export" };

/* One example: feature names (borrowed from the JSON) and values. */
struct example {
	json_t	*features;	/* {name: value} */
	const char *prefix;	/* "" or "import|" ... */
	double	 y;
};

struct set {
	struct example	*v;
	size_t		 n, cap;
	json_t		*vocab;		/* name -> count, then -> index */
};

static int
set_add(struct set *s, json_t *features, const char *prefix, double y)
{
	const char *k;
	json_t *v;
	char name[160];

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct example *p = realloc(s->v, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n].features = features;
	s->v[s->n].prefix = prefix;
	s->v[s->n++].y = y;
	json_object_foreach(features, k, v) {
		json_t *c;

		snprintf(name, sizeof(name), "%s%s", prefix, k);
		c = json_object_get(s->vocab, name);
		json_object_set_new(s->vocab, name, json_integer(c ?
		    json_integer_value(c) + 1 : 1));
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Fits one model and writes its weights as "    name: weight" lines.
 * Returns the number of weights written, -1 on error.
 */
static long
fit(struct set *s, long min_count, double cost, FILE *out)
{
	struct problem prob;
	struct parameter param;
	struct model *m;
	struct feature_node *nodes;
	const char **names, *k, *why;
	json_t *v;
	size_t nnames = 0, i, j, at = 0, nn = 0;
	long written = 0;
	double sign;
	char name[160];

	names = calloc(json_object_size(s->vocab) + 1, sizeof(*names));
	if (names == NULL)
		return -1;
	json_object_foreach(s->vocab, k, v)
		if (json_integer_value(v) >= min_count)
			names[nnames++] = k;
	qsort(names, nnames, sizeof(*names), cmp_str);
	for (i = 0; i < nnames; i++)
		json_object_set_new(s->vocab, names[i],
		    json_integer((json_int_t)-(i + 1)));	/* index */
	for (i = 0; i < s->n; i++)
		nn += json_object_size(s->v[i].features) + 1;
	memset(&prob, 0, sizeof(prob));
	prob.l = (int)s->n;
	prob.n = (int)nnames;
	prob.bias = -1;
	prob.y = calloc(s->n + 1, sizeof(*prob.y));
	prob.x = calloc(s->n + 1, sizeof(*prob.x));
	nodes = calloc(nn + 1, sizeof(*nodes));
	if (prob.y == NULL || prob.x == NULL || nodes == NULL) {
		free(prob.y);
		free(prob.x);
		free(nodes);
		free(names);
		return -1;
	}
	for (i = 0; i < s->n; i++) {
		size_t first = at;

		prob.y[i] = s->v[i].y;
		prob.x[i] = &nodes[at];
		json_object_foreach(s->v[i].features, k, v) {
			json_t *ix;

			snprintf(name, sizeof(name), "%s%s", s->v[i].prefix, k);
			ix = json_object_get(s->vocab, name);
			if (ix == NULL || json_integer_value(ix) >= 0)
				continue;	/* too rare */
			nodes[at].index = (int)-json_integer_value(ix);
			nodes[at++].value = json_number_value(v);
		}
		/* liblinear wants ascending indices. */
		for (j = first + 1; j < at; j++) {
			struct feature_node x = nodes[j];
			size_t q = j;

			while (q > first && nodes[q - 1].index > x.index) {
				nodes[q] = nodes[q - 1];
				q--;
			}
			nodes[q] = x;
		}
		nodes[at++].index = -1;
	}
	memset(&param, 0, sizeof(param));
	param.solver_type = L2R_LR;
	param.C = cost;
	param.eps = 0.001;
	if ((why = check_parameter(&prob, &param)) != NULL) {
		fprintf(stderr, "yalu: train: %s\n", why);
		written = -1;
		goto done;
	}
	if ((m = train(&prob, &param)) == NULL) {
		written = -1;
		goto done;
	}
	/* Binary: w.x > 0 predicts label[0]; the weights are for y = 1. */
	sign = m->nr_class == 2 && m->label[0] != 1 ? -1.0 : 1.0;
	for (i = 0; i < nnames && m->nr_class == 2; i++) {
		double w = sign * m->w[i];

		if (w > -1e-6 && w < 1e-6)
			continue;
		fprintf(out, "    \"%s\": %.6g\n", names[i], w);
		written++;
	}
	if (m->nr_class != 2) {
		fprintf(stderr, "yalu: train: every example has the same "
		    "label; nothing to learn\n");
		written = -1;
	}
	free_and_destroy_model(&m);
done:
	free(prob.y);
	free(prob.x);
	free(nodes);
	free(names);
	return written;
}

static void
quiet(const char *s)
{
	(void)s;
}

/* Does gold g have commodity (cat, dir)? dir NULL: any direction. */
static int
gold_has(json_t *g, const char *cat, const char *dir)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(g, "commodities"), i, v) {
		const char *c = json_string_value(json_array_get(v, 0));
		const char *d = json_string_value(json_array_get(v, 1));

		if (c != NULL && strcmp(c, cat) == 0 && (dir == NULL ||
		    (d != NULL && strcmp(d, dir) == 0)))
			return 1;
	}
	return 0;
}

/* Reads one gold file, classifies its reports, adds their examples. */
static int
add_gold(struct yl_cls *cls, const char *goldpath, struct set *pres,
    struct set *dirs, json_t *keep, int *nreports)
{
	FILE *gf;
	char *line = NULL, *gcopy, *gdir, err[512];
	size_t cap = 0, lineno = 0;
	int bad = 0;

	if ((gf = fopen(goldpath, "r")) == NULL) {
		fprintf(stderr, "yalu: %s: %s\n", goldpath, strerror(errno));
		return 1;
	}
	gcopy = strdup(goldpath);
	gdir = dirname(gcopy);
	while (getline(&line, &cap, gf) != -1) {
		json_t *g, *res = NULL, *x;
		const char *file;
		char path[4096], *body;
		size_t len = 0, i;

		lineno++;
		if ((g = cls_gold_line(line, goldpath, lineno, &file, &bad)) ==
		    NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", gdir, file);
		if ((body = cls_read_file(path, &len)) == NULL) {
			fprintf(stderr, "yalu: %s: %s\n", path, strerror(errno));
			json_decref(g);
			bad++;
			continue;
		}
		if (yl_cls_run(cls, body, len, YL_CLS_RULES_ONLY |
		    YL_CLS_FEATURES, &res, err, sizeof(err)) == -1) {
			fprintf(stderr, "yalu: %s: %s\n", path, err);
			free(body);
			json_decref(g);
			bad++;
			continue;
		}
		free(body);
		(*nreports)++;
		json_array_foreach(json_object_get(res, "candidates"), i, x) {
			const char *cat = json_string_value(json_object_get(x,
			    "category"));
			json_t *f = json_object_get(x, "features");
			int d, in = cat != NULL && gold_has(g, cat, NULL);

			if (cat == NULL || f == NULL)
				continue;
			json_array_append(keep, f);
			if (set_add(pres, f, "", in) == -1)
				goto oom;
			for (d = 0; in && d < 3; d++) {
				static const char *const pfx[3] = {
					"unknown|", "import|", "export|"
				};

				if (set_add(dirs, f, pfx[d], gold_has(g, cat,
				    dir_names[d])) == -1)
					goto oom;
			}
		}
		json_decref(res);
		json_decref(g);
		continue;
oom:
		json_decref(res);
		json_decref(g);
		bad++;
		break;
	}
	free(line);
	free(gcopy);
	fclose(gf);
	return bad;
}

int
cls_cmd_train(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "taxonomy", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "min-count", required_argument, NULL, 'm' },
		{ "cost", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *taxdir = NULL, *outpath = NULL;
	struct set pres, dirs;
	struct yl_tax *tax;
	struct yl_cls *cls;
	json_t *keep;
	FILE *out = stdout;
	char err[512], tmppath[4200], *end;
	long min_count = 3, np = 0, nd = 0;
	double cost = 0.1;
	int ch, i, bad = 0, nreports = 0;

	while ((ch = getopt_long(argc, argv, "t:o:m:C:h", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			taxdir = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'm':
			min_count = strtol(optarg, &end, 10);
			if (*end != '\0' || min_count < 1) {
				fprintf(stderr, "yalu: --min-count: a whole "
				    "number, 1 or more\n");
				return 2;
			}
			break;
		case 'C':
			cost = strtod(optarg, &end);
			if (*end != '\0' || cost <= 0) {
				fprintf(stderr, "yalu: --cost: a number above "
				    "0\n");
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: yalu train [--taxonomy DIR] "
			    "[-o model.yaml] [--min-count N] [--cost C] "
			    "GOLD.jsonl...\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: yalu train [--taxonomy DIR] "
		    "[-o model.yaml] GOLD.jsonl...\n");
		return 2;
	}
	if ((tax = cls_taxonomy_open(taxdir)) == NULL)
		return 78;
	if ((cls = yl_cls_new(tax, err, sizeof(err))) == NULL) {
		fprintf(stderr, "yalu: %s\n", err);
		yl_tax_free(&tax);
		return 1;
	}
	memset(&pres, 0, sizeof(pres));
	memset(&dirs, 0, sizeof(dirs));
	pres.vocab = json_object();
	dirs.vocab = json_object();
	keep = json_array();
	for (i = optind; i < argc; i++)
		bad += add_gold(cls, argv[i], &pres, &dirs, keep, &nreports);
	if (bad) {
		fprintf(stderr, "yalu: train: %d report(s) could not be read; "
		    "nothing written\n", bad);
		goto done;
	}
	if (outpath != NULL) {
		snprintf(tmppath, sizeof(tmppath), "%s.tmp", outpath);
		if ((out = fopen(tmppath, "w")) == NULL) {
			fprintf(stderr, "yalu: %s: %s\n", tmppath,
			    strerror(errno));
			bad = 1;
			goto done;
		}
	}
	set_print_string_function(quiet);
	fprintf(out, "# model.yaml - the learned second stage of the tagger. "
	    "Written by\n# `yalu train");
	if (min_count != 3)
		fprintf(out, " --min-count %ld", min_count);
	if (cost != 0.1)
		fprintf(out, " --cost %g", cost);
	fprintf(out, "`; do not edit: retrain (docs/quality.md says how).\n"
	    "model:\n  reports: %d\n  presence_min: 0.5\n"
	    "  direction_min: 0.5\n  reassign_min: 0.6\n  revive_min: 0.6\n"
	    "  presence:\n",
	    nreports);
	if ((np = fit(&pres, min_count, cost, out)) >= 0) {
		fprintf(out, "  direction:\n");
		nd = fit(&dirs, min_count, cost, out);
	}
	if (np < 0 || nd < 0 || fflush(out) != 0 || ferror(out)) {
		fprintf(stderr, "yalu: train: failed; nothing written\n");
		bad = 1;
	}
	if (out != stdout) {
		if (fclose(out) != 0)
			bad = 1;
		if (bad)
			unlink(tmppath);
		else if (rename(tmppath, outpath) == -1) {
			fprintf(stderr, "yalu: %s: %s\n", outpath,
			    strerror(errno));
			bad = 1;
		}
	}
	if (!bad)
		fprintf(stderr, "yalu: train: %d reports, %zu presence and "
		    "%zu direction examples, %ld and %ld weights\n", nreports,
		    pres.n, dirs.n, np, nd);
done:
	free(pres.v);
	free(dirs.v);
	json_decref(pres.vocab);
	json_decref(dirs.vocab);
	json_decref(keep);
	yl_cls_free(&cls);
	yl_tax_free(&tax);
	return bad ? 1 : 0;
}
