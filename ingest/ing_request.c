/*
 * ing_request.c - strict decoding of one ZeroMQ request.
 *
 * A request is [report-json] or [meta-json, raw-body]. A malformed one is
 * refused with a reason precise enough for the sender to fix it; nothing
 * is guessed (OpenBSD imsg discipline).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "yalu/norm.h"

#include "ingest.h"

size_t
ing_envelope_len(const struct ing_frame *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (f[i].len == 0)
			return i + 1;
	return 0;
}

/* Parses one JSON frame into an object; what says which frame. */
static enum ing_refusal
load_object(const struct ing_frame *f, const char *what, json_t **out,
    char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *obj;
	size_t bad;

	/* jansson would refuse it too, but without a byte offset. */
	if (yl_utf8_check(f->data, f->len, &bad) == -1) {
		snprintf(err, errsz, "%sinvalid UTF-8 at byte %zu", what, bad);
		return ING_R_UTF8;
	}
	obj = json_loadb(f->data, f->len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		snprintf(err, errsz, "%sinvalid JSON at line %d col %d: %s",
		    what, jerr.line, jerr.column, jerr.text);
		return ING_R_JSON;
	}
	if (!json_is_object(obj)) {
		snprintf(err, errsz, "%snot a JSON object", what);
		json_decref(obj);
		return ING_R_JSON;
	}
	*out = obj;
	return ING_OK;
}

enum ing_refusal
ing_request_decode(const struct ing_frame *f, size_t n, size_t max_bytes,
    struct yl_report **out, char *err, size_t errsz)
{
	struct yl_report *r = NULL;
	enum ing_refusal rc;
	json_t *obj = NULL, *body;
	size_t total = 0, i, bad;
	const char *nul, *p;

	if (n != 1 && n != 2) {
		snprintf(err, errsz, "expected 1 or 2 frames, got %zu", n);
		return ING_R_FRAMES;
	}
	for (i = 0; i < n; i++)
		total += f[i].len;
	if (total > max_bytes) {
		snprintf(err, errsz, "report is %zu bytes, over "
		    "max_report_bytes %zu", total, max_bytes);
		return ING_R_SIZE;
	}
	if (n == 1) {
		if ((rc = load_object(&f[0], "", &obj, err, errsz)) != ING_OK)
			return rc;
	} else {
		if ((rc = load_object(&f[0], "meta: ", &obj, err, errsz)) !=
		    ING_OK)
			return rc;
		if (json_object_get(obj, "body") != NULL) {
			snprintf(err, errsz, "meta: must not carry body (the "
			    "second frame is the body)");
			json_decref(obj);
			return ING_R_FIELD;
		}
		if (yl_utf8_check(f[1].data, f[1].len, &bad) == -1) {
			snprintf(err, errsz, "invalid UTF-8 at byte %zu", bad);
			json_decref(obj);
			return ING_R_UTF8;
		}
		if ((nul = memchr(f[1].data, '\0', f[1].len)) != NULL) {
			snprintf(err, errsz, "body: NUL byte at byte %zu",
			    (size_t)(nul - (const char *)f[1].data));
			json_decref(obj);
			return ING_R_UTF8;
		}
		if ((body = json_stringn(f[1].data, f[1].len)) == NULL ||
		    json_object_set_new(obj, "body", body) == -1) {
			snprintf(err, errsz, "out of memory");
			json_decref(obj);
			return ING_R_INTERNAL;
		}
	}
	if (yl_report_from_json(obj, YL_REPORT_STRICT, &r, err, errsz) == -1) {
		json_decref(obj);
		return strcmp(err, "out of memory") == 0 ? ING_R_INTERNAL :
		    ING_R_FIELD;
	}
	json_decref(obj);
	for (p = r->body; *p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r' || *p == '\f' || *p == '\v'; p++)
		;
	if (*p == '\0') {
		snprintf(err, errsz, "body: empty");
		yl_report_free(&r);
		return ING_R_EMPTY;
	}
	*out = r;
	return ING_OK;
}
