/*
 * store_record.c - a reports.tagged message, decoded strictly into a
 * sto_rec; ISO dates; which of two rulesets is newer.
 *
 * A message the archive cannot read is dead-lettered with the reason this
 * file gives, so reasons name the field: "tags.commodities[2].evidence[0]:
 * end 900 is past the body (812 bytes)".
 */
#define _GNU_SOURCE		/* strverscmp */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sto_int.h"

const char *const sto_facets[] = {
	"commodities", "countries", "crossings", "modes", "methods",
	"entities", NULL
};

const char *const sto_relevance_levels[] = {
	"none", "low", "medium", "high", NULL
};

static const char *const directions[] = {
	"import", "export", "unknown", NULL
};

static int
in_list(const char *const *list, const char *s)
{
	int i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return i;
	return -1;
}

int
sto_relevance_rank(const char *name)
{
	return name == NULL ? -1 : in_list(sto_relevance_levels, name);
}

struct sto_rec *
sto_rec_new(void)
{
	struct sto_rec *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->partition = -1;
	r->offset = -1;
	return r;
}

void
sto_rec_free(struct sto_rec **pr)
{
	struct sto_rec *r;

	if (pr == NULL || (r = *pr) == NULL)
		return;
	yl_report_free(&r->rep);
	free(r->ruleset);
	free(r->classified_at);
	free(r->relevance);
	free(r->dated_at);
	free(r->archived_at);
	free(r->updated_at);
	free(r->tags_text);
	json_decref(r->tags);
	free(r);
	*pr = NULL;
}

/* ------------------------------------------------------------------ dates */

static int
digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

int
sto_iso_norm(const char *s, char *out, size_t outsz)
{
	int y, mo, d, h, mi, sec = 0, oh = 0, om = 0, sign = 0;
	const char *p = s;
	struct tm tm;
	time_t t;

	if (s == NULL || digits(p, 4, &y) == -1)
		return -1;
	p += 4;
	if (*p == '\0') {
		snprintf(out, outsz, "%04d", y);
		return 0;
	}
	if (*p != '-' || digits(p + 1, 2, &mo) == -1 || mo < 1 || mo > 12)
		return -1;
	p += 3;
	if (*p == '\0') {
		snprintf(out, outsz, "%04d-%02d", y, mo);
		return 0;
	}
	if (*p != '-' || digits(p + 1, 2, &d) == -1 || d < 1 ||
	    d > days_in_month(y, mo))
		return -1;
	p += 3;
	if (*p == '\0') {
		snprintf(out, outsz, "%04d-%02d-%02d", y, mo, d);
		return 0;
	}
	if ((*p != 'T' && *p != 't' && *p != ' ') ||
	    digits(p + 1, 2, &h) == -1 || p[3] != ':' ||
	    digits(p + 4, 2, &mi) == -1 || h > 23 || mi > 59)
		return -1;
	p += 6;
	if (*p == ':') {
		if (digits(p + 1, 2, &sec) == -1 || sec > 60)
			return -1;
		p += 3;
		if (*p == '.' || *p == ',') {
			if (!isdigit((unsigned char)p[1]))
				return -1;
			for (p++; isdigit((unsigned char)*p); p++)
				;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) == -1 || oh > 23)
			return -1;
		p += 3;
		if (*p == ':')
			p++;
		if (*p != '\0') {
			if (digits(p, 2, &om) == -1 || om > 59)
				return -1;
			p += 2;
		}
	}
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;	/* leap second: near enough */
	t = timegm(&tm) - (time_t)sign * (oh * 3600 + om * 60);
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	if (strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------- rulesets */

/* The version of a ruleset id: what comes before '+'. */
static void
ruleset_version(const char *rs, char *buf, size_t bufsz)
{
	size_t n = strcspn(rs, "+");

	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, rs, n);
	buf[n] = '\0';
}

static int
time_cmp(const char *a, const char *b)
{
	char na[32], nb[32];
	int c;

	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	/* Different offsets can name the same instant. */
	if (sto_iso_norm(a, na, sizeof(na)) == 0 &&
	    sto_iso_norm(b, nb, sizeof(nb)) == 0 &&
	    (c = strcmp(na, nb)) != 0)
		return c;
	return strcmp(a, b);
}

int
sto_ruleset_cmp(const char *rs_a, const char *at_a, const char *rs_b,
    const char *at_b)
{
	char va[128], vb[128];
	int c;

	ruleset_version(rs_a != NULL ? rs_a : "", va, sizeof(va));
	ruleset_version(rs_b != NULL ? rs_b : "", vb, sizeof(vb));
	/* strverscmp: 2026.9.0 < 2026.11.0, as people read versions. */
	if ((c = strverscmp(va, vb)) != 0)
		return c;
	return time_cmp(at_a, at_b);
}

/* --------------------------------------------------------------- decoding */

/* Checks one evidence array of a tag whose path is where. */
static int
check_evidence(const json_t *ev, size_t body_len, const char *where,
    char *err, size_t errsz)
{
	const json_t *e, *s, *en, *tx;
	size_t i;

	if (!json_is_array(ev)) {
		snprintf(err, errsz, "%s.evidence: not an array", where);
		return -1;
	}
	json_array_foreach(ev, i, e) {
		json_int_t a, b;

		if (!json_is_object(e)) {
			snprintf(err, errsz, "%s.evidence[%zu]: not an object",
			    where, i);
			return -1;
		}
		s = json_object_get(e, "start");
		en = json_object_get(e, "end");
		tx = json_object_get(e, "text");
		if (!json_is_integer(s) || !json_is_integer(en)) {
			snprintf(err, errsz, "%s.evidence[%zu]: start and end "
			    "must be integers", where, i);
			return -1;
		}
		if (tx != NULL && !json_is_string(tx)) {
			snprintf(err, errsz, "%s.evidence[%zu].text: not a "
			    "string", where, i);
			return -1;
		}
		a = json_integer_value(s);
		b = json_integer_value(en);
		if (a < 0 || b < a) {
			snprintf(err, errsz, "%s.evidence[%zu]: bad range "
			    "[%lld, %lld)", where, i, (long long)a,
			    (long long)b);
			return -1;
		}
		if ((size_t)b > body_len) {
			snprintf(err, errsz, "%s.evidence[%zu]: end %lld is "
			    "past the body (%zu bytes)", where, i,
			    (long long)b, body_len);
			return -1;
		}
	}
	return 0;
}

/* Checks one facet array: tag objects, unique by id (and direction). */
static int
check_facet(const char *facet, const json_t *arr, size_t body_len,
    char *err, size_t errsz)
{
	int commodities = strcmp(facet, "commodities") == 0;
	const json_t *t, *id, *dir, *u;
	char where[96];
	size_t i, j;

	if (!json_is_array(arr)) {
		snprintf(err, errsz, "tags.%s: not an array", facet);
		return -1;
	}
	json_array_foreach(arr, i, t) {
		snprintf(where, sizeof(where), "tags.%s[%zu]", facet, i);
		if (!json_is_object(t)) {
			snprintf(err, errsz, "%s: not an object", where);
			return -1;
		}
		id = json_object_get(t, "id");
		if (!json_is_string(id) || json_string_length(id) == 0) {
			snprintf(err, errsz, "%s.id: %s", where, id == NULL ?
			    "missing" : "not a non-empty string");
			return -1;
		}
		dir = json_object_get(t, "direction");
		if (commodities) {
			if (!json_is_string(dir) || in_list(directions,
			    json_string_value(dir)) == -1) {
				snprintf(err, errsz, "%s.direction: %s", where,
				    dir == NULL ? "missing" :
				    "not import, export or unknown");
				return -1;
			}
		} else if (dir != NULL) {
			snprintf(err, errsz, "%s.direction: only commodities "
			    "have one", where);
			return -1;
		}
		if ((u = json_object_get(t, "evidence")) != NULL &&
		    check_evidence(u, body_len, where, err, errsz) == -1)
			return -1;
		/* An ID appears at most once per facet (and direction). */
		for (j = 0; j < i; j++) {
			const json_t *o = json_array_get(arr, j);
			const json_t *od = json_object_get(o, "direction");

			if (json_equal(json_object_get(o, "id"), id) &&
			    (!commodities || json_equal(od, dir))) {
				snprintf(err, errsz, "%s: duplicate tag '%s'",
				    where, json_string_value(id));
				return -1;
			}
		}
	}
	return 0;
}

static int
check_sanctions(const json_t *s, const char **relevance, char *err,
    size_t errsz)
{
	const json_t *rel, *provs, *p, *id, *bec, *b;
	size_t i, j;

	if (!json_is_object(s)) {
		snprintf(err, errsz, "tags.sanctions: %s", s == NULL ?
		    "missing" : "not an object");
		return -1;
	}
	rel = json_object_get(s, "relevance");
	if (!json_is_string(rel) ||
	    sto_relevance_rank(json_string_value(rel)) == -1) {
		snprintf(err, errsz, "tags.sanctions.relevance: %s",
		    rel == NULL ? "missing" :
		    "not one of none, low, medium, high");
		return -1;
	}
	provs = json_object_get(s, "provisions");
	if (provs != NULL && !json_is_array(provs)) {
		snprintf(err, errsz, "tags.sanctions.provisions: not an array");
		return -1;
	}
	json_array_foreach(provs, i, p) {
		id = json_object_get(p, "id");
		if (!json_is_object(p) || !json_is_string(id) ||
		    json_string_length(id) == 0) {
			snprintf(err, errsz, "tags.sanctions.provisions[%zu]: "
			    "needs a non-empty string id", i);
			return -1;
		}
		bec = json_object_get(p, "because");
		if (bec != NULL && !json_is_array(bec)) {
			snprintf(err, errsz, "tags.sanctions.provisions[%zu]."
			    "because: not an array", i);
			return -1;
		}
		json_array_foreach(bec, j, b)
			if (!json_is_string(b)) {
				snprintf(err, errsz, "tags.sanctions.provisions"
				    "[%zu].because[%zu]: not a string", i, j);
				return -1;
			}
		for (j = 0; j < i; j++)
			if (json_equal(json_object_get(json_array_get(provs,
			    j), "id"), id)) {
				snprintf(err, errsz, "tags.sanctions.provisions"
				    "[%zu]: duplicate '%s'", i,
				    json_string_value(id));
				return -1;
			}
	}
	*relevance = json_string_value(rel);
	return 0;
}

/*
 * Checks the tags object. A missing facet is an empty one; an unknown
 * facet is an error (the archive would drop it silently otherwise);
 * unknown keys inside a tag or a piece of evidence are annotations and
 * are ignored.
 */
static int
check_tags(const json_t *tags, size_t body_len, const char **relevance,
    char *err, size_t errsz)
{
	const char *key;
	json_t *v;

	if (!json_is_object(tags)) {
		snprintf(err, errsz, "tags: %s", tags == NULL ? "missing" :
		    "not an object");
		return -1;
	}
	json_object_foreach((json_t *)tags, key, v) {
		if (strcmp(key, "sanctions") == 0)
			continue;
		if (in_list(sto_facets, key) == -1) {
			snprintf(err, errsz, "tags: unknown facet '%s'", key);
			return -1;
		}
		if (check_facet(key, v, body_len, err, errsz) == -1)
			return -1;
	}
	return check_sanctions(json_object_get(tags, "sanctions"), relevance,
	    err, errsz);
}

/*
 * Skips the JSON string at p (p[0] is the opening quote) in a document
 * already validated; returns the byte after the closing quote.
 */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return end;
}

/*
 * Finds the value of the top-level key "tags" in buf[0..len), a JSON
 * object Jansson has validated (so no bounds or syntax surprises), and
 * sets *span and *spanlen to its bytes. Dumping the decoded tags again
 * for the archive cost as much as a third of decoding them; the bytes are
 * right there. -1 if the key is spelled with escapes (then the caller
 * dumps, as before).
 */
static int
find_tags(const char *buf, size_t len, const char **span, size_t *spanlen)
{
	const char *p = buf, *end = buf + len, *k, *kend, *v;
	int depth;

	while (p < end && *p != '{')
		p++;
	for (p++; p < end;) {
		while (p < end && *p != '"' && *p != '}')
			p++;
		if (p >= end || *p == '}')
			return -1;
		k = p;
		p = kend = skip_string(p, end);
		while (p < end && *p != ':')
			p++;
		for (p++; p < end && (*p == ' ' || *p == '\t' ||
		    *p == '\n' || *p == '\r'); p++)
			;
		v = p;
		/* The value: a string, a nested object or array, a scalar. */
		if (p < end && *p == '"')
			p = skip_string(p, end);
		else if (p < end && (*p == '{' || *p == '[')) {
			for (depth = 0; p < end; ) {
				if (*p == '"') {
					p = skip_string(p, end);
					continue;
				}
				if (*p == '{' || *p == '[')
					depth++;
				else if ((*p == '}' || *p == ']') &&
				    --depth == 0) {
					p++;
					break;
				}
				p++;
			}
		} else
			while (p < end && *p != ',' && *p != '}' &&
			    *p != ' ' && *p != '\t' && *p != '\n' &&
			    *p != '\r')
				p++;
		if (kend - k == 6 && memcmp(k, "\"tags\"", 6) == 0 &&
		    *v == '{') {
			*span = v;
			*spanlen = (size_t)(p - v);
			return 0;
		}
		while (p < end && *p != ',' && *p != '}')
			p++;
		if (p < end && *p == ',')
			p++;
	}
	return -1;
}

/* The first of published_at, received_at that is an ISO date. */
static char *
dated_at(const struct yl_report *rep)
{
	char buf[32];

	if (rep->published_at != NULL &&
	    sto_iso_norm(rep->published_at, buf, sizeof(buf)) == 0)
		return strdup(buf);
	if (rep->received_at != NULL &&
	    sto_iso_norm(rep->received_at, buf, sizeof(buf)) == 0)
		return strdup(buf);
	return NULL;
}

int
sto_rec_decode(const char *buf, size_t len, struct sto_rec **out, char *err,
    size_t errsz)
{
	struct sto_rec *r = NULL;
	json_error_t jerr;
	json_t *obj, *rs, *at, *tags;
	const char *relevance = NULL;

	obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		snprintf(err, errsz, "invalid JSON at line %d col %d: %s",
		    jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if ((r = sto_rec_new()) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if (yl_report_from_json(obj, YL_REPORT_STRICT | YL_REPORT_EXTRA_OK,
	    &r->rep, err, errsz) == -1)
		goto fail;
	if (r->rep->id == NULL) {
		snprintf(err, errsz, "id: missing");
		goto fail;
	}
	rs = json_object_get(obj, "ruleset");
	if (!json_is_string(rs) || json_string_length(rs) == 0) {
		snprintf(err, errsz, "ruleset: %s", rs == NULL ? "missing" :
		    "not a non-empty string");
		goto fail;
	}
	at = json_object_get(obj, "classified_at");
	if (at != NULL && !json_is_null(at) && !json_is_string(at)) {
		snprintf(err, errsz, "classified_at: not a string");
		goto fail;
	}
	tags = json_object_get(obj, "tags");
	if (check_tags(tags, r->rep->body_len, &relevance, err, errsz) == -1)
		goto fail;
	if ((r->ruleset = strdup(json_string_value(rs))) == NULL ||
	    (json_is_string(at) && (r->classified_at =
	    strdup(json_string_value(at))) == NULL) ||
	    (r->relevance = strdup(relevance)) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	r->dated_at = dated_at(r->rep);
	r->tags = json_incref(tags);
	{
		const char *span;
		size_t n;

		if (find_tags(buf, len, &span, &n) == 0 &&
		    (r->tags_text = malloc(n)) != NULL) {
			memcpy(r->tags_text, span, n);
			r->tags_len = n;
		}
	}
	json_decref(obj);
	*out = r;
	return 0;
fail:
	sto_rec_free(&r);
	json_decref(obj);
	return -1;
}

/* ---------------------------------------------------------------- output */

static void
set_str(json_t *o, const char *key, const char *val)
{
	if (val != NULL)
		json_object_set_new(o, key, json_string(val));
}

json_t *
sto_rec_to_json(const struct sto_rec *r)
{
	json_t *o, *a;

	if ((o = yl_report_to_json(r->rep)) == NULL)
		return NULL;
	set_str(o, "ruleset", r->ruleset);
	set_str(o, "classified_at", r->classified_at);
	if (r->tags != NULL)
		json_object_set(o, "tags", r->tags);
	/* Where and when the archive got it: not part of the wire form. */
	if ((a = json_object()) != NULL) {
		set_str(a, "archived_at", r->archived_at);
		set_str(a, "updated_at", r->updated_at);
		set_str(a, "dated_at", r->dated_at);
		if (r->partition >= 0) {
			json_object_set_new(a, "partition",
			    json_integer(r->partition));
			json_object_set_new(a, "offset",
			    json_integer(r->offset));
		}
		json_object_set_new(o, "archive", a);
	}
	return o;
}
