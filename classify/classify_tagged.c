/*
 * classify_tagged.c - one message of reports.raw in, one tagged report (or
 * the reason to dead-letter it) out. No Kafka here: tests call it as is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yalu/norm.h"
#include "yalu/report.h"

#include "classifyd.h"

json_t *
cls_tagged_build(const struct yl_report *r, json_t *result,
    const char *classified_at)
{
	json_t *o, *rs, *tags;

	rs = json_object_get(result, "ruleset");
	tags = json_object_get(result, "tags");
	if (!json_is_string(rs) || !json_is_object(tags))
		return NULL;
	/* The report as it came, then what the classifier added. */
	if ((o = yl_report_to_json(r)) == NULL)
		return NULL;
	if (json_object_set(o, "ruleset", rs) == -1 ||
	    json_object_set(o, "tags", tags) == -1 ||
	    json_object_set_new(o, "classified_at",
	    json_string(classified_at)) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
cls_pub_topic(json_t *tags, char *buf, size_t bufsz)
{
	json_t *rel, *first;
	const char *cid = "none";
	int n;

	rel = json_object_get(json_object_get(tags, "sanctions"), "relevance");
	if (!json_is_string(rel))
		return -1;
	/* Facet arrays are sorted by ID: the first is the smallest. */
	first = json_array_get(json_object_get(tags, "commodities"), 0);
	if (json_is_string(json_object_get(first, "id")))
		cid = json_string_value(json_object_get(first, "id"));
	n = snprintf(buf, bufsz, "%s.%s", json_string_value(rel), cid);
	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

void
cls_tagged_clear(struct cls_tagged *t)
{
	free(t->json);
	free(t->topic);
	free(t->id);
	memset(t, 0, sizeof(*t));
}

/* Does the key make a usable report id (1-200 bytes of UTF-8, no NUL)? */
static int
key_is_id(const void *key, size_t keylen)
{
	size_t bad;

	return key != NULL && keylen > 0 && keylen <= 200 &&
	    memchr(key, '\0', keylen) == NULL &&
	    yl_utf8_check(key, keylen, &bad) == 0;
}

/* The "id" of a refused report, if it is JSON enough to have one. */
static char *
id_of_refused(const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *o, *id;
	char *s = NULL;

	if ((o = json_loadb(buf, len, 0, &jerr)) == NULL)
		return NULL;
	id = json_object_get(o, "id");
	if (json_is_string(id) && json_string_length(id) > 0 &&
	    json_string_length(id) <= 200)
		s = strdup(json_string_value(id));
	json_decref(o);
	return s;
}

int
cls_tag_message(struct yl_cls *cls, const char *buf, size_t len,
    const void *key, size_t keylen, size_t max_bytes, struct cls_tagged *out,
    char *err, size_t errsz)
{
	struct yl_report *r = NULL;
	json_t *res = NULL, *o = NULL;
	char at[32], topic[256], cid[32], e[512];
	size_t bad;

	memset(out, 0, sizeof(*out));
	if (buf == NULL || len == 0) {
		snprintf(err, errsz, "empty message (no report)");
		out->reason = "empty";
		return -1;
	}
	if (len > max_bytes) {
		snprintf(err, errsz, "report is %zu bytes, over "
		    "max_report_bytes %zu", len, max_bytes);
		out->reason = "too_large";
		return -1;
	}
	/* jansson refuses it too, but not with the byte offset. */
	if (yl_utf8_check(buf, len, &bad) == -1) {
		snprintf(err, errsz, "invalid UTF-8 at byte %zu", bad);
		out->reason = "invalid_utf8";
		return -1;
	}
	if (yl_report_parse(buf, len, YL_REPORT_STRICT, &r, e,
	    sizeof(e)) == -1) {
		snprintf(err, errsz, "%s", e);
		out->id = id_of_refused(buf, len);
		out->reason = strncmp(e, "invalid JSON", 12) == 0 ?
		    "invalid_json" : "invalid_report";
		return -1;
	}
	if (r->id == NULL) {
		/* Ingest always sets it; another producer may not. */
		if (key_is_id(key, keylen)) {
			if ((r->id = strndup(key, keylen)) == NULL)
				goto nomem;
		} else {
			yl_report_content_id(r->body, r->body_len, cid,
			    sizeof(cid));
			if (yl_report_set(&r->id, cid) == -1)
				goto nomem;
		}
	}
	if ((out->id = strdup(r->id)) == NULL)
		goto nomem;
	if (yl_cls_run(cls, r->body, r->body_len, 0, &res, e,
	    sizeof(e)) == -1) {
		snprintf(err, errsz, "classify: %s", e);
		out->reason = "classify";
		yl_report_free(&r);
		return -1;
	}
	yl_now_iso(at, sizeof(at));
	if ((o = cls_tagged_build(r, res, at)) == NULL)
		goto nomem;
	if (cls_pub_topic(json_object_get(res, "tags"), topic,
	    sizeof(topic)) == -1) {
		snprintf(err, errsz, "classify: result without a relevance");
		out->reason = "classify";
		goto fail;
	}
	if ((out->json = json_dumps(o, JSON_COMPACT)) == NULL ||
	    (out->topic = strdup(topic)) == NULL)
		goto nomem;
	out->len = strlen(out->json);
	json_decref(o);
	json_decref(res);
	yl_report_free(&r);
	return 0;
nomem:
	snprintf(err, errsz, "out of memory");
	out->reason = "out_of_memory";
fail:
	json_decref(o);
	json_decref(res);
	yl_report_free(&r);
	free(out->json);
	free(out->topic);
	out->json = out->topic = NULL;
	return -1;
}
