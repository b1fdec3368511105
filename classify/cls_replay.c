/*
 * cls_replay.c - `yalu replay`: re-tags what reports.raw holds with another
 * taxonomy while the live pipeline runs on, or, with --dry-run, tells per
 * facet and ID what that would change.
 *
 * The range is fixed when the command starts: for every partition of
 * reports.raw, from --from (earliest, a time, or a time ago) up to the
 * high watermark of that moment. It is read with assign(), not through a
 * consumer group: a bounded read has a known end and needs no committed
 * offsets, and the live classifiers' group is never disturbed. A replay
 * that is interrupted is simply run again: yalu-store replaces a report
 * in place and keeps whichever ruleset is newer, so re-tagging twice does
 * no harm.
 *
 * What is produced is exactly what yalu-classify produces (the same
 * tagged form, the same key) with an idempotent producer and acks=all;
 * the command exits 0 only once every produce is confirmed. A message
 * that cannot be decoded is counted and skipped: the live pipeline has
 * dead-lettered it already.
 *
 * The dry run compares, for every report of the range, the tags the new
 * taxonomy gives with the tags it has now: those in the archive (--db,
 * what analysts actually see) or, without an archive, those the currently
 * configured taxonomy gives. Tags are compared as "facet id" keys
 * (cls_tag_keys), so the diff says which reports gain or lose which tag.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "yalu/daemon.h"
#include "yalu/log.h"
#include "yalu/report.h"

#include "classifyd.h"
#include "cls_cli.h"

#ifndef YALU_SYSCONFDIR
#define YALU_SYSCONFDIR "/etc/yalu"
#endif

#define REPLAY_TIMEOUT_MS	15000	/* metadata, watermarks, times */
#define REPLAY_PROGRESS_MS	2000

/* ------------------------------------------------------------ tag keys */

/* The facets that are lists of {id, ...}, in the order of TAGS.md. */
static const char *const list_facets[] = {
	"commodities", "countries", "crossings", "modes", "methods",
	"entities", NULL
};

/* Output order of the diff: the list facets, provisions, relevance. */
static int
facet_rank(const char *facet, size_t len)
{
	static const char *const order[] = {
		"commodities", "countries", "crossings", "modes", "methods",
		"entities", "provisions", "relevance", NULL
	};
	int i;

	for (i = 0; order[i] != NULL; i++)
		if (strlen(order[i]) == len && memcmp(order[i], facet, len) == 0)
			return i;
	return i;
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds "facet id" to keys (n so far, room for cap). 0 or -1. */
static int
key_add(char ***keys, size_t *n, size_t *cap, const char *facet,
    const char *id, const char *dir)
{
	char **k, *s;
	size_t len;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		if ((k = realloc(*keys, *cap * sizeof(*k))) == NULL)
			return -1;
		*keys = k;
	}
	len = strlen(facet) + strlen(id) + (dir ? strlen(dir) + 1 : 0) + 2;
	if ((s = malloc(len)) == NULL)
		return -1;
	if (dir != NULL)
		snprintf(s, len, "%s %s/%s", facet, id, dir);
	else
		snprintf(s, len, "%s %s", facet, id);
	(*keys)[(*n)++] = s;
	return 0;
}

char *
cls_tag_keys(json_t *tags)
{
	json_t *arr, *t, *id, *dir, *s, *rel;
	char **keys = NULL, *out = NULL;
	size_t n = 0, cap = 0, i, j, len = 0;
	int f, fail = 0;

	if (!json_is_object(tags))
		return NULL;
	for (f = 0; list_facets[f] != NULL && !fail; f++) {
		arr = json_object_get(tags, list_facets[f]);
		json_array_foreach(arr, i, t) {
			id = json_object_get(t, "id");
			if (!json_is_string(id))
				continue;
			/* A commodity is its category with its direction. */
			dir = f == 0 ? json_object_get(t, "direction") : NULL;
			if (key_add(&keys, &n, &cap, list_facets[f],
			    json_string_value(id), json_is_string(dir) ?
			    json_string_value(dir) : NULL) == -1) {
				fail = 1;
				break;
			}
		}
	}
	s = json_object_get(tags, "sanctions");
	json_array_foreach(json_object_get(s, "provisions"), i, t) {
		id = json_object_get(t, "id");
		if (!fail && json_is_string(id) && key_add(&keys, &n, &cap,
		    "provisions", json_string_value(id), NULL) == -1)
			fail = 1;
	}
	rel = json_object_get(s, "relevance");
	if (!fail && json_is_string(rel) && key_add(&keys, &n, &cap,
	    "relevance", json_string_value(rel), NULL) == -1)
		fail = 1;
	if (!fail) {
		qsort(keys, n, sizeof(*keys), strp_cmp);
		for (i = 0; i < n; i++)
			len += strlen(keys[i]) + 1;
		if ((out = malloc(len + 1)) != NULL) {
			len = 0;
			for (i = 0; i < n; i++) {
				/* The same tag twice counts once. */
				if (i > 0 && strcmp(keys[i], keys[i - 1]) == 0)
					continue;
				j = strlen(keys[i]);
				memcpy(out + len, keys[i], j);
				len += j;
				out[len++] = '\n';
			}
			out[len] = '\0';
		}
	}
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return out;
}

/* ---------------------------------------------------------------- diff */

struct diff_ent {
	char	 *key;		/* "facet id" */
	long long gain, lose;
	char	**gex, **lex;	/* the smallest report ids, sorted */
	size_t	  ngex, nlex;
};

struct cls_diff {
	size_t		  examples;
	struct diff_ent	 *ents;
	size_t		  nents, cap;
	json_t		 *index;	/* key -> position in ents */
	long long	  compared, changed;
};

struct cls_diff *
cls_diff_new(size_t examples)
{
	struct cls_diff *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->examples = examples;
	if ((d->index = json_object()) == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void
cls_diff_free(struct cls_diff **pd)
{
	struct cls_diff *d;
	size_t i, j;

	if (pd == NULL || (d = *pd) == NULL)
		return;
	for (i = 0; i < d->nents; i++) {
		for (j = 0; j < d->ents[i].ngex; j++)
			free(d->ents[i].gex[j]);
		for (j = 0; j < d->ents[i].nlex; j++)
			free(d->ents[i].lex[j]);
		free(d->ents[i].gex);
		free(d->ents[i].lex);
		free(d->ents[i].key);
	}
	free(d->ents);
	json_decref(d->index);
	free(d);
	*pd = NULL;
}

/*
 * Keeps the max smallest ids in ex (sorted), so that the examples do not
 * depend on the order partitions were read in. 0 or -1.
 */
static int
example_add(char ***ex, size_t *n, size_t max, const char *id)
{
	size_t i;
	char *s;

	if (max == 0)
		return 0;
	if (*ex == NULL && (*ex = calloc(max, sizeof(**ex))) == NULL)
		return -1;
	for (i = *n; i > 0 && strcmp((*ex)[i - 1], id) > 0; i--)
		;
	if (i == max || (i > 0 && strcmp((*ex)[i - 1], id) == 0))
		return 0;
	if ((s = strdup(id)) == NULL)
		return -1;
	if (*n == max)
		free((*ex)[--*n]);
	memmove(*ex + i + 1, *ex + i, (*n - i) * sizeof(**ex));
	(*ex)[i] = s;
	(*n)++;
	return 0;
}

static struct diff_ent *
diff_ent(struct cls_diff *d, const char *key, size_t len)
{
	struct diff_ent *e;
	json_t *pos;
	char *k;

	if ((k = strndup(key, len)) == NULL)
		return NULL;
	if ((pos = json_object_get(d->index, k)) != NULL) {
		free(k);
		return &d->ents[json_integer_value(pos)];
	}
	if (d->nents == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;

		if ((e = realloc(d->ents, cap * sizeof(*e))) == NULL) {
			free(k);
			return NULL;
		}
		d->ents = e;
		d->cap = cap;
	}
	if (json_object_set_new(d->index, k,
	    json_integer((json_int_t)d->nents)) == -1) {
		free(k);
		return NULL;
	}
	e = &d->ents[d->nents++];
	memset(e, 0, sizeof(*e));
	e->key = k;
	return e;
}

/* Length of the line at s (without its '\n'). */
static size_t
line_len(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl != NULL ? (size_t)(nl - s) : strlen(s);
}

/* Compares two lines like strcmp compares the strings they are. */
static int
line_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

int
cls_diff_add(struct cls_diff *d, const char *id, const char *before,
    const char *after)
{
	const char *a = before, *b = after;
	size_t alen, blen;
	struct diff_ent *e;
	int c, changed = 0;

	d->compared++;
	/* Both lists are sorted: one merge walk finds what differs. */
	while (*a != '\0' || *b != '\0') {
		alen = line_len(a);
		blen = line_len(b);
		if (*a == '\0')
			c = 1;
		else if (*b == '\0')
			c = -1;
		else
			c = line_cmp(a, alen, b, blen);
		if (c == 0) {
			a += alen + (a[alen] == '\n');
			b += blen + (b[blen] == '\n');
			continue;
		}
		changed = 1;
		if (c < 0) {		/* only before: lost */
			if ((e = diff_ent(d, a, alen)) == NULL ||
			    example_add(&e->lex, &e->nlex, d->examples,
			    id) == -1)
				return -1;
			e->lose++;
			a += alen + (a[alen] == '\n');
		} else {		/* only after: gained */
			if ((e = diff_ent(d, b, blen)) == NULL ||
			    example_add(&e->gex, &e->ngex, d->examples,
			    id) == -1)
				return -1;
			e->gain++;
			b += blen + (b[blen] == '\n');
		}
	}
	d->changed += changed;
	return 0;
}

long long
cls_diff_compared(const struct cls_diff *d)
{
	return d->compared;
}

long long
cls_diff_changed(const struct cls_diff *d)
{
	return d->changed;
}

/* Facet order, then ID. */
static int
ent_cmp(const void *pa, const void *pb)
{
	const struct diff_ent *a = *(struct diff_ent *const *)pa;
	const struct diff_ent *b = *(struct diff_ent *const *)pb;
	size_t fa = strcspn(a->key, " "), fb = strcspn(b->key, " ");
	int ra = facet_rank(a->key, fa), rb = facet_rank(b->key, fb);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	return strcmp(a->key, b->key);
}

/* The entries in output order (a new array of pointers), or NULL. */
static struct diff_ent **
diff_sorted(const struct cls_diff *d)
{
	struct diff_ent **v;
	size_t i;

	if ((v = calloc(d->nents + 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < d->nents; i++)
		v[i] = &d->ents[i];
	qsort(v, d->nents, sizeof(*v), ent_cmp);
	return v;
}

static json_t *
str_array(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *
cls_diff_json(const struct cls_diff *d)
{
	struct diff_ent **v;
	json_t *o, *arr, *e;
	size_t i, f;

	if ((v = diff_sorted(d)) == NULL)
		return NULL;
	o = json_pack("{s:I, s:I}", "compared", (json_int_t)d->compared,
	    "changed", (json_int_t)d->changed);
	arr = json_array();
	for (i = 0; o != NULL && arr != NULL && i < d->nents; i++) {
		f = strcspn(v[i]->key, " ");
		e = json_pack("{s:s%, s:s, s:I, s:I, s:o, s:o}",
		    "facet", v[i]->key, f, "id", v[i]->key + f + 1,
		    "gain", (json_int_t)v[i]->gain,
		    "lose", (json_int_t)v[i]->lose,
		    "gain_examples", str_array(v[i]->gex, v[i]->ngex),
		    "lose_examples", str_array(v[i]->lex, v[i]->nlex));
		if (e == NULL || json_array_append_new(arr, e) == -1) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(v);
	if (o == NULL || arr == NULL ||
	    json_object_set_new(o, "changes", arr) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* "r-1 r-2 r-7", or "-" for none. */
static void
put_examples(FILE *fp, char **v, size_t n)
{
	size_t i;

	if (n == 0)
		fputc('-', fp);
	for (i = 0; i < n; i++)
		fprintf(fp, "%s%s", i ? " " : "", v[i]);
}

int
cls_diff_print(const struct cls_diff *d, FILE *fp)
{
	struct diff_ent **v;
	size_t i, f, w = 2;
	const char *prev = "";
	size_t prevlen = 0;

	if ((v = diff_sorted(d)) == NULL)
		return -1;
	if (d->nents == 0) {
		fprintf(fp, "\nno tag changes.\n");
		free(v);
		return 0;
	}
	for (i = 0; i < d->nents; i++)
		if (strlen(v[i]->key) - strcspn(v[i]->key, " ") > w)
			w = strlen(v[i]->key) - strcspn(v[i]->key, " ");
	fprintf(fp, "\n%-12s %-*s %7s %7s  examples\n", "facet", (int)w, "id",
	    "gain", "lose");
	for (i = 0; i < d->nents; i++) {
		f = strcspn(v[i]->key, " ");
		/* The facet once per group, like a table an analyst reads. */
		fprintf(fp, "%-12.*s %-*s %7lld %7lld  ",
		    (f == prevlen && memcmp(prev, v[i]->key, f) == 0) ? 0 :
		    (int)f, v[i]->key, (int)w, v[i]->key + f + 1, v[i]->gain,
		    v[i]->lose);
		if (v[i]->ngex > 0) {
			fputs("+ ", fp);
			put_examples(fp, v[i]->gex, v[i]->ngex);
		}
		if (v[i]->nlex > 0) {
			fprintf(fp, "%s- ", v[i]->ngex ? "  " : "");
			put_examples(fp, v[i]->lex, v[i]->nlex);
		}
		fputc('\n', fp);
		prev = v[i]->key;
		prevlen = f;
	}
	free(v);
	return 0;
}

/* --------------------------------------------------------------- --from */

/* Seconds in a unit of a duration, or 0. */
static long long
unit_secs(char u)
{
	switch (u) {
	case 's': return 1;
	case 'm': return 60;
	case 'h': return 3600;
	case 'd': return 86400;
	case 'w': return 7 * 86400;
	}
	return 0;
}

int
cls_replay_from(const char *s, long long now_ms, long long *ts_ms)
{
	struct tm tm;
	long long secs = 0, v, u, frac = 0;
	int n = 0, off = 0, oh, om;
	const char *p;
	char *end;
	time_t t;

	if (strcmp(s, "earliest") == 0) {
		*ts_ms = -1;
		return 0;
	}
	if (s[0] == '-') {
		/* -90m, -2h, -1h30m, -7d */
		for (p = s + 1; *p != '\0'; p = end + 1) {
			if (*p < '0' || *p > '9')
				return -1;
			errno = 0;
			v = strtoll(p, &end, 10);
			if (errno != 0 || (u = unit_secs(*end)) == 0 ||
			    v > 100LL * 366 * 86400)
				return -1;
			secs += v * u;
		}
		if (p == s + 1)
			return -1;
		*ts_ms = now_ms - secs * 1000 < 0 ? 0 : now_ms - secs * 1000;
		return 0;
	}
	/* YYYY-MM-DD[THH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM]], UTC by default. */
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &n) != 3 || n != 10)
		return -1;
	p = s + n;
	if (*p == 'T' || *p == ' ') {
		n = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &n) != 2 ||
		    n != 5)
			return -1;
		p += 1 + n;
		if (*p == ':') {
			n = 0;
			if (sscanf(p + 1, "%2d%n", &tm.tm_sec, &n) != 1 || n != 2)
				return -1;
			p += 3;
			if (*p == '.') {
				long long scale = 100;

				for (p++; *p >= '0' && *p <= '9'; p++) {
					frac += (*p - '0') * scale;
					scale /= 10;
				}
			}
		}
		if (*p == 'Z')
			p++;
		else if (*p == '+' || *p == '-') {
			n = 0;
			if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 ||
			    n != 5 || oh > 23 || om > 59)
				return -1;
			off = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
			p += 1 + n;
		}
	}
	if (*p != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60 || tm.tm_year < 1970)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ts_ms = ((long long)t - off) * 1000 + frac;
	return 0;
}

/* -------------------------------------------------------------- replay */

struct replay {
	struct cls_conf		 conf;
	const char		*config;
	const char		*topic;		/* reports.raw */
	rd_kafka_t		*consumer, *producer;
	int32_t			 nparts;
	int64_t			*start, *end;	/* [start, end) per partition */
	char			*done;
	int32_t			 ndone;
	long long		 total;		/* messages in the range */
	struct yl_tax		*tax, *old_tax;
	struct yl_cls		*cls, *old_cls;
	int			 dry;
	/* dry run */
	json_t			*after;		/* id -> keys (new taxonomy) */
	json_t			*before;	/* id -> keys (old taxonomy), or
						   id -> [ruleset, at, keys]
						   (archive) */
	/* counts */
	long long		 messages, undecodable;
	long long		 produced, confirmed, failed;
	long long		 last_progress;
	int			 fatal;
};

static void
replay_usage(FILE *fp)
{
	fprintf(fp,
"usage: yalu replay --ruleset DIR [-f CONFIG] [--from earliest|DATETIME|-DURATION]\n"
"                   [--dry-run [--db ARCHIVE] [--examples N] [--format text|json]]\n"
"\n"
"Re-tags the reports that reports.raw holds with the taxonomy in DIR and\n"
"produces them to reports.tagged, where yalu-store updates the archive (the\n"
"newer ruleset wins). The live pipeline keeps running: the range read is\n"
"fixed at start, from --from up to the end of each partition at that moment.\n"
"\n"
"  --ruleset DIR      the new taxonomy (checked first; a bad one exits 78)\n"
"  -f CONFIG          yalu-classify's config, for kafka: and topics:\n"
"                     (default ./configs/yalu-classify.yaml if present, else\n"
"                     %s/yalu-classify.yaml)\n"
"  --from WHEN        earliest (default), an ISO 8601 date or time\n"
"                     (2026-11-01, 2026-11-01T08:00:00+09:00; UTC unless\n"
"                     given), or a time ago: -90m, -2h, -7d, -1h30m\n"
"  --dry-run          change nothing: print, per facet and ID, how many\n"
"                     reports would gain and lose the tag, with examples\n"
"  --db ARCHIVE       compare with the tags in the archive (default: with\n"
"                     what the currently configured taxonomy gives)\n"
"  --examples N       report ids per gain and per loss (default 5)\n"
"  --format FMT       text (default) or json\n"
"\n"
"Changing the rules, step by step:\n"
"  1. yalu replay --ruleset NEW --dry-run --db ARCHIVE     what would change\n"
"  2. install NEW where yalu-classify reads its taxonomy (taxonomy: in its\n"
"     config), with a higher version: in ruleset.yaml, then\n"
"     systemctl reload 'yalu-classify@*'   (SIGHUP: new reports get NEW)\n"
"  3. yalu replay --ruleset NEW --from earliest            re-tag the backlog\n"
"  4. yalu status      reports tagged by an older ruleset: 0\n"
"\n"
"Exit status: 0 when every re-tagged report is confirmed by Kafka (or the\n"
"dry run is printed), 1 on a failure, 2 on bad usage, 78 on a bad taxonomy\n"
"or config.\n", YALU_SYSCONFDIR);
}

/* The config yalu-classify would read by default. */
static const char *
default_config(void)
{
	if (access("configs/yalu-classify.yaml", R_OK) == 0)
		return "configs/yalu-classify.yaml";
	return YALU_SYSCONFDIR "/yalu-classify.yaml";
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct replay *r = opaque;

	(void)rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		r->confirmed++;
		return;
	}
	/* The idempotent producer has retried already, until its timeout. */
	if (r->failed++ < 10)
		fprintf(stderr, "yalu: replay: %s: delivery failed: %s\n",
		    r->conf.topics.tagged.name, rd_kafka_err2str(m->err));
	if (m->err == RD_KAFKA_RESP_ERR__FATAL)
		r->fatal = 1;
}

static rd_kafka_t *
replay_handle(struct replay *r, rd_kafka_type_t type, char *err,
    size_t errsz)
{
	const char *what = type == RD_KAFKA_PRODUCER ? "producer" :
	    "consumer";
	char group[256];
	const struct yl_kafka_set produce[] = {
		YL_KAFKA_DURABLE,
		YL_KAFKA_DEFAULT("client.id", "yalu-replay"),
		YL_KAFKA_END
	}, consume[] = {
		/*
		 * assign() with explicit offsets and no commits, ever; the
		 * group id is only there because librdkafka's consumer
		 * wants one. It is never joined: the live groups are not
		 * disturbed.
		 */
		YL_KAFKA_FORCE("group.id", group),
		YL_KAFKA_FORCE("enable.auto.commit", "false"),
		YL_KAFKA_FORCE("enable.auto.offset.store", "false"),
		YL_KAFKA_FORCE("enable.partition.eof", "true"),
		YL_KAFKA_DEFAULT("client.id", "yalu-replay"),
		YL_KAFKA_END
	};
	rd_kafka_conf_t *conf;

	snprintf(group, sizeof(group), "yalu-replay-%s",
	    yl_tax_ruleset(r->tax));
	if ((conf = yl_kafka_conf_with(&r->conf.kafka, type ==
	    RD_KAFKA_PRODUCER ? produce : consume, what, err, errsz)) == NULL)
		return NULL;
	if (type == RD_KAFKA_PRODUCER) {
		rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
		rd_kafka_conf_set_opaque(conf, r);
	}
	return yl_kafka_new(type, conf, what, err, errsz);
}

/*
 * Fixes the range: partitions of reports.raw, their high watermarks now,
 * and where --from starts in each. 0, or -1 with the reason in err.
 */
static int
replay_range(struct replay *r, long long from_ms, char *err, size_t errsz)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *t;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t e;
	int64_t lo, hi;
	int32_t p;

	t = rd_kafka_topic_new(r->consumer, r->topic, NULL);
	e = rd_kafka_metadata(r->consumer, 0, t, &md, REPLAY_TIMEOUT_MS);
	rd_kafka_topic_destroy(t);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
		e = md->topics[0].err;
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errsz, "kafka: %s: %s", r->topic,
		    rd_kafka_err2str(e));
		if (md != NULL)
			rd_kafka_metadata_destroy(md);
		return -1;
	}
	r->nparts = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	if (r->nparts <= 0) {
		snprintf(err, errsz, "kafka: %s: no partitions", r->topic);
		return -1;
	}
	r->start = calloc((size_t)r->nparts, sizeof(*r->start));
	r->end = calloc((size_t)r->nparts, sizeof(*r->end));
	r->done = calloc((size_t)r->nparts, 1);
	l = rd_kafka_topic_partition_list_new(r->nparts);
	if (r->start == NULL || r->end == NULL || r->done == NULL) {
		snprintf(err, errsz, "out of memory");
		rd_kafka_topic_partition_list_destroy(l);
		return -1;
	}
	for (p = 0; p < r->nparts; p++) {
		e = rd_kafka_query_watermark_offsets(r->consumer, r->topic, p,
		    &lo, &hi, REPLAY_TIMEOUT_MS);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(err, errsz, "kafka: %s [%" PRId32 "]: "
			    "watermarks: %s", r->topic, p, rd_kafka_err2str(e));
			rd_kafka_topic_partition_list_destroy(l);
			return -1;
		}
		r->start[p] = lo;
		r->end[p] = hi;
		rd_kafka_topic_partition_list_add(l, r->topic, p)->offset =
		    from_ms;
	}
	if (from_ms >= 0) {
		/* The first offset whose timestamp is at or after from_ms. */
		e = rd_kafka_offsets_for_times(r->consumer, l,
		    REPLAY_TIMEOUT_MS);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(err, errsz, "kafka: %s: offsets for --from: %s",
			    r->topic, rd_kafka_err2str(e));
			rd_kafka_topic_partition_list_destroy(l);
			return -1;
		}
		for (p = 0; p < l->cnt; p++) {
			int32_t q = l->elems[p].partition;
			int64_t o = l->elems[p].offset;

			/* -1: nothing that recent in this partition. */
			if (l->elems[p].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
			    o >= 0)
				r->start[q] = o > r->start[q] ? o : r->start[q];
			else
				r->start[q] = r->end[q];
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
	for (p = 0; p < r->nparts; p++) {
		if (r->start[p] > r->end[p])
			r->start[p] = r->end[p];
		r->total += r->end[p] - r->start[p];
		if (r->start[p] >= r->end[p]) {
			r->done[p] = 1;
			r->ndone++;
		}
	}
	return 0;
}

/* Starts reading every partition that has something in the range. */
static int
replay_assign(struct replay *r, char *err, size_t errsz)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t e;
	int32_t p;

	l = rd_kafka_topic_partition_list_new(r->nparts);
	for (p = 0; p < r->nparts; p++)
		if (!r->done[p])
			rd_kafka_topic_partition_list_add(l, r->topic,
			    p)->offset = r->start[p];
	e = rd_kafka_assign(r->consumer, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errsz, "kafka: %s: assign: %s", r->topic,
		    rd_kafka_err2str(e));
		return -1;
	}
	return 0;
}

static void
part_done(struct replay *r, int32_t p)
{
	if (p >= 0 && p < r->nparts && !r->done[p]) {
		r->done[p] = 1;
		r->ndone++;
	}
}

/* The keys of a tagged JSON text's "tags" (cls_tag_keys). NULL: ENOMEM. */
static char *
keys_of_tagged(const char *json, size_t len)
{
	json_error_t jerr;
	json_t *o;
	char *k;

	if ((o = json_loadb(json, len, 0, &jerr)) == NULL)
		return NULL;
	k = cls_tag_keys(json_object_get(o, "tags"));
	json_decref(o);
	return k;
}

/* Dry run: what the new (and, without an archive, the old) taxonomy says. */
static int
dry_message(struct replay *r, const rd_kafka_message_t *m,
    struct cls_tagged *t)
{
	struct cls_tagged o;
	char *k, e[512];

	if ((k = keys_of_tagged(t->json, t->len)) == NULL ||
	    json_object_set_new(r->after, t->id, json_string(k)) == -1) {
		free(k);
		return -1;
	}
	free(k);
	if (r->old_cls == NULL)
		return 0;
	if (cls_tag_message(r->old_cls, m->payload, m->len, m->key,
	    m->key_len, (size_t)r->conf.max_report_bytes, &o, e,
	    sizeof(e)) == -1) {
		/* Refused by the running taxonomy only: it has no tags now. */
		json_object_set_new(r->before, t->id, json_string(""));
		cls_tagged_clear(&o);
		return 0;
	}
	k = keys_of_tagged(o.json, o.len);
	cls_tagged_clear(&o);
	if (k == NULL || json_object_set_new(r->before, t->id,
	    json_string(k)) == -1) {
		free(k);
		return -1;
	}
	free(k);
	return 0;
}

/* Real run: produce the tagged report, waiting while the queue is full. */
static int
produce(struct replay *r, const rd_kafka_message_t *m, struct cls_tagged *t)
{
	rd_kafka_resp_err_t e;

	for (;;) {
		/* F_FREE: librdkafka frees the JSON once it is delivered. */
		e = rd_kafka_producev(r->producer,
		    RD_KAFKA_V_TOPIC(r->conf.topics.tagged.name),
		    RD_KAFKA_V_KEY(m->key, m->key_len),
		    RD_KAFKA_V_VALUE(t->json, t->len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
		    RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
			t->json = NULL;
			r->produced++;
			return 0;
		}
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			fprintf(stderr, "yalu: replay: %s: produce of report "
			    "%s failed: %s\n", r->conf.topics.tagged.name,
			    t->id, rd_kafka_err2str(e));
			r->failed++;
			return -1;
		}
		rd_kafka_poll(r->producer, 100);
	}
}

static void
progress(struct replay *r, int force)
{
	long long now = yl_now_ms();

	if (!force && now - r->last_progress < REPLAY_PROGRESS_MS)
		return;
	r->last_progress = now;
	if (r->dry)
		fprintf(stderr, "yalu: replay: %lld of %lld messages read\n",
		    r->messages, r->total);
	else
		fprintf(stderr, "yalu: replay: %lld of %lld messages read, "
		    "%lld re-tagged and confirmed\n", r->messages, r->total,
		    r->confirmed);
}

static void
one_message(struct replay *r, rd_kafka_message_t *m)
{
	struct cls_tagged t;
	int32_t p = m->partition;
	char e[512];

	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (p >= 0 && p < r->nparts && m->offset >= r->end[p])
				part_done(r, p);
			return;
		}
		if (m->err == RD_KAFKA_RESP_ERR__FATAL)
			r->fatal = 1;
		fprintf(stderr, "yalu: replay: kafka: %s\n",
		    rd_kafka_message_errstr(m));
		return;
	}
	if (p < 0 || p >= r->nparts || r->done[p] || m->offset >= r->end[p]) {
		/* Written after the range was fixed: the live pipeline's. */
		part_done(r, p);
		return;
	}
	if (m->offset == r->end[p] - 1)
		part_done(r, p);
	r->messages++;
	if (cls_tag_message(r->cls, m->payload, m->len, m->key, m->key_len,
	    (size_t)r->conf.max_report_bytes, &t, e, sizeof(e)) == -1) {
		/* Dead-lettered by the live pipeline when it came in. */
		if (r->undecodable++ < 10)
			fprintf(stderr, "yalu: replay: %s [%" PRId32 "] offset "
			    "%" PRId64 ": report %s skipped: %s\n", r->topic, p,
			    m->offset, t.id != NULL ? t.id : "without id", e);
		cls_tagged_clear(&t);
		return;
	}
	if ((r->dry ? dry_message(r, m, &t) : produce(r, m, &t)) == -1 &&
	    r->dry) {
		fprintf(stderr, "yalu: replay: out of memory\n");
		r->fatal = 1;
	}
	cls_tagged_clear(&t);
}

/* Reads the whole range. 0, or -1 after a fatal error. */
static int
replay_run(struct replay *r)
{
	rd_kafka_message_t *m;

	while (r->ndone < r->nparts && !r->fatal) {
		if (r->producer != NULL)
			rd_kafka_poll(r->producer, 0);
		if ((m = rd_kafka_consumer_poll(r->consumer, 100)) != NULL) {
			one_message(r, m);
			rd_kafka_message_destroy(m);
		}
		progress(r, 0);
	}
	return r->fatal ? -1 : 0;
}

/* Waits for every delivery report. 0 if all were confirmed. */
static int
replay_flush(struct replay *r)
{
	while (rd_kafka_outq_len(r->producer) > 0 && !r->fatal) {
		rd_kafka_flush(r->producer, 1000);
		progress(r, 0);
	}
	progress(r, 1);
	return r->failed == 0 && r->confirmed == r->produced ? 0 : -1;
}

/* --dry-run --db: the archive's tags of every report. */
struct arch_arg {
	json_t	*before;
	int	 oom;
};

static int
archive_row(const char *id, const char *ruleset, const char *at,
    json_t *tags, void *arg)
{
	struct arch_arg *a = arg;
	char *k;

	if ((k = cls_tag_keys(tags)) == NULL ||
	    json_object_set_new(a->before, id, json_pack("[s,s?,s]",
	    ruleset, at, k)) == -1) {
		free(k);
		a->oom = 1;
		return 1;
	}
	free(k);
	return 0;
}

/* The dry run's verdict, once the range is read: text or JSON. */
static int
dry_report(struct replay *r, const struct cls_archive *ar, const char *db,
    size_t examples, int json)
{
	struct cls_diff *d;
	const char *id, *before, *rs, *at;
	long long not_archived = 0, kept = 0;
	json_t *v, *o, *b;
	char now[32];
	int rc = 0;

	if ((d = cls_diff_new(examples)) == NULL)
		return -1;
	yl_now_iso(now, sizeof(now));
	json_object_foreach(r->after, id, v) {
		b = json_object_get(r->before, id);
		if (b == NULL) {
			not_archived++;
			continue;
		}
		if (json_is_array(b)) {
			rs = json_string_value(json_array_get(b, 0));
			at = json_string_value(json_array_get(b, 1));
			before = json_string_value(json_array_get(b, 2));
			/* yalu-store keeps the newer of the two rulesets. */
			if (ar != NULL && ar->cmp != NULL && ar->cmp(rs, at,
			    yl_tax_ruleset(r->tax), now) > 0) {
				kept++;
				continue;
			}
		} else
			before = json_string_value(b);
		if (cls_diff_add(d, id, before, json_string_value(v)) == -1) {
			cls_diff_free(&d);
			return -1;
		}
	}
	if (json) {
		if ((o = cls_diff_json(d)) == NULL) {
			cls_diff_free(&d);
			return -1;
		}
		json_object_set_new(o, "ruleset", json_string(yl_tax_ruleset(
		    r->tax)));
		json_object_set_new(o, "before", db != NULL ?
		    json_pack("{s:s, s:s}", "source", "archive", "db", db) :
		    json_pack("{s:s, s:s}", "source", "taxonomy", "ruleset",
		    yl_tax_ruleset(r->old_tax)));
		json_object_set_new(o, "messages", json_integer(r->messages));
		json_object_set_new(o, "reports", json_integer(
		    (json_int_t)json_object_size(r->after)));
		json_object_set_new(o, "undecodable",
		    json_integer(r->undecodable));
		json_object_set_new(o, "not_archived", json_integer(
		    db != NULL ? not_archived : 0));
		json_object_set_new(o, "kept_newer", json_integer(kept));
		rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		printf("dry run: ruleset %s over %s, %lld messages\n",
		    yl_tax_ruleset(r->tax), r->topic, r->messages);
		if (db != NULL)
			printf("compared with the archive %s\n", db);
		else
			printf("compared with the running taxonomy %s\n",
			    yl_tax_ruleset(r->old_tax));
		printf("  %zu reports, %lld undecodable (skipped)\n",
		    json_object_size(r->after), r->undecodable);
		if (db != NULL)
			printf("  %lld not in the archive (the replay adds "
			    "them), %lld archived by a newer ruleset (kept)\n",
			    not_archived, kept);
		printf("  %lld reports compared, %lld would change\n",
		    cls_diff_compared(d), cls_diff_changed(d));
		rc = cls_diff_print(d, stdout);
	}
	cls_diff_free(&d);
	return rc == 0 && fflush(stdout) == 0 ? 0 : -1;
}

static void
replay_free(struct replay *r)
{
	if (r->consumer != NULL) {
		rd_kafka_consumer_close(r->consumer);
		rd_kafka_destroy(r->consumer);
	}
	if (r->producer != NULL)
		rd_kafka_destroy(r->producer);
	free(r->start);
	free(r->end);
	free(r->done);
	yl_cls_free(&r->cls);
	yl_cls_free(&r->old_cls);
	yl_tax_free(&r->tax);
	yl_tax_free(&r->old_tax);
	json_decref(r->after);
	json_decref(r->before);
	cls_conf_release(&r->conf);
}

int
cls_cmd_replay(int argc, char **argv, const struct cls_archive *ar)
{
	enum { O_RULESET = 256, O_FROM, O_DRY, O_DB, O_EXAMPLES, O_FORMAT,
	    O_HELP };
	static const struct option opts[] = {
		{ "ruleset", required_argument, NULL, O_RULESET },
		{ "from", required_argument, NULL, O_FROM },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "db", required_argument, NULL, O_DB },
		{ "examples", required_argument, NULL, O_EXAMPLES },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct replay r;
	struct yl_errs errs = { 0 };
	const char *dir = NULL, *from = "earliest", *db = NULL;
	long long from_ms = -1, examples = 5;
	double t0 = cls_clock();
	int ch, json = 0, rc = 1;
	char err[1024], *end;
	struct arch_arg aa;

	memset(&r, 0, sizeof(r));
	r.config = NULL;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			r.config = optarg;
			break;
		case O_RULESET:
			dir = optarg;
			break;
		case O_FROM:
			from = optarg;
			break;
		case O_DRY:
			r.dry = 1;
			break;
		case O_DB:
			db = optarg;
			break;
		case O_EXAMPLES:
			errno = 0;
			examples = strtoll(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    examples < 0 || examples > 1000) {
				fprintf(stderr, "yalu: replay: --examples '%s': "
				    "expected 0 to 1000\n", optarg);
				return 2;
			}
			break;
		case O_FORMAT:
			if (strcmp(optarg, "json") == 0)
				json = 1;
			else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr, "yalu: replay: --format '%s': "
				    "expected text or json\n", optarg);
				return 2;
			}
			break;
		case 'h':
		case O_HELP:
			replay_usage(stdout);
			return 0;
		default:
			replay_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || dir == NULL) {
		fprintf(stderr, optind != argc ? "yalu: replay: unexpected "
		    "argument '%s'\n" : "yalu: replay: --ruleset DIR is "
		    "needed%s\n", optind != argc ? argv[optind] : "");
		replay_usage(stderr);
		return 2;
	}
	if ((db != NULL || json || examples != 5) && !r.dry) {
		fprintf(stderr, "yalu: replay: --db, --examples and --format "
		    "go with --dry-run\n");
		return 2;
	}
	if (db != NULL && (ar == NULL || ar->each == NULL)) {
		fprintf(stderr, "yalu: replay: --db: no archive support\n");
		return 2;
	}
	if (cls_replay_from(from, yl_now_ms(), &from_ms) == -1) {
		fprintf(stderr, "yalu: replay: --from '%s': expected earliest, "
		    "an ISO 8601 date or time, or -DURATION (-90m, -2h, "
		    "-7d)\n", from);
		return 2;
	}
	if (r.config == NULL)
		r.config = default_config();
	/* Everything that can be wrong with the inputs, before Kafka. */
	if (cls_conf_load(r.config, &r.conf, &errs) == -1) {
		fprintf(stderr, "%s", errs.buf ? errs.buf : "invalid config\n");
		yl_errs_clear(&errs);
		cls_conf_release(&r.conf);
		return 78;
	}
	yl_errs_clear(&errs);
	r.topic = r.conf.topics.raw.name;
	if ((r.tax = cls_taxonomy_open(dir)) == NULL) {
		rc = 78;
		goto out;
	}
	if ((r.cls = yl_cls_new(r.tax, err, sizeof(err))) == NULL)
		goto fail;
	if (r.dry) {
		r.after = json_object();
		r.before = json_object();
		if (r.after == NULL || r.before == NULL)
			goto nomem;
		if (db == NULL) {
			/* The running taxonomy stands in for the archive. */
			if ((r.old_tax = cls_taxonomy_open(cls_conf_taxonomy(
			    &r.conf))) == NULL) {
				rc = 78;
				goto out;
			}
			if ((r.old_cls = yl_cls_new(r.old_tax, err,
			    sizeof(err))) == NULL)
				goto fail;
		}
	}
	if ((r.consumer = replay_handle(&r, RD_KAFKA_CONSUMER, err,
	    sizeof(err))) == NULL)
		goto fail;
	if (!r.dry && (r.producer = replay_handle(&r, RD_KAFKA_PRODUCER, err,
	    sizeof(err))) == NULL)
		goto fail;
	if (replay_range(&r, from_ms, err, sizeof(err)) == -1 ||
	    replay_assign(&r, err, sizeof(err)) == -1)
		goto fail;
	r.last_progress = yl_now_ms();
	fprintf(stderr, "yalu: replay: ruleset %s: %lld messages of %s "
	    "(%" PRId32 " partitions) to %s\n", yl_tax_ruleset(r.tax), r.total,
	    r.topic, r.nparts, r.dry ? "compare (dry run)" :
	    r.conf.topics.tagged.name);
	if (replay_run(&r) == -1) {
		snprintf(err, sizeof(err), "kafka: fatal error, stopped");
		goto fail;
	}
	if (r.dry) {
		if (db != NULL) {
			/* After the read: the archive as close to now as can be. */
			aa.before = r.before;
			aa.oom = 0;
			if (ar->each(db, archive_row, &aa, err, sizeof(err)) ==
			    -1)
				goto fail;
			if (aa.oom)
				goto nomem;
		}
		if (dry_report(&r, ar, db, (size_t)examples, json) == -1)
			goto nomem;
		rc = 0;
		goto out;
	}
	if (replay_flush(&r) == -1) {
		printf("replay: ruleset %s: %lld of %lld re-tagged reports "
		    "confirmed, %lld failed, %lld undecodable skipped: "
		    "FAILED\n", yl_tax_ruleset(r.tax), r.confirmed, r.produced,
		    r.failed, r.undecodable);
		rc = 1;
		goto out;
	}
	printf("replay: ruleset %s: %lld messages of %s, %lld re-tagged and "
	    "confirmed on %s, %lld undecodable skipped, %.1f s\n",
	    yl_tax_ruleset(r.tax), r.messages, r.topic, r.confirmed,
	    r.conf.topics.tagged.name, r.undecodable, cls_clock() - t0);
	rc = 0;
	goto out;
nomem:
	snprintf(err, sizeof(err), "out of memory");
fail:
	fprintf(stderr, "yalu: replay: %s\n", err);
	rc = 1;
out:
	replay_free(&r);
	return rc;
}
