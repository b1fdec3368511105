/*
 * report.c - the report model, strict JSON decoding and encoding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "yalu/norm.h"
#include "yalu/report.h"

uint64_t
yl_hash64(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void
yl_report_content_id(const char *body, size_t len, char *buf, size_t bufsz)
{
	uint64_t h = YL_FNV_OFFSET;
	size_t i;
	int space = 1;	/* leading white space is ignored */
	unsigned char sp = ' ';

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)body[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\f' || c == '\v') {
			space = 1;
			continue;
		}
		if (space && i > 0 && h != YL_FNV_OFFSET)
			h = yl_hash64(h, &sp, 1);
		space = 0;
		h = yl_hash64(h, &c, 1);
	}
	snprintf(buf, bufsz, "r-%016llx", (unsigned long long)h);
}

void
yl_now_iso(char *buf, size_t bufsz)
{
	struct timeval tv;
	struct tm tm;
	char tmp[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, bufsz, "%s.%03dZ", tmp, (int)(tv.tv_usec / 1000));
}

int
yl_report_set(char **field, const char *val)
{
	char *d = NULL;

	if (val != NULL && (d = strdup(val)) == NULL)
		return -1;
	free(*field);
	*field = d;
	return 0;
}

struct yl_report *
yl_report_new(const char *body, size_t len)
{
	struct yl_report *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->body = malloc(len + 1)) == NULL) {
		free(r);
		return NULL;
	}
	memcpy(r->body, body, len);
	r->body[len] = '\0';
	r->body_len = len;
	return r;
}

void
yl_report_free(struct yl_report **pr)
{
	struct yl_report *r;

	if (pr == NULL || (r = *pr) == NULL)
		return;
	free(r->id);
	free(r->source);
	free(r->received_at);
	free(r->published_at);
	free(r->title);
	free(r->body);
	json_decref(r->meta);
	free(r);
	*pr = NULL;
}

static const char *const string_fields[] = {
	"id", "source", "received_at", "published_at", "title", NULL
};

/* Fields of the tagged form, tolerated with YL_REPORT_EXTRA_OK. */
static const char *const tagged_fields[] = {
	"ruleset", "tags", "classified_at", "classifier", NULL
};

static int
in_list(const char *const *list, const char *key)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, key) == 0)
			return 1;
	return 0;
}

int
yl_report_from_json(json_t *obj, int flags, struct yl_report **out,
    char *err, size_t errsz)
{
	struct yl_report *r;
	json_t *body, *v;
	const char *key;
	size_t i;

	if (!json_is_object(obj)) {
		snprintf(err, errsz, "not a JSON object");
		return -1;
	}
	if (flags & YL_REPORT_STRICT) {
		json_object_foreach(obj, key, v) {
			if (strcmp(key, "body") == 0 ||
			    strcmp(key, "meta") == 0 ||
			    in_list(string_fields, key))
				continue;
			if ((flags & YL_REPORT_EXTRA_OK) &&
			    in_list(tagged_fields, key))
				continue;
			snprintf(err, errsz, "unknown field '%s'", key);
			return -1;
		}
	}
	body = json_object_get(obj, "body");
	if (body == NULL) {
		snprintf(err, errsz, "body: missing");
		return -1;
	}
	if (!json_is_string(body)) {
		snprintf(err, errsz, "body: not a string");
		return -1;
	}
	if ((r = yl_report_new(json_string_value(body),
	    json_string_length(body))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (i = 0; string_fields[i] != NULL; i++) {
		char **f[] = { &r->id, &r->source, &r->received_at,
		    &r->published_at, &r->title };

		v = json_object_get(obj, string_fields[i]);
		if (v == NULL || json_is_null(v))
			continue;
		if (!json_is_string(v)) {
			snprintf(err, errsz, "%s: not a string",
			    string_fields[i]);
			yl_report_free(&r);
			return -1;
		}
		if (yl_report_set(f[i], json_string_value(v)) == -1) {
			snprintf(err, errsz, "out of memory");
			yl_report_free(&r);
			return -1;
		}
	}
	if (r->id != NULL && (r->id[0] == '\0' || strlen(r->id) > 200)) {
		snprintf(err, errsz, "id: must be 1 to 200 bytes");
		yl_report_free(&r);
		return -1;
	}
	v = json_object_get(obj, "meta");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_object(v)) {
			snprintf(err, errsz, "meta: not an object");
			yl_report_free(&r);
			return -1;
		}
		r->meta = json_incref(v);
	}
	*out = r;
	return 0;
}

int
yl_report_parse(const char *buf, size_t len, int flags,
    struct yl_report **out, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *obj;
	int rc;

	obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		snprintf(err, errsz, "invalid JSON at line %d col %d: %s",
		    jerr.line, jerr.column, jerr.text);
		return -1;
	}
	rc = yl_report_from_json(obj, flags, out, err, errsz);
	json_decref(obj);
	return rc;
}

json_t *
yl_report_to_json(const struct yl_report *r)
{
	json_t *o;
	const char *vals[] = { r->id, r->source, r->received_at,
	    r->published_at, r->title };
	size_t i;

	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; string_fields[i] != NULL; i++)
		if (vals[i] != NULL)
			json_object_set_new(o, string_fields[i],
			    json_string(vals[i]));
	json_object_set_new(o, "body", json_stringn(r->body, r->body_len));
	if (r->meta != NULL)
		json_object_set(o, "meta", r->meta);
	return o;
}
